"""``seedance emulator`` as a real process: what it prints, faults from flags, how it stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from .clirunner import CliRunner


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seedance_cli", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture
def running() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = start("--task-seconds", "1", "--fault", "credits:503:1:retry-after=1")
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    files = proc.stdout.readline().strip()
    assert base.startswith("export SEEDANCE_BASE_URL=http://127.0.0.1:")
    assert files == base.replace("BASE_URL", "FILES_URL")
    yield proc, base.split("=", 1)[1]
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_prints_exports_serves_and_applies_flag_faults(
    running: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = running
    headers = {"Authorization": "Bearer k"}
    first = httpx.get(f"{url}/v1/credits", headers=headers)
    assert first.status_code == 503 and first.headers["retry-after"] == "1"
    assert httpx.get(f"{url}/v1/credits", headers=headers).status_code == 200
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert stdout == ""
    assert "listening on" in stderr and "GET /v1/credits -> 503 [fault credits:503]" in stderr
    assert "emulator stopped" in stderr and "Traceback" not in stderr
    assert "Bearer" not in stderr


def test_sigterm_stops_cleanly(running: tuple[subprocess.Popen[str], str]) -> None:
    proc, _ = running
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in stderr


def test_bad_fault_is_a_usage_error_before_listening() -> None:
    proc = start("--fault", "create:explode")
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert stdout == ""
    assert stderr.startswith("error: --fault 'create:explode': unknown action")
    assert len(stderr.strip().splitlines()) == 1


def test_busy_port_is_a_usage_error(running: tuple[subprocess.Popen[str], str]) -> None:
    _, url = running
    port = url.rsplit(":", 1)[1]
    proc = subprocess.run(
        [sys.executable, "-m", "seedance_cli", "emulator", "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_the_moment_the_url_is_announced_stops_cleanly(attempt: int) -> None:
    proc = start()
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("export SEEDANCE_BASE_URL=")
    proc.send_signal(signal.SIGTERM)  # as a script does once it has the URL
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_sighup_stops_it_like_ctrl_c(running: tuple[subprocess.Popen[str], str]) -> None:
    proc, _ = running
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 129
    assert "emulator stopped" in stderr and "Traceback" not in stderr


def test_a_reader_that_goes_away_does_not_stop_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "seedance_cli", "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # gone before the exports are written: `seedance emulator | true`
    assert "listening on" in proc.stderr.readline()
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5)
        assert answer.json() == {"ok": True}
        time.sleep(0.2)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "Invalid value for '--port'"),
        (["--port", "-1"], "Invalid value for '--port'"),
        (["--task-seconds", "inf"], "--task-seconds: must be a finite number"),
        (["--credits", "nan"], "Invalid value for '--credits'"),
        (["--credits", "inf"], "--credits: must be a finite number"),
        (["--max-files", "-1"], "Invalid value for '--max-files'"),
        (["--result-size", "99999999999999999999"], "--result-size: result_size must be at most"),
    ],
)
def test_impossible_options_are_usage_errors_before_listening(
    cli: CliRunner, args: list[str], message: str
) -> None:
    result = cli("emulator", *args)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: {message}")
