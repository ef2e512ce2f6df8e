"""``seedance generate``: every flag onto its field, every refusal before anything is sent."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .clirunner import CliRunner
from .images import png_bytes

PROMPT = "A cat playing piano"
IMG1 = "https://example.com/first.png"
IMG2 = "https://example.com/last.jpg"


def sent_body(api: Emulator) -> dict[str, Any]:
    (record,) = api.requests("create")
    body: dict[str, Any] = record.json()
    return body


@pytest.mark.parametrize(
    ("flags", "fields"),
    [
        ([], {}),
        (["-d", "8"], {"duration": 8}),
        (["--duration", "12"], {"duration": 12}),
        (["--quality", "1080p"], {"quality": "1080p"}),
        (["--quality", "480p"], {"quality": "480p"}),
        (["-a", "9:16"], {"aspect_ratio": "9:16"}),
        (["--aspect-ratio", "adaptive"], {"aspect_ratio": "adaptive"}),
        (["--audio"], {"generate_audio": True}),
        (["--no-audio"], {"generate_audio": False}),
        (["-i", IMG1], {"image_urls": [IMG1]}),
        (["--image", IMG1, "-i", IMG2], {"image_urls": [IMG1, IMG2]}),
        (
            ["--callback-url", "https://hooks.example.com/x"],
            {"callback_url": "https://hooks.example.com/x"},
        ),
        (["--model", "seedance-1.5-pro"], {}),
        (
            ["-d", "4", "--quality", "720p", "-a", "1:1", "--no-audio", "-i", IMG1],
            {
                "duration": 4,
                "quality": "720p",
                "aspect_ratio": "1:1",
                "generate_audio": False,
                "image_urls": [IMG1],
            },
        ),
    ],
)
def test_each_flag_fills_its_field(
    cli: CliRunner, api: Emulator, flags: list[str], fields: dict[str, Any]
) -> None:
    result = cli("generate", PROMPT, *flags)
    assert result.code == 0, result.err
    assert sent_body(api) == {"model": "seedance-1.5-pro", "prompt": PROMPT, **fields}


def test_without_wait_stdout_is_the_task_id_alone(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", PROMPT)
    assert result.code == 0
    (task_id,) = api.service.tasks
    assert result.out == f"{task_id}\n"
    # 5 s of 1.5 pro at 720p with audio, the published price (API.md's worked example)
    assert f"created {task_id} (17.784 credits reserved)" in result.err
    assert f"seedance wait {task_id}" in result.err


def test_idempotency_key_flag_is_sent(cli: CliRunner, api: Emulator) -> None:
    assert cli("generate", PROMPT, "--idempotency-key", "ci-run-42").code == 0
    assert api.requests("create")[0].idempotency_key == "ci-run-42"


def test_each_invocation_gets_its_own_key(cli: CliRunner, api: Emulator) -> None:
    cli("generate", PROMPT)
    cli("generate", PROMPT)
    keys = {r.idempotency_key for r in api.requests("create")}
    assert len(keys) == 2 and None not in keys


def test_prompt_from_stdin(cli: CliRunner, api: Emulator) -> None:
    assert cli("generate", "-", input="A dog surfing\n\n").code == 0
    assert sent_body(api)["prompt"] == "A dog surfing"


def test_prompt_from_file(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text('He said: "Never point at the moon."\nThen silence.\n', encoding="utf-8")
    assert cli("generate", f"@{prompt}").code == 0
    assert sent_body(api)["prompt"] == 'He said: "Never point at the moon."\nThen silence.'


def test_with_wait_stdout_is_the_result_url(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    result = cli("generate", PROMPT, "--wait")
    assert result.code == 0, result.err
    (task_id,) = api.service.tasks
    (url,) = result.lines
    assert url.startswith(f"{api.url}/results/{task_id}.mp4?")
    assert "completed 100%" in result.err
    assert clock.sleeps == [60.0]  # the create said estimated_time 60: polled when it ends
    assert len(api.requests("query")) == 1  # and not asked about before: the create answered


def test_wait_json_prints_the_final_task(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", PROMPT, "-w", "--json", "--interval", "20")
    assert result.code == 0
    (task,) = result.json
    assert task["status"] == "completed" and task["results"]


def test_failed_task_exits_8_with_code_and_message(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:fail:1:code=content_policy_violation")
    result = cli("generate", PROMPT, "--wait")
    assert result.code == 8
    assert result.out == ""
    assert "failed (content_policy_violation: Content policy violation." in result.err
    assert "change it before retrying" in result.err


def test_deadline_exits_9_with_the_resume_command(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    api.add_fault("task:hang")
    result = cli("generate", PROMPT, "--wait", "--timeout", "30", "--profile", "default")
    assert result.code == 9
    (task_id,) = api.service.tasks
    assert f"error: still running after 30s: {task_id}" in result.err
    assert f"hint: resume with: seedance --profile default wait {task_id}" in result.err
    assert sum(clock.sleeps) == 30


def test_profile_defaults_apply_and_flags_override(cli: CliRunner, api: Emulator) -> None:
    for key, value in (
        ("duration", "10"),
        ("quality", "1080p"),
        ("audio", "false"),
        ("aspect-ratio", "9:16"),
    ):
        assert cli("config", "set", key, value).code == 0
    cli("generate", PROMPT)
    assert sent_body(api) == {
        "model": "seedance-1.5-pro",
        "prompt": PROMPT,
        "duration": 10,
        "quality": "1080p",
        "generate_audio": False,
        "aspect_ratio": "9:16",
    }
    api.reset()
    cli("generate", PROMPT, "-d", "5", "--audio", "--quality", "480p", "-a", "16:9")
    assert sent_body(api) == {
        "model": "seedance-1.5-pro",
        "prompt": PROMPT,
        "duration": 5,
        "quality": "480p",
        "generate_audio": True,
        "aspect_ratio": "16:9",
    }


# -- refused before anything is sent ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-d", "3"], "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 3"),
        (["-d", "13"], "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 13"),
        (["-d", "five"], "Invalid value for '--duration'"),
        (["--quality", "4k"], "--quality: seedance-1.5-pro takes 480p, 720p, 1080p, got '4k'"),
        (["-a", "2:1"], "--aspect-ratio: seedance-1.5-pro takes 16:9"),
        (["-i", "ftp://example.com/a.png"], "--image: must be an http:// or https:// URL"),
        (
            ["-i", IMG1, "-i", IMG1, "-i", IMG2],
            "--image: 3 images given; seedance-1.5-pro takes at most 2",
        ),
        (["--callback-url", "http://hooks.example.com/x"], "--callback-url: must be an https://"),
        (["--callback-url", "https://10.0.0.1/x"], "--callback-url: points at a private"),
        (["--callback-url", "https://e.com/" + "a" * 2040], "--callback-url: is 2054 characters"),
        (["--model", " "], "--model: '' is not a model name"),
        (["--timeout", "-1"], "--timeout: must be a number of seconds >= 0"),
        (["--interval", "0"], "--interval: must be a number of seconds > 0"),
        (["--interval", "nan"], "--interval: must be a number of seconds > 0"),
        (["--idempotency-key", "a b"], "--idempotency-key: must be 1-255 printable ASCII"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_and_sends_nothing(
    cli: CliRunner, api: Emulator, args: list[str], message: str
) -> None:
    result = cli("generate", PROMPT, *args)
    assert result.code == 2
    assert result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith("error: ") and message in first
    assert len(result.err.splitlines()) <= 2  # one error line, at most one hint
    assert api.requests() == []


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "PROMPT: must not be empty"),
        ("   ", "PROMPT: must not be empty"),
        ("x" * 2001, "PROMPT: is 2001 characters; seedance-1.5-pro takes at most 2000"),
        ("@/nonexistent/prompt.txt", "PROMPT: no such file '/nonexistent/prompt.txt'"),
    ],
)
def test_bad_prompts_exit_2(cli: CliRunner, api: Emulator, prompt: str, message: str) -> None:
    result = cli("generate", prompt)
    assert result.code == 2
    assert message in result.err
    assert api.requests() == []


def test_missing_prompt_is_a_usage_error(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate")
    assert result.code == 2
    assert result.err.startswith("error: Missing argument 'prompt'")
    assert "hint: see `seedance generate --help`" in result.err
    assert "╭" not in result.err  # no boxed panels


def test_bad_input_with_json_also_prints_the_error_object(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", PROMPT, "-d", "3", "--json")
    assert result.code == 2
    assert result.json == [
        {
            "error": {
                "code": "usage_error",
                "message": "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 3",
                "hint": "models that take it: doubao-seedance-1.0-pro-fast (see 'seedance models')",
            }
        }
    ]


# -- dry run ---------------------------------------------------------------------------------------


def test_dry_run_prints_the_request_and_needs_no_key(cli: CliRunner, emulator: Emulator) -> None:
    result = cli("generate", PROMPT, "--dry-run", "-d", "8", "-i", IMG1)
    assert result.code == 0, result.err
    assert result.lines[0] == "POST https://api.evolink.ai/v1/videos/generations"
    assert "\n".join(result.lines[1:]) == (
        '{\n  "model": "seedance-1.5-pro",\n  "prompt": "A cat playing piano",\n'
        '  "image_urls": [\n    "https://example.com/first.png"\n  ],\n  "duration": 8\n}'
    )
    assert "nothing was sent" in result.err
    assert emulator.requests() == []


def test_dry_run_json_shape(cli: CliRunner, api: Emulator) -> None:
    result = cli("--json", "generate", PROMPT, "--dry-run", "--idempotency-key", "k1")
    assert result.json == [
        {
            "uploads": [],
            "method": "POST",
            "url": f"{api.url}/v1/videos/generations",
            "idempotency_key": "k1",
            "body": {"model": "seedance-1.5-pro", "prompt": PROMPT},
            "estimate": {
                "model": "seedance-1.5-pro",
                "known": True,
                "exact": True,
                "low": 17.784,
                "high": 17.784,
                "usd_low": 0.26,
                "usd_high": 0.26,
                "reason": None,
                "text": "17.78 credits ($0.26)",
            },
        }
    ]
    assert api.requests() == []


def test_dry_run_still_checks_every_input(cli: CliRunner) -> None:
    result = cli("generate", PROMPT, "--dry-run", "-d", "30")
    assert result.code == 2 and "--duration" in result.err


# -- the sandbox -----------------------------------------------------------------------------------


def test_sandbox_generates_and_waits_with_no_key(cli: CliRunner, clock: FakeClock) -> None:
    result = cli("--sandbox", "generate", PROMPT, "--wait")
    assert result.code == 0, result.err
    (url,) = result.lines
    assert url.startswith("http://127.0.0.1:") and "/results/task-unified-" in url
    assert "sandbox: a local emulator" in result.err
    assert sum(clock.sleeps) <= 5  # a sandbox task takes a few seconds, polled twice a second


def test_sandbox_works_after_the_command_too(cli: CliRunner) -> None:
    result = cli("generate", PROMPT, "--sandbox", "--json")
    assert result.code == 0
    (task,) = result.json
    assert task["status"] == "pending"


# -- --idempotency-key: a key the history holds a task for creates nothing -----------------------


def history_db() -> sqlite3.Connection:
    return sqlite3.connect(Path(os.environ["SEEDANCE_DATA_DIR"]) / "history.sqlite3")


def history_rows(*columns: str) -> list[tuple[Any, ...]]:
    db = history_db()
    try:
        return db.execute(f"SELECT {', '.join(columns)} FROM tasks ORDER BY row_id").fetchall()
    finally:
        db.close()


def history_update(sql: str) -> None:
    db = history_db()
    try:
        db.execute(sql)
        db.commit()
    finally:
        db.close()


def test_a_reused_key_returns_its_task_and_creates_nothing(cli: CliRunner, api: Emulator) -> None:
    first = cli("generate", PROMPT, "--idempotency-key", "ci-42")
    assert first.code == 0, first.err
    task_id = first.out.strip()
    again = cli("generate", PROMPT, "--idempotency-key", "ci-42")
    assert again.code == 0, again.err
    assert again.out == f"{task_id}\n"
    assert f"idempotency key ci-42 already made task {task_id}" in again.err
    assert "nothing was created" in again.err and "warning" not in again.err
    assert len(api.requests("create")) == 1
    # The first task is still in the history, under its key, not overwritten by a second one.
    assert history_rows("idempotency_key", "task_id") == [("ci-42", task_id)]


def test_a_reused_key_waits_on_and_saves_that_task(
    cli: CliRunner, api: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    task_id = cli("generate", PROMPT, "--idempotency-key", "ci-43").out.strip()
    waited = cli("generate", PROMPT, "--idempotency-key", "ci-43", "--wait")
    assert waited.code == 0, waited.err
    (url,) = waited.lines
    assert url == api.service.render(api.service.tasks[task_id], api.service.clock())["results"][0]
    saved = cli("generate", PROMPT, "--idempotency-key", "ci-43", "-o", "cat.mp4")
    assert saved.code == 0, saved.err
    assert saved.out == "cat.mp4\n" and (tmp_path / "cat.mp4").stat().st_size > 0
    assert len(api.requests("create")) == 1
    assert [r[0] for r in history_rows("task_id")] == [task_id]


def test_a_reused_key_with_json_prints_that_task(cli: CliRunner, api: Emulator) -> None:
    task_id = cli("generate", PROMPT, "--idempotency-key", "ci-44").out.strip()
    again = cli("generate", PROMPT, "--idempotency-key", "ci-44", "--json")
    assert again.code == 0, again.err
    (task,) = again.json
    assert task["id"] == task_id
    assert len(api.requests("create")) == 1


def test_a_reused_key_with_another_request_warns_and_still_creates_nothing(
    cli: CliRunner, api: Emulator
) -> None:
    task_id = cli("generate", PROMPT, "--idempotency-key", "ci-45").out.strip()
    again = cli("generate", "A dog surfing", "-d", "8", "--idempotency-key", "ci-45")
    assert again.code == 0 and again.out == f"{task_id}\n"
    assert "warning: that task was made from a different request" in again.err
    assert "(differs in: duration, prompt)" in again.err
    assert len(api.requests("create")) == 1


def test_a_key_whose_create_had_an_unknown_outcome_is_never_resent(
    cli: CliRunner, api: Emulator
) -> None:
    api.add_fault("create:drop")
    first = cli("generate", PROMPT, "--idempotency-key", "ci-46")
    assert first.code == 10 and "ci-46" in first.err
    again = cli("generate", PROMPT, "--idempotency-key", "ci-46", "--wait")
    assert again.code == 10
    assert again.out == ""
    assert "error: the create may have reached the server" in again.err
    assert "an earlier create with this key had an unknown outcome" in again.err
    assert "idempotency key ci-46" in again.err
    assert len(api.requests("create")) == 1
    assert history_rows("idempotency_key", "state", "task_id") == [
        ("ci-46", "outcome_unknown", None)
    ]


def test_a_key_whose_create_never_answered_is_never_resent(cli: CliRunner, api: Emulator) -> None:
    """A row left in state ``creating`` by a process still alive (here: this one) is waited on,
    on the injected clock, and never resent: exit 10 when its answer does not come."""
    api.add_fault("create:drop")
    cli("generate", PROMPT, "--idempotency-key", "ci-47")
    history_update("UPDATE tasks SET state = 'creating'")
    again = cli("generate", PROMPT, "--idempotency-key", "ci-47", "--json")
    assert again.code == 10
    (error,) = again.json
    assert error["error"]["code"] == "outcome_unknown"
    assert "is still sending it" in error["error"]["message"]
    assert error["error"]["hint"] == (
        "idempotency key ci-47: `seedance history --sync` names the tasks that could be it (or "
        "look in your EvoLink dashboard); record what you find with `seedance history --settle "
        "ci-47=TASK_ID` (or `ci-47=none` if it made none)"
    )
    assert len(api.requests("create")) == 1


def test_a_reused_key_uploads_nothing(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(png_bytes(640, 480))
    first = cli("generate", PROMPT, "-i", str(image), "--idempotency-key", "ci-48")
    assert first.code == 0, first.err
    again = cli("generate", PROMPT, "-i", str(image), "--idempotency-key", "ci-48")
    assert again.code == 0 and again.out == first.out
    assert "warning" not in again.err  # the uploaded URL is not compared with the local path
    assert [r.kind for r in api.requests()] == ["upload", "create"]


def test_a_key_is_per_api_another_apis_task_is_not_this_ones(cli: CliRunner, api: Emulator) -> None:
    """A key used against another origin (an emulator) neither returns that task nor blocks with
    exit 10; the history keeps one task per key, so it is refused before anything is sent."""
    first = cli("generate", PROMPT, "--idempotency-key", "ci-49")
    assert first.code == 0, first.err
    history_update("UPDATE tasks SET base_url = 'http://127.0.0.1:1'")
    again = cli("generate", PROMPT, "--idempotency-key", "ci-49", "--wait")
    assert again.code == 2 and again.out == ""
    assert again.err.startswith(
        "error: --idempotency-key: ci-49 already made a task with another API (http://127.0.0.1:1)"
    )
    assert len(api.requests("create")) == 1
    assert history_rows("task_id", "base_url") == [(first.out.strip(), "http://127.0.0.1:1")]


def test_a_given_key_is_not_sent_when_the_history_cannot_be_read(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    env = {"SEEDANCE_DATA_DIR": str(blocker / "d")}
    result = cli("generate", PROMPT, "--idempotency-key", "ci-50", env=env)
    assert result.code == 3 and result.out == ""
    assert "cannot tell whether idempotency key ci-50 already made a task" in result.err
    assert api.requests() == []


def test_the_sandbox_takes_a_key_without_a_history(cli: CliRunner) -> None:
    result = cli("--sandbox", "generate", PROMPT, "--idempotency-key", "ci-51")
    assert result.code == 0, result.err
    assert result.out.startswith("task-unified-")


@pytest.mark.parametrize("source", ["@/dev/zero", "@big.txt", "-"])
def test_an_endless_or_huge_prompt_source_is_refused_without_reading_it_all(
    cli: CliRunner, api: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with open("big.txt", "w") as handle:
        handle.truncate(3 * 1024**3)  # sparse: 3 GB of NUL characters
    result = cli("generate", source, input="x" * 1_000_001)
    assert result.code == 2 and result.out == ""
    assert "is larger than" in result.err and "refused" in result.err
    assert api.requests() == []


class EndlessStdin(io.StringIO):
    """stdin that never ends: reading it to the end is the bug."""

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            raise AssertionError("stdin was read to its end")
        return "x" * size


def test_a_prompt_from_stdin_is_read_boundedly(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", "-", input=EndlessStdin())
    assert result.code == 2 and "PROMPT from stdin is larger than" in result.err
    assert api.requests() == []


def test_a_lone_at_sign_is_no_prompt(cli: CliRunner, api: Emulator) -> None:
    """`seedance generate "@$PROMPT_FILE"` with the variable unset must cost nothing."""
    result = cli("generate", "@")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: PROMPT: '@' names no file")
    assert api.requests() == []
