"""What an HTTP answer means: the one mapping from an error answer to its ``SeedanceError``, and the
one rule for following redirects. Used by the API client and the result host alike.

Standard library only (and cheap to import): ``download`` and ``resulthost`` use it without httpx.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import (
    APIError,
    InsufficientCreditsError,
    ModelUnavailable,
    RedirectRefused,
    ResultGone,
    SeedanceError,
    ServerError,
    ServiceError,
    api_error_class,
)
from .retry import is_retryable_status, parse_retry_after

#: A result host's refusal of the URL itself (expired, or signed for another time): ``ResultGone``,
#: which makes the caller fetch the task again for a fresh URL.
GONE_STATUSES: Final = frozenset({403, 404, 410})
#: The statuses that redirect, when they come with a ``Location``.
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})


def _parse_int(text: str) -> int | float:
    """JSON integers beyond Python's digit limit become ``inf`` rather than failing the answer."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def decode_json(content: bytes) -> Any:
    """JSON from bytes; raises ``ValueError`` for anything else (bad JSON, bad bytes, too deep)."""
    try:
        return json.loads(content, parse_int=_parse_int)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(exc.__class__.__name__) from None


def files_error(
    status: int, message: str, code: int | None, *, retry_after: float | None = None
) -> APIError:
    """The error of the files API's ``{"success": false, "code", "msg"}`` envelope."""
    cls = api_error_class(status)
    if status == 403 and "quota" in message.lower():
        cls = InsufficientCreditsError  # the file quota is used up: exit 5, like credits
    hint = (
        "uploaded files expire after 72 hours, which frees their slots"
        if cls is (InsufficientCreditsError)
        else None
    )
    return cls(message, status=status, api_code=code, retry_after=retry_after, hint=hint)


