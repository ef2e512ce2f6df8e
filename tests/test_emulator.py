"""The emulator's own behaviour: time, credits, result files, the files API, faults and control."""

from __future__ import annotations

import base64
import struct

import httpx
import pytest

from seedance_cli import __version__
from seedance_cli.emulator import Emulator, FakeClock, Fault, FaultSpecError, sample_video
from seedance_cli.emulator.faults import FOREVER
from seedance_cli.emulator.service import email_date

from .images import GIF_1X1, png_bytes

AGENT = {"User-Agent": f"seedance-cli/{__version__}"}
BODY = {"model": "seedance-1.5-pro", "prompt": "A cat playing piano", "duration": 8}


def create(http: httpx.Client, **extra: object) -> dict[str, object]:
    response = http.post("/v1/videos/generations", json={**BODY, **extra})
    assert response.status_code == 200, response.text
    task: dict[str, object] = response.json()
    return task


def completed_url(http: httpx.Client, clock: FakeClock) -> str:
    task_id = create(http)["id"]
    clock.advance(60)
    url: str = http.get(f"/v1/tasks/{task_id}").json()["results"][0]
    return url


# -- the sample video ------------------------------------------------------------------------------


def mp4_boxes(data: bytes) -> dict[bytes, bytes]:
    boxes, offset = {}, 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8, "corrupt box"
        boxes[kind] = data[offset + 8 : offset + size]
        offset += size
    assert offset == len(data)
    return boxes


@pytest.mark.parametrize("seconds", [5, 12])
def test_a_result_video_is_a_real_mp4_of_its_length(seconds: int) -> None:
    data = sample_video(seconds)
    boxes = mp4_boxes(data)
    assert list(boxes)[:1] == [b"ftyp"] and b"moov" in boxes and b"mdat" in boxes
    moov = mp4_boxes(boxes[b"moov"][: struct.unpack(">I", boxes[b"moov"][:4])[0]])
    mvhd = moov[b"mvhd"]
    timescale, duration = struct.unpack(">II", mvhd[12:20])  # version 0 layout
    assert duration / timescale == pytest.approx(seconds, abs=0.1)


# -- task life -------------------------------------------------------------------------------------


def test_task_goes_pending_processing_completed_with_rising_progress(
    http: httpx.Client, clock: FakeClock
) -> None:
    task = create(http)
    assert task["id"] == f"task-unified-{int(clock.time())}-" + str(task["id"])[-8:]
    seen = []
    for _ in range(13):
        current = http.get(f"/v1/tasks/{task['id']}").json()
        seen.append((current["status"], current["progress"]))
        clock.advance(5)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "pending" and statuses[-1] == "completed"
    assert statuses.index("completed") == statuses.count("pending") + statuses.count("processing")
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert len(set(progress)) >= 10


def test_estimate_and_usage_appear_only_while_pending(http: httpx.Client, clock: FakeClock) -> None:
    task = create(http)
    assert task["task_info"] == {"can_cancel": True, "estimated_time": 60, "video_duration": 8}
    clock.advance(30)
    later = http.get(f"/v1/tasks/{task['id']}").json()
    assert later["task_info"] == {"can_cancel": False} and "usage" not in later


def test_time_scale_is_configurable(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, task_seconds=2) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        task = create(http)
        clock.advance(2)
        assert http.get(f"/v1/tasks/{task['id']}").json()["status"] == "completed"


