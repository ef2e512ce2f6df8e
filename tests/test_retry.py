"""Backoff, jitter, every form of ``Retry-After``, and the one retry loop (``RetryPolicy.run``)
that creates, reads, uploads and downloads all go through."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seedance_cli import Client, GenerationRequest
from seedance_cli.download import download, part_path
from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.errors import (
    BadResponse,
    ConnectionFailed,
    InvalidRequestError,
    NotAVideo,
    OutcomeUnknown,
    RateLimitError,
    RedirectRefused,
    ResponseTimeout,
    SeedanceError,
    ServerError,
    ServiceError,
    ValidationError,
)
from seedance_cli.retry import (
    RetryPolicy,
    create_retryable,
    is_retryable_status,
    parse_retry_after,
    read_retryable,
)

from .conftest import MakeClient

REQUEST = GenerationRequest("A cat playing piano", duration=8)

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


# -- the one retry loop: RetryPolicy.run -----------------------------------------------------------


class Attempts:
    """An attempt that raises each of ``failures`` in turn, then returns ``"done"``."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


class Clock:
    """A monotonic clock that ``sleep`` moves; the sleeps are kept."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def always(failure: SeedanceError) -> bool:
    return True


def test_run_returns_the_first_success_without_waiting() -> None:
    clock = Clock()
    attempt = Attempts()
    assert RetryPolicy().run(attempt, retryable=always, sleep=clock.sleep) == "done"
    assert attempt.calls == 1 and clock.sleeps == []


def test_run_retries_with_backoff_and_counts_the_first_try_as_an_attempt() -> None:
    clock = Clock()
    attempt = Attempts(*(ServiceError(f"fail {n}") for n in range(1, 10)))
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0)
    with pytest.raises(ServiceError, match="fail 4"):  # the last failure, as it was
        policy.run(attempt, retryable=always, sleep=clock.sleep, rng=lambda: 1.0)
    assert attempt.calls == 4
    assert clock.sleeps == [1.0, 2.0, 3.0]


def test_run_raises_a_failure_that_is_not_retryable_at_once() -> None:
    clock = Clock()
    attempt = Attempts(ConnectionFailed("refused"), InvalidRequestError("no", status=400))
    with pytest.raises(InvalidRequestError):
        RetryPolicy().run(attempt, retryable=read_retryable, sleep=clock.sleep, rng=lambda: 1.0)
    assert attempt.calls == 2 and clock.sleeps == [0.5]


def test_run_lets_anything_but_a_seedance_error_through_untouched() -> None:
    for failure in (OSError("disk"), KeyboardInterrupt()):
        attempt = Attempts(failure)
        with pytest.raises(type(failure)):
            RetryPolicy().run(attempt, retryable=always, sleep=Clock().sleep)
        assert attempt.calls == 1


def test_run_honours_the_retry_after_an_api_error_carries() -> None:
    clock = Clock()
    attempt = Attempts(
        RateLimitError("slow down", status=429, retry_after=7.0),
        ServerError("busy", status=503, retry_after=500.0),  # cut to max_retry_after
        ServerError("busy", status=503),  # none: own backoff
    )
    RetryPolicy(max_retry_after=60.0).run(
        attempt, retryable=always, sleep=clock.sleep, rng=lambda: 1.0
    )
    assert clock.sleeps == [7.0, 60.0, 2.0]


def test_run_starts_no_retry_that_would_end_after_the_deadline() -> None:
    clock = Clock()
    attempt = Attempts(*(ServerError(f"busy {n}", status=503) for n in range(1, 10)))
    with pytest.raises(ServerError, match="busy 3"):
        RetryPolicy(base_delay=1.0).run(
            attempt,
            retryable=always,
            sleep=clock.sleep,
            rng=lambda: 1.0,
            clock=clock,
            deadline=clock.now + 3.0,
        )
    assert clock.sleeps == [1.0, 2.0]  # a third wait (4 s) would end past the deadline
    assert attempt.calls == 3


def test_run_traces_each_retry_in_one_line() -> None:
    clock = Clock()
    lines: list[str] = []
    attempt = Attempts(ConnectionFailed("could not connect to api"), ServerError("x", status=502))
    RetryPolicy().run(
        attempt, retryable=always, sleep=clock.sleep, rng=lambda: 0.5, on_retry=lines.append
    )
    assert lines == [
        "* retry 1 in 0.4s after: could not connect to api",
        "* retry 2 in 0.8s after: x",
    ]


def test_run_retries_at_once_without_waiting_but_with_an_attempt_used() -> None:
    clock = Clock()
    lines: list[str] = []
    attempt = Attempts(NotAVideo("junk"), BadResponse("cut"), NotAVideo("junk"))

    def at_once(failure: SeedanceError) -> bool:
        return isinstance(failure, NotAVideo)

    def never(failure: SeedanceError) -> bool:
        return False

    policy = RetryPolicy(max_attempts=3)
    with pytest.raises(NotAVideo):  # the third attempt was the last: raised, not retried
        policy.run(
            attempt,
            retryable=lambda f: isinstance(f, BadResponse) and not at_once(f),
            at_once=at_once,
            sleep=clock.sleep,
            rng=lambda: 1.0,
            on_retry=lines.append,
        )
    assert attempt.calls == 3
    assert clock.sleeps == [1.0]  # only after "cut", and as the second retry: 0.5 * 2
    assert lines == ["* retry 2 in 1.0s after: cut"]
    # at_once alone makes a failure worth another try, whatever retryable says
    again = Attempts(NotAVideo("junk"))
    assert policy.run(again, retryable=never, at_once=at_once, sleep=clock.sleep) == "done"


@pytest.mark.parametrize(
    ("failure", "read", "create"),
    [
        (ConnectionFailed("refused"), True, True),
        (ResponseTimeout("slow"), True, False),
        (BadResponse("cut"), True, False),
        (RedirectRefused("elsewhere"), False, False),
        (RateLimitError("slow down", status=429), True, True),
        (ServerError("busy", status=503), True, False),
        (ServerError("no", status=501), False, False),
        (InvalidRequestError("timeout", status=408), True, False),
        (InvalidRequestError("bad", status=400), False, False),
        (OutcomeUnknown("key", "sent"), False, False),
        (ValidationError("duration", "bad"), False, False),
    ],
)
def test_what_reads_and_creates_try_again(failure: SeedanceError, read: bool, create: bool) -> None:
    assert read_retryable(failure) is read
    assert create_retryable(failure) is create


# -- every caller goes through RetryPolicy.run -----------------------------------------------------


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records the options of every ``RetryPolicy.run``, which still runs as it is."""
    seen: list[dict[str, Any]] = []
    original = RetryPolicy.run

    def spy(self: RetryPolicy, attempt: Callable[[], Any], **options: Any) -> Any:
        seen.append(options)
        return original(self, attempt, **options)

    monkeypatch.setattr(RetryPolicy, "run", spy)
    return seen


