"""``seedance usage``: what the history says was spent, piped, in JSON and on an 80-column
terminal with its bar chart; ``--since`` and ``--by``; a figure never known shown as unknown,
never 0; a replayed create counted once."""

from __future__ import annotations

import datetime
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.catalogue import catalogue
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.ledger import Ledger
from seedance_cli.models import Task
from seedance_cli.render import Output
from seedance_cli.spending import summarize
from seedance_cli.views import UsageReport

from .clirunner import CliRunner

UTC = datetime.UTC
DAY = 86400.0
#: Noon UTC, so that the local date is the same in any time zone from UTC-11 to UTC+11.
DAY1 = datetime.datetime(2026, 11, 18, 12, tzinfo=UTC).timestamp()
DAY2 = DAY1 + DAY
NOW = DAY2 + 2 * DAY
API = "https://api.evolink.ai"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def day(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).date().isoformat()


def exact(credits: float) -> dict[str, Any]:
    return {"low": credits, "high": credits, "known": True}


def billing(status: str, reserved: float, charged: float = 0, refunded: float = 0) -> Any:
    return {
        "charge_status": status,
        "reserved_credits": reserved,
        "charged_credits": charged,
        "refunded_credits": refunded,
    }


class History:
    """A history written as the session writes it: a claim (with the estimate), the create's
    answer, then what later polls saw; each at a chosen time."""

    def __init__(self, folder: Path) -> None:
        self.now = DAY1
        self.ledger = Ledger(folder, clock=lambda: self.now)
        self.count = 0

    def task(
        self,
        at: float,
        model: str,
        estimate: Mapping[str, Any] | None,
        *answers: Mapping[str, Any],
        replay: bool = False,
        api: str = API,
    ) -> str:
        self.count += 1
        self.now = at
        key = f"key-{self.count}"
        task_id = f"task-unified-{int(at)}-{self.count:08d}"
        body = {"model": model, "prompt": f"prompt {self.count}"}
        claim = self.ledger.claim(key, body, profile=None, base_url=api, estimate=estimate)
        assert claim.mine
        first, *later = [Task.from_api({"id": task_id, **answer}) for answer in answers]
        self.ledger.created(key, dataclasses_replace(first, replayed=replay))
        for task in later:
            self.ledger.observe(task, base_url=api)
        self.ledger.flush()
        return task_id


def dataclasses_replace(task: Task, **changes: Any) -> Task:
    import dataclasses

    return dataclasses.replace(task, **changes)


@pytest.fixture
def history(environ: dict[str, str]) -> History:
    """The history of the CLI runs (their SEEDANCE_DATA_DIR), filled with the tasks below."""
    made = History(Path(environ["SEEDANCE_DATA_DIR"]))
    pro, t2v, auto = "seedance-1.5-pro", "seedance-2.0-text-to-video", "seedance-2.5-text-to-video"
    # day 1: a completed 1.5 pro task (charged), a failed 2.0 task (released)
    made.task(
        DAY1,
        pro,
        exact(17.784),
        {"status": "pending", "usage": {"credits_reserved": 17.784}},
        {"status": "completed", "billing": billing("charged", 17.784, 17.784)},
    )
    made.task(
        DAY1 + 60,
        t2v,
        exact(67.5),
        {"status": "pending", "usage": {"credits_reserved": 67.5}},
        {"status": "failed", "billing": billing("released", 67.5, 0, 67.5)},
    )
    # day 2: an automatic length (a range), a model without a published price (its estimate
    # unknown, its charge never said), and a replayed create (the original task: not counted)
    made.task(
        DAY2,
        auto,
        {"low": 80.36, "high": 602.7, "known": True},
        {"status": "pending", "usage": {"credits_reserved": 80.36}},
        {"status": "completed", "billing": billing("charged", 80.36, 80.36)},
    )
    made.task(
        DAY2 + 60,
        "doubao-seedance-1.0-pro-fast",
        {"low": None, "high": None, "known": False},
        {"status": "pending", "usage": {"credits_reserved": 10}},
        {"status": "completed"},
    )
    made.task(
        DAY2 + 120,
        pro,
        exact(17.784),
        {"status": "pending", "usage": {"credits_reserved": 17.784}},
        replay=True,
    )
    # forty days ago: outside the default period
    made.task(NOW - 40 * DAY, pro, exact(3.4445), {"status": "completed"})
    return made


@pytest.fixture
def usage_cli(environ: dict[str, str]) -> CliRunner:
    """The CLI with its wall clock two days after the last task; no key, no API configured."""
    return CliRunner(environ, FakeClock(NOW))


