"""The EvoLink HTTP client: endpoints, auth, User-Agent, timeouts, retries. The only module that uses httpx.

Safety rules it keeps (CLI.md):
- reads are retried on connection errors, timeouts, 408, 429 and 5xx with capped backoff and jitter,
  honouring ``Retry-After`` (``retry.read_retryable``, through ``RetryPolicy.run``, the one loop);
- a create is resent only when it surely did not reach the server (no connection could be made) or
  was refused with 429 (``retry.create_retryable``), every attempt with the same
  ``Idempotency-Key``; any other failure after sending raises ``OutcomeUnknown`` with that key,
  because every create costs credits;
- a create answered with a redirect (any 3xx) reached the server: ``OutcomeUnknown``, never followed;
- the key goes only to the configured origins, never across a redirect to another origin
  (``http_errors.next_hop``); error answers become errors by ``http_errors.http_error``;
- a plain ``http://`` base URL is refused unless it is a loopback address;
- every attempt has an overall deadline (``Timeouts.total``, or the caller's, such as a wait's),
  enforced on every socket operation, so a server that trickles bytes cannot hold us;
- every answer is read up to a cap (``MAX_ANSWER_BYTES``): an endless body is a ``BadResponse``;
- every server-provided text passed up (messages, hints, task answers, the trace) has the key and
  anything that looks like a bearer token masked (``redact``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpcore
import httpx

from . import __version__
from .errors import (
    APIError,
    BadResponse,
    ConnectionFailed,
    OutcomeUnknown,
    ResponseTimeout,
    SeedanceError,
    ServiceError,
    clip,
)
from .http_errors import (
    API_REDIRECTS,
    NO_REDIRECTS,
    Redirects,
    decode_json,
    files_error,
    http_error,
    model_refusal,
    next_hop,
)
from .models import (
    DEFAULT_BASE_URL,
    DEFAULT_FILES_URL,
    Credits,
    GenerationRequest,
    ModelList,
    Task,
    UploadedFile,
    check_api_key,
    check_base_url,
    check_idempotency_key,
    check_task_id,
)
from .redact import redact, scrub
from .resulthost import ResultResponse, open_result
from .retry import RetryPolicy, create_retryable, read_retryable
from .waiting import DEFAULT_POLL_INTERVAL, UpdateCallback, wait_for_task

USER_AGENT: Final = f"seedance-cli/{__version__}"
#: The largest JSON answer read; the API's answers are a few kB. Beyond it: ``BadResponse``.
MAX_ANSWER_BYTES: Final = 4 << 20
#: How much of an error answer is read: enough for any envelope, a page of HTML at most.
MAX_ERROR_BYTES: Final = 64 << 10
#: The longest ``--verbose`` trace line.
MAX_TRACE_CHARS: Final = 300
#: A read inside a wait may end this long after the wait's deadline: the last poll happens *at*
#: the deadline and needs a moment to be answered.
DEADLINE_GRACE: Final = 1.0
#: An upload's deadline grows by one second for each this many bytes (a slow uplink).
UPLOAD_BYTES_PER_SECOND: Final = 64 << 10

Trace = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase of a request. Generous but bounded: nothing waits forever."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0
    #: The whole of one attempt, connect to last byte: a trickling server cannot stretch it.
    total: float = 120.0
    #: Result downloads: at least ``resulthost.MIN_PROGRESS_BYTES`` must come in every ``stall``
    #: seconds. A large file that keeps moving is never cut off.
    stall: float = 30.0
    #: A result download given a deadline (a wait's) may still take this long from its start: a
    #: task seen completed at the deadline gets its file.
    download_grace: float = 60.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


_attempt = threading.local()


def _budget(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this thread's attempt deadline (``time.monotonic``);
    raises ``error`` when nothing is left."""
    deadline: float | None = getattr(_attempt, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current attempt's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        step = 16 << 10  # small pieces, so that a slow reader cannot stretch one write
        for start in range(0, len(buffer), step):
            self._inner.write(buffer[start : start + step], _budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(
                ssl_context, server_hostname, _budget(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network layer with ``_DeadlineStream`` connections."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_tcp(
                host,
                port,
                _budget(timeout, httpcore.ConnectTimeout),
                local_address,
                socket_options,
            )
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(
                path, _budget(timeout, httpcore.ConnectTimeout), socket_options
            )
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _deadline_transport(verify: ssl.SSLContext | bool) -> httpx.HTTPTransport:
    """httpx's own transport, its connections wrapped by ``_DeadlineStream``."""
    # no cap on connections: a batch's --concurrency bounds them (up to 500 creates at once)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    transport = httpx.HTTPTransport(verify=verify, trust_env=False, limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    # A test pins this (a newer httpx that moved it would lose only the header deadline: the
    # body stays bounded by the answer cap and the read deadline).
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return transport


def _tls_for(*origins: str) -> ssl.SSLContext | bool:
    """httpx's default verification, except when every origin is plain http (loopback only, by
    ``check_base_url``): then TLS is never used, and loading the CA bundle (a third of a
    command's start-up) is skipped. The bare context still verifies, and so fails, if used."""
    if any(origin.startswith("https:") for origin in origins):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _safe_file_name(name: str) -> str:
    """A file name that cannot break out of a multipart header."""
    cleaned = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in name)
    return cleaned[:200] or "image"


def _files_payload(data: Any) -> Any:
    """The ``data`` of a files API answer; its errors may come under HTTP 200 as ``success: false``."""
    if isinstance(data, dict) and data.get("success") is False:
        code = data.get("code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else 400
        message = data.get("msg")
        raise files_error(
            status,
            message if isinstance(message, str) else "the files API refused",
            code if isinstance(code, int) else None,
        )
    if not isinstance(data, dict) or "data" not in data:
        raise BadResponse("the files API answered without data")
    return data["data"]


def fetch_anonymously(url: str, *, max_bytes: int, timeout: float) -> tuple[int, bytes]:
    """GET ``url`` as ``(status, body)`` with no key (a client of its own, no ``Authorization``),
    no redirect followed, at most ``max_bytes`` of body, all of it within about ``timeout``
    seconds (a server that trickles is cut off); ``OSError`` when it cannot be read so. For the
    anonymous endpoints (the live pricing rules)."""
    # identity: a compressed answer would be read as not JSON (and a small one may inflate)
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "identity",
        "User-Agent": USER_AGENT,
    }
    previous = getattr(_attempt, "deadline", None)
    _attempt.deadline = time.monotonic() + timeout  # every read and write, headers too
    try:
        with (
            httpx.Client(
                timeout=timeout,
                follow_redirects=False,
                headers=headers,
                trust_env=False,  # no proxy or netrc credentials from the environment
                transport=_deadline_transport(_tls_for(url)),
            ) as http,
            http.stream("GET", url) as response,
        ):
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                raise OSError("a compressed answer, though none was asked for")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > max_bytes:
                    raise OSError("answer too large")
            return response.status_code, bytes(body)
    except (httpx.HTTPError, httpcore.TimeoutException) as exc:
        raise OSError(f"not read: {type(exc).__name__}") from None
    finally:
        _attempt.deadline = previous


#: The most task ids one ``POST /v1/tasks/batch`` takes (API.md).
BATCH_TASK_IDS: Final = 50
#: Base URLs whose ``POST /v1/tasks/batch`` answered 404, 405 or 501 in this process: not asked
#: again.
batch_unavailable: set[str] = set()
#: Base URLs whose ``POST /v1/tasks/batch`` failed otherwise (refused, a broken answer, an outage),
#: with the ``clock()`` time until which it is not asked: one GET per task meanwhile, so that
#: nothing ever depends on it.
batch_paused: dict[str, float] = {}
BATCH_PAUSE: Final = 60.0
#: The most one ``POST /v1/tasks/batch`` may take before it counts as failed (and falls back).
BATCH_BUDGET: Final = 10.0


def replayed(headers: Mapping[str, str]) -> bool:
    """Whether a create's answer says ``idempotency-replayed: true``: the API recognised the
    ``Idempotency-Key`` and answered the task it made the first time (no new task, no new
    charge). API.md: seen in EvoLink's own CLI; any other value, or none, is a new task."""
    return headers.get("idempotency-replayed", "").strip().lower() == "true"


def new_idempotency_key() -> str:
    return f"seedance-{uuid.uuid4()}"


def _json_body(response: httpx.Response) -> Any:
    try:
        return decode_json(response.content)
    except ValueError as exc:
        start = response.content[:100].lstrip().lower()
        what = "an HTML page" if start.startswith((b"<!doctype", b"<html", b"<")) else "not JSON"
        raise BadResponse(
            f"HTTP {response.status_code} answer from {response.request.url.path} "
            f"is {what}, not the API's JSON ({exc})"
        ) from None


def _transport_error(exc: httpx.TransportError, url: httpx.URL) -> ServiceError:
    """The ``ServiceError`` for an httpx failure. ``ConnectionFailed`` means nothing was sent."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ConnectionFailed(f"could not connect to {url.host} ({exc})")
    if isinstance(exc, httpx.TimeoutException):
        return ResponseTimeout(f"no answer from {url.host} in time ({exc.__class__.__name__})")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return BadResponse(f"the connection to {url.host} broke before a full answer came ({exc})")
    return ServiceError(f"request to {url.host} failed ({exc})")


class Client:
    """A client for the EvoLink endpoints that seedance uses. Raises ``SeedanceError``s, never exits.

    ``transport`` replaces httpx's network layer (tests); ``sleep``, ``clock`` (monotonic),
    ``wall_clock`` (epoch, for ``Retry-After`` dates) and ``rng`` (jitter) are injectable so that
    nothing in a test really waits. ``trace`` receives one redacted line per request and answer.
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        files_url: str = DEFAULT_FILES_URL,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        trace: Trace | None = None,
    ) -> None:
        self._api_key = check_api_key(api_key)
        self.base_url = check_base_url(base_url)
        self.files_url = check_base_url(files_url, what="files URL")
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self._trace = trace
        verify = _tls_for(self.base_url, self.files_url)
        self._http = httpx.Client(
            timeout=self.timeouts.to_httpx(),
            verify=verify,
            transport=transport or _deadline_transport(verify),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, files_url={self.files_url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def open_result(
        self, url: str, headers: Mapping[str, str], *, deadline: float | None = None
    ) -> contextlib.AbstractContextManager[ResultResponse]:
        """GET a result file, streamed, with this client's timeouts and User-Agent. Never carries
        the API key, whatever the host; redirects are followed (result hosts are CDNs).

        The body may take as long as it keeps moving (``Timeouts.stall``), but when a
        ``deadline`` is given (a ``clock()`` time, such as a wait's) it ends by then, or
        ``Timeouts.download_grace`` seconds from now if that is later."""
        if deadline is not None:
            deadline = max(deadline, self._clock() + self.timeouts.download_grace)
        return open_result(
            url,
            headers,
            user_agent=USER_AGENT,
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            trace=self.trace if self._trace else None,
            stall=self.timeouts.stall,
            deadline=None if deadline is None else self._real_deadline(deadline),
        )

    # -- masking -----------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with this client's key and anything like a bearer token masked."""
        return redact(text, (self._api_key,))

    @contextlib.contextmanager
    def _masked(self) -> Iterator[None]:
        """Every error leaving the block has the key and bearer-like tokens masked in its text:
        servers echo what they were sent."""
        try:
            yield
        except SeedanceError as exc:
            texts = {
                name: value
                for name in ("message", "hint", "cause", "param", "api_type", "api_code")
                if isinstance(value := exc.__dict__.get(name), str)
            }
            masked = {name: self.redact(value) for name, value in texts.items()}
            if masked == texts:
                raise
            # A masked copy (errors are immutable); the unmasked one is not chained to it.
            raise exc.replace(**masked).with_traceback(exc.__traceback__) from exc.__cause__

    def trace(self, line: str) -> None:
        """One ``--verbose`` trace line: redacted and bounded (for the result downloads the
        session drives, too)."""
        if self._trace is not None:
            self._trace(clip(self.redact(line), MAX_TRACE_CHARS))

    def _real_deadline(self, deadline: float) -> float:
        """A ``clock()`` deadline as a ``time.monotonic()`` one (the clock may be a test's)."""
        left = min(max(0.0, deadline - self._clock()), 366 * 86400.0)
        return time.monotonic() + left

    # -- endpoints ---------------------------------------------------------------------------------

    def create_generation(
        self, request: GenerationRequest, *, idempotency_key: str | None = None
    ) -> Task:
        """Create a task; returns it ``pending``. Every attempt carries one ``Idempotency-Key``.

        An answer marked ``idempotency-replayed: true`` is the task this key already made (no new
        charge): it comes back with ``replayed=True``.

        Resent only after a connection that could not be made or a 429. Raises ``OutcomeUnknown``
        (with the key) when the request may have reached the server and no usable answer came.
        """
        key = check_idempotency_key(idempotency_key or new_idempotency_key())
        with self._masked():
            return self._create(request, key)

    def _create(self, request: GenerationRequest, key: str) -> Task:
        """Send the create, again only as ``create_retryable`` allows (``RetryPolicy.run``)."""
        url = f"{self.base_url}/v1/videos/generations"
        body = request.to_body()

        def attempt() -> Task:
            try:
                response = self._exchange(
                    "POST", url, body=body, extra={"Idempotency-Key": key}, redirects=NO_REDIRECTS
                )
            except ConnectionFailed:  # no connection was made: nothing was sent
                raise
            except ServiceError as exc:  # sent, and then the answer broke or never came
                raise OutcomeUnknown(key, exc.message) from None
            status = response.status_code
            if 200 <= status < 300:
                try:
                    data = scrub(_json_body(response), (self._api_key,))
                    task = Task.from_api(data, default_status="pending")
                except BadResponse as exc:
                    raise OutcomeUnknown(key, exc.message) from None
                if replayed(response.headers):
                    task = dataclasses.replace(task, replayed=True)
                return task
            if 300 <= status < 400:  # it reached the server; following would send it again
                where = response.headers.get("Location", "")
                raise OutcomeUnknown(
                    key,
                    f"HTTP {status} redirect"
                    + (f" to {clip(where.split('?')[0], 200)}" if where else "")
                    + "; a create is never sent again",
                )
            error = self._http_error(response)
            if not 400 <= status < 500 or status == 408:  # 5xx, 1xx, odd codes: it got there
                raise OutcomeUnknown(key, f"HTTP {status}: {error.message}") from None
            # A 429 is tried again (``create_retryable``); any other 4xx is final, and one that
            # says the model is not served (any more) is told as such.
            raise model_refusal(error, request.model, known=request.known_model)

        return self.retry.run(
            attempt,
            retryable=create_retryable,
            sleep=self._sleep,
            rng=self._rng,
            on_retry=self.trace,
        )

    def get_task(self, task_id: str, *, deadline: float | None = None) -> Task:
        """Fetch a task once (with retries). A failed task is returned, not raised.

        ``deadline`` is a ``clock()`` time after which no retry is started.
        """
        check_task_id(task_id)
        with self._masked():
            data = self._read(f"{self.base_url}/v1/tasks/{quote(task_id, safe='')}", deadline)
            task = Task.from_api(data)
            if task.id != task_id:
                raise BadResponse(f"asked for {task_id}, the answer is about another task")
            return task

    @property
    def many_per_request(self) -> bool:
        """Whether ``get_tasks`` may fetch many tasks per request from this API now: it has not
        answered ``POST /v1/tasks/batch`` with 404, 405 or 501 in this process, nor failed in
        the last ``BATCH_PAUSE`` seconds."""
        if self.base_url in batch_unavailable:
            return False
        return self._clock() >= batch_paused.get(self.base_url, float("-inf"))

    def get_tasks(
        self, task_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, Task | SeedanceError]:
        """Fetch many tasks: ``POST /v1/tasks/batch`` (API.md, known only from EvoLink's own CLI)
        with up to ``BATCH_TASK_IDS`` ids a request, else one ``get_task`` each. Each id maps to
        its task, or the error its fetch ended with; never raises for one task's sake.

        Nothing depends on the fast path: where it answers 404 or 405 it is not asked again for
        this base URL in this process (``batch_unavailable``); any other failure (a refusal, an
        odd answer, an outage after its retries) falls back to one GET per id, and the fast path
        rests ``BATCH_PAUSE`` seconds (``batch_paused``): only a GET's own error ends a wait. An
        id the
        answer leaves out, says it did not find, or answers with a task of another id is fetched
        on its own (a task is never declared missing on the fast path's word alone)."""
        order = list(dict.fromkeys(task_ids))
        for task_id in order:
            check_task_id(task_id)
        found: dict[str, Task | SeedanceError] = {}
        if len(order) > 1 and self.many_per_request:
            for start in range(0, len(order), BATCH_TASK_IDS):
                chunk = order[start : start + BATCH_TASK_IDS]
                try:
                    found.update(self._batch(chunk, deadline))
                except SeedanceError as exc:
                    status = exc.status if isinstance(exc, APIError) else None
                    if status in (404, 405, 501):
                        batch_unavailable.add(self.base_url)
                        self.trace(f"POST /v1/tasks/batch answered {status}: one GET per task")
                    else:  # refused, broken or down: the GETs decide, and it rests a while
                        batch_paused[self.base_url] = self._clock() + BATCH_PAUSE
                        self.trace(f"POST /v1/tasks/batch failed ({exc.message}): one GET per task")
                    break
        for task_id in order:
            if task_id not in found:
                try:
                    found[task_id] = self.get_task(task_id, deadline=deadline)
                except SeedanceError as exc:
                    found[task_id] = exc
        return {task_id: found[task_id] for task_id in order}

    def _batch(self, task_ids: Sequence[str], deadline: float | None) -> dict[str, Task]:
        """One ``POST /v1/tasks/batch``: the tasks of ``task_ids`` it answered with (as a read:
        retried like one). Entries that are not usable tasks, or not of an id asked, are left
        out; so is any id it says it did not find."""
        body = json.dumps({"task_ids": list(task_ids)}).encode()
        with self._masked():
            data = self._call(
                "POST",
                f"{self.base_url}/v1/tasks/batch",
                deadline=deadline,
                content=lambda: [body],
                headers={"Content-Type": "application/json"},
                retried=False,  # a failure falls back to the GETs, which retry
                budget=BATCH_BUDGET,  # nor may a hung one hold the polls of every task
            )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BadResponse("the tasks batch answer holds no list of tasks")
        asked = set(task_ids)
        tasks: dict[str, Task] = {}
        for item in items[: len(task_ids)]:
            try:
                task = Task.from_api(item)
            except BadResponse:
                continue
            if task.id in asked:
                tasks.setdefault(task.id, task)
        return tasks

    def get_credits(self) -> Credits:
        """The remaining and used credits of this key (``token``) and of the account (``user``)."""
        with self._masked():
            data = self._read(f"{self.base_url}/v1/credits", None)
            if isinstance(data, dict) and data.get("success") is False:
                raise BadResponse(
                    f"the credits answer says it failed: {clip(str(data.get('message')))}"
                )
            return Credits.from_api(data)

    def list_tasks(self, *, page: int = 1, page_size: int = 50) -> tuple[list[Task], int] | None:
        """One page of this key's tasks, newest first (``GET /v1/tasks``, API.md: known only from
        EvoLink's own CLI), and the total the API says it holds; ``None`` where the endpoint
        answers 404 or 405. Items carry no result URLs. Entries that are not usable tasks are
        left out; at most ``page_size`` are read."""
        url = f"{self.base_url}/v1/tasks?page={page}&page_size={page_size}"
        with self._masked():
            try:
                data = self._read(url, None)
            except APIError as exc:
                if exc.status in (404, 405):
                    return None
                raise
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BadResponse("the task list answer holds no list of tasks")
        tasks = []
        for item in items[:page_size]:
            try:
                tasks.append(Task.from_api(item))
            except BadResponse:
                continue
        total = data.get("total")
        count = total if isinstance(total, int) and not isinstance(total, bool) else len(tasks)
        return tasks, max(0, count)

    def list_models(self) -> ModelList | None:
        """The models this key may use, as ``GET /v1/models`` lists them (every model of the key,
        not only Seedance ones). That endpoint is known only from EvoLink's own CLI: where it
        answers 404 or 405 the API does not say, and this returns ``None`` instead of raising.
        Retried like any read; an answer without a list of models is a ``BadResponse``."""
        with self._masked():
            try:
                data = self._read(f"{self.base_url}/v1/models", None)
            except APIError as exc:
                if exc.status in (404, 405):
                    return None
                raise
            return ModelList.from_api(data)

    def upload_file(
        self,
        path: Path,
        *,
        mime: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> UploadedFile:
        """Upload a local file through the files API's stream endpoint; return its URL (72 hours).

        Retried like a read: an upload costs no credits, only one of the account's file slots.
        Errors come as ``APIError``s whether the API says so with its HTTP status or with
        ``success: false`` under a 200; a used-up file quota is ``InsufficientCreditsError``.
        """
        size = path.stat().st_size
        boundary = f"seedance-{uuid.uuid4().hex}"
        name = _safe_file_name(path.name)
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body() -> Iterator[bytes]:
            yield head
            sent = 0
            with open(path, "rb") as handle:
                while block := handle.read(256 * 1024):
                    sent += len(block)
                    yield block
                    if on_progress is not None:
                        on_progress(sent, size)
            yield tail

        with self._masked():
            data = self._call(
                "POST",
                f"{self.files_url}/api/v1/files/upload/stream",
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(head) + size + len(tail)),
                },
                budget=self.timeouts.total + size / UPLOAD_BYTES_PER_SECOND,
            )
            return UploadedFile.from_api(_files_payload(data))

    def wait(
        self,
        task_id: str,
        *,
        timeout: float | None = None,
        interval: float = DEFAULT_POLL_INTERVAL,
        on_update: UpdateCallback | None = None,
        on_error: Callable[[SeedanceError], None] | None = None,
    ) -> Task:
        """Poll ``task_id`` until it is terminal; see ``waiting.wait_for_task``.

        Returns the terminal task, failed ones included; raises ``WaitTimeout`` at the deadline.
        """
        return wait_for_task(
            self,
            task_id,
            timeout=timeout,
            interval=interval,
            on_update=on_update,
            on_error=on_error,
            sleep=self._sleep,
            clock=self._clock,
            wall_clock=self._wall_clock,
        )

    # -- plumbing ----------------------------------------------------------------------------------

    def _read(self, url: str, deadline: float | None) -> Any:
        """GET ``url`` and decode its JSON, retrying transient failures within the policy."""
        return self._call("GET", url, deadline=deadline)

    def _call(
        self,
        method: str,
        url: str,
        *,
        deadline: float | None = None,
        content: Callable[[], Iterable[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        budget: float | None = None,
        retried: bool = True,
    ) -> Any:
        """Send a request that may safely be repeated and decode its JSON answer (secrets masked,
        non-finite numbers ``None``: see ``scrub``), retrying transient failures within the policy
        (``read_retryable``, ``RetryPolicy.run``; once only when not ``retried``). ``content``
        makes a fresh body for each attempt. ``deadline`` (a ``clock()`` time) bounds every
        attempt and every retry; ``budget`` is the seconds one attempt may take
        (``Timeouts.total`` by default)."""

        def attempt() -> Any:
            response = self._exchange(
                method,
                url,
                content=content() if content else None,
                extra=headers,
                deadline=deadline,
                budget=budget,
            )
            status = response.status_code
            if 200 <= status < 300:
                return scrub(_json_body(response), (self._api_key,))
            if status < 400:  # a redirect without a target, 304, 1xx: not an answer
                raise BadResponse(f"unexpected HTTP {status} answer from {httpx.URL(url).host}")
            raise self._http_error(response)

        if not retried:
            return attempt()
        return self.retry.run(
            attempt,
            retryable=read_retryable,
            sleep=self._sleep,
            rng=self._rng,
            clock=self._clock,
            deadline=deadline,
            on_retry=self.trace,
        )

    def _http_error(self, response: httpx.Response) -> SeedanceError:
        """The error an API error answer means (``http_errors.http_error``)."""
        return http_error(
            response.status_code,
            response.content,
            response.headers,
            now=self._wall_clock(),
            reason=response.reason_phrase,
        )

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        content: Iterable[bytes] | None = None,
        extra: Mapping[str, str] | None = None,
        deadline: float | None = None,
        budget: float | None = None,
        redirects: Redirects = API_REDIRECTS,
    ) -> httpx.Response:
        """One attempt, following the redirects that ``redirects`` allows (``next_hop``: same
        origin only, none for a create), all of it within ``budget`` seconds
        (``Timeouts.total``) and by ``deadline`` (a ``clock()`` time; plus ``DEADLINE_GRACE``,
        so that a last poll at the deadline can be answered). Translates httpx's errors.

        ``ConnectionFailed`` means the request surely never left this machine; every other
        ``ServiceError`` means it may have reached the server.
        """
        headers = {"Authorization": f"Bearer {self._api_key}", **(extra or {})}
        if body is not None:
            content = [json.dumps(body, ensure_ascii=False).encode()]
            headers["Content-Type"] = "application/json"
        now = self._clock()
        until = now + (self.timeouts.total if budget is None else budget)
        if deadline is not None:
            until = min(until, max(deadline, now + DEADLINE_GRACE))
        target, hops = httpx.URL(url), 0
        while True:
            response = self._send_once(method, target, headers, content, until)
            next_url = next_hop(
                redirects,
                response.status_code,
                response.headers.get("Location"),
                url=str(target),
                method=method,
                hops=hops,
                join=target.join,
            )
            if next_url is None:
                return response
            target, hops = httpx.URL(next_url), hops + 1

    def _send_once(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        content: Iterable[bytes] | None,
        until: float,
    ) -> httpx.Response:
        """One request and its whole answer (read up to a cap), all by ``until``."""
        if self._trace:
            shown = {k: ("Bearer ***" if k == "Authorization" else v) for k, v in headers.items()}
            self.trace(f"> {method} {url.copy_with(query=None)}")
            for name, value in shown.items():
                self.trace(f"> {name}: {value}")
        started = self._clock()
        previous = getattr(_attempt, "deadline", None)
        _attempt.deadline = self._real_deadline(until)
        try:
            body = b"".join(content) if isinstance(content, list) else content
            request = self._http.build_request(method, url, headers=headers, content=body)
            streamed = self._http.send(request, stream=True)
            try:
                data = self._read_body(streamed, until)
            finally:
                streamed.close()
        except httpx.TransportError as exc:
            raise _transport_error(exc, url) from None
        except httpx.DecodingError:
            raise BadResponse(f"the answer from {url.host} could not be decoded") from None
        finally:
            _attempt.deadline = previous
        kept = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        reason = streamed.extensions.get("reason_phrase")
        response = httpx.Response(
            streamed.status_code,
            headers=kept,
            content=data,
            request=request,
            extensions={"reason_phrase": reason} if isinstance(reason, bytes) else None,
        )
        if self._trace:
            elapsed = self._clock() - started
            self.trace(
                f"< HTTP {response.status_code} {response.reason_phrase} "
                f"({len(data)} bytes, {elapsed:.2f}s)"
            )
        return response

    def _read_body(self, response: httpx.Response, until: float) -> bytes:
        """The body, decoded, up to ``MAX_ANSWER_BYTES`` (a success) or ``MAX_ERROR_BYTES`` (an
        error: the rest is dropped); a larger success, or one still coming at ``until``, is a
        ``BadResponse`` or ``ResponseTimeout``."""
        limit = MAX_ANSWER_BYTES if response.is_success else MAX_ERROR_BYTES
        host = response.request.url.host
        parts: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                if not response.is_success:
                    return b"".join(parts)[:limit]
                raise BadResponse(
                    f"the answer from {host} is larger than {limit >> 20} MiB; "
                    "not what the API sends"
                )
            if self._clock() > until:
                raise ResponseTimeout(f"the answer from {host} did not end in time")
        return b"".join(parts)
