"""Every answer the emulator gives, and every body the client sends, against the official schemas."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedance_cli import Client, GenerationRequest
from seedance_cli.catalogue import ModelSpec
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.models import ASPECT_RATIOS, QUALITIES

from .bodies import IDS, SPECS, breakers, broken_bodies, minimal, valid_bodies
from .conftest import TEST_KEY
from .images import png_bytes
from .schemas import component, validate_response

CREATE = ("seedance-1.5-pro-video-generate.json", "/v1/videos/generations", "post")
QUERY = ("get-task-detail.json", "/v1/tasks/{task_id}", "get")
CREDITS = ("get-credits.json", "/v1/credits", "get")
QUOTA = ("quota.json", "/api/v1/files/quota", "get")
UPLOADS = {
    "stream": ("upload-stream.json", "/api/v1/files/upload/stream", "post"),
    "base64": ("upload-base64.json", "/api/v1/files/upload/base64", "post"),
    "url": ("upload-url.json", "/api/v1/files/upload/url", "post"),
}


def conforms(spec: tuple[str, str, str], response: httpx.Response) -> dict[str, Any]:
    file, path, method = spec
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    validate_response(file, path, method, response.status_code, body)
    return body


# -- create ----------------------------------------------------------------------------------------

FULL_BODY = {
    "model": "seedance-1.5-pro",
    "prompt": 'A man stops a woman and says: "Remember, never point at the moon."',
    "image_urls": ["https://example.com/first.png", "https://example.com/last.png"],
    "duration": 12,
    "quality": "1080p",
    "aspect_ratio": "21:9",
    "generate_audio": False,
    "callback_url": "https://hooks.example.com/seedance",
}


#: The fields of a create's answer the reference documents (API.md).
DOCUMENTED_TASK_FIELDS = frozenset(
    {"created", "id", "model", "object", "progress", "status", "task_info", "type", "usage"}
)


@pytest.mark.parametrize(
    "body", [{"model": "seedance-1.5-pro", "prompt": "A cat playing piano"}, FULL_BODY]
)
def test_create_200(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/v1/videos/generations", json=body)
    assert response.status_code == 200
    task = conforms(CREATE, response)
    assert task["status"] == "pending" and task["object"] == "video.generation.task"
    # billing: the emulator's default; --no-billing leaves it out (below)
    assert set(task) == {*DOCUMENTED_TASK_FIELDS, "billing"}


def test_create_200_without_billing_is_the_documented_shape(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, billing=False) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as http,
    ):
        task = conforms(CREATE, http.post("/v1/videos/generations", json=FULL_BODY))
        assert set(task) == DOCUMENTED_TASK_FIELDS
        assert set(task["usage"]) == {"billing_rule", "credits_reserved", "user_group"}
        clock.advance(60)
        done = conforms(QUERY, http.get(f"/v1/tasks/{task['id']}"))
        assert "billing" not in done and "usage" not in done


INVALID_BODIES = [
    ({"prompt": "x"}, "model"),
    ({"model": "seedance-2.0", "prompt": "x"}, "model"),
    ({"model": "seedance-1.5-pro"}, "prompt"),
    ({"model": "seedance-1.5-pro", "prompt": ""}, "prompt"),
    ({"model": "seedance-1.5-pro", "prompt": "x" * 2001}, "prompt"),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "image_urls": ["https://e.com/a.png"] * 3},
        "image_urls",
    ),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "image_urls": "https://e.com/a.png"},
        "image_urls",
    ),
    ({"model": "seedance-1.5-pro", "prompt": "x", "image_urls": ["not a url"]}, "image_urls"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "duration": 3}, "duration"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "duration": 13}, "duration"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "duration": 5.5}, "duration"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "quality": "4k"}, "quality"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "aspect_ratio": "2:1"}, "aspect_ratio"),
    ({"model": "seedance-1.5-pro", "prompt": "x", "generate_audio": "yes"}, "generate_audio"),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "callback_url": "http://e.com/h"},
        "callback_url",
    ),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "callback_url": "https://192.168.0.2/h"},
        "callback_url",
    ),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "callback_url": "https://localhost/h"},
        "callback_url",
    ),
    (
        {"model": "seedance-1.5-pro", "prompt": "x", "callback_url": "https://e.com/" + "a" * 2040},
        "callback_url",
    ),
]


@pytest.mark.parametrize(("body", "param"), INVALID_BODIES)
def test_create_400_names_the_field(
    http: httpx.Client, emulator: Emulator, body: dict[str, Any], param: str
) -> None:
    response = http.post("/v1/videos/generations", json=body)
    assert response.status_code == 400
    error = conforms(CREATE, response)["error"]
    assert error["code"] == "invalid_request" and error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert param in error["message"] or param == "body"
    assert emulator.service.tasks == {}


def test_create_400_on_a_body_that_is_not_json(http: httpx.Client) -> None:
    response = http.post(
        "/v1/videos/generations", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    conforms(CREATE, response)


def test_create_401_without_a_key(emulator: Emulator) -> None:
    response = httpx.post(f"{emulator.url}/v1/videos/generations", json=FULL_BODY)
    assert response.status_code == 401
    assert conforms(CREATE, response)["error"]["code"] == "unauthorized"


def test_create_402_when_out_of_credits(clock: FakeClock) -> None:
    with Emulator(clock=clock, credits=5) as emu:
        response = httpx.post(
            f"{emu.url}/v1/videos/generations",
            json=FULL_BODY,
            headers={"Authorization": "Bearer k"},
        )
    assert response.status_code == 402
    assert conforms(CREATE, response)["error"]["code"] == "insufficient_quota"


def test_create_413_on_a_huge_body(http: httpx.Client) -> None:
    response = http.post("/v1/videos/generations", json={**FULL_BODY, "pad": "x" * 2_000_000})
    assert response.status_code == 413
    conforms(CREATE, response)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 408, 429, 500, 502, 503, 504])
def test_create_injected_errors(http: httpx.Client, emulator: Emulator, status: int) -> None:
    emulator.add_fault(f"create:{status}")
    response = http.post("/v1/videos/generations", json=FULL_BODY)
    assert response.status_code == status
    conforms(CREATE, response)


# -- query -----------------------------------------------------------------------------------------


def _create(http: httpx.Client) -> str:
    task_id: str = http.post("/v1/videos/generations", json=FULL_BODY).json()["id"]
    return task_id


@pytest.mark.parametrize(
    ("task_fault", "age", "status"),
    [
        (None, 0, "pending"),
        (None, 30, "processing"),
        (None, 60, "completed"),
        ("task:fail:1:code=content_policy_violation", 60, "failed"),
        ("task:fail:1:code=none", 60, "failed"),
        ("task:hang", 6000, "processing"),
    ],
)
def test_query_200_in_every_state(
    http: httpx.Client,
    emulator: Emulator,
    clock: FakeClock,
    task_fault: str | None,
    age: int,
    status: str,
) -> None:
    if task_fault:
        emulator.add_fault(task_fault)
    task_id = _create(http)
    clock.advance(age)
    response = http.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200
    task = conforms(QUERY, response)
    assert task["status"] == status
    if status == "completed":
        assert task["progress"] == 100 and len(task["results"]) == 1
    if task_fault == "task:fail:1:code=none":
        assert "error" not in task


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/tasks/abc", 400, "invalid_task_id"),
        ("/v1/tasks/task-unified-1761313744-zzzzzzzz", 404, "task_not_found"),
    ],
)
def test_query_errors(http: httpx.Client, path: str, status: int, code: str) -> None:
    response = http.get(path)
    assert response.status_code == status
    assert conforms(QUERY, response)["error"]["code"] == code


def test_query_403_for_another_keys_task(http: httpx.Client, emulator: Emulator) -> None:
    task_id = _create(http)
    response = httpx.get(
        f"{emulator.url}/v1/tasks/{task_id}", headers={"Authorization": "Bearer sk-other"}
    )
    assert response.status_code == 403
    assert conforms(QUERY, response)["error"]["code"] == "permission_denied"


def test_query_401(emulator: Emulator) -> None:
    response = httpx.get(
        f"{emulator.url}/v1/tasks/task-unified-1-abcdefgh", headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401
    conforms(QUERY, response)


@pytest.mark.parametrize("status", [402, 408, 429, 500, 502, 503])
def test_query_injected_errors(http: httpx.Client, emulator: Emulator, status: int) -> None:
    emulator.add_fault(f"query:{status}")
    response = http.get("/v1/tasks/task-unified-1-abcdefgh")
    assert response.status_code == status
    conforms(QUERY, response)


# -- credits and quota -----------------------------------------------------------------------------


def test_credits_200(http: httpx.Client) -> None:
    body = conforms(CREDITS, http.get("/v1/credits"))
    assert body["success"] is True


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500, 502, 503])
def test_credits_errors_use_integer_codes(
    http: httpx.Client, emulator: Emulator, status: int
) -> None:
    emulator.add_fault(f"credits:{status}")
    response = http.get("/v1/credits")
    assert response.status_code == status
    assert conforms(CREDITS, response)["error"]["code"] == status


def test_quota_200(http: httpx.Client) -> None:
    body = conforms(QUOTA, http.get("/api/v1/files/quota"))
    assert body["data"]["max_files"] == 2000


# -- files API -------------------------------------------------------------------------------------

PNG = png_bytes(320, 320)


def _upload(http: httpx.Client, route: str, data: bytes, emulator: Emulator) -> httpx.Response:
    if route == "stream":
        return http.post(UPLOADS[route][1], files={"file": ("photo.png", data, "image/png")})
    if route == "base64":
        encoded = "data:image/png;base64," + base64.b64encode(data).decode()
        return http.post(UPLOADS[route][1], json={"base64_data": encoded})
    if data != PNG:  # a URL whose content is not an image
        return http.post(UPLOADS[route][1], json={"file_url": f"{emulator.url}/_emulator/health"})
    source = http.post(UPLOADS["stream"][1], files={"file": ("src.png", data, "image/png")})
    return http.post(UPLOADS[route][1], json={"file_url": source.json()["data"]["file_url"]})


@pytest.mark.parametrize("route", ["stream", "base64", "url"])
def test_uploads_200(http: httpx.Client, emulator: Emulator, route: str) -> None:
    body = conforms(UPLOADS[route], _upload(http, route, PNG, emulator))
    assert body["success"] is True and body["data"]["mime_type"] == "image/png"


@pytest.mark.parametrize("route", ["stream", "base64", "url"])
def test_upload_errors_share_the_envelope(
    http: httpx.Client, emulator: Emulator, route: str
) -> None:
    response = _upload(http, route, b"just some text, not an image", emulator)
    assert response.status_code == 400
    body = conforms(UPLOADS[route], response)
    assert body["success"] is False and body["code"] == 400 and body["msg"]


# -- what the client sends -------------------------------------------------------------------------

requests = st.builds(
    GenerationRequest,
    prompt=st.text(min_size=1, max_size=2000).filter(lambda p: p.strip() != ""),
    image_urls=st.lists(
        st.sampled_from(["https://example.com/a.png", "http://cdn.example.org/b.jpeg?x=1"]),
        max_size=2,
    ).map(tuple),
    duration=st.none() | st.integers(4, 12),
    quality=st.none() | st.sampled_from(QUALITIES),
    aspect_ratio=st.none() | st.sampled_from(ASPECT_RATIOS),
    generate_audio=st.none() | st.booleans(),
    callback_url=st.none()
    | st.sampled_from(["https://hooks.example.com/x", "https://8.8.4.4:8443/cb?id=1"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests)
def test_every_request_the_client_sends_validates(
    client: Client, emulator: Emulator, request: GenerationRequest
) -> None:
    emulator.reset()
    client.create_generation(request)
    (record,) = emulator.requests("create")
    body = json.loads(record.body)
    component("seedance-1.5-pro-video-generate.json", "VideoGenerationRequest").validate(body)
    assert body == request.to_body()


def test_strict_schemas_catch_an_invented_field() -> None:
    validator = component("get-task-detail.json", "TaskDetailResponse")
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        validator.validate({"id": "task-unified-1-a", "status": "pending", "invented": 1})


# -- every model of the family ---------------------------------------------------------------------


@pytest.fixture
def rich_emulator(clock: FakeClock) -> Iterator[Emulator]:
    """An emulator whose key never runs out of credits, for many creates in one test."""
    with Emulator(clock=clock, task_seconds=60, credits=1e12) as emu:
        yield emu


@pytest.fixture
def rich(rich_emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=rich_emulator.url, headers={"Authorization": f"Bearer {TEST_KEY}"}
    ) as client:
        yield client


def model_create(spec: ModelSpec) -> tuple[str, str, str]:
    return (spec.source, "/v1/videos/generations", "post")


def accepted(http: httpx.Client, spec: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body``: it must be valid by the model's own schema, and so must the answer."""
    component(spec.source, "VideoGenerationRequest").validate(body)
    response = http.post("/v1/videos/generations", json=body)
    assert response.status_code == 200, response.text
    task = conforms(model_create(spec), response)
    assert task["model"] == spec.id and task["status"] == "pending"
    return task


