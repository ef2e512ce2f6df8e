"""``wait``: polling to a terminal state with a deadline, cadence, transient failures and callbacks.

All against the emulator over loopback, with one fake clock for both sides: no real sleeping.
"""

from __future__ import annotations

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
from seedance_cli.errors import ExitCode, SeedanceError, UnreachableAtDeadline
from seedance_cli.waiting import (
    DEFAULT_POLL_INTERVAL,
    MAX_POLL_INTERVAL,
    wait_for_task,
    wait_for_tasks,
)

from .conftest import MakeClient

REQUEST = GenerationRequest("A cat playing piano")


def test_wait_polls_every_5_seconds_by_default_until_completed(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    assert DEFAULT_POLL_INTERVAL >= 5.0
    task = client.create_generation(REQUEST)
    seen: list[Task] = []
    final = client.wait(task.id, on_update=seen.append)
    assert final.succeeded and final.video_url
    assert set(clock.sleeps) == {5.0}
    assert len(clock.sleeps) == 12  # a 60 s task, polled at 0, 5, ..., 60
    assert len(emulator.requests("query")) == len(seen) == 13
    progress = [t.progress for t in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert seen[0].status == "pending"
    assert "processing" in [t.status for t in seen]


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
    assert set(clock.sleeps) == {1.0}
    with pytest.raises(ValueError, match="positive"):
        client.wait(task.id, interval=0)


def test_several_tasks_share_one_deadline_and_each_gets_its_outcome(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
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
    # The missing task was asked about once; finished tasks are not polled again.
    queried = [r.path.rsplit("/", 1)[-1] for r in emulator.requests("query")]
    assert queried.count(missing) == 1
    assert queried.count(failed) == 7  # at 0, 5, ..., 30 s: it fails midway
    assert queried.count(hung) == 19  # every round until the deadline, the last one at 90 s


@pytest.mark.parametrize("interval", [0, -1, float("nan"), float("-inf")])
def test_a_nonsense_interval_is_refused(client: Client, interval: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        wait_for_tasks(client, ["task-unified-1-abcdefgh"], interval=interval)


def test_a_huge_interval_is_capped_and_a_huge_timeout_is_no_deadline(
    client: Client, clock: FakeClock
) -> None:
    task = client.create_generation(REQUEST)
    done = client.wait(task.id, interval=1e300, timeout=1e300)
    assert done.succeeded
    assert clock.sleeps and set(clock.sleeps) == {MAX_POLL_INTERVAL}


def test_a_nan_timeout_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="timeout"):
        wait_for_tasks(client, ["task-unified-1-abcdefgh"], timeout=float("nan"))
