"""Saving results from the CLI (``-o``, ``download``, ``--missing``) and ``history``."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator, FakeClock, sample_video

from .clirunner import CliRunner

VIDEO = sample_video()
SHA = hashlib.sha256(VIDEO).hexdigest()


def history_db() -> sqlite3.Connection:
    return sqlite3.connect(Path(os.environ["SEEDANCE_DATA_DIR"]) / "history.sqlite3")


def create(cli: CliRunner) -> str:
    result = cli("generate", "A cat playing piano")
    assert result.code == 0, result.err
    return result.out.strip()


def test_generate_output_file_waits_downloads_and_prints_the_path(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    result = cli("generate", "A cat playing piano", "-o", "clips/cat.mp4")
    assert result.code == 0, result.err
    assert result.out == "clips/cat.mp4\n"
    assert (here / "clips" / "cat.mp4").read_bytes() == VIDEO
    assert "saved clips/cat.mp4 (54.7 kB, sha256 " in result.err
    (row,) = history_db().execute("SELECT path, sha256, bytes FROM files").fetchall()
    assert row == (str(here / "clips" / "cat.mp4"), SHA, len(VIDEO))


def test_generate_output_folder_names_the_file_after_the_task(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    result = cli("generate", "x", "-o", "out/", "--json")
    assert result.code == 0
    (task,) = result.json
    assert task["files"] == [f"out/{task['id']}.mp4"]
    assert (here / "out" / f"{task['id']}.mp4").read_bytes() == VIDEO


def test_existing_output_is_refused_before_anything_is_paid_for(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "cat.mp4").write_bytes(b"my precious video")
    result = cli("generate", "x", "-o", "cat.mp4")
    assert result.code == 2
    assert "cat.mp4 exists; not overwritten" in result.err and "--force" in result.err
    assert api.requests() == []
    assert (here / "cat.mp4").read_bytes() == b"my precious video"
    forced = cli("generate", "x", "-o", "cat.mp4", "--force")
    assert forced.code == 0 and (here / "cat.mp4").read_bytes() == VIDEO


def test_wait_output_folder_saves_every_task(cli: CliRunner, api: Emulator, here: Path) -> None:
    ids = [create(cli), create(cli)]
    result = cli("wait", *ids, "-o", "videos")
    assert result.code == 0, result.err
    assert result.lines == [f"videos/{task_id}.mp4" for task_id in ids]
    assert sorted(p.name for p in (here / "videos").iterdir()) == sorted(f"{i}.mp4" for i in ids)


def test_profile_output_dir_is_the_default(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock
) -> None:
    cli("config", "set", "output-dir", str(here / "library"))
    task_id = create(cli)
    clock.advance(60)
    result = cli("download", task_id)
    assert result.code == 0
    assert result.out == f"{here / 'library' / task_id}.mp4\n"


def test_download_of_a_running_task_exits_9_with_the_command_that_waits(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    task_id = create(cli)
    result = cli("download", task_id, "-o", "v/")
    assert result.code == 9
    assert f"task {task_id} is pending (0%); nothing to download yet" in result.err
    assert f"seedance wait {task_id} -o v/" in result.err


def test_download_of_a_failed_task_exits_8(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    api.add_fault("task:fail:1:code=content_policy_violation")
    task_id = create(cli)
    clock.advance(60)
    result = cli("download", task_id)
    assert result.code == 8 and "content_policy_violation" in result.err


def test_download_resumes_a_cut_transfer(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    task_id = create(cli)
    clock.advance(60)
    api.add_fault("download:truncate")
    result = cli("download", task_id, "-o", "cat.mp4")
    assert result.code == 0, result.err
    assert (here / "cat.mp4").read_bytes() == VIDEO
    assert api.requests("download")[1].headers["range"] == f"bytes={len(VIDEO) // 2}-"


def test_expired_result_exits_7_and_says_results_live_24_hours(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    task_id = create(cli)
    clock.advance(60 + 24 * 3600)
    result = cli("download", task_id)
    assert result.code == 7
    assert "the result host answered HTTP 403" in result.err
    assert "expire 24 hours after the task completes" in result.err
    assert list(here.iterdir()) == []


def test_download_error_page_exits_7_and_saves_nothing(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    task_id = create(cli)
    clock.advance(60)
    api.add_fault("download:html")
    result = cli("download", task_id)
    assert result.code == 7 and "text/html instead of a video" in result.err
    assert list(here.iterdir()) == []


def test_download_missing_fetches_what_was_never_saved(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    saved = cli("generate", "saved", "-o", "saved.mp4")
    assert saved.code == 0
    old = create(cli)
    clock.advance(60)
    cli("status", old)  # seen completed now...
    clock.advance(24 * 3600)  # ...and expired since
    fresh = [create(cli), create(cli)]
    api.add_fault("task:fail")
    failed = create(cli)
    clock.advance(60)
    cli("status", *fresh, failed)  # seen completed (and failed) now
    result = cli("download", "--missing", "-o", "missing")
    assert result.code == 0, result.err
    assert sorted(result.lines) == sorted(f"missing/{t}.mp4" for t in fresh)
    again = cli("download", "--missing", "-o", "missing")
    assert again.code == 0 and again.out == "" and "nothing to download" in again.err


def test_history_lists_newest_first_with_the_result_state(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    assert cli("generate", "A red fox in the snow", "-o", "fox.mp4").code == 0
    clock.advance(10)
    waiting = create(cli)
    clock.advance(60)
    cli("status", waiting)
    clock.advance(10)
    api.add_fault("create:drop")
    assert cli("generate", "lost answer", "--idempotency-key", "k-lost").code == 10
    result = cli("history")
    assert result.code == 0
    lost, ready, fox = (line.split("\t") for line in result.lines)
    assert lost[0] == "-" and lost[2] == "outcome_unknown" and lost[3] == "lost answer"
    assert lost[4] == "outcome unknown (idempotency key k-lost)"
    assert ready[0] == waiting and ready[2] == "completed"
    assert ready[4].startswith("downloadable until ")
    assert fox[2] == "completed" and fox[3] == "A red fox in the snow"
    assert fox[4] == f"saved at {here / 'fox.mp4'}"


def test_history_filters_and_json(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    api.add_fault("task:fail:1:code=service_error")
    bad = create(cli)
    good = create(cli)
    clock.advance(60)
    cli("status", bad, good)
    assert [line.split("\t")[0] for line in cli("history", "--status", "failed").lines] == [bad]
    assert cli("history", "--search", "piano", "--limit", "1").lines[0].startswith(good)
    (entry,) = cli("history", "--json", "--status", "failed").json
    assert entry["id"] == bad and entry["error"]["code"] == "service_error"
    assert set(entry) == {
        "id",
        "idempotency_key",
        "state",
        "status",
        "progress",
        "created_at",
        "profile",
        "prompt",
        "params",
        "results",
        "error",
        "note",
        "expires_at",
        "result_state",
        "files",
        "cost",
    }
    cost = entry["cost"]  # the failed task's reservation came back; it was never charged
    assert cost["estimate"]["text"] == "17.78 credits ($0.26)"
    assert cost["reserved"] == 17.784 and cost["released"] == 17.784 and cost["charged"] == 0
    assert cost["replayed"] is False


def test_status_of_a_foreign_task_enters_the_history(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    result = cli("generate", "x", "--json")
    task_id = result.json[0]["id"]
    history_db().execute("DELETE FROM tasks").connection.commit()
    cli("status", task_id)
    assert cli("history").lines[0].startswith(task_id)


def test_a_create_the_history_cannot_record_is_not_sent(
    cli: CliRunner, api: Emulator, here: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = cli("generate", "x", "-o", "x.mp4", env={"SEEDANCE_DATA_DIR": str(blocker / "d")})
    assert result.code == 3
    assert result.out == ""
    estimate, error = result.err.splitlines()[:2]  # what it would have cost, then why not
    assert estimate == "estimate: 17.78 credits ($0.26)"
    assert error.startswith("error: the task history (")
    assert "cannot record the create" in result.err and "it was not sent" in result.err
    assert api.requests("create") == [] and not (here / "x.mp4").exists()


def test_saved_paths_are_printed_exactly(cli: CliRunner, api: Emulator, here: Path) -> None:
    result = cli("generate", "x", "-o", "my  videos/a  cat.mp4")
    assert result.code == 0, result.err
    assert result.out == "my  videos/a  cat.mp4\n"
    assert (here / "my  videos" / "a  cat.mp4").exists()


def test_history_says_the_sandbox_keeps_none(cli: CliRunner) -> None:
    result = cli("--sandbox", "history")
    assert result.code == 2 and "--sandbox keeps no history" in result.err


def test_a_timed_out_generate_to_a_file_resumes_to_the_same_file(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    result = cli("generate", "x", "-o", "cat.mp4", "--timeout", "10")
    assert result.code == 9
    (task_id,) = api.service.tasks
    command = f"seedance wait {task_id} -o cat.mp4"
    assert f"hint: resume with: {command}" in result.err
    clock.advance(60)
    resumed = cli(*command.split()[1:])
    assert resumed.code == 0, resumed.err
    assert resumed.out == "cat.mp4\n" and (here / "cat.mp4").read_bytes() == VIDEO


def test_a_timed_out_wait_to_a_folder_resumes_to_the_same_folder(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    task_id = create(cli)
    result = cli("wait", task_id, "-o", "new/", "--timeout", "10")
    assert result.code == 9
    assert f"hint: resume with: seedance wait {task_id} -o new/" in result.err


# -- history: options checked, stored data read tolerantly -----------------------------------------


def strict_json(text: str) -> list[object]:
    """Each line as JSON that any parser reads: no NaN or Infinity."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


