"""The Seedance family as a whole, for what is not one model's: the values any model takes (config
values, shell completions), the warning for a model id the catalogue does not know, and a request
made from what was given plus profile defaults under the chosen model's rules.

Standard library only, like ``models`` and ``catalogue``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .catalogue import DEFAULT_MODEL, catalogue, closest, spec
from .errors import ValidationError
from .models import GenerationRequest

#: The request fields a profile may give a default for, and the profile key that holds each.
PROFILE_KEY: Final = {
    "duration": "duration",
    "quality": "quality",
    "aspect_ratio": "aspect-ratio",
    "generate_audio": "audio",
    "model": "model",
}


def _union(values: Callable[[Any], Sequence[str] | None]) -> tuple[str, ...]:
    """Every value some known model takes, in the catalogue's order, each once."""
    seen: dict[str, None] = {}
    for model in catalogue().values():
        for value in values(model) or ():
            seen.setdefault(value, None)
    return tuple(seen)


@functools.cache
def qualities() -> tuple[str, ...]:
    """Every quality some model takes (``4k`` included)."""
    return _union(lambda m: m.qualities)


@functools.cache
def aspect_ratios() -> tuple[str, ...]:
    """Every aspect ratio some model takes, with or without images (``keep_ratio`` included)."""
    return _union(lambda m: (*(m.aspect_ratios or ()), *(m.aspect_ratios_with_images or ())))


@functools.cache
def output_formats() -> tuple[str, ...]:
    return _union(lambda m: m.output_formats)


@functools.cache
def duration_range() -> tuple[int, int]:
    """The shortest and the longest duration (seconds) some model takes."""
    models = catalogue().values()
    low = min(m.duration_min for m in models if m.duration_min is not None)
    high = max(m.duration_max for m in models if m.duration_max is not None)
    return low, high


def model_ids() -> tuple[str, ...]:
    return tuple(catalogue())


def unknown_model_warning(model: str) -> str | None:
    """The one line that says ``model`` is not in the catalogue (``None`` for a known one): the
    request is still sent, with the generic checks only."""
    if spec(model) is not None:
        return None
    near = closest(model)
    if near:
        return f"unknown model {model!r}; known models close to it: {', '.join(near)}"
    return f"unknown model {model!r}; 'seedance models' lists the models this version knows"


@dataclasses.dataclass(frozen=True)
class Dropped:
    """A profile default left out of a request: ``key`` is the profile key (``aspect-ratio``),
    ``reason`` why (``None``: the model does not take the field at all, which needs no word)."""

    key: str
    value: Any
    reason: str | None


#: Fields whose values are words the API spells in lower case: ``4K`` and ``MOV`` mean ``4k``, ``mov``.
_LOWER_CASE: Final = frozenset({"quality", "output_format", "aspect_ratio"})


def _word(name: str, value: Any) -> Any:
    return value.strip().lower() if name in _LOWER_CASE and isinstance(value, str) else value


def build_request(
    given: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[GenerationRequest, tuple[Dropped, ...]]:
    """A ``GenerationRequest`` of the fields ``given`` (flags, a manifest line: always checked,
    ``ValidationError`` when the model refuses one), with ``defaults`` (a profile's, by request
    field name) filling the fields not given.

    A default is for every model, so it yields to the one chosen: a default for a field the model
    does not take at all is left out silently (a profile's ``audio`` with a model that makes no
    audio choice); one whose value the model does not take (``duration = 15`` with a model of
    4-12 seconds) is left out too, and said (``Dropped.reason``), so the model's own default
    applies. A model the catalogue does not know gets every default (the API judges them).
    """
    model = given.get("model")
    if model is None:
        model = defaults.get("model") or DEFAULT_MODEL
    known = spec(model) if isinstance(model, str) else None
    fields = {name: _word(name, value) for name, value in given.items() if value is not None}
    fields["model"] = model
    applied: dict[str, Any] = {}
    dropped: list[Dropped] = []
    for name, value in defaults.items():
        if name == "model" or value is None or name in fields:
            continue
        if known is not None and not known.takes(name):
            dropped.append(Dropped(PROFILE_KEY.get(name, name), value, None))
            continue
        applied[name] = value
    while True:
        try:
            request = GenerationRequest(**fields, **applied)
        except ValidationError as exc:
            if exc.field not in applied:
                raise
            value = applied.pop(exc.field)
            dropped.append(Dropped(PROFILE_KEY.get(exc.field, exc.field), value, exc.reason))
            continue
        return request, tuple(dropped)
