"""The client against the emulator over a real loopback socket: endpoints, errors, the retry matrix.

The heart of it: a create that may have reached the server is never sent twice; one refused with
429 or never connected is retried with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from seedance_cli import (
    AuthenticationError,
    BadResponse,
    Client,
    ConfigError,
    ConnectionFailed,
    GenerationRequest,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknown,
    PermissionDeniedError,
    RateLimitError,
    RedirectRefused,
    ResponseTimeout,
    RetryPolicy,
    ServerError,
    __version__,
)
from seedance_cli.client import Timeouts
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.errors import APIError, ExitCode, ServiceError

from .conftest import TEST_KEY, MakeClient

REQUEST = GenerationRequest("A cat playing piano", duration=8)


def call(client: Client, kind: str) -> object:
    """The client method behind an endpoint kind of the emulator."""
    if kind == "create":
        return client.create_generation(REQUEST)
    if kind == "query":
        return client.get_task("task-unified-1-abcdefgh")
    return client.get_credits()


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_create_query_credits_round_trip(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    task = client.create_generation(REQUEST)
    assert task.status == "pending" and task.id.startswith("task-unified-")
    assert task.credits_reserved == 28.4544 and task.estimated_time == 60.0  # 8 x 2 x 1.7784
    clock.advance(30)
    running = client.get_task(task.id)
    assert running.status == "processing" and 0 < running.progress < 100
    clock.advance(30)
    done = client.get_task(task.id)
    assert done.succeeded and done.progress == 100
    assert done.video_url is not None and done.video_url.startswith(emulator.url + "/results/")
    credits = client.get_credits()
    assert credits.token.used == 28.4544 and credits.token.remaining == 100_000 - 28.4544


def test_every_request_carries_user_agent_and_bearer(client: Client, emulator: Emulator) -> None:
    task = client.create_generation(REQUEST)
    client.get_task(task.id)
    client.get_credits()
    for record in emulator.requests():
        assert record.headers["user-agent"] == f"seedance-cli/{__version__}"
        assert record.headers["authorization"] == f"Bearer {TEST_KEY}"


def test_create_sends_the_request_body_and_one_idempotency_key(
    client: Client, emulator: Emulator
) -> None:
    client.create_generation(REQUEST, idempotency_key="my-key-1")
    (record,) = emulator.requests("create")
    assert record.json() == REQUEST.to_body()
    assert record.idempotency_key == "my-key-1"
    assert record.headers["content-type"] == "application/json"


def test_generated_idempotency_keys_differ_per_create(client: Client, emulator: Emulator) -> None:
    client.create_generation(REQUEST)
    client.create_generation(REQUEST)
    keys = [r.idempotency_key for r in emulator.requests("create")]
    assert len(set(keys)) == 2 and all(keys)


# -- the API refused -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "exit_code"),
    [
        (400, InvalidRequestError, ExitCode.REFUSED),
        (401, AuthenticationError, ExitCode.AUTH),
        (402, InsufficientCreditsError, ExitCode.CREDITS),
        (403, PermissionDeniedError, ExitCode.AUTH),
        (404, NotFoundError, ExitCode.REFUSED),
        (413, InvalidRequestError, ExitCode.REFUSED),
        (422, InvalidRequestError, ExitCode.REFUSED),
    ],
)
@pytest.mark.parametrize("kind", ["create", "query", "credits"])
def test_client_errors_are_not_retried(
    client: Client,
    emulator: Emulator,
    clock: FakeClock,
    kind: str,
    status: int,
    error: type[APIError],
    exit_code: ExitCode,
) -> None:
    emulator.add_fault(f"{kind}:{status}")
    with pytest.raises(error) as info:
        call(client, kind)
    assert info.value.status == status
    assert info.value.exit_code == exit_code
    assert info.value.message  # the envelope's message, shown to the user
    assert len(emulator.requests(kind)) == 1
    assert clock.sleeps == []


def test_real_validation_refusal_carries_code_message_and_param(
    client: Client, emulator: Emulator
) -> None:
    # Bypass local validation to see what the server itself says.
    response = httpx.post(
        f"{emulator.url}/v1/videos/generations",
        json={"model": "seedance-1.5-pro", "prompt": "x", "duration": 3},
        headers={"Authorization": "Bearer k"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["param"] == "duration"


def test_query_errors_from_the_emulator_itself(
    client: Client, make_client: MakeClient, emulator: Emulator
) -> None:
    with pytest.raises(InvalidRequestError) as bad_id:
        client.get_task("not-a-task")
    assert bad_id.value.api_code == "invalid_task_id" and bad_id.value.param == "task_id"
    with pytest.raises(NotFoundError) as unknown:
        client.get_task("task-unified-1761313744-zzzzzzzz")
    assert unknown.value.api_code == "task_not_found"
    task = client.create_generation(REQUEST)
    with pytest.raises(PermissionDeniedError) as foreign:
        make_client(api_key="sk-someone-else").get_task(task.id)
    assert foreign.value.api_code == "permission_denied"


def test_wrong_key_is_401(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, api_key="sk-right") as emu,
        Client("sk-wrong", base_url=emu.url, sleep=clock.sleep) as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            client.get_credits()
        assert info.value.api_code == 401  # the credits endpoint's integer form
        assert "sk-wrong" not in str(info.value)


def test_out_of_credits_is_402(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, credits=30) as emu,  # one 8 s create reserves 28.4544
        Client(TEST_KEY, base_url=emu.url, sleep=clock.sleep) as client,
    ):
        client.create_generation(GenerationRequest("x", duration=8))
        with pytest.raises(InsufficientCreditsError) as info:
            client.create_generation(GenerationRequest("x", duration=8))
        assert info.value.api_code == "insufficient_quota"
        assert info.value.exit_code == ExitCode.CREDITS


@pytest.mark.parametrize("kind", ["create", "query"])
def test_legacy_integer_error_codes_are_understood(clock: FakeClock, kind: str) -> None:
    with (
        Emulator(clock=clock, legacy_error_codes=True) as emu,
        Client(TEST_KEY, base_url=emu.url, sleep=clock.sleep) as client,
    ):
        emu.add_fault(f"{kind}:402")
        with pytest.raises(InsufficientCreditsError) as info:
            call(client, kind)
        assert info.value.api_code == 402
        assert info.value.code_name == "insufficient_quota"
        assert info.value.message


# -- reads: the retry matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_reads_are_retried_on_transient_statuses(
    client: Client, emulator: Emulator, clock: FakeClock, status: int
) -> None:
    emulator.add_fault(f"credits:{status}:2")
    credits = client.get_credits()
    assert credits.token.remaining == 100_000.0  # the emulator's starting balance
    assert [r.status for r in emulator.requests("credits")] == [status, status, 200]
    assert clock.sleeps == [0.375, 0.75]  # 0.5 * 2**n, jitter in the middle of [half, full]


@pytest.mark.parametrize("status", [500, 503])
def test_reads_give_up_after_max_attempts(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, status: int
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=4, base_delay=1, max_delay=2))
    emulator.add_fault(f"query:{status}:*")
    with pytest.raises(ServerError) as info:
        client.get_task("task-unified-1-abcdefgh")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert len(emulator.requests("query")) == 4
    assert clock.sleeps == [0.75, 1.5, 1.5]  # capped at max_delay


def test_persistent_429_ends_as_rate_limit_error(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3))
    emulator.add_fault("query:429:*")
    with pytest.raises(RateLimitError) as info:
        client.get_task("task-unified-1-abcdefgh")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert info.value.api_code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        ("0.25", 0.25),
        ("Thu, 01 Jan 2026 00:00:07 GMT", 7.0),  # the fake clock reads 2026-01-01T00:00:00Z
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),  # already past
        ("99999", 120.0),  # capped
        ("garbage", 0.375),  # unreadable: own backoff
    ],
)
def test_reads_honour_every_retry_after_form(
    client: Client, emulator: Emulator, clock: FakeClock, header: str, expected: float
) -> None:
    emulator.add_fault(f"query:429:1:retry-after={header}")
    task = client.create_generation(REQUEST)
    client.get_task(task.id)
    assert clock.sleeps == [pytest.approx(expected)]


def test_retry_after_on_503_is_honoured_too(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("credits:503:1:retry-after=9")
    client.get_credits()
    assert clock.sleeps == [9.0]


@pytest.mark.parametrize("action", ["drop", "truncate", "malformed", "html"])
def test_reads_recover_from_broken_answers(
    client: Client, emulator: Emulator, clock: FakeClock, action: str
) -> None:
    task = client.create_generation(REQUEST)
    emulator.add_fault(f"query:{action}")
    assert client.get_task(task.id).id == task.id
    assert len(emulator.requests("query")) == 2
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ("drop", BadResponse),
        ("truncate", BadResponse),
        ("malformed", BadResponse),
        ("html", BadResponse),
    ],
)
def test_reads_report_persistently_broken_answers_as_service_failures(
    make_client: MakeClient, emulator: Emulator, action: str, error: type[ServiceError]
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=2))
    emulator.add_fault(f"credits:{action}:*")
    with pytest.raises(error) as info:
        client.get_credits()
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def test_read_timeout_is_retried(make_client: MakeClient, emulator: Emulator) -> None:
    client = make_client(timeouts=Timeouts(connect=2, read=0.2, write=2, pool=2))
    emulator.add_fault("credits:slow:1:seconds=3")
    assert client.get_credits().token.remaining == 100_000.0
    assert len(emulator.requests("credits")) == 2


def test_read_timeout_persisting_is_a_timeout_error(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(
        timeouts=Timeouts(connect=2, read=0.1, write=2, pool=2), retry=RetryPolicy(max_attempts=2)
    )
    emulator.add_fault("credits:slow:*:seconds=3")
    with pytest.raises(ResponseTimeout) as info:
        client.get_credits()
    assert info.value.exit_code == ExitCode.UNAVAILABLE


def test_connection_refused_read_is_retried_then_fails(clock: FakeClock) -> None:
    port = free_port()
    with Client(
        TEST_KEY,
        base_url=f"http://127.0.0.1:{port}",
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=3),
        rng=lambda: 1.0,
    ) as client:
        with pytest.raises(ConnectionFailed) as info:
            client.get_credits()
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert clock.sleeps == [0.5, 1.0]


def test_read_retries_stop_at_the_deadline(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("query:503:*")
    with pytest.raises(ServerError):
        client.get_task("task-unified-1-abcdefgh", deadline=clock.monotonic() + 1.0)
    assert sum(clock.sleeps) <= 1.0
    assert len(emulator.requests("query")) == 2


# -- creates: never pay twice ----------------------------------------------------------------------


def test_create_refused_with_429_is_retried_with_the_same_key(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("create:429:2:retry-after=3")
    task = client.create_generation(REQUEST, idempotency_key="key-429")
    creates = emulator.requests("create")
    assert [r.status for r in creates] == [429, 429, 200]
    assert {r.idempotency_key for r in creates} == {"key-429"}
    assert [r.json() for r in creates] == [REQUEST.to_body()] * 3
    assert clock.sleeps == [3.0, 3.0]
    assert list(emulator.service.tasks) == [task.id]  # one task, one charge


def test_create_429_without_retry_after_uses_backoff(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    emulator.add_fault("create:429:1")
    client.create_generation(REQUEST)
    assert clock.sleeps == [0.375]


def test_create_persistently_rate_limited_raises_429_not_outcome_unknown(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3))
    emulator.add_fault("create:429:*")
    with pytest.raises(RateLimitError):
        client.create_generation(REQUEST)
    assert len(emulator.requests("create")) == 3
    assert emulator.service.tasks == {}


class RefuseConnections(httpx.BaseTransport):
    """Refuses the first ``n`` connections, as a server that is not up yet would; then real HTTP."""

    def __init__(self, n: int) -> None:
        self.remaining = n
        self.refused = 0
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.remaining > 0:
            self.remaining -= 1
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_create_that_never_connected_is_retried_with_the_same_key(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock
) -> None:
    transport = RefuseConnections(2)
    client = make_client(transport=transport)
    task = client.create_generation(REQUEST, idempotency_key="key-refused")
    assert transport.refused == 2
    (record,) = emulator.requests("create")
    assert record.idempotency_key == "key-refused"
    assert list(emulator.service.tasks) == [task.id]
    assert len(clock.sleeps) == 2


def test_create_to_a_closed_port_fails_as_connection_failed_not_outcome_unknown(
    clock: FakeClock,
) -> None:
    port = free_port()
    with Client(
        TEST_KEY,
        base_url=f"http://127.0.0.1:{port}",
        sleep=clock.sleep,
        retry=RetryPolicy(max_attempts=3),
    ) as client:
        with pytest.raises(ConnectionFailed) as info:
            client.create_generation(REQUEST)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("fault", "processed"),
    [
        ("create:drop", True),  # the task was made; only the answer was lost
        ("create:truncate", True),
        ("create:malformed", True),
        ("create:html", True),
        ("create:500", False),
        ("create:502", False),
        ("create:503", False),
        ("create:504", False),
        ("create:408", False),
    ],
)
def test_create_that_may_have_reached_the_server_is_never_resent(
    client: Client, emulator: Emulator, clock: FakeClock, fault: str, processed: bool
) -> None:
    emulator.add_fault(fault)
    with pytest.raises(OutcomeUnknown) as info:
        client.create_generation(REQUEST, idempotency_key="key-unknown")
    assert info.value.idempotency_key == "key-unknown"
    assert info.value.exit_code == ExitCode.OUTCOME_UNKNOWN
    assert "key-unknown" in (info.value.hint or "")
    assert len(emulator.requests("create")) == 1  # sent exactly once
    assert len(emulator.service.tasks) == (1 if processed else 0)
    assert clock.sleeps == []


def test_create_read_timeout_is_outcome_unknown(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client(timeouts=Timeouts(connect=2, read=0.2, write=2, pool=2))
    emulator.add_fault("create:slow:1:seconds=3")
    with pytest.raises(OutcomeUnknown) as info:
        client.create_generation(REQUEST)
    assert "in time" in info.value.cause
    assert len(emulator.requests("create")) == 1
    assert len(emulator.service.tasks) == 1  # it did cost credits: the reason we never resend


def test_create_answer_without_task_id_is_outcome_unknown(make_client: MakeClient) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"status": "pending"})  # valid JSON, but no task id

    client = make_client(transport=httpx.MockTransport(answer))
    with pytest.raises(OutcomeUnknown) as info:
        client.create_generation(REQUEST)
    assert "no task id" in info.value.cause
    assert len(sent) == 1


# -- where the key may go --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["query", "credits"])
def test_redirect_to_another_origin_is_not_followed(clock: FakeClock, kind: str) -> None:
    with (
        Emulator(clock=clock, second_origin=True) as emu,
        Client(TEST_KEY, base_url=emu.url, sleep=clock.sleep) as client,
    ):
        emu.add_fault(f"{kind}:redirect")
        with pytest.raises(RedirectRefused) as info:
            call(client, kind)
        assert info.value.exit_code == ExitCode.UNAVAILABLE
        assert len(emu.requests()) == 1  # nothing reached the other origin
        assert clock.sleeps == []


def test_same_origin_redirect_is_followed_with_the_key(client: Client, emulator: Emulator) -> None:
    emulator.add_fault("credits:redirect:1:to=/v1/credits")
    assert client.get_credits().token.remaining == 100_000.0
    records = emulator.requests("credits")
    assert [r.status for r in records] == [307, 200]
    assert all(r.has_authorization for r in records)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.evolink.ai",
        "http://10.0.0.5:8080",
        "ftp://api.evolink.ai",
        "https://user:pw@api.evolink.ai",
        "https://api.evolink.ai/?x=1",
        "api.evolink.ai",
        "https://api.evolink.ai:99999",
        "https://api.evolink.ai/v1",  # the origin is wanted: /v1/v1/videos/... would be sent
        "https://api.evolink.ai/v1/",
        "https://files-api.evolink.ai/api/v1",
    ],
)
def test_unsafe_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Client(TEST_KEY, base_url=url)
    assert info.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    "url",
    [
        "https://api.evolink.ai",
        "https://api.evolink.ai/",
        "http://127.0.0.1:8989",
        "http://localhost:1",
        "http://[::1]:8080",
        "https://proxy.example.com/evolink",
    ],
)
def test_safe_base_urls_are_accepted(url: str) -> None:
    with Client(TEST_KEY, base_url=url, files_url=url) as client:
        assert not client.base_url.endswith("/")


@pytest.mark.parametrize("key", [None, "", "  ", "sk bad", "sk-\n", "sk-ü"])
def test_unusable_keys_are_config_errors_that_do_not_echo_the_key(key: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        Client(key)
    if key and key.strip():
        assert key not in str(info.value)


def test_repr_and_trace_never_show_the_key(make_client: MakeClient, emulator: Emulator) -> None:
    lines: list[str] = []
    client = make_client(trace=lines.append)
    emulator.add_fault("credits:503")
    client.get_credits()
    assert TEST_KEY not in repr(client)
    text = "\n".join(lines)
    assert TEST_KEY not in text
    assert "> Authorization: Bearer ***" in text
    assert "> GET " in text and "< HTTP 503" in text and "* retry 1" in text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (a hung gateway)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_every_request_has_a_read_timeout(silent_server: str, clock: FakeClock) -> None:
    with Client(
        TEST_KEY,
        base_url=silent_server,
        sleep=clock.sleep,
        timeouts=Timeouts(read=0.1),
        retry=RetryPolicy(max_attempts=1),
    ) as client:
        with pytest.raises(ResponseTimeout):
            client.get_credits()
        with pytest.raises(OutcomeUnknown):
            client.create_generation(REQUEST)
