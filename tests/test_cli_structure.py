"""The shape of the ``cli`` package, read from its source with ``ast``: command modules import
the shared modules (``app``, ``runtime``, ``inputs``, ``flow``, ``exits``) and the library, never
each other; and none of them decides how output looks,
which is ``render``'s job alone (``Output.show``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import seedance_cli.cli

CLI = Path(seedance_cli.cli.__file__).parent
#: The frame and what every command shares; none of them is a command module.
SHARED = {"app", "runtime", "inputs", "flow", "exits"}
COMMANDS = sorted(p.stem for p in CLI.glob("*.py") if p.stem not in SHARED | {"__init__"})


def cli_modules_imported(path: Path) -> set[str]:
    """The modules of the ``cli`` package that ``path`` imports, anywhere in it (inside functions
    and ``TYPE_CHECKING`` blocks too), however spelled."""
    siblings = {p.stem for p in CLI.glob("*.py")} - {"__init__"}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y; from . import x
                names = [node.module] if node.module else [a.name for a in node.names]
            elif node.level == 0 and (node.module or "").startswith("seedance_cli.cli"):
                rest = (node.module or "").split(".")[2:]
                names = rest[:1] or [a.name for a in node.names]
            else:
                continue
            found.update(name.split(".")[0] for name in names)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[2]
                for a in node.names
                if a.name.startswith("seedance_cli.cli.") and len(a.name.split(".")) > 2
            )
    return found & siblings


def test_the_package_has_the_command_modules_it_registers() -> None:
    assert {"tasks", "results", "batching", "files", "config_cmds", "serve"} <= set(COMMANDS)
    assert cli_modules_imported(CLI / "__init__.py") == {"app", "exits", *COMMANDS}


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_module_imports_no_other_command_module(name: str) -> None:
    assert cli_modules_imported(CLI / f"{name}.py") <= SHARED


def test_the_shared_modules_import_no_command_module() -> None:
    for name in SHARED:
        assert cli_modules_imported(CLI / f"{name}.py") <= SHARED, name
    assert cli_modules_imported(CLI / "app.py") <= {"runtime"}  # the frame hands out a Runtime
    assert cli_modules_imported(CLI / "runtime.py") <= {"app"}  # (its Globals, for typing)


def test_the_import_check_sees_every_spelling(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from .tasks import generate\n"
        "from . import results\n"
        "def f():\n"
        "    from seedance_cli.cli.files import upload\n"
        "    import seedance_cli.cli.serve\n"
        "    from seedance_cli.cli import batching\n"
        "    from ..render import Output\n"
    )
    assert cli_modules_imported(source) == {"tasks", "results", "files", "serve", "batching"}


def output_decisions(path: Path) -> list[str]:
    """Where ``path`` reads ``--json`` or whether stdout is a terminal: ``….options.json``,
    ``out_fancy``, ``json_mode``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute):
            continue
        options_json = (
            node.attr == "json"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "options"
        )
        if options_json or node.attr in ("out_fancy", "json_mode"):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("name", [*COMMANDS, "flow"])
def test_commands_leave_json_or_text_to_render(name: str) -> None:
    assert output_decisions(CLI / f"{name}.py") == []
