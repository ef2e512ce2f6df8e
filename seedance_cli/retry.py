"""When to try a request again, and how long to wait first: backoff, jitter and ``Retry-After``.

``RetryPolicy.run`` is the one retry loop of seedance: creates, API reads, uploads and result
downloads all go through it. What differs between them is passed in, never copied: which failures
are worth another try (``read_retryable``, ``create_retryable``, the download's own rule), which
need no wait (a download starting over), the deadline, and where the trace line goes.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

from .errors import APIError, ConnectionFailed, RedirectRefused, SeedanceError, ServiceError

if TYPE_CHECKING:
    from datetime import datetime

T = TypeVar("T")

#: Statuses worth another try for a read: request timeout, rate limit, and transient server faults.
#: 501 (not implemented) and 505 (HTTP version) will not change by trying again.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


#: The longest wait a ``Retry-After`` can state here (a day); ``RetryPolicy`` caps it further.
MAX_RETRY_AFTER: Final = 86400.0


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (status >= 500 and status not in (501, 505))


def read_retryable(failure: SeedanceError) -> bool:
    """Whether a request that may be repeated (a read, an upload) is worth another try.

    Yes for no usable answer (the network, a timeout, an answer that is not the API's) and for the
    statuses of ``RETRYABLE_STATUSES``; never for a refused redirect (it would be refused again),
    nor for any other refusal of the API.
    """
    if isinstance(failure, APIError):
        return is_retryable_status(failure.status)
    return isinstance(failure, ServiceError) and not isinstance(failure, RedirectRefused)


def create_retryable(failure: SeedanceError) -> bool:
    """Whether a create is worth another try: only when it surely did not make a task.

    That is a connection that could not be made (nothing was sent) or a 429 (refused before
    anything was done). Every other failure after sending is the caller's ``OutcomeUnknown``.
    """
    if isinstance(failure, APIError):
        return failure.status == 429
    return isinstance(failure, ConnectionFailed)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    ``now`` is the wall-clock time (epoch seconds) a date is measured from. A date in the past, or a
    negative number, means "now" (0); anything further than ``MAX_RETRY_AFTER`` is cut to it.
    Anything unreadable (``NaN``, ``1e999``, a date no calendar has) is ``None``: the caller falls
    back to its own backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or not value.isascii():
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(MAX_RETRY_AFTER, max(0.0, seconds)) if math.isfinite(seconds) else None
    import email.utils  # only for the rare date form: it is slow to import

    try:
        when: datetime = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may parse naive
            return None
        seconds = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds)) if math.isfinite(seconds) else None


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, and a cap on how long a ``Retry-After`` may hold us.

    ``max_attempts`` counts the first try: 6 means up to five retries. The n-th retry waits between
    half and all of ``min(max_delay, base_delay * 2**(n-1))``, unless the server said how long to
    wait, which is honoured up to ``max_retry_after``.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def delay(
        self, retry: int, retry_after: float | None = None, rng: Callable[[], float] | None = None
    ) -> float:
        """Seconds to sleep before retry number ``retry`` (1 for the first retry)."""
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(0.0, retry_after), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(64, max(0, retry - 1)))
        jitter = rng() if rng is not None else 1.0
        return ceiling / 2 + ceiling / 2 * jitter

    def run(
        self,
        attempt: Callable[[], T],
        *,
        retryable: Callable[[SeedanceError], bool],
        sleep: Callable[[float], None],
        rng: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
        on_retry: Callable[[str], None] | None = None,
        at_once: Callable[[SeedanceError], bool] | None = None,
    ) -> T:
        """Call ``attempt`` until it returns, up to ``max_attempts`` times; return what it returns.

        A ``SeedanceError`` it raises is tried again when ``retryable`` says so, after
        ``delay(n, retry_after, rng)`` seconds of ``sleep`` (``retry_after`` is the ``Retry-After``
        an ``APIError`` carries); ``on_retry`` first gets the trace line
        ``* retry N in X.Xs after: MESSAGE``. No retry is started whose wait would end after
        ``deadline`` (a ``clock()`` time). A failure for which ``at_once`` is true is tried again
        at once: no wait, no trace, no deadline check (the attempt fixed what was wrong itself),
        but it uses up an attempt all the same. Anything else, and the last failure when attempts
        or time run out, is raised as it is.
        """
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except SeedanceError as failure:
                now = at_once is not None and at_once(failure)
                if not (now or retryable(failure)) or tries >= self.max_attempts:
                    raise
                if now:
                    continue
                retry_after = failure.retry_after if isinstance(failure, APIError) else None
                delay = self.delay(tries, retry_after, rng)
                if deadline is not None and clock() + delay > deadline:
                    raise
                if on_retry is not None:
                    on_retry(f"* retry {tries} in {delay:.1f}s after: {failure.message}")
                sleep(delay)


NO_RETRY: Final = RetryPolicy(max_attempts=1)
