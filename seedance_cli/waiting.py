"""Polling tasks until they end: one engine (``Poller``) for ``wait``, ``generate --wait`` and batch.

``Poller`` is an incremental scheduler: it follows tasks, says which are due, takes each poll's
result and says when a task has an outcome, and closes what is left at the deadline. It sends
nothing and never sleeps; its callers do (``wait_for_tasks`` here, ``batch.BatchRun``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from .errors import (
    SeedanceError,
    UnreachableAtDeadline,
    WaitTimeout,
)
from .models import Task
from .retry import read_retryable

#: API.md: vendor clients poll every 5-15 s, and each poll of an unfinished task costs the gateway
#: an upstream call. Never faster than this unless the caller says so.
DEFAULT_POLL_INTERVAL: Final = 5.0
#: Without a deadline, how long an unbroken run of transient failures is borne before giving up.
DEFAULT_MAX_OUTAGE: Final = 600.0
#: The longest pause between two polls, whatever the caller asks: an hour.
MAX_POLL_INTERVAL: Final = 3600.0
#: The shortest, whatever the caller asks (``--interval 1e-9``): at most 20 polls a second per task.
MIN_POLL_INTERVAL: Final = 0.05
#: A deadline further away than this (about 30 years) is no deadline at all.
MAX_TIMEOUT: Final = 1e9

UpdateCallback = Callable[[Task], None]
ErrorCallback = Callable[[SeedanceError], None]
#: What a wait ends with, per task: the terminal task, or the error that ended its wait
#: (``WaitTimeout`` at the deadline, or a permanent error such as ``NotFoundError``).
Outcome = Task | SeedanceError


class TaskSource(Protocol):
    def get_task(self, task_id: str, *, deadline: float | None = None) -> Task: ...


def is_transient(exc: SeedanceError) -> bool:
    """Failures that may pass by themselves: the network, timeouts, 408, 429, 5xx - what a read
    is retried for (``retry.read_retryable``). A refused redirect would be refused again: it
    ends the wait at once, as a 404 does."""
    return read_retryable(exc)


@dataclasses.dataclass
class Followed:
    """One task a ``Poller`` follows: when to poll it next, the last task seen, when its last
    poll was sent, and, while its polls are failing, when they began to fail and the last
    failure."""

    task_id: str
    next_poll: float = 0.0
    last: Task | None = None
    sent: float | None = None
    outage_since: float | None = None
    last_error: SeedanceError | None = None


class Poller:
    """The tasks being waited on, each with its next poll time, under one deadline.

    A caller ``add``s tasks, polls those ``due`` (each once), hands every answer or failure to
    ``record`` (which says when a task has its outcome: it is then no longer followed), sleeps
    until ``wake``, and at the deadline (``expired``), after a last poll of each, ``close``s the
    rest. Transient failures are borne until the deadline, or for ``max_outage`` seconds in a row
    when there is none; a permanent failure ends its task at once. ``interval`` is kept within
    ``MIN_POLL_INTERVAL`` and ``MAX_POLL_INTERVAL``; a ``timeout`` beyond ``MAX_TIMEOUT`` means
    none; the deadline is ``timeout`` seconds from the poller's making.
    """

    def __init__(
        self,
        *,
        interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        max_outage: float = DEFAULT_MAX_OUTAGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval > 0:  # NaN too
            raise ValueError("interval must be positive")
        interval = min(max(interval, MIN_POLL_INTERVAL), MAX_POLL_INTERVAL)
        if timeout is not None and math.isnan(timeout):
            raise ValueError("timeout must be a number of seconds")
        if timeout is not None and timeout > MAX_TIMEOUT:
            timeout = None
        self.interval: float = interval
        self.timeout = timeout
        self.max_outage = max_outage
        self.clock = clock
        self.deadline = clock() + max(0.0, timeout) if timeout is not None else None
        self._followed: dict[str, Followed] = {}

    def __len__(self) -> int:
        return len(self._followed)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._followed

    def add(self, task_id: str, *, task: Task | None = None) -> None:
        """Follow ``task_id``, known as ``task`` if given (as its create answered); its first
        poll is when ``schedule`` says. Following a task already followed changes nothing."""
        if task_id in self._followed:
            return
        followed = Followed(task_id, last=task)
        followed.next_poll = self._cap(self.schedule(followed, self.clock()))
        self._followed[task_id] = followed

    def last(self, task_id: str) -> Task | None:
        """The last task seen of ``task_id`` (``None``: none yet)."""
        return self._followed[task_id].last

    def due(self, now: float | None = None) -> list[str]:
        """The tasks to poll at ``now``, in the order they were added."""
        now = self.clock() if now is None else now
        return [f.task_id for f in self._followed.values() if f.next_poll <= now]

    def schedule(self, followed: Followed, now: float) -> float:
        """When to poll ``followed`` next, decided ``now``: the one place the cadence is set.

        A task never polled is polled at once, or ``interval`` from now when it is known (as its
        create answered). A polled task is polled again ``interval`` after its last poll was
        sent (a slow answer does not slow the cadence), unless its polls are failing: then
        ``interval`` after the failure, whose retries took their own time, or after the
        ``Retry-After`` the failure carried when that is longer (a 429 is never hammered, even
        when the deadline is nearer than it). ``add`` and ``record`` cap it at the deadline,
        where every task gets its last poll."""
        if followed.sent is None:
            return now if followed.last is None else now + self.interval
        if followed.outage_since is not None:
            asked = getattr(followed.last_error, "retry_after", None)
            if isinstance(asked, int | float) and asked > self.interval:
                return now + min(asked, MAX_POLL_INTERVAL)
            return now + self.interval
        return followed.sent + self.interval

    def record(
        self,
        task_id: str,
        result: Task | SeedanceError,
        *,
        sent: float | None = None,
        now: float | None = None,
    ) -> Outcome | None:
        """Take the result of a poll of ``task_id``, sent at ``sent`` and ended by ``now`` (both
        default to the clock's now): the task, or the error the poll ended with. Returns the
        task's outcome when it has one (a terminal task, a permanent error, a transient one borne
        ``max_outage`` seconds without a deadline): the task is then no longer followed. Else its
        next poll is scheduled and ``None`` returned."""
        followed = self._followed[task_id]
        now = self.clock() if now is None else now
        followed.sent = now if sent is None else sent
        if isinstance(result, Task):
            followed.outage_since = None
            followed.last_error = None
            followed.last = result
            if result.is_terminal:
                return self._end(task_id, result)
        elif not is_transient(result):
            return self._end(task_id, result)
        else:
            if followed.outage_since is None:  # since the failing poll was sent
                followed.outage_since = followed.sent
            followed.last_error = result
            if self.deadline is None and now - followed.outage_since >= self.max_outage:
                return self._end(task_id, result)
        followed.next_poll = self._cap(self.schedule(followed, now))
        return None

    def wake(self) -> float | None:
        """When the next poll is due (the deadline at the latest); ``None`` when nothing is
        followed."""
        return min((f.next_poll for f in self._followed.values()), default=None)

    def expired(self, now: float | None = None) -> bool:
        """Whether the deadline has come: after a last poll of each task, ``close``."""
        now = self.clock() if now is None else now
        return self.deadline is not None and now >= self.deadline

    def close(self, now: float | None = None) -> dict[str, WaitTimeout | UnreachableAtDeadline]:
        """End the wait of every task still followed: ``UnreachableAtDeadline`` for those whose
        polls were failing, so not known to be running, ``WaitTimeout`` (carrying the last task
        seen) for the others."""
        now = self.clock() if now is None else now
        outcomes: dict[str, WaitTimeout | UnreachableAtDeadline] = {}
        for task_id, followed in self._followed.items():
            if followed.outage_since is not None and followed.last_error is not None:
                outage = now - followed.outage_since
                outcomes[task_id] = UnreachableAtDeadline(
                    task_id, outage, followed.last_error, followed.last
                )
            else:
                outcomes[task_id] = WaitTimeout(task_id, self.timeout or 0.0, followed.last)
        self._followed.clear()
        return outcomes

    def _end(self, task_id: str, outcome: Outcome) -> Outcome:
        del self._followed[task_id]
        return outcome

    def _cap(self, at: float) -> float:
        return at if self.deadline is None else min(at, self.deadline)


def wait_for_tasks(
    source: TaskSource,
    task_ids: Sequence[str],
    *,
    timeout: float | None = None,
    interval: float = DEFAULT_POLL_INTERVAL,
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    max_outage: float = DEFAULT_MAX_OUTAGE,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Outcome]:
    """Poll every task until each has an outcome; never raises for one task's sake.

    Each task is polled at once, then every ``interval`` seconds (``Poller.schedule`` says
    exactly when), the last time at the deadline, ``timeout`` seconds from now. ``on_update``
    gets every task seen; ``on_error`` every transient failure, which is borne until the
    deadline, or for ``max_outage`` seconds in a row when there is none. Unfinished tasks then
    get a ``WaitTimeout`` carrying the last task seen, or ``UnreachableAtDeadline`` when the
    polls of that task were failing then. A failed task is an outcome like any other: it is
    returned, not raised. See ``Poller`` for the bounds of ``interval`` and ``timeout``.
    """
    poller = Poller(interval=interval, timeout=timeout, max_outage=max_outage, clock=clock)
    return follow(
        source, poller, task_ids, on_update=on_update, on_error=on_error, sleep=sleep, clock=clock
    )


def follow(
    source: TaskSource,
    poller: Poller,
    task_ids: Sequence[str],
    *,
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Outcome]:
    """The loop of ``wait_for_tasks`` on a ``poller`` the caller made (and whose ``deadline`` it
    may use for what comes after, such as downloads): poll what is due, record, sleep until the
    next poll, close at the deadline. Outcomes in the order of ``task_ids``."""
    order = list(dict.fromkeys(task_ids))
    for task_id in order:
        poller.add(task_id)
    outcomes: dict[str, Outcome] = {}
    while poller:
        for task_id in poller.due():
            sent = clock()
            result: Task | SeedanceError
            try:
                result = source.get_task(task_id, deadline=poller.deadline)
            except SeedanceError as exc:
                result = exc
                if on_error is not None and is_transient(exc):
                    on_error(exc)
            else:
                if on_update is not None:
                    on_update(result)
            outcome = poller.record(task_id, result, sent=sent)
            if outcome is not None:
                outcomes[task_id] = outcome
        if not poller:
            break
        if poller.expired():
            outcomes.update(poller.close())
            break
        wake, now = poller.wake(), clock()
        if wake is not None and wake > now:
            sleep(wake - now)
    return {t: outcomes[t] for t in order}


def wait_for_task(
    source: TaskSource,
    task_id: str,
    *,
    timeout: float | None = None,
    interval: float = DEFAULT_POLL_INTERVAL,
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    max_outage: float = DEFAULT_MAX_OUTAGE,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Task:
    """Poll one task until it is terminal and return it: a failed task is returned, not raised.

    Raises ``WaitTimeout`` (carrying the last task seen) when the deadline passes, and permanent
    errors (401, 404, ...) at once. See ``wait_for_tasks`` for the rules.
    """
    outcome = wait_for_tasks(
        source,
        [task_id],
        timeout=timeout,
        interval=interval,
        on_update=on_update,
        on_error=on_error,
        max_outage=max_outage,
        sleep=sleep,
        clock=clock,
    )[task_id]
    if isinstance(outcome, SeedanceError):
        raise outcome
    return outcome
