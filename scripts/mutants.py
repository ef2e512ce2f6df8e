"""The mutation check of the safety promises: every named mutant must be killed by the tests that guard it.

    python scripts/mutants.py                        # every file in scripts/mutants/
    python scripts/mutants.py scripts/mutants/x.toml # one file
    python scripts/mutants.py --only batch-no-claim  # one mutant (repeatable)
    python scripts/mutants.py --list                 # name and promise of each, nothing run

A mutant is a hand-written, one-place change that breaks a promise of CLI.md (drop the ledger claim,
resend a create after a read timeout, follow a symlink, ...). Each is written in a TOML file under
``scripts/mutants/`` as::

    [[mutant]]
    name = "batch-no-claim"
    promise = "a create is never paid for twice"
    file = "seedance_cli/batch.py"
    find = '''text that occurs exactly once in that file'''
    replace = '''the broken version'''
    tests = ["tests/test_batch.py::test_two_runs_create_each_line_once"]

For each mutant the repository (without .git and caches) is copied to a temporary folder, the change
is applied there, and its tests run with that copy first on ``PYTHONPATH`` (subprocess tests inherit
it). The mutant is *killed* when pytest reports failing tests (exit 1) or a test runs past its
time-out; it *survived* when they pass. Before any mutant, the guarding tests run once on the
unchanged copy: a test that fails there proves nothing. Exit 0 only when every mutant was killed and
there are at least ``--min`` of them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS_DIR = ROOT / "scripts" / "mutants"
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    "dist",
    "build",
)
#: Seconds one mutant's tests may run in all; past it the mutant counts as killed (it hangs them).
MUTANT_TIMEOUT = 300


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    promise: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    source: str  # the TOML file it came from


class MutantError(Exception):
    """A mutant that cannot be applied as written (its text is gone, or occurs more than once)."""


def load(paths: Sequence[Path]) -> list[Mutant]:
    """Read and check every mutant; raise ``MutantError`` naming each one that is malformed."""
    mutants: list[Mutant] = []
    problems: list[str] = []
    for path in paths:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for index, raw in enumerate(data.get("mutant", []), start=1):
            where = f"{path.name} #{index}"
            try:
                mutant = Mutant(
                    name=str(raw["name"]),
                    promise=str(raw["promise"]),
                    file=str(raw["file"]),
                    find=str(raw["find"]),
                    replace=str(raw["replace"]),
                    tests=tuple(str(t) for t in raw["tests"]),
                    source=path.name,
                )
            except KeyError as exc:
                problems.append(f"{where}: missing {exc}")
                continue
            problems.extend(f"{where} ({mutant.name}): {p}" for p in check(mutant))
            mutants.append(mutant)
    seen: set[str] = set()
    for mutant in mutants:
        if mutant.name in seen:
            problems.append(f"{mutant.name}: the name is used twice")
        seen.add(mutant.name)
    if problems:
        raise MutantError("\n".join(problems))
    return mutants


def check(mutant: Mutant, root: Path = ROOT) -> list[str]:
    """What is wrong with ``mutant`` against the tree at ``root`` (empty when it applies cleanly)."""
    problems = []
    target = root / mutant.file
    if not target.is_file():
        return [f"no file {mutant.file}"]
    count = target.read_text(encoding="utf-8").count(mutant.find)
    if count != 1:
        problems.append(f"its text occurs {count} times in {mutant.file}, not once")
    if mutant.find == mutant.replace:
        problems.append("find and replace are the same")
    if not mutant.tests:
        problems.append("no tests named")
    if not mutant.promise.strip():
        problems.append("no promise named")
    return problems


def copy_tree(into: Path) -> Path:
    tree = into / "tree"
    shutil.copytree(ROOT, tree, ignore=SKIP, symlinks=True)
    return tree


def apply(mutant: Mutant, tree: Path) -> None:
    target = tree / mutant.file
    text = target.read_text(encoding="utf-8")
    if text.count(mutant.find) != 1:
        raise MutantError(f"{mutant.name}: its text does not occur exactly once")
    target.write_text(text.replace(mutant.find, mutant.replace), encoding="utf-8")


def run_tests(tree: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Run ``tests`` in ``tree``; the pytest exit code (``None`` past ``timeout``) and its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDANCE_", "EVOLINK_"))}
    env["PYTHONPATH"] = str(tree)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and test ids
            command,
            check=False,
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return None, out
    return done.returncode, done.stdout + done.stderr


@dataclasses.dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    state: str  # killed, survived, broken
    seconds: float
    detail: str = ""


def judge(mutant: Mutant) -> Verdict:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="seedance-mutant-") as tmp:
        tree = copy_tree(Path(tmp))
        apply(mutant, tree)
        code, output = run_tests(tree, mutant.tests, MUTANT_TIMEOUT)
    seconds = time.monotonic() - started
    if code is None:
        return Verdict(mutant, "killed", seconds, "its tests hung past the time-out")
    if code == 1:
        return Verdict(mutant, "killed", seconds)
    if code == 0:
        return Verdict(mutant, "survived", seconds, tail(output))
    return Verdict(mutant, "broken", seconds, f"pytest exit {code}\n{tail(output)}")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def baseline(mutants: Sequence[Mutant]) -> str | None:
    """Run every guarding test on the unchanged tree; the failure output, or ``None`` when green."""
    tests = sorted({t for m in mutants for t in m.tests})
    with tempfile.TemporaryDirectory(prefix="seedance-mutant-") as tmp:
        code, output = run_tests(copy_tree(Path(tmp)), tests, MUTANT_TIMEOUT * 2)
    return None if code == 0 else tail(output, 30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="mutant files (default: all)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--min", type=int, default=0, help="fail with fewer mutants than this")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    files = args.files or sorted(MUTANTS_DIR.glob("*.toml"))
    try:
        mutants = load(files)
    except MutantError as exc:
        print(f"mutants: malformed:\n{exc}", file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {m.name for m in mutants}
        if unknown:
            print(f"mutants: no mutant named {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.name in args.only]
    if args.list:
        for m in mutants:
            print(f"{m.name}\t{m.file}\t{m.promise}")
        return 0
    if len(mutants) < args.min:
        print(f"mutants: only {len(mutants)} mutants, at least {args.min} wanted", file=sys.stderr)
        return 1
    started = time.monotonic()
    if not args.no_baseline:
        failure = baseline(mutants)
        if failure is not None:
            print(
                f"mutants: the guarding tests fail without any mutant:\n{failure}", file=sys.stderr
            )
            return 1
        print(f"baseline: the guarding tests pass unmutated ({time.monotonic() - started:.0f}s)")
    verdicts: list[Verdict] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for verdict in pool.map(judge, mutants):
            verdicts.append(verdict)
            m = verdict.mutant
            print(
                f"{verdict.state:<9} {m.name:<40} {verdict.seconds:5.1f}s  {m.promise}", flush=True
            )
            if verdict.detail and verdict.state != "killed":
                print("    " + verdict.detail.replace("\n", "\n    "))
    killed = sum(v.state == "killed" for v in verdicts)
    survived = sum(v.state == "survived" for v in verdicts)
    broken = sum(v.state == "broken" for v in verdicts)
    print(
        f"mutants: {killed} killed, {survived} survived, {broken} broken "
        f"of {len(verdicts)} in {time.monotonic() - started:.0f}s"
    )
    return 0 if killed == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
