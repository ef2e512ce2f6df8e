"""``Output.show``, the one place that decides how a result looks: the same result object, with
``--json``, on a terminal and piped, gives the three outputs the commands have always printed."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.errors import NotFoundError, TaskFailed
from seedance_cli.images import ImageInfo
from seedance_cli.models import Credits, Task, UploadedFile
from seedance_cli.render import Output
from seedance_cli.views import (
    Balance,
    BatchDryRun,
    BatchLine,
    ConfigPath,
    ConfigSettings,
    ConfigValue,
    CreatedTask,
    DryRun,
    FinishedTask,
    HistoryRows,
    PlannedLine,
    SavedFiles,
    Shown,
    StatusRows,
    UnfinishedTask,
    UploadedImage,
)

TASK_ID = "task-unified-1767225600-abcd1234"
URL = f"https://cdn.example/results/{TASK_ID}.mp4?sig=1"
DONE = Task.from_api(
    {
        "id": TASK_ID,
        "status": "completed",
        "progress": 100,
        "created": 1767225600,
        "results": [URL],
    }
)
FAILED = Task.from_api(
    {
        "id": TASK_ID,
        "status": "failed",
        "progress": 50,
        "error": {"code": "content_policy_violation", "message": "blocked"},
    }
)
CREDITS = Credits.from_api(
    {
        "success": True,
        "data": {
            "token": {"remaining_credits": 975.0, "used_credits": 20.0, "unlimited_credits": False},
            "user": {"remaining_credits": 1975.5, "used_credits": 20.0},
        },
    }
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def show(result: Shown, mode: str) -> tuple[str, str]:
    """stdout and stderr of showing ``result``: ``json`` (piped), ``plain`` (piped) or ``terminal``
    (a colour terminal), or ``json-terminal``."""
    terminal = mode in ("terminal", "json-terminal")
    out, err = Terminal() if terminal else io.StringIO(), io.StringIO()
    environ = {"TERM": "xterm-256color", "COLUMNS": "160"} if terminal else {"TERM": "dumb"}
    output = Output(json_mode=mode.startswith("json"), stdout=out, stderr=err, environ=environ)
    output.show(result)
    return out.getvalue(), err.getvalue()


def visible(text: str) -> str:
    """``text`` as a person reads it: escape codes gone, trailing padding dropped."""
    return "\n".join(line.rstrip() for line in ANSI.sub("", text).splitlines())


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")) + "\n"


def assert_highlighted_json(out: str, data: Any) -> None:
    assert "\x1b[" in out, "a terminal gets colour"
    assert json.loads(ANSI.sub("", out)) == data
    assert ANSI.sub("", out).startswith('{\n  "'), "indented for people"


# -- tasks -----------------------------------------------------------------------------------------


def test_a_created_task_is_its_id_piped_and_the_task_in_json_and_on_a_terminal() -> None:
    created = CreatedTask(TASK_ID, DONE)
    assert show(created, "plain") == (f"{TASK_ID}\n", "")
    assert show(created, "json") == (compact(dict(DONE.raw)), "")
    out, err = show(created, "terminal")
    assert_highlighted_json(out, dict(DONE.raw))
    assert err == ""


def test_a_created_task_known_by_its_id_alone_is_fetched_only_when_more_is_shown() -> None:
    fetched: list[str] = []

    def fetch() -> Task:
        fetched.append(TASK_ID)
        return DONE

    assert show(CreatedTask(TASK_ID, fetch=fetch), "plain") == (f"{TASK_ID}\n", "")
    assert fetched == []
    assert show(CreatedTask(TASK_ID, fetch=fetch), "json") == (compact(dict(DONE.raw)), "")
    assert fetched == [TASK_ID]
    assert_highlighted_json(show(CreatedTask(TASK_ID, fetch=fetch), "terminal")[0], dict(DONE.raw))
    assert fetched == [TASK_ID, TASK_ID]


def test_a_finished_task_is_its_url_piped_and_the_task_in_json_and_on_a_terminal() -> None:
    finished = FinishedTask(DONE)
    assert show(finished, "plain") == (f"{URL}\n", "")
    assert show(finished, "json") == (compact(dict(DONE.raw)), "")
    assert_highlighted_json(show(finished, "terminal")[0], dict(DONE.raw))


def test_a_finished_task_without_a_usable_result_prints_no_empty_line() -> None:
    unusable = FinishedTask(DONE, usable=False)
    assert show(unusable, "plain") == ("", "")
    assert show(unusable, "json") == (compact(dict(DONE.raw)), "")
    assert_highlighted_json(show(unusable, "terminal")[0], dict(DONE.raw))


def test_an_unfinished_task_is_shown_in_json_only() -> None:
    assert show(UnfinishedTask(FAILED), "json") == (compact(dict(FAILED.raw)), "")
    assert show(UnfinishedTask(FAILED), "plain") == ("", "")
    assert show(UnfinishedTask(FAILED), "terminal") == ("", "")


def test_saved_files_are_their_paths_in_text_and_the_task_with_files_in_json() -> None:
    saved = SavedFiles(DONE, ("/videos/a b.mp4", "/videos/c.mp4"))
    assert show(saved, "plain") == ("/videos/a b.mp4\n/videos/c.mp4\n", "")
    assert show(saved, "terminal") == ("/videos/a b.mp4\n/videos/c.mp4\n", "")
    assert show(saved, "json") == (
        compact({**DONE.raw, "files": ["/videos/a b.mp4", "/videos/c.mp4"]}),
        "",
    )


def test_json_on_a_terminal_is_indented_and_highlighted() -> None:
    out, _ = show(SavedFiles(DONE, ("/videos/a.mp4",)), "json-terminal")
    assert_highlighted_json(out, {**DONE.raw, "files": ["/videos/a.mp4"]})


def test_status_rows_are_fields_piped_a_table_on_a_terminal_and_objects_in_json() -> None:
    missing = "task-unified-1767225600-zzzzzzzz"
    error = NotFoundError("The requested task could not be found", status=404).about(missing)
    rows = StatusRows(((TASK_ID, DONE), (missing, error), (TASK_ID, FAILED)))
    assert show(rows, "plain") == (
        f"{TASK_ID}\tcompleted\t100\t{URL}\n{missing}\terror\t\t\n{TASK_ID}\tfailed\t50\t\n",
        "",
    )
    out, _ = show(rows, "json")
    assert [json.loads(line) for line in out.splitlines()] == [
        dict(DONE.raw),
        {"id": missing, "error": {"code": "not_found", "message": error.message, "hint": None}},
        dict(FAILED.raw),
    ]
    out, _ = show(rows, "terminal")
    assert visible(out).splitlines() == [
        "ID                                STATUS     PROGRESS  RESULT",
        f"{TASK_ID}  completed  100%      {URL}",
        f"{missing}  error                The requested task could not be found",
        f"{TASK_ID}  failed     50%       content_policy_violation: blocked",
    ]
    assert "\x1b[32mcompleted" in out and "\x1b[31merror" in out and "\x1b[31mfailed" in out


# -- dry runs --------------------------------------------------------------------------------------


def test_a_dry_run_is_the_requests_in_text_with_a_note_and_one_object_in_json() -> None:
    image = ImageInfo(Path("/img/a.png"), "PNG", 640, 480, 2424)
    dry = DryRun(
        url="https://api.example/v1/videos/generations",
        upload_url="https://files.example/api/v1/files/upload/stream",
        uploads=(image,),
        idempotency_key=None,
        body={"model": "m", "image_urls": ["<file_url of the upload of /img/a.png>"]},
    )
    text = (
        "POST https://files.example/api/v1/files/upload/stream file=/img/a.png (PNG, 640x480 px, "
        "2.4 kB)\n"
        "POST https://api.example/v1/videos/generations\n"
        '{\n  "model": "m",\n  "image_urls": [\n    "<file_url of the upload of /img/a.png>"\n  ]\n}\n'
    )
    assert show(dry, "plain") == (text, "dry run: nothing was sent\n")
    assert show(dry, "terminal") == (text, "dry run: nothing was sent\n")
    assert show(dry, "json") == (
        compact(
            {
                "uploads": [
                    {
                        "method": "POST",
                        "url": "https://files.example/api/v1/files/upload/stream",
                        "path": "/img/a.png",
                        "format": "PNG",
                        "width": 640,
                        "height": 480,
                        "bytes": 2424,
                    }
                ],
                "method": "POST",
                "url": "https://api.example/v1/videos/generations",
                "idempotency_key": None,
                "body": dry.body,
            }
        ),
        "",
    )


def test_a_batch_dry_run_is_one_line_per_manifest_line() -> None:
    dry = BatchDryRun(
        (PlannedLine(1, "a", {"prompt": "one"}), PlannedLine(3, None, {"prompt": "two"}))
    )
    text = '1\ta\t{"prompt":"one"}\n3\t\t{"prompt":"two"}\n'
    assert show(dry, "plain") == (text, "")
    assert show(dry, "terminal") == (text, "")
    assert show(dry, "json") == (
        compact({"line": 1, "name": "a", "body": {"prompt": "one"}})
        + compact({"line": 3, "name": None, "body": {"prompt": "two"}}),
        "",
    )


# -- batch lines -----------------------------------------------------------------------------------


def test_a_batch_line_is_tab_separated_in_text_and_an_object_in_json() -> None:
    done = BatchLine(2, "intro", TASK_ID, "completed", ("/out/intro.mp4", "/out/intro-2.mp4"))
    assert show(done, "plain") == (f"2\t{TASK_ID}\tcompleted\t/out/intro.mp4\n", "")
    assert show(done, "terminal") == (f"2\t{TASK_ID}\tcompleted\t/out/intro.mp4\n", "")
    assert show(done, "json") == (
        compact(
            {
                "line": 2,
                "name": "intro",
                "task_id": TASK_ID,
                "status": "completed",
                "files": ["/out/intro.mp4", "/out/intro-2.mp4"],
                "error": None,
            }
        ),
        "",
    )


def test_a_failed_batch_line_carries_its_error_in_json_only() -> None:
    error = TaskFailed(FAILED)
    failed = BatchLine(1, None, TASK_ID, "failed", error=error)
    assert show(failed, "plain") == (f"1\t{TASK_ID}\tfailed\t\n", "")
    out, _ = show(failed, "json")
    assert json.loads(out) == {
        "line": 1,
        "name": None,
        "task_id": TASK_ID,
        "status": "failed",
        "files": [],
        "error": {"code": "task_failed", "message": error.message, "hint": None},
    }


def test_a_batch_line_tells_outcomes_in_the_apis_words() -> None:
    from seedance_cli.batch import Line, Outcome
    from seedance_cli.models import GenerationRequest

    line = Line(number=4, name=None, request=GenerationRequest(prompt="A cat"))
    assert BatchLine.of(Outcome(line, "succeeded", TASK_ID, paths=[Path("/o/4.mp4")])) == (
        BatchLine(4, None, TASK_ID, "completed", ("/o/4.mp4",))
    )
    assert BatchLine.of(Outcome(line, "unknown")).status == "outcome_unknown"
    assert BatchLine.of(Outcome(line, "timed_out", TASK_ID)).status == "timed_out"


# -- the balance, uploads, history, config ---------------------------------------------------------


def test_the_balance_is_two_lines_piped_a_table_on_a_terminal_and_the_answer_in_json() -> None:
    balance = Balance(CREDITS)
    assert show(balance, "plain") == ("key\t975\t20\naccount\t1975.5\t20\n", "")
    assert show(balance, "json") == (compact(dict(CREDITS.raw)), "")
    out, _ = show(balance, "terminal")
    assert visible(out).splitlines() == [
        "OF       REMAINING  USED",
        "key      975        20",
        "account  1975.5     20",
    ]
    assert out.startswith("\x1b[1mOF")  # a bold header


def test_a_balance_keeps_every_digit_of_its_credits() -> None:
    """``:g`` would show 99971.5456 as 99971.5; credits come to four decimals."""
    precise = Credits.from_api(
        {
            "data": {
                "token": {
                    "remaining_credits": 99971.5456,
                    "used_credits": 28.4544,
                    "unlimited_credits": False,
                },
                "user": {"remaining_credits": 1e20, "used_credits": 0.1},
            }
        }
    )
    plain = show(Balance(precise), "plain")[0]
    assert plain == "key\t99971.5456\t28.4544\naccount\t1e+20\t0.1\n"


def test_an_unlimited_key_says_so() -> None:
    unlimited = Credits.from_api(
        {
            "data": {
                "token": {"remaining_credits": 0, "used_credits": 3, "unlimited_credits": True},
                "user": {"remaining_credits": 10, "used_credits": 3},
            }
        }
    )
    assert show(Balance(unlimited), "plain")[0] == "key\tunlimited\t3\naccount\t10\t3\n"


def test_an_uploaded_image_is_its_url_in_text_and_the_answer_with_its_path_in_json() -> None:
    answer = {"file_url": "https://files.example/a.png", "file_id": "file_1", "expires_at": None}
    uploaded = UploadedImage(Path("/img/a.png"), UploadedFile.from_api(answer))
    assert show(uploaded, "plain") == ("https://files.example/a.png\n", "")
    assert show(uploaded, "terminal") == ("https://files.example/a.png\n", "")
    assert show(uploaded, "json") == (compact({"path": "/img/a.png", **answer}), "")


def test_an_empty_history_says_where_it_looked_in_text_only() -> None:
    empty = HistoryRows((), 0.0, "/data/history.sqlite3")
    assert show(empty, "plain") == ("", "no tasks in the history (/data/history.sqlite3)\n")
    assert show(empty, "json") == ("", "")
    out, err = show(empty, "terminal")
    assert visible(out) == "ID  CREATED  STATUS  PROMPT  RESULT"
    assert err == "no tasks in the history (/data/history.sqlite3)\n"


def test_config_values_are_lines_in_text_and_objects_in_json(tmp_path: Path) -> None:
    assert show(ConfigValue("duration", "8"), "plain") == ("8\n", "")
    assert show(ConfigValue("duration", "8"), "json") == ('{"duration":"8"}\n', "")
    path = tmp_path / "config.toml"
    assert show(ConfigPath(path), "plain") == (f"{path}\n", "")
    assert show(ConfigPath(path), "json") == (compact({"path": str(path), "exists": False}), "")
    path.write_text("")
    assert show(ConfigPath(path), "json") == (compact({"path": str(path), "exists": True}), "")
    settings = ConfigSettings((("audio", False, "profile 'default'"), ("quality", None, "default")))
    assert show(settings, "plain") == ("audio\tfalse\tprofile 'default'\nquality\t\tdefault\n", "")
    assert show(settings, "json") == (
        compact(
            {
                "audio": {"value": False, "source": "profile 'default'"},
                "quality": {"value": None, "source": "default"},
            }
        ),
        "",
    )
    assert visible(show(settings, "terminal")[0]).splitlines() == [
        "KEY      VALUE  SOURCE",
        "audio    false  profile 'default'",
        "quality         default",
    ]


@pytest.mark.parametrize("mode", ["plain", "terminal"])
def test_text_never_shows_a_control_character_from_the_server(mode: str) -> None:
    hostile = Task.from_api(
        {"id": TASK_ID, "status": "completed\x1b[2J", "progress": 100, "results": [URL]}
    )
    out, _ = show(StatusRows(((TASK_ID, hostile),)), mode)
    assert "\x1b[2J" not in out


def test_the_result_objects_are_light_to_import() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, seedance_cli.views; print(sorted(m for m in ('typer', 'rich', 'httpx', "
            "'sqlite3', 'seedance_cli.render') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