def test_a_create_retries_through_the_loop_with_its_own_rule(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, runs: list[dict[str, Any]]
) -> None:
    lines: list[str] = []
    client = make_client(trace=lines.append)
    emulator.add_fault("create:429:2:retry-after=3")
    client.create_generation(REQUEST)
    (options,) = runs
    assert options["retryable"] is create_retryable and options.get("deadline") is None
    assert [line for line in lines if line.startswith("* retry")] == [
        "* retry 1 in 3.0s after: Too many requests, please try again later",
        "* retry 2 in 3.0s after: Too many requests, please try again later",
    ]
    assert clock.sleeps == [3.0, 3.0]


def test_a_read_retries_through_the_loop_until_its_deadline(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, runs: list[dict[str, Any]]
) -> None:
    lines: list[str] = []
    client = make_client(trace=lines.append, rng=lambda: 1.0)
    emulator.add_fault("query:503:*")
    with pytest.raises(ServerError):
        client.get_task("task-unified-1-abcdefgh", deadline=clock.monotonic() + 1.6)
    (options,) = runs
    assert options["retryable"] is read_retryable
    assert [line.split(" after:")[0] for line in lines if line.startswith("* retry")] == [
        "* retry 1 in 0.5s",
        "* retry 2 in 1.0s",  # 1.5 s in all; a third (2 s) would end past the deadline
    ]
    assert len(emulator.requests("query")) == 3


def test_an_upload_retries_through_the_loop_as_a_read(
    client: Client, emulator: Emulator, clock: FakeClock, runs: list[dict[str, Any]], tmp_path: Path
) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    emulator.add_fault("upload:503:1")
    client.upload_file(image, mime="image/png")
    (options,) = runs
    assert options["retryable"] is read_retryable
    assert [r.status for r in emulator.requests("upload")] == [503, 200]
    assert clock.sleeps == [0.375]


def test_a_download_retries_through_the_loop_and_starts_over_at_once(
    make_client: MakeClient,
    emulator: Emulator,
    clock: FakeClock,
    runs: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3))
    task = client.create_generation(REQUEST)
    clock.advance(60)
    url = client.get_task(task.id).video_url
    assert url is not None
    runs.clear()
    target = tmp_path / "cat.mp4"
    part_path(target).write_bytes(b"<html>not a video</html>" * 40)  # left by an earlier run
    emulator.add_fault("download:503:1:retry-after=4")
    download(client.open_result, url, target, retry=client.retry, sleep=clock.sleep)
    (options,) = runs
    assert options["at_once"] is not None and options.get("on_retry") is None
    # the 503 waited its Retry-After; the junk .part, resumed (206), was started over at once
    assert [r.status for r in emulator.requests("download")] == [503, 206, 200]
    assert clock.sleeps == [4.0]
    assert target.read_bytes() == sample_video(8)


def test_a_download_gives_up_after_max_attempts(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3))
    task = client.create_generation(REQUEST)
    clock.advance(60)
    url = client.get_task(task.id).video_url
    assert url is not None
    emulator.add_fault("download:502:*")
    with pytest.raises(ServerError, match="HTTP 502"):
        download(
            client.open_result, url, tmp_path / "cat.mp4", retry=client.retry, sleep=clock.sleep
        )
    assert len(emulator.requests("download")) == 3
    assert len(clock.sleeps) == 2
