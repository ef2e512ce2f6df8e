"""The contract scripts rely on: one test per exit code, the ``--json`` shapes, and no leaked key."""

from __future__ import annotations

import socket

import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY

PROMPT = "A cat playing piano"


def create(cli: CliRunner) -> str:
    result = cli("generate", PROMPT)
    assert result.code == 0, result.err
    return result.out.strip()


# -- one test per exit code ------------------------------------------------------------------------


def test_exit_0_success(cli: CliRunner, api: Emulator) -> None:
    assert cli("generate", PROMPT, "--wait").code == 0


def test_exit_1_internal_error_says_so_without_a_traceback(cli: CliRunner, api: Emulator) -> None:
    def broken_sleep(seconds: float) -> None:
        raise RuntimeError("a bug")

    result = cli("generate", PROMPT, "--wait", sleep=broken_sleep)
    assert result.code == 1
    assert "error: internal error: RuntimeError" in result.err
    assert "rerun with --verbose" in result.err and "Traceback" not in result.err
    verbose = cli("generate", PROMPT, "--wait", "-v", sleep=broken_sleep)
    assert verbose.code == 1 and "Traceback" in verbose.err


def test_exit_2_usage(cli: CliRunner, api: Emulator) -> None:
    assert cli("generate", PROMPT, "--quality", "8k").code == 2


def test_exit_3_no_key_says_how_to_set_one(cli: CliRunner, emulator: Emulator) -> None:
    result = cli("generate", PROMPT, env={"SEEDANCE_BASE_URL": emulator.url})
    assert result.code == 3
    assert result.err.splitlines() == [
        "error: no API key",
        "hint: run `seedance config set api-key` (it asks for the key without echoing it), or "
        "export SEEDANCE_API_KEY; keys are at https://evolink.ai/dashboard/keys",
    ]
    assert emulator.requests() == []


@pytest.mark.parametrize("status", [401, 403])
def test_exit_4_auth(cli: CliRunner, api: Emulator, status: int) -> None:
    api.add_fault(f"create:{status}")
    assert cli("generate", PROMPT).code == 4


