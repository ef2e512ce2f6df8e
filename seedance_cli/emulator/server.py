"""The emulator's HTTP side: a real server on loopback, the fault layer, the request record, control.

Besides the EvoLink endpoints it answers ``/_emulator/...`` (no key needed) so that a test or a
user's CI script can steer a running emulator:

- ``GET /_emulator/health``: ``{"ok": true}``
- ``POST /_emulator/faults`` with ``{"faults": ["create:500", ...]}``: add faults (see ``faults.py``)
- ``DELETE /_emulator/faults``: clear them
- ``GET /_emulator/requests``: every request seen: kind, method, path, status, idempotency key
- ``POST /_emulator/reset``: forget requests and faults
- ``GET /_emulator/models``: ``{"retired": {MODEL: STATUS}, "models_endpoint": bool}``
- ``POST /_emulator/models`` with ``{"retire": ["MODEL", "MODEL:404"], "restore": ["MODEL"],
  "models_endpoint": false}`` (each key optional; ``"restore": "*"`` serves every model again)
- ``GET /_emulator/switches``: ``{"billing", "idempotency_replay", "pricing_endpoint",
  "models_endpoint"}``, each true or false
- ``POST /_emulator/switches`` with any of those keys: turn them on or off
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .faults import Fault, FaultSpecError
from .service import DEFAULT_CREDITS, Reply, Request, Service, parse_retirement

#: Largest request body read (a 10 MB image, base64-encoded, with room to spare).
MAX_BODY_BYTES = 32 * 1024 * 1024
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
MALFORMED_JSON = b'{"id": "task-unified-'


@dataclasses.dataclass
class RecordedRequest:
    """A request as the emulator received it, with the status it answered (``None``: no answer)."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    fault: str | None = None
    at: float = 0.0  # the emulator's clock when it arrived

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def has_authorization(self) -> bool:
        return "authorization" in self.headers

    def json(self) -> Any:
        return json.loads(self.body)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "fault": self.fault,
            "idempotency_key": self.idempotency_key,
            "authorization": self.has_authorization,
            "user_agent": self.headers.get("user-agent"),
            "at": self.at,
        }


def route(method: str, path: str) -> str:
    """The endpoint kind of a request: ``create``, ``query``, ... or ``control``/``unknown``."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["_emulator"]:
        return "control"
    if method in ("GET", "HEAD"):
        if parts[:1] == ["results"] and len(parts) == 2:
            return "download"
        if parts[:1] == ["files"] or parts[:4] == ["api", "v1", "files", "download"]:
            return "file"
    if method == "GET":
        if parts[:2] == ["v1", "tasks"] and len(parts) == 3:
            return "query"
        if parts == ["v1", "tasks"]:
            return "list"
        if parts == ["v1", "credits"]:
            return "credits"
        if parts == ["v1", "models"]:
            return "models"
        if parts == ["v1", "catalog", "pricing-rules"] or (
            len(parts) == 5
            and parts[:3] == ["v1", "catalog", "models"]
            and parts[4] == "pricing-rules"
        ):
            return "pricing"
        if parts == ["api", "v1", "files", "quota"]:
            return "quota"
    if method == "POST":
        if parts == ["v1", "videos", "generations"]:
            return "create"
        if parts == ["v1", "tasks", "batch"]:
            return "batch"
        if parts[:4] == ["api", "v1", "files", "upload"] and len(parts) == 5:
            return "upload" if parts[4] in ("stream", "base64", "url") else "unknown"
    return "unknown"


class _Switch:
    """An ``Emulator`` attribute that reads and sets the ``Service``'s of the same name (the
    switches of ``/_emulator/switches``)."""

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.__doc__ = doc

    def __get__(self, emulator: Emulator | None, owner: type | None = None) -> Any:
        return self if emulator is None else getattr(emulator.service, self.name)

    def __set__(self, emulator: Emulator, value: bool) -> None:
        setattr(emulator.service, self.name, value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line in the emulator's log instead of a traceback on stderr."""
        import sys

        self.emulator._log(f"connection from {client_address[0]} failed: {sys.exc_info()[1]!r}")


