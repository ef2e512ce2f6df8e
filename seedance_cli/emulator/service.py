"""What the emulated EvoLink service knows and answers: tasks, credits, files, validation, envelopes.

No HTTP here: ``Service.handle`` takes a parsed request and returns a ``Reply``. The HTTP layer
(``server.py``) adds the faults and the wire. Shapes follow API.md and the official OpenAPI files.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email.parser
import email.policy
import functools
import hashlib
import hmac
import http
import json
import math
import re
import secrets
import string
import struct
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qs, quote, unquote

from .. import pricing
from ..catalogue import DEFAULT_MODEL, catalogue
from ..errors import ValidationError
from . import pricing_rules, rules
from .faults import FOREVER, Fault
from .mp4 import with_duration
from .rules import REFERENCE_VIDEO_SECONDS, split_url

RESULT_TTL: Final = 24 * 3600
FILE_TTL: Final = 72 * 3600
FILE_MAX_BYTES: Final = 10 * 1024 * 1024
CREATE_MAX_BYTES: Final = 1024 * 1024
#: Largest result video the emulator will make (``--result-size``): it is held in memory.
MAX_RESULT_SIZE: Final = 1024**3
#: The key's starting balance: 100,000 credits (about $1,470) pay for some fifty of the dearest
#: creates (2.5 reference, 30 s, 1080p, about 2,000 credits), so a sandbox never runs dry early.
DEFAULT_CREDITS: Final = 100_000.0
#: What a create of a model with no published rule reserves (``doubao-seedance-1.0-pro-fast``),
#: whatever it asks for: an invented, flat figure (API.md: its price is unknown). A body no rule
#: can price (only in direct calls of ``price``: creates are checked first) costs the same.
UNPRICED_CREDITS: Final = 10.0
#: The most task ids ``POST /v1/tasks/batch`` takes, and the largest page of ``GET /v1/tasks``.
MAX_BATCH_IDS: Final = 50
#: How far the emulator's prices may move from the published ones (``--price-factor``).
MIN_PRICE_FACTOR: Final = Decimal("0.1")
MAX_PRICE_FACTOR: Final = Decimal(10)
#: The statuses a retired model's create may get: which one the real API sends is unknown (API.md).
RETIRED_STATUSES: Final = (410, 404)
#: ``created`` of every model in ``GET /v1/models``: the day of the official files' revision.
MODELS_CREATED: Final = 1_787_270_400  # 2026-08-21T00:00:00Z
#: Result videos by ``output_format``: the MIME type each is served as.
VIDEO_TYPES: Final = {"mp4": "video/mp4", "mov": "video/quicktime"}
#: User-Agents the result host's bot filter refuses (prefixes, lower case).
BOT_AGENTS: Final = ("python-", "python/", "curl/", "wget/", "go-http-client", "java/")
ALPHABET: Final = string.ascii_lowercase + string.digits

# (code, type, message) of each HTTP error, per endpoint, as the OpenAPI files give them.
_CREATE_ERRORS: Final = {
    400: ("invalid_request", "invalid_request_error", "Invalid request parameters"),
    401: ("unauthorized", "authentication_error", "Invalid or expired token"),
    402: (
        "insufficient_quota",
        "insufficient_quota",
        "Insufficient quota. Please top up your account.",
    ),
    403: (
        "model_access_denied",
        "invalid_request_error",
        f"Token does not have access to model: {DEFAULT_MODEL}",
    ),
    413: ("request_too_large", "invalid_request_error", "Request entity too large"),
    429: ("rate_limit_exceeded", "rate_limit_error", "Too many requests, please try again later"),
    500: ("internal_error", "api_error", "Internal server error"),
}
_QUERY_ERRORS: Final = {
    400: (
        "invalid_task_id",
        "invalid_request_error",
        "Invalid task ID format, must start with 'task-unified-'",
    ),
    401: ("unauthorized", "authentication_error", "Authentication required"),
    402: (
        "quota_exceeded",
        "insufficient_quota",
        "Insufficient quota. Please top up your account.",
    ),
    403: (
        "permission_denied",
        "invalid_request_error",
        "You don't have permission to access this task",
    ),
    404: ("task_not_found", "invalid_request_error", "The requested task could not be found"),
    429: ("rate_limit_exceeded", "evo_api_error", "Rate limit exceeded"),
    500: ("internal_error", "api_error", "Failed to retrieve task status"),
}
#: (code, message) of a create for a retired model, by the status it is answered with.
_RETIRED_ERRORS: Final = {
    410: (
        "model_retired",
        "The model '{model}' has been retired by the upstream provider and is no longer available",
    ),
    404: ("model_not_found", "The model '{model}' does not exist or you do not have access to it"),
}
_CREDITS_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "internal_server_error",
    502: "upstream_error",
    503: "service_unavailable_error",
}
_FALLBACK_SUGGESTIONS: Final = {
    429: "retry after 60 seconds",
    500: "try again later",
    502: "try again later",
    503: "retry after 30 seconds",
}
_UPSTREAM_ERRORS: Final = {
    502: ("bad_gateway", "upstream_error", "Upstream service error"),
    503: ("service_unavailable", "service_unavailable_error", "Service temporarily unavailable"),
    504: ("gateway_timeout", "upstream_error", "Upstream service timed out"),
}
TASK_ERROR_MESSAGES: Final = {
    "content_policy_violation": "Content policy violation.\nYour request was blocked by safety filters.",
    "invalid_parameters": "Invalid parameters for this model.",
    "image_processing_error": "The input image could not be processed.",
    "image_dimension_mismatch": "The first and last frame images have different dimensions.",
    "request_cancelled": "The request was cancelled.",
    "generation_failed_no_content": "The model returned no content. Please try again.",
    "service_error": "The generation service failed. Please try again later.",
    "generation_timeout": "The generation took too long and was stopped.",
    "resource_exhausted": "Generation resources are exhausted. Please try again later.",
    "quota_exceeded": "Quota exceeded.",
    "service_unavailable": "The generation service is unavailable.",
    "resource_not_found": "A resource of the request was not found.",
    "unknown_error": "An unknown error occurred.",
}


@dataclasses.dataclass
class Reply:
    """One HTTP answer before it goes on the wire."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), headers=dict(headers))


