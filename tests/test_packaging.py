"""The package's face: one version, light imports, both entry points."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import seedance_cli

ROOT = Path(__file__).parent.parent


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_import_brings_in_neither_typer_nor_rich_nor_httpx() -> None:
    out = run_python(
        "import seedance_cli, sys; "
        "print(sorted(m for m in ('typer', 'rich', 'httpx', 'click') if m in sys.modules))"
    )
    assert out == "[]"


def test_client_is_loaded_on_first_use_without_typer_or_rich() -> None:
    out = run_python(
        "import seedance_cli, sys; seedance_cli.Client; "
        "print('httpx' in sys.modules, 'typer' in sys.modules or 'rich' in sys.modules)"
    )
    assert out == "True False"


def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert importlib.metadata.version("seedance-cli") == seedance_cli.__version__


def test_python_dash_m_and_console_script_agree() -> None:
    via_module = subprocess.run(
        [sys.executable, "-m", "seedance_cli", "--version"], capture_output=True, text=True
    )
    assert via_module.returncode == 0 and via_module.stderr == ""
    assert via_module.stdout == f"seedance {seedance_cli.__version__}\n"
    script = Path(sys.executable).parent / "seedance"
    via_script = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert via_script.stdout == via_module.stdout