def test_exit_5_credits(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("create:402")
    result = cli("generate", PROMPT)
    assert result.code == 5 and "error: Insufficient quota" in result.err


@pytest.mark.parametrize(
    ("fault", "args"),
    [
        ("create:400", ["generate", PROMPT]),
        (None, ["status", "task-unified-1-zzzzzzzz"]),
        (None, ["status", "no-prefix"]),
    ],
)
def test_exit_6_refused(cli: CliRunner, api: Emulator, fault: str | None, args: list[str]) -> None:
    if fault:
        api.add_fault(fault)
    assert cli(*args).code == 6


def test_exit_7_service_unavailable_after_retries(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    task_id = create(cli)
    api.add_fault("query:503:*")
    result = cli("status", task_id)
    assert result.code == 7
    assert len(api.requests("query")) == 6 and len(clock.sleeps) == 5


def test_exit_7_when_nothing_listens(cli: CliRunner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"SEEDANCE_BASE_URL": f"http://127.0.0.1:{port}", "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("generate", PROMPT, env=env)
    assert result.code == 7 and "could not connect" in result.err


def test_exit_8_task_failed(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:fail")
    assert cli("generate", PROMPT, "-w").code == 8


def test_exit_9_deadline(cli: CliRunner, api: Emulator) -> None:
    assert cli("generate", PROMPT, "-w", "--timeout", "1").code == 9


@pytest.mark.parametrize("fault", ["create:500", "create:503", "create:drop", "create:malformed"])
def test_exit_10_outcome_unknown_prints_the_key(cli: CliRunner, api: Emulator, fault: str) -> None:
    api.add_fault(fault)
    result = cli("generate", PROMPT, "--idempotency-key", "ci-17")
    assert result.code == 10
    assert "it was not resent" in result.err and "idempotency key ci-17" in result.err
    assert len(api.requests("create")) == 1


def test_exit_130_interrupted_wait_prints_id_and_resume(api: Emulator, cli: CliRunner) -> None:
    task_id = create(cli)

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    result = cli("wait", task_id, sleep=ctrl_c)
    assert result.code == 130
    assert f"interrupted while waiting for {task_id}" in result.err
    assert f"hint: resume with: seedance wait {task_id}" in result.err


def test_help_lists_every_exit_code(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.code == 0
    lines = [line.strip() for line in result.out.splitlines()]
    for code in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 129, 130, 143):
        assert any(line.startswith(f"{code}  ") for line in lines), code


def test_bare_command_prints_help(cli: CliRunner) -> None:
    result = cli()
    assert result.code == 0 and result.out.startswith("Usage: seedance")


# -- the --json shapes -----------------------------------------------------------------------------

TASK_KEYS = {"created", "id", "model", "object", "progress", "status", "task_info", "type"}


def test_json_shapes_are_pinned(cli: CliRunner, api: Emulator) -> None:
    created = cli("--json", "generate", PROMPT).json
    # the emulator's billing object (on by default) and, once completed, usage.credits_used
    assert len(created) == 1 and set(created[0]) == TASK_KEYS | {"usage", "billing"}
    task_id = created[0]["id"]
    waited = cli("--json", "wait", task_id).json
    assert len(waited) == 1 and set(waited[0]) == TASK_KEYS | {"results", "usage", "billing"}
    status = cli("--json", "status", task_id).json
    assert status == waited
    error = cli("--json", "status", "task-unified-1-zzzzzzzz").json
    assert set(error[0]) == {"id", "error"} and set(error[0]["error"]) == {
        "code",
        "message",
        "hint",
    }
    usage = cli("--json", "generate", PROMPT, "-d", "2").json
    assert usage == [
        {
            "error": {
                "code": "usage_error",
                "message": "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 2",
                "hint": "models that take it: doubao-seedance-1.0-pro-fast (see 'seedance models')",
            }
        }
    ]
    listed = cli("--json", "config", "list").json
    assert set(listed[0]) == {
        "api-key",
        "base-url",
        "files-url",
        "duration",
        "quality",
        "aspect-ratio",
        "audio",
        "output-dir",
        "model",
        "max-credits",
        "live-pricing",
    }
    assert all(set(v) == {"value", "source"} for v in listed[0].values())


# -- secrets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "args"),
    [
        (None, ["generate", PROMPT, "--wait"]),
        (None, ["generate", PROMPT, "--dry-run"]),
        ("create:401", ["generate", PROMPT]),
        ("create:500", ["generate", PROMPT]),
        ("create:429:*", ["generate", PROMPT]),
        ("task:fail", ["generate", PROMPT, "--wait"]),
        ("task:hang", ["generate", PROMPT, "--wait", "--timeout", "5"]),
        ("query:503:*", ["status", "task-unified-1-abcdefgh"]),
        (None, ["status", "task-unified-1-zzzzzzzz"]),
        (None, ["config", "list"]),
        (None, ["config", "get", "api-key"]),
        (None, ["generate", PROMPT, "-d", "3"]),
    ],
)
@pytest.mark.parametrize("mode", [[], ["--verbose"], ["--json"], ["--verbose", "--json"]])
def test_the_key_appears_in_no_output(
    cli: CliRunner, api: Emulator, fault: str | None, args: list[str], mode: list[str]
) -> None:
    cli("config", "set", "api-key", input=SENTINEL_KEY)
    if fault:
        api.add_fault(fault)
    result = cli(*mode, *args)
    assert SENTINEL_KEY not in result.out
    assert SENTINEL_KEY not in result.err
    assert SENTINEL_KEY[3:-4] not in result.out + result.err
    if "--verbose" in mode and args[0] != "config" and "--dry-run" not in args and "-d" not in args:
        assert "Authorization: Bearer ***" in result.err


# -- global options: parsed once, by typer; errors shown the way that parse says -------------------


def test_an_option_after_double_dash_is_a_prompt_not_an_option(
    cli: CliRunner, emulator: Emulator
) -> None:
    result = cli("generate", "--", "--json")  # the prompt is "--json"; there is no key
    assert result.code == 3
    assert result.out == ""  # not a JSON error: --json was not given
    assert result.err.startswith("error: no API key")


def test_an_option_value_that_looks_like_a_flag_is_a_value(cli: CliRunner) -> None:
    result = cli("generate", "--profile", "--json", "A cat")  # a profile named --json
    assert result.code == 3
    assert result.out == ""  # not a JSON error: --json was not given
    assert result.err.startswith("error: no profile '--json'")


def test_a_prompt_of_dash_q_is_a_prompt_and_quiet_stays_off(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", "--", "-q")
    assert result.code == 0, result.err
    assert [r.json()["prompt"] for r in api.requests("create")] == ["-q"]
    assert "created task-unified-" in result.err  # not quiet


@pytest.mark.parametrize(
    ("args", "json_error"),
    [
        (["generate", "--bogus", "--json"], True),  # typer refused the line: read leniently
        (["--json", "generate", "--duration", "x"], True),
        (["generate", "--duration", "x", "--", "--json"], False),
        (["generate", "--idempotency-key", "--json"], False),  # the value of a flag
    ],
)
def test_usage_errors_typer_raises_still_honour_json_where_given(
    cli: CliRunner, args: list[str], json_error: bool
) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.err.startswith("error: ")
    if json_error:
        assert result.json[0]["error"]["code"] == "usage_error"
    else:
        assert result.out == ""


# -- text that is not UTF-8 (a command line or stdin in another encoding) is a usage error ---------


@pytest.mark.parametrize(
    ("args", "stdin", "flag"),
    [
        (["generate", "A cat \udcff"], "", "PROMPT"),
        (["generate", "-"], "A cat \udcff\udcfe", "PROMPT"),  # stdin decoded with surrogateescape
        (["generate", "A cat", "-i", "https://e.com/\udcff.png"], "", "--image"),
        (["generate", "A cat", "--callback-url", "https://e.com/\udcff"], "", "--callback-url"),
    ],
)
def test_text_that_is_not_utf8_is_exit_2_before_anything_is_sent(
    cli: CliRunner, api: Emulator, args: list[str], stdin: str, flag: str
) -> None:
    result = cli(*args, input=stdin)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: {flag}: is not valid UTF-8 text")
    assert api.requests() == []


def test_a_signal_while_an_error_is_being_reported_still_exits_128_plus_n(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from seedance_cli.cli.exits import _Received
    from seedance_cli.errors import Signalled
    from seedance_cli.render import Output

    def signalled_mid_report(self: Output, exc: BaseException) -> None:
        _Received.signum = signal.SIGTERM  # what the CLI's handler records, then raises
        raise Signalled(signal.SIGTERM)

    monkeypatch.setattr(_Received, "signum", None)
    monkeypatch.setattr(Output, "error", signalled_mid_report)
    result = cli("status", "not-a-task-id")  # a usage error, being reported when the signal comes
    assert result.code == 143