def test_credits_are_reserved_used_and_refunded(
    http: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    create(http)  # 1.5 pro, 8 s at 720p with audio: 8 x 1 x 2 x 1.7784 = 28.4544 credits
    emulator.add_fault("task:fail")
    create(http, quality="1080p", generate_audio=False, duration=10)  # 10 x 2.23 x 1.7784
    token = http.get("/v1/credits").json()["data"]["token"]
    assert token["remaining_credits"] == 100_000 - 28.4544 - 39.6583
    assert token["used_credits"] == 0.0
    clock.advance(60)  # the first completed (charged), the second failed (released)
    token = http.get("/v1/credits").json()["data"]["token"]
    assert token["remaining_credits"] == 100_000 - 28.4544 and token["used_credits"] == 28.4544


def test_required_key_is_enforced(clock: FakeClock) -> None:
    with Emulator(clock=clock, api_key="sk-fixed") as emu:
        assert (
            httpx.get(
                f"{emu.url}/v1/credits", headers={"Authorization": "Bearer sk-other"}
            ).status_code
            == 401
        )
        assert (
            httpx.get(
                f"{emu.url}/v1/credits", headers={"Authorization": "Bearer sk-fixed"}
            ).status_code
            == 200
        )


def test_unknown_route_is_a_json_404(http: httpx.Client) -> None:
    response = http.get("/v2/nothing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "task_not_found"


# -- result files ----------------------------------------------------------------------------------


def test_result_is_served_whole_with_length_type_and_validators(
    http: httpx.Client, clock: FakeClock
) -> None:
    url = completed_url(http, clock)
    response = httpx.get(url, headers=AGENT)
    assert response.status_code == 200
    assert response.content == sample_video(8)
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(sample_video(8))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"] == email_date(clock.time())


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, None),
        ("bytes=-500", -500, None),
        ("bytes=50000-999999", 50000, None),
    ],
)
def test_result_ranges_answer_206(
    http: httpx.Client, clock: FakeClock, spec: str, start: int, end: int | None
) -> None:
    video = sample_video(8)
    expected = video[start : None if end is None else end + 1]
    response = httpx.get(completed_url(http, clock), headers={**AGENT, "Range": spec})
    assert response.status_code == 206
    assert response.content == expected
    first = start if start >= 0 else len(video) + start
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(video)}"
    )


