"""A create refused because the API no longer serves the model: told plainly (exit 6, with how to
pick another), and like every refusal it created nothing, so the history keeps no row of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli.emulator import Emulator
from seedance_cli.errors import (
    APIError,
    ExitCode,
    InvalidRequestError,
    ModelUnavailable,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SeedanceError,
    ServerError,
)
from seedance_cli.http_errors import http_error, model_refusal
from seedance_cli.ledger import Ledger
from seedance_cli.session import Session

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY, MakeClient
from .fakeapi import FakeAPI, fake_api

MODEL = "seedance-1.5-pro"
CREATE = "/v1/videos/generations"
RETIRED_410 = {
    "error": {
        "code": "model_retired",
        "message": f"The model '{MODEL}' has been retired by the upstream provider and is no "
        "longer available",
        "type": "invalid_request_error",
        "param": "model",
    }
}
NOT_FOUND_404 = {
    "error": {
        "code": "model_not_found",
        "message": f"The model '{MODEL}' does not exist",
        "type": "invalid_request_error",
        "param": "model",
    }
}
PARAM_400 = {
    "error": {
        "code": "invalid_request",
        "message": "This model is deprecated and no longer available",
        "type": "invalid_request_error",
        "param": "model",
    }
}
ACCESS_403 = {
    "error": {
        "code": "model_access_denied",
        "message": "Token does not have access to this model",
        "type": "invalid_request_error",
    }
}
HINT = (
    "hint: `seedance models` lists the models this version knows (`--available`: those this key "
    "may use); choose one with --model, or set the profile's `model` key"
)


def refusal(status: int, body: object, model: str = MODEL) -> SeedanceError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return model_refusal(http_error(status, raw, {}, now=0.0), model)


def envelope(code: object, message: str, param: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message, "type": "invalid_request_error"}
    if param is not None:
        error["param"] = param
    return {"error": error}


# -- the one mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (410, RETIRED_410),
        (410, envelope("gone", "Gone")),  # the emulator's 410
        (410, b""),
        (410, b"<html><body>410 Gone</body></html>"),
        (404, NOT_FOUND_404),
        (404, envelope("not_found", f"Model {MODEL} not found")),
        (404, envelope(404, "The requested model is no longer available")),  # legacy int code
        (400, envelope("model_not_available", "unavailable")),
        (400, envelope("unsupported_model", "nope")),
        (400, envelope("model_deprecated", "gone")),
        (400, PARAM_400),
        (400, envelope("invalid_request", f"{MODEL} has been retired", param="model")),
        (400, envelope(400, "model not supported", param="model")),
        (403, envelope("model_retired", "The model has been retired")),
        (403, envelope("model_access_denied", f"Model {MODEL} was retired on 2026-11-10")),
        (403, envelope("permission_denied", "This model is no longer offered")),
    ],
)
def test_a_refusal_about_the_model_not_being_served_is_model_unavailable(
    status: int, body: object
) -> None:
    error = refusal(status, body)
    assert type(error) is ModelUnavailable
    assert error.exit_code == ExitCode.REFUSED and error.status == status
    assert error.message.startswith(f"the API no longer serves model {MODEL} (HTTP {status}")
    assert error.model == MODEL and error.code_name == "model_unavailable"
    assert error.hint is not None and "`seedance models`" in error.hint and "--model" in error.hint


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (403, ACCESS_403, PermissionDeniedError),  # this key may not use it: exit 4
        (403, envelope("model_access_denied", "Model not available for your plan"), None),
        (403, envelope("permission_denied", "model access denied"), None),
        (
            400,
            envelope("invalid_request", "duration 20 is not supported by this model", "duration"),
            None,
        ),
        (400, envelope("invalid_request", "The model does not support 4k"), None),  # no param
        (400, envelope("invalid_request", "model is required", param="model"), None),
        (404, envelope("not_found", "Not found"), NotFoundError),  # a route, not the model
        (404, b"<html>404</html>", NotFoundError),
        (422, envelope("invalid_request", "model retired", param="model"), InvalidRequestError),
        (429, envelope("rate_limit_exceeded", "model busy, retired soon"), RateLimitError),
        (500, envelope("internal_error", "model not found"), ServerError),
    ],
)
def test_other_refusals_stay_what_they_were(
    status: int, body: object, cls: type[APIError] | None
) -> None:
    error = refusal(status, body)
    assert type(error) is not ModelUnavailable
    plain = http_error(
        status, body if isinstance(body, bytes) else json.dumps(body).encode(), {}, now=0.0
    )
    assert type(error) is type(plain) and error.message == plain.message
    if cls is not None:
        assert type(error) is cls


def test_a_model_this_version_does_not_know_is_not_said_to_be_served_no_longer() -> None:
    raw = json.dumps(NOT_FOUND_404).encode()
    error = model_refusal(http_error(404, raw, {}, now=0.0), "seedance-9.0-pro", known=False)
    assert isinstance(error, ModelUnavailable)
    assert error.message.startswith("the API does not serve model seedance-9.0-pro (HTTP 404: ")


# -- the client: only a create reads it so ----------------------------------------------------------


def test_a_create_refused_with_410_by_the_emulator_is_model_unavailable_and_not_resent(
    client: Client, emulator: Emulator
) -> None:
    emulator.add_fault("create:410")
    with pytest.raises(ModelUnavailable) as info:
        client.create_generation(GenerationRequest("A cat", model=MODEL))
    assert info.value.message == f"the API no longer serves model {MODEL} (HTTP 410: Gone)"
    assert len(emulator.requests("create")) == 1 and emulator.service.tasks == {}


def test_a_task_query_answered_410_is_not_about_a_model(client: Client, emulator: Emulator) -> None:
    emulator.add_fault("query:410")
    with pytest.raises(APIError) as info:
        client.get_task("task-unified-1-abcdefgh")
    assert type(info.value) is InvalidRequestError


@pytest.mark.parametrize(
    ("status", "body"), [(410, RETIRED_410), (404, NOT_FOUND_404), (400, PARAM_400)]
)
def test_the_session_leaves_no_history_row_for_it(
    make_client: MakeClient, tmp_path: Path, status: int, body: object
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, json=body)

    ledger = Ledger(tmp_path / "data")
    client = make_client(transport=httpx.MockTransport(answer))
    with pytest.raises(ModelUnavailable):
        Session(ledger, client).create(GenerationRequest("A cat"), idempotency_key="k-retired")
    assert len(sent) == 1
    assert ledger.by_idempotency_key("k-retired") == [] and ledger.entries() == []


# -- the command -----------------------------------------------------------------------------------


@pytest.fixture
def refusing_api(environ: dict[str, str]) -> Iterator[FakeAPI]:
    with fake_api() as api:
        environ.update(
            SEEDANCE_BASE_URL=api.url, SEEDANCE_FILES_URL=api.url, SEEDANCE_API_KEY=SENTINEL_KEY
        )
        yield api


#: What ``generate`` says before the create (1.5 pro, 5 s, 720p, with audio).
ESTIMATE = "estimate: 17.78 credits ($0.26)"


def history_of(environ: dict[str, str], key: str) -> list[object] | None:
    return Ledger(Path(environ["SEEDANCE_DATA_DIR"])).by_idempotency_key(key)  # type: ignore[return-value]


def test_generate_for_a_model_retired_with_410_by_the_emulator(
    cli: CliRunner, api: Emulator, environ: dict[str, str]
) -> None:
    api.add_fault("create:410")
    result = cli("generate", "A cat", "--idempotency-key", "k-410")
    assert (result.code, result.out) == (ExitCode.REFUSED, "")
    assert result.err.splitlines() == [
        ESTIMATE,
        f"error: the API no longer serves model {MODEL} (HTTP 410: Gone)",
        HINT,
    ]
    assert history_of(environ, "k-410") == []
    assert cli("history", "--json").out == ""


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (410, RETIRED_410, RETIRED_410["error"]["message"]),
        (404, NOT_FOUND_404, NOT_FOUND_404["error"]["message"]),
        (400, PARAM_400, PARAM_400["error"]["message"]),
    ],
)
def test_generate_for_a_model_the_api_no_longer_serves(
    cli: CliRunner,
    refusing_api: FakeAPI,
    environ: dict[str, str],
    status: int,
    body: object,
    detail: str,
) -> None:
    refusing_api.route("POST", CREATE, status, body)
    result = cli("generate", "A cat", "--idempotency-key", "k-gone")
    assert (result.code, result.out) == (6, "")
    assert result.err.splitlines() == [
        ESTIMATE,
        f"error: the API no longer serves model {MODEL} (HTTP {status}: {detail})",
        HINT,
    ]
    assert len(refusing_api.requests(CREATE)) == 1  # never sent again
    assert history_of(environ, "k-gone") == []
    again = cli("generate", "A cat", "--idempotency-key", "k-gone")  # the key made nothing
    assert again.code == 6 and len(refusing_api.requests(CREATE)) == 2


def test_generate_json_names_it_model_unavailable(cli: CliRunner, refusing_api: FakeAPI) -> None:
    refusing_api.route("POST", CREATE, 410, RETIRED_410)
    result = cli("generate", "A cat", "--json")
    assert result.code == 6
    (error,) = result.json
    assert error["error"]["code"] == "model_unavailable"
    assert error["error"]["message"].startswith(f"the API no longer serves model {MODEL}")
    assert "seedance models" in error["error"]["hint"]


def test_a_model_access_denied_is_still_exit_4_without_the_model_hint(
    cli: CliRunner, refusing_api: FakeAPI, environ: dict[str, str]
) -> None:
    refusing_api.route("POST", CREATE, 403, ACCESS_403)
    result = cli("generate", "A cat", "--idempotency-key", "k-403")
    assert (result.code, result.out) == (4, "")
    assert result.err.splitlines() == [ESTIMATE, "error: Token does not have access to this model"]
    assert history_of(environ, "k-403") == []


def test_the_emulators_403_is_still_exit_4(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("create:403")
    result = cli("generate", "A cat")
    assert result.code == 4 and "no longer serves" not in result.err


@pytest.mark.parametrize(("status", "code"), [(410, "model_retired"), (404, "model_not_found")])
def test_generate_for_a_model_the_emulator_retired(
    cli: CliRunner, api: Emulator, status: int, code: str
) -> None:
    """The emulator's retire switch, both shapes: exit 6, said plainly, no history row, and the
    same create for another model goes through."""
    api.retire("seedance-2.0-text-to-video", status)
    result = cli("--json", "generate", "A cat", "--model", "seedance-2.0-text-to-video")
    assert result.code == 6
    (error,) = result.json
    assert error["error"]["code"] == "model_unavailable"
    assert "no longer serves model seedance-2.0-text-to-video" in error["error"]["message"]
    assert "seedance models" in error["error"]["hint"] and "--model" in error["error"]["hint"]
    assert cli("history", "--json").json == []
    ok = cli("generate", "A cat", "--model", "seedance-2.0-fast-text-to-video")
    assert ok.code == 0 and ok.out.startswith("task-unified-")
    assert [r.status for r in api.requests("create")] == [status, 200]
    assert (status == 410) == ("retired" in error["error"]["message"]), code
