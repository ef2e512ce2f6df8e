"""Found by the adversarial review: each test fails without its fix. Real processes where the
problem only shows in one (memory, signals, concurrency)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator

from .clirunner import CliRunner
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


@pytest.fixture
def live() -> Iterator[Emulator]:
    with Emulator(task_seconds=0.5) as emu:
        yield emu


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDANCE_")}
    env.update(
        HOME=str(tmp_path),
        SEEDANCE_CONFIG_DIR=str(tmp_path / "config"),
        SEEDANCE_DATA_DIR=str(tmp_path / "data"),
        SEEDANCE_API_KEY=SENTINEL_KEY,
        SEEDANCE_BASE_URL=emu.url,
        SEEDANCE_FILES_URL=emu.url,
        SEEDANCE_POLL_INTERVAL="0.1",
    )
    return env


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [["generate", "A cat", "-d", "4"], ["generate", "A cat", "--dry-run"], ["credits"]],
)
def test_a_stdout_that_cannot_be_written_is_exit_7_not_a_bug(
    live: Emulator, tmp_path: Path, args: list[str]
) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "seedance_cli", *args],
            env=env_for(live, tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 7, done.stderr
    assert "error: cannot write to stdout: No space left on device" in done.stderr
    assert "internal error" not in done.stderr and "Exception ignored" not in done.stderr
    if args[0] == "generate" and "--dry-run" not in args:
        assert len(live.requests("create")) == 1
        assert "created task-" in done.stderr  # the id is not lost


def test_an_output_folder_whose_name_is_not_utf8_gets_the_file_and_its_exact_path(
    live: Emulator, tmp_path: Path
) -> None:
    folder = os.fsencode(tmp_path) + b"/\xff\xfe-out/"
    env = env_for(live, tmp_path)
    env.pop("PYTHONUTF8", None)
    env["PYTHONIOENCODING"] = "utf-8:strict"  # as in most locales (en_US.UTF-8...): strict UTF-8
    done = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"seedance_cli", b"generate", b"A cat", b"-o", folder],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    saved = done.stdout.rstrip(b"\n")
    assert saved.startswith(folder) and saved.endswith(b".mp4")
    assert os.path.isfile(saved)  # stdout names the real file, byte for byte
    assert len(live.requests("create")) == 1
    history = subprocess.run(
        [sys.executable, "-m", "seedance_cli", "history", "--json"],
        env=env_for(live, tmp_path),
        capture_output=True,
        timeout=60,
    )
    assert history.returncode == 0, history.stderr
    assert saved in history.stdout  # the history keeps the exact name


def test_a_batch_into_a_folder_whose_name_is_not_utf8_saves_every_line_once(
    live: Emulator, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "a", "duration": 4}\n{"prompt": "b", "duration": 4}\n')
    folder = os.fsencode(tmp_path) + b"/\xff-batch/"
    env = env_for(live, tmp_path)
    env["PYTHONIOENCODING"] = "utf-8:strict"
    args = [os.fsencode(sys.executable), b"-m", b"seedance_cli", b"batch", os.fsencode(manifest)]
    for _ in range(2):  # the second run finds both lines done: nothing created, nothing fetched
        done = subprocess.run(
            [*args, b"--output-dir", folder],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert b"internal error" not in done.stderr
    assert sorted(os.listdir(folder)) == [b"1.mp4", b"2.mp4"]
    assert len(live.requests("create")) == 2
    assert len(live.requests("download")) == 2


@pytest.mark.parametrize("command", ["wait", "batch"])
def test_a_tiny_interval_does_not_hammer_the_api(
    live: Emulator, tmp_path: Path, command: str
) -> None:
    env = env_for(live, tmp_path)
    live.add_fault("task:hang:*")
    if command == "wait":
        made = subprocess.run(
            [sys.executable, "-m", "seedance_cli", "generate", "A cat"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        args = ["wait", made.stdout.strip()]
    else:
        manifest = tmp_path / "m.jsonl"
        manifest.write_text('{"prompt": "a", "duration": 4}\n')
        args = ["batch", str(manifest)]
    done = subprocess.run(
        [sys.executable, "-m", "seedance_cli", *args, "--interval", "1e-9", "--timeout", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 9, done.stderr
    # a task polled for 1 s at most 20 times a second (plus slack), not thousands of times
    assert len(live.requests("query")) <= 30


class EndlessVideo:
    """A result host's answer whose body never ends; counts what was taken from it."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers: Mapping[str, str] = headers
        self.taken = 0

    def chunks(self) -> Iterator[bytes]:
        block = b"\x00\x00\x00\x18ftypmp42" + bytes(64 << 10)
        while self.taken < 64 << 20:  # the test's own bound: without the fix, 64 MB are written
            self.taken += len(block)
            yield block

    def text(self, limit: int = 1000) -> str:
        return ""

    def __enter__(self) -> EndlessVideo:
        return self

    def __exit__(self, *exc: object) -> bool | None:
        return None


@pytest.mark.parametrize(
    ("status", "headers", "cap"),
    [
        (206, {"content-type": "video/mp4", "content-range": "bytes 0-999/1000"}, None),
        (200, {"content-type": "video/mp4"}, 200_000),
    ],
)
def test_a_result_body_longer_than_announced_or_endless_never_fills_the_disk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    headers: dict[str, str],
    cap: int | None,
) -> None:
    from seedance_cli import download as dl
    from seedance_cli.errors import BadResponse

    if cap is not None:
        monkeypatch.setattr(dl, "MAX_RESULT_BYTES", cap)
    answers: list[EndlessVideo] = []

    def fetch(url: str, headers_sent: Mapping[str, str]) -> EndlessVideo:
        answers.append(EndlessVideo(status, headers))
        return answers[-1]

    target = tmp_path / "out" / "video.mp4"
    with pytest.raises(BadResponse, match=r"more than the|larger than"):
        dl.download(fetch, "http://127.0.0.1:9/r.mp4", target, sleep=lambda s: None)
    assert all(a.taken <= 1 << 20 for a in answers)  # cut off at once, not after 64 MB
    assert not target.exists() and os.listdir(target.parent) == []  # nothing partial left


@pytest.mark.parametrize("command", ["generate", "wait", "download"])
def test_output_dash_is_refused_before_anything_is_sent_not_a_file_named_dash(
    cli: CliRunner, api: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["A cat"] if command == "generate" else ["task-unified-1761313744-vux2jw0k"]
    result = cli(command, *args, "-o", "-")
    assert result.code == 2, result.err
    assert result.err.startswith("error: --output: '-' (stdout) is not supported")
    assert api.requests() == []
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("deep.jsonl", '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "nested too deeply"),
        ("wide.csv", 'prompt,duration\n"' + "a" * 200_000 + '",4\n', "unreadable CSV"),
    ],
)
def test_a_hostile_manifest_line_is_an_invalid_line_not_a_crash(
    cli: CliRunner, api: Emulator, tmp_path: Path, name: str, text: str, says: str
) -> None:
    manifest = tmp_path / name
    manifest.write_text(text)
    result = cli("batch", str(manifest))
    assert result.code == 2, result.err
    assert says in result.err and "internal error" not in result.err
    assert api.requests() == []