@dataclasses.dataclass
class Request:
    """A parsed request: ``kind`` names the endpoint (``create``, ``query``, ...)."""

    kind: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


@dataclasses.dataclass
class EmulatedTask:
    id: str
    owner: str
    created: float
    body: dict[str, Any]
    credits: float
    asked: rules.Resolved
    fate: str = "complete"  # complete | fail | hang | cancel
    error_code: str | None = None
    error_message: str | None = None
    odd_status: str | None = None
    settled: bool = False
    #: The create's answer as it was sent: what a replay of its idempotency key answers again.
    first_answer: dict[str, Any] | None = None


@dataclasses.dataclass
class StoredFile:
    file_id: str
    file_name: str
    original_name: str
    upload_path: str
    mime_type: str
    data: bytes
    uploaded: float


#: The length of a result when a request leaves it to the model's default (5 s on every model).
DEFAULT_RESULT_SECONDS: Final = 5


def sample_video(seconds: float = DEFAULT_RESULT_SECONDS) -> bytes:
    """The real, playable MP4 (320x180, H.264 + AAC) a completed task returns, ``seconds`` long
    (``mp4.with_duration``: the shipped 3 s clip with its last frame held)."""
    return _result_video(seconds)


@functools.lru_cache(maxsize=64)
def _result_video(seconds: float) -> bytes:
    raw = resources.files(__package__).joinpath("sample.mp4").read_bytes()
    return with_duration(raw, seconds)  # under the clip's own 3 s: the clip


def padded_video(size: int | None) -> bytes:
    """The sample video, grown to ``size`` bytes with an MP4 ``free`` box (still a valid file)."""
    video = sample_video()
    if size is None or size <= len(video):
        return video
    pad = size - len(video)
    if pad < 8:
        raise ValueError(f"result_size must be at least {len(video) + 8} bytes")
    if size > MAX_RESULT_SIZE:  # held in memory, and an MP4 box size is 32 bits
        raise ValueError(f"result_size must be at most {MAX_RESULT_SIZE} bytes (1 GiB)")
    return video + struct.pack(">I4s", pad, b"free") + bytes(pad - 8)


def quicktime(video: bytes) -> bytes:
    """``video`` as a QuickTime (``.mov``) file: the same boxes under the ``qt  `` major brand,
    which is what makes a ``.mov`` (its ``ftyp`` comes first, as in every MP4)."""
    if video[4:8] != b"ftyp":
        raise ValueError("not an MP4 file: its first box is not ftyp")
    return video[:8] + b"qt  " + video[12:]


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class RetirementError(ValueError):
    """A ``--retire`` spec that cannot be carried out; the message says why."""


def parse_retirement(spec: str) -> tuple[str, int]:
    """``MODEL`` or ``MODEL:404`` (``--retire``) as (model, status); ``RetirementError`` for a
    model the catalogue does not know (a typo would retire nothing) or a status but 410 and 404."""
    model, colon, status = spec.strip().partition(":")
    if model not in catalogue():
        raise RetirementError(
            f"{model!r}: not a model the emulator serves ({', '.join(catalogue())})"
        )
    if colon and status not in {str(s) for s in RETIRED_STATUSES}:
        raise RetirementError(f"{spec!r}: a retired model answers 410 (default) or 404")
    return model, int(status or RETIRED_STATUSES[0])


def image_mime(data: bytes) -> str | None:
    """The image type by its bytes: JPEG, PNG, GIF or WebP; else ``None``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_EXTENSIONS: Final = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that also takes text no ASCII codec can hold (a header is
    latin-1, a query string any Unicode): ``hmac.compare_digest`` refuses such ``str``."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def reference_seconds(model: str, videos: object) -> int | None:
    """The total length the emulator takes a request's reference videos to have:
    ``REFERENCE_VIDEO_SECONDS`` each, at most the family's total; ``None`` without any."""
    count = sum(1 for v in videos if isinstance(v, str)) if isinstance(videos, list) else 0
    if count == 0:
        return None
    spec = catalogue().get(model)
    limits = pricing.VIDEO_LIMITS.get(spec.family) if spec is not None else None
    total = count * REFERENCE_VIDEO_SECONDS
    return min(total, int(limits.total_max)) if limits is not None else total


