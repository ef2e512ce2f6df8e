"""``wait``: polling to a terminal state with a deadline, cadence, transient failures and callbacks.

All against the emulator over loopback, with one fake clock for both sides: no real sleeping; and
the poll engine (``Poller``) on its own, fed answers and failures by hand.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from seedance_cli import (
    AuthenticationError,
    Client,
    GenerationRequest,
    NotFoundError,
    ServerError,
    Task,
    WaitTimeout,
)
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.errors import (
    ExitCode,
    RateLimitError,
    RedirectRefused,
    SeedanceError,
    ServiceError,
    UnreachableAtDeadline,
)
from seedance_cli.waiting import (
    COALESCE,
    DEFAULT_POLL_INTERVAL,
    MAX_POLL_INTERVAL,
    MIN_POLL_INTERVAL,
    Followed,
    Poller,
    wait_for_task,
    wait_for_tasks,
)

from .conftest import MakeClient

REQUEST = GenerationRequest("A cat playing piano")


def test_wait_polls_when_the_apis_estimate_says_the_task_ends(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    """A 60 s task whose answers say ``estimated_time: 60``: asked at once, then when it ends,
    not every 5 s in between (each poll of an unfinished task costs the gateway a call)."""
    task = client.create_generation(REQUEST)
    seen: list[Task] = []
    final = client.wait(task.id, on_update=seen.append)
    assert final.succeeded and final.video_url
    assert clock.sleeps == [60.0]
    assert [t.status for t in seen] == ["pending", "completed"]
    assert len(emulator.requests("query")) == 2


def test_without_an_estimate_polls_come_every_interval_and_land_on_the_progress_rate(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.service.estimated_time = 0  # an API that says nothing of how long
    assert DEFAULT_POLL_INTERVAL >= 5.0
    task = client.create_generation(REQUEST)
    seen: list[Task] = []
    final = client.wait(task.id, on_update=seen.append)
    assert final.succeeded
    assert max(clock.sleeps) == 5.0 and min(clock.sleeps) >= 1.0  # the interval caps, 1 s floors
    # a 60 s task: never more polls than the fixed 5 s cadence made (13), and it is seen ending
    # within a second of its end rather than up to 5 s late
    assert len(seen) <= 13
    assert clock.monotonic() - 1_767_225_600.0 <= 61.0
    progress = [t.progress for t in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert seen[0].status == "pending" and "processing" in [t.status for t in seen]


def test_wait_returns_a_failed_task_rather_than_raising(client: Client, emulator: Emulator) -> None:
    emulator.add_fault("task:fail:1:code=content_policy_violation")
    task = client.create_generation(REQUEST)
    final = client.wait(task.id, interval=10)
    assert final.failed and final.status == "failed"
    assert final.error is not None and final.error.code == "content_policy_violation"


def test_failed_task_without_error_object_is_still_terminal(
    client: Client, emulator: Emulator
) -> None:
    emulator.add_fault("task:fail:1:code=none")
    final = client.wait(client.create_generation(REQUEST).id, interval=10)
    assert final.failed and final.error is None


def test_cancelled_task_ends_the_wait(client: Client, emulator: Emulator) -> None:
    emulator.add_fault("task:cancel")
    final = client.wait(client.create_generation(REQUEST).id, interval=10)
    assert final.status == "cancelled" and final.failed


def test_unknown_status_keeps_the_wait_going(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("task:status:1:status=queued")
    emulator.service.estimated_time = 0  # polled while it runs, not only at its end
    seen: list[str] = []
    final = client.wait(
        client.create_generation(REQUEST).id, interval=10, on_update=lambda t: seen.append(t.status)
    )
    assert "queued" in seen
    assert final.succeeded


def test_deadline_raises_wait_timeout_with_last_task_after_a_last_poll_at_the_deadline(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("task:hang")
    emulator.service.estimated_time = 0
    task = client.create_generation(REQUEST)
    start = clock.monotonic()
    with pytest.raises(WaitTimeout) as info:
        client.wait(task.id, timeout=12, interval=5)
    assert info.value.exit_code == ExitCode.TIMEOUT
    assert info.value.task_id == task.id
    assert info.value.task is not None and info.value.task.status == "processing"
    assert clock.sleeps == [5.0, 5.0, 2.0]  # the last sleep is cut to the deadline
    assert clock.monotonic() - start == 12
    assert len(emulator.requests("query")) == 4  # at 0, 5, 10 and 12


def test_an_estimate_beyond_the_deadline_still_gets_its_last_poll_at_the_deadline(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    task = client.create_generation(REQUEST)  # estimated_time: 60
    with pytest.raises(WaitTimeout):
        client.wait(task.id, timeout=12)
    assert clock.sleeps == [12.0]
    assert len(emulator.requests("query")) == 2  # at once, and at the deadline


def test_zero_timeout_polls_once(client: Client, emulator: Emulator) -> None:
    task = client.create_generation(REQUEST)
    with pytest.raises(WaitTimeout):
        client.wait(task.id, timeout=0)
    assert len(emulator.requests("query")) == 1


def test_transient_failures_are_borne_until_the_task_ends(
    client: Client, emulator: Emulator
) -> None:
    task = client.create_generation(REQUEST)
    # Each poll's own retries are exhausted (6 attempts), then the wait carries on.
    emulator.add_fault("query:503:8")
    errors: list[SeedanceError] = []
    final = client.wait(task.id, interval=5, on_error=errors.append)
    assert final.succeeded
    assert len(errors) == 1 and isinstance(errors[0], ServerError)
    assert errors[0].status == 503


def test_dropped_connections_during_a_wait_are_tolerated(
    client: Client, emulator: Emulator
) -> None:
    task = client.create_generation(REQUEST)
    emulator.add_fault("query:drop:7")
    assert client.wait(task.id).succeeded


def test_failures_until_the_deadline_end_as_unreachable_not_as_still_running(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    task = client.create_generation(REQUEST)
    emulator.add_fault("query:502:*")
    with pytest.raises(UnreachableAtDeadline) as info:
        client.wait(task.id, timeout=30)
    assert info.value.task is None  # never saw it
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert isinstance(info.value.cause, ServerError) and "state is unknown" in info.value.message
    assert sum(clock.sleeps) == pytest.approx(30, abs=0.01)


def test_without_a_deadline_a_long_outage_ends_the_wait(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    task = client.create_generation(REQUEST)
    emulator.add_fault("query:503:*")
    with pytest.raises(ServerError):
        wait_for_task(client, task.id, max_outage=120, sleep=clock.sleep, clock=clock.monotonic)
    assert 120 <= sum(clock.sleeps) < 200


@pytest.mark.parametrize(
    ("fault", "error"), [("query:404", NotFoundError), ("query:401", AuthenticationError)]
)
def test_permanent_errors_end_the_wait_at_once(
    client: Client, emulator: Emulator, clock: FakeClock, fault: str, error: type[Exception]
) -> None:
    task = client.create_generation(REQUEST)
    emulator.add_fault(fault)
    with pytest.raises(error):
        client.wait(task.id, timeout=600)
    assert clock.sleeps == []


def test_interval_is_the_callers_to_choose(make_client: MakeClient, clock: FakeClock) -> None:
    client = make_client()
    task = client.create_generation(REQUEST)
    client.wait(task.id, interval=1)
    assert clock.sleeps == [60.0]  # the estimate says when it ends: the interval has no say
    clock.sleeps.clear()
    other = client.create_generation(REQUEST)
    clock.sleep(30)  # half way: seen making progress, polled within the interval
    clock.sleeps.clear()
    client.wait(other.id, interval=1)
    assert clock.sleeps and set(clock.sleeps) <= {1.0}
    with pytest.raises(ValueError, match="positive"):
        client.wait(task.id, interval=0)


def test_several_tasks_share_one_deadline_and_each_gets_its_outcome(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.service.estimated_time = 0  # polled while they run
    done = client.create_generation(REQUEST).id
    emulator.add_fault("task:fail:1:code=service_error")
    failed = client.create_generation(REQUEST).id
    emulator.add_fault("task:hang")
    hung = client.create_generation(REQUEST).id
    missing = "task-unified-1761313744-zzzzzzzz"
    outcomes = wait_for_tasks(
        client,
        [done, failed, hung, missing, done],
        timeout=90,
        sleep=clock.sleep,
        clock=clock.monotonic,
    )
    assert list(outcomes) == [done, failed, hung, missing]
    ok, bad, late = outcomes[done], outcomes[failed], outcomes[hung]
    assert isinstance(ok, Task) and ok.succeeded
    assert isinstance(bad, Task) and bad.failed
    assert isinstance(late, WaitTimeout) and late.task is not None
    assert isinstance(outcomes[missing], NotFoundError)
    assert sum(clock.sleeps) == 90
    # Polled together, many per request; the missing task is asked on its own once to be sure,
    # and no task is asked about after its outcome.
    asked = asks(emulator)
    gets = [r.path.rsplit("/", 1)[-1] for r in emulator.requests("query")]
    assert gets.count(missing) == 1 and [t for _, t in asked].count(missing) == 2
    assert emulator.requests("batch")
    last = {task_id: at for at, task_id in asked}
    start = emulator.requests("create")[0].at
    # it fails midway (30 s), which nothing predicts: seen within an interval (and the half
    # second a poll waits for others falling due, to go in one request)
    assert 30 <= last[failed] - start <= 30 + 5 + COALESCE
    assert last[hung] - start == 90  # every task gets its last poll at the deadline
    assert last[done] - start <= 61


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("-inf")])
def test_a_nonsense_interval_is_refused(client: Client, interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        wait_for_tasks(client, ["task-unified-1-abcdefgh"], interval=interval)


def asks(emulator: Emulator) -> list[tuple[float, str]]:
    """(when, task id) of every poll the emulator received, one GET or many in a batch."""
    found: list[tuple[float, str]] = []
    for request in emulator.requests():
        if request.kind == "query":
            found.append((request.at, request.path.rsplit("/", 1)[-1]))
        elif request.kind == "batch":
            found += [(request.at, i) for i in json.loads(request.body)["task_ids"]]
    return found


def test_a_huge_interval_is_capped_and_a_huge_timeout_is_no_deadline(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.service.estimated_time = 0
    task = client.create_generation(REQUEST)
    done = client.wait(task.id, interval=1e300, timeout=1e300)
    assert done.succeeded
    assert clock.sleeps and set(clock.sleeps) == {MAX_POLL_INTERVAL}


def test_a_nan_timeout_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="timeout"):
        wait_for_tasks(client, ["task-unified-1-abcdefgh"], timeout=float("nan"))


# -- the engine itself: Poller, with no API at all -------------------------------------------------

A, B = "task-unified-1761313744-aaaaaaaa", "task-unified-1761313744-bbbbbbbb"


def seen(task_id: str, status: str = "processing") -> Task:
    return Task.from_api({"id": task_id, "status": status, "progress": 50})


def test_the_poller_polls_an_unknown_task_at_once_and_a_created_one_an_interval_later(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic)
    poller.add(A)
    poller.add(B, task=seen(B, "pending"))  # as its create answered
    assert len(poller) == 2 and A in poller and poller.last(B) is not None
    assert poller.due() == [A] and poller.wake() == clock.monotonic()
    assert poller.record(A, seen(A)) is None
    assert poller.due() == [] and poller.wake() == clock.monotonic() + 5
    clock.sleep(5)
    assert poller.due() == [A, B]  # in the order they were added
    poller.add(A, task=seen(A))  # following it again changes nothing
    assert poller.due() == [A, B] and len(poller) == 2


def test_the_cadence_counts_from_when_a_poll_was_sent_and_pauses_after_a_failure(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic)
    t = clock.monotonic()
    poller.add(A)
    assert poller.record(A, seen(A), sent=t, now=t + 3) is None  # a slow answer
    assert poller.wake() == t + 5  # does not slow the cadence
    assert poller.record(A, seen(A), sent=t + 5, now=t + 12) is None  # slower than the interval
    assert poller.due(t + 12) == [A]  # polled again at once
    outage = ServerError("unavailable", status=503)
    assert poller.record(A, outage, sent=t + 12, now=t + 27) is None  # 15 s of retries
    assert poller.wake() == t + 32  # a full interval after the failure


def test_the_poller_ends_a_task_at_its_terminal_state_or_a_permanent_error(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic)
    poller.add(A)
    poller.add(B)
    done = seen(A, "completed")
    assert poller.record(A, done) is done
    missing = NotFoundError("no such task", status=404)
    assert poller.record(B, missing) is missing
    assert not poller and poller.wake() is None and poller.close() == {}


def test_the_poller_bears_an_outage_for_max_outage_seconds_without_a_deadline(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=10, max_outage=30, clock=clock.monotonic)
    poller.add(A)
    outage = ServerError("unavailable", status=503)
    assert poller.record(A, outage) is None  # the outage begins
    clock.sleep(20)
    assert poller.record(A, seen(A)) is None  # an answer ends it
    for _ in range(3):
        clock.sleep(10)
        assert poller.record(A, outage) is None  # 0, 10 and 20 s into a new one
    clock.sleep(10)
    assert poller.record(A, outage) is outage  # 30 s in a row: the task's outcome
    assert A not in poller


def test_the_poller_bears_any_outage_until_its_deadline_then_says_unreachable(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, timeout=12, max_outage=1, clock=clock.monotonic)
    poller.add(A)
    poller.add(B)
    outage = ServerError("unavailable", status=503)
    last = seen(A)
    assert poller.record(A, last) is None
    assert poller.record(B, seen(B)) is None
    clock.sleep(5)
    for _ in range(2):
        assert poller.record(A, outage) is None  # past max_outage: borne, there is a deadline
        assert poller.record(B, seen(B)) is None
        assert not poller.expired()
        clock.sleep(poller.wake() - clock.monotonic())  # type: ignore[operator]
    assert clock.sleeps == [5, 5, 2]  # the cadence, cut to the deadline
    assert poller.expired() and poller.due() == [A, B]  # the last poll of each, at the deadline
    assert poller.record(A, outage) is None
    assert poller.record(B, seen(B)) is None
    outcomes = poller.close()
    unreachable, late = outcomes[A], outcomes[B]
    assert isinstance(unreachable, UnreachableAtDeadline)
    assert unreachable.cause is outage and unreachable.task is last
    assert "last 7s of the wait" in unreachable.message  # failing since 5 s, closed at 12 s
    assert isinstance(late, WaitTimeout) and late.task is not None and late.timeout == 12
    assert not poller


def test_the_next_poll_is_decided_in_one_place(clock: FakeClock) -> None:
    """What the API's ``estimated_time`` may later steer: ``schedule`` alone sets the cadence."""

    class Patient(Poller):
        def schedule(self, followed: Followed, now: float) -> float:
            return now + (60 if followed.last is not None else 1)

    poller = Patient(interval=5, timeout=100, clock=clock.monotonic)
    t = clock.monotonic()
    poller.add(A)
    poller.add(B, task=seen(B, "pending"))
    assert poller.wake() == t + 1 and poller.due(t + 1) == [A]
    assert poller.record(A, seen(A), now=t + 1) is None
    assert poller.due(t + 60) == [B] and poller.wake() == t + 60
    assert poller.record(B, seen(B), now=t + 60) is None
    assert poller.due(t + 99) == [A] and poller.wake() == t + 61
    assert poller.record(A, seen(A), now=t + 80) is None
    assert poller.wake() == t + 100  # never past the deadline


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"interval": 0}, "positive"), ({"timeout": float("nan")}, "timeout")],
)
def test_the_poller_refuses_nonsense(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Poller(**options)


def test_the_poller_bounds_its_interval_and_timeout(clock: FakeClock) -> None:
    assert Poller(interval=1e-9).interval == MIN_POLL_INTERVAL
    assert Poller(interval=1e300).interval == MAX_POLL_INTERVAL
    assert Poller(timeout=1e300).deadline is None
    assert Poller(timeout=-5, clock=clock.monotonic).deadline == clock.monotonic()


def test_a_429_with_retry_after_is_polled_again_after_it_not_at_the_interval() -> None:
    """The attack: a 429 asking for 100 s, a deadline 5 s away and a 0.5 s interval; the old
    engine polled eleven times in those 5 s. Now: once, then once more at the deadline."""
    clock = FakeClock()
    poller = Poller(interval=0.5, timeout=5, clock=clock.monotonic)
    poller.add("t")
    busy = RateLimitError("slow down", status=429, retry_after=100.0)
    polls = 0
    while not poller.expired():
        for task_id in poller.due():
            polls += 1
            assert poller.record(task_id, busy) is None
        clock.advance(max(0.0, (poller.wake() or 0) - clock.monotonic()))
    for task_id in poller.due():  # the last poll, at the deadline
        polls += 1
        poller.record(task_id, busy)
    assert polls == 2
    (outcome,) = poller.close().values()
    assert isinstance(outcome, UnreachableAtDeadline)


def test_a_short_retry_after_never_makes_polls_faster_than_the_interval() -> None:
    clock = FakeClock()
    poller = Poller(interval=5, clock=clock.monotonic)
    poller.add("t")
    poller.record("t", RateLimitError("slow down", status=429, retry_after=1.0))
    assert poller.wake() == clock.monotonic() + 5


def test_an_outage_counts_from_when_the_failing_poll_was_sent() -> None:
    """A poll whose own retries took 10 s before failing: the outage began when it was sent."""
    clock = FakeClock()
    poller = Poller(interval=5, timeout=30, clock=clock.monotonic)
    poller.add("t")
    sent = clock.monotonic()
    clock.advance(10)  # the client's retries
    poller.record("t", ServiceError("no route"), sent=sent)
    clock.advance(20)
    (outcome,) = poller.close().values()
    assert isinstance(outcome, UnreachableAtDeadline) and "last 30s" in outcome.message


def test_a_refused_redirect_ends_the_wait_at_once() -> None:
    """It would be refused again: as a 404 does, it ends the task's wait, not an outage."""
    poller = Poller(interval=5, timeout=60, clock=FakeClock().monotonic)
    poller.add("t")
    refused = RedirectRefused("a redirect to another origin")
    assert poller.record("t", refused) is refused
