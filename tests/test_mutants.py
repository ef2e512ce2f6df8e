"""The mutation check's own inputs stay valid: every mutant applies once and names real tests.

The check itself (``scripts/mutants.py``) runs in CI after the suite; this keeps a refactor that moves
a mutant's text, or renames a guarding test, from slipping through until then.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parent.parent


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutants"] = module
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_exactly_once_and_names_existing_tests() -> None:
    runner = load_runner()
    mutants = runner.load(sorted((ROOT / "scripts" / "mutants").glob("*.toml")))
    assert len(mutants) >= 30, "the issue asks for at least 30 mutants"
    for mutant in mutants:
        for test in mutant.tests:
            path, _, name = test.partition("::")
            source = (ROOT / path).read_text(encoding="utf-8")
            function = re.sub(r"\[.*\]$", "", name.split("::")[-1])
            assert re.search(rf"def {re.escape(function)}\(", source), f"{mutant.name}: no {test}"


def test_a_mutant_whose_text_is_gone_is_refused(tmp_path: Path) -> None:
    runner = load_runner()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[mutant]]\nname = "x"\npromise = "p"\nfile = "seedance_cli/errors.py"\n'
        'find = "no such text anywhere"\nreplace = "y"\ntests = ["tests/test_mutants.py"]\n'
    )
    with pytest.raises(runner.MutantError, match="occurs 0 times"):
        runner.load([bad])
