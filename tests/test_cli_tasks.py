"""``seedance status`` and ``seedance wait``: output for people and scripts, outcomes, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .clirunner import CliRunner

MISSING = "task-unified-1761313744-zzzzzzzz"


def create(cli: CliRunner, *flags: str) -> str:
    result = cli("generate", "A cat playing piano", *flags)
    assert result.code == 0, result.err
    return result.out.strip()


# -- status ----------------------------------------------------------------------------------------


def test_status_piped_is_one_tab_separated_line_per_task(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    first = create(cli)
    clock.advance(60)
    second = create(cli)
    clock.advance(30)
    result = cli("status", first, second)
    assert result.code == 0 and result.err == ""
    done, running = (line.split("\t") for line in result.lines)
    assert done[:3] == [first, "completed", "100"] and done[3].startswith(f"{api.url}/results/")
    assert running[:2] == [second, "processing"] and 0 < int(running[2]) < 100
    assert running[3] == ""


def test_status_json_prints_each_task_as_the_api_returned_it(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    result = cli("status", task_id, "--json")
    (task,) = result.json
    assert task == api.service.render(api.service.tasks[task_id], api.service.clock())


def test_status_reports_every_task_even_when_one_is_missing(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    result = cli("status", MISSING, task_id)
    assert result.code == 6
    assert result.lines[0] == f"{MISSING}\terror\t\t"
    assert result.lines[1].startswith(f"{task_id}\tpending\t0\t")
    assert f"error: {MISSING}: The requested task could not be found" in result.err


def test_status_json_error_rows(cli: CliRunner, api: Emulator) -> None:
    result = cli("--json", "status", MISSING)
    assert result.code == 6
    assert result.json[0] == {
        "id": MISSING,
        "error": {
            "code": "task_not_found",
            "message": f"{MISSING}: The requested task could not be found",
            "hint": None,
        },
    }


@pytest.mark.parametrize("bad", ["../etc", "a b", "x/y"])
def test_status_refuses_bad_ids_before_sending(cli: CliRunner, api: Emulator, bad: str) -> None:
    result = cli("status", bad)
    assert result.code == 2 and "TASK_ID" in result.err
    assert api.requests() == []


def test_status_needs_at_least_one_id(cli: CliRunner, api: Emulator) -> None:
    result = cli("status")
    assert result.code == 2 and result.err.startswith("error: Missing argument")


# -- wait ------------------------------------------------------------------------------------------


def test_wait_prints_each_result_url_in_order(cli: CliRunner, api: Emulator) -> None:
    ids = [create(cli), create(cli)]
    result = cli("wait", *ids)
    assert result.code == 0, result.err
    assert [line.split("/results/")[1].split(".mp4")[0] for line in result.lines] == ids


def test_wait_progress_is_one_plain_line_per_change_when_not_a_terminal(
    cli: CliRunner, api: Emulator
) -> None:
    api.service.estimated_time = 0  # polled every 5 s while it runs
    task_id = create(cli)
    result = cli("wait", task_id)
    lines = result.err.splitlines()
    assert lines[0] == f"{task_id} pending 0% elapsed 0:00"
    assert lines[-1] == f"{task_id} completed 100% elapsed 1:00"
    # one line per poll that saw a change, never one line twice
    assert len(lines) == len(set(lines)) >= 10
    assert "\x1b" not in result.err


def test_wait_quiet_is_silent_on_stderr(cli: CliRunner, api: Emulator) -> None:
    result = cli("wait", create(cli), "-q")
    assert result.code == 0 and result.err == "" and len(result.lines) == 1


def test_wait_failed_task_exits_8_and_shows_code_and_message(cli: CliRunner, api: Emulator) -> None:
    ok = create(cli)
    api.add_fault("task:fail:1:code=generation_timeout,message=The model took too long")
    bad = create(cli)
    result = cli("wait", ok, bad)
    assert result.code == 8
    assert len(result.lines) == 1 and ok in result.lines[0]
    assert f"error: task {bad} failed (generation_timeout: The model took too long)" in result.err
    assert "hint: a service-side failure: the same request may succeed later" in result.err


def test_wait_failed_without_error_object(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:fail:1:code=none")
    result = cli("wait", create(cli))
    assert result.code == 8
    assert "failed (no reason given)" in result.err and "the API gave no reason" in result.err


def test_wait_cancelled_exits_8(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:cancel")
    result = cli("wait", create(cli))
    assert result.code == 8 and "cancelled" in result.err


def test_wait_deadline_names_every_unfinished_task_and_the_resume_command(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    api.add_fault("task:hang:2")
    a, b = create(cli), create(cli)
    done = create(cli)
    result = cli("wait", a, done, b, "--timeout", "90", "--base-url", api.url)
    assert result.code == 9
    assert len(result.lines) == 1 and done in result.lines[0]
    assert f"error: still running after 90s: {a}, {b}" in result.err
    assert f"hint: resume with: seedance --base-url {api.url} wait {a} {b}" in result.err


def test_wait_json_includes_running_tasks_at_the_deadline(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:hang")
    result = cli("wait", create(cli), "--timeout", "10", "--json")
    assert result.code == 9
    (task,) = result.json[:1]
    assert task["status"] == "processing"
    assert result.json[1]["error"]["code"] == "wait_timeout"


def test_wait_bears_transient_failures(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    api.add_fault("query:503:8")
    result = cli("wait", task_id)
    assert result.code == 0, result.err


def test_wait_missing_task_is_its_own_exit_code(cli: CliRunner, api: Emulator) -> None:
    result = cli("wait", MISSING)
    assert result.code == 6 and f"error: {MISSING}: The requested task" in result.err


def test_most_serious_outcome_decides_the_exit_code(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("task:fail")
    failed = create(cli)
    result = cli("wait", failed, MISSING)
    assert result.code == 6  # not found beats a failed task
    api.add_fault("task:hang")
    hung = create(cli)
    api.add_fault("task:fail")
    failed = create(cli)
    result = cli("wait", hung, failed, "--timeout", "60")
    assert result.code == 8  # a failure beats a deadline


def test_global_options_work_before_and_after_the_command(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    before = cli("--json", "-q", "status", task_id)
    after = cli("status", task_id, "--json", "-q")
    assert before.code == after.code == 0
    assert before.out == after.out and before.json[0]["id"] == task_id


def test_server_text_is_shown_without_control_characters(cli: CliRunner, api: Emulator) -> None:
    from seedance_cli.emulator import Fault

    api.add_fault(
        Fault(
            "task",
            "fail",
            params={
                "code": "service_error",
                "message": "\x1b[31mred\x1b[0m [bold]boom[/bold]\x07\u202eevil",
            },
        )
    )
    result = cli("wait", create(cli))
    assert result.code == 8
    assert "\x1b" not in result.err and "\x07" not in result.err and "\u202e" not in result.err
    assert "[31mred[0m [bold]boom[/bold]evil" in result.err  # markup shown as text, not read


# -- several tasks: each error shown once ----------------------------------------------------------


def test_status_json_prints_each_error_object_once_in_its_place(
    cli: CliRunner, api: Emulator
) -> None:
    task_id = create(cli)
    result = cli("status", MISSING, task_id, "--json")
    assert result.code == 6
    missing, task = result.json
    assert missing["id"] == MISSING and missing["error"]["code"] == "task_not_found"
    assert task["id"] == task_id
    assert result.err == f"error: {MISSING}: The requested task could not be found\n"


def test_status_plain_prints_each_error_once(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    result = cli("status", task_id, MISSING, "--no-color")
    assert result.code == 6
    assert [line.split("\t")[:2] for line in result.lines] == [
        [task_id, "pending"],
        [MISSING, "error"],
    ]
    assert result.err.count("error:") == 1


@pytest.mark.parametrize("command", ["wait", "download"])
def test_wait_and_download_json_print_each_error_object_once(
    cli: CliRunner, api: Emulator, clock: FakeClock, command: str, tmp_path: Path
) -> None:
    api.add_fault("task:fail:1:code=content_policy_violation")
    failed = create(cli)
    good = create(cli)
    clock.advance(60)
    result = cli(command, MISSING, failed, good, "--json", "-o", str(tmp_path) + "/")
    assert result.code == 6
    objects = result.json
    errors = [o["error"]["message"] for o in objects if "error" in o and "id" not in o]
    assert len(errors) == 2
    assert errors[0] == f"{MISSING}: The requested task could not be found"
    assert errors[1].startswith(f"task {failed} failed (content_policy_violation: ")
    assert [o["id"] for o in objects if "id" in o and o.get("status") == "completed"] == [good]
    assert result.err.count("error: ") == 2


@pytest.mark.parametrize("command", ["wait", "download"])
def test_wait_and_download_plain_print_each_error_once(
    cli: CliRunner, api: Emulator, clock: FakeClock, command: str, tmp_path: Path
) -> None:
    api.add_fault("task:fail:1:code=content_policy_violation")
    failed = create(cli)
    good = create(cli)
    clock.advance(60)
    result = cli(command, MISSING, failed, good, "-q", "-o", str(tmp_path) + "/")
    assert result.code == 6
    assert result.lines == [str(tmp_path / f"{good}.mp4")]
    assert [line.split(":")[0] for line in result.err.splitlines() if line.startswith("error")] == [
        "error",
        "error",
    ]
    assert result.err.count(MISSING) == 1 and result.err.count(f"task {failed} failed") == 1


def test_wait_whose_polls_fail_for_the_outage_limit_says_how_to_resume(
    cli: CliRunner, api: Emulator
) -> None:
    """No --timeout, every poll 503 for ten minutes: exit 7 with the command that waits again
    (the task may well finish), not a bare "Service temporarily unavailable"."""
    task_id = create(cli)
    api.add_fault("query:503:*")
    result = cli("wait", task_id, "-o", "out/")
    assert result.code == 7 and result.out == ""
    assert f"error: {task_id}: Service temporarily unavailable" in result.err
    assert f"hint: resume with: seedance wait {task_id} -o out/" in result.err


def test_wait_whose_polls_all_fail_until_the_deadline_is_exit_7_not_still_running(
    cli: CliRunner, api: Emulator
) -> None:
    task_id = create(cli)
    api.add_fault("query:503:*")
    result = cli("wait", task_id, "--timeout", "30")
    assert result.code == 7 and result.out == ""
    assert f"error: task {task_id}: no answer from the API for the last" in result.err
    assert "its state is unknown" in result.err and "still running" not in result.err
    assert f"hint: resume with: seedance wait {task_id}" in result.err
