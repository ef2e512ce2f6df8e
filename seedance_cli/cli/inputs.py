"""Checks of what users type that several commands share: flags named in errors, seconds, bounded
reads of stdin and files."""

from __future__ import annotations

import math
from typing import Protocol

from ..errors import (
    UsageError,
    ValidationError,
)

#: The API field each ``generate`` flag fills, for error messages that name the flag.
FLAG_OF_FIELD = {
    "prompt": "PROMPT",
    "image_urls": "--image",
    "duration": "--duration",
    "quality": "--quality",
    "aspect_ratio": "--aspect-ratio",
    "generate_audio": "--audio",
    "callback_url": "--callback-url",
    "model": "--model",
    "idempotency_key": "--idempotency-key",
}


def flag_error(exc: ValidationError) -> UsageError:
    flag = FLAG_OF_FIELD.get(exc.field, exc.field)
    return UsageError(f"{flag}: {exc.reason}", hint=exc.hint)


def check_seconds(
    flag: str, value: float | None, *, allow_zero: bool, maximum: float = math.inf
) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag}: must be a number of seconds {'>= 0' if allow_zero else '> 0'}")
    if value > maximum:
        raise UsageError(f"{flag}: must be at most {maximum:g} seconds, got {value:g}")


class Readable(Protocol):
    """A binary stream, or a text one (a test's stdin): what ``read_bounded`` reads."""

    def read(self, size: int = -1, /) -> bytes | str: ...


def read_bounded(stream: Readable, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``stream`` (binary, or text from a test's stdin); more is a
    usage error, so that ``@/dev/zero`` or an endless pipe is refused instead of filling memory."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        data = chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk
        chunks.append(data)
        total += len(data)
        if total > limit:
            from ..render import fmt_bytes

            raise UsageError(f"{what} is larger than {fmt_bytes(limit)}; refused")
