"""Fetching result files from result hosts, with the standard library's ``http.client``.

Result files are large and their hosts need nothing but a GET: no key (it is never sent there), no
retries at this level (``download`` resumes instead). ``http.client`` reads the body in 1 MiB blocks
straight from the socket, a third of the CPU that a general HTTP stack spends per byte, which is
what lets a download keep pace with ``curl``. Redirects are followed (result hosts are CDNs), up to
five. Failures come out as the ``ServiceError``s of ``errors.py``.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from typing import Final
from urllib.parse import urljoin, urlsplit

from .errors import BadResponse, ConnectionFailed, RedirectRefused, ResponseTimeout, ServiceError

BLOCK: Final = 1 << 20
MAX_REDIRECTS: Final = 5


class ResultResponse:
    """A streamed answer from a result host: status, headers, and the body in blocks."""

    def __init__(self, response: http.client.HTTPResponse, url: str) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = _Headers(response)
        self.url = url

    def chunks(self) -> Iterator[bytes]:
        """The body as sent, in blocks of up to 1 MiB as they arrive (nothing received is held
        back). A body cut short raises ``BadResponse`` after yielding every byte that came."""
        host = urlsplit(self.url).hostname
        while True:
            try:
                block = self._response.read1(BLOCK)
            except http.client.IncompleteRead as exc:
                if exc.partial:
                    yield bytes(exc.partial)
                raise BadResponse(
                    f"the connection to {host} broke before the whole file came"
                ) from None
            except TimeoutError:
                raise ResponseTimeout(f"{host} stopped sending") from None
            except (OSError, http.client.HTTPException) as exc:
                raise BadResponse(f"the connection to {host} broke ({exc})") from None
            if not block:
                return
            yield block

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
) -> Iterator[ResultResponse]:
    """GET ``url`` and yield the streamed answer, following redirects. Never sends a key."""
    target = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(f"cannot fetch a result from {target.split('?')[0]!r}")
        connection = _connect(parts.scheme, parts.hostname, parts.port, connect_timeout)
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
                raise BadResponse(f"the connection to {parts.hostname} broke ({exc})") from None
            if trace is not None:
                trace(f"< HTTP {response.status} {response.reason}")
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                target = urljoin(target, location)
                continue
            yield ResultResponse(response, target)
            return
        finally:
            connection.close()
    raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects fetching a result")


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
