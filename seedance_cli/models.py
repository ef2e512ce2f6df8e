"""Requests and answers of the EvoLink API as plain data, with the rules of API.md enforced locally."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeGuard
from urllib.parse import urlsplit

from .errors import MAX_MESSAGE_CHARS, BadResponse, ConfigError, ValidationError, clip

if TYPE_CHECKING:
    import ipaddress

    from .catalogue import ModelSpec

DEFAULT_BASE_URL: Final = "https://api.evolink.ai"
DEFAULT_FILES_URL: Final = "https://files-api.evolink.ai"
MODEL: Final = "seedance-1.5-pro"
PROMPT_MAX_CHARS: Final = 2000
MAX_IMAGES: Final = 2
DURATION_MIN: Final = 4
DURATION_MAX: Final = 12
QUALITIES: Final = ("480p", "720p", "1080p")
ASPECT_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive")
CALLBACK_URL_MAX_CHARS: Final = 2048
#: Timestamps after this (the year 5138) are not seconds: ``created`` in milliseconds is common.
MAX_EPOCH: Final = 1e11
#: Longest duration an answer may state (an estimate): a year. Anything above is absurd.
MAX_SECONDS: Final = 366 * 86400.0
#: The most credits one task may state (reserved, charged...): a figure above it, or below 0, is
#: absurd and read as absent (a video costs at most about a thousand credits).
MAX_CREDITS: Final = 1e9
#: Task ids are put into a URL path; anything outside this set could change the request's meaning.
TASK_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """What a JSON value is, in words, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "null" if value is None else "a number"


def _text(value: object, limit: int) -> str | None:
    """A non-empty string field, cut to ``limit`` characters; anything else is ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    return clip(value, limit)


def _number(value: object, low: float, high: float) -> float | None:
    """A finite number field, clamped to ``[low, high]``; anything else (a string, a boolean,
    ``NaN``, an integer beyond any float) is ``None``."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    if not math.isfinite(number):
        return None
    return min(high, max(low, number))


def _amount(value: object) -> float | None:
    """A number of credits a task states; ``None`` when absent, not a number, negative or absurd
    (never clamped: a lying server must not make a task look as if it cost a billion)."""
    number = _number(value, -1.0, MAX_CREDITS + 1)
    return number if number is not None and 0 <= number <= MAX_CREDITS else None


def epoch_seconds(number: float) -> float | None:
    """A timestamp as epoch seconds: one in milliseconds, microseconds or nanoseconds is scaled
    down; a negative, non-finite or still absurd one (after the year 5000) is ``None``. The one
    rule for answers (``created``) and for what the history stored."""
    if not math.isfinite(number) or number < 0:
        return None
    for _ in range(4):
        if number < MAX_EPOCH:
            return number
        number /= 1000
    return None


def _epoch_seconds(value: object) -> int | None:
    """A ``created`` timestamp of an answer as whole epoch seconds (see ``epoch_seconds``)."""
    number = _number(value, -1.0, 1e300)
    seconds = epoch_seconds(number) if number is not None else None
    return int(seconds) if seconds is not None else None


