"""Backoff, jitter and every form of ``Retry-After``."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seedance_cli.retry import RetryPolicy, is_retryable_status, parse_retry_after

NOW = 1_767_225_600.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),  # IMF-fixdate
        ("Thu, 01 Jan 2026 00:00:45 GMT", 45.0),
        ("Thursday, 01-Jan-26 00:00:20 GMT", 20.0),  # obsolete RFC 850 form
        ("Thu Jan  1 00:00:10 2026", None),  # asctime form has no zone: not trusted
        (email.utils.formatdate(NOW - 100, usegmt=True), 0.0),  # a date in the past: now
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_forms(header: str | None, expected: float | None) -> None:
    got = parse_retry_after(header, NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    top = [policy.delay(n, rng=lambda: 1.0) for n in range(1, 7)]
    assert top == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_stays_between_half_and_full() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    assert policy.delay(3, rng=lambda: 0.0) == 2.0
    assert policy.delay(3, rng=lambda: 1.0) == 4.0
    assert policy.delay(3, rng=lambda: 0.5) == 3.0


def test_retry_after_overrides_backoff_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(1, retry_after=12.0) == 12.0
    assert policy.delay(5, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=3600.0) == 30.0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 520, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 413, 422, 501, 505])
def test_final_statuses(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("-5", 0.0),
        ("-1e308", 0.0),
        ("NaN", None),
        ("1e999", None),
        ("-inf", None),
        ("99999999999", 86400.0),  # huge: cut to a day here, to max_retry_after by the policy
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86400.0),  # a far-future date
        ("Mon, 01 Jan 99999999999 00:00:00 GMT", None),  # no calendar has it
        ("\u0661\u0662", None),  # digits, but not ASCII ones
    ],
)
def test_absurd_retry_after_is_bounded_or_ignored(header: str, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@given(st.text(max_size=60))
def test_any_retry_after_text_is_none_or_a_bounded_delay(header: str) -> None:
    got = parse_retry_after(header, NOW)
    assert got is None or 0.0 <= got <= 86400.0


def test_the_policy_bounds_a_nan_retry_after_and_any_retry_number() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, retry_after=float("nan")) <= policy.max_delay
    assert policy.delay(10_000) == policy.max_delay
