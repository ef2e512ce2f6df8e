"""Polling a task until it ends: deadline, cadence, tolerance of transient failures, callbacks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Protocol

from .errors import RateLimitError, SeedanceError, ServerError, ServiceError, WaitTimeout
from .models import Task

#: API.md: vendor clients poll every 5-15 s, and each poll of an unfinished task costs the gateway an
#: upstream call. Never faster than this unless the caller says so.
DEFAULT_POLL_INTERVAL: Final = 5.0
#: Without a deadline, how long an unbroken run of transient failures is borne before giving up.
DEFAULT_MAX_OUTAGE: Final = 600.0

UpdateCallback = Callable[[Task], None]
ErrorCallback = Callable[[SeedanceError], None]


class TaskSource(Protocol):
    def get_task(self, task_id: str, *, deadline: float | None = None) -> Task: ...


def is_transient(exc: SeedanceError) -> bool:
    """Failures that may pass by themselves: the network, timeouts, 429, 5xx."""
    return isinstance(exc, ServiceError | RateLimitError | ServerError)


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
    """Poll until the task is terminal and return it: a failed task is returned, not raised.

    ``on_update`` gets every task seen; ``on_error`` every transient failure, which is borne until
    the deadline (``timeout`` seconds from now), or for ``max_outage`` seconds in a row when there is
    none. The last poll happens at the deadline; then ``WaitTimeout`` (carrying the last task seen).
    Other errors (401, 404, ...) are raised at once.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    start = clock()
    deadline = start + timeout if timeout is not None else None
    last: Task | None = None
    outage_since: float | None = None
    while True:
        try:
            task = source.get_task(task_id, deadline=deadline)
        except SeedanceError as exc:
            if not is_transient(exc):
                raise
            now = clock()
            outage_since = now if outage_since is None else outage_since
            if on_error is not None:
                on_error(exc)
            if deadline is None and now - outage_since >= max_outage:
                raise
        else:
            outage_since = None
            last = task
            if on_update is not None:
                on_update(task)
            if task.is_terminal:
                return task
        now = clock()
        if deadline is None:
            sleep(interval)
            continue
        remaining = deadline - now
        if remaining <= 0:
            raise WaitTimeout(task_id, timeout or 0.0, last)
        sleep(min(interval, remaining))
