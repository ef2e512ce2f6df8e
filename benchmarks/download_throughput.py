"""Download throughput against `curl -o`, and peak memory for two file sizes.

    python benchmarks/download_throughput.py [--runs 5]

For 64 MiB and 512 MiB results, starts `seedance emulator --result-size` in its own process, then
downloads the result with `seedance download` and with `curl -o`, alternately, several times; and
once more in-process with the library's `download()` alone (the transfer without the command's
start-up). Prints the medians: throughput as a ratio to curl's, and the peak RSS of the seedance
process (from wait4). Aims (issue 4): at least 0.8x curl's throughput; the same peak RSS for both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import SEEDANCE, emulator, timed

from seedance_cli import Client, __version__
from seedance_cli.download import download

MIB = 1024 * 1024
AGENT = f"seedance-cli/{__version__}"


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body else None,
        headers={"Authorization": "Bearer bench-key", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def measure(size: int, runs: int, workdir: Path) -> dict[str, float]:
    with emulator("--task-seconds", "0.1", "--result-size", str(size)) as base:
        task = api(
            base,
            "POST",
            "/v1/videos/generations",
            {"model": "seedance-1.5-pro", "prompt": "benchmark"},
        )
        time.sleep(0.3)
        url = api(base, "GET", f"/v1/tasks/{task['id']}")["results"][0]
        env = {
            **os.environ,
            "SEEDANCE_BASE_URL": base,
            "SEEDANCE_API_KEY": "bench-key",
            "SEEDANCE_CONFIG_DIR": str(workdir / "config"),
            "SEEDANCE_DATA_DIR": str(workdir / "data"),
        }
        target = workdir / "out.mp4"
        ours, curls, rss, inner = [], [], [], []
        for _ in range(runs):
            target.unlink(missing_ok=True)
            seconds, peak = timed(
                [*SEEDANCE, "-q", "download", task["id"], "-o", str(target), "--force"], env
            )
            assert target.stat().st_size == size
            ours.append(seconds)
            rss.append(peak)
            target.unlink()
            seconds, _ = timed(["curl", "-sSf", "-o", str(target), "-A", AGENT, url], env)
            assert target.stat().st_size == size
            curls.append(seconds)
            target.unlink()
            with Client("bench-key", base_url=base) as client:  # the transfer alone, in-process
                start = time.perf_counter()
                download(client.open_result, url, target)
                inner.append(time.perf_counter() - start)
    return {
        "ours": statistics.median(ours),
        "curl": statistics.median(curls),
        "rss": statistics.median(rss),
        "inner": statistics.median(inner),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the comparison")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (64 * MIB, 512 * MIB):
            results[size] = measure(size, options.runs, Path(tmp))
    print(f"medians of {options.runs} runs; each seedance run includes its start-up, the task")
    print("query, sha256 and fsync; each curl run its start-up")
    for size, r in results.items():
        mib = size // MIB
        print(
            f"{mib:>4} MiB: seedance {mib / r['ours']:6.0f} MiB/s, curl {mib / r['curl']:6.0f} "
            f"MiB/s -> {r['curl'] / r['ours']:.2f}x curl's throughput; peak RSS {r['rss']:.0f} MiB"
        )
        print(
            f"          the transfer alone (download(), in-process, with sha256 and fsync): "
            f"{mib / r['inner']:.0f} MiB/s -> {r['curl'] / r['inner']:.2f}x curl"
        )
    small, large = results[64 * MIB]["rss"], results[512 * MIB]["rss"]
    print(f"peak RSS, 512 MiB over 64 MiB: {large / small:.2f}x")


if __name__ == "__main__":
    main()