def parse_ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL host stands for when it is an IP literal, in any spelling, else ``None``.

    Besides the canonical forms this catches the legacy IPv4 spellings that resolvers accept
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``), which would otherwise slip a loopback address past a
    string check.
    """
    import ipaddress  # only URL checks need it; kept off the start-up path

    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", host, re.IGNORECASE):
        import socket

        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` names and loopback IP literals."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    addr = parse_ip_literal(host)
    return addr is not None and addr.is_loopback


def is_internal_host(host: str) -> bool:
    """True for hosts the API refuses as callback targets: loopback, private, link-local, reserved."""
    if is_loopback_host(host):
        return True
    addr = parse_ip_literal(host.lower().rstrip("."))
    if addr is None:
        return False
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


def check_http_url(field: str, url: object, *, https_only: bool = False) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host, else raise ``ValidationError``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(field, "must be a URL")
    if url != url.strip() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValidationError(field, "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise ValidationError(field, f"is not a valid URL ({exc})") from None
    del port
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in allowed:
        need = "an https:// URL" if https_only else "an http:// or https:// URL"
        raise ValidationError(field, f"must be {need}, got {url!r}")
    if not parts.hostname:
        raise ValidationError(field, f"has no host: {url!r}")
    return url


#: What ``history --status`` accepts: the API's statuses and the history's own create states
#: (``ledger.CREATING``, ``ledger.UNKNOWN``; named here so that ``--help`` needs no sqlite3).
HISTORY_STATUSES = (
    "pending",
    "processing",
    "completed",
    "failed",
    "cancelled",
    "creating",
    "outcome_unknown",
)


def check_base_url(url: str, *, what: str = "base URL") -> str:
    """Return ``url`` without a trailing slash if it is a safe API origin, else raise ``ConfigError``.

    https is required, except for loopback addresses (the emulator). User info, queries and fragments
    are refused: a base URL is an origin, optionally with a path prefix, to which paths are appended.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"invalid {what} {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise ConfigError(f"invalid {what} {url!r}: expected https://HOST")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"invalid {what}: no credentials, query or fragment allowed")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v1") or "/v1/" in path.lower():
        raise ConfigError(
            f"invalid {what} {url!r}: give the origin without /v1; seedance appends the paths",
            hint=f"for example {scheme}://{parts.netloc}",
        )
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigError(
            f"refusing plain http:// {what} {url!r}: the API key would travel unencrypted",
            hint="use https://, or http:// only with a loopback address such as 127.0.0.1",
        )
    return url.strip().rstrip("/")


def api_origin(base_url: str | None) -> str:
    """``base_url`` normalised: scheme and host in lower case, no default port, no trailing /."""
    if not base_url:
        return ""
    try:
        parts = urlsplit(base_url.strip())
        port = parts.port
    except ValueError:  # not a URL at all: only the very same text is the same API
        return base_url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = (
        host
        if port is None or port == {"http": 80, "https": 443}.get(scheme)
        else (f"{host}:{port}")
    )
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def same_api(stored: str | None, base_url: str) -> bool:
    """Whether a history row's API (``None``: not recorded, taken as this one) is ``base_url``,
    compared by ``api_origin``."""
    return stored is None or api_origin(stored) == api_origin(base_url)


def check_api_key(api_key: str | None) -> str:
    """Return the key if it can be sent in a header, else raise ``ConfigError`` (never echoing it)."""
    if api_key is None or not api_key.strip():
        raise ConfigError("no API key")
    if any(not (0x21 <= ord(c) <= 0x7E) for c in api_key):
        raise ConfigError("the API key contains spaces, control or non-ASCII characters")
    return api_key