# -- piped, JSON -----------------------------------------------------------------------------------


def test_piped_one_line_per_day_and_a_total(usage_cli: CliRunner, history: History) -> None:
    result = usage_cli("usage")
    assert result.code == 0, result.err
    assert result.err == ""
    # key, tasks, estimated low, high, unpriced, reserved, charged, released, then in USD;
    # the doubao task's estimate is unknown (counted in unpriced, never as 0) and its charge
    # was never said: day 2's charged is the 2.5 task's alone
    assert result.lines == [
        f"{day(DAY1)}\t2\t85.284\t85.284\t0\t85.284\t17.784\t67.5\t1.25\t1.25\t1.25\t0.26\t0.99",
        f"{day(DAY2)}\t2\t80.36\t602.7\t1\t90.36\t80.36\t0\t1.18\t8.86\t1.33\t1.18\t0.00",
        "total\t4\t165.644\t687.984\t1\t175.644\t98.144\t67.5\t2.44\t10.12\t2.58\t1.44\t0.99",
    ]


def test_by_model_largest_reservation_first(usage_cli: CliRunner, history: History) -> None:
    result = usage_cli("usage", "--by", "model", "--since", "all")
    assert result.code == 0, result.err
    keys = [line.split("\t")[:2] for line in result.lines]
    assert keys == [
        ["seedance-2.5-text-to-video", "1"],
        ["seedance-2.0-text-to-video", "1"],
        ["seedance-1.5-pro", "2"],  # with the task of forty days ago; never the replay
        ["doubao-seedance-1.0-pro-fast", "1"],
        ["total", "5"],
    ]


def test_json_is_one_object_with_the_groups_and_the_total(
    usage_cli: CliRunner, history: History
) -> None:
    (report,) = usage_cli("--json", "usage", "--since", "2w").json
    assert report["by"] == "day" and report["elsewhere"] == 0
    since = datetime.datetime.fromisoformat(report["since"])
    assert since.timestamp() == NOW - 14 * DAY
    assert [group["key"] for group in report["groups"]] == [day(DAY1), day(DAY2)]
    total = report["total"]
    assert total == {
        "key": "total",
        "tasks": 4,
        "unpriced": 1,
        "unestimated": 0,
        "estimated_tasks": 3,
        "reserved_tasks": 4,
        "charged_tasks": 3,  # the doubao task's charge was never said
        "estimated_low": 165.644,
        "estimated_low_usd": 2.44,
        "estimated_high": 687.984,
        "estimated_high_usd": 10.12,
        "reserved": 175.644,
        "reserved_usd": 2.58,
        "charged": 98.144,
        "charged_usd": 1.44,
        "released": 67.5,
        "released_usd": 0.99,
        "spent": 108.144,  # charged, and the doubao task's reservation (its charge unknown)
        "spent_usd": 1.59,
    }


def test_a_figure_nothing_is_known_of_is_null_never_zero(
    usage_cli: CliRunner, environ: dict[str, str]
) -> None:
    made = History(Path(environ["SEEDANCE_DATA_DIR"]))
    made.task(DAY2, "doubao-seedance-1.0-pro-fast", None, {"status": "processing"})
    (report,) = usage_cli("--json", "usage").json
    total = report["total"]
    assert total["tasks"] == 1 and total["unestimated"] == 1
    for figure in ("estimated_low", "estimated_high", "reserved", "charged", "spent"):
        assert total[figure] is None and total[f"{figure}_usd"] is None, figure
    assert total["released"] == 0
    result = usage_cli("usage")
    piped = result.lines[-1].split("\t")
    assert piped == ["total", "1", "-", "-", "1", "-", "-", "0", "-", "-", "-", "-", "0.00"]
    assert result.err == (
        "1 task was last seen unfinished: its charge is known once `seedance wait ID` or "
        "`seedance status ID` sees it end (`seedance history` lists them)\n"
    )
    assert report["unfinished"] == 1


