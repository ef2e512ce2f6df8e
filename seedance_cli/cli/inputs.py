"""Checks of what users type that several commands share: flags named in errors, seconds, bounded
reads of stdin and files."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

import typer

from ..errors import (
    UsageError,
    ValidationError,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from ..family import Dropped

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
    "video_urls": "--video",
    "audio_urls": "--audio-url",
    "content_filter": "--content-filter",
    "model_params.web_search": "--web-search",
    "output_format": "--output-format",
    "idempotency_key": "--idempotency-key",
}


def flag_error(exc: ValidationError) -> UsageError:
    flag = FLAG_OF_FIELD.get(exc.field, exc.field)
    return UsageError(f"{flag}: {exc.reason}", hint=exc.hint)


def parse_duration(value: str) -> int:
    """``--duration``: whole seconds, or ``auto`` (sent as -1: the model picks the length)."""
    from ..models import AUTO_DURATION

    text = value.strip().lower()
    if text == "auto":
        return AUTO_DURATION
    if re.fullmatch(r"-?[0-9]{1,9}", text):  # ASCII digits: "²" and "--5" are not numbers
        return int(text)
    raise typer.BadParameter(f"must be a whole number of seconds, or auto, got {value!r}")


def parse_credits(value: str) -> Decimal:
    """``--max-credits``: a finite number of credits, at least 0 (``0`` refuses every priced
    create)."""
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"must be a number of credits, got {value!r}") from None
    if not number.is_finite() or not 0 <= number <= MAX_BUDGET:
        raise typer.BadParameter(
            f"must be a number of credits from 0 to {MAX_BUDGET:,}, got {value!r}"
        )
    return number


#: The largest budget taken (about 15 million dollars): above it is a typo, not a budget.
MAX_BUDGET: Final = 10**9


def dropped_defaults(profile: str, dropped: Sequence[Dropped], where: str = "") -> list[str]:
    """A warning for each profile default left out because the model does not take its value
    (those of fields the model does not take at all go unsaid); ``where`` says for which lines."""
    from ..models import AUTO_DURATION
    from ..render import display_value

    def shown(d: Dropped) -> str:
        return (
            "auto" if d.key == "duration" and d.value == AUTO_DURATION else display_value(d.value)
        )

    return [
        f"profile {profile!r} {d.key} = {shown(d)} left out{where}: {d.reason}"
        for d in dropped
        if d.reason is not None
    ]


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
