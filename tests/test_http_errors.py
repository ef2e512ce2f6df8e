"""The one mapping from an HTTP error answer to its error, and the one redirect rule: for the API
and the result hosts alike."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli.download import download
from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.emulator.faults import Fault
from seedance_cli.errors import (
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectRefused,
    ResultGone,
    SeedanceError,
    ServerError,
    ServiceError,
)
from seedance_cli.http_errors import (
    API_REDIRECTS,
    NO_REDIRECTS,
    RESULT_REDIRECTS,
    Redirects,
    files_error,
    http_error,
    next_hop,
)

from .conftest import TEST_KEY

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def api(status: int, body: object, headers: dict[str, str] | None = None) -> SeedanceError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_error(status, raw, headers or {}, now=NOW, reason="Reason")


def host(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> SeedanceError:
    return http_error(status, body, headers or {}, now=NOW, result_host=True)


# -- the API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditsError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (410, InvalidRequestError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_an_api_status_is_its_api_error(status: int, cls: type[APIError]) -> None:
    error = api(status, {"error": {"code": "some_code", "message": "said so"}})
    assert type(error) is cls
    assert isinstance(error, APIError) and error.status == status


def test_insufficient_credits_points_at_the_balance_unless_the_api_suggests_something() -> None:
    plain = api(402, {"error": {"code": "insufficient_quota", "message": "Top up"}})
    assert plain.hint is not None and "seedance credits" in plain.hint
    said = api(402, {"error": {"code": 402, "message": "x", "fallback_suggestion": "buy more"}})
    assert said.hint == "buy more"


def test_the_api_envelope_is_read_whole() -> None:
    error = api(
        400,
        {
            "error": {
                "code": "invalid_parameter",
                "message": "duration is out of range",
                "type": "invalid_request_error",
                "param": "duration",
                "fallback_suggestion": "use 4 to 12",
            }
        },
        {"Retry-After": "5"},
    )
    assert isinstance(error, InvalidRequestError)
    assert (error.api_code, error.message, error.api_type, error.param, error.hint) == (
        "invalid_parameter",
        "duration is out of range",
        "invalid_request_error",
        "duration",
        "use 4 to 12",
    )
    assert error.retry_after == 5.0


def test_a_files_envelope_keeps_its_retry_after_from_the_start() -> None:
    error = api(
        429, {"success": False, "code": 429, "msg": "too many uploads"}, {"retry-after": "9"}
    )
    assert isinstance(error, RateLimitError)
    assert (error.message, error.api_code, error.retry_after) == ("too many uploads", 429, 9.0)


def test_a_files_quota_is_insufficient_credits_with_a_hint() -> None:
    error = files_error(403, "file quota exceeded", 403, retry_after=1.0)
    assert isinstance(error, InsufficientCreditsError)
    assert error.hint is not None and "72 hours" in error.hint
    assert error.retry_after == 1.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>Bad Gateway</body></html>", "HTTP 502 Reason"),  # a page: no snippet
        (b"upstream   timed\nout", "HTTP 502 Reason: upstream timed out"),
        (b"", "HTTP 502 Reason"),
        (b'{"unexpected": true}', "HTTP 502 Reason"),
    ],
)
def test_an_answer_without_an_envelope_says_its_status(body: bytes, message: str) -> None:
    error = api(502, body)
    assert isinstance(error, ServerError) and error.message == message


def test_a_retry_after_date_is_measured_from_now() -> None:
    error = api(503, {}, {"Retry-After": "Thu, 01 Jan 2026 00:00:30 GMT"})
    assert isinstance(error, ServerError) and error.retry_after == 30.0


# -- the result host -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refused_result_url_is_result_gone(status: int) -> None:
    error = host(status, b"<Error>\n  <Code>AccessDenied</Code>\n</Error>")
    assert isinstance(error, ResultGone) and error.status == status
    assert error.message == f"the result host answered HTTP {status}: " + (
        "<Error> <Code>AccessDenied</Code> </Error>"
    )


@pytest.mark.parametrize("status", [408, 429, 500, 503, 504])
def test_a_transient_result_host_status_is_a_server_error_with_its_retry_after(
    status: int,
) -> None:
    error = host(status, b"busy", {"retry-after": "12"})
    assert isinstance(error, ServerError)
    assert (error.status, error.retry_after) == (status, 12.0)
    assert error.message == f"the result host answered HTTP {status}: busy"


@pytest.mark.parametrize("status", [400, 401, 405, 416, 501])
def test_any_other_result_host_status_is_a_service_failure_not_an_api_refusal(status: int) -> None:
    error = host(status)
    assert type(error) is ServiceError
    assert error.message == f"the result host answered HTTP {status}"


# -- redirects -------------------------------------------------------------------------------------

BASE = "https://api.example.com/v1/tasks/t-1"


def hop(
    rule: Redirects,
    status: int,
    location: str | None,
    *,
    method: str = "GET",
    hops: int = 0,
    url: str = BASE,
) -> str | None:
    return next_hop(
        rule, status, location, url=url, method=method, hops=hops, join=partial(urljoin, url)
    )


@pytest.mark.parametrize("rule", [NO_REDIRECTS, API_REDIRECTS, RESULT_REDIRECTS])
def test_an_answer_that_is_no_redirect_is_final(rule: Redirects) -> None:
    assert hop(rule, 200, "/elsewhere") is None
    assert hop(rule, 304, "/elsewhere") is None
    assert hop(rule, 302, None) is None
    assert hop(rule, 302, "") is None  # no target: the 3xx is the answer


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_create_follows_no_redirect_at_all(status: int) -> None:
    assert hop(NO_REDIRECTS, status, "/v1/videos/generations", method="POST") is None


def test_the_api_follows_within_its_origin_only() -> None:
    assert hop(API_REDIRECTS, 302, "/v1/credits") == "https://api.example.com/v1/credits"
    assert hop(API_REDIRECTS, 301, "https://API.example.com:443/x") == (
        "https://API.example.com:443/x"
    )
    for elsewhere in (
        "https://evil.example.com/v1/credits",
        "http://api.example.com/v1/credits",  # the same host without TLS is another origin
        "https://api.example.com:8443/v1/credits",
        "//evil.example.com/x",
        "https://api.example.com:99999/x",  # a port no origin has: refused, not a crash
    ):
        with pytest.raises(RedirectRefused, match="another origin"):
            hop(API_REDIRECTS, 307, elsewhere)


def test_the_api_resends_a_body_only_by_307_and_308() -> None:
    assert hop(API_REDIRECTS, 307, "/up", method="POST") == "https://api.example.com/up"
    assert hop(API_REDIRECTS, 308, "/up", method="POST") == "https://api.example.com/up"
    for status in (301, 302, 303):
        with pytest.raises(RedirectRefused, match="redirect of a POST"):
            hop(API_REDIRECTS, status, "/up", method="POST")


@pytest.mark.parametrize(("rule", "limit"), [(API_REDIRECTS, 3), (RESULT_REDIRECTS, 5)])
def test_redirects_stop_at_the_rules_limit(rule: Redirects, limit: int) -> None:
    assert hop(rule, 302, "/next", hops=limit - 1) is not None
    with pytest.raises(RedirectRefused, match=f"more than {limit} redirects"):
        hop(rule, 302, "/next", hops=limit)


def test_a_result_host_may_redirect_anywhere_since_no_key_goes_there() -> None:
    url = "https://cdn.example.com/r/1.mp4?sig=x"
    assert hop(RESULT_REDIRECTS, 302, "https://edge.example.net/1.mp4", url=url) == (
        "https://edge.example.net/1.mp4"
    )
    assert hop(RESULT_REDIRECTS, 301, "/other.mp4", url=url) == "https://cdn.example.com/other.mp4"


def test_a_result_redirected_to_another_origin_is_fetched_there_without_the_key(
    clock: FakeClock, tmp_path: Path
) -> None:
    with (
        Emulator(clock=clock, second_origin=True, task_seconds=10) as emu,
        Client(TEST_KEY, base_url=emu.url, sleep=clock.sleep) as client,
    ):
        task = client.create_generation(GenerationRequest("x"))
        clock.advance(10)
        url = client.get_task(task.id).video_url
        assert url is not None and url.startswith(emu.results_url)
        elsewhere = emu.url + url[len(emu.results_url) :]  # the same path on the API's origin
        emu.add_fault(Fault("download", "redirect", params={"to": elsewhere, "status": "302"}))
        target = tmp_path / "x.mp4"
        download(client.open_result, url, target, retry=client.retry, sleep=clock.sleep)
        assert target.read_bytes() == sample_video()
        records = emu.requests("download")
        assert [r.status for r in records] == [302, 200]
        assert not any(r.has_authorization for r in records)
        assert clock.sleeps == []


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/v1/credits", "http://[bad/x"])
def test_a_client_read_redirected_to_a_broken_origin_is_refused_not_a_crash(
    clock: FakeClock, location: str
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": location})

    with Client(
        TEST_KEY,
        base_url="http://127.0.0.1:8080",
        transport=httpx.MockTransport(answer),
        sleep=clock.sleep,
    ) as client:
        with pytest.raises(RedirectRefused, match="another origin"):
            client.get_credits()
    assert len(sent) == 1 and clock.sleeps == []
