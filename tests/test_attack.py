"""Found by the adversarial review: each test fails without its fix. Real processes where the
problem only shows in one (memory, signals, concurrency)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SENTINEL_KEY

MEMORY_CAP = 1 << 30  # an endless read hits this in about a second instead of the machine's limit


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(
    args: list[str], tmp_path: Path, stdin: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        HOME=str(tmp_path),
        SEEDANCE_CONFIG_DIR=str(tmp_path / "config"),
        SEEDANCE_DATA_DIR=str(tmp_path / "data"),
        SEEDANCE_API_KEY=SENTINEL_KEY,
        SEEDANCE_BASE_URL="http://127.0.0.1:9",
        SEEDANCE_FILES_URL="http://127.0.0.1:9",
    )
    return subprocess.run(
        [sys.executable, "-m", "seedance_cli", *args],
        env=env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=capped,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize(
    ("args", "from_stdin", "says"),
    [
        (["generate", "@/dev/zero", "--dry-run"], False, "PROMPT: '/dev/zero' is larger than"),
        (["generate", "-", "--dry-run"], True, "PROMPT from stdin is larger than"),
        (["batch", "/dev/zero", "--dry-run"], False, "FILE: '/dev/zero' is larger than"),
        (["batch", "-", "--dry-run"], True, "FILE: the manifest on stdin is larger than"),
    ],
)
def test_an_endless_prompt_or_manifest_is_refused_not_read_into_memory(
    tmp_path: Path, args: list[str], from_stdin: bool, says: str
) -> None:
    with open("/dev/zero", "rb") as zero:
        done = run_capped(args, tmp_path, stdin=zero.fileno() if from_stdin else None)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
