"""The environment is injected: a run reads and writes only what its ``Environment`` holds."""

from __future__ import annotations

import dataclasses
import io
import os
import sys
from pathlib import Path

import pytest

from seedance_cli import __version__
from seedance_cli.cli import run
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.env import Environment
from seedance_cli.render import Output

from .clirunner import CliRunner

PROFILES = """
[profiles.mine]
duration = 7

[profiles.theirs]
duration = 11
"""


def environment(environ: dict[str, str], stdin: str = "") -> Environment:
    return Environment(
        stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(), environ=environ
    )


def text(stream: object) -> str:
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


@pytest.fixture
def profiles(environ: dict[str, str]) -> Path:
    config = Path(environ["SEEDANCE_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(PROFILES)
    config.chmod(0o600)
    return config


def test_the_profile_comes_from_the_environments_variables_not_the_process(
    cli: CliRunner, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_PROFILE", "theirs")  # the process says otherwise
    mine = {"SEEDANCE_PROFILE": "mine"}
    assert cli("config", "get", "duration", env=mine).out == "7\n"
    dry = cli("--json", "generate", "A cat", "--dry-run", env=mine)  # through config.resolve
    assert dry.code == 0, dry.err
    assert dry.json[0]["body"]["duration"] == 7


def test_without_the_variable_the_process_value_is_not_used(
    cli: CliRunner, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDANCE_PROFILE", "theirs")
    result = cli("config", "get", "duration")  # the environment names no profile: default
    assert result.code == 3 and "duration is not set in profile 'default'" in result.err


def test_the_config_and_data_folders_come_from_the_environment(
    environ: dict[str, str], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    env = environment(
        {
            **environ,
            "SEEDANCE_CONFIG_DIR": str(elsewhere / "config"),
            "SEEDANCE_DATA_DIR": str(elsewhere / "data"),
        }
    )
    assert run(["config", "set", "duration", "9"], env) == 0
    assert (elsewhere / "config" / "config.toml").read_text().count("duration = 9") == 1
    assert not (Path(environ["SEEDANCE_CONFIG_DIR"]) / "config.toml").exists()
    assert run(["config", "path"], env) == 0
    assert text(env.stdout).splitlines()[-1] == str(elsewhere / "config" / "config.toml")
    assert run(["history"], env) == 0
    assert str(elsewhere / "data") in text(env.stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--version"], f"seedance {__version__}\n"),
        (["--help"], "Usage: seedance"),
        ([], "Usage: seedance"),  # no command: the help
        (["config"], "Usage: seedance config"),
        (["generate", "--help"], "Usage: seedance generate"),
    ],
)
def test_typers_own_output_goes_to_the_environments_stdout(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    env = environment(environ)
    real = sys.stdout, sys.stderr
    assert run(args, env) == 0
    assert text(env.stdout).startswith(expected) and text(env.stderr) == ""
    assert capsys.readouterr() == ("", "")  # nothing reached the process's streams
    assert (sys.stdout, sys.stderr) == real  # and they are as they were


def test_usage_errors_go_to_the_environments_stderr(
    environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = environment(environ)
    assert run(["generate", "--no-such-flag"], env) == 2
    assert "No such option: --no-such-flag" in text(env.stderr) and text(env.stdout) == ""
    assert run(["no-such-command"], env) == 2
    assert "No such command" in text(env.stderr)
    assert capsys.readouterr() == ("", "")


def test_generate_dash_reads_the_environments_stdin(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("the process's prompt"))
    result = cli("--json", "generate", "-", "--dry-run", input="the environment's prompt\n")
    assert result.code == 0, result.err
    assert result.json[0]["body"]["prompt"] == "the environment's prompt"
    assert sys.stdin.read() == "the process's prompt"  # untouched


def test_no_stdin_at_all_is_no_prompt(environ: dict[str, str]) -> None:
    env = Environment(stdin=None, stdout=io.StringIO(), stderr=io.StringIO(), environ=environ)
    assert run(["generate", "-", "--dry-run"], env) == 2
    assert "PROMPT is '-' but stdin is a terminal" in text(env.stderr)


def test_batch_dash_and_config_set_api_key_read_the_environments_stdin(
    cli: CliRunner, environ: dict[str, str]
) -> None:
    batch = cli("--json", "batch", "-", "--dry-run", input='{"prompt": "from stdin"}\n')
    assert batch.code == 0, batch.err
    assert batch.json[0]["body"]["prompt"] == "from stdin"
    key = "sk-from-the-environments-stdin-0001"
    assert cli("config", "set", "api-key", input=key + "\n").code == 0
    config = (Path(environ["SEEDANCE_CONFIG_DIR"]) / "config.toml").read_text()
    assert f'api_key = "{key}"' in config


def test_the_environments_wall_clock_dates_the_history(cli: CliRunner, api: Emulator) -> None:
    env = dataclasses.replace(cli.environment(), wall_clock=lambda: 1_000_000_000.0)
    assert run(["generate", "A cat"], env) == 0, text(env.stderr)
    (entry,) = cli("--json", "history").json
    assert entry["created_at"] == 1_000_000_000.0  # not the emulator's time, nor the real one


def test_the_environments_sleep_and_clock_time_a_wait(environ: dict[str, str]) -> None:
    clock = FakeClock()
    env = Environment(
        stdin=None,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        environ=environ,
        clock=clock.monotonic,
        wall_clock=clock.time,
        sleep=clock.sleep,
    )
    assert run(["--sandbox", "generate", "A cat", "--wait"], env) == 0, text(env.stderr)
    assert clock.sleeps  # the wait slept on the environment's clock, not for real
    assert text(env.stdout).startswith("http")


def test_from_process_reads_the_process_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    streams = io.StringIO(), io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", streams[0])
    monkeypatch.setattr(sys, "stdout", streams[1])
    monkeypatch.setattr(sys, "stderr", streams[2])
    env = Environment.from_process()
    assert (env.stdin, env.stdout, env.stderr) == streams
    assert env.environ is os.environ


def test_output_writes_through_a_live_display_that_wraps_its_streams() -> None:
    from rich.console import Console
    from rich.file_proxy import FileProxy

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = Terminal(), io.StringIO()
    output = Output(stdout=out, stderr=err, environ={})
    streams: tuple[object, object] = (output.out, output.err)
    assert streams == (out, err)
    proxy = FileProxy(Console(file=err), out)  # what a live display puts in sys.stdout
    real = sys.stdout
    sys.stdout = proxy
    try:
        shown: object = output.out
        assert shown is proxy  # a terminal's data is printed above the bars
        other = Output(stdout=Terminal(), stderr=err, environ={})
        assert other.out is other.stdout  # a proxy of another stream is not this output's
        piped = Output(stdout=io.StringIO(), stderr=err, environ={})
        proxy_of_pipe = FileProxy(Console(file=err), piped.stdout)
        sys.stdout = proxy_of_pipe
        assert piped.out is piped.stdout  # data meant for a file or a pipe goes there, always
    finally:
        sys.stdout = real
