"""Polling tasks until they end: one deadline, a cadence, tolerance of transient failures, callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from .errors import (
    RateLimitError,
    SeedanceError,
    ServerError,
    ServiceError,
    UnreachableAtDeadline,
    WaitTimeout,
)
from .models import Task

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
    """Failures that may pass by themselves: the network, timeouts, 429, 5xx."""
    return isinstance(exc, ServiceError | RateLimitError | ServerError)


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

    One round polls each unfinished task once, then sleeps ``interval`` (cut short at the deadline).
    ``on_update`` gets every task seen; ``on_error`` every transient failure, which is borne until the
    deadline (``timeout`` seconds from now), or for ``max_outage`` seconds in a row when there is none.
    The last round happens at the deadline; unfinished tasks then get a ``WaitTimeout`` carrying the
    last task seen, or ``UnreachableAtDeadline`` when the polls of that task were failing then. A
    failed task is an outcome like any other: it is returned, not raised. ``interval`` is kept
    within ``MIN_POLL_INTERVAL`` and ``MAX_POLL_INTERVAL``; a ``timeout`` beyond ``MAX_TIMEOUT``
    means none.
    """
    if not interval > 0:  # NaN too
        raise ValueError("interval must be positive")
    interval = min(max(interval, MIN_POLL_INTERVAL), MAX_POLL_INTERVAL)
    if timeout is not None and math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds")
    if timeout is not None and timeout > MAX_TIMEOUT:
        timeout = None
    deadline = clock() + max(0.0, timeout) if timeout is not None else None
    outcomes: dict[str, Outcome] = {}
    last: dict[str, Task] = {}
    outage_since: dict[str, float] = {}
    last_error: dict[str, SeedanceError] = {}
    pending = list(dict.fromkeys(task_ids))
    while True:
        for task_id in pending:
            try:
                task = source.get_task(task_id, deadline=deadline)
            except SeedanceError as exc:
                if not is_transient(exc):
                    outcomes[task_id] = exc
                    continue
                now = clock()
                since = outage_since.setdefault(task_id, now)
                last_error[task_id] = exc
                if on_error is not None:
                    on_error(exc)
                if deadline is None and now - since >= max_outage:
                    outcomes[task_id] = exc
                continue
            outage_since.pop(task_id, None)
            last[task_id] = task
            if on_update is not None:
                on_update(task)
            if task.is_terminal:
                outcomes[task_id] = task
        pending = [t for t in pending if t not in outcomes]
        if not pending:
            return {t: outcomes[t] for t in dict.fromkeys(task_ids)}
        if deadline is None:
            sleep(interval)
            continue
        remaining = deadline - clock()
        if remaining <= 0:
            now = clock()
            for task_id in pending:
                if task_id in outage_since:  # the last polls all failed: not known to be running
                    outcomes[task_id] = UnreachableAtDeadline(
                        task_id, now - outage_since[task_id], last_error[task_id], last.get(task_id)
                    )
                else:
                    outcomes[task_id] = WaitTimeout(task_id, timeout or 0.0, last.get(task_id))
            return {t: outcomes[t] for t in dict.fromkeys(task_ids)}
        sleep(min(interval, remaining))


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