def test_a_task_only_seen_here_is_not_counted_and_said_apart(
    usage_cli: CliRunner, history: History
) -> None:
    """``status`` of an id made on another machine gives it a row; that machine's history
    counts it, so two reports add up without counting it twice."""
    history.now = DAY2
    seen = {"id": "task-unified-1-elsewhere", "status": "completed", "created": int(DAY2)}
    history.ledger.observe(
        Task.from_api({**seen, "usage": {"credits_reserved": 500}}), base_url=API
    )
    history.ledger.flush()
    result = usage_cli("usage")
    assert result.code == 0
    assert result.lines[-1].split("\t")[:2] == ["total", "4"]  # as without it
    assert result.err == (
        "1 task only seen here (status, wait or download of an id made elsewhere) is not "
        "counted: the history that created it counts it\n"
    )
    (report,) = usage_cli("--json", "usage").json
    assert report["elsewhere"] == 1 and report["total"]["reserved"] == 175.644


def test_only_the_api_in_use_counts_an_emulator_rehearsal_is_said_apart(
    usage_cli: CliRunner, history: History
) -> None:
    rehearsal = History(history.ledger.path.parent)
    rehearsal.count = 100
    rehearsal.ledger = Ledger(history.ledger.path.parent, clock=lambda: rehearsal.now)
    for n in range(2):
        rehearsal.task(
            DAY2 + n,
            "seedance-1.5-pro",
            exact(17.784),
            {"status": "pending", "usage": {"credits_reserved": 17.784}},
            api="http://127.0.0.1:8765",
        )
    real = usage_cli("usage")
    assert real.lines[-1].split("\t")[:2] == ["total", "4"]  # as without the rehearsal
    assert real.err == (
        "not counted: 2 tasks made against other APIs (http://127.0.0.1:8765); "
        "seedance --base-url URL usage reports one of them\n"
    )
    (report,) = usage_cli("--json", "usage").json
    assert report["api"] == "https://api.evolink.ai"
    assert report["other_apis"] == {"http://127.0.0.1:8765": 2}
    emulated = usage_cli("--base-url", "http://127.0.0.1:8765", "usage")
    assert emulated.lines[-1].split("\t")[:2] == ["total", "2"]
    assert "not counted: 4 tasks made against other APIs (https://api.evolink.ai)" in emulated.err


def test_an_empty_period_says_so(usage_cli: CliRunner, history: History) -> None:
    result = usage_cli("usage", "--since", "36h")
    assert result.code == 0
    assert result.lines == ["total\t0\t0\t0\t0\t0\t0\t0\t0.00\t0.00\t0.00\t0.00\t0.00"]
    assert result.err.startswith("no tasks in the history since ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is neither a span"),
        (["--since", "0d"], "--since: '0d' is no span"),
        (["--since", "2999-01-01"], "--since: 2999-01-01 is in the future"),
        (["--since", "2026-02-30"], "--since: '2026-02-30' is neither"),
        (["--by", "week"], "--by: 'week' is not one of day, model"),
    ],
)
def test_bad_since_or_by_is_exit_2(
    usage_cli: CliRunner, history: History, args: list[str], message: str
) -> None:
    result = usage_cli("usage", *args)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: {message}")


def test_usage_needs_no_key_and_keeps_no_sandbox_history(usage_cli: CliRunner) -> None:
    assert usage_cli("usage").code == 0  # no key, no API: the history alone
    refused = usage_cli("--sandbox", "usage")
    assert refused.code == 2 and "--sandbox keeps no history" in refused.err


# -- on a terminal ---------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def shown(report: UsageReport, width: int) -> list[str]:
    """The lines a colour terminal ``width`` columns wide shows for ``report``."""
    out = Terminal()
    environ = {"TERM": "xterm-256color", "COLUMNS": str(width)}
    Output(stdout=out, stderr=io.StringIO(), environ=environ).show(report)
    return [ANSI.sub("", line).rstrip() for line in out.getvalue().splitlines()]


def report_of(history: History, by: str) -> UsageReport:
    entries = history.ledger.entries() or []
    since = NOW - 30 * DAY
    return UsageReport(
        summarize(entries, by=by, since=since),
        summarize(entries, by="day", since=since),
        history.ledger.path,
    )