def is_utf8_text(value: str) -> bool:
    """Whether ``value`` can be sent as UTF-8 (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: ``duration: -1``: the model picks the length (2.5), billed on what it produced.
AUTO_DURATION: Final = -1
#: The prompt limit where a model's file states none in characters (2.x counts 10,000 tokens):
#: a sane local cap only, far above any real prompt; the API judges the tokens.
PROMPT_SANE_MAX_CHARS: Final = 100_000
#: Generic limits for a model the catalogue does not know: wide, so that a newer model is never
#: blocked by an older version of this tool, yet nothing absurd is sent.
GENERIC_DURATION_MAX: Final = 600
GENERIC_MEDIA_MAX: Final = 100
MEDIA_FIELDS: Final = ("image_urls", "video_urls", "audio_urls")
#: What one item of each medium is called in messages.
MEDIUM_NAME: Final = {"image_urls": "image", "video_urls": "video", "audio_urls": "audio clip"}
_WORD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,63}")


def is_model_name(value: object) -> bool:
    """Whether ``value`` could be a model id (a word of letters, digits, ``:._-``), known or not."""
    return isinstance(value, str) and _WORD.fullmatch(value) is not None


def _models_taking(model: str, test: Callable[[ModelSpec], bool]) -> str:
    """The known models for which ``test`` holds, for a hint: those of the same kind as ``model``
    first (text- and image-to-video for 1.x, which does both), then in the catalogue's order."""
    from .catalogue import catalogue

    known = catalogue()
    mode = known[model].mode if model in known else ""
    kinds = {mode, *(("text-to-video", "image-to-video") if "-or-" in mode else ())}
    names = [spec.id for spec in known.values() if test(spec)]
    if not names:
        return "no model this version knows takes it; 'seedance models' shows each model's rules"
    names.sort(key=lambda name: known[name].mode not in kinds)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"models that take it: {shown} (see 'seedance models')"


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """One create request, checked on construction against the rules of its model
    (``ValidationError`` naming the field and the model).

    The rules come from the model catalogue (``catalogue.py``, derived from EvoLink's official file
    of each model). A model the catalogue does not know gets the generic checks only (types, URLs,
    sane limits): a newer model must not be blocked by an older catalogue; ``known_model`` tells.

    ``None`` (or an empty tuple) means "not set": the field is left out of the body and the model's
    own default applies. ``duration=-1`` (``AUTO_DURATION``) asks the model to pick the length,
    where it allows that. ``web_search`` travels as ``model_params.web_search``.
    """

    prompt: str
    image_urls: Sequence[str] = ()  # kept as a tuple
    duration: int | None = None
    quality: str | None = None
    aspect_ratio: str | None = None
    generate_audio: bool | None = None
    callback_url: str | None = None
    model: str = MODEL
    video_urls: Sequence[str] = ()
    audio_urls: Sequence[str] = ()
    content_filter: bool | None = None
    web_search: bool | None = None
    output_format: str | None = None

    def __post_init__(self) -> None:
        for name in MEDIA_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):  # one URL is not a list of its characters
                raise ValidationError(name, "must be a list of URLs")
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        self._check_text()
        spec = self.spec
        self._check(spec)
        if spec is not None:
            self._check_model(spec)

    @property
    def spec(self) -> ModelSpec | None:
        """The catalogue's entry of the model; ``None`` when this version does not know it."""
        from .catalogue import spec

        return spec(self.model) if isinstance(self.model, str) else None

    @property
    def known_model(self) -> bool:
        return self.spec is not None

    def _check_text(self) -> None:
        """Text a JSON body cannot carry: bytes that were not UTF-8 (a command line or stdin in
        another encoding reaches Python as lone surrogates)."""
        fields: list[tuple[str, object]] = [("model", self.model), ("prompt", self.prompt)]
        for name in MEDIA_FIELDS:
            fields += [(name, url) for url in getattr(self, name)]
        fields.append(("callback_url", self.callback_url))
        for name, value in fields:
            if isinstance(value, str) and not is_utf8_text(value):
                raise ValidationError(name, "is not valid UTF-8 text")

    def _check(self, spec: ModelSpec | None) -> None:
        """The rules every model shares (and all a model the catalogue does not know gets)."""
        if not is_model_name(self.model):
            raise ValidationError(
                "model",
                f"{self.model!r} is not a model name (letters, digits, '.', '-', no spaces), "
                "such as seedance-2.0-text-to-video",
            )
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValidationError("prompt", "must not be empty")
        limit = spec.prompt_max_chars if spec is not None else None
        if spec is not None and limit is not None and len(self.prompt) > limit:
            raise ValidationError(
                "prompt", f"is {len(self.prompt)} characters; {spec.id} takes at most {limit}"
            )
        if len(self.prompt) > PROMPT_SANE_MAX_CHARS:
            raise ValidationError(
                "prompt",
                f"is {len(self.prompt)} characters; at most {PROMPT_SANE_MAX_CHARS} are sent",
            )
        for name in MEDIA_FIELDS:
            urls = getattr(self, name)
            if len(urls) > GENERIC_MEDIA_MAX:
                raise ValidationError(name, f"{len(urls)} URLs given; at most {GENERIC_MEDIA_MAX}")
            for url in urls:
                check_http_url(name, url)
        if self.duration is not None:
            if not isinstance(self.duration, int) or isinstance(self.duration, bool):
                raise ValidationError("duration", "must be a whole number of seconds, or auto")
            generic = spec is None and self.duration != AUTO_DURATION
            if generic and not 1 <= self.duration <= GENERIC_DURATION_MAX:
                raise ValidationError(
                    "duration",
                    f"must be 1 to {GENERIC_DURATION_MAX} seconds or auto, got {self.duration}",
                )
        for name in ("quality", "aspect_ratio", "output_format"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _WORD.fullmatch(value)):
                raise ValidationError(
                    name, f"must be a word such as 720p, 16:9 or mp4, got {value!r}"
                )
        for name in ("generate_audio", "content_filter", "web_search"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValidationError(_field(name), "must be true or false")
        if self.content_filter is False and self.web_search is True:
            raise ValidationError(
                "content_filter",
                "cannot be off together with web search (the API refuses the pair)",
            )
        if self.callback_url is not None:
            url = check_http_url("callback_url", self.callback_url, https_only=True)
            if len(url) > CALLBACK_URL_MAX_CHARS:
                raise ValidationError(
                    "callback_url",
                    f"is {len(url)} characters; at most {CALLBACK_URL_MAX_CHARS} are allowed",
                )
            host = urlsplit(url).hostname or ""
            if is_internal_host(host):
                raise ValidationError(
                    "callback_url",
                    f"points at a private or loopback address ({host}); the API refuses those",
                )

    def _check_model(self, spec: ModelSpec) -> None:
        """The rules of ``spec``'s official file: fields it takes, ranges, counts, combinations."""
        model = spec.id
        for name in self._given():
            if not spec.takes(name):
                raise ValidationError(
                    name,
                    f"{model} does not take {_what(name)}",
                    hint=_models_taking(model, lambda s, n=name: s.takes(n)),  # type: ignore[misc]
                )
        self._check_duration(spec)
        if self.quality is not None and spec.qualities and self.quality not in spec.qualities:
            raise ValidationError(
                "quality",
                f"{model} takes {', '.join(spec.qualities)}, got {self.quality!r}",
                hint=_models_taking(model, lambda s: self.quality in (s.qualities or ())),
            )
        ratios = spec.ratios(with_images=bool(self.image_urls))
        if self.aspect_ratio is not None and ratios and self.aspect_ratio not in ratios:
            extra = spec.ratios(with_images=True) or ()
            note = " (that one only with an image)" if self.aspect_ratio in extra else ""
            raise ValidationError(
                "aspect_ratio",
                f"{model} takes {', '.join(ratios)}, got {self.aspect_ratio!r}{note}",
            )
        formats = spec.output_formats
        if self.output_format is not None and formats and self.output_format not in formats:
            raise ValidationError(
                "output_format",
                f"{model} takes {', '.join(formats)}, got {self.output_format!r}",
            )
        self._check_media(spec)

    def _given(self) -> list[str]:
        """The request fields this request sets (the nested one as ``model_params.web_search``)."""
        given = [name for name in MEDIA_FIELDS if getattr(self, name)]
        given += [
            name
            for name in (
                "duration",
                "quality",
                "aspect_ratio",
                "generate_audio",
                "callback_url",
                "content_filter",
                "output_format",
            )
            if getattr(self, name) is not None
        ]
        if self.web_search is not None:
            given.append("model_params.web_search")
        return given

    def _check_duration(self, spec: ModelSpec) -> None:
        if self.duration is None:
            return
        model = spec.id
        if self.duration == AUTO_DURATION:
            if not spec.duration_auto:
                raise ValidationError(
                    "duration",
                    f"{model} does not pick the length itself (auto); give "
                    f"{spec.duration_min} to {spec.duration_max} seconds",
                    hint=_models_taking(model, lambda s: s.duration_auto),
                )
            return
        low, high = spec.duration_min, spec.duration_max
        if low is None or high is None:  # automatic only (2.5 video edit)
            raise ValidationError(
                "duration",
                f"{model} takes only auto (the length follows the input video), "
                f"got {self.duration}",
            )
        if not low <= self.duration <= high:
            raise ValidationError(
                "duration",
                f"{model} takes {low} to {high} seconds"
                + (" or auto" if spec.duration_auto else "")
                + f", got {self.duration}",
                hint=_models_taking(
                    model,
                    lambda s: _in_range(self.duration, s.duration_min, s.duration_max),
                ),
            )

    def _check_media(self, spec: ModelSpec) -> None:
        model = spec.id
        for name in MEDIA_FIELDS:
            limit = spec.media.get(name)
            count = len(getattr(self, name))
            if limit is None:
                continue  # not taken at all: refused above when given
            if limit.required and count == 0:
                raise ValidationError(
                    name, f"{model} needs at least {max(1, limit.minimum)} {MEDIUM_NAME[name]}"
                )
            if count and count < limit.minimum:
                raise ValidationError(
                    name, f"{model} takes at least {limit.minimum} when any is given, got {count}"
                )
            if limit.maximum is not None and count > limit.maximum:
                raise ValidationError(
                    name,
                    f"{count} given; {model} takes at most {limit.maximum}"
                    + (
                        " (first frame, then last frame)"
                        if name == "image_urls" and limit.maximum == 2
                        else ""
                    ),
                )
        if self.audio_urls and not spec.audio_alone and not (self.image_urls or self.video_urls):
            raise ValidationError(
                "audio_urls",
                f"{model} does not take audio alone; give at least one image or video with it",
            )
        if spec.media_required and not any(getattr(self, name) for name in MEDIA_FIELDS):
            raise ValidationError(
                "image_urls",
                f"{model} needs at least one reference: an image, a video or an audio clip",
            )

    def to_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/videos/generations``; unset fields are left out."""
        body: dict[str, Any] = {"model": self.model, "prompt": self.prompt}
        for name in MEDIA_FIELDS:
            if getattr(self, name):
                body[name] = list(getattr(self, name))
        for name in (
            "duration",
            "quality",
            "aspect_ratio",
            "generate_audio",
            "content_filter",
            "output_format",
            "callback_url",
        ):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.web_search is not None:
            body["model_params"] = {"web_search": self.web_search}
        return body


def _in_range(value: int | None, low: int | None, high: int | None) -> bool:
    """Whether ``value`` is within a model's range (a model with none takes only auto)."""
    return value is not None and low is not None and high is not None and low <= value <= high


def _field(name: str) -> str:
    """The request field an attribute fills (``web_search`` travels in ``model_params``)."""
    return "model_params.web_search" if name == "web_search" else name


def _what(field: str) -> str:
    """A field in words, for "MODEL does not take ..."."""
    return {
        "image_urls": "images",
        "video_urls": "reference videos",
        "audio_urls": "reference audio",
        "generate_audio": "generate_audio (it makes no audio choice)",
        "model_params.web_search": "web search",
        "output_format": "output_format (it makes mp4 only)",
    }.get(field, field)


def check_idempotency_key(key: str) -> str:
    """Return ``key`` if it can travel in a header: 1-255 printable ASCII characters, no spaces."""
    if not 0 < len(key) <= 255 or any(not 0x21 <= ord(c) <= 0x7E for c in key):
        raise ValidationError(
            "idempotency_key", "must be 1-255 printable ASCII characters without spaces"
        )
    return key


def check_task_id(task_id: str) -> str:
    """Return ``task_id`` if it is safe to put into a URL path, else raise ``ValidationError``.

    The ``task-unified-`` prefix is left for the API to judge (``400 invalid_task_id``), so that a
    new id form of the service does not break this tool.
    """
    if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id):
        raise ValidationError(
            "task_id",
            f"{task_id!r} is not a task id (expected e.g. task-unified-1761313744-vux2jw0k)",
        )
    return task_id


