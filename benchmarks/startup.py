"""Start-up time of `seedance` against the floor of its own dependencies.

    python benchmarks/startup.py [--runs 15]

Medians of interleaved runs, as ratios measured in one run:
  seedance --version            vs  python -c "import typer"
  seedance --help               vs  python -c "import typer, rich.console"
  seedance status ID --json     vs  python -c "import httpx; httpx.get(URL)"   (against the emulator)
Aim (issue 7): each within 1.3x of its floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import emulator

SCRIPT = Path(sys.executable).parent / "seedance"


def seconds(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with emulator() as base:
        request = urllib.request.Request(
            f"{base}/v1/videos/generations",
            method="POST",
            data=json.dumps({"model": "seedance-1.5-pro", "prompt": "x"}).encode(),
            headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            task_id = json.loads(answer.read())["id"]
        with tempfile.TemporaryDirectory() as tmp:
            # Bytecode caches allowed, as in any installed package: every command is run once
            # first so that nothing is compiled during the timed runs.
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(
                SEEDANCE_BASE_URL=base,
                SEEDANCE_API_KEY="k",
                SEEDANCE_CONFIG_DIR=f"{tmp}/c",
                SEEDANCE_DATA_DIR=f"{tmp}/d",
            )
            url = f"{base}/v1/tasks/{task_id}"
            pairs = {
                "seedance --version": (
                    [str(SCRIPT), "--version"],
                    [sys.executable, "-c", "import typer"],
                ),
                "seedance --help": (
                    [str(SCRIPT), "--help"],
                    [sys.executable, "-c", "import typer, rich.console"],
                ),
                "seedance status ID --json": (
                    [str(SCRIPT), "status", task_id, "--json"],
                    [
                        sys.executable,
                        "-c",
                        f"import httpx; httpx.get({url!r}, headers={{'Authorization': 'Bearer k'}})",
                    ],
                ),
                # Not an aim, an explanation: typer (>= 0.2x) coerces every parameter through
                # pydantic, which a command that parses anything cannot avoid.
                "  (vs typer+pydantic+httpx)": (
                    [str(SCRIPT), "status", task_id, "--json"],
                    [
                        sys.executable,
                        "-c",
                        "import typer, typer._adapters, sqlite3, httpx; "
                        f"httpx.get({url!r}, headers={{'Authorization': 'Bearer k'}})",
                    ],
                ),
            }
            for ours, floor in pairs.values():
                seconds(ours, env)
                seconds(floor, env)
            times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
            for _ in range(runs):
                for name, (ours, floor) in pairs.items():
                    times[name][0].append(seconds(ours, env))
                    times[name][1].append(seconds(floor, env))
    print(f"medians of {runs} interleaved runs")
    for name, (ours, floor) in times.items():
        a, b = statistics.median(ours), statistics.median(floor)
        print(f"{name:<28} {a * 1000:6.0f} ms vs floor {b * 1000:6.0f} ms -> {a / b:.2f}x")


if __name__ == "__main__":
    main()