def http_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    reason: str = "",
    result_host: bool = False,
) -> SeedanceError:
    """The error an HTTP error answer (``status`` >= 400) means. ``body`` is its start (a page at
    most), ``headers`` its headers (any case), ``now`` the wall-clock time a ``Retry-After`` date
    is measured from, ``reason`` the status line's phrase. A ``Retry-After`` rides on the
    ``APIError`` it comes with, for ``RetryPolicy.run`` to honour.

    From the API (tolerant of every envelope EvoLink uses): the ``APIError`` of the status
    (``api_error_class``), with the envelope's code, message, type, param and hint.

    From a result host (``result_host``), which is not the API and says nothing the API's envelope
    would: 403, 404 and 410 are ``ResultGone`` (the signed URL expired: the caller may get a fresh
    one, which an ``APIError`` would not tell it); a status worth another try is a ``ServerError``
    (exit 7); any other is a ``ServiceError`` (exit 7, not the "request refused" of an API 4xx:
    the user's request was not at fault).
    """
    header = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    retry_after = parse_retry_after(header, now)
    if result_host:
        detail = " ".join(body.decode("utf-8", "replace").split())[:200]
        if status in GONE_STATUSES:
            return ResultGone(status, detail)
        message = f"the result host answered HTTP {status}" + (f": {detail}" if detail else "")
        if is_retryable_status(status):
            return ServerError(message, status=status, retry_after=retry_after)
        return ServiceError(message)
    try:
        data = decode_json(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("success") is False and isinstance(data.get("msg"), str):
        files_code = data.get("code")
        return files_error(
            status,
            data["msg"],
            files_code if isinstance(files_code, int) else None,
            retry_after=retry_after,
        )
    code: str | int | None = None
    err_type = param = hint = None
    message = ""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        raw_code = err.get("code")
        code = (
            raw_code if isinstance(raw_code, str | int) and not isinstance(raw_code, bool) else None
        )
        message = err.get("message") if isinstance(err.get("message"), str) else ""
        err_type = err.get("type") if isinstance(err.get("type"), str) else None
        param = err.get("param") if isinstance(err.get("param"), str) else None
        suggestion = err.get("fallback_suggestion")
        hint = suggestion if isinstance(suggestion, str) and suggestion else None
    elif isinstance(data, dict) and isinstance(data.get("msg"), str):  # the files API's envelope
        message = data["msg"]
        raw_code = data.get("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    if not message:
        text = body[:1000].decode("utf-8", "replace") if data is None else ""
        snippet = " ".join(text.split())[:200]
        message = f"HTTP {status} {reason}".rstrip() + (
            f": {snippet}" if snippet and "<" not in snippet[:1] else ""
        )
    cls = api_error_class(status)
    if hint is None and cls is InsufficientCreditsError:
        hint = "see the balance with `seedance credits`; top up in the EvoLink dashboard"
    return cls(
        message,
        status=status,
        api_code=code,
        api_type=err_type,
        param=param,
        retry_after=retry_after,
        hint=hint,
    )


#: Words by which an error says a model is not served (any more): in a code (``model_retired``,
#: ``unsupported_model``, read with ``_`` as spaces) or a message about the ``model`` param.
_NOT_SERVED = re.compile(
    r"\b(retired|deprecated|decommissioned|discontinued|sunset|no longer|not available|"
    r"unavailable|not found|does not exist|not exist|not supported|unsupported|unknown|disabled)\b",
    re.IGNORECASE,
)
#: The stronger words a 403 needs: "not available" there may only mean "not for this key".
_RETIRED = re.compile(
    r"\b(retired|deprecated|decommissioned|discontinued|sunset|no longer)\b", re.IGNORECASE
)
_MODEL = re.compile(r"\bmodels?\b", re.IGNORECASE)


def model_refusal(error: SeedanceError, model: str, *, known: bool = True) -> SeedanceError:
    """``error`` as the answer to a create of ``model``: ``ModelUnavailable`` when the API says it
    does not serve that model (any more), else ``error`` unchanged. Only for creates: a 410 or a
    404 of a task query means something else.

    How EvoLink answers for a retired model is undocumented (API.md, "Model lifecycle"), so this
    reads every likely shape, and only those:

    - 410 Gone, whatever the body: a create has nothing else that could be gone;
    - 400 or 404 whose ``code`` names the model and a word of not being served
      (``model_retired``, ``model_not_found``, ``model_not_available``, ``unsupported_model``), or
      whose ``param`` is ``model`` and whose message has such a word; a 404 whose message names
      the model (``The model 'X' was not found``) too. A 400 about another field that mentions
      the model ("duration 20 is not supported by this model") stays a plain refusal;
    - 403 only when it says retired, deprecated or no longer: ``model_access_denied`` ("this key
      may not use it") stays an authorisation error (exit 4).
    """
    if not isinstance(error, APIError) or isinstance(error, ModelUnavailable):
        return error
    code = error.api_code.replace("_", " ") if isinstance(error.api_code, str) else ""
    code_says = bool(_MODEL.search(code) and _NOT_SERVED.search(code))
    message = error.message
    about_model = error.param == "model"
    status = error.status
    if status == 410:
        gone = True
    elif status == 403:
        gone = bool(_RETIRED.search(code) and _MODEL.search(code)) or bool(
            (about_model or _MODEL.search(message) or model in message) and _RETIRED.search(message)
        )
    elif status == 400:
        gone = code_says or (about_model and bool(_NOT_SERVED.search(message)))
    elif status == 404:
        names_it = about_model or bool(_MODEL.search(message)) or model in message
        gone = code_says or (names_it and bool(_NOT_SERVED.search(message)))
    else:
        gone = False
    if not gone:
        return error
    detail = message if message.startswith(f"HTTP {status}") else f"HTTP {status}: {message}"
    return ModelUnavailable(
        model,
        detail,
        status=status,
        known=known,
        api_code=error.api_code,
        api_type=error.api_type,
        param=error.param,
        retry_after=error.retry_after,
    )


@dataclasses.dataclass(frozen=True)
class Redirects:
    """Which redirects a kind of request follows: at most ``limit`` (0: none, the 3xx is the
    answer), and with ``same_origin`` only within the origin of the request, and a non-GET only by
    307/308 (which keep the method and body). ``stopped`` ends the message when there are too many.
    """

    limit: int
    same_origin: bool
    stopped: str


#: A create: never followed. A 3xx means it reached the server, and following would send it (and
#: its cost) again; the caller makes it ``OutcomeUnknown``.
NO_REDIRECTS: Final = Redirects(0, same_origin=True, stopped="; stopped")
#: API reads and uploads carry the key: it never leaves the origin it was configured for.
API_REDIRECTS: Final = Redirects(3, same_origin=True, stopped="; stopped")
#: Result hosts are CDNs that redirect elsewhere, and no key is ever sent to them: any origin.
RESULT_REDIRECTS: Final = Redirects(5, same_origin=False, stopped=" fetching a result")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port out of range (httpx lets one through): no origin of ours
        port = -1
    return (parts.scheme, parts.hostname, port)


def next_hop(
    rule: Redirects,
    status: int,
    location: str | None,
    *,
    url: str,
    method: str,
    hops: int,
    join: Callable[[str], object],
) -> str | None:
    """Where an answer to ``method`` ``url`` redirects to under ``rule``, after ``hops`` redirects
    already followed: the absolute URL to ask next, or ``None`` when the answer is the final one
    (not a redirect, no ``Location``, or ``rule`` follows none). Raises ``RedirectRefused`` when
    it is a redirect that may not be followed.

    One rule with a parameter, not one for each: the API and the result hosts differ only where
    they must. The API key rides on API requests, so they never leave their origin (and a create
    never follows at all); result hosts get no key and are CDNs that do redirect. ``join`` makes
    ``location`` absolute (its ``str``) with the caller's URL parser, the one its request will be
    sent with; the origins compared are those of the URLs it gives.
    """
    if rule.limit == 0 or status not in REDIRECT_STATUSES or not location:
        return None
    target = str(join(location))
    if rule.same_origin:
        source_origin, target_origin = _origin(url), _origin(target)
        if target_origin != source_origin:
            raise RedirectRefused(
                f"HTTP {status} redirect from {source_origin[1]} to another origin "
                f"({target_origin[1]}); not followed, so the API key stays with {source_origin[1]}"
            )
        if status not in (307, 308) and method != "GET":
            raise RedirectRefused(f"HTTP {status} redirect of a {method}; not followed")
    if hops >= rule.limit:
        raise RedirectRefused(f"more than {rule.limit} redirects{rule.stopped}")
    return target
