"""Hostile and broken servers, hand-written on 127.0.0.1: trickles, endless bodies, echoed keys,
absurd numbers, redirected creates, answers of the wrong shape. Nothing may hang, crash (exit 1),
grow without bound, resend a create or show the key.

Trickle tests run on real time, each bounded to a second or two.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seedance_cli import (
    AuthenticationError,
    BadResponse,
    Client,
    GenerationRequest,
    InvalidRequestError,
    OutcomeUnknown,
    ResponseTimeout,
    RetryPolicy,
)
from seedance_cli.client import MAX_ANSWER_BYTES, Timeouts
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.errors import ExitCode, UnreachableAtDeadline
from seedance_cli.render import fmt_duration
from seedance_cli.resulthost import open_result

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY, TEST_KEY

REQUEST = GenerationRequest("A cat playing piano", duration=8)
TASK_ID = "task-unified-1761313744-vux2jw0k"
TASK = {
    "id": TASK_ID,
    "object": "video.generation.task",
    "created": 1761313744,
    "model": "seedance-1.5-pro",
    "status": "pending",
    "progress": 0,
    "task_info": {"can_cancel": True, "estimated_time": 60},
    "usage": {"billing_rule": "per_second", "credits_reserved": 8, "user_group": "default"},
}

Respond = Callable[["Conn"], None]


class Conn:
    """One accepted connection: the request that came, and ways to answer it."""

    def __init__(self, sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        self.sock = sock
        self.head = head
        self.stop = stop

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(
        self,
        status: int,
        body: bytes,
        *,
        reason: str = "X",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def json(self, status: int, data: Any, **kwargs: Any) -> None:
        self.answer(status, json.dumps(data).encode(), **kwargs)

    def trickle(self, data: bytes, gap: float = 0.05) -> None:
        """Send ``data`` a byte at a time, then bytes of ``x`` forever, until the peer goes."""
        index = 0
        while not self.stop.is_set():
            byte = data[index : index + 1] or b"x"
            index += 1
            try:
                self.sock.sendall(byte)
            except OSError:
                return
            time.sleep(gap)


class Hostile:
    """A loopback server that hands every request to ``respond``."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: list[str] = []
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                conn = Conn(sock, head, self.stop)
                self.requests.append(conn.request_line)
                self.respond(conn)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(2)


@pytest.fixture
def serve() -> Iterator[Callable[[Respond], Hostile]]:
    made: list[Hostile] = []

    def start(respond: Respond) -> Hostile:
        server = Hostile(respond)
        made.append(server)
        return server

    yield start
    for server in made:
        server.close()


def real_client(url: str, **options: Any) -> Client:
    """A client on real time (a trickle takes real seconds), no retries unless asked."""
    options.setdefault("timeouts", Timeouts(connect=2, read=5, write=5, pool=2, total=0.5))
    options.setdefault("retry", RetryPolicy(max_attempts=1))
    return Client(TEST_KEY, base_url=url, files_url=url, **options)


def trickle_body(conn: Conn) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    conn.send(head)
    conn.trickle(b'{"id": "' + TASK_ID.encode())


def trickle_head(conn: Conn) -> None:
    conn.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")


