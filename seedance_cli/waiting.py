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
#: Polls of one task never come closer than this (or the interval, when it is shorter), whatever
#: a prediction says.
POLL_FLOOR: Final = 1.0
#: The longest wait for a task's ``estimated_time`` before its first poll (API.md: tasks take 2-5
#: minutes; a longer estimate is checked on then, by the task's progress).
MAX_ESTIMATE_WAIT: Final = 300.0
#: A task's ``created`` further back than this is not used to judge its progress rate.
MAX_AGE: Final = 86_400.0
#: Where many tasks go in one request, how long a due poll may wait for others falling due: at most
#: this late, never early, and a request carries all of them.
COALESCE: Final = 0.5

UpdateCallback = Callable[[Task], None]
ErrorCallback = Callable[[SeedanceError], None]
#: What a wait ends with, per task: the terminal task, or the error that ended its wait
#: (``WaitTimeout`` at the deadline, or a permanent error such as ``NotFoundError``).
Outcome = Task | SeedanceError


class TaskSource(Protocol):
    def get_task(self, task_id: str, *, deadline: float | None = None) -> Task: ...


def many_per_request(source: TaskSource) -> bool:
    """Whether ``source`` fetches many tasks in one request (and, for a client, still may)."""
    many = getattr(source, "many_per_request", None)
    return bool(many) if many is not None else hasattr(source, "get_tasks")


def fetch_all(
    source: TaskSource, task_ids: Sequence[str], *, deadline: float | None = None
) -> dict[str, Task | SeedanceError]:
    """Each task of ``task_ids`` as ``source`` answers now, or the error its fetch ended with:
    in one go where the source can (``get_tasks``: many tasks per request), else one by one."""
    many = getattr(source, "get_tasks", None)
    if many is not None and len(task_ids) > 1:
        found: dict[str, Task | SeedanceError] = many(task_ids, deadline=deadline)
        return found
    results: dict[str, Task | SeedanceError] = {}
    for task_id in task_ids:
        try:
            results[task_id] = source.get_task(task_id, deadline=deadline)
        except SeedanceError as exc:
            results[task_id] = exc
    return results


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
    #: When the task is predicted to end by the API's ``estimated_time`` (a ``clock`` time),
    #: from the first answer that carried one; ``None``: no estimate yet.
    estimated_end: float | None = None
    #: The last two (clock time, progress) seen while it was running, for its progress rate.
    progress: tuple[tuple[float, int], ...] = ()
    polls: int = 0


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
        wall_clock: Callable[[], float] = time.time,
        strict_interval: bool = False,
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
        self.wall_clock = wall_clock
        self.floor = min(POLL_FLOOR, interval)
        #: The user chose the interval (``--interval``, ``SEEDANCE_POLL_INTERVAL``): it caps the
        #: wait for an estimate too, so that no pause between polls is ever longer.
        self.strict_interval = strict_interval
        self.deadline = clock() + max(0.0, timeout) if timeout is not None else None
        self._followed: dict[str, Followed] = {}
        #: Polls sent, and tasks that ended, over the poller's life (for the benchmarks).
        self.polls = 0
        self.ended = 0
        #: How long a due poll waits for others to fall due (``COALESCE`` where the source fetches
        #: many tasks per request; 0: each is polled the moment it is due).
        self.coalesce = 0.0

    def __len__(self) -> int:
        return len(self._followed)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._followed

    def add(self, task_id: str, *, task: Task | None = None) -> None:
        """Follow ``task_id``, known as ``task`` if given (as its create answered); its first
        poll is when ``schedule`` says. Following a task already followed changes nothing."""
        if task_id in self._followed:
            return
        now = self.clock()
        followed = Followed(task_id, last=task)
        if task is not None:
            self._observe(followed, task, now)
        followed.next_poll = self._cap(self.schedule(followed, now))
        self._followed[task_id] = followed

    def last(self, task_id: str) -> Task | None:
        """The last task seen of ``task_id`` (``None``: none yet)."""
        return self._followed[task_id].last

    def due(self, now: float | None = None) -> list[str]:
        """The tasks to poll at ``now``, in the order they were added. With ``coalesce``, none
        until every task falling due within ``coalesce`` of the first is due too (or the
        deadline came): then all of them, in one request. A poll is never early, and late only
        by as long as the group takes to gather."""
        now = self.clock() if now is None else now
        ready = [f for f in self._followed.values() if f.next_poll <= now]
        if not ready:
            return []
        group = self._group_end()
        if group is not None and group > now and not self.expired(now):
            return []
        return [f.task_id for f in ready]

    def _group_end(self) -> float | None:
        """With ``coalesce``: when the first poll due and those falling due within ``coalesce``
        of it are all due (the last of them); ``None`` without."""
        if self.coalesce <= 0 or not self._followed:
            return None
        first = min(f.next_poll for f in self._followed.values())
        return max(
            f.next_poll for f in self._followed.values() if f.next_poll <= first + self.coalesce
        )

    def schedule(self, followed: Followed, now: float) -> float:
        """When to poll ``followed`` next, decided ``now``: the one place the cadence is set.

        * A task never seen is polled at once.
        * While its polls are failing: ``interval`` after the failure, whose retries took their
          own time, or after the ``Retry-After`` the failure carried when that is longer (a 429
          is never hammered, even when the deadline is nearer than it).
        * A task the API gave an ``estimated_time`` for, not yet seen making progress: when the
          estimate says it ends (``MAX_ESTIMATE_WAIT`` at most): no poll is sent while no result
          can exist yet.
        * A task whose end can be predicted (from its progress rate, else from the estimate):
          when it is predicted to end, but at most ``interval`` after its last poll; once it is
          overdue, sooner as it gets later (half the time it is overdue, within the interval).
        * Else ``interval`` after its last poll was sent (a slow answer does not slow the
          cadence).

        Never sooner than ``floor`` (1 s, or the interval when that is shorter) after now. ``add``
        and ``record`` cap it at the deadline, where every task gets its last poll."""
        if followed.last is None and followed.sent is None:
            return now
        if followed.outage_since is not None:
            asked = getattr(followed.last_error, "retry_after", None)
            if isinstance(asked, int | float) and asked > self.interval:
                return now + min(asked, MAX_POLL_INTERVAL)
            return now + self.interval
        last_sent = followed.sent if followed.sent is not None else now
        if followed.estimated_end is not None and not followed.progress:
            cap = self.interval if self.strict_interval else MAX_ESTIMATE_WAIT
            wait = min(followed.estimated_end - now, cap)
            if wait > 0:
                return now + max(wait, self.floor)
        end = self._predicted_end(followed, now)
        if end is None:
            return last_sent + self.interval
        if end > now:
            return now + max(self.floor, min(end - now, self.interval))
        return now + max(self.floor, min((now - end) / 2, self.interval))

    def _predicted_end(self, followed: Followed, now: float) -> float | None:
        """When the task should end: by its progress rate (two observations, or one and its
        age from ``created``), else by its ``estimated_time``; ``None`` when nothing says."""
        seen = followed.progress
        if seen and seen[-1][1] >= 100:  # "100%" and still running: progress says no more
            return followed.estimated_end
        if len(seen) == 2:
            (t1, p1), (t2, p2) = seen
            if p2 > p1 and t2 > t1:
                return t2 + (100 - p2) * (t2 - t1) / (p2 - p1)
            return followed.estimated_end  # no progress between two polls: no rate to go by
        task = followed.last
        if seen and seen[-1][1] > 0 and task is not None and task.created is not None:
            at, progress = seen[-1]
            age = self.wall_clock() - (now - at) - task.created
            if 0 < age < MAX_AGE:
                return at + (100 - progress) * age / progress
        return followed.estimated_end

    def _observe(self, followed: Followed, task: Task, now: float) -> None:
        """Keep what predicts the task's end: its first ``estimated_time`` (counted from its
        ``created`` when that is recent, else from now, whichever is later) and the last two
        progress figures seen while it ran."""
        if followed.estimated_end is None and task.estimated_time is not None:
            start = now
            if task.created is not None:
                # ``created`` is whole seconds, so up to 1 s early: never count it as older
                age = self.wall_clock() - task.created - 1
                if 0 < age < MAX_AGE:
                    start = now - age
            followed.estimated_end = max(start + task.estimated_time, now)
        if task.status != "pending" and task.progress > 0:
            followed.progress = (*followed.progress[-1:], (now, task.progress))

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
        followed.polls += 1
        self.polls += 1
        if isinstance(result, Task):
            followed.outage_since = None
            followed.last_error = None
            followed.last = result
            if result.is_terminal:
                return self._end(task_id, result)
            self._observe(followed, result, followed.sent)
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
        """When the next poll is due (with ``coalesce``, when its group is; the deadline at the
        latest); ``None`` when nothing is followed."""
        group = self._group_end()
        if group is not None:
            return self._cap(group)
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
        self.ended += 1
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
    wall_clock: Callable[[], float] = time.time,
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
    poller = Poller(
        interval=interval,
        timeout=timeout,
        max_outage=max_outage,
        clock=clock,
        wall_clock=wall_clock,
    )
    return follow(
        source, poller, task_ids, on_update=on_update, on_error=on_error, sleep=sleep, clock=clock
    )


