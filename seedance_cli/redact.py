"""Masking secrets in text that came from a server or goes to a person: the known API key, and
anything that looks like a bearer token (``Bearer xxx``, ``sk-...``).

The client, which knows the key, redacts every server-provided text it passes up (error messages,
hints, task answers, its trace); ``render`` applies ``redact`` once more to everything it shows, as
a last, generic net. Kept free of imports so that start-up stays lazy.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from typing import Any, Final

MASK: Final = "***"
#: ``Bearer <token>`` in any case, and OpenAI-style ``sk-`` keys (EvoLink's keys look the same).
_TOKEN_PATTERNS: Final = (
    re.compile(r"(?i)\b(bearer)(?:\s+|%20|\+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9][A-Za-z0-9_\-]{7,}"),
)
#: Keys shorter than this are not searched for as plain text: they would mask ordinary words.
_MIN_SECRET_CHARS: Final = 4


#: What may sit between the characters of an echoed secret and vanish on the way to a person
#: (``render.clean`` drops controls, a terminal hides format characters, whitespace is folded):
#: a server that splits the key with them must not get it shown whole.
_INVISIBLE: Final = (
    r"(?:[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
    r"|\x1b\[[0-9;?]*[ -/]*[@-~])*"
)


@functools.lru_cache(maxsize=16)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    """``secret`` in any letter case, with anything invisible allowed between its characters."""
    return re.compile(_INVISIBLE.join(re.escape(c) for c in secret), re.IGNORECASE)


def _mask_known(text: str, secrets: Iterable[str]) -> str:
    """Every known secret masked, in any letter case (a server that lowercases what it echoes,
    a host name made of the key, say, must not show it either) and however it is split by
    characters that vanish on a terminal (controls, format characters, escape sequences)."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_CHARS:
            text = _secret_pattern(secret).sub(MASK, text)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and every bearer-looking token replaced by ``***``."""
    text = _mask_known(text, secrets)
    text = _TOKEN_PATTERNS[0].sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _TOKEN_PATTERNS[1].sub(f"sk-{MASK}", text)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def scrub(data: Any, secrets: Iterable[str] = (), *, _depth: int = 0) -> Any:
    """A copy of a decoded JSON answer that is safe to keep and show: every string redacted (a URL
    only of the known secrets, so that a result link keeps working), and every non-finite number
    (``NaN``, ``Infinity``, ``1e999``) replaced by ``None``, which JSON cannot carry."""
    secrets = tuple(secrets)
    if isinstance(data, str):
        if _is_url(data):
            return _mask_known(data, secrets)
        return redact(data, secrets)
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if _depth > 64:  # deeper than any answer of the API: drop rather than recurse without end
        return None
    if isinstance(data, dict):
        return {
            redact(str(k), secrets): scrub(v, secrets, _depth=_depth + 1) for k, v in data.items()
        }
    if isinstance(data, list):
        return [scrub(v, secrets, _depth=_depth + 1) for v in data]
    return data