def endless_body(conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    block = b"[" * 65536
    while not conn.stop.is_set():
        try:
            conn.send(block)
        except OSError:
            return


def within(seconds: float, call: Callable[[], object]) -> object:
    """What ``call`` returned or raised, in a thread; the test fails (rather than hangs) if it
    takes longer than ``seconds``."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still running after {seconds}s"
    return box[0]


# -- every request has an overall deadline ---------------------------------------------------------


@pytest.mark.parametrize("respond", [trickle_body, trickle_head], ids=["body", "headers"])
def test_a_trickled_read_ends_by_the_attempts_deadline(
    serve: Callable[[Respond], Hostile], respond: Respond
) -> None:
    server = serve(respond)
    with real_client(server.url) as client:
        error = within(2.0, lambda: client.get_task(TASK_ID))  # total=0.5; per read 5
    assert isinstance(error, ResponseTimeout)
    assert error.exit_code == ExitCode.UNAVAILABLE


@pytest.mark.parametrize("respond", [trickle_body, trickle_head], ids=["body", "headers"])
def test_a_trickled_create_is_outcome_unknown_and_sent_once(
    serve: Callable[[Respond], Hostile], respond: Respond
) -> None:
    server = serve(respond)
    with real_client(server.url, retry=RetryPolicy()) as client:
        error = within(
            2.0, lambda: client.create_generation(REQUEST, idempotency_key="key-trickle")
        )
    assert isinstance(error, OutcomeUnknown)
    assert error.exit_code == ExitCode.OUTCOME_UNKNOWN
    assert error.idempotency_key == "key-trickle"
    assert len(server.requests) == 1


def test_a_wait_against_a_trickling_server_ends_at_its_deadline(
    serve: Callable[[Respond], Hostile],
) -> None:
    server = serve(trickle_body)
    timeouts = Timeouts(connect=2, read=30, write=5, pool=2, total=60)  # only the wait bounds it
    with real_client(server.url, timeouts=timeouts, retry=RetryPolicy()) as client:
        # the deadline, DEADLINE_GRACE, and some slack
        error = within(0.6 + 1.0 + 0.8, lambda: client.wait(TASK_ID, timeout=0.6, interval=0.2))
    # no poll ever answered: at the deadline its state is unknown, which is not "still running"
    assert isinstance(error, UnreachableAtDeadline)


def test_cli_wait_timeout_against_a_trickling_server_ends_at_the_deadline_with_exit_7(
    cli: CliRunner, serve: Callable[[Respond], Hostile]
) -> None:
    server = serve(trickle_body)
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    started = time.monotonic()
    result = cli("wait", "--timeout", "0.2", TASK_ID, env=env)
    assert time.monotonic() - started < 3.0  # two polls, each cut at about a second
    assert result.code == ExitCode.UNAVAILABLE  # never answered: its state is unknown
    assert result.out == ""
    assert "error:" in result.err and "Traceback" not in result.err


# -- answers are read up to a cap ------------------------------------------------------------------


def test_an_endless_read_answer_is_a_bad_response_not_a_memory_leak(
    serve: Callable[[Respond], Hostile],
) -> None:
    server = serve(endless_body)
    timeouts = Timeouts(connect=2, read=5, write=5, pool=2, total=30)
    with real_client(server.url, timeouts=timeouts) as client, pytest.raises(BadResponse) as info:
        client.get_task(TASK_ID)
    assert f"larger than {MAX_ANSWER_BYTES >> 20} MiB" in info.value.message
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def test_an_endless_create_answer_is_outcome_unknown(serve: Callable[[Respond], Hostile]) -> None:
    server = serve(endless_body)
    timeouts = Timeouts(connect=2, read=5, write=5, pool=2, total=30)
    with (
        real_client(server.url, timeouts=timeouts, retry=RetryPolicy()) as client,
        pytest.raises(OutcomeUnknown),
    ):
        client.create_generation(REQUEST)
    assert len(server.requests) == 1


def test_a_finite_answer_over_the_cap_is_a_bad_response_too(
    serve: Callable[[Respond], Hostile],
) -> None:
    body = json.dumps({**TASK, "pad": "x" * MAX_ANSWER_BYTES}).encode()
    server = serve(lambda conn: conn.answer(200, body))
    with real_client(server.url) as client, pytest.raises(BadResponse, match="larger than"):
        client.get_task(TASK_ID)


def test_an_endless_error_body_is_cut_and_still_the_apis_refusal(
    serve: Callable[[Respond], Hostile],
) -> None:
    def respond(conn: Conn) -> None:
        conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n<html>")
        while not conn.stop.is_set():
            try:
                conn.send(b"x" * 65536)
            except OSError:
                return

    server = serve(respond)
    timeouts = Timeouts(connect=2, read=5, write=5, pool=2, total=30)
    with real_client(server.url, timeouts=timeouts) as client:
        error = within(3.0, lambda: client.get_task(TASK_ID))
    assert isinstance(error, InvalidRequestError)
    assert error.exit_code == ExitCode.REFUSED
    assert len(error.message) <= 500


@pytest.mark.parametrize("status", [304, 302, 100])
def test_a_read_answered_with_a_status_that_is_no_answer_is_exit_7(
    cli: CliRunner,
    serve: Callable[[Respond], Hostile],
    status: int,
) -> None:
    def respond(conn: Conn) -> None:
        if status == 100:  # an interim answer, then one that is no answer either
            conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        conn.answer(304 if status == 100 else status, b"")

    server = serve(respond)
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("status", TASK_ID, env=env)
    assert result.code == ExitCode.UNAVAILABLE, result.err
    assert "unexpected HTTP" in result.err


def test_durations_shown_are_bounded() -> None:
    assert fmt_duration(float("inf")) == "277777:46:40"
    assert fmt_duration(float("nan")) == fmt_duration(float("-inf")) == "0:00"


def test_json_nested_beyond_recursion_is_a_bad_response(
    serve: Callable[[Respond], Hostile],
) -> None:
    server = serve(lambda conn: conn.answer(200, b"[" * 200_000 + b"]" * 200_000))
    with real_client(server.url) as client, pytest.raises(BadResponse):
        client.get_task(TASK_ID)


def test_verbose_trace_lines_are_bounded(
    cli: CliRunner, serve: Callable[[Respond], Hostile]
) -> None:
    server = serve(lambda conn: conn.json(200, TASK, reason="Y" * 5000))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("--verbose", "status", TASK_ID, env=env)
    assert result.code == 0
    assert max(len(line) for line in result.err.splitlines()) <= 300


# -- the key is never shown ------------------------------------------------------------------------


def echo_key(conn: Conn) -> None:
    """A 401 that repeats the Authorization header it was sent, in the message and the hint."""
    auth = next(
        line.split(b":", 1)[1].strip().decode()
        for line in conn.head.split(b"\r\n")
        if line.lower().startswith(b"authorization:")
    )
    conn.json(
        401,
        {
            "error": {
                "code": "invalid_api_key",
                "message": f"key {auth.removeprefix('Bearer ')} is not valid ({auth})",
                "type": "authentication_error",
                "fallback_suggestion": f"check {auth.split()[-1]}",
            }
        },
        reason=f"Bad {auth.split()[-1]}",
    )


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_server_echoing_the_key_never_gets_it_shown(
    cli: CliRunner,
    serve: Callable[[Respond], Hostile],
    json_flag: list[str],
) -> None:
    server = serve(echo_key)
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli(*json_flag, "--verbose", "status", TASK_ID, env=env)
    assert result.code == ExitCode.AUTH
    assert SENTINEL_KEY not in result.out
    assert SENTINEL_KEY not in result.err
    assert "***" in result.err
    assert "error:" in result.err and "hint:" in result.err


def test_the_client_masks_echoed_keys_in_errors(serve: Callable[[Respond], Hostile]) -> None:
    server = serve(echo_key)
    with real_client(server.url) as client, pytest.raises(AuthenticationError) as info:
        client.get_credits()
    shown = f"{info.value} {getattr(info.value, 'hint', '')} {info.value.args}"
    assert TEST_KEY not in shown and "***" in shown


def test_a_task_error_echoing_the_key_is_masked_everywhere_even_in_the_history(
    cli: CliRunner, serve: Callable[[Respond], Hostile]
) -> None:
    failed = {
        **TASK,
        "status": "failed",
        "error": {
            "code": "service_error",
            "message": f"upstream refused key {SENTINEL_KEY}; Authorization: Bearer abcdefgh12345",
        },
    }
    server = serve(lambda conn: conn.json(200, failed if "GET" in conn.request_line else TASK))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    created = cli("generate", "a cat", env=env)
    assert created.code == 0 and created.out.strip() == TASK_ID
    for args in (["wait", TASK_ID], ["--json", "wait", TASK_ID], ["--json", "history"]):
        result = cli(*args, env=env)
        assert SENTINEL_KEY not in result.out + result.err, args
        assert "abcdefgh12345" not in result.out + result.err, args
    waited = cli("wait", TASK_ID, env=env)
    assert waited.code == ExitCode.TASK_FAILED
    assert "***" in waited.err
    dump = b"".join(p.read_bytes() for p in Path.home().rglob("*") if p.is_file())
    assert SENTINEL_KEY.encode() not in dump


# -- a create answered with a redirect reached the server ------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["same", "other"])
def test_a_redirected_create_is_outcome_unknown_and_never_resent(
    clock: FakeClock, status: int, where: str
) -> None:
    with (
        Emulator(clock=clock, second_origin=True) as emu,
        Client(TEST_KEY, base_url=emu.url, sleep=clock.sleep) as client,
    ):
        to = ",to=/v1/videos/generations" if where == "same" else ""
        emu.add_fault(f"create:redirect:1:status={status}{to}")
        with pytest.raises(OutcomeUnknown) as info:
            client.create_generation(REQUEST, idempotency_key="key-redirect")
    assert info.value.exit_code == ExitCode.OUTCOME_UNKNOWN
    assert f"HTTP {status}" in info.value.cause
    assert len(emu.requests()) == 1  # sent once, followed nowhere
    assert clock.sleeps == []


def test_cli_generate_redirected_exits_10_with_the_key(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("create:redirect:1:status=303,to=/v1/videos/generations")
    result = cli("generate", "a cat", "--idempotency-key", "key-cli-redirect")
    assert result.code == ExitCode.OUTCOME_UNKNOWN
    assert result.out == ""
    assert "key-cli-redirect" in result.err
    assert len(api.requests("create")) == 1


@pytest.mark.parametrize("status", [100, 304, 600, 999])
def test_a_create_answered_with_an_odd_status_is_outcome_unknown(
    serve: Callable[[Respond], Hostile], status: int
) -> None:
    server = serve(
        lambda conn: (
            conn.json(status, {"id": TASK_ID})
            if status != 100
            else conn.send(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"
            )
        )
    )
    with real_client(server.url, retry=RetryPolicy()) as client, pytest.raises(OutcomeUnknown):
        client.create_generation(REQUEST)
    assert len(server.requests) == 1


# -- a create answer with odd numbers still yields its id ------------------------------------------


@pytest.mark.parametrize(
    "odd",
    [
        b'"created": 1e999',
        b'"created": NaN',
        b'"created": -Infinity',
        b'"created": 1761313744000',
        b'"created": ' + b"9" * 5000,
        b'"created": "yesterday"',
        b'"progress": 1e9',
        b'"progress": -5',
        b'"progress": "50"',
        b'"task_info": {"estimated_time": 1e999}',
        b'"usage": {"credits_reserved": NaN}',
        b'"status": 7',
        b'"model": ["x"]',
        b'"error": {"code": {"a": 1}, "message": 5}',
        b'"results": "https://x"',
    ],
)
def test_a_create_answer_with_odd_fields_keeps_its_id(
    cli: CliRunner, serve: Callable[[Respond], Hostile], odd: bytes
) -> None:
    body = b'{"id": "' + TASK_ID.encode() + b'", ' + odd + b"}"
    server = serve(lambda conn: conn.answer(200, body))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("generate", "a cat", env=env)
    assert result.code == 0, result.err
    assert result.out.strip() == TASK_ID
    assert "Traceback" not in result.err
    listed = cli("--json", "history", env=env)
    assert listed.code == 0
    assert TASK_ID in listed.out
    for item in listed.json:  # what is printed is JSON: no NaN, no Infinity
        json.dumps(item, allow_nan=False)


def test_a_millisecond_created_is_read_as_seconds(serve: Callable[[Respond], Hostile]) -> None:
    server = serve(lambda conn: conn.json(200, {**TASK, "created": 1761313744123}))
    with real_client(server.url) as client:
        assert client.create_generation(REQUEST).created == 1761313744


@pytest.mark.parametrize(
    "body", [b'{"status": "pending"}', b'{"id": 17}', b'{"id": "../../x"}', b"[]", b'"task"']
)
def test_a_create_answer_without_a_usable_id_is_outcome_unknown(
    cli: CliRunner,
    serve: Callable[[Respond], Hostile],
    body: bytes,
) -> None:
    server = serve(lambda conn: conn.answer(200, body))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("generate", "a cat", env=env)
    assert result.code == ExitCode.OUTCOME_UNKNOWN
    assert result.out == ""
    assert len(server.requests) == 1


# -- a read answered with the wrong shape is exit 7 ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"[1, 2]", "application/json", "a list"),
        (b'"done"', "application/json", "a string"),
        (b"null", "application/json", "null"),
        (b"<!DOCTYPE html><html><body>Login</body></html>", "text/html", "HTML"),
        ('{"id": "caf\u00e9"}'.encode("latin-1"), "application/json; charset=utf-8", "JSON"),
        (b'{"id": "x", "status": "completed"}', "text/plain; charset=klingon", "another task"),
        (b"\xff\xfe{\x00", "application/json", "JSON"),
    ],
)
def test_a_read_with_the_wrong_shape_exits_7_with_a_clear_message(
    cli: CliRunner,
    serve: Callable[[Respond], Hostile],
    body: bytes,
    content_type: str,
    said: str,
) -> None:
    server = serve(lambda conn: conn.answer(200, body, content_type=content_type))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("status", TASK_ID, env=env)
    assert result.code == ExitCode.UNAVAILABLE
    assert said in result.err
    assert result.err.count("error:") == 1 and "Traceback" not in result.err
    assert "\terror\t" in result.out  # the status line says so


# -- absurd numbers are bounded --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e300", "0", "nan", "-1", "inf", "3601"])
def test_absurd_interval_flags_are_refused_locally(cli: CliRunner, value: str) -> None:
    result = cli("wait", "--interval", value, TASK_ID)
    assert result.code == ExitCode.USAGE
    assert result.out == ""
    assert result.err.startswith("error: --interval")


@pytest.mark.parametrize("value", ["1e300", "0", "nan", "-5", "inf"])
def test_absurd_poll_interval_in_the_environment_is_a_config_error(
    cli: CliRunner, api: Emulator, value: str
) -> None:
    result = cli("wait", TASK_ID, env={"SEEDANCE_POLL_INTERVAL": value})
    assert result.code == ExitCode.CONFIG
    assert "SEEDANCE_POLL_INTERVAL" in result.err
    assert api.requests() == []


def test_a_huge_timeout_is_no_deadline_and_the_wait_finishes(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    task_id = cli("generate", "a cat").out.strip()
    result = cli("wait", "--timeout", "1e300", task_id)
    assert result.code == 0, result.err
    assert result.out.startswith("http")


@pytest.mark.parametrize(
    "header",
    [
        "-5",
        "NaN",
        "1e999",
        "99999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 99999999999 00:00:00 GMT",
        "soon",
    ],
)
def test_absurd_retry_after_is_bounded(
    make_client: Callable[..., Client], emulator: Emulator, clock: FakeClock, header: str
) -> None:
    client = make_client()
    emulator.add_fault(f"query:429:2:retry-after={header}")
    task = client.create_generation(REQUEST)
    assert client.get_task(task.id).id == task.id
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= client.retry.max_retry_after for s in clock.sleeps)


# -- result downloads cannot hang ------------------------------------------------------------------


def result_head(size: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {size}\r\n\r\n".encode()


def drain(url: str, **options: Any) -> int:
    got = 0
    with open_result(
        url, {}, user_agent="t", connect_timeout=2, read_timeout=options.pop("read", 5), **options
    ) as response:
        for block in response.chunks():
            got += len(block)
    return got


def test_a_trickling_result_host_is_cut_off_as_stalled(serve: Callable[[Respond], Hostile]) -> None:
    def respond(conn: Conn) -> None:
        conn.send(result_head(10_000_000))
        conn.trickle(b"\0")

    server = serve(respond)
    error = within(2.0, lambda: drain(server.url + "/v.mp4", stall=0.3))
    assert isinstance(error, ResponseTimeout)
    assert "stalled" in error.message


def test_a_result_host_trickling_its_headers_is_cut_off(
    serve: Callable[[Respond], Hostile],
) -> None:
    server = serve(lambda conn: conn.trickle(b"HTTP/1.1 200 OK\r\nX-Slow: "))
    error = within(2.0, lambda: drain(server.url + "/v.mp4", read=0.5, stall=0.3))
    assert isinstance(error, ResponseTimeout)


def moving(conn: Conn, size: int = 3 << 20, piece: int = 64 << 10, gap: float = 0.01) -> None:
    conn.send(result_head(size))
    sent = 0
    while sent < size:
        try:
            conn.send(b"\0" * min(piece, size - sent))
        except OSError:
            return
        sent += piece
        time.sleep(gap)


def test_a_large_result_that_keeps_moving_finishes_past_the_stall_window(
    serve: Callable[[Respond], Hostile],
) -> None:
    server = serve(moving)  # about half a second, with stall windows of 0.1 s
    assert drain(server.url + "/v.mp4", stall=0.1) == 3 << 20


def test_a_moving_result_still_ends_by_the_deadline(serve: Callable[[Respond], Hostile]) -> None:
    server = serve(lambda conn: moving(conn, size=1 << 30, gap=0.02))
    error = within(
        2.0, lambda: drain(server.url + "/v.mp4", stall=5, deadline=time.monotonic() + 0.5)
    )
    assert isinstance(error, ResponseTimeout)
    assert "deadline" in error.message


def test_client_open_result_passes_the_deadline_down(serve: Callable[[Respond], Hostile]) -> None:
    server = serve(lambda conn: moving(conn, size=1 << 30, gap=0.02))
    clock = FakeClock()
    timeouts = Timeouts(connect=2, read=5, write=5, pool=2, download_grace=0.3)
    with real_client(server.url, clock=clock.monotonic, timeouts=timeouts) as client:

        def fetch(deadline: float) -> None:
            with client.open_result(server.url + "/v.mp4", {}, deadline=deadline) as response:
                for _ in response.chunks():
                    pass

        for deadline, ends_after in ((clock.monotonic() + 0.9, 0.9), (clock.monotonic(), 0.3)):
            started = time.monotonic()
            error = within(ends_after + 0.6, lambda: fetch(deadline))  # noqa: B023
            assert isinstance(error, ResponseTimeout)
            assert time.monotonic() - started > ends_after - 0.1  # a deadline now gets the grace


def test_batch_timeout_against_a_trickling_server_ends_at_the_deadline_with_exit_7(
    cli: CliRunner, serve: Callable[[Respond], Hostile]
) -> None:
    def respond(conn: Conn) -> None:
        if conn.request_line.startswith("POST"):
            conn.json(200, TASK)
        else:
            trickle_body(conn)

    server = serve(respond)
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    started = time.monotonic()
    manifest = '{"prompt": "a cat"}\n'
    result = cli("batch", "-", "--timeout", "0.1", "--interval", "0.05", input=manifest, env=env)
    assert time.monotonic() - started < 6.0  # each poll is cut at about a second
    # no poll ever answered: as for ``wait``, its state is unknown, which is not "still running"
    assert result.code == ExitCode.UNAVAILABLE, result.err
    assert "its state is unknown" in result.err
    assert "Traceback" not in result.err


def test_any_answer_echoing_the_key_is_masked_in_json_output(
    cli: CliRunner, serve: Callable[[Respond], Hostile]
) -> None:
    balance = {"remaining_credits": 10.0, "used_credits": 1.0, "unlimited_credits": False}
    credits = {"success": True, "data": {"token": balance, "user": balance, "note": SENTINEL_KEY}}
    server = serve(lambda conn: conn.json(200, credits))
    env = {"SEEDANCE_BASE_URL": server.url, "SEEDANCE_API_KEY": SENTINEL_KEY}
    result = cli("--json", "credits", env=env)
    assert result.code == 0, result.err
    assert SENTINEL_KEY not in result.out + result.err
    assert "***" in result.out


def test_the_real_transport_enforces_deadlines_on_every_socket_operation() -> None:
    """The overall deadline rides on httpx's private connection pool; an httpx that moved it would
    silently lose the header deadline, so this test fails first."""
    from seedance_cli.client import _DeadlineBackend

    with Client(TEST_KEY, base_url="http://127.0.0.1:9") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, _DeadlineBackend)
