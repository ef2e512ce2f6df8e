"""What the emulated server accepts on create: every model's own rules, and what a request resolves to.

This is the server's side, written apart from the client's checks (``models.GenerationRequest``) so
that one cannot hide the other's mistakes; both read the model catalogue, which a test holds to the
official files. The real API is strict: a field the model does not take is refused, not ignored.
``check`` returns the first rule a body breaks as ``(param, message)``; ``resolve`` what a valid body
asks for once the model's defaults fill the gaps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

from ..catalogue import DEFAULT_MODEL, ModelSpec, catalogue, closest

Problem = tuple[str, str]

#: ``duration: -1`` asks the model to pick the length itself.
AUTO: Final = -1
#: The prompt cap where a model's file states none in characters (2.x counts 10,000 tokens, which
#: the emulator cannot count): far above any real prompt, far below the body limit.
PROMPT_SANE_MAX_CHARS: Final = 100_000
CALLBACK_URL_MAX_CHARS: Final = 2048
MEDIA_FIELDS: Final = ("image_urls", "video_urls", "audio_urls")
#: The lengths an automatic duration may come out as when the model's file gives no range (2.5
#: video edit follows its input video, which the emulator never fetches).
AUTO_FALLBACK_RANGE: Final = (4, 15)
#: What each model makes when ``output_format`` is absent or not one of its fields.
DEFAULT_FORMAT: Final = "mp4"


def split_url(url: object) -> SplitResult | None:
    """``url`` split, or ``None`` when it is not a string or cannot be parsed (``http://[oops``)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range or not a number
    except ValueError:
        return None
    return parts


def _internal_host(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return bool(re.fullmatch(r"[0-9.]+|0x[0-9a-f.x]+", host))  # odd numeric spellings
    return not addr.is_global


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_of(name: str, allowed: tuple[str, ...], value: object) -> Problem:
    return (name, f"{name} must be one of {', '.join(allowed)}, got {value!r}")


# -- the checks, in the order the server applies them -------------------------------------------


def check(body: object) -> Problem | None:
    """The first rule ``body`` breaks, as ``(param, message)``, else ``None``."""
    if not isinstance(body, dict):
        return ("body", "Request body must be a JSON object")
    model = body.get("model")
    if model is None:
        return ("model", "model is required")
    spec = catalogue().get(model) if isinstance(model, str) else None
    if spec is None:
        return ("model", _unsupported(model))
    for step in _STEPS:
        problem = step(spec, body)
        if problem is not None:
            return problem
    return None


def _unsupported(model: object) -> str:
    if not isinstance(model, str):
        return "model must be a string naming a model"
    near = closest(model)
    return f"Unsupported model: {model!r}" + (f"; did you mean {', '.join(near)}?" if near else "")


def _fields(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    for name in body:
        if name not in spec.fields:
            return (name, f"{name} is not a parameter of {spec.id}")
    return None


def _prompt(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return ("prompt", "prompt is required and must be a non-empty string")
    limit = spec.prompt_max_chars or PROMPT_SANE_MAX_CHARS
    if len(prompt) > limit:
        return ("prompt", f"prompt must be at most {limit} characters, got {len(prompt)}")
    return None


def _media(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    for name, limit in spec.media.items():
        urls = body.get(name)
        least = max(limit.minimum, 1 if limit.required else 0)
        if urls is None:
            if limit.required:
                return (name, f"{name} is required by {spec.id}: give at least {least}")
            continue
        if not isinstance(urls, list):
            return (name, f"{name} must be an array of URLs")
        if len(urls) < least:
            return (name, f"{name} needs at least {least} for {spec.id}, got {len(urls)}")
        if limit.maximum is not None and len(urls) > limit.maximum:
            return (
                name,
                f"{name} supports at most {limit.maximum} for {spec.id}, got {len(urls)}",
            )
        for url in urls:
            parts = split_url(url)
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                return (name, f"{name} must hold http(s) URLs, got {url!r}")
    return _media_together(spec, body)


def _media_together(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    given = {name for name in MEDIA_FIELDS if body.get(name)}
    if not spec.audio_alone and given == {"audio_urls"}:
        return (
            "audio_urls",
            f"audio_urls cannot be given alone to {spec.id}: add an image or a video",
        )
    if spec.media_required and not given:
        return (
            "image_urls",
            f"{spec.id} needs at least one of image_urls, video_urls or audio_urls",
        )
    return None


def _duration(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    duration = body.get("duration")
    if duration is None:
        return None
    low, high = spec.duration_min, spec.duration_max
    if low is None or high is None:  # automatic only: the length follows the input video
        if duration != AUTO or not _is_int(duration):
            return ("duration", f"duration must be -1 (automatic) for {spec.id}, got {duration!r}")
        return None
    if _is_int(duration) and (low <= duration <= high or (spec.duration_auto and duration == AUTO)):
        return None
    auto = " or -1 (automatic)" if spec.duration_auto else ""
    return ("duration", f"duration must be an integer from {low} to {high}{auto}, got {duration!r}")


def _choices(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    with_images = bool(body.get("image_urls"))
    for name, allowed in (
        ("quality", spec.qualities),
        ("aspect_ratio", spec.ratios(with_images=with_images)),
        ("output_format", spec.output_formats),
    ):
        value = body.get(name)
        if value is None or allowed is None or value in allowed:
            continue
        problem = _one_of(name, allowed, value)
        if name == "aspect_ratio" and value in (spec.ratios(with_images=True) or ()):
            return (name, problem[1] + " (that one only with image_urls)")
        return problem
    return None


def _flags(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    for name in ("generate_audio", "content_filter"):
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            return (name, f"{name} must be a boolean")
    return None


def _model_params(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    params = body.get("model_params")
    if params is None:
        return None
    if not isinstance(params, dict):
        return ("model_params", "model_params must be an object")
    for key, value in params.items():
        name = f"model_params.{key}"
        if key not in spec.model_params:
            return (name, f"{name} is not a parameter of {spec.id}")
        if not isinstance(value, bool):
            return (name, f"{name} must be a boolean")
    if params.get("web_search") is True and body.get("content_filter") is False:
        return (
            "content_filter",
            "content_filter cannot be false together with model_params.web_search",
        )
    return None


def _callback(spec: ModelSpec, body: dict[str, Any]) -> Problem | None:
    callback = body.get("callback_url")
    if callback is None:
        return None
    parts = split_url(callback)
    if not isinstance(callback, str) or parts is None or parts.scheme != "https":
        return ("callback_url", "callback_url must be an HTTPS URL")
    if not parts.hostname:
        return ("callback_url", "callback_url must be an HTTPS URL with a host")
    if len(callback) > CALLBACK_URL_MAX_CHARS:
        return (
            "callback_url",
            f"callback_url must be at most {CALLBACK_URL_MAX_CHARS} characters",
        )
    if _internal_host(parts.hostname):
        return ("callback_url", "callback_url must not point to an internal network address")
    return None


_STEPS: Final[tuple[Callable[[ModelSpec, dict[str, Any]], Problem | None], ...]] = (
    _fields,
    _prompt,
    _media,
    _duration,
    _choices,
    _flags,
    _model_params,
    _callback,
)


# -- what a valid request asks for ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A valid request with the model's defaults filled in. ``seconds`` is the length the video
    comes out as; ``auto`` says the model picked it (then it is known only once completed)."""

    model: str
    quality: str | None
    aspect_ratio: str | None
    seconds: int
    auto: bool
    output_format: str
    generate_audio: bool


def resolve(body: Mapping[str, Any]) -> Resolved:
    """What a body that passed ``check`` asks for; absent fields take the model's defaults. (Any
    other body gets an answer too, never an exception: the default model's, where its own fails.)"""
    model = body.get("model")
    spec = catalogue().get(model) if isinstance(model, str) else None
    spec = spec or catalogue()[DEFAULT_MODEL]
    asked = body.get("duration")
    duration = asked if _is_int(asked) else spec.duration_default
    auto = duration is None or duration == AUTO
    seconds = (
        auto_seconds(spec, str(body.get("prompt", ""))) if duration is None or auto else duration
    )
    if spec.mode == "video-edit":  # the output follows the first video, taken to be this long
        seconds = REFERENCE_VIDEO_SECONDS
    ratio = (
        spec.aspect_ratio_default_with_images
        if body.get("image_urls")
        else spec.aspect_ratio_default
    )
    output_format = body.get("output_format")
    return Resolved(
        model=spec.id,
        quality=_word(body.get("quality")) or spec.quality_default,
        aspect_ratio=_word(body.get("aspect_ratio")) or ratio,
        seconds=seconds,
        auto=auto,
        output_format=output_format
        if output_format in (spec.output_formats or ())
        else DEFAULT_FORMAT,
        generate_audio=body.get("generate_audio", True) is not False,
    )


def _word(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


#: How long the emulator takes each reference video to be (it never fetches them): the length an
#: edit's output follows, and what a reference video adds to a price.
REFERENCE_VIDEO_SECONDS: Final = 5


def auto_seconds(spec: ModelSpec, prompt: str) -> int:
    """The length the model "picks" for ``duration: -1``: within its range, the same for the same
    prompt, so that a test can know it in advance."""
    low, high = (
        (spec.duration_min, spec.duration_max)
        if spec.duration_min is not None and spec.duration_max is not None
        else AUTO_FALLBACK_RANGE
    )
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).digest()
    return low + int.from_bytes(digest[:4], "big") % (high - low + 1)