class Service:
    """The emulated service's state and answers. Thread-safe; time comes from ``clock`` (epoch s)."""

    def __init__(
        self,
        *,
        task_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        api_key: str | None = None,
        credits: float = DEFAULT_CREDITS,
        max_files: int = 2000,
        legacy_error_codes: bool = False,
        files_errors_http_200: bool = False,
        result_size: int | None = None,
        retired: Iterable[str] = (),
        models_endpoint: bool = True,
        pricing_endpoint: bool = True,
        billing: bool = True,
        idempotency_replay: bool = True,
        price_factor: Decimal = Decimal(1),
        batch_endpoint: bool = True,
        list_endpoint: bool = True,
        estimated_time: float | None = None,
    ) -> None:
        if task_seconds <= 0:
            raise ValueError("task_seconds must be positive")
        if not price_factor.is_finite() or not MIN_PRICE_FACTOR <= price_factor <= MAX_PRICE_FACTOR:
            raise ValueError(
                f"the price factor must be from {MIN_PRICE_FACTOR} to {MAX_PRICE_FACTOR}, "
                f"got {price_factor}"
            )
        #: Every published rate and minimum times this (a price change since the rules were
        #: captured): creates reserve by it and the live pricing rules say so.
        self.price_factor = price_factor
        #: Whether ``POST /v1/tasks/batch`` and ``GET /v1/tasks`` exist (API.md: uncertain).
        self.batch_endpoint = batch_endpoint
        self.list_endpoint = list_endpoint
        #: The ``task_info.estimated_time`` pending tasks report (``None``: the truth, the task
        #: length rounded up; 0: none at all), to rehearse an API whose estimates are wrong.
        if estimated_time is not None and not (
            math.isfinite(estimated_time) and 0 <= estimated_time <= 86_400
        ):
            raise ValueError("the estimated time must be 0-86400 seconds")
        self.estimated_time = estimated_time
        self.task_seconds = task_seconds
        self.clock = clock
        self.api_key = api_key
        self.legacy_error_codes = legacy_error_codes
        self.files_errors_http_200 = files_errors_http_200
        self.token_remaining = credits
        self.user_remaining = credits
        self.used = 0.0
        self.max_files = max_files
        self.tasks: dict[str, EmulatedTask] = {}
        self.files: dict[str, StoredFile] = {}
        self.result_size = result_size
        self._results: dict[tuple[str, int], tuple[bytes, str]] = {}
        self.video = padded_video(result_size)
        self.video_etag = _etag(self.video)
        #: The result file of each ``output_format``, with its ETag.
        self.videos = {"mp4": (self.video, self.video_etag)}
        self.videos["mov"] = (mov := quicktime(self.video), _etag(mov))
        #: Models whose creates are refused as retired, with the status they get (410 or 404).
        self.retired: dict[str, int] = dict(parse_retirement(spec) for spec in retired)
        #: Whether ``GET /v1/models`` exists (else it is a 404 like any unknown path).
        self.models_endpoint = models_endpoint
        #: Whether the pricing rules endpoints exist (else 404s like any unknown path).
        self.pricing_endpoint = pricing_endpoint
        #: Whether tasks carry a ``billing`` object (and ``usage.credits_used`` once completed).
        self.billing = billing
        #: Whether a create with an ``Idempotency-Key`` this key already used answers the first
        #: create's answer again (with ``idempotency-replayed: true``) instead of a new task.
        self.idempotency_replay = idempotency_replay
        #: The task each (API key, idempotency key) made.
        self.idempotency: dict[tuple[str, str], str] = {}
        self.faults: list[Fault] = []
        self.base_url = ""
        self.results_url = ""
        self._secret = secrets.token_bytes(16)
        self._lock = threading.RLock()

    # -- envelopes ---------------------------------------------------------------------------------

    def error(
        self,
        kind: str,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        **extra: str,
    ) -> Reply:
        """The error answer of ``kind`` for ``status``, in the envelope that endpoint uses;
        ``code`` replaces the status's usual code (``extra`` holds ``param`` and headers)."""
        if kind in ("upload", "quota", "file"):
            text = message or http.HTTPStatus(status).phrase
            reply = Reply.json(
                200 if self.files_errors_http_200 else status,
                {"success": False, "code": status, "msg": text},
            )
            reply.headers.update(extra)
            return reply
        if kind == "download":
            text = message or f"{status} {http.HTTPStatus(status).phrase}"
            return Reply(status, text.encode(), "text/plain; charset=utf-8", dict(extra))
        table = _QUERY_ERRORS if kind == "query" else _CREATE_ERRORS
        usual, err_type, default = (
            table.get(status)
            or _UPSTREAM_ERRORS.get(status)
            or (
                http.HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_"),
                "api_error" if status >= 500 else "invalid_request_error",
                http.HTTPStatus(status).phrase,
            )
        )
        err: dict[str, Any] = {
            "code": code or usual,
            "message": message or default,
            "type": err_type,
        }
        if kind == "credits" or self.legacy_error_codes:
            err["code"] = status
            err["type"] = _CREDITS_TYPES.get(status, err_type)
            if status in _FALLBACK_SUGGESTIONS:
                err["fallback_suggestion"] = _FALLBACK_SUGGESTIONS[status]
        if kind == "query" and status == 400:
            err["param"] = "task_id"
        param = extra.pop("param", None)
        if param:
            err["param"] = param
        return Reply.json(status, {"error": err}, **extra)

    # -- faults ------------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, kind: str) -> Fault | None:
        """The first fault that applies to ``kind``, used up by one."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(kind):
                    if fault.count != FOREVER:
                        fault.count -= 1
                        if fault.count == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, request: Request, *, ignore_range: bool = False) -> Reply:
        """Answer one request that passed the fault layer."""
        if request.kind == "download":
            return self._serve_download(request, ignore_range=ignore_range)
        if request.kind == "file":
            return self._serve_file(request, ignore_range=ignore_range)
        if request.kind == "pricing":  # anonymous: no key needed, any key ignored
            with self._lock:
                return self._pricing(request)
        key = request.bearer
        if key is None or (self.api_key is not None and not _same(key, self.api_key)):
            message = "Authentication required" if key is None else "Invalid or expired token"
            return self.error(request.kind, 401, message)
        if request.kind == "upload":  # locks only to store: a URL upload may fetch from us
            return self._upload(request)
        with self._lock:
            if request.kind == "create":
                return self._create(key, request)
            if request.kind == "query":
                return self._query(key, request.path.rsplit("/", 1)[-1])
            if request.kind == "batch":
                return self._batch(key, request.body)
            if request.kind == "list":
                return self._list(key, request.query)
            if request.kind == "credits":
                return self._credits()
            if request.kind == "quota":
                return self._quota()
            if request.kind == "models":
                return self._models()
        return self.error(request.kind, 404, f"no such endpoint: {request.method} {request.path}")

    # -- create ------------------------------------------------------------------------------------

    def validate(self, body: object) -> tuple[str, str] | None:
        """The first rule of its model that ``body`` breaks, as (param, message), else ``None``
        (``rules.check``: every model of the catalogue, each with its own rules)."""
        return rules.check(body)

    def price(self, body: Mapping[str, Any]) -> float:
        """The credits a valid create reserves, by the published rules (``pricing.charge``):
        its duration (with ``-1``, the length the emulator picks), quality, audio and content
        filter, and ``REFERENCE_VIDEO_SECONDS`` for each reference video (the emulator never
        fetches them), at most the family's total. A model with no published rule reserves
        ``UNPRICED_CREDITS``; so does any body no rule can price (never a crash)."""
        asked = rules.resolve(body)
        try:
            credits = pricing.charge(
                asked.model,
                quality=asked.quality or "",
                output_seconds=asked.seconds,
                input_seconds=reference_seconds(asked.model, body.get("video_urls")),
                audio=asked.generate_audio,
                content_filter=body.get("content_filter") is not False,
                factor=self.price_factor,
            )
        except (ValidationError, ArithmeticError):
            credits = None
        return float(credits) if credits is not None else UNPRICED_CREDITS

    # -- models ------------------------------------------------------------------------------------

    def retire(self, model: str, status: int = RETIRED_STATUSES[0]) -> None:
        """Refuse creates for ``model`` from now on with ``status`` (410 ``model_retired`` or 404
        ``model_not_found``); its existing tasks stay readable."""
        model, status = parse_retirement(f"{model}:{status}")
        with self._lock:
            self.retired[model] = status

    def restore(self, model: str | None = None) -> None:
        """Serve ``model`` again (every retired model when ``None``)."""
        with self._lock:
            if model is None:
                self.retired.clear()
            else:
                self.retired.pop(model, None)

    def _retired(self, body: object) -> Reply | None:
        """The answer to a create for a retired model, checked before any other rule: the model
        is gone whatever else the request says."""
        model = body.get("model") if isinstance(body, dict) else None
        status = self.retired.get(model) if isinstance(model, str) else None
        if status is None:
            return None
        code, message = _RETIRED_ERRORS[status]
        return self.error("create", status, message.format(model=model), code=code, param="model")

    def _pricing(self, request: Request) -> Reply:
        """The live pricing rules (``pricing_rules``), generated from ``pricing.RULES``."""
        now = self.clock()
        parts = [p for p in request.path.split("/") if p]
        if parts[:3] == ["v1", "catalog", "models"]:
            model = unquote(parts[3])
            found = pricing_rules.single(now, model, self.retired, self.price_factor)
            if found is None:
                return Reply.json(
                    404,
                    {
                        "error": {
                            "code": "not_found",
                            "message": f"No published pricing rules for model '{model}'",
                            "type": "invalid_request_error",
                            "param": "model",
                        }
                    },
                )
            return Reply.json(200, found)
        query = {k: v[-1] for k, v in parse_qs(request.query).items()}
        return Reply.json(200, pricing_rules.listing(now, query, self.retired, self.price_factor))

    def _models(self) -> Reply:
        """``GET /v1/models`` as OpenAI-style clients and EvoLink's own CLI read it: ``data[].id``."""
        served = [model for model in catalogue() if model not in self.retired]
        return Reply.json(
            200,
            {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": MODELS_CREATED,
                        "owned_by": "evolink",
                    }
                    for model in served
                ],
            },
        )

    def _replay(self, key: str, request: Request) -> Reply | None:
        """The first answer of the task this key's ``Idempotency-Key`` already made, marked
        ``idempotency-replayed: true``; ``None`` for a key not seen (or replay switched off).
        Nothing is validated, reserved or created: the request is the one already answered,
        whatever its body says now (as the CLI's own history does with a reused key)."""
        idempotency_key = request.headers.get("idempotency-key")
        if not self.idempotency_replay or not idempotency_key:
            return None
        task_id = self.idempotency.get((key, idempotency_key))
        task = self.tasks.get(task_id) if task_id is not None else None
        if task is None or task.first_answer is None:
            return None
        reply = Reply.json(200, task.first_answer)
        reply.headers["Idempotency-Replayed"] = "true"
        return reply

    def _create(self, key: str, request: Request) -> Reply:
        replayed = self._replay(key, request)
        if replayed is not None:
            return replayed
        if len(request.body) > CREATE_MAX_BYTES:
            return self.error("create", 413)
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too
            return self.error("create", 400, "Request body is not valid JSON")
        retired = self._retired(body)
        if retired is not None:
            return retired
        problem = self.validate(body)
        if problem is not None:
            param, message = problem
            return self.error("create", 400, message, param=param)
        cost = self.price(body)
        self._settle()
        if cost > self.token_remaining or cost > self.user_remaining:
            return self.error("create", 402)
        now = self.clock()
        task_id = f"task-unified-{int(now)}-" + "".join(secrets.choice(ALPHABET) for _ in range(8))
        task = EmulatedTask(
            id=task_id, owner=key, created=now, body=body, credits=cost, asked=rules.resolve(body)
        )
        fault = self.take_fault("task")
        if fault is not None:
            action, params = fault.action, fault.params
            task.fate = {"status": "complete"}.get(action, action)
            if action == "fail":
                code = params.get("code", "service_error")
                task.error_code = None if code.lower() == "none" else code
                task.error_message = params.get("message") or TASK_ERROR_MESSAGES.get(
                    code, "The task failed."
                )
            if action == "status":
                task.odd_status = params.get("status", "queued")
        self.tasks[task_id] = task
        self.token_remaining -= cost
        self.user_remaining -= cost
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key:
            self.idempotency[(key, idempotency_key)] = task_id
        task.first_answer = self.render(task, now)
        return Reply.json(200, task.first_answer)

    # -- tasks -------------------------------------------------------------------------------------

    def _phase(self, task: EmulatedTask, now: float) -> tuple[str, int]:
        """(status, progress) of ``task`` at ``now``: pending, then processing, then its end."""
        total = self.task_seconds
        elapsed = max(0.0, now - task.created)
        pending_for = total * 0.1
        ends_at = total * 0.5 if task.fate in ("fail", "cancel") else total
        if task.fate != "hang" and elapsed >= ends_at:
            return {"fail": "failed", "cancel": "cancelled"}.get(task.fate, "completed"), (
                100 if task.fate == "complete" else int(100 * ends_at / total)
            )
        if elapsed < pending_for:
            return "pending", 0
        share = (elapsed - pending_for) / (total - pending_for)
        progress = max(1, min(99 if task.fate != "hang" else 90, int(share * 100)))
        return task.odd_status or "processing", progress

    def render(self, task: EmulatedTask, now: float) -> dict[str, Any]:
        """The task object as the create and query endpoints return it at ``now``."""
        status, progress = self._phase(task, now)
        out: dict[str, Any] = {
            "created": int(task.created),
            "id": task.id,
            "model": task.asked.model,
            "object": "video.generation.task",
            "progress": progress,
            "status": status,
        }
        if status == "pending":
            estimate = self.estimated_time
            out["task_info"] = {"can_cancel": True}
            if estimate is None or estimate > 0:
                out["task_info"]["estimated_time"] = (
                    math.ceil(self.task_seconds) if estimate is None else estimate
                )
            if not task.asked.auto:  # an automatic length is known once the video exists
                out["task_info"]["video_duration"] = task.asked.seconds
            out["usage"] = {
                "billing_rule": "per_call",
                "credits_reserved": task.credits,
                "user_group": "default",
            }
        elif status == "completed":
            out["task_info"] = {"can_cancel": False, "video_duration": task.asked.seconds}
            if self.billing:
                out["usage"] = {
                    "billing_rule": "per_call",
                    "credits_reserved": task.credits,
                    "credits_used": task.credits,
                    "user_group": "default",
                }
        else:
            out["task_info"] = {"can_cancel": False}
        if self.billing:
            out["billing"] = self._billing(task, status)
        out["type"] = "video"
        if status == "completed":
            out["results"] = [self.result_url(task)]
        elif status == "failed" and task.error_code is not None:
            out["error"] = {
                "code": task.error_code,
                "message": task.error_message or "",
                "type": "task_error",
            }
        return out

    def _billing(self, task: EmulatedTask, status: str) -> dict[str, Any]:
        """The ``billing`` object (API.md; its words as EvoLink's own CLI reads them): the
        reservation while the task runs (any status but the ends), ``charged`` once completed,
        ``released`` (refunded whole, with the time) once failed or cancelled."""
        billing: dict[str, Any] = {
            "charge_status": "reserved",
            "refund_status": "not_required",
            "reserved_credits": task.credits,
            "charged_credits": 0,
            "refunded_credits": 0,
        }
        if status == "completed":
            billing.update(charge_status="charged", charged_credits=task.credits)
        elif status in ("failed", "cancelled"):
            billing.update(
                charge_status="released",
                refund_status="completed",
                refunded_credits=task.credits,
                refunded_at=_iso(self.ended_at(task)).replace("+00:00", "Z"),
            )
        return billing

    def completed_at(self, task: EmulatedTask) -> float:
        return task.created + self.task_seconds

    def ended_at(self, task: EmulatedTask) -> float:
        """When a task that ends reaches its end: failed and cancelled tasks end halfway."""
        share = 0.5 if task.fate in ("fail", "cancel") else 1.0
        return task.created + self.task_seconds * share

    def result_url(self, task: EmulatedTask) -> str:
        expires = int(self.completed_at(task) + RESULT_TTL)
        return (
            f"{self.results_url}/results/{task.id}.{task.asked.output_format}?expires={expires}"
            f"&signature={self._sign(task.id, expires)}"
        )

    def _sign(self, task_id: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{task_id}:{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def _query(self, key: str, task_id: str) -> Reply:
        if not task_id.startswith("task-unified-"):
            return self.error("query", 400)
        task = self.tasks.get(task_id)
        if task is None:
            return self.error("query", 404)
        if not _same(key, task.owner):
            return self.error("query", 403)
        self._settle()
        return Reply.json(200, self.render(task, self.clock()))

    def _batch(self, key: str, body: bytes) -> Reply:
        """``POST /v1/tasks/batch {"task_ids": [...]}`` (API.md, from EvoLink's own CLI): at most
        ``MAX_BATCH_IDS`` ids; answers ``{"data": [task, ...], "not_found": [id, ...]}`` in the
        order asked, each task as ``GET /v1/tasks/{id}`` shows it; an id that is not one, or not
        this key's, is not found (another key's tasks are never shown)."""
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        ids = data.get("task_ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self.error(
                "query", 400, "task_ids must be a non-empty list of task ids", param="task_ids"
            )
        if len(ids) > MAX_BATCH_IDS:
            return self.error(
                "query", 400, f"at most {MAX_BATCH_IDS} task ids per request", param="task_ids"
            )
        self._settle()
        now = self.clock()
        found, missing = [], []
        for task_id in dict.fromkeys(ids):
            task = self.tasks.get(task_id)
            if task is None or not _same(key, task.owner):
                missing.append(task_id)
            else:
                found.append(self.render(task, now))
        return Reply.json(200, {"data": found, "not_found": missing})

    def _list(self, key: str, query: str) -> Reply:
        """``GET /v1/tasks?status=&model=&page=&page_size=`` (API.md, from EvoLink's own CLI):
        this key's tasks, newest first, at most 50 a page; items carry ``has_results`` and
        ``credits_used`` but no result URLs."""
        asked = {k: v[-1] for k, v in parse_qs(query).items()}

        def number(name: str, default: int, high: int) -> int | None:
            text = asked.get(name, str(default))
            return int(text) if text.isdigit() and 1 <= int(text) <= high else None

        page, size = number("page", 1, 10**6), number("page_size", 20, MAX_BATCH_IDS)
        if page is None or size is None:
            return self.error(
                "query", 400, "page and page_size must be whole numbers (page_size 1-50)"
            )
        self._settle()
        now = self.clock()
        mine = [
            task
            for task in sorted(self.tasks.values(), key=lambda t: (t.created, t.id), reverse=True)
            if _same(key, task.owner) and asked.get("model") in (None, "", task.asked.model)
        ]
        items = []
        for task in mine:
            shown = self.render(task, now)
            if asked.get("status") not in (None, "", shown["status"]):
                continue
            shown["has_results"] = bool(shown.pop("results", None))
            shown["credits_used"] = task.credits if shown["status"] == "completed" else 0
            items.append(shown)
        start = (page - 1) * size
        return Reply.json(
            200,
            {
                "data": items[start : start + size],
                "total": len(items),
                "page": page,
                "page_size": size,
            },
        )

    def _settle(self) -> None:
        """Book the credits of tasks that ended: a failed or cancelled task gets its credits back."""
        now = self.clock()
        for task in self.tasks.values():
            if task.settled:
                continue
            status, _ = self._phase(task, now)
            if status == "completed":
                self.used += task.credits
                task.settled = True
            elif status in ("failed", "cancelled"):
                self.token_remaining += task.credits
                self.user_remaining += task.credits
                task.settled = True

    def _credits(self) -> Reply:
        self._settle()
        return Reply.json(
            200,
            {
                "data": {
                    "token": {
                        "remaining_credits": round(self.token_remaining, 4),
                        "unlimited_credits": False,
                        "used_credits": round(self.used, 4),
                    },
                    "user": {
                        "remaining_credits": round(self.user_remaining, 4),
                        "used_credits": round(self.used, 4),
                    },
                },
                "message": "",
                "success": True,
            },
        )

    # -- result videos -----------------------------------------------------------------------------

    def _serve_download(self, request: Request, *, ignore_range: bool = False) -> Reply:
        agent = request.headers.get("user-agent", "")
        if not agent or agent.lower().startswith(BOT_AGENTS):
            # API.md: the result hosts' bot filter answers default library agents like this.
            return self.error("download", 403, "error code: 1010")
        task_id, _, extension = request.path.rsplit("/", 1)[-1].partition(".")
        query = parse_qs(request.query)
        task = self.tasks.get(task_id)
        if task is None or extension != task.asked.output_format:
            return self.error("download", 404, "NoSuchKey: The specified key does not exist.")
        try:
            expires = int(query.get("expires", ["0"])[0])
        except ValueError:
            expires = 0
        signature = query.get("signature", [""])[0]
        if not _same(signature, self._sign(task_id, expires)):
            return self.error("download", 403, "AccessDenied: signature does not match")
        now = self.clock()
        if now >= expires:
            return self.error("download", 403, "AccessDenied: Request has expired")
        if self._phase(task, now)[0] != "completed":
            return self.error("download", 404, "NoSuchKey: The specified key does not exist.")
        video, etag = self.result(task.asked.output_format, task.asked.seconds)
        return self.ranged(
            request,
            video,
            VIDEO_TYPES[task.asked.output_format],
            etag,
            self.completed_at(task),
            ignore_range=ignore_range,
        )

    def result(self, output_format: str, seconds: int | None) -> tuple[bytes, str]:
        """The result file of a task (its bytes and ETag): ``seconds`` long, except when the
        emulator was asked for results of a fixed size (``result_size``), which keep it."""
        video, etag = self.videos[output_format]
        if self.result_size is not None or seconds is None or seconds == DEFAULT_RESULT_SECONDS:
            return video, etag
        with self._lock:
            made = self._results.get((output_format, seconds))
            if made is None:
                data = sample_video(seconds)
                data = quicktime(data) if output_format == "mov" else data
                made = self._results[(output_format, seconds)] = (data, _etag(data))
        return made

    def ranged(
        self,
        request: Request,
        data: bytes,
        content_type: str,
        etag: str,
        modified: float,
        *,
        ignore_range: bool = False,
    ) -> Reply:
        """``data`` with Range (206/416), If-Range, ETag and Last-Modified handled."""
        last_modified = email_date(modified)
        headers = {"ETag": etag, "Last-Modified": last_modified, "Accept-Ranges": "bytes"}
        spec = request.headers.get("range", "")
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range not in (etag, last_modified):
            spec = ""
        size = len(data)
        match = (
            re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", spec) if spec and not ignore_range else None
        )
        if match is None or (not match[1] and not match[2]):
            return Reply(200, data, content_type, headers)
        # Positions longer than any file are clamped before int(): Python refuses to convert
        # numbers of thousands of digits, and such a range is past the end (416) anyway.
        first, last = (m if len(m) <= 18 else "9" * 18 for m in (match[1], match[2]))
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            headers["Content-Range"] = f"bytes */{size}"
            return Reply(416, b"", "text/plain", headers)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Reply(206, data[start : end + 1], content_type, headers)

    # -- files API ---------------------------------------------------------------------------------

    def _quota(self) -> Reply:
        used = len(self.files)
        return Reply.json(
            200,
            {
                "success": True,
                "code": 200,
                "data": {
                    "user_group": "default",
                    "used_files": used,
                    "max_files": self.max_files,
                    "remain_files": max(0, self.max_files - used),
                    "is_custom": False,
                    "quota_reason": "",
                },
            },
        )

    def _upload(self, request: Request) -> Reply:
        route = request.path.rsplit("/", 1)[-1]
        if route == "stream":
            parsed = self._parse_multipart(request)
            if isinstance(parsed, Reply):
                return parsed
            data, original, fields = parsed
        else:
            try:
                payload = json.loads(request.body)
            except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too
                return self.error("upload", 400, "Request body is not valid JSON")
            if not isinstance(payload, dict):
                return self.error("upload", 400, "Request body must be a JSON object")
            fields = {k: v for k, v in payload.items() if isinstance(v, str)}
            if route == "base64":
                fetched = self._decode_base64(payload.get("base64_data"))
            else:
                fetched = self._fetch_url(payload.get("file_url"))
            if isinstance(fetched, Reply):
                return fetched
            data, original = fetched
        if len(data) > FILE_MAX_BYTES:
            return self.error("upload", 413, f"File too large: {len(data)} bytes, max 10MB")
        mime = image_mime(data)
        if mime is None:
            return self.error(
                "upload",
                400,
                "Unsupported file type: only image/jpeg, image/png, image/gif, "
                "image/webp are accepted",
            )
        with self._lock:
            return self._store(data, mime, original, fields)

    def _store(self, data: bytes, mime: str, original: str, fields: Mapping[str, str]) -> Reply:
        if len(self.files) >= self.max_files:
            return self.error(
                "upload", 403, f"File quota exceeded: {len(self.files)}/{self.max_files} files used"
            )
        file_id = "file_" + secrets.token_hex(8)
        upload_path = (
            fields.get("upload_path")
            or fields.get("uploadPath")
            or mime.split("/", maxsplit=1)[0] + "s"
        )
        upload_path = re.sub(r"[^A-Za-z0-9_-]", "_", upload_path)[:64] or "files"
        wanted = fields.get("file_name") or fields.get("fileName")
        name = (
            re.sub(r"[^A-Za-z0-9._-]", "_", wanted)[:128]
            if wanted
            else (f"{secrets.token_hex(6)}.{_EXTENSIONS[mime]}")
        )
        now = self.clock()
        stored = StoredFile(file_id, name, original or name, upload_path, mime, data, now)
        self.files[file_id] = stored
        return Reply.json(
            200,
            {
                "success": True,
                "code": 200,
                "msg": "File uploaded successfully",
                "data": {
                    "file_id": file_id,
                    "file_name": name,
                    "original_name": stored.original_name,
                    "file_size": len(data),
                    "mime_type": mime,
                    "upload_path": upload_path,
                    "file_url": f"{self.base_url}/files/{upload_path}/{quote(name)}",
                    "download_url": f"{self.base_url}/api/v1/files/download/{file_id}",
                    "upload_time": _iso(now),
                    "expires_at": _iso(now + FILE_TTL),
                },
            },
        )

    def _parse_multipart(self, request: Request) -> tuple[bytes, str, dict[str, str]] | Reply:
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return self.error("upload", 400, "Content-Type must be multipart/form-data")
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        data: bytes | None = None
        original = ""
        fields: dict[str, str] = {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if not isinstance(name, str) or not isinstance(payload, bytes):
                    continue
                if name == "file":
                    if data is not None:
                        return self.error("upload", 400, "Only one file per request")
                    data = payload
                    original = part.get_filename() or ""
                else:
                    fields[name] = payload.decode("utf-8", "replace")
        if data is None:
            return self.error("upload", 400, "Missing form field: file")
        return data, original, fields

    def _decode_base64(self, value: object) -> tuple[bytes, str] | Reply:
        if not isinstance(value, str) or not value:
            return self.error("upload", 400, "base64_data is required")
        encoded = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
        try:
            return base64.b64decode(encoded, validate=True), ""
        except (binascii.Error, ValueError):
            return self.error("upload", 400, "base64_data is not valid base64")

    def _fetch_url(self, value: object) -> tuple[bytes, str] | Reply:
        parts = split_url(value)
        if not isinstance(value, str) or parts is None or parts.scheme not in ("http", "https"):
            return self.error("upload", 400, "file_url must be an http(s) URL")
        host = parts.hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            # The emulator never leaves the machine: it fetches only loopback URLs.
            return self.error("upload", 400, f"Failed to download file from {host}")
        try:
            with urllib.request.urlopen(value, timeout=5) as answer:  # noqa: S310 - loopback only
                return answer.read(FILE_MAX_BYTES + 1), value.rsplit("/", 1)[-1]
        except OSError as exc:
            return self.error("upload", 400, f"Failed to download file: {exc}")

    def _serve_file(self, request: Request, *, ignore_range: bool = False) -> Reply:
        parts = request.path.strip("/").split("/")
        with self._lock:
            if parts[:4] == ["api", "v1", "files", "download"] and len(parts) == 5:
                stored = self.files.get(parts[4])
            else:
                stored = next(
                    (
                        f
                        for f in self.files.values()
                        if ["files", f.upload_path, quote(f.file_name)] == parts
                    ),
                    None,
                )
        if stored is None or self.clock() >= stored.uploaded + FILE_TTL:
            return self.error("download", 404, "File not found or expired")
        etag = '"' + hashlib.sha256(stored.data).hexdigest()[:32] + '"'
        return self.ranged(
            request, stored.data, stored.mime_type, etag, stored.uploaded, ignore_range=ignore_range
        )


def email_date(epoch: float) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