def refused(http: httpx.Client, spec: ModelSpec, body: Any, param: str) -> None:
    response = http.post("/v1/videos/generations", json=body)
    assert response.status_code == 400, response.text
    error = conforms(model_create(spec), response)["error"]
    assert (error["code"], error["type"]) == ("invalid_request", "invalid_request_error")
    assert error["param"] == param, error
    assert error["message"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_model_takes_its_minimal_request_and_answers_by_its_schema(
    http: httpx.Client, clock: FakeClock, spec: ModelSpec
) -> None:
    task = accepted(http, spec, minimal(spec))
    clock.advance(60)
    later = http.get(f"/v1/tasks/{task['id']}")
    done = conforms(QUERY, later)
    component(spec.source, "VideoGenerationResponse", strict=False).validate(done)
    assert done["status"] == "completed" and done["model"] == spec.id
    assert done["task_info"]["video_duration"] > 0


@pytest.mark.parametrize(
    ("spec", "rule"),
    [(spec, rule) for spec in SPECS for rule in breakers(spec)],
    ids=[f"{spec.id}:{rule}" for spec in SPECS for rule in breakers(spec)],
)
def test_every_model_refuses_each_rule_broken_naming_the_field(
    http: httpx.Client, emulator: Emulator, spec: ModelSpec, rule: str
) -> None:
    body, param = breakers(spec)[rule](minimal(spec))
    refused(http, spec, body, param)
    assert emulator.service.tasks == {}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_valid_request_of_any_model_is_accepted_and_valid_by_its_schema(
    rich: httpx.Client, data: st.DataObject
) -> None:
    spec = data.draw(st.sampled_from(SPECS), label="model")
    body = data.draw(valid_bodies(spec), label="body")
    task = accepted(rich, spec, body)
    duration = body.get("duration", spec.duration_default)
    if duration != -1:
        assert task["task_info"]["video_duration"] == duration


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_request_with_one_rule_broken_is_refused_naming_the_field(
    rich: httpx.Client, rich_emulator: Emulator, data: st.DataObject
) -> None:
    spec = data.draw(st.sampled_from(SPECS), label="model")
    _rule, body, param = data.draw(broken_bodies(spec), label="broken")
    before = len(rich_emulator.service.tasks)
    refused(rich, spec, body, param)
    assert len(rich_emulator.service.tasks) == before
