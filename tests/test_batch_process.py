"""What only real processes show about ``batch``: two runs of one manifest at once, ``kill -9``
between a claim and its answer, and a history another process holds locked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator, sample_video
from seedance_cli.ledger import FILE_NAME, Ledger

from .conftest import SENTINEL_KEY

LINES = [
    {"prompt": "A cat playing piano", "name": "cat"},
    {"prompt": "A dog surfing"},
    {"prompt": "A fox in the snow"},
    {"prompt": "An owl at night"},
    {"prompt": "A whale singing", "name": "whale"},
    {"prompt": "A train in the rain"},
]


@pytest.fixture
def live() -> Iterator[Emulator]:
    with Emulator(task_seconds=0.8) as emu:
        yield emu


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in LINES))
    return folder


def env_for(emu: Emulator, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TERM",)}
    env.update(
        SEEDANCE_BASE_URL=emu.url,
        SEEDANCE_FILES_URL=emu.url,
        SEEDANCE_API_KEY=SENTINEL_KEY,
        SEEDANCE_POLL_INTERVAL="0.1",
        SEEDANCE_DATA_DIR=str(data),
        PYTHONUNBUFFERED="1",
        TERM="dumb",
    )
    return env


def batch(work: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seedance_cli", "batch", "m.jsonl", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(out: str) -> dict[int, list[str]]:
    return {int(line.split("\t")[0]): line.split("\t")[1:] for line in out.splitlines()}


def test_two_runs_of_one_manifest_at_once_create_each_line_once(
    live: Emulator, work: Path, tmp_path: Path
) -> None:
    env = env_for(live, tmp_path / "data")
    live.add_fault("create:slow:*:seconds=0.3")  # each create is held a while: the other waits
    # Each result takes a second to arrive, so both runs are saving the same task at once: the
    # second waits for the first's file (and finds it saved), never writes it too.
    live.add_fault("download:slow:*:seconds=1")
    procs = [batch(work, env, "--output-dir", "out", "--concurrency", "3") for _ in range(2)]
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    for out, err, code in results:
        assert code == 0, err
        assert "Traceback" not in err
        seen = rows(out)
        assert sorted(seen) == [1, 2, 3, 4, 5, 6]
        assert all(status == "completed" for _, status, _ in seen.values())
        assert seen[1][2] == "out/cat.mp4" and seen[2][2] == "out/2.mp4"
    creates = live.requests("create")
    assert sorted(str(r.json()["prompt"]) for r in creates) == sorted(
        str(line["prompt"]) for line in LINES
    )
    assert len({r.idempotency_key for r in creates}) == len(LINES)
    assert any("created by another run" in err for _, err, _ in results)
    ids = [rows(out) for out, _, _ in results]
    assert {n: v[0] for n, v in ids[0].items()} == {n: v[0] for n, v in ids[1].items()}
    for name in ("cat", "2", "3", "4", "whale", "6"):
        assert (work / "out" / f"{name}.mp4").read_bytes() == sample_video()
    assert not list((work / "out").glob("*.part*"))


def test_kill_9_between_claim_and_answer_then_a_rerun_creates_nothing_twice(
    live: Emulator, work: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = env_for(live, data)
    live.add_fault("create:slow:1:seconds=3")  # line 1's create is under way when the kill comes
    proc = batch(work, env, "--concurrency", "1")
    deadline = time.monotonic() + 30
    while not _creating(data):  # claimed; the create is sent right after
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    history = subprocess.run(
        [sys.executable, "-m", "seedance_cli", "history", "--status", "outcome_unknown"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert history.returncode == 0, history.stderr
    (row,) = history.stdout.splitlines()
    assert "outcome_unknown" in row and "idempotency key seedance-batch-" in row

    rerun = batch(work, env, "--concurrency", "5")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 10, err
    seen = rows(out)
    assert seen[1] == ["", "outcome_unknown", ""]
    assert all(seen[n][1] == "completed" for n in range(2, 7))
    assert "line 1: an earlier run's create had an unknown outcome; not resent" in err
    while len(live.requests("create")) < len(LINES):  # the slow one is logged when answered
        assert time.monotonic() < deadline + 30
        time.sleep(0.05)
    time.sleep(0.2)
    creates = live.requests("create")
    assert len(creates) == len(LINES)  # line 1 once (by the killed run), the rest once each
    assert len({r.idempotency_key for r in creates}) == len(LINES)


def _creating(data: Path) -> bool:
    if not (data / FILE_NAME).exists():
        return False
    try:
        with sqlite3.connect(data / FILE_NAME, timeout=0.1) as conn:
            count = conn.execute("SELECT count(*) FROM tasks WHERE state = 'creating'").fetchone()
        conn.close()
    except sqlite3.Error:
        return False
    return bool(count[0])


def test_a_history_locked_by_another_process_stops_the_batch_before_any_create(
    live: Emulator, work: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    Ledger(data).entries(limit=1)  # an existing history, in WAL mode
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "conn.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(data / FILE_NAME),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        proc = batch(work, env_for(live, data), "--output-dir", "out")
        out, err = proc.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    assert proc.returncode == 3, err
    assert live.requests("create") == []
    assert sorted(rows(out)) == [1, 2, 3, 4, 5, 6]
    assert all(status == "error" for _, status, _ in rows(out).values())
    assert "cannot record the create (database is locked); it was not sent" in err
    assert "Traceback" not in err
    assert not (work / "out").exists() or not list((work / "out").iterdir())
