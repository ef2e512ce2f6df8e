"""Fetching result files from result hosts, with the standard library's ``http.client``.

Result files are large and their hosts need nothing but a GET: no key (it is never sent there), no
retries at this level (``download`` resumes instead). ``http.client`` reads the body in 1 MiB blocks
straight from the socket, a third of the CPU that a general HTTP stack spends per byte, which is
what lets a download keep pace with ``curl``. Redirects are followed (result hosts are CDNs), to any
origin, up to five (``http_errors.RESULT_REDIRECTS``). Failures come out as the ``ServiceError``s of
``errors.py``; an error status is left to the caller (``http_errors.http_error``).

Nothing here waits forever: a watchdog thread shuts the connection down when the headers do not
come within the read timeout, when the body moves less than ``MIN_PROGRESS_BYTES`` in ``stall``
seconds (a host that trickles a byte a second), or when the caller's deadline passes. A large
file that keeps moving is never cut off.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Final
from urllib.parse import urljoin, urlsplit

from .errors import BadResponse, ConnectionFailed, ResponseTimeout, ServiceError
from .http_errors import RESULT_REDIRECTS, next_hop

BLOCK: Final = 1 << 20
#: A result body must move at least this much in each ``stall`` window (16 kB in 30 s by default:
#: about 0.5 kB/s, far below any real link), else it has stalled.
MIN_PROGRESS_BYTES: Final = 16 << 10


class _Watchdog:
    """Shuts a connection down when its answer stalls or a deadline passes; ``reason`` says why.

    Until ``body_started`` the headers must come within ``header_timeout``; from then on each
    ``stall`` seconds must bring ``MIN_PROGRESS_BYTES``. ``deadline`` (``time.monotonic``) bounds
    both. Shutting the socket down wakes a reader blocked in ``recv`` at once.
    """

    def __init__(
        self,
        connection: http.client.HTTPConnection,
        *,
        header_timeout: float,
        stall: float,
        deadline: float | None,
    ) -> None:
        self._connection = connection
        self._stall = max(0.01, stall)
        self._deadline = deadline
        self._header_until = time.monotonic() + header_timeout
        self._body = threading.Event()
        self._done = threading.Event()
        self.received = 0
        self.reason: str | None = None
        self._thread = threading.Thread(target=self._watch, name="seedance-watchdog", daemon=True)
        self._thread.start()

    def body_started(self) -> None:
        self._body.set()

    def stop(self) -> None:
        self._done.set()
        self._body.set()  # wakes a watch still waiting for the headers

    def _watch(self) -> None:
        while not self._done.is_set():
            now = time.monotonic()
            if self._deadline is not None and now >= self._deadline:
                self._fire("the deadline passed")
                return
            until = now + self._stall if self._body.is_set() else self._header_until
            if self._deadline is not None:
                until = min(until, self._deadline)
            if not self._body.is_set():
                if now >= self._header_until:
                    self._fire("no answer in time")
                    return
                self._body.wait(until - now)  # the body starting ends this wait early
                continue
            mark = self.received
            if self._done.wait(max(0.0, until - now)):
                return
            if self._deadline is not None and time.monotonic() >= self._deadline:
                continue
            if self.received - mark < MIN_PROGRESS_BYTES:
                self._fire(f"it stalled (under {MIN_PROGRESS_BYTES >> 10} kB in {self._stall:g}s)")
                return

    def _fire(self, reason: str) -> None:
        if self._done.is_set():
            return
        self.reason = reason
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # the plain socket's shutdown, also under TLS: SSLSocket's own would unwrap the
                # TLS object under a reader that is still using it
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class ResultResponse:
    """A streamed answer from a result host: status, headers, and the body in blocks."""

    def __init__(
        self, response: http.client.HTTPResponse, url: str, watchdog: _Watchdog | None = None
    ) -> None:
        self._response = response
        self._watchdog = watchdog
        self.status = response.status
        self.headers: Mapping[str, str] = _Headers(response)
        self.url = url

    def chunks(self) -> Iterator[bytes]:
        """The body as sent, in blocks of up to 1 MiB as they arrive (nothing received is held
        back). A body cut short raises ``BadResponse`` after yielding every byte that came; one
        that stalls or outlives the deadline, ``ResponseTimeout``."""
        host = urlsplit(self.url).hostname
        watchdog = self._watchdog
        if watchdog is not None:
            watchdog.body_started()
        while True:
            try:
                block = self._response.read1(BLOCK)
            except http.client.IncompleteRead as exc:
                if exc.partial:
                    yield bytes(exc.partial)
                self._check_watchdog(host)
                raise BadResponse(
                    f"the connection to {host} broke before the whole file came"
                ) from None
            except TimeoutError:
                raise ResponseTimeout(f"{host} stopped sending") from None
            except (OSError, ValueError, http.client.HTTPException) as exc:
                self._check_watchdog(host)
                raise BadResponse(f"the connection to {host} broke ({exc})") from None
            if watchdog is not None:
                watchdog.received += len(block)
            if not block:
                self._check_watchdog(host)
                return
            yield block

    def _check_watchdog(self, host: str | None) -> None:
        """Raise ``ResponseTimeout`` if the watchdog cut the connection (its EOF is no end)."""
        if self._watchdog is not None and self._watchdog.reason is not None:
            raise ResponseTimeout(f"{host} was cut off: {self._watchdog.reason}")

    def text(self, limit: int = 2000) -> str:
        """The start of a small error body, for messages."""
        try:
            return self._response.read(limit).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return ""


class _Headers(Mapping[str, str]):
    """Case-insensitive read access to a response's headers."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._items = {k.lower(): v for k, v in response.getheaders()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._items.get(key.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@contextlib.contextmanager