@pytest.mark.parametrize("value", ["bogus", "done", "", "created"])
def test_history_refuses_an_unknown_status(cli: CliRunner, api: Emulator, value: str) -> None:
    create(cli)
    result = cli("history", "--status", value)
    assert result.code == 2 and result.out == ""
    assert result.err == (
        f"error: --status: unknown status {value!r}; one of pending, processing, completed, "
        "failed, cancelled, creating, outcome_unknown\n"
    )


def test_history_status_ignores_case(cli: CliRunner, api: Emulator) -> None:
    task_id = create(cli)
    result = cli("history", "--status", "PENDING")
    assert result.code == 0 and result.lines[0].startswith(task_id)


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5"])
def test_history_refuses_a_bad_limit(cli: CliRunner, api: Emulator, value: str) -> None:
    result = cli("history", "--limit", value)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: Invalid value for '--limit'")


def test_history_takes_an_absurd_limit_as_all(cli: CliRunner, api: Emulator) -> None:
    ids = [create(cli), create(cli)]
    result = cli("history", "--limit", str(10**30))
    assert result.code == 0 and result.err == ""
    assert sorted(line.split("\t")[0] for line in result.lines) == sorted(ids)


ODD_TIMES = ["1e999", "-1e999", "'x'", "'nan'", "1761313744000", "-5", "X'00ff'", "99e99"]


