"""A 100-line batch at --concurrency 20 against 2-second emulator tasks: wall time and memory.

    python benchmarks/batch_wall_time.py [--lines 100] [--concurrency 20] [--task-seconds 2]

Starts `seedance emulator` in its own process, runs `seedance batch` on a generated JSONL manifest
(polling every 0.25 s, as a local emulator allows), with and without `--output-dir`, and prints
the wall time as a ratio to the ideal (lines / concurrency x task seconds) and the peak RSS of the
batch process (from wait4). Aims (issue 6): within 1.3x of the ideal, under 120 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import SEEDANCE, emulator, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    options = parser.parse_args()
    ideal = options.lines / options.concurrency * options.task_seconds
    with (
        emulator("--task-seconds", str(options.task_seconds), "--credits", "1000000") as base,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        runs = (("without downloads", []), ("with --output-dir", ["--output-dir", f"{tmp}/out"]))
        for label, extra in runs:
            manifest = folder / f"manifest-{len(extra)}.jsonl"
            manifest.write_text(
                "".join(
                    json.dumps({"prompt": f"benchmark {label} {n}"}) + "\n"
                    for n in range(options.lines)
                )
            )
            env = {
                **os.environ,
                "SEEDANCE_BASE_URL": base,
                "SEEDANCE_FILES_URL": base,
                "SEEDANCE_API_KEY": "bench-key",
                "SEEDANCE_POLL_INTERVAL": "0.25",
                "SEEDANCE_CONFIG_DIR": f"{tmp}/config",
                "SEEDANCE_DATA_DIR": f"{tmp}/data",
            }
            seconds, rss = timed(
                [
                    *SEEDANCE,
                    "-q",
                    "batch",
                    str(manifest),
                    "--concurrency",
                    str(options.concurrency),
                    *extra,
                ],
                env,
            )
            print(
                f"{options.lines} lines, --concurrency {options.concurrency}, "
                f"{options.task_seconds:g} s tasks, {label}: {seconds:.2f} s = "
                f"{seconds / ideal:.2f}x the ideal {ideal:g} s; peak RSS {rss:.0f} MiB"
            )


if __name__ == "__main__":
    main()