def open_result(
    url: str,
    headers: Mapping[str, str],
    *,
    user_agent: str,
    connect_timeout: float,
    read_timeout: float,
    trace: Callable[[str], None] | None = None,
    stall: float = 30.0,
    deadline: float | None = None,
) -> Iterator[ResultResponse]:
    """GET ``url`` and yield the streamed answer, following redirects. Never sends a key.

    The headers must come within ``read_timeout``, the body must keep moving (``stall``), and
    all of it ends by ``deadline`` (``time.monotonic``) when one is given: ``ResponseTimeout``.
    """
    target, hops = url, 0
    while True:
        try:  # a result URL (or a redirect) with a bad port or host is the service's fault
            parts = urlsplit(target)
            port = parts.port
        except ValueError as exc:
            raise ServiceError(
                f"cannot fetch a result from {target.split('?')[0]!r} ({exc})"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(f"cannot fetch a result from {target.split('?')[0]!r}")
        timeout = connect_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise ResponseTimeout(f"the deadline passed before {parts.hostname} answered")
        connection = _connect(parts.scheme, parts.hostname, port, timeout)
        watchdog = _Watchdog(
            connection, header_timeout=read_timeout, stall=stall, deadline=deadline
        )
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if trace is not None:
                trace(f"> GET {parts.scheme}://{parts.netloc}{parts.path} (result host, no key)")
                for name, value in headers.items():
                    trace(f"> {name}: {value}")
            try:
                connection.request("GET", path, headers={"User-Agent": user_agent, **headers})
                connection.sock.settimeout(read_timeout)
                response = connection.getresponse()
            except TimeoutError:
                raise ResponseTimeout(f"no answer from {parts.hostname} in time") from None
            except (OSError, http.client.HTTPException) as exc:
                if watchdog.reason is not None:
                    raise ResponseTimeout(
                        f"{parts.hostname} was cut off: {watchdog.reason}"
                    ) from None
                raise BadResponse(f"the connection to {parts.hostname} broke ({exc})") from None
            if trace is not None:
                trace(f"< HTTP {response.status} {response.reason}")
            next_url = next_hop(
                RESULT_REDIRECTS,
                response.status,
                response.getheader("Location"),
                url=target,
                method="GET",
                hops=hops,
                join=functools.partial(urljoin, target),
            )
            if next_url is None:
                yield ResultResponse(response, target, watchdog)
                return
            target, hops = next_url, hops + 1
        finally:
            watchdog.stop()
            connection.close()


def _connect(
    scheme: str, host: str, port: int | None, timeout: float
) -> http.client.HTTPConnection:
    try:
        if scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except TimeoutError:
        raise ConnectionFailed(f"could not connect to {host} in time") from None
    except OSError as exc:
        raise ConnectionFailed(f"could not connect to {host} ({exc.strerror or exc})") from None
    return connection
