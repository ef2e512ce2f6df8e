"""The Seedance family EvoLink serves on ``POST /v1/videos/generations``: one entry per model.

The data (``catalogue.json``) is derived from EvoLink's official OpenAPI file of each model by
``scripts/catalogue.py``, never written by hand; a test fails when it and the files disagree. For
each model: its mode, the request fields it takes, durations (and whether ``-1``, automatic, is
allowed), qualities, aspect ratios, how many reference images, videos and audio clips, the prompt
limit and the defaults. Read on first use (standard library only, a few kilobytes of JSON).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from pathlib import Path
from typing import Any, Final

#: The model ``generate`` uses unless told otherwise, as the original reference page describes.
DEFAULT_MODEL: Final = "seedance-1.5-pro"
DATA: Final = Path(__file__).with_name("catalogue.json")


@dataclasses.dataclass(frozen=True)
class MediaLimit:
    """How many URLs of one kind (``image_urls``, ``video_urls``, ``audio_urls``) a model takes:
    ``minimum`` when any is given, ``maximum`` (``None``: the schema sets none), ``required``; the
    size of one file in MB and its formats (extensions), where the file states them."""

    minimum: int
    maximum: int | None
    required: bool
    max_mb: int | None = None
    formats: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What one model accepts, as its official file says. ``None`` means the file states no rule
    (only the generic checks apply)."""

    id: str
    mode: str
    source: str
    fields: frozenset[str]
    required: frozenset[str]
    prompt_max_chars: int | None
    prompt_max_tokens: int | None
    duration_min: int | None
    duration_max: int | None
    duration_auto: bool
    duration_default: int | None
    qualities: tuple[str, ...] | None
    quality_default: str | None
    aspect_ratios: tuple[str, ...] | None
    aspect_ratio_default: str | None
    aspect_ratios_with_images: tuple[str, ...] | None
    aspect_ratio_default_with_images: str | None
    media: dict[str, MediaLimit]
    audio_alone: bool
    media_required: bool
    model_params: frozenset[str]
    output_formats: tuple[str, ...] | None

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> ModelSpec:
        duration = entry.get("duration") or {}
        prompt = entry.get("prompt") or {}
        return cls(
            id=entry["id"],
            mode=entry["mode"],
            source=entry["source"],
            fields=frozenset(entry["fields"]),
            required=frozenset(entry["required"]),
            prompt_max_chars=prompt.get("max_chars"),
            prompt_max_tokens=prompt.get("max_tokens"),
            duration_min=duration.get("min"),
            duration_max=duration.get("max"),
            duration_auto=bool(duration.get("auto")),
            duration_default=duration.get("default"),
            qualities=_tuple(entry.get("qualities")),
            quality_default=entry.get("quality_default"),
            aspect_ratios=_tuple(entry.get("aspect_ratios")),
            aspect_ratio_default=entry.get("aspect_ratio_default"),
            aspect_ratios_with_images=_tuple(entry.get("aspect_ratios_with_images")),
            aspect_ratio_default_with_images=entry.get("aspect_ratio_default_with_images"),
            media={
                name: MediaLimit(
                    limit["min"],
                    limit["max"],
                    limit["required"],
                    limit.get("max_mb"),
                    _tuple(limit.get("formats")),
                )
                for name, limit in entry["media"].items()
            },
            audio_alone=bool(entry.get("audio_alone", True)),
            media_required=bool(entry.get("media_required")),
            model_params=frozenset(entry.get("model_params") or ()),
            output_formats=_tuple(entry.get("output_formats")),
        )

    def to_entry(self) -> dict[str, Any]:
        """The model as ``catalogue.json`` holds it (``from_entry`` read back): the key names of
        ``seedance models --json``."""

        def listed(values: tuple[str, ...] | None) -> list[str] | None:
            return list(values) if values is not None else None

        return {
            "id": self.id,
            "source": self.source,
            "mode": self.mode,
            "fields": sorted(self.fields),
            "required": sorted(self.required),
            "prompt": {"max_chars": self.prompt_max_chars, "max_tokens": self.prompt_max_tokens},
            "duration": {
                "min": self.duration_min,
                "max": self.duration_max,
                "auto": self.duration_auto,
                "default": self.duration_default,
            },
            "qualities": listed(self.qualities),
            "quality_default": self.quality_default,
            "aspect_ratios": listed(self.aspect_ratios),
            "aspect_ratio_default": self.aspect_ratio_default,
            "aspect_ratios_with_images": listed(self.aspect_ratios_with_images),
            "aspect_ratio_default_with_images": self.aspect_ratio_default_with_images,
            "media": {
                name: {
                    "min": limit.minimum,
                    "max": limit.maximum,
                    "required": limit.required,
                    "max_mb": limit.max_mb,
                    "formats": listed(limit.formats),
                }
                for name, limit in self.media.items()
            },
            "audio_alone": self.audio_alone,
            "media_required": self.media_required,
            "model_params": sorted(self.model_params),
            "output_formats": listed(self.output_formats),
        }

    def ratios(self, *, with_images: bool) -> tuple[str, ...] | None:
        """The aspect ratios it takes for a request with or without images (1.0 pro fast allows
        ``adaptive`` and ``keep_ratio`` only with an image)."""
        return self.aspect_ratios_with_images if with_images else self.aspect_ratios

    def takes(self, field: str) -> bool:
        """Whether the request field (``model_params.web_search`` for the nested one) is the model's."""
        if field.startswith("model_params."):
            return field.split(".", 1)[1] in self.model_params
        return field in self.fields

    @property
    def family(self) -> str:
        """``1.0``, ``1.5``, ``2.0``, ``2.5``: the generation, from the id."""
        for generation in ("1.0", "1.5", "2.0", "2.5"):
            if f"-{generation}-" in self.id:
                return generation
        return "?"

    @property
    def tier(self) -> str:
        """``standard``, ``fast`` or ``mini`` (the ids say it: ``seedance-2.0-fast-...``)."""
        for tier in ("fast", "mini"):
            if f"-{tier}" in self.id:
                return tier
        return "standard"

    @property
    def durations(self) -> str:
        """The durations it takes, as people write them: ``4-15``, ``4-30 or auto``, ``auto``."""
        span = (
            f"{self.duration_min}-{self.duration_max}"
            if self.duration_min is not None and self.duration_max is not None
            else ""
        )
        if self.duration_auto:
            return f"{span} or auto" if span else "auto"
        return span or "any"


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if isinstance(value, list) else None


@functools.cache
def catalogue() -> dict[str, ModelSpec]:
    """Every model the catalogue knows, by id: the default first, then by generation, tier
    (standard, fast, mini) and mode, as ``scripts/catalogue.py`` orders them."""
    entries = json.loads(DATA.read_text(encoding="utf-8"))
    return {entry["id"]: ModelSpec.from_entry(entry) for entry in entries}


def spec(model_id: str) -> ModelSpec | None:
    """The model's entry; ``None`` for an id the catalogue does not know (a newer model: it is
    sent with the generic checks only, never blocked by an old catalogue)."""
    return catalogue().get(model_id)


def closest(model_id: str, count: int = 3) -> list[str]:
    """The known ids nearest to ``model_id``, for a warning about an unknown one: ids that
    contain what was typed first (``seedance-2.5``, ``2.0-fast``), then the most alike."""
    known = list(catalogue())
    typed = model_id.strip().lower()
    found = [name for name in known if typed in name] if len(typed) >= 3 else []
    alike = difflib.get_close_matches(typed, known, n=count, cutoff=0.5)
    return list(dict.fromkeys(found + alike))[: max(count, min(len(found), 5))]