def _bad_request(emulator: Emulator, kind: str, message: str) -> Reply:
    """A 400 in the envelope of the endpoint asked (the create's for routes it does not know)."""
    known = kind if kind not in ("control", "unknown") else "create"
    return emulator.service.error(known, 400, message)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "seedance-emulator"
    sys_version = ""
    timeout = 30  # an idle keep-alive connection is let go after this
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.emulator._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        emulator = self.server.emulator
        split = urlsplit(self.path)
        if self.headers.get("Transfer-Encoding"):
            self._write(
                Reply.json(
                    411,
                    {
                        "error": {
                            "code": "length_required",
                            "message": "Content-Length is required",
                            "type": "invalid_request_error",
                        }
                    },
                )
            )
            return
        kind = route(self.command, split.path)
        if (
            (kind == "models" and not emulator.service.models_endpoint)
            or (kind == "pricing" and not emulator.service.pricing_endpoint)
            or (kind == "batch" and not emulator.service.batch_endpoint)
            or (kind == "list" and not emulator.service.list_endpoint)
        ):
            kind = "unknown"  # switched off: the path does not exist
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit() or not declared.isascii():  # "-5", "abc", "1e3", "٣"
            # The body's end is unknown: answer, and close the connection rather than guess.
            self.close_connection = True
            self._write(_bad_request(emulator, kind, "Content-Length must be a whole number"))
            return
        length = int(declared) if len(declared) <= 18 else MAX_BODY_BYTES + 1
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._write(emulator.service.error("create", 413))
            return
        body = self.rfile.read(length) if length else b""
        if kind == "control":
            self._write(emulator._control(self.command, split.path, body))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(kind, self.command, split.path, split.query, headers, body)
        record = RecordedRequest(
            kind, self.command, self.path, headers, body, at=emulator.service.clock()
        )
        emulator._record(record)
        if kind == "unknown":
            reply = emulator.service.error(
                "query", 404, f"No route for {self.command} {split.path}"
            )
            record.status = reply.status
            self._write(reply)
            return
        fault = emulator.service.take_fault(kind)
        if fault is not None:
            record.fault = f"{fault.kind}:{fault.action}"
        if fault is not None and fault.action == "redirect":
            target = fault.params.get("to") or emulator.results_url + self.path
            status = int(fault.params.get("status", "307"))
            reply = Reply(status, b"", "text/plain", {"Location": target})
        elif fault is not None and fault.status is not None:
            extra = (
                {"Retry-After": fault.params["retry-after"]}
                if "retry-after" in fault.params
                else {}
            )
            reply = emulator.service.error(kind, fault.status, **extra)
        else:
            ignore_range = fault is not None and fault.action == "ignore-range"
            try:
                reply = emulator.service.handle(request, ignore_range=ignore_range)
            except Exception as exc:  # a bug in the emulator: answer as the API would, say so
                emulator._log(f"{self.command} {split.path}: emulator error {exc!r}")
                reply = emulator.service.error(kind, 500)
        emulator._log(
            f"{self.command} {split.path} -> {reply.status}"
            + (f" [fault {record.fault}]" if record.fault else "")
        )
        action = fault.action if fault is not None else None
        if action == "drop":
            self._drop()
            return
        if action == "slow":
            emulator._stopping.wait(fault.seconds if fault else 0)
        elif action == "malformed":
            reply = Reply(200, MALFORMED_JSON, "application/json")
        elif action == "html":
            reply = Reply(200, HTML_ERROR_PAGE, "text/html; charset=utf-8")
        elif action == "json":
            reply = Reply.json(200, {"error": {"code": "internal_error", "message": "oops"}})
        elif action == "short":
            reply.body = reply.body[: len(reply.body) * 3 // 4]
        record.status = reply.status
        stall = fault.seconds if fault is not None and action == "stall" else None
        self._write(reply, truncate=action == "truncate", stall=stall)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, reply: Reply, *, truncate: bool = False, stall: float | None = None) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                half = len(reply.body) // 2
                if truncate:
                    self.wfile.write(reply.body[:half])
                elif stall is not None:
                    self.wfile.write(reply.body[:half])
                    self.wfile.flush()
                    self.server.emulator._stopping.wait(stall)
                    self.wfile.write(reply.body[half:])
                else:
                    self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if truncate:
            self._drop()


