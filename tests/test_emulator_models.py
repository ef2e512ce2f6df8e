"""The emulator serves the whole Seedance family: answers per model, retired models, ``/v1/models``,
``.mov`` results, automatic durations and credits for every model and quality."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_cli import Client, GenerationRequest, __version__
from seedance_cli.catalogue import catalogue
from seedance_cli.download import download
from seedance_cli.emulator import Emulator, FakeClock, RetirementError, sample_video
from seedance_cli.emulator.rules import REFERENCE_VIDEO_SECONDS, auto_seconds
from seedance_cli.emulator.service import UNPRICED_CREDITS

from .bodies import IDS, minimal
from .clirunner import CliRunner
from .schemas import validate_response

AGENT = {"User-Agent": f"seedance-cli/{__version__}"}
PRO = "seedance-1.5-pro"
T2V_25 = "seedance-2.5-text-to-video"


def create(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post("/v1/videos/generations", json=body)


def created(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = create(http, body)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def completed(http: httpx.Client, clock: FakeClock, body: dict[str, Any]) -> dict[str, Any]:
    task_id = created(http, body)["id"]
    clock.advance(60)
    task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
    assert task["status"] == "completed"
    return task


# -- answers per model -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", IDS)
def test_answers_echo_the_model_and_its_default_duration(
    http: httpx.Client, clock: FakeClock, model: str
) -> None:
    model_spec = catalogue()[model]
    body = minimal(model_spec)
    task = created(http, body)
    assert task["model"] == model
    default = model_spec.duration_default
    if default == -1:  # automatic: the length is known once the video exists
        assert "video_duration" not in task["task_info"]
        default = (  # an edit follows its video, which the emulator takes to be 5 s long
            REFERENCE_VIDEO_SECONDS
            if model_spec.mode == "video-edit"
            else auto_seconds(model_spec, body["prompt"])
        )
    else:
        assert task["task_info"]["video_duration"] == default
    clock.advance(60)
    done = http.get(f"/v1/tasks/{task['id']}").json()
    assert done["model"] == model and done["task_info"]["video_duration"] == default


def test_an_automatic_duration_is_picked_in_the_range_the_same_for_the_same_prompt(
    http: httpx.Client, clock: FakeClock
) -> None:
    model_spec = catalogue()[T2V_25]
    lengths = []
    for prompt in ("A cat", "A dog", "A cat"):
        body = {"model": T2V_25, "prompt": prompt, "duration": -1}
        pending = created(http, body)
        assert "video_duration" not in pending["task_info"]
        clock.advance(60)
        done = http.get(f"/v1/tasks/{pending['id']}").json()
        lengths.append(done["task_info"]["video_duration"])
    assert lengths[0] == lengths[2] == auto_seconds(model_spec, "A cat")
    assert all(4 <= n <= 30 for n in lengths)


def test_the_video_edit_model_takes_only_an_automatic_duration(http: httpx.Client) -> None:
    body = minimal(catalogue()["seedance-2.5-video-edit"])
    assert created(http, {**body, "duration": -1})["model"] == "seedance-2.5-video-edit"
    refused = create(http, {**body, "duration": 5}).json()["error"]
    assert refused["param"] == "duration" and "-1" in refused["message"]


def test_an_unknown_model_is_refused_with_the_nearest_ids(http: httpx.Client) -> None:
    response = create(http, {"model": "seedance-2.0", "prompt": "A cat"})
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == "model"
    assert "Unsupported model: 'seedance-2.0'" in error["message"]
    assert "seedance-2.0-" in error["message"]  # a suggestion


def test_web_search_may_not_go_with_the_content_filter_off(http: httpx.Client) -> None:
    body = {"model": "seedance-2.0-text-to-video", "prompt": "News today"}
    assert created(http, {**body, "content_filter": False, "model_params": {"web_search": False}})
    assert created(http, {**body, "content_filter": True, "model_params": {"web_search": True}})
    refused = create(
        http, {**body, "content_filter": False, "model_params": {"web_search": True}}
    ).json()
    assert refused["error"]["param"] == "content_filter"
    assert "web_search" in refused["error"]["message"]


def test_a_2_x_prompt_has_no_2000_character_limit_but_a_sane_cap(http: httpx.Client) -> None:
    body = {"model": "seedance-2.0-text-to-video"}
    assert created(http, {**body, "prompt": "x" * 50_000})
    error = create(http, {**body, "prompt": "x" * 100_001}).json()["error"]
    assert error["param"] == "prompt" and "100000" in error["message"]


# -- credits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", IDS)
def test_every_model_and_quality_has_a_price(emulator: Emulator, model: str) -> None:
    model_spec = catalogue()[model]
    for quality in (*(model_spec.qualities or ()), "8k", None):
        body = {**minimal(model_spec), "quality": quality}
        price = emulator.service.price(body)
        assert math.isfinite(price) and price > 0, (quality, price)


def test_credits_follow_the_duration_quality_and_audio_of_any_model(
    http: httpx.Client, emulator: Emulator
) -> None:
    body = {"model": "seedance-2.0-text-to-video", "prompt": "A cat", "duration": 10}
    assert created(http, {**body, "quality": "4k"})["usage"]["credits_reserved"] == 688.5
    silent = created(http, {**body, "quality": "480p", "generate_audio": False})
    assert silent["usage"]["credits_reserved"] == 62.775  # 10 x 0.465 x 13.5: audio is free
    fast = minimal(catalogue()["doubao-seedance-1.0-pro-fast"])  # no published price
    assert created(http, fast)["usage"]["credits_reserved"] == UNPRICED_CREDITS
    assert emulator.service.price({"quality": ["odd"], "duration": "x"}) > 0


# -- retired models --------------------------------------------------------------------------------

RETIRED_410 = {
    "error": {
        "code": "model_retired",
        "message": f"The model '{PRO}' has been retired by the upstream provider and is no longer "
        "available",
        "type": "invalid_request_error",
        "param": "model",
    }
}


def test_a_retired_model_answers_410_and_its_tasks_stay_readable(
    http: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    earlier = created(http, {"model": PRO, "prompt": "A cat"})
    emulator.retire(PRO)
    response = create(http, {"model": PRO, "prompt": "A cat", "duration": 99})
    assert response.status_code == 410 and response.json() == RETIRED_410
    validate_response(
        "seedance-1.5-pro-video-generate.json", "/v1/videos/generations", "post", 410, RETIRED_410
    )
    assert len(emulator.service.tasks) == 1
    clock.advance(60)
    assert http.get(f"/v1/tasks/{earlier['id']}").json()["status"] == "completed"
    assert created(http, {"model": T2V_25, "prompt": "A cat"})  # the others are still served
    emulator.restore(PRO)
    assert created(http, {"model": PRO, "prompt": "A cat"})


def test_a_retired_model_can_answer_404_model_not_found(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, retired=[f"{T2V_25}:404", PRO]) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        response = create(http, {"model": T2V_25, "prompt": "A cat"})
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "code": "model_not_found",
                "message": f"The model '{T2V_25}' does not exist or you do not have access to it",
                "type": "invalid_request_error",
                "param": "model",
            }
        }
        assert create(http, {"model": PRO, "prompt": "A cat"}).status_code == 410


def test_legacy_error_codes_apply_to_a_retired_model_too(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, retired=[PRO], legacy_error_codes=True) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        error = create(http, {"model": PRO, "prompt": "A cat"}).json()["error"]
    assert error["code"] == 410 and error["param"] == "model"


@pytest.mark.parametrize(
    ("spec_text", "message"),
    [
        ("seedance-9", "not a model the emulator serves"),
        (f"{PRO}:403", "410 (default) or 404"),
        (f"{PRO}:", "410 (default) or 404"),
    ],
)
def test_bad_retirements_say_what_is_wrong(spec_text: str, message: str) -> None:
    with pytest.raises(RetirementError, match=re.escape(message)):
        Emulator(retired=[spec_text])


def test_the_control_endpoint_retires_restores_and_switches_models(emulator: Emulator) -> None:
    control = f"{emulator.url}/_emulator/models"
    key = {"Authorization": "Bearer k"}
    assert httpx.get(control).json() == {"retired": {}, "models_endpoint": True}
    state = httpx.post(
        control, json={"retire": [PRO, f"{T2V_25}:404"], "models_endpoint": False}
    ).json()
    assert state == {"retired": {PRO: 410, T2V_25: 404}, "models_endpoint": False}
    body = {"model": T2V_25, "prompt": "A cat"}
    refused = httpx.post(f"{emulator.url}/v1/videos/generations", json=body, headers=key)
    assert refused.status_code == 404
    assert httpx.get(f"{emulator.url}/v1/models", headers=key).status_code == 404
    state = httpx.post(control, json={"restore": [T2V_25], "models_endpoint": True}).json()
    assert state == {"retired": {PRO: 410}, "models_endpoint": True}
    assert httpx.post(control, json={"restore": "*"}).json()["retired"] == {}
    bad_bodies: list[object] = [
        {"retire": "x"},
        {"retire": ["nope"]},
        {"restore": 3},
        {"models_endpoint": 1},
        [],
    ]
    for bad in bad_bodies:
        answer = httpx.post(control, json=bad)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_models"
    assert emulator.service.retired == {}  # a refused change changes nothing


def test_a_refused_control_change_makes_none_of_its_changes(emulator: Emulator) -> None:
    answer = httpx.post(
        f"{emulator.url}/_emulator/models", json={"retire": [PRO, "nope"], "models_endpoint": False}
    )
    assert answer.status_code == 400
    assert emulator.service.retired == {} and emulator.models_endpoint is True


# -- GET /v1/models --------------------------------------------------------------------------------


def test_models_lists_every_model_not_retired_openai_style(
    http: httpx.Client, emulator: Emulator
) -> None:
    listing = http.get("/v1/models").json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == IDS
    for entry in listing["data"]:
        assert set(entry) == {"id", "object", "created", "owned_by"}
        assert entry["object"] == "model" and entry["owned_by"] == "evolink"
        assert isinstance(entry["created"], int)
    emulator.retire(PRO, 404)
    assert PRO not in [m["id"] for m in http.get("/v1/models").json()["data"]]


def test_models_needs_a_key(emulator: Emulator) -> None:
    response = httpx.get(f"{emulator.url}/v1/models")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_models_can_be_absent_like_any_unknown_path(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, models_endpoint=False) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        gone, unknown = http.get("/v1/models"), http.get("/v1/nothing")
        assert gone.status_code == unknown.status_code == 404
        assert gone.json()["error"]["code"] == unknown.json()["error"]["code"]
        assert [r.kind for r in emu.requests()] == ["unknown", "unknown"]
        emu.models_endpoint = True
        assert http.get("/v1/models").status_code == 200


def test_models_takes_faults(http: httpx.Client, emulator: Emulator) -> None:
    emulator.add_fault("models:503:1:retry-after=2")
    first = http.get("/v1/models")
    assert first.status_code == 503 and first.headers["retry-after"] == "2"
    assert http.get("/v1/models").status_code == 200


# -- mov results -----------------------------------------------------------------------------------


def test_a_mov_result_is_a_quicktime_file_served_as_such(
    http: httpx.Client, clock: FakeClock, emulator: Emulator
) -> None:
    task = completed(http, clock, {"model": T2V_25, "prompt": "A cat", "output_format": "mov"})
    url = task["results"][0]
    assert httpx.URL(url).path.endswith(f"/{task['id']}.mov")
    response = httpx.get(url, headers=AGENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/quicktime"
    data = response.content
    assert data[4:12] == b"ftypqt  " and len(data) == len(sample_video())
    assert data[12:] == sample_video()[12:]  # the same boxes: a real, playable file
    part = httpx.get(url, headers={**AGENT, "Range": "bytes=0-11"})
    assert part.status_code == 206 and part.content == data[:12]
    mp4_etag = httpx.head(completed(http, clock, {"model": PRO, "prompt": "x"})["results"][0])
    assert response.headers["etag"] != mp4_etag.headers.get("etag")
    wrong = url.replace(".mov?", ".mp4?")
    assert httpx.get(wrong, headers=AGENT).status_code == 404


def test_an_mp4_result_stays_the_sample_video(http: httpx.Client, clock: FakeClock) -> None:
    for body in (
        {"model": T2V_25, "prompt": "x", "output_format": "mp4"},
        {"model": PRO, "prompt": "x"},
    ):
        url = completed(http, clock, body)["results"][0]
        assert httpx.URL(url).path.endswith(".mp4")
        response = httpx.get(url, headers=AGENT)
        assert response.headers["content-type"] == "video/mp4"
        assert response.content == sample_video()


def test_the_client_downloads_a_mov_result(
    client: Client, clock: FakeClock, tmp_path: Path
) -> None:
    task = client.create_generation(GenerationRequest("A cat", model=T2V_25, output_format="mov"))
    clock.advance(60)
    url = client.get_task(task.id).video_url
    assert url is not None
    target = tmp_path / "cat.mov"
    download(client.open_result, url, target, retry=client.retry, sleep=lambda s: None)
    assert target.read_bytes()[4:12] == b"ftypqt  "


# -- the command line ------------------------------------------------------------------------------


def test_a_bad_retire_option_is_a_usage_error_before_listening(cli: CliRunner) -> None:
    result = cli("emulator", "--retire", "seedance-9")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: --retire 'seedance-9': not a model the emulator serves")


def test_retire_and_no_models_endpoint_reach_the_running_emulator() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seedance_cli",
            "emulator",
            "--port",
            "0",
            "--quiet",
            "--retire",
            f"{PRO}:404",
            "--no-models-endpoint",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().split("=", 1)[1]
        key = {"Authorization": "Bearer k"}
        body = {"model": PRO, "prompt": "A cat"}
        answer = httpx.post(f"{url}/v1/videos/generations", json=body, headers=key)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "model_not_found"
        assert httpx.get(f"{url}/v1/models", headers=key).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0