class TaskStatus:
    """Task status names and the sets that drive control flow. Never compare single strings.

    An unknown status counts as still running: it is in none of the sets.
    """

    PENDING: Final = "pending"
    PROCESSING: Final = "processing"
    COMPLETED: Final = "completed"
    FAILED: Final = "failed"
    CANCELLED: Final = "cancelled"

    SUCCEEDED: Final = frozenset({COMPLETED})
    UNSUCCESSFUL: Final = frozenset({FAILED, CANCELLED})
    TERMINAL: Final = SUCCEEDED | UNSUCCESSFUL


@dataclasses.dataclass(frozen=True)
class TaskError:
    """Why a task failed. ``code`` is a string such as ``content_policy_violation``."""

    code: str
    message: str
    type: str | None = None

    #: Codes that will fail again if resent as they are (API.md).
    NOT_RETRYABLE: ClassVar[frozenset[str]] = frozenset(
        {
            "content_policy_violation",
            "invalid_parameters",
            "image_processing_error",
            "image_dimension_mismatch",
            "request_cancelled",
        }
    )

    @property
    def retryable(self) -> bool:
        """True when a later, identical create may succeed (a service-side failure)."""
        return self.code not in self.NOT_RETRYABLE


#: API.md's failure codes "worth a later retry": what ``batch --retry-failed`` makes again (a task
#: that failed with no error at all counts as ``unknown_error``). Stricter than
#: ``TaskError.retryable``, which only rules out the codes known not to be worth it: a retry is
#: paid for, so only a code said to be worth it earns one.
RETRY_WORTHY: Final = frozenset(
    {
        "generation_failed_no_content",
        "service_error",
        "generation_timeout",
        "resource_exhausted",
        "quota_exceeded",
        "service_unavailable",
        "resource_not_found",
        "unknown_error",
    }
)


