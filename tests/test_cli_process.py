"""What only a real process shows: Ctrl-C, broken pipes, terminals and colour."""

from __future__ import annotations

import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator

from .conftest import SENTINEL_KEY


@pytest.fixture
def live() -> Iterator[Emulator]:
    """An emulator on real time (a subprocess cannot share a fake clock): tasks take 0.8 s."""
    with Emulator(task_seconds=0.8) as emu:
        yield emu


def env_for(emu: Emulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(
        SEEDANCE_BASE_URL=emu.url,
        SEEDANCE_FILES_URL=emu.url,
        SEEDANCE_API_KEY=SENTINEL_KEY,
        SEEDANCE_POLL_INTERVAL="0.1",
        PYTHONUNBUFFERED="1",
        TERM="xterm-256color",
        COLUMNS="100",
    )
    env.update(extra)
    return env


def seedance(*args: str) -> list[str]:
    return [sys.executable, "-m", "seedance_cli", *args]


def create(emu: Emulator) -> str:
    done = subprocess.run(
        seedance("generate", "A cat"), env=env_for(emu), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ctrl_c_during_wait_exits_130_with_id_and_resume_command(live: Emulator) -> None:
    live.add_fault("task:hang")
    task_id = create(live)
    proc = subprocess.Popen(
        seedance("wait", task_id),
        env=env_for(live),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first progress line: the wait is under way
    assert task_id in first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == ""
    assert f"interrupted while waiting for {task_id}" in err
    assert f"hint: resume with: seedance wait {task_id}" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_closed_pipe_ends_quietly(live: Emulator) -> None:
    ids = [create(live) for _ in range(3)]
    proc = subprocess.Popen(
        seedance("status", *ids), env=env_for(live), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written, as with `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.wait(timeout=30)
    assert proc.returncode == 0
    assert err == ""


def test_head_dash_1_in_a_shell_pipeline(live: Emulator) -> None:
    ids = [create(live) for _ in range(3)]
    command = " ".join(seedance("status", *ids)) + " | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        env=env_for(live),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout.startswith(ids[0] + "\t") and done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_piped_output_has_no_escape_codes(live: Emulator) -> None:
    done = subprocess.run(
        seedance("generate", "A cat", "--wait"),
        env=env_for(live),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "\x1b" not in done.stdout and "\x1b" not in done.stderr
    assert "completed 100%" in done.stderr


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the exit code and all it showed."""
    main, sub = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdout=sub, stderr=sub, stdin=subprocess.DEVNULL)
    os.close(sub)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    return proc.wait(timeout=5), b"".join(chunks).decode(errors="replace")


def test_terminal_gets_live_bars_and_highlighted_json(live: Emulator) -> None:
    code, screen = run_in_terminal(seedance("generate", "A cat", "--wait"), env_for(live))
    assert code == 0
    assert "\x1b[" in screen  # colour and cursor movement: a live display
    assert "━" in screen  # the progress bar
    assert '"status"' in screen and "completed" in screen  # the final task as JSON


@pytest.mark.parametrize("setting", [{"NO_COLOR": "1"}, {"TERM": "dumb"}, {"_flag": "1"}])
def test_no_color_means_no_escape_codes_even_on_a_terminal(
    live: Emulator, setting: dict[str, str]
) -> None:
    args = seedance("generate", "A cat", "--wait")
    if "_flag" in setting:
        args.append("--no-color")
    code, screen = run_in_terminal(args, env_for(live, **setting))
    assert code == 0
    assert "\x1b" not in screen
    assert "completed 100%" in screen


def test_config_set_api_key_reads_the_key_hidden_from_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDANCE_")}
    env["SEEDANCE_CONFIG_DIR"] = str(tmp_path)
    main, sub = pty.openpty()
    # A new session has no controlling terminal, so getpass reads the pty given as stdin.
    proc = subprocess.Popen(
        seedance("config", "set", "api-key"),
        env=env,
        stdin=sub,
        stdout=sub,
        stderr=sub,
        start_new_session=True,
    )
    os.close(sub)
    screen = b""
    while b"input hidden" not in screen:
        ready, _, _ = select.select([main], [], [], 10)
        assert ready, screen
        screen += os.read(main, 1024)
    os.write(main, SENTINEL_KEY.encode() + b"\n")
    assert proc.wait(timeout=30) == 0
    while True:
        ready, _, _ = select.select([main], [], [], 0.2)
        if not ready:
            break
        try:
            chunk = os.read(main, 1024)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    assert SENTINEL_KEY.encode() not in screen  # never echoed
    assert b"set api-key in profile 'default'" in screen
    config = (tmp_path / "config.toml").read_text()
    assert SENTINEL_KEY in config


@pytest.fixture
def big() -> Iterator[Emulator]:
    """Real time, 4 MB results, and every first download stalls halfway for 30 s."""
    with Emulator(task_seconds=0.3, result_size=4_000_000) as emu:
        yield emu


def completed_task(emu: Emulator) -> str:
    task_id = create(emu)
    done = subprocess.run(
        seedance("wait", task_id, "-q"),
        env=env_for(emu),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return task_id


def start_stalled_download(emu: Emulator, target: Path) -> subprocess.Popen[str]:
    emu.add_fault("download:stall:1:seconds=30")
    task_id = completed_task(emu)
    proc = subprocess.Popen(
        seedance("download", task_id, "-o", str(target)),
        env=env_for(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    part = target.with_name(target.name + ".part")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until half the file has arrived
        if part.exists() and part.stat().st_size >= 2_000_000:
            break
        time.sleep(0.05)
    assert part.exists() and part.stat().st_size >= 2_000_000
    return proc


def test_sigkill_mid_download_leaves_no_file_at_the_final_path(
    big: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "cat.mp4"
    proc = start_stalled_download(big, target)
    proc.kill()
    proc.communicate(timeout=10)
    assert not target.exists()
    assert target.with_name("cat.mp4.part").stat().st_size >= 2_000_000


def test_ctrl_c_mid_download_keeps_the_part_and_the_printed_command_resumes(
    big: Emulator, tmp_path: Path
) -> None:
    target = tmp_path / "cat.mp4"
    proc = start_stalled_download(big, target)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert out == "" and not target.exists()
    kept = target.with_name("cat.mp4.part").stat().st_size
    assert "cat.mp4.part is kept" in err and "Traceback" not in err
    resume = next(line for line in err.splitlines() if line.startswith("hint: resume with: "))
    command = resume.removeprefix("hint: resume with: ")
    assert command.startswith("seedance download task-unified-") and str(target) in command
    done = subprocess.run(
        [sys.executable, "-m", "seedance_cli", *command.split()[1:]],
        env=env_for(big),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{target}\n"
    assert target.stat().st_size == 4_000_000
    assert target.read_bytes()[:4_000_000] == big.service.video
    resumed = big.requests("download")[-1]
    assert resumed.headers["range"] == f"bytes={kept}-" and resumed.status == 206


def test_ctrl_c_stops_a_batch_mid_download_and_the_rerun_finishes_it(
    big: Emulator, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "a", "name": "a"}\n{"prompt": "b", "name": "b"}\n')
    big.add_fault("download:stall:*:seconds=30")
    out = tmp_path / "out"
    env = {**env_for(big), "SEEDANCE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        seedance("batch", str(manifest), "--output-dir", str(out)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(out.glob("*.part")):
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10  # not held up by the stalled downloads
    assert proc.returncode == 130, err
    assert "resume with: seedance batch" in err and "Traceback" not in err
    assert any(out.glob("*.part")) and not any(out.glob("*.mp4"))
    big.clear_faults()
    done = subprocess.run(
        seedance("batch", str(manifest), "--output-dir", str(out)),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mp4"]
    assert len(big.service.tasks) == 2  # the rerun created nothing


@pytest.mark.parametrize("closed", ["1", "2", "0"])
def test_a_closed_standard_stream_is_not_an_internal_error(live: Emulator, closed: str) -> None:
    command = shlex.join(seedance("generate", "A cat"))
    done = subprocess.run(
        ["bash", "-c", f"exec {command} {closed}>&-"],
        env=env_for(live),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert len(live.service.tasks) == 1
    if closed != "1":
        assert done.stdout.startswith("task-unified-")
    if closed != "2":
        assert "created task-unified-" in done.stderr and "internal error" not in done.stderr


def test_sighup_after_the_terminal_hung_up_still_exits_129(live: Emulator) -> None:
    live.add_fault("task:hang")
    task_id = create(live)
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        seedance("wait", task_id),
        env=env_for(live),
        stdout=sub,
        stderr=sub,
        stdin=subprocess.DEVNULL,
    )
    os.close(sub)
    seen = b""
    while task_id.encode() not in seen:  # the live display is under way
        ready, _, _ = select.select([main], [], [], 20)
        assert ready, seen
        seen += os.read(main, 65536)
    os.close(main)  # the terminal is gone: every write to it now fails (EIO)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=30) == 129


@pytest.mark.parametrize("command", ["batch", "wait"])
def test_stdout_redirected_to_a_file_gets_the_data_while_stderr_shows_the_bars(
    live: Emulator, tmp_path: Path, command: str
) -> None:
    """`seedance batch m.jsonl > out.tsv` in a terminal: the bars are live on the terminal
    (stderr), and every data line still lands in the file, not on the terminal."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "A cat"}\n{"prompt": "A dog"}\n')
    args = ["batch", str(manifest)] if command == "batch" else ["wait", create(live)]
    env = env_for(live, SEEDANCE_DATA_DIR=str(tmp_path / "data"))
    main, sub = pty.openpty()
    with (tmp_path / "out.txt").open("w") as out:
        proc = subprocess.Popen(
            seedance(*args), env=env, stdout=out, stderr=sub, stdin=subprocess.DEVNULL
        )
        os.close(sub)
        screen = b""
        while True:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
        os.close(main)
        assert proc.wait(timeout=30) == 0, screen.decode(errors="replace")
    data = (tmp_path / "out.txt").read_text()
    if command == "batch":
        assert [line.split("\t")[2] for line in data.splitlines()] == ["completed"] * 2
    else:
        assert data.startswith("http") and len(data.splitlines()) == 1
    assert b"\x1b[" in screen  # the terminal got the live display
    assert b"completed\t" not in screen and b"\nhttp" not in screen  # and none of the data