class Emulator:
    """The EvoLink emulator: a real HTTP server on 127.0.0.1, in a background thread.

    ``clock`` (epoch seconds) drives task progress: pass a ``FakeClock`` and advance it to make tasks
    finish without waiting. ``second_origin`` hosts result videos on another port, as the real
    service hosts them on another host. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        task_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        api_key: str | None = None,
        credits: float = DEFAULT_CREDITS,
        max_files: int = 2000,
        second_origin: bool = False,
        legacy_error_codes: bool = False,
        files_errors_http_200: bool = False,
        result_size: int | None = None,
        faults: Iterable[str | Fault] = (),
        retired: Iterable[str] = (),
        models_endpoint: bool = True,
        pricing_endpoint: bool = True,
        billing: bool = True,
        idempotency_replay: bool = True,
        price_factor: Decimal | float | str = 1,
        batch_endpoint: bool = True,
        list_endpoint: bool = True,
        estimated_time: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator listens on loopback only (127.0.0.1, ::1 or localhost)")
        self.service = Service(
            task_seconds=task_seconds,
            clock=clock,
            api_key=api_key,
            credits=credits,
            max_files=max_files,
            legacy_error_codes=legacy_error_codes,
            files_errors_http_200=files_errors_http_200,
            result_size=result_size,
            retired=retired,
            models_endpoint=models_endpoint,
            pricing_endpoint=pricing_endpoint,
            billing=billing,
            idempotency_replay=idempotency_replay,
            price_factor=Decimal(str(price_factor)),
            batch_endpoint=batch_endpoint,
            list_endpoint=list_endpoint,
            estimated_time=estimated_time,
        )
        for fault in faults:
            self.add_fault(fault)
        self._host, self._port = host, port
        self._second_origin = second_origin
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._records: list[RecordedRequest] = []
        self._records_lock = threading.Lock()
        self._stopping = threading.Event()
        self._log_fn = log
        self.url = ""
        self.results_url = ""

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Emulator:
        main = self._listen(self._port)
        self.url = self._url_of(main)
        self.results_url = self._url_of(self._listen(0)) if self._second_origin else self.url
        self.service.base_url = self.url
        self.service.results_url = self.results_url
        return self

    def _listen(self, port: int) -> _Server:
        server = _Server((self._host, port), _Handler)
        server.emulator = self
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            daemon=True,
            name=f"seedance-emulator-{server.server_address[1]}",
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return server

    def _url_of(self, server: _Server) -> str:
        host = "[::1]" if self._host == "::1" else self._host
        return f"http://{host}:{server.server_address[1]}"

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until ``stop()`` or ``request_stop()`` is called from elsewhere."""
        self._stopping.wait()

    def request_stop(self) -> None:
        """Make ``wait()`` return; safe in a signal handler (it only sets an event)."""
        self._stopping.set()

    @property
    def stop_requested(self) -> bool:
        return self._stopping.is_set()

    # -- steering and inspection -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._servers[0].server_address[1])

    def add_fault(self, fault: str | Fault) -> Fault:
        """Inject a fault, given as a ``Fault`` or a spec such as ``"query:429:2:retry-after=3"``."""
        parsed = Fault.parse(fault) if isinstance(fault, str) else fault
        self.service.add_fault(parsed)
        return parsed

    def clear_faults(self) -> None:
        self.service.clear_faults()

    def retire(self, model: str, status: int = 410) -> None:
        """Answer creates for ``model`` as retired from now on: 410 ``model_retired``, or 404
        ``model_not_found`` (which one the real API sends is unknown); its tasks stay readable."""
        self.service.retire(model, status)

    def restore(self, model: str | None = None) -> None:
        """Serve ``model`` (every retired one when ``None``) again."""
        self.service.restore(model)

    models_endpoint = _Switch("models_endpoint", "Whether ``GET /v1/models`` exists (else 404).")
    pricing_endpoint = _Switch(
        "pricing_endpoint", "Whether the pricing rules endpoints exist (else 404s)."
    )
    batch_endpoint = _Switch(
        "batch_endpoint", "Whether ``POST /v1/tasks/batch`` (many tasks at once) exists (else 404)."
    )
    list_endpoint = _Switch("list_endpoint", "Whether ``GET /v1/tasks`` (the task list) exists.")
    billing = _Switch(
        "billing", "Whether tasks carry ``billing`` (and ``usage.credits_used`` once completed)."
    )
    idempotency_replay = _Switch(
        "idempotency_replay",
        "Whether a reused ``Idempotency-Key`` answers its first task again "
        "(``idempotency-replayed: true``) instead of making a new one.",
    )

    def requests(self, kind: str | None = None) -> list[RecordedRequest]:
        """Every request received so far (of one ``kind`` if given), oldest first."""
        with self._records_lock:
            return [r for r in self._records if kind is None or r.kind == kind]

    def reset(self) -> None:
        with self._records_lock:
            self._records.clear()
        self.clear_faults()

    def _record(self, record: RecordedRequest) -> None:
        with self._records_lock:
            self._records.append(record)

    def _log(self, line: str) -> None:
        if self._log_fn is not None:
            self._log_fn(line)

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        action = path.rstrip("/").rsplit("/", 1)[-1]
        if action == "health" and method == "GET":
            return Reply.json(200, {"ok": True})
        if action == "requests" and method == "GET":
            return Reply.json(200, {"requests": [r.summary() for r in self.requests()]})
        if action == "reset" and method == "POST":
            self.reset()
            return Reply.json(200, {"ok": True})
        if action == "models" and method in ("GET", "POST"):
            return self._control_models(body if method == "POST" else None)
        if action == "switches" and method in ("GET", "POST"):
            return self._control_switches(body if method == "POST" else None)
        if action == "faults" and method == "DELETE":
            self.clear_faults()
            return Reply.json(200, {"ok": True})
        if action == "faults" and method == "POST":
            try:
                payload = json.loads(body or b"{}")
                specs = payload.get("faults", [])
                if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
                    raise FaultSpecError('expected {"faults": ["KIND:ACTION[:COUNT]", ...]}')
                for spec in specs:
                    self.add_fault(spec)
            except (ValueError, AttributeError, RecursionError) as exc:
                return Reply.json(400, {"error": {"code": "bad_fault", "message": str(exc)}})
            return Reply.json(200, {"ok": True, "added": len(specs)})
        return Reply.json(404, {"error": {"code": "not_found", "message": f"no control {path}"}})

    def _control_models(self, body: bytes | None) -> Reply:
        """Retire and restore models, switch ``GET /v1/models``; answer the resulting state."""
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError('expected {"retire": [...], "restore": [...], ...}')
            changes = self._model_changes(payload)
        except (ValueError, RecursionError) as exc:
            return Reply.json(400, {"error": {"code": "bad_models", "message": str(exc)}})
        for change in changes:
            change()
        service = self.service
        return Reply.json(
            200, {"retired": dict(service.retired), "models_endpoint": service.models_endpoint}
        )

    def _control_switches(self, body: bytes | None) -> Reply:
        """Turn the optional behaviours on or off (all checked before any changes); answer
        them all."""
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("expected {" + ", ".join(f'"{s}": bool' for s in SWITCHES) + "}")
            for name, value in payload.items():
                if name not in SWITCHES:
                    raise ValueError(f"unknown switch {name!r}; one of {', '.join(SWITCHES)}")
                if not isinstance(value, bool):
                    raise ValueError(f'"{name}" must be true or false')
        except (ValueError, RecursionError) as exc:
            return Reply.json(400, {"error": {"code": "bad_switches", "message": str(exc)}})
        for name, value in payload.items():
            setattr(self, name, value)
        return Reply.json(200, {name: getattr(self, name) for name in SWITCHES})

    def _model_changes(self, payload: dict[str, Any]) -> list[Callable[[], None]]:
        """The changes ``payload`` asks for, all checked before any is made."""
        changes: list[Callable[[], None]] = []
        restore = payload.get("restore", [])
        if restore == "*":
            changes.append(self.restore)
        elif _strings(restore):
            changes += [functools.partial(self.restore, model) for model in restore]
        else:
            raise ValueError('"restore" must be a list of model ids, or "*"')
        retire = payload.get("retire", [])
        if not _strings(retire):
            raise ValueError('"retire" must be a list of "MODEL" or "MODEL:404"')
        for spec in retire:
            model, status = parse_retirement(spec)
            changes.append(functools.partial(self.retire, model, status))
        if "models_endpoint" in payload:
            present = payload["models_endpoint"]
            if not isinstance(present, bool):
                raise ValueError('"models_endpoint" must be true or false')
            changes.append(functools.partial(setattr, self, "models_endpoint", present))
        return changes


#: The switches ``/_emulator/switches`` shows and sets (attributes of ``Emulator``).
SWITCHES = (
    "billing",
    "idempotency_replay",
    "pricing_endpoint",
    "models_endpoint",
    "batch_endpoint",
    "list_endpoint",
)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
