"""What was spent, added up from the history: estimated, reserved, charged, released."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

import pytest

from seedance_cli.ledger import Entry
from seedance_cli.spending import parse_since, summarize

UTC = datetime.UTC
DAY = 86400.0
T0 = datetime.datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()


def entry(n: int, **fields: Any) -> Entry:
    base: dict[str, Any] = {
        "idempotency_key": f"k{n}",
        "task_id": f"task-unified-1-{n:08d}",
        "state": "created",
        "created_at": T0,
        "updated_at": T0,
        "profile": None,
        "base_url": None,
        "prompt": "p",
        "params": {"model": "seedance-1.5-pro"},
        "status": "completed",
        "progress": 100,
        "results": [],
        "error_code": None,
        "error_message": None,
        "note": None,
        "completed_at": None,
        "expires_at": None,
        "local_images": [],
        "batch_key": None,
        "files": [],
    }
    return dataclasses.replace(Entry(**base), **fields)


def test_each_figure_adds_up_from_what_the_history_knows() -> None:
    rows = [
        entry(
            1,
            estimate={"low": 17.784, "high": 17.784},
            credits_reserved=17.784,
            credits_charged=17.784,
        ),
        entry(2, estimate={"low": 8.892, "high": 8.892}, credits_reserved=8.892, status="failed"),
        entry(
            3,
            estimate={"low": None, "high": None, "known": False},
            params={"model": "doubao-seedance-1.0-pro-fast"},
            credits_reserved=20.0,
        ),
        entry(4, task_id=None, state="outcome_unknown", estimate={"low": 5, "high": 5}),
        entry(5, replayed=True, credits_reserved=17.784, estimate={"low": 1, "high": 1}),
    ]
    usage = summarize(rows, by="model", tz=UTC)
    total = usage.total
    assert total.tasks == 3  # no task (4) and a replay (5) are not counted
    assert (total.estimated_low, total.estimated_high, total.unpriced) == (
        Decimal("26.676"),
        Decimal("26.676"),
        1,
    )
    assert total.reserved == Decimal("46.676")
    assert total.charged == Decimal("17.784")
    assert total.released == Decimal("8.892")  # the failed task's reservation
    assert [g.key for g in usage.groups] == ["seedance-1.5-pro", "doubao-seedance-1.0-pro-fast"]
    assert total.as_json()["reserved_usd"] == 0.69  # 46.676 / 68


def test_tasks_only_seen_here_are_counted_apart_and_partial_sums_say_how_many() -> None:
    rows = [
        entry(1, credits_reserved=10.0, credits_charged=10.0, estimate={"low": 10, "high": 10}),
        entry(2, credits_reserved=20.0, status="processing", estimate={"low": 20, "high": 20}),
        entry(3, state="observed", credits_reserved=99.0),
        entry(4, state="observed", created_at=T0 - 60 * DAY),  # outside the period
    ]
    usage = summarize(rows, since=T0 - DAY, tz=UTC)
    total = usage.total
    assert (total.tasks, total.reserved, usage.elsewhere) == (2, Decimal(30), 1)
    assert (total.missing("estimated"), total.missing("reserved"), total.missing("charged")) == (
        0,
        0,
        1,  # the running task has no charge yet
    )
    assert total.as_json()["charged_tasks"] == 1
    assert summarize(rows, tz=UTC).elsewhere == 2


def test_days_are_local_dates_oldest_first_and_since_cuts_the_period() -> None:
    rows = [entry(n, created_at=T0 - n * DAY, credits_reserved=1.0) for n in range(5)]
    usage = summarize(rows, by="day", since=T0 - 2.5 * DAY, tz=UTC)
    assert [g.key for g in usage.groups] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert usage.total.reserved == 3


def test_a_range_estimate_adds_up_as_a_range() -> None:
    rows = [
        entry(1, estimate={"low": 80.36, "high": 602.7}),
        entry(2, estimate={"low": 10, "high": 10}),
    ]
    total = summarize(rows, by="day", tz=UTC).total
    assert (total.estimated_low, total.estimated_high) == (Decimal("90.36"), Decimal("612.7"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", T0 - 7 * DAY),
        ("36h", T0 - 36 * 3600),
        ("2w", T0 - 14 * DAY),
        ("2026-11-01", datetime.datetime(2026, 11, 1, tzinfo=UTC).timestamp()),
    ],
)
def test_since_takes_a_span_or_a_date(text: str, expected: float) -> None:
    assert parse_since(text, now=T0, tz=UTC) == expected


def test_a_date_before_the_epoch_in_any_zone_is_the_whole_history() -> None:
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    assert parse_since("0001-01-01", now=T0, tz=tokyo) == 0.0
    assert parse_since("1969-12-31", now=T0, tz=tokyo) == 0.0


@pytest.mark.parametrize("text", ["0d", "7", "yesterday", "2026-13-01", "2027-01-01", "-3d"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(text, now=T0, tz=UTC)


def test_by_must_be_day_or_model() -> None:
    with pytest.raises(ValueError, match="by must be one of day, model"):
        summarize([], by="week")


def test_a_charge_not_yet_made_is_unknown_and_the_reservation_counts_as_spent() -> None:
    rows = [
        # running: the billing says reserved, its charged_credits 0 is no charge yet
        entry(
            1,
            status="processing",
            credits_reserved=67.5,
            credits_charged=0.0,
            charge_status="reserved",
        ),
        # completed without billing (the documented answer): the charge was never said
        entry(2, credits_reserved=17.784),
    ]
    total = summarize(rows, by="day", tz=UTC).total
    assert (total.charged_tasks, total.known("charged")) == (0, False)
    assert total.spent == Decimal("85.284")  # their reservations, the best known cost
    data = total.as_json()
    assert data["charged"] is None and data["charged_usd"] is None
    assert data["estimated_low"] is None and data["unestimated"] == 2


def test_a_released_reservation_is_a_known_charge_of_nothing() -> None:
    rows = [entry(1, status="failed", credits_reserved=8.892)]
    total = summarize(rows, by="day", tz=UTC).total
    assert (total.charged, total.charged_tasks, total.spent) == (Decimal(0), 1, Decimal(0))
    assert total.released == Decimal("8.892")
    assert total.as_json()["charged"] == 0.0


def test_an_empty_period_knows_it_spent_nothing() -> None:
    data = summarize([], by="day").total.as_json()
    assert data["tasks"] == 0 and data["reserved"] == 0.0 and data["estimated_low"] == 0.0


@pytest.mark.parametrize("span", ["1000000d", "99999999999d", "999999999999w"])
def test_a_span_reaching_before_1970_means_the_whole_history(span: str) -> None:
    assert parse_since(span, now=T0, tz=UTC) == 0.0


@pytest.mark.parametrize("span", ["\u0663d", "9999999999999999999999w", "1.5d"])
def test_a_span_of_other_digits_or_absurd_length_is_refused(span: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(span, now=T0, tz=UTC)


@pytest.mark.parametrize(
    "estimate",
    [
        {"low": 1e30, "high": 1e30},
        {"low": 1e20, "high": 1e25},
        {"low": "1e999999999", "high": 1},
        {"low": 100, "high": 1},
        {"low": -5, "high": 5},
    ],
)
def test_absurd_stored_estimates_are_counted_as_unpriced_never_a_crash(
    estimate: dict[str, Any],
) -> None:
    total = summarize([entry(1, estimate=estimate)], by="day", tz=UTC).total
    assert total.unpriced == 1 and total.estimated_high == 0