@pytest.mark.parametrize("value", ODD_TIMES)
def test_history_shows_what_it_can_of_odd_stored_times(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path, value: str
) -> None:
    task_id = create(cli)
    clock.advance(60)
    cli("status", task_id)  # completed: completed_at and expires_at are set
    db = history_db()
    db.execute(
        f"UPDATE tasks SET created_at = {value}, updated_at = {value}, "
        f"completed_at = {value}, expires_at = {value}"
    )
    db.commit()
    db.close()
    result = cli("history")
    assert result.code == 0 and result.err == ""
    (row,) = (line.split("\t") for line in result.lines)
    assert row[0] == task_id and row[2] == "completed"
    if value == "1761313744000":  # milliseconds: read as seconds
        assert row[1] == local_time(1761313744)
    else:
        assert row[1] == "-"
    (entry,) = strict_json(cli("history", "--json").out)
    assert isinstance(entry, dict) and entry["id"] == task_id
    # Every command that reads the stored row still works on it.
    assert cli("status", task_id).code == 0
    assert cli("wait", task_id).code == 0
    saved = cli("download", task_id, "-o", "odd.mp4")
    assert saved.code == 0, saved.err
    assert cli("history").code == 0


def test_history_reads_odd_values_in_every_column(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    task_id = create(cli)
    clock.advance(60)
    assert cli("download", task_id, "-o", "a.mp4").code == 0
    db = history_db()
    db.execute(
        "UPDATE tasks SET prompt = X'41ff42', params = '[1]', results = '{\"a\": 1}', "
        "progress = 'lots', status = 7, local_images = '\"x\"', error_code = 3, note = X'00'"
    )
    db.execute("UPDATE files SET bytes = 'many', saved_at = 'yesterday', result_index = 1.5")
    db.commit()
    db.close()
    result = cli("history")
    assert result.code == 0, result.err
    (row,) = (line.split("\t") for line in result.lines)
    assert row[0] == task_id and row[3] == "A\ufffdB" and row[4] == f"saved at {here / 'a.mp4'}"
    (entry,) = strict_json(cli("history", "--json").out)
    assert isinstance(entry, dict)
    assert entry["params"] == {} and entry["results"] == [] and entry["progress"] is None
    assert entry["status"] == "7"


def local_time(epoch: float) -> str:
    from seedance_cli.render import local_time

    return local_time(epoch)


@pytest.mark.parametrize(
    "value", [None, float("inf"), float("-inf"), float("nan"), 1e300, -1e300, "1", True]
)
def test_local_time_never_fails(value: object) -> None:
    assert local_time(value) == "-"  # type: ignore[arg-type]


# -- download --missing: results last seen unfinished are checked again ---------------------------


def test_download_missing_rechecks_tasks_last_seen_unfinished(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    api.add_fault("task:fail")
    failed = create(cli)
    done = create(cli)  # the history saw it pending, and never since
    seen = create(cli)
    clock.advance(30)
    assert cli("status", seen).lines[0].split("\t")[1] == "processing"  # ... this one processing
    clock.advance(45)
    running = create(cli)
    result = cli("download", "--missing", "-o", "out")
    assert result.code == 0, result.err
    assert sorted(result.lines) == sorted(f"out/{t}.mp4" for t in (done, seen))
    assert f"{running} is still pending (0%)" in result.err
    assert f"{failed} failed (" in result.err and "nothing to download" in result.err
    assert not (here / "out" / f"{failed}.mp4").exists()
    queried = [r.path.rsplit("/", 1)[-1] for r in api.requests("query")]
    assert sorted(set(queried)) == sorted({failed, done, seen, running})
    # Saved or failed: not asked about again; the running one is, and saved once it completes.
    clock.advance(60)
    again = cli("download", "--missing", "-o", "out")
    assert again.code == 0, again.err
    assert again.lines == [f"out/{running}.mp4"]
    assert cli("download", "--missing", "-o", "out").out == ""


def test_download_missing_leaves_old_unfinished_tasks_alone(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    """Two days after its creation a task's result has expired anyway (and its record may 404)."""
    create(cli)
    clock.advance(2 * 24 * 3600)
    result = cli("download", "--missing", "-o", "out")
    assert result.code == 0 and result.out == "" and "nothing to download" in result.err
    assert api.requests("query") == []


def test_download_missing_only_rechecks_tasks_of_this_api(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path
) -> None:
    create(cli)
    db = history_db()
    db.execute("UPDATE tasks SET base_url = 'http://127.0.0.1:1'")
    db.commit()
    db.close()
    clock.advance(60)
    result = cli("download", "--missing", "-o", "out")
    assert result.code == 0 and result.out == "" and "nothing to download" in result.err
    assert api.requests("query") == []


def test_download_missing_says_when_the_history_cannot_be_read(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = cli("download", "--missing", env={"SEEDANCE_DATA_DIR": str(blocker / "d")})
    assert result.code == 3 and result.out == ""
    assert "error: cannot read the task history" in result.err


def test_history_shows_an_unknown_status_as_a_dash(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    task_id = create(cli)
    db = history_db()
    db.execute("UPDATE tasks SET status = NULL")
    db.commit()
    db.close()
    result = cli("history")
    assert result.code == 0
    row = result.lines[0].split("\t")
    assert row[0] == task_id and row[2] == "-"


@pytest.mark.parametrize(
    ("stored", "current", "same"),
    [
        (None, "https://api.evolink.ai", True),
        ("https://api.evolink.ai", "https://api.evolink.ai", True),
        ("HTTPS://API.EvoLink.ai/", "https://api.evolink.ai", True),
        ("https://api.evolink.ai:443", "https://api.evolink.ai", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081", False),
        ("https://api.evolink.ai/v2", "https://api.evolink.ai", False),
        ("https://other.example", "https://api.evolink.ai", False),
        ("http://[::1:99999", "https://api.evolink.ai", False),
    ],
)
def test_rows_belong_to_an_api_by_origin(stored: str | None, current: str, same: bool) -> None:
    from seedance_cli.models import same_api

    assert same_api(stored, current) is same