def test_a_terminal_gets_a_table_and_a_bar_chart_within_80_columns(history: History) -> None:
    lines = shown(report_of(history, "day"), 80)
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    text = "\n".join(lines)
    assert lines[0].startswith("Spend since ") and lines[0].endswith(", by day")
    header = lines[1].split()
    assert header == ["DAY", "TASKS", "ESTIMATED", "RESERVED", "CHARGED", "RELEASED"]
    first = lines[2].split()
    assert first == [day(DAY1), "2", "85.28", "85.28", "17.78", "67.50"]
    assert lines[3].split() == ["$1.25", "$1.25", "$0.26", "$0.99"]  # dollars under credits
    assert "80.36 - 602.70" in text and "+1 unknown" in text  # a range, what it leaves out
    # day 2 and the total: the estimate and the charge each leave the doubao task out
    assert text.count("+1 unknown") == 4
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert total.split() == ["TOTAL", "4", "165.64", "-", "687.98", "175.64", "98.14", "67.50"]
    chart = lines.index("Spend per day (charged, or reserved where not charged yet)")
    bars = lines[chart + 1 : chart + 3]
    assert [bar.split()[0] for bar in bars] == [day(DAY1), day(DAY2)]
    assert bars[0].endswith("17.78 ($0.26)") and bars[1].endswith("90.36 ($1.33)")
    # the largest day fills the bar; the other is as long as its share (17.78 / 90.36)
    lengths = [bar.count("█") for bar in bars]
    assert lengths[1] > 40 and lengths[0] == pytest.approx(lengths[1] * 17.784 / 90.36, abs=1)


def test_by_model_keeps_every_model_id_whole_at_80_columns(history: History) -> None:
    lines = shown(report_of(history, "model"), 80)
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    starts = [line.split()[0] for line in lines[2:] if line and not line.startswith(" ")]
    assert starts[:4] == [
        "seedance-2.5-text-to-video",
        "seedance-2.0-text-to-video",
        "seedance-1.5-pro",
        "doubao-seedance-1.0-pro-fast",
    ]
    doubao = next(line for line in lines if line.startswith("doubao"))
    # no published price: its estimate and its charge are unknown, never 0
    assert " ".join(doubao.split()) == "doubao-seedance-1.0-pro-fast 1 unknown 10.00 unknown 0.00"


@pytest.mark.parametrize("width", [80, 120])
def test_the_longest_model_id_and_a_wide_range_still_fit(
    environ: dict[str, str], width: int
) -> None:
    """At 80 columns the columns move closer and the range wraps after its dash; no figure is
    cut or folded."""
    made = History(Path(environ["SEEDANCE_DATA_DIR"]))
    longest = max(catalogue(), key=len)
    made.task(
        DAY2,
        longest,
        {"low": 1234.5678, "high": 98765.4321},
        {"status": "pending", "usage": {"credits_reserved": 12345.6789}},
    )
    lines = shown(report_of(made, "model"), width)
    assert all(len(line) <= width for line in lines), max(map(len, lines))
    first = next(line for line in lines if line.startswith(longest + " "))
    assert first.split()[1:] == (
        ["1", "1234.57", "-", "98765.43", "12345.68", "unknown", "0.00"]
        if width == 120
        else ["1", "1234.57", "-", "12345.68", "unknown", "0.00"]
    )
    words = " ".join(lines).split()
    assert {"98765.43", "$18.16", "$1452.43", "$181.55"} <= set(words)


# -- a replayed create, counted once -------------------------------------------------------------


def test_a_replayed_create_is_not_counted_twice(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    assert cli("generate", "A cat", "--idempotency-key", "ci-run-9").code == 0
    # another machine (a fresh history), the same key: the API answers the original task
    elsewhere = {"SEEDANCE_DATA_DIR": str(tmp_path / "elsewhere")}
    assert cli("generate", "A cat", "--idempotency-key", "ci-run-9", env=elsewhere).code == 0
    assert len(api.service.tasks) == 1
    # what was spent: once, in the history that made it; the replay adds nothing
    (here,) = cli("--json", "usage").json
    (there,) = cli("--json", "usage", env=elsewhere).json
    assert here["total"]["tasks"] == 1 and here["total"]["reserved"] == 17.784
    assert there["total"]["tasks"] == 0 and there["total"]["reserved"] == 0


def test_usage_after_real_tasks_shows_released_credits(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    assert cli("generate", "A cat", "--wait").code == 0
    api.add_fault("task:fail")
    assert cli("generate", "A dog", "--model", "seedance-2.0-text-to-video", "--wait").code == 8
    (report,) = cli("--json", "usage").json
    total = report["total"]
    assert (total["tasks"], total["reserved"], total["charged"], total["released"]) == (
        2,
        85.284,
        17.784,
        67.5,
    )
    credits = json.loads(cli("--json", "credits").out)["data"]["token"]
    assert credits["used_credits"] == 17.784  # the failed task's reservation came back


def test_a_span_reaching_before_1970_is_the_whole_history_in_json_too(cli: CliRunner) -> None:
    result = cli("usage", "--since", "1000000d", "--json")
    assert result.code == 0, result.err
    assert "internal error" not in result.err