def test_unsatisfiable_range_is_416(http: httpx.Client, clock: FakeClock) -> None:
    size = len(sample_video(8))
    response = httpx.get(completed_url(http, clock), headers={**AGENT, "Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


def test_if_range_with_a_stale_validator_sends_the_whole_file(
    http: httpx.Client, clock: FakeClock
) -> None:
    url = completed_url(http, clock)
    etag = httpx.head(url, headers=AGENT).headers["etag"]
    fresh = httpx.get(url, headers={**AGENT, "Range": "bytes=10-", "If-Range": etag})
    assert fresh.status_code == 206
    stale = httpx.get(url, headers={**AGENT, "Range": "bytes=10-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == sample_video(8)


def test_head_has_headers_and_no_body(http: httpx.Client, clock: FakeClock) -> None:
    response = httpx.head(completed_url(http, clock), headers=AGENT)
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == len(sample_video(8))


@pytest.mark.parametrize("agent", ["python-httpx/0.28.1", "Python-urllib/3.11", "curl/8.0", ""])
def test_result_host_bot_filter_refuses_default_agents(
    http: httpx.Client, clock: FakeClock, agent: str
) -> None:
    response = httpx.get(completed_url(http, clock), headers={"User-Agent": agent})
    assert response.status_code == 403 and response.text == "error code: 1010"


def test_result_urls_expire_after_24_hours(http: httpx.Client, clock: FakeClock) -> None:
    url = completed_url(http, clock)
    clock.advance(24 * 3600 - 1)
    assert httpx.get(url, headers=AGENT).status_code == 200
    clock.advance(1)
    expired = httpx.get(url, headers=AGENT)
    assert expired.status_code == 403 and "expired" in expired.text


def test_tampered_result_url_is_refused(http: httpx.Client, clock: FakeClock) -> None:
    url = completed_url(http, clock)
    assert httpx.get(url[:-4] + "0000", headers=AGENT).status_code == 403


def test_results_can_live_on_a_second_origin(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, second_origin=True) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        url = completed_url(http, clock)
        assert emu.results_url != emu.url and url.startswith(emu.results_url + "/results/")
        response = httpx.get(url, headers=AGENT)  # no key needed, none sent
        assert response.status_code == 200 and response.content == sample_video(8)
        (download,) = emu.requests("download")
        assert not download.has_authorization


# -- files API -------------------------------------------------------------------------------------

PNG = png_bytes(300, 400)


def test_stream_upload_is_served_back_at_its_url(http: httpx.Client, clock: FakeClock) -> None:
    answer = http.post(
        "/api/v1/files/upload/stream",
        files={"file": ("me.png", PNG, "image/png")},
        data={"upload_path": "avatars", "file_name": "me.png"},
    ).json()
    data = answer["data"]
    assert answer["success"] is True and answer["code"] == 200
    assert (data["file_name"], data["upload_path"], data["file_size"]) == (
        "me.png",
        "avatars",
        len(PNG),
    )
    assert data["expires_at"] > data["upload_time"]
    served = httpx.get(data["file_url"])
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert httpx.get(data["download_url"]).content == PNG
    clock.advance(72 * 3600)
    assert httpx.get(data["file_url"]).status_code == 404


def test_base64_upload_accepts_data_urls_and_plain_base64(http: httpx.Client) -> None:
    for value in (
        "data:image/png;base64," + base64.b64encode(PNG).decode(),
        base64.b64encode(PNG).decode(),
    ):
        answer = http.post("/api/v1/files/upload/base64", json={"base64_data": value}).json()
        assert answer["success"] is True and answer["data"]["file_size"] == len(PNG)


def test_files_api_accepts_gif_although_image_urls_do_not(http: httpx.Client) -> None:
    answer = http.post(
        "/api/v1/files/upload/stream", files={"file": ("a.gif", GIF_1X1, "image/gif")}
    ).json()
    assert answer["success"] is True and answer["data"]["mime_type"] == "image/gif"


def test_upload_type_is_judged_by_bytes_not_name(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/files/upload/stream",
        files={"file": ("photo.png", b"%PDF-1.7 not an image", "image/png")},
    )
    assert response.status_code == 400
    assert response.json()["success"] is False and "Unsupported" in response.json()["msg"]


def test_oversize_upload_is_413(http: httpx.Client) -> None:
    big = PNG + b"\0" * (10 * 1024 * 1024)
    response = http.post("/api/v1/files/upload/stream", files={"file": ("big.png", big)})
    assert response.status_code == 413 and response.json()["code"] == 413


def test_upload_quota(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, max_files=1) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        assert http.get("/api/v1/files/quota").json()["data"]["remain_files"] == 1
        assert http.post("/api/v1/files/upload/stream", files={"file": ("a.png", PNG)}).json()[
            "success"
        ]
        quota = http.get("/api/v1/files/quota").json()["data"]
        assert (quota["used_files"], quota["remain_files"]) == (1, 0)
        refused = http.post("/api/v1/files/upload/stream", files={"file": ("b.png", PNG)})
        assert refused.status_code == 403
        assert refused.json()["success"] is False and "quota" in refused.json()["msg"].lower()


def test_files_errors_can_come_with_http_200(clock: FakeClock) -> None:
    with Emulator(clock=clock, files_errors_http_200=True) as emu:
        response = httpx.post(
            f"{emu.url}/api/v1/files/upload/stream",
            files={"file": ("a.txt", b"text")},
            headers={"Authorization": "Bearer k"},
        )
        assert response.status_code == 200
        assert response.json() == {"success": False, "code": 400, "msg": response.json()["msg"]}


def test_files_api_needs_a_key(emulator: Emulator) -> None:
    response = httpx.post(f"{emulator.url}/api/v1/files/upload/stream", files={"file": ("a", PNG)})
    assert response.status_code == 401 and response.json()["success"] is False


# -- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind", "action", "count", "params"),
    [
        ("create:500", "create", "500", 1, {}),
        ("query:429:3:retry-after=2", "query", "429", 3, {"retry-after": "2"}),
        ("QUERY:429:*", "query", "429", FOREVER, {}),
        ("download:slow:2:seconds=1.5", "download", "slow", 2, {"seconds": "1.5"}),
        (
            "task:fail:1:code=content_policy_violation,message=No, thanks",
            "task",
            "fail",
            1,
            {"code": "content_policy_violation", "message": "No, thanks"},
        ),
        ("any:503:forever", "any", "503", FOREVER, {}),
        (
            "credits:429:retry-after=Wed, 21 Oct 2026 07:28:00 GMT",
            "credits",
            "429",
            1,
            {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"},
        ),
    ],
)
def test_fault_specs(spec: str, kind: str, action: str, count: int, params: dict[str, str]) -> None:
    fault = Fault.parse(spec)
    assert (fault.kind, fault.action, fault.count, dict(fault.params)) == (
        kind,
        action,
        count,
        params,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("create", "expected KIND:ACTION"),
        ("nowhere:500", "unknown kind"),
        ("create:explode", "unknown action"),
        ("create:200", "unknown action"),
        ("task:drop", "unknown task action"),
        ("create:500:0", "count"),
        ("create:500:two", "count"),
        ("create:500:1:novalue", "KEY=VALUE"),
        ("query:slow:1:seconds=soon", "seconds"),
    ],
)
def test_bad_fault_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        Fault.parse(spec)


def test_faults_are_used_up_in_order_and_any_matches_every_endpoint(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.add_fault("credits:500:2")
    emulator.add_fault("any:503")
    statuses = [http.get("/v1/credits").status_code for _ in range(4)]
    assert statuses == [500, 500, 503, 200]
    assert [r.fault for r in emulator.requests()] == ["credits:500", "credits:500", "any:503", None]


def test_drop_closes_without_an_answer(http: httpx.Client, emulator: Emulator) -> None:
    emulator.add_fault("credits:drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/v1/credits")
    assert emulator.requests("credits")[0].status is None  # no answer was sent


def test_truncate_cuts_the_body_short(
    http: httpx.Client, clock: FakeClock, emulator: Emulator
) -> None:
    url = completed_url(http, clock)
    emulator.add_fault("download:truncate")
    with httpx.stream("GET", url, headers=AGENT) as response:
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                got += chunk
    assert 0 < len(got) < len(sample_video(8))
    assert sample_video(8).startswith(got)


def test_ignore_range_sends_everything(
    http: httpx.Client, clock: FakeClock, emulator: Emulator
) -> None:
    url = completed_url(http, clock)
    emulator.add_fault("download:ignore-range")
    response = httpx.get(url, headers={**AGENT, "Range": "bytes=100-"})
    assert response.status_code == 200 and response.content == sample_video(8)


def test_html_and_malformed_bodies(http: httpx.Client, emulator: Emulator) -> None:
    emulator.add_fault("credits:html")
    emulator.add_fault("credits:malformed")
    html = http.get("/v1/credits")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    broken = http.get("/v1/credits")
    assert broken.status_code == 200
    with pytest.raises(ValueError, match=r"Unterminated string|Expecting"):
        broken.json()


# -- control endpoints -----------------------------------------------------------------------------


def test_control_endpoints_steer_a_running_emulator(emulator: Emulator) -> None:
    base = f"{emulator.url}/_emulator"
    assert httpx.get(f"{base}/health").json() == {"ok": True}
    added = httpx.post(f"{base}/faults", json={"faults": ["credits:502:2", "task:hang"]})
    assert added.json() == {"ok": True, "added": 2}
    assert (
        httpx.get(f"{emulator.url}/v1/credits", headers={"Authorization": "Bearer k"}).status_code
        == 502
    )
    seen = httpx.get(f"{base}/requests").json()["requests"]
    assert seen == [
        {
            "kind": "credits",
            "method": "GET",
            "path": "/v1/credits",
            "status": 502,
            "fault": "credits:502",
            "idempotency_key": None,
            "authorization": True,
            "user_agent": seen[0]["user_agent"],
            "at": emulator.service.clock(),  # when it arrived, by the emulator's clock
        }
    ]
    bad = httpx.post(f"{base}/faults", json={"faults": ["nope"]})
    assert bad.status_code == 400 and "expected KIND:ACTION" in bad.json()["error"]["message"]
    assert httpx.delete(f"{base}/faults").json() == {"ok": True}
    assert (
        httpx.get(f"{emulator.url}/v1/credits", headers={"Authorization": "Bearer k"}).status_code
        == 200
    )
    httpx.post(f"{base}/reset")
    assert httpx.get(f"{base}/requests").json() == {"requests": []}


def test_emulator_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")