def retry_worthy(code: str | None) -> bool:
    """Whether a task that failed with ``code`` (``None``: no error given) may be made again."""
    return (code or "unknown_error") in RETRY_WORTHY


@dataclasses.dataclass(frozen=True)
class Billing:
    """A task's ``billing`` object (API.md, seen only in EvoLink's own CLI: uncertain). Each figure
    is ``None`` when absent or absurd; ``charge_status`` is ``reserved``, ``charged`` or
    ``released`` as sent (any other word is kept, never trusted for control flow)."""

    charge_status: str | None
    reserved: float | None
    charged: float | None
    refunded: float | None

    @classmethod
    def from_api(cls, data: object) -> Billing | None:
        if not isinstance(data, dict):
            return None
        billing = cls(
            charge_status=_text(data.get("charge_status"), 32),
            reserved=_amount(data.get("reserved_credits")),
            charged=_amount(data.get("charged_credits")),
            refunded=_amount(data.get("refunded_credits")),
        )
        return billing if billing != cls(None, None, None, None) else None


@dataclasses.dataclass(frozen=True)
class Task:
    """A generation task as the API returned it. ``raw`` keeps the answer untouched for ``--json``.

    ``replayed``: the create was answered with ``idempotency-replayed: true`` (the original task,
    no new charge); set by the client from the answer's header."""

    id: str
    status: str
    progress: int
    results: tuple[str, ...]
    error: TaskError | None
    created: int | None
    model: str | None
    estimated_time: float | None
    credits_reserved: float | None
    raw: Mapping[str, Any]
    billing: Billing | None = None
    credits_used: float | None = None
    replayed: bool = False

    @classmethod
    def from_api(cls, data: object, *, default_status: str | None = None) -> Task:
        """Build a task from a create or query answer. The id is sacred; everything else is best
        effort: a field that is absent, of the wrong type or absurd (``NaN``, ``1e999``, a progress
        of ``1e9``) becomes ``None`` (or 0, or empty), never a crash.

        Raises ``BadResponse`` only when there is no usable task id, or no status and no
        ``default_status`` (a create passes ``"pending"``: its answer is useful with an id alone).
        """
        if not isinstance(data, dict):
            raise BadResponse(f"expected a task object, got {_kind(data)}")
        task_id = data.get("id")
        if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id):
            raise BadResponse(
                "the answer has no task id"
                if not isinstance(task_id, str) or not task_id
                else "the answer's task id is not one (unexpected characters or length)"
            )
        status = _text(data.get("status"), 64) or default_status
        if status is None:
            raise BadResponse(f"task {task_id}: the answer has no status")
        results_raw = data.get("results")
        results = (
            tuple(r for r in results_raw if isinstance(r, str) and r)
            if isinstance(results_raw, list)
            else ()
        )
        err = data.get("error")
        error = None
        if isinstance(err, dict):
            code = err.get("code")
            code_text = _text(code, 100) if isinstance(code, str) else None
            if code_text is None and _is_number(code) and math.isfinite(code):
                code_text = str(int(code))
            error = TaskError(
                code=code_text or "unknown_error",
                message=_text(err.get("message"), MAX_MESSAGE_CHARS) or "",
                type=_text(err.get("type"), 100),
            )
        info = data.get("task_info")
        usage = data.get("usage")
        progress = _number(data.get("progress"), 0.0, 1e300)
        return cls(
            id=task_id,
            status=status,
            progress=int(min(100.0, progress)) if progress is not None else 0,
            results=results,
            error=error,
            created=_epoch_seconds(data.get("created")),
            model=_text(data.get("model"), 200),
            estimated_time=_number(
                info.get("estimated_time") if isinstance(info, dict) else None, 0.0, MAX_SECONDS
            ),
            credits_reserved=_amount(
                usage.get("credits_reserved") if isinstance(usage, dict) else None
            ),
            raw=data,
            billing=Billing.from_api(data.get("billing")),
            credits_used=_amount(usage.get("credits_used") if isinstance(usage, dict) else None),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TaskStatus.TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status in TaskStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        """True for ``failed`` and ``cancelled``; such a task may come without ``error``."""
        return self.status in TaskStatus.UNSUCCESSFUL

    @property
    def video_url(self) -> str | None:
        """The result video (``results[0]``), when the task completed with one."""
        return self.results[0] if self.succeeded and self.results else None


@dataclasses.dataclass(frozen=True)
class CreditBalance:
    remaining: float
    used: float
    unlimited: bool = False


@dataclasses.dataclass(frozen=True)
class Credits:
    """``token`` is this key's own limit, ``user`` the account's balance."""

    token: CreditBalance
    user: CreditBalance
    raw: Mapping[str, Any]

    @classmethod
    def from_api(cls, data: object) -> Credits:
        """Build from the ``GET /v1/credits`` answer; raises ``BadResponse`` on another shape."""
        payload = data.get("data") if isinstance(data, dict) else None
        if not isinstance(payload, dict):
            raise BadResponse("the credits answer has no data object")

        def balance(name: str) -> CreditBalance:
            part = payload.get(name)
            if not isinstance(part, dict):
                raise BadResponse(f"the credits answer has no {name} object")
            remaining = _number(part.get("remaining_credits"), -1e300, 1e300)
            used = _number(part.get("used_credits"), -1e300, 1e300)
            if remaining is None or used is None:
                raise BadResponse(f"the credits answer has no numbers for {name}")
            return CreditBalance(
                remaining=remaining,
                used=used,
                unlimited=part.get("unlimited_credits") is True,
            )

        assert isinstance(data, dict)
        return cls(token=balance("token"), user=balance("user"), raw=data)


@dataclasses.dataclass(frozen=True)
class UploadedFile:
    """A file in EvoLink's files API: ``file_url`` goes into ``image_urls``; it expires in 72 h."""

    file_url: str
    file_id: str | None
    expires_at: str | None
    raw: Mapping[str, Any]

    @classmethod
    def from_api(cls, data: object) -> UploadedFile:
        if not isinstance(data, dict) or not isinstance(data.get("file_url"), str):
            raise BadResponse("the upload answer has no file_url")
        file_id, expires = data.get("file_id"), data.get("expires_at")
        return cls(
            file_url=data["file_url"],
            file_id=file_id if isinstance(file_id, str) else None,
            expires_at=expires if isinstance(expires, str) else None,
            raw=data,
        )


#: The most entries of a ``GET /v1/models`` answer read: EvoLink lists every model of the key
#: (chat, image, video), a few hundred at most; an answer of a million is not looked through.
MAX_LISTED_MODELS: Final = 10_000
#: A model id longer than this, or with control characters, is no id: skipped.
MAX_MODEL_ID_CHARS: Final = 200


@dataclasses.dataclass(frozen=True)
class ModelList:
    """The models ``GET /v1/models`` says this key may use: ``ids`` in the API's order, each once.

    Read tolerantly: an entry is ``{"id": "..."}`` (the OpenAI-style list EvoLink's own CLI
    reads) or a bare string; entries without a usable id are counted in ``skipped``; past
    ``MAX_LISTED_MODELS`` entries the rest is not read (``truncated``).
    """

    ids: tuple[str, ...]
    skipped: int = 0
    truncated: bool = False

    @classmethod
    def from_api(cls, data: object) -> ModelList:
        """Build from the answer: ``{"data": [...]}`` or a bare list; ``BadResponse`` for
        anything without a list of models."""
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise BadResponse("the answer of GET /v1/models holds no list of models")
        ids: dict[str, None] = {}
        skipped = 0
        for item in items[:MAX_LISTED_MODELS]:
            value = item.get("id") if isinstance(item, dict) else item
            if (
                isinstance(value, str)
                and value.strip()
                and len(value) <= MAX_MODEL_ID_CHARS
                and value.isprintable()
            ):
                ids.setdefault(value.strip(), None)
            else:
                skipped += 1
        return cls(tuple(ids), skipped, len(items) > MAX_LISTED_MODELS)


def task_ids(items: Sequence[str]) -> list[str]:
    """Check every id with ``check_task_id`` and drop repeats, keeping order."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(check_task_id(item), None)
    return list(seen)
