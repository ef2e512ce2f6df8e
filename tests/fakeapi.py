"""A hand-written API on 127.0.0.1 for answers the emulator does not give: each route answers
what a test scripts (a status, a body), and every request is recorded."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_FOUND = (
    404,
    {"error": {"code": "not_found", "message": "Not found", "type": "invalid_request_error"}},
)


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeAPI:
    """``api.route("GET", "/v1/models", 200, {...})`` scripts a route: each request takes the next
    answer given for it (the last one repeats); bodies that are not ``bytes`` go as JSON. Routes
    without an answer get a 404 in the API's envelope."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.routes: dict[tuple[str, str], list[tuple[int, Any, dict[str, str]]]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def route(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        self.routes.setdefault((method, path), []).append((status, body, headers or {}))

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if path is None or s.path == path]

    def answer(self, method: str, path: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            answers = self.routes.get((method, path))
            if not answers:
                return (*NOT_FOUND, {})
            return answers.pop(0) if len(answers) > 1 else answers[0]


@contextmanager
def fake_api() -> Iterator[FakeAPI]:
    holder: list[FakeAPI] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            api = holder[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            with api.lock:
                api.seen.append(
                    Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status, data, given = api.answer(self.command, path)
            headers = dict(given)
            raw = data if isinstance(data, bytes) else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = handle_one

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(FakeAPI(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
