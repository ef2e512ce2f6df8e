"""Hostile requests get a proper answer from the emulator - a 4xx in the endpoint's envelope,
validated by the official schemas where they apply - never a dropped connection or a traceback."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .conftest import TEST_KEY
from .test_conformance import CREATE, UPLOADS, conforms

OK = {"model": "seedance-1.5-pro", "prompt": "A cat"}


def raw(emulator: Emulator, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return the status, headers and body of the answer (which must come)."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as conn:
        text = head.replace("\n", "\r\n") + "\r\n"
        try:
            data = text.encode("latin-1")  # what HTTP/1.1 headers are
        except UnicodeEncodeError:
            data = text.encode("utf-8")
        conn.sendall(data + body)
        conn.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data, "the connection was dropped without an answer"
    header_block, _, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, payload


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**OK, "image_urls": ["http://[::1/a.png"]}, "image_urls"),  # unparseable URL
        ({**OK, "image_urls": ["https://e.com:99999999/a.png"]}, "image_urls"),  # port out of range
        ({**OK, "image_urls": ["https://e.com:x/a.png"]}, "image_urls"),
        ({**OK, "image_urls": "https://e.com/a.png"}, "image_urls"),
        ({**OK, "image_urls": [1, None]}, "image_urls"),
        ({**OK, "callback_url": "https://[oops/cb"}, "callback_url"),
        ({**OK, "callback_url": "https://e.com:70000/cb"}, "callback_url"),
        ({**OK, "callback_url": ["https://e.com/cb"]}, "callback_url"),
        ({**OK, "callback_url": "https:///no-host"}, "callback_url"),
        ({**OK, "model": ["seedance-1.5-pro"]}, "model"),
        ({**OK, "model": {"id": "seedance-1.5-pro"}}, "model"),
        ({**OK, "prompt": 42}, "prompt"),
        ({**OK, "prompt": ["A cat"]}, "prompt"),
        ({**OK, "duration": "8"}, "duration"),
        ({**OK, "duration": 8.5}, "duration"),
        ({**OK, "duration": 10**30}, "duration"),
        ({**OK, "duration": True}, "duration"),
        ({**OK, "quality": ["720p"]}, "quality"),
        ({**OK, "aspect_ratio": {"w": 16}}, "aspect_ratio"),
        ({**OK, "generate_audio": "yes"}, "generate_audio"),
        ([OK], "body"),
        ("A cat", "body"),
        (None, "body"),
        (12, "body"),
    ],
)
def test_create_answers_400_naming_the_field_for_every_wrong_shape(
    http: httpx.Client, emulator: Emulator, body: Any, param: str
) -> None:
    response = http.post(
        "/v1/videos/generations",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = conforms(CREATE, response)["error"]
    assert error["code"] == "invalid_request" and error["param"] == param
    assert emulator.service.tasks == {}


@pytest.mark.parametrize(
    "content",
    [
        b'{"model": "seedance-1.5-pro", "prompt": "\xff\xfe"}',  # not UTF-8
        b"\xef\xbb\xbf" + json.dumps(OK).encode()[:10],  # cut short
        b'{"model": "seedance-1.5-pro", "prompt": "a", "duration": 1e999}',  # infinity
        b'{"model": "seedance-1.5-pro", "prompt": "a", "duration": ' + b"9" * 5000 + b"}",
        b'{"model": "seedance-1.5-pro", "prompt": "a", "duration": NaN}',
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the parser goes
        b"",
    ],
)
def test_create_answers_400_for_bodies_that_are_not_usable_json(
    http: httpx.Client, emulator: Emulator, content: bytes
) -> None:
    response = http.post(
        "/v1/videos/generations", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    conforms(CREATE, response)
    assert emulator.service.tasks == {}


@pytest.mark.parametrize("length", ["-5", "abc", "1e3", "+3", " -0x10", "٣"])
def test_a_content_length_that_is_not_a_number_is_a_400(emulator: Emulator, length: str) -> None:
    head = (
        f"POST /v1/videos/generations HTTP/1.1\nHost: x\nAuthorization: Bearer {TEST_KEY}\n"
        f"Content-Type: application/json\nContent-Length: {length}\n"
    )
    status, _, body = raw(emulator, head, b"{}")
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_request"


def test_a_content_length_of_thousands_of_digits_is_a_413(emulator: Emulator) -> None:
    head = f"POST /v1/videos/generations HTTP/1.1\nHost: x\nContent-Length: {'9' * 5000}\n"
    status, _, _ = raw(emulator, head)
    assert status == 413


def test_a_post_without_content_length_is_an_empty_body(emulator: Emulator) -> None:
    head = f"POST /v1/videos/generations HTTP/1.1\nHost: x\nAuthorization: Bearer {TEST_KEY}\n"
    status, _, body = raw(emulator, head)
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_request"


def test_a_key_no_ascii_codec_holds_is_refused_not_dropped(emulator: Emulator) -> None:
    task_id = httpx.post(
        f"{emulator.url}/v1/videos/generations", json=OK, headers={"Authorization": "Bearer k"}
    ).json()["id"]
    head = f"GET /v1/tasks/{task_id} HTTP/1.1\nHost: x\nAuthorization: Bearer caf\xe9\n"
    status, _, body = raw(emulator, head)
    assert status == 403
    assert json.loads(body)["error"]["code"] == "permission_denied"


def test_a_fixed_key_compared_with_a_non_ascii_one_is_401(clock: FakeClock) -> None:
    with Emulator(clock=clock, api_key="sk-the-key") as emu:
        head = "GET /v1/credits HTTP/1.1\nHost: x\nAuthorization: Bearer \xe9\xe9\n"
        status, _, _ = raw(emu, head)
    assert status == 401


def test_a_result_url_with_a_non_ascii_signature_or_huge_numbers_is_403_or_416(
    http: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    task_id = http.post("/v1/videos/generations", json=OK).json()["id"]
    clock.advance(120)
    url = http.get(f"/v1/tasks/{task_id}").json()["results"][0]
    path = url.split("/", 3)[3].split("?")[0]
    for query in ("expires=1&signature=%C3%A9", f"expires={'9' * 5000}&signature=x"):
        assert http.get(f"/{path}?{query}").status_code == 403
    response = http.get(url, headers={"Range": f"bytes={'9' * 5000}-"})
    assert response.status_code == 416
    response = http.get(url, headers={"Range": f"bytes=-{'9' * 5000}"})
    assert response.status_code == 206 and response.content == emulator.service.video


@pytest.mark.parametrize(
    "file_url", ["http://[oops/a.png", "http://127.0.0.1:99999/a.png", 12, None, "ftp://x/a.png"]
)
def test_upload_by_url_refuses_bad_urls_in_its_envelope(
    http: httpx.Client, file_url: object
) -> None:
    response = http.post(UPLOADS["url"][1], json={"file_url": file_url})
    assert response.status_code == 400
    body = conforms(UPLOADS["url"], response)
    assert body["success"] is False and body["code"] == 400


@pytest.mark.parametrize("payload", [[1], "x", None, {"base64_data": 12}, {"base64_data": "!"}])
def test_upload_base64_refuses_wrong_shapes_in_its_envelope(
    http: httpx.Client, payload: object
) -> None:
    response = http.post(UPLOADS["base64"][1], json=payload)
    assert response.status_code == 400
    assert conforms(UPLOADS["base64"], response)["success"] is False


def test_a_bug_in_the_emulator_is_a_500_in_the_envelope_not_a_drop(
    http: httpx.Client, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(emulator.service, "handle", broken)
    response = http.post("/v1/videos/generations", json=OK)
    assert response.status_code == 500
    assert conforms(CREATE, response)["error"]["code"] == "internal_error"


@pytest.mark.parametrize(
    "spec",
    [
        "create:slow:1:seconds=1e999",
        "create:slow:1:seconds=nan",
        "download:stall:1:seconds=-1",
        "create:redirect:1:status=abc",
        "create:redirect:1:status=200",
    ],
)
def test_a_fault_the_emulator_could_not_carry_out_is_refused_when_added(
    http: httpx.Client, emulator: Emulator, spec: str
) -> None:
    response = http.post("/_emulator/faults", json={"faults": [spec]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_fault"
    assert http.post("/v1/videos/generations", json=OK).status_code == 200  # none was added


@pytest.mark.parametrize("payload", [b"\xff", b"[1]", b'{"faults": "create:500"}', b"[" * 100_000])
def test_the_control_endpoint_answers_400_to_bodies_it_cannot_read(
    http: httpx.Client, payload: bytes
) -> None:
    response = http.post("/_emulator/faults", content=payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_fault"
