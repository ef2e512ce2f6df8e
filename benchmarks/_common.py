"""What the benchmark scripts share: an emulator in its own process, and timing a child alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

SEEDANCE = [sys.executable, "-m", "seedance_cli"]


@contextmanager
def emulator(*options: str) -> Iterator[str]:
    """Run `seedance emulator --port 0 OPTIONS` in its own process; yield its base URL.

    Its own process, so that the measured processes are not forked from one holding its data."""
    proc = subprocess.Popen(
        [*SEEDANCE, "emulator", "--port", "0", "--quiet", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip().split("=", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB) of that child alone, from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024
