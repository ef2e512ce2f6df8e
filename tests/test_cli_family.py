"""``generate`` and ``batch`` across the Seedance family: each model's own flags and rules, the
profile's model and defaults, models the catalogue does not know.

Requests are checked through ``--dry-run`` (the body that would be sent), through refusals (which
must send nothing) and end to end against the emulator, which serves every model by its own rules.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.cli import COMPLETION_VALUES
from seedance_cli.emulator import Emulator
from seedance_cli.errors import ValidationError
from seedance_cli.models import GenerationRequest
from seedance_cli.session import request_differs

from .clirunner import CliRunner, Result
from .images import png_bytes

PROMPT = "A cat playing piano"
IMG = "https://example.com/frame.png"
VID1 = "https://example.com/a.mp4"
VID2 = "https://example.com/b.mov"
AUD = "https://example.com/voice.mp3"
T2V_20 = "seedance-2.0-text-to-video"
I2V_20 = "seedance-2.0-image-to-video"
REF_20 = "seedance-2.0-reference-to-video"
T2V_25 = "seedance-2.5-text-to-video"
I2V_25 = "seedance-2.5-image-to-video"
EDIT_25 = "seedance-2.5-video-edit"
FAST_10 = "doubao-seedance-1.0-pro-fast"


def dry_body(cli: CliRunner, *args: str) -> tuple[dict[str, Any], Result]:
    """The body ``generate --dry-run --json`` would send, and the run."""
    result = cli("--json", "generate", PROMPT, "--dry-run", *args)
    assert result.code == 0, result.err
    (shown,) = result.json
    body: dict[str, Any] = shown["body"]
    return body, result


def sent_body(api: Emulator) -> dict[str, Any]:
    (record,) = api.requests("create")
    body: dict[str, Any] = record.json()
    return body


# -- every new flag reaches the body ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fields"),
    [
        (["--model", REF_20, "--video", VID1], {"video_urls": [VID1]}),
        (["--model", REF_20, "--video", VID1, "--video", VID2], {"video_urls": [VID1, VID2]}),
        (
            ["--model", REF_20, "-i", IMG, "--audio-url", AUD],
            {"image_urls": [IMG], "audio_urls": [AUD]},
        ),
        (["--model", T2V_20, "--content-filter"], {"content_filter": True}),
        (["--model", T2V_20, "--no-content-filter"], {"content_filter": False}),
        (["--model", T2V_25, "--web-search"], {"model_params": {"web_search": True}}),
        (["--model", T2V_25, "--output-format", "mov"], {"output_format": "mov"}),
        (["--model", T2V_25, "--duration", "auto"], {"duration": -1}),
        (["--model", T2V_25, "-d", "AUTO"], {"duration": -1}),
        (["--model", T2V_25, "-d", "30"], {"duration": 30}),
        (
            ["--model", EDIT_25, "--video", VID1, "-d", "auto"],
            {"video_urls": [VID1], "duration": -1},
        ),
        (["--model", T2V_20, "--quality", "4k", "-d", "15"], {"quality": "4k", "duration": 15}),
        (
            ["--model", FAST_10, "-d", "2", "-i", IMG, "-a", "keep_ratio"],
            {
                "duration": 2,
                "image_urls": [IMG],
                "aspect_ratio": "keep_ratio",
            },
        ),
        (
            ["--model", I2V_25, "-i", IMG, "-a", "adaptive"],
            {
                "image_urls": [IMG],
                "aspect_ratio": "adaptive",
            },
        ),
    ],
)
def test_each_flag_reaches_the_body(
    cli: CliRunner, api: Emulator, flags: list[str], fields: dict[str, Any]
) -> None:
    model = flags[flags.index("--model") + 1]
    body, result = dry_body(cli, *flags)
    assert body == {"model": model, "prompt": PROMPT, **fields}
    assert "warning" not in result.err
    assert api.requests() == []


def test_dry_run_prints_the_whole_body_with_the_new_fields(cli: CliRunner) -> None:
    result = cli(
        "generate",
        PROMPT,
        "--dry-run",
        "--model",
        "seedance-2.5-reference-to-video",
        "-i",
        IMG,
        "--video",
        VID1,
        "--audio-url",
        AUD,
        "-d",
        "auto",
        "--no-content-filter",
        "--output-format",
        "mov",
        "--no-audio",
    )
    assert result.code == 0, result.err
    assert result.lines[0] == "POST https://api.evolink.ai/v1/videos/generations"
    assert json.loads("\n".join(result.lines[1:])) == {
        "model": "seedance-2.5-reference-to-video",
        "prompt": PROMPT,
        "image_urls": [IMG],
        "video_urls": [VID1],
        "audio_urls": [AUD],
        "duration": -1,
        "generate_audio": False,
        "content_filter": False,
        "output_format": "mov",
    }
    web = cli("generate", PROMPT, "--dry-run", "--model", T2V_20, "--web-search")
    assert '"model_params": {\n    "web_search": true\n  }' in web.out


def test_the_1_5_fields_still_reach_a_real_create(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", PROMPT, "--model", "seedance-1.5-pro", "-d", "12", "-i", IMG)
    assert result.code == 0, result.err
    assert sent_body(api) == {
        "model": "seedance-1.5-pro",
        "prompt": PROMPT,
        "image_urls": [IMG],
        "duration": 12,
    }


# -- each model's refusals: exit 2, the flag and the model named, nothing sent --------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--video", VID1], "--video: seedance-1.5-pro does not take reference videos"),
        (["--audio-url", AUD], "--audio-url: seedance-1.5-pro does not take reference audio"),
        (["--content-filter"], "--content-filter: seedance-1.5-pro does not take content_filter"),
        (["--web-search"], "--web-search: seedance-1.5-pro does not take web search"),
        (["--output-format", "mp4"], "--output-format: seedance-1.5-pro does not take"),
        (["-d", "15"], "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 15"),
        (["-d", "auto"], "--duration: seedance-1.5-pro does not pick the length itself (auto)"),
        (["--quality", "4k"], "--quality: seedance-1.5-pro takes 480p, 720p, 1080p, got '4k'"),
        (["--model", T2V_25, "-d", "31"], f"--duration: {T2V_25} takes 4 to 30 seconds or auto"),
        (
            ["--model", T2V_25, "--output-format", "avi"],
            f"--output-format: {T2V_25} takes mp4, mov",
        ),
        (["--model", T2V_25, "--quality", "4k"], f"--quality: {T2V_25} takes 480p, 720p, 1080p"),
        (["--model", T2V_20, "-i", IMG], f"--image: {T2V_20} does not take images"),
        (["--model", T2V_20, "--output-format", "mov"], f"--output-format: {T2V_20} does not take"),
        (["--model", I2V_20, "--web-search", "-i", IMG], f"--web-search: {I2V_20} does not take"),
        (["--model", I2V_20], f"--image: {I2V_20} needs at least 1 image"),
        (["--model", I2V_25, "-i", IMG, "-a", "16:9"], f"--aspect-ratio: {I2V_25} takes adaptive"),
        (["--model", EDIT_25], f"--video: {EDIT_25} needs at least 1 video"),
        (
            ["--model", EDIT_25, "--video", VID1, "-d", "5"],
            f"--duration: {EDIT_25} takes only auto",
        ),
        (
            ["--model", REF_20, "--audio-url", AUD],
            f"--audio-url: {REF_20} does not take audio alone",
        ),
        (
            ["--model", REF_20, *["--video", VID1] * 4],
            f"--video: 4 given; {REF_20} takes at most 3",
        ),
        (
            ["--model", REF_20, *["-i", IMG] * 10],
            f"--image: 10 images given; {REF_20} takes at most 9",
        ),
        (["--model", FAST_10, "-i", IMG, "-i", IMG], f"--image: 2 images given; {FAST_10} takes"),
        (["--model", FAST_10, "--audio"], f"--audio: {FAST_10} does not take generate_audio"),
        (["--model", FAST_10, "-a", "adaptive"], "(that one only with an image)"),
        (
            ["--model", T2V_25, "--web-search", "--no-content-filter"],
            "--content-filter: cannot be off together with web search",
        ),
        (["--model", T2V_25, "-d", "soon"], "Invalid value for '--duration' / '-d': must be a"),
    ],
)
def test_each_refusal_names_the_flag_and_the_model_and_sends_nothing(
    cli: CliRunner, api: Emulator, args: list[str], message: str
) -> None:
    for dry in ([], ["--dry-run"]):
        result = cli("generate", PROMPT, *args, *dry)
        assert result.code == 2, result.err
        assert result.out == ""
        first = result.err.splitlines()[0]
        assert first.startswith("error: ") and message in first, first
        assert len(result.err.splitlines()) <= 2
    assert api.requests() == []


@pytest.mark.parametrize("flag", ["--video", "--audio-url"])
@pytest.mark.parametrize("path", ["clip.mp4", "./voice.wav", "/data/ref.mov"])
def test_a_local_video_or_audio_path_is_refused(
    cli: CliRunner, api: Emulator, flag: str, path: str
) -> None:
    result = cli("generate", PROMPT, "--model", "seedance-2.5-reference-to-video", flag, path)
    assert result.code == 2 and result.out == ""
    what = "videos" if flag == "--video" else "audio clips"
    assert result.err.splitlines()[0] == (
        f"error: {flag}: {path!r} is a local file; the files API takes images only, so {what} "
        "must be given as http(s) URLs"
    )
    assert result.err.splitlines()[1].startswith("hint: ")
    assert api.requests() == []


def test_duration_auto_goes_to_2_5_and_is_refused_on_1_5(cli: CliRunner, api: Emulator) -> None:
    body, _ = dry_body(cli, "--model", T2V_25, "-d", "auto")
    assert body["duration"] == -1
    refused = cli("generate", PROMPT, "-d", "auto")
    assert refused.code == 2
    assert refused.err.splitlines()[0] == (
        "error: --duration: seedance-1.5-pro does not pick the length itself (auto); "
        "give 4 to 12 seconds"
    )
    assert "seedance-2.5-text-to-video" in refused.err.splitlines()[1]  # the hint names them
    assert api.requests() == []


# -- local images, with the model's own limits -----------------------------------------------------


def test_local_image_count_follows_the_model(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    image = tmp_path / "ref.png"
    image.write_bytes(png_bytes(640, 480))
    three = ["-i", str(image)] * 3
    result = cli("--json", "generate", PROMPT, "--dry-run", "--model", REF_20, *three)
    assert result.code == 0, result.err
    (shown,) = result.json
    assert len(shown["uploads"]) == 3 and len(shown["body"]["image_urls"]) == 3
    refused = cli("generate", PROMPT, *three)
    assert refused.code == 2
    assert "--image: 3 images given; seedance-1.5-pro takes at most 2" in refused.err
    ten = cli("generate", PROMPT, "--model", REF_20, *(["-i", str(image)] * 10))
    assert ten.code == 2 and f"--image: 10 images given; {REF_20} takes at most 9" in ten.err
    assert api.requests() == []


def test_local_image_size_follows_the_model(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    head = png_bytes(400, 400)
    image = tmp_path / "big.png"  # 12 MB: over 1.x's 10 MB, under 2.x's 30 MB
    image.write_bytes(head + b"\0" * (12_000_000 - len(head)))
    refused = cli("generate", PROMPT, "-i", str(image))
    assert refused.code == 2
    assert refused.err.startswith(
        f"error: --image: {image} is 12.0 MB; seedance-1.5-pro takes at most 10 MB"
    )
    fast = cli("generate", PROMPT, "--model", FAST_10, "-i", str(image))
    assert fast.code == 2 and f"{FAST_10} takes at most 10 MB" in fast.err
    assert api.requests() == []
    body, _ = dry_body(cli, "--model", I2V_20, "-i", str(image))
    assert body["image_urls"] == [f"<file_url of the upload of {image}>"]


# -- models the catalogue does not know ------------------------------------------------------------


def test_an_unknown_model_warns_once_and_is_sent_with_the_generic_checks(cli: CliRunner) -> None:
    body, result = dry_body(cli, "--model", "seedance-2.5-text-to-vide", "-d", "45", "--web-search")
    assert body == {
        "model": "seedance-2.5-text-to-vide",
        "prompt": PROMPT,
        "duration": 45,
        "model_params": {"web_search": True},
    }
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: unknown model 'seedance-2.5-text-to-vide'; known models close to it: "
        "seedance-2.5-text-to-video, seedance-2.0-text-to-video, seedance-2.0-mini-text-to-video"
    ]
    far, result = dry_body(cli, "--model", "kling-3")
    assert far["model"] == "kling-3"
    assert "warning: unknown model 'kling-3'; 'seedance models' lists the models" in result.err
    generic = cli("generate", PROMPT, "--dry-run", "--model", "kling-3", "-d", "0")
    assert generic.code == 2 and "--duration: must be 1 to 600 seconds or auto, got 0" in (
        generic.err
    )


# -- the profile's model and defaults --------------------------------------------------------------


def test_the_profile_model_is_used_unless_the_flag_says_otherwise(
    cli: CliRunner, api: Emulator
) -> None:
    assert cli("config", "set", "model", T2V_25).code == 0
    body, _ = dry_body(cli, "-d", "auto")
    assert body == {"model": T2V_25, "prompt": PROMPT, "duration": -1}
    flagged = cli("generate", PROMPT, "--model", "seedance-1.5-pro", "-d", "8")
    assert flagged.code == 0, flagged.err
    assert sent_body(api)["model"] == "seedance-1.5-pro"
    refused = cli("generate", PROMPT, "-d", "31")  # the profile's model judges the flags
    assert refused.code == 2 and f"--duration: {T2V_25} takes 4 to 30 seconds" in refused.err


def test_a_profile_model_unknown_to_this_version_warns_and_is_used(cli: CliRunner) -> None:
    cli("config", "set", "model", "seedance-3.0-text-to-video")
    body, result = dry_body(cli)
    assert body["model"] == "seedance-3.0-text-to-video"
    assert result.err.count("warning: unknown model 'seedance-3.0-text-to-video'") == 1


def test_a_default_for_a_field_the_model_does_not_take_is_left_out_silently(
    cli: CliRunner,
) -> None:
    cli("config", "set", "audio", "false")
    body, result = dry_body(cli, "--model", FAST_10)
    assert body == {"model": FAST_10, "prompt": PROMPT}
    assert "warning" not in result.err
    assert dry_body(cli)[0]["generate_audio"] is False  # 1.5 takes it


def test_a_default_value_the_model_does_not_take_is_left_out_with_a_warning(
    cli: CliRunner, api: Emulator
) -> None:
    cli("config", "set", "aspect-ratio", "16:9")
    cli("config", "set", "quality", "1080p")
    body, result = dry_body(cli, "--model", I2V_25, "-i", IMG)
    assert body == {"model": I2V_25, "prompt": PROMPT, "image_urls": [IMG], "quality": "1080p"}
    assert [line for line in result.err.splitlines() if line.startswith("warning")] == [
        f"warning: profile 'default' aspect-ratio = 16:9 left out: {I2V_25} takes adaptive, "
        "got '16:9'"
    ]
    # a flag out of the model's range is never left out: exit 2
    flagged = cli("generate", PROMPT, "--model", I2V_25, "-i", IMG, "-a", "16:9")
    assert flagged.code == 2 and "--aspect-ratio" in flagged.err
    assert api.requests() == []


def test_defaults_out_of_range_are_dropped_and_the_real_create_goes(
    cli: CliRunner, api: Emulator
) -> None:
    for key, value in (("duration", "15"), ("quality", "4k"), ("audio", "false")):
        assert cli("config", "set", key, value).code == 0
    result = cli("generate", PROMPT)
    assert result.code == 0, result.err
    assert sent_body(api) == {
        "model": "seedance-1.5-pro",
        "prompt": PROMPT,
        "generate_audio": False,
    }
    warnings = [line for line in result.err.splitlines() if line.startswith("warning")]
    assert warnings == [
        "warning: profile 'default' duration = 15 left out: seedance-1.5-pro takes 4 to 12 "
        "seconds, got 15",
        "warning: profile 'default' quality = 4k left out: seedance-1.5-pro takes 480p, 720p, "
        "1080p, got '4k'",
    ]
    api.reset()
    cli("config", "set", "duration", "auto")
    again = cli("generate", PROMPT, "--quality", "720p")
    assert again.code == 0, again.err
    assert sent_body(api)["quality"] == "720p" and "duration" not in sent_body(api)
    assert "profile 'default' duration = auto left out: seedance-1.5-pro does not pick" in (
        again.err
    )
    assert dry_body(cli, "--model", T2V_25)[0]["duration"] == -1  # 2.5 takes auto


# -- the history compares the new fields too -------------------------------------------------------


def history_update(sql: str, *args: Any) -> None:
    db = sqlite3.connect(Path(os.environ["SEEDANCE_DATA_DIR"]) / "history.sqlite3")
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def test_a_reused_key_compares_nested_model_params(cli: CliRunner, api: Emulator) -> None:
    task_id = cli("generate", PROMPT, "--idempotency-key", "k-web").out.strip()
    # as if that task had been made by 2.5 with web search (the emulator serves 1.5 only yet)
    made = GenerationRequest(prompt=PROMPT, model=T2V_25, web_search=True, output_format="mov")
    history_update("UPDATE tasks SET params = ?", json.dumps(made.to_body()))
    same = cli(
        "generate",
        PROMPT,
        "--model",
        T2V_25,
        "--web-search",
        "--output-format",
        "mov",
        "--idempotency-key",
        "k-web",
    )
    assert same.code == 0 and same.out == f"{task_id}\n"
    assert "already made task" in same.err and "warning" not in same.err
    other = cli("generate", PROMPT, "--model", T2V_25, "--idempotency-key", "k-web")
    assert other.code == 0 and other.out == f"{task_id}\n"
    assert "(differs in: model_params, output_format)" in other.err
    assert len(api.requests("create")) == 1


def test_request_differs_reads_nested_fields_back_from_json() -> None:
    request = GenerationRequest(prompt=PROMPT, model=T2V_25, web_search=True, duration=-1)
    stored = json.loads(json.dumps(request.to_body()))
    assert request_differs(request, stored, has_local_images=False) == ()
    stored["model_params"] = {"web_search": False}
    assert request_differs(request, stored, has_local_images=False) == ("model_params",)


# -- shell completion ------------------------------------------------------------------------------


def test_completion_values_come_from_the_catalogue() -> None:
    assert COMPLETION_VALUES["--model"][0] == "seedance-1.5-pro"
    assert {T2V_25, EDIT_25, FAST_10} <= set(COMPLETION_VALUES["--model"])
    assert COMPLETION_VALUES["--duration"] == (*(str(n) for n in range(2, 31)), "auto")
    assert COMPLETION_VALUES["--quality"] == ("480p", "720p", "1080p", "4k")
    assert {"adaptive", "keep_ratio", "21:9"} <= set(COMPLETION_VALUES["--aspect-ratio"])
    assert COMPLETION_VALUES["--output-format"] == ("mp4", "mov")


# -- batch manifests -------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def jsonl(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def planned(cli: CliRunner, manifest: str, *args: str) -> tuple[list[dict[str, Any]], Result]:
    result = cli("batch", "-", "--dry-run", "--json", *args, input=manifest)
    assert result.code == 0, result.err
    return [line["body"] for line in result.json if "line" in line], result  # not the total


def test_jsonl_lines_take_every_field_of_their_model(cli: CliRunner, api: Emulator) -> None:
    bodies, result = planned(
        cli,
        jsonl(
            {
                "prompt": "refs",
                "model": REF_20,
                "image_urls": [IMG],
                "video_urls": [VID1, VID2],
                "audio_urls": [AUD],
                "content_filter": False,
            },
            {
                "prompt": "searched",
                "model": T2V_25,
                "duration": "auto",
                "output_format": "mov",
                "model_params": {"web_search": True},
            },
            {"prompt": "edited", "model": EDIT_25, "video_urls": [VID1], "duration": -1},
            {"prompt": "plain"},
        ),
    )
    assert bodies == [
        {
            "model": REF_20,
            "prompt": "refs",
            "image_urls": [IMG],
            "video_urls": [VID1, VID2],
            "audio_urls": [AUD],
            "content_filter": False,
        },
        {
            "model": T2V_25,
            "prompt": "searched",
            "duration": -1,
            "output_format": "mov",
            "model_params": {"web_search": True},
        },
        {"model": EDIT_25, "prompt": "edited", "video_urls": [VID1], "duration": -1},
        {"model": "seedance-1.5-pro", "prompt": "plain"},
    ]
    assert "warning" not in result.err
    assert api.requests() == []


def test_csv_columns_take_the_same_with_web_search_for_model_params(
    cli: CliRunner, api: Emulator
) -> None:
    manifest = (
        "prompt,model,video_urls,audio_urls,content_filter,web_search,output_format,duration\n"
        f"refs,{REF_20},{VID1}|{VID2},{AUD},no,,,\n"
        f"searched,{T2V_25},,,yes,true,mov,auto\n"
        f"quiet,{T2V_20},,,,false,,15\n"
    )
    bodies, _ = planned(cli, manifest)
    assert bodies == [
        {
            "model": REF_20,
            "prompt": "refs",
            "video_urls": [VID1, VID2],
            "audio_urls": [AUD],
            "content_filter": False,
        },
        {
            "model": T2V_25,
            "prompt": "searched",
            "duration": -1,
            "content_filter": True,
            "output_format": "mov",
            "model_params": {"web_search": True},
        },
        {
            "model": T2V_20,
            "prompt": "quiet",
            "duration": 15,
            "model_params": {"web_search": False},
        },
    ]
    plain = cli("batch", "-", "--dry-run", input=manifest)  # piped: line, name, body, estimate
    assert [line.split("\t") for line in plain.lines][2] == [
        "4",
        "",
        '{"model":"seedance-2.0-text-to-video","prompt":"quiet","duration":15,'
        '"model_params":{"web_search":false}}',
        "202.50 credits ($2.98)",
    ]
    assert api.requests() == []


def test_the_profile_model_is_each_lines_default(cli: CliRunner, api: Emulator) -> None:
    cli("config", "set", "model", T2V_25)
    bodies, _ = planned(
        cli,
        jsonl({"prompt": "a", "duration": "auto"}, {"prompt": "b", "model": "seedance-1.5-pro"}),
    )
    assert [(b["model"], b.get("duration")) for b in bodies] == [
        (T2V_25, -1),
        ("seedance-1.5-pro", None),
    ]


def test_bad_lines_of_the_new_fields_refuse_the_batch_each_named(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    manifest = jsonl(
        {"prompt": "ok", "model": T2V_25},
        {"prompt": "local", "model": REF_20, "video_urls": ["clips/a.mp4"]},
        {"prompt": "1.5", "video_urls": [VID1]},
        {"prompt": "params", "model": T2V_25, "model_params": {"seed": 4}},
        {"prompt": "params", "model": T2V_25, "model_params": True},
        {"prompt": "flat", "model": T2V_25, "web_search": True},
        {"prompt": "many", "model": REF_20, "image_urls": [IMG] * 10},
        {"prompt": "long", "model": T2V_25, "duration": 31},
        {"prompt": "auto", "duration": "auto"},
        {"prompt": "audio", "model": "seedance-1.5-pro", "audio_urls": "voice.wav"},
    )
    result = cli("batch", "-", input=manifest)
    assert result.code == 2 and result.out == ""
    errors = [line for line in result.err.splitlines() if line.startswith("error: line")]
    assert errors == [
        "error: line 2: video_urls: 'clips/a.mp4' is a local file; the files API takes images "
        "only, so videos must be given as http(s) URLs",
        "error: line 3: video_urls: seedance-1.5-pro does not take reference videos",
        "error: line 4: model_params: unknown key 'seed'; it may hold web_search",
        'error: line 5: model_params: must be an object such as {"web_search": true}',
        'error: line 6: web_search: goes in model_params in JSONL: "model_params": '
        '{"web_search": true}',
        f"error: line 7: image_urls: 10 images given; {REF_20} takes at most 9",
        f"error: line 8: duration: {T2V_25} takes 4 to 30 seconds or auto, got 31",
        "error: line 9: duration: seedance-1.5-pro does not pick the length itself (auto); "
        "give 4 to 12 seconds",
        "error: line 10: audio_urls: 'voice.wav' is a local file; the files API takes images "
        "only, so audio clips must be given as http(s) URLs",
    ]
    assert "error: 9 invalid lines in the manifest; nothing was sent" in result.err
    csv = f"prompt,model,web_search,model_params\nx,{T2V_25},maybe,\n"
    refused = cli("batch", "-", input=csv)
    assert refused.code == 2 and "unknown column(s) model_params" in refused.err
    bad_cell = cli("batch", "-", input=f"prompt,model,web_search\nx,{T2V_25},maybe\n")
    assert "error: line 2: model_params.web_search: must be true or false" in bad_cell.err
    assert api.requests() == []


def test_local_images_in_a_manifest_follow_each_lines_model(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    head = png_bytes(400, 400)
    (work / "big.png").write_bytes(head + b"\0" * (12_000_000 - len(head)))
    manifest = jsonl(
        {"prompt": "2.0", "model": I2V_20, "image_urls": ["big.png"]},
        {"prompt": "1.5", "image_urls": ["big.png"]},
    )
    (work / "m.jsonl").write_text(manifest)
    refused = cli("batch", "m.jsonl", "--dry-run")
    assert refused.code == 2
    assert f"error: line 2: image_urls: {work / 'big.png'} is 12.0 MB; seedance-1.5-pro takes" in (
        refused.err
    )
    assert "line 1" not in refused.err
    (work / "m.jsonl").write_text(manifest.splitlines()[0] + "\n")
    assert cli("batch", "m.jsonl", "--dry-run").code == 0
    assert api.requests() == []


def test_batch_warns_once_per_unknown_model_and_per_dropped_default(
    cli: CliRunner, api: Emulator
) -> None:
    cli("config", "set", "aspect-ratio", "16:9")
    cli("config", "set", "audio", "true")
    bodies, result = planned(
        cli,
        jsonl(
            {"prompt": "a", "model": "seedance-3-pro"},
            {"prompt": "b", "model": I2V_25, "image_urls": [IMG]},
            {"prompt": "c", "model": "seedance-3-pro"},
            {"prompt": "d", "model": I2V_25, "image_urls": [IMG]},
            {"prompt": "e", "model": FAST_10},
        ),
    )
    assert bodies[0] == {
        "model": "seedance-3-pro",
        "prompt": "a",
        "aspect_ratio": "16:9",
        "generate_audio": True,
    }
    assert bodies[1] == {
        "model": I2V_25,
        "prompt": "b",
        "image_urls": [IMG],
        "generate_audio": True,
    }
    assert bodies[4] == {"model": FAST_10, "prompt": "e", "aspect_ratio": "16:9"}
    warnings = [line for line in result.err.splitlines() if line.startswith("warning")]
    assert len(warnings) == 2
    assert warnings[0].startswith("warning: unknown model 'seedance-3-pro'; known models close")
    assert warnings[0].endswith("(lines 1, 3)")
    assert warnings[1] == (
        f"warning: profile 'default' aspect-ratio = 16:9 left out on lines 2, 4: {I2V_25} "
        "takes adaptive, got '16:9'"
    )


def test_a_rerun_finds_its_tasks_and_says_when_a_default_changed_their_request(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    (work / "m.jsonl").write_text(jsonl({"prompt": "a"}, {"prompt": "b", "duration": 6}))
    assert cli("batch", "m.jsonl").code == 0
    again = cli("batch", "m.jsonl")
    assert again.code == 0, again.err
    assert len(api.requests("create")) == 2 and "different request" not in again.err
    cli("config", "set", "quality", "480p")
    changed = cli("batch", "m.jsonl")
    assert changed.code == 0, changed.err
    assert len(api.requests("create")) == 2  # the manifest is the batch: nothing made again
    assert "was made from a different request (differs in: quality)" in changed.err
    assert changed.err.count("different request") == 2


# -- end to end against the emulator, every kind of video ------------------------------------------


@pytest.mark.parametrize(
    ("model", "flags"),
    [
        (I2V_20, ["-i", IMG, "-d", "10", "--quality", "4k"]),
        (REF_20, ["-i", IMG, "--video", VID1, "--audio-url", AUD, "--no-content-filter"]),
        (T2V_25, ["-d", "auto", "--web-search"]),
        (EDIT_25, ["--video", VID1, "--video", VID2, "--duration", "auto"]),
        (FAST_10, ["-i", IMG, "-a", "keep_ratio", "-d", "2"]),
    ],
)
def test_each_kind_of_video_is_made_and_saved_end_to_end(
    cli: CliRunner, api: Emulator, here: Path, model: str, flags: list[str]
) -> None:
    result = cli("--json", "generate", PROMPT, "--model", model, *flags, "-o", "out/")
    assert result.code == 0, result.err
    (task,) = result.json
    assert task["model"] == model and task["status"] == "completed"
    (path,) = task["files"]
    assert path == f"out/{task['id']}.mp4" and (here / path).stat().st_size > 0
    body = sent_body(api)
    assert body["model"] == model
    assert GenerationRequest(**_fields(body)).to_body() == body  # what was sent is what we check


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in body.items() if k != "model_params"}
    if "model_params" in body:
        fields["web_search"] = body["model_params"]["web_search"]
    return fields


def test_a_mov_result_is_saved_as_a_mov_file(cli: CliRunner, api: Emulator, here: Path) -> None:
    """output_format mov: the emulator serves QuickTime; the file is named .mov, by generate -o
    DIR, by download, and by batch; a name the user gave is kept as given."""
    result = cli(
        "generate",
        PROMPT,
        "--model",
        EDIT_25,
        "--video",
        VID1,
        "--output-format",
        "mov",
        "-o",
        "out/",
    )
    assert result.code == 0, result.err
    saved = here / result.out.strip()
    assert saved.suffix == ".mov" and saved.read_bytes()[4:12] == b"ftypqt  "
    task_id = saved.stem
    again = cli("download", task_id, "-o", "again/")
    assert again.code == 0, again.err
    assert (here / "again" / f"{task_id}.mov").exists()
    named = cli("download", task_id, "-o", "mine.mp4")
    assert named.code == 0 and (here / "mine.mp4").exists()
    manifest = here / "m.jsonl"
    line = {"name": "edit", "model": EDIT_25, "prompt": PROMPT, "video_urls": [VID1]}
    manifest.write_text(
        json.dumps({**line, "output_format": "mov"})
        + "\n"
        + json.dumps({**line, "name": "plain"})
        + "\n"
    )
    batch = cli("batch", "m.jsonl", "--output-dir", "b")
    assert batch.code == 0, batch.err
    assert sorted(p.name for p in (here / "b").iterdir()) == ["edit.mov", "plain.mp4"]


def test_words_the_api_spells_in_lower_case_are_taken_in_any_case(cli: CliRunner) -> None:
    body, _ = dry_body(
        cli, "--model", T2V_25, "--quality", "1080P", "-a", "ADAPTIVE", "--output-format", "MOV"
    )
    assert (body["quality"], body["aspect_ratio"], body["output_format"]) == (
        "1080p",
        "adaptive",
        "mov",
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": null}', "line 1: prompt: must not be empty"),
        ('{"prompt": "x", "duration": "--5"}', "line 1: duration: must be a whole number"),
        ('{"prompt": "x", "duration": "\u00b2"}', "line 1: duration: must be a whole number"),
        ('{"prompt": "x", "duration": ' + "1" * 5000 + "}", "a number far too long"),
        ('{"prompt": "x", "image_urls": ["~nobody-here-at-all/x.png"]}', "no such user"),
    ],
)
def test_odd_manifest_values_are_refused_naming_the_line_never_a_crash(
    cli: CliRunner, api: Emulator, tmp_path: Path, line: str, message: str
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(line + "\n", encoding="utf-8")
    result = cli("batch", str(manifest))
    assert result.code == 2 and result.out == ""
    assert message in result.err
    assert api.requests() == []


def test_a_model_id_with_spaces_around_it_is_that_model_and_gets_its_checks(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    result = cli("generate", PROMPT, "--model", " seedance-1.5-pro", "-d", "30", "--dry-run")
    assert result.code == 2
    assert "--duration: seedance-1.5-pro takes 4 to 12 seconds, got 30" in result.err
    manifest = tmp_path / "m.csv"
    manifest.write_text("prompt, model, quality\nx, seedance-2.0-mini-text-to-video,4k\n")
    result = cli("batch", str(manifest))
    assert result.code == 2 and "takes 480p, 720p, got '4k'" in result.err
    assert "unknown model" not in result.err
    assert api.requests() == []
    refused = GenerationRequest  # the library refuses the id as typed, naming why
    with pytest.raises(ValidationError, match="is not a model name"):
        refused(PROMPT, model=" seedance-1.5-pro")


@pytest.mark.parametrize(
    "args",
    [
        ["generate", PROMPT, "-i", "~nobody-here-at-all/x.png", "--dry-run"],
        ["generate", PROMPT, "-o", "~nobody-here-at-all/x.mp4", "--dry-run"],
        ["generate", "@~nobody-here-at-all/prompt.txt", "--dry-run"],
        ["upload", "~nobody-here-at-all/x.png"],
        ["batch", "~nobody-here-at-all/m.jsonl"],
        ["generate", PROMPT, "-d", "\u00b2", "--dry-run"],
    ],
)
def test_paths_of_users_that_do_not_exist_and_odd_digits_are_usage_errors(
    cli: CliRunner, api: Emulator, args: list[str]
) -> None:
    result = cli(*args)
    assert result.code == 2, result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert api.requests() == []


@pytest.mark.parametrize("value", ["javascript:alert(1)", "data:video/mp4;base64,AAAA", "ftp:x"])
def test_a_reference_that_is_neither_a_path_nor_an_http_url_is_called_what_it_is(
    cli: CliRunner, value: str
) -> None:
    result = cli("generate", PROMPT, "--model", EDIT_25, "--video", value, "--dry-run")
    assert result.code == 2
    assert "--video: must be an http:// or https:// URL" in result.err
    assert "local file" not in result.err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], 5),
        (["-d", "12"], 12),
        (["--model", T2V_25, "-d", "30"], 30),
        (["--model", FAST_10, "-d", "2"], 3),
    ],
)
def test_a_result_is_as_long_as_asked(
    cli: CliRunner, api: Emulator, here: Path, flags: list[str], expected: int
) -> None:
    """The emulator's video is the length asked (the 3 s sample held to it; 2 s stays 3 s)."""
    from seedance_cli.emulator.mp4 import length

    result = cli("generate", PROMPT, *flags, "-o", "clip.mp4")
    assert result.code == 0, result.err
    assert length((here / "clip.mp4").read_bytes()) == expected
