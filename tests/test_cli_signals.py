"""SIGTERM (CI cancel, ``timeout``) and SIGHUP (a closed terminal) are Ctrl-C: real processes.

Each stops the command through the same paths as Ctrl-C (ledger marks, ``.part`` kept, resume hint)
and exits 128 + the signal number: 143 for SIGTERM, 129 for SIGHUP.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .images import png_bytes
from .test_cli_process import big, create, env_for, live, seedance, start_stalled_download

__all__ = ["big", "live"]  # fixtures used here

CODES = {signal.SIGTERM: 143, signal.SIGHUP: 129}


@pytest.fixture
def held() -> Iterator[tuple[Emulator, FakeClock]]:
    """Tasks that run until the test moves the emulator's clock: none ends before the signal,
    whatever the machine's load; ``clock.advance(120)`` ends them all before the resume."""
    clock = FakeClock(start=time.time())
    # no estimated_time: a real-time wait would otherwise sleep the task's 60 s to its first poll
    with Emulator(clock=clock, task_seconds=60, estimated_time=0) as emu:
        yield emu, clock


def resume_command(err: str) -> list[str]:
    line = next(line for line in err.splitlines() if line.startswith("hint: resume with: "))
    words = line.removeprefix("hint: resume with: ").split()
    assert words[0] == "seedance"
    return seedance(*words[1:])


def until(condition: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def terminated_while_held(emu: Emulator, kind: str, *args: str) -> tuple[str, str]:
    """Run ``seedance ARGS``, send SIGTERM once a request of ``kind`` reached the emulator (whose
    answer a ``slow`` fault holds back), and return its stdout and stderr: exit 143, no traceback."""
    proc = subprocess.Popen(
        seedance(*args), env=env_for(emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    until(lambda: emu.requests(kind))
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    return out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_signal_during_wait_exits_128_plus_n_and_the_resume_command_works(
    held: tuple[Emulator, FakeClock], signum: signal.Signals
) -> None:
    emu, clock = held
    task_id = create(emu)
    proc = subprocess.Popen(
        seedance("wait", task_id),
        env=env_for(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert task_id in proc.stderr.readline()  # the first progress line: the wait is under way
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == CODES[signum], err
    assert out == ""
    assert f"error: interrupted by {signum.name} while waiting for {task_id}" in err
    assert f"hint: resume with: seedance wait {task_id}" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    clock.advance(120)
    done = subprocess.run(
        resume_command(err), env=env_for(emu), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:") and task_id in done.stdout


def test_sigterm_mid_download_keeps_the_part_and_the_printed_command_resumes(
    big: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "cat.mp4"
    proc = start_stalled_download(big, target)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert out == "" and not target.exists()
    assert "error: interrupted by SIGTERM while downloading" in err
    assert "cat.mp4.part is kept" in err and "Traceback" not in err
    kept = target.with_name("cat.mp4.part").stat().st_size
    done = subprocess.run(
        resume_command(err), env=env_for(big), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{target}\n"
    assert target.read_bytes() == big.service.video
    assert big.requests("download")[-1].headers["range"] == f"bytes={kept}-"


def test_sigterm_while_the_create_is_unanswered_prints_the_key_and_marks_the_history(
    live: Emulator,
) -> None:
    live.add_fault("create:slow:1:seconds=30")
    key = "ci-run-42-signal"
    out, err = terminated_while_held(
        live, "create", "generate", "A cat", "--wait", "--idempotency-key", key
    )  # sent; the answer is held back
    assert out == ""
    assert "error: interrupted by SIGTERM while the create was under way" in err
    assert f"hint: idempotency key {key}: check `seedance history`" in err
    assert "Traceback" not in err
    history = subprocess.run(
        seedance("history", "--json"), env=env_for(live), capture_output=True, text=True, timeout=30
    )
    assert history.returncode == 0, history.stderr
    [entry] = [json.loads(line) for line in history.stdout.splitlines()]
    assert entry["idempotency_key"] == key and entry["state"] == "outcome_unknown"


def test_sighup_during_a_batch_exits_129_and_the_rerun_creates_nothing_twice(
    held: tuple[Emulator, FakeClock], tmp_path: Path
) -> None:
    emu, clock = held
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "a", "name": "a"}\n{"prompt": "b", "name": "b"}\n')
    out = tmp_path / "out"
    proc = subprocess.Popen(
        seedance("batch", str(manifest), "--output-dir", str(out)),
        env=env_for(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    created = 0
    while created < 2:  # both creates answered and recorded: the batch now waits on its tasks
        line = proc.stderr.readline()
        assert line, "the batch ended early"
        created += ": created task-unified-" in line
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 129, err
    assert "error: batch interrupted" in err and "Traceback" not in err
    clock.advance(120)
    done = subprocess.run(
        resume_command(err), env=env_for(emu), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4"]
    assert len(emu.service.tasks) == 2  # the rerun created nothing


def test_sigterm_during_an_upload_exits_143_saying_what_was_left(
    live: Emulator, tmp_path: Path
) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(png_bytes(400, 400))
    live.add_fault("upload:slow:1:seconds=30")
    out, err = terminated_while_held(live, "upload", "upload", str(image))
    assert out == ""
    assert f"error: interrupted by SIGTERM while uploading {image}" in err
    assert "Traceback" not in err


def test_sigterm_in_a_command_without_its_own_handling_still_says_so(live: Emulator) -> None:
    live.add_fault("credits:slow:1:seconds=30")
    out, err = terminated_while_held(live, "credits", "credits")
    assert out == ""
    assert err.strip().splitlines()[-1] == "error: interrupted by SIGTERM"
    assert "Traceback" not in err


def test_an_ignored_sighup_stays_ignored_under_nohup(held: tuple[Emulator, FakeClock]) -> None:
    emu, clock = held
    task_id = create(emu)

    command = shlex.join(seedance("wait", task_id))
    proc = subprocess.Popen(
        ["bash", "-c", f"trap '' HUP; exec {command}"],  # what nohup does
        env=env_for(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert task_id in proc.stderr.readline()
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert proc.poll() is None  # still waiting
    clock.advance(120)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err  # the wait went on to the end
    assert task_id in out


def test_sigint_still_exits_130(held: tuple[Emulator, FakeClock]) -> None:
    emu, _ = held
    task_id = create(emu)
    proc = subprocess.Popen(
        seedance("wait", task_id),
        env=env_for(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert task_id in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert f"error: interrupted while waiting for {task_id}" in err


def test_no_handler_is_installed_by_importing_or_running_in_process() -> None:
    probe = (
        "import signal, seedance_cli, seedance_cli.cli;"
        "from seedance_cli.cli import run;"
        "run(['--help']);"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,"
        " signal.getsignal(signal.SIGHUP) is signal.SIG_DFL)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "True True"
