"""When to try a request again, and how long to wait first: backoff, jitter and ``Retry-After``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from datetime import datetime

#: Statuses worth another try for a read: request timeout, rate limit, and transient server faults.
#: 501 (not implemented) and 505 (HTTP version) will not change by trying again.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


#: The longest wait a ``Retry-After`` can state here (a day); ``RetryPolicy`` caps it further.
MAX_RETRY_AFTER: Final = 86400.0


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (status >= 500 and status not in (501, 505))


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


NO_RETRY: Final = RetryPolicy(max_attempts=1)
