"""Shipping like a real tool: generated completions and man page, the wheel's data, a fast start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from seedance_cli.ledger import Ledger
from seedance_cli.models import Task

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent


def test_generated_files_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_man_page_has_every_section_and_renders_without_warnings() -> None:
    page = (ROOT / "man" / "seedance.1").read_text()
    for section in (
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "OPTIONS",
        "ENVIRONMENT",
        "FILES",
        "EXIT STATUS",
        "EXAMPLES",
    ):
        assert f"\n.SH {section}\n" in page
    for code in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 130):
        assert f".TP\n\\fB{code}\\fR\n" in page
    groff = shutil.which("groff")
    assert groff is not None, "groff is needed (Debian's groff-base; .ci/run installs it)"
    done = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", "-z", str(ROOT / "man" / "seedance.1")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == ""


@pytest.fixture
def history(tmp_path: Path) -> dict[str, str]:
    """A data folder whose history holds two tasks; the environment to find it."""
    data = tmp_path / "data"
    ledger = Ledger(data)
    ledger.observe(
        Task.from_api(
            {
                "id": "task-unified-1-completed",
                "status": "completed",
                "results": ["https://r/x.mp4"],
            }
        )
    )
    ledger.observe(Task.from_api({"id": "task-unified-2-running", "status": "processing"}))
    ledger.close()
    return {**os.environ, "SEEDANCE_DATA_DIR": str(data), "PATH": f"{BIN}:{os.environ['PATH']}"}


def bash_complete(line: str, env: dict[str, str]) -> list[str]:
    script = f"""
source {ROOT / "completions" / "seedance.bash"}
COMP_LINE={line!r}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_seedance
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_qualities_commands_and_task_ids(history: dict[str, str]) -> None:
    assert bash_complete("seedance generate --quality ", history) == ["480p", "720p", "1080p", "4k"]
    assert bash_complete("seedance generate --aspect-ratio 9", history) == ["9:16"]
    assert bash_complete("seedance wa", history) == ["wait"]
    assert bash_complete("seedance wait ", history) == [
        "task-unified-2-running",
        "task-unified-1-completed",
    ]
    assert bash_complete("seedance download ", history) == ["task-unified-1-completed"]
    assert bash_complete("seedance --json status task-unified-1", history) == [
        "task-unified-1-completed"
    ]
    assert "--dry-run" in bash_complete("seedance generate --d", history)
    assert bash_complete("seedance config set qu", history) == ["quality"]
    assert bash_complete("seedance config set mo", history) == ["model"]
    assert "seedance-2.5-video-edit" in bash_complete(
        "seedance generate --model seedance-2.5-v", history
    )
    assert bash_complete("seedance generate -d au", history) == ["auto"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_qualities_and_task_ids(history: dict[str, str]) -> None:
    def complete(line: str) -> list[str]:
        done = subprocess.run(
            [
                "fish",
                "--no-config",
                "-c",
                f"source {ROOT / 'completions' / 'seedance.fish'}; complete -C {line!r}",
            ],
            capture_output=True,
            text=True,
            env=history,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert set(complete("seedance generate --quality ")) == {"480p", "720p", "1080p", "4k"}
    assert set(complete("seedance wait ")) == {"task-unified-1-completed", "task-unified-2-running"}


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_parses_and_offers_the_qualities() -> None:
    path = ROOT / "completions" / "_seedance"
    done = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ":480p|720p|1080p|4k:(480p 720p 1080p 4k)'" in path.read_text()


def test_the_wheel_ships_completions_and_the_man_page(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("seedance_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = sorted(n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n)
    assert data == [
        "share/bash-completion/completions/seedance",
        "share/fish/vendor_completions.d/seedance.fish",
        "share/man/man1/seedance.1",
        "share/zsh/site-functions/_seedance",
    ]
    assert "seedance_cli/emulator/sample.mp4" in names
    assert "seedance_cli/catalogue.json" in names  # the model catalogue


# -- start-up --------------------------------------------------------------------------------------

PROBE = """
import sys
sys.argv = ["seedance", *{args!r}]
from seedance_cli.entry import main
try:
    main()
except SystemExit:
    pass
heavy = (
    "httpx", "rich", "seedance_cli.emulator", "seedance_cli.client", "sqlite3",
    # the session and the views: only a command that runs needs them
    "seedance_cli.session", "seedance_cli.views",
)
print(" ".join(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return set(done.stderr.split())


def test_version_imports_neither_httpx_nor_rich_nor_the_emulator() -> None:
    assert loaded("--version") == set()


def test_help_imports_no_http_no_rich_no_database() -> None:
    assert loaded("--help") == set()
    assert loaded("generate", "--help") == set()


def test_import_seedance_cli_stays_light() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import seedance_cli, sys; print(sorted(m for m in ('typer', 'rich', 'httpx', "
            "'email.utils', 'sqlite3') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"