def follow(
    source: TaskSource,
    poller: Poller,
    task_ids: Sequence[str],
    *,
    known: Sequence[Task] = (),
    on_update: UpdateCallback | None = None,
    on_error: ErrorCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Outcome]:
    """The loop of ``wait_for_tasks`` on a ``poller`` the caller made (and whose ``deadline`` it
    may use for what comes after, such as downloads): poll what is due, record, sleep until the
    next poll, close at the deadline. Outcomes in the order of ``task_ids``. ``known``: tasks as
    their create just answered, not asked about again before their estimate says they end."""
    order = list(dict.fromkeys(task_ids))
    seen = {task.id: task for task in known}
    for task_id in order:
        # a task known as its create just answered is first polled when its estimate says
        poller.add(task_id, task=seen.get(task_id))
    outcomes: dict[str, Outcome] = {}
    while poller:
        poller.coalesce = COALESCE if len(poller) > 1 and many_per_request(source) else 0.0
        sent = clock()
        for task_id, result in fetch_all(source, poller.due(), deadline=poller.deadline).items():
            if isinstance(result, Task):
                if on_update is not None:
                    on_update(result)
            elif on_error is not None and is_transient(result):
                on_error(result)
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
    wall_clock: Callable[[], float] = time.time,
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
        wall_clock=wall_clock,
    )[task_id]
    if isinstance(outcome, SeedanceError):
        raise outcome
    return outcome
