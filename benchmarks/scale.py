"""Scale (issue 14): polls scheduled from the API's estimates, many tasks per request.

    python benchmarks/scale.py [--skip-large]

Against `seedance emulator` in its own process, with the default settings (no
SEEDANCE_POLL_INTERVAL: the 5 s interval a real user gets), it prints:

1. A batch of 100 two-second tasks at --concurrency 20: wall time as a ratio of the ideal
   100 / 20 x 2 s = 10 s (aim: at most 1.25x), requests per task, peak RSS; with the tasks
   batch endpoint and without it (one GET per task).
2. 1,000 two-second tasks at --concurrency 200: the same figures and the requests per second
   (creates apart from polls), with and without the tasks batch endpoint (aim: the fast path cuts
   the poll requests by 10x or more).
3. `wait` on one task that completes 6 s after its creation: detection lag (the tool's exit minus
   the task's completion) and polls, with an accurate estimate, estimates 2x too short and too
   long, and none at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from _common import SEEDANCE, emulator, timed


def requests_of(base: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{base}/_emulator/requests", timeout=30) as answer:
        found: list[dict[str, Any]] = json.load(answer)["requests"]
    return found


def reset(base: str) -> None:
    request = urllib.request.Request(f"{base}/_emulator/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=30).close()


def environment(base: str, tmp: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SEEDANCE_BASE_URL": base,
        "SEEDANCE_FILES_URL": base,
        "SEEDANCE_API_KEY": "bench-key",
        "SEEDANCE_CONFIG_DIR": f"{tmp}/config",
        "SEEDANCE_DATA_DIR": f"{tmp}/data",
    }
    env.pop("SEEDANCE_POLL_INTERVAL", None)  # the defaults a user gets
    return env


def batch(lines: int, concurrency: int, task_seconds: float, fast_path: bool) -> None:
    ideal = -(-lines // concurrency) * task_seconds
    switch = "--batch-endpoint" if fast_path else "--no-batch-endpoint"
    with (
        emulator("--task-seconds", str(task_seconds), "--credits", "100000000", switch) as base,
        tempfile.TemporaryDirectory() as tmp,
    ):
        manifest = Path(tmp) / "manifest.jsonl"
        manifest.write_text(
            "".join(json.dumps({"prompt": f"scale {n}"}) + "\n" for n in range(lines))
        )
        command = [*SEEDANCE, "-q", "batch", str(manifest), "--concurrency", str(concurrency)]
        seconds, rss = timed(command, environment(base, tmp))
        kinds = Counter(r["kind"] for r in requests_of(base))
    polls = kinds["query"] + kinds["batch"]
    label = "tasks batch endpoint" if fast_path else "one GET per task"
    print(
        f"{lines} tasks of {task_seconds:g} s, --concurrency {concurrency}, {label}: "
        f"{seconds:.2f} s = {seconds / ideal:.2f}x the ideal {ideal:g} s; "
        f"{kinds['create']} creates, {polls} poll requests ({kinds['query']} GET, "
        f"{kinds['batch']} batch) = {polls / lines:.2f} a task, "
        f"{(kinds['create'] + polls) / seconds:.0f} requests/s "
        f"({polls / seconds:.1f} polls/s); peak RSS {rss:.0f} MiB"
    )


def wait_lag(estimated: str | None, label: str) -> None:
    options = ["--task-seconds", "6"]
    if estimated is not None:
        options += ["--estimated-time", estimated]
    with emulator(*options) as base, tempfile.TemporaryDirectory() as tmp:
        env = environment(base, tmp)
        made = subprocess.run(
            [*SEEDANCE, "-q", "generate", "A benchmark"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        task_id = made.stdout.strip()
        (create,) = [r for r in requests_of(base) if r["kind"] == "create"]
        done = create["at"] + 6  # the emulator's task ends 6 s after the create arrived
        subprocess.run([*SEEDANCE, "-q", "wait", task_id], env=env, capture_output=True, check=True)
        exited = time.time()
        polls = sum(1 for r in requests_of(base) if r["kind"] in ("query", "batch"))
    print(
        f"wait, a task done 6 s after its create, {label}: lag {exited - done:.2f} s "
        f"(exit minus completion), {polls} polls"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="skip the 1,000-task batch")
    options = parser.parse_args()
    for fast_path in (True, False):
        batch(100, 20, 2.0, fast_path)
    if not options.skip_large:
        for fast_path in (True, False):
            batch(1000, 200, 2.0, fast_path)
    for estimated, label in (
        (None, "accurate estimate (6 s)"),
        ("3", "estimate 2x too short (3 s)"),
        ("12", "estimate 2x too long (12 s)"),
        ("0", "no estimate"),
    ):
        wait_lag(estimated, label)


if __name__ == "__main__":
    main()
