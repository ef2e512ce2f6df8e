"""Image-to-video from local files, ``seedance upload`` and ``seedance credits`` from the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from seedance_cli.emulator import Emulator, FakeClock

from .clirunner import CliRunner
from .conftest import api_environ
from .images import AVIF_HEAD, GIF_1X1, HEIC_HEAD, jpeg_bytes, png_bytes, webp_bytes


@pytest.fixture
def pics(tmp_path: Path) -> Path:
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "first.png").write_bytes(png_bytes(640, 360))
    (folder / "last.jpg").write_bytes(jpeg_bytes(640, 360))
    (folder / "wide.webp").write_bytes(webp_bytes(1280, 720, "VP8"))
    return folder


def test_local_image_is_uploaded_and_its_url_sent(
    cli: CliRunner, api: Emulator, pics: Path
) -> None:
    result = cli("generate", "A cat wakes up", "-i", str(pics / "first.png"))
    assert result.code == 0, result.err
    kinds = [r.kind for r in api.requests()]
    assert kinds == ["upload", "create"]
    (stored,) = api.service.files.values()
    assert stored.data == (pics / "first.png").read_bytes() and stored.mime_type == "image/png"
    body = api.requests("create")[0].json()
    assert body["image_urls"] == [f"{api.url}/files/{stored.upload_path}/{stored.file_name}"]
    assert httpx.get(body["image_urls"][0]).content == stored.data
    assert f"uploaded {pics / 'first.png'} -> {body['image_urls'][0]}" in result.err


def test_first_and_last_frame_mixing_a_file_and_a_url(
    cli: CliRunner, api: Emulator, pics: Path
) -> None:
    result = cli(
        "generate", "x", "-i", "https://example.com/start.jpg", "-i", str(pics / "last.jpg")
    )
    assert result.code == 0, result.err
    urls = api.requests("create")[0].json()["image_urls"]
    assert urls[0] == "https://example.com/start.jpg" and urls[1].startswith(api.url + "/files/")


def test_the_history_records_local_paths_next_to_their_urls(
    cli: CliRunner, api: Emulator, pics: Path
) -> None:
    cli("generate", "x", "-i", str(pics / "wide.webp"))
    db = sqlite3.connect(Path(os.environ["SEEDANCE_DATA_DIR"]) / "history.sqlite3")
    (images,) = db.execute("SELECT local_images FROM tasks").fetchone()
    (pair,) = json.loads(images)
    assert pair["path"] == str(pics / "wide.webp")
    assert pair["url"] == api.requests("create")[0].json()["image_urls"][0]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "sneaky.png",
            GIF_1X1,
            "is a GIF file; seedance-1.5-pro takes JPEG, PNG or WebP images only",
        ),
        ("phone.jpg", HEIC_HEAD, "is a HEIC file"),
        ("new.webp", AVIF_HEAD, "is a AVIF file"),
        ("notes.jpg", b"just text", "is not an image"),
        ("small.png", png_bytes(299, 400), "its width must be 300-6000 px"),
        ("short.png", png_bytes(400, 299), "its height must be 300-6000 px"),
        ("huge.webp", webp_bytes(6001, 3000), "its width must be 300-6000 px"),
        ("tall.webp", webp_bytes(3000, 6001), "its height must be 300-6000 px"),
        ("narrow.png", png_bytes(300, 800), "width/height 0.38; it must be 0.4-2.5"),
        ("banner.png", png_bytes(1300, 500), "width/height 2.60; it must be 0.4-2.5"),
    ],
)
def test_each_refusal_exits_2_with_nothing_uploaded_or_created(
    cli: CliRunner, api: Emulator, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = cli("generate", "x", "-i", str(path))
    assert result.code == 2
    assert result.err.startswith(f"error: --image: {path}") and message in result.err
    assert result.out == ""
    assert api.requests() == []


def test_oversize_image_is_refused(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(400, 400) + b"\0" * 10_000_000)
    result = cli("generate", "x", "-i", str(path))
    assert result.code == 2 and "seedance-1.5-pro takes at most 10 MB" in result.err
    assert api.requests() == []


def test_three_images_are_refused(cli: CliRunner, api: Emulator, pics: Path) -> None:
    path = str(pics / "first.png")
    result = cli("generate", "x", "-i", path, "-i", path, "-i", path)
    assert result.code == 2
    assert "--image: 3 images given; seedance-1.5-pro takes at most 2 (first frame" in result.err
    assert api.requests() == []


def test_missing_file_is_refused(cli: CliRunner, api: Emulator, tmp_path: Path) -> None:
    result = cli("generate", "x", "-i", str(tmp_path / "nope.png"))
    assert result.code == 2 and "no such file" in result.err and api.requests() == []


def test_url_without_an_image_extension_warns_but_goes(cli: CliRunner, api: Emulator) -> None:
    result = cli("generate", "x", "-i", "https://example.com/image?id=42")
    assert result.code == 0
    assert "warning: --image https://example.com/image?id=42: the path does not end in" in (
        result.err
    )


def test_dry_run_shows_what_would_be_uploaded_and_uploads_nothing(
    cli: CliRunner, api: Emulator, pics: Path
) -> None:
    result = cli("generate", "x", "--dry-run", "-i", str(pics / "first.png"))
    assert result.code == 0, result.err
    size = (pics / "first.png").stat().st_size / 1000
    assert result.lines[0] == (
        f"POST {api.url}/api/v1/files/upload/stream file={pics / 'first.png'} "
        f"(PNG, 640x360 px, {size:.1f} kB)"
    )
    assert result.lines[1] == f"POST {api.url}/v1/videos/generations"
    body = json.loads("\n".join(result.lines[2:]))
    assert body["image_urls"] == [f"<file_url of the upload of {pics / 'first.png'}>"]
    assert api.requests() == []
    shaped = cli("generate", "x", "--dry-run", "--json", "-i", str(pics / "first.png")).json[0]
    assert shaped["uploads"] == [
        {
            "method": "POST",
            "url": f"{api.url}/api/v1/files/upload/stream",
            "path": str(pics / "first.png"),
            "format": "PNG",
            "width": 640,
            "height": 360,
            "bytes": (pics / "first.png").stat().st_size,
        }
    ]


# -- upload errors ---------------------------------------------------------------------------------


def test_file_quota_used_up_exits_5_and_creates_nothing(
    cli: CliRunner, pics: Path, clock: FakeClock
) -> None:
    with Emulator(clock=clock, max_files=0) as emu:
        result = cli("generate", "x", "-i", str(pics / "first.png"), env=api_environ(emu.url))
        assert result.code == 5
        assert "File quota exceeded" in result.err and "72 hours" in result.err
        assert emu.requests("create") == []


def test_success_false_under_http_200_is_an_error(
    cli: CliRunner, pics: Path, clock: FakeClock
) -> None:
    with Emulator(clock=clock, max_files=0, files_errors_http_200=True) as emu:
        result = cli("upload", str(pics / "first.png"), env=api_environ(emu.url))
        assert [r.status for r in emu.requests("upload")] == [200]
        assert result.code == 5 and "File quota exceeded" in result.err and result.out == ""


@pytest.mark.parametrize(
    ("fault", "code"),
    [("upload:401", 4), ("upload:413", 6), ("upload:400", 6), ("upload:503:*", 7)],
)
def test_upload_refusals_map_to_exit_codes(
    cli: CliRunner, api: Emulator, pics: Path, fault: str, code: int
) -> None:
    api.add_fault(fault)
    result = cli("generate", "x", "-i", str(pics / "first.png"))
    assert result.code == code, result.err
    assert api.requests("create") == []


def test_transient_upload_failures_are_retried(cli: CliRunner, api: Emulator, pics: Path) -> None:
    api.add_fault("upload:503:2")
    assert cli("upload", str(pics / "first.png")).code == 0
    assert [r.status for r in api.requests("upload")] == [503, 503, 200]


# -- seedance upload -------------------------------------------------------------------------------


def test_upload_prints_one_url_per_file(cli: CliRunner, api: Emulator, pics: Path) -> None:
    result = cli("upload", str(pics / "first.png"), str(pics / "wide.webp"))
    assert result.code == 0, result.err
    assert len(result.lines) == 2
    for line, name in zip(result.lines, ("first.png", "wide.webp"), strict=True):
        assert httpx.get(line).content == (pics / name).read_bytes()
    assert "(files live 72 hours)" in result.err and "expires at" in result.err


def test_upload_checks_the_size_the_profiles_model_takes(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "big.png"  # 10.2 MB: over 1.x's 10 MB, under 2.x's 30 MB
    path.write_bytes(png_bytes(400, 400) + b"\0" * (10_200_000 - len(png_bytes(400, 400))))
    refused = cli("upload", str(path))
    assert refused.code == 2 and refused.out == ""
    assert refused.err.startswith(f"error: FILE: {path} is 10.2 MB; seedance-1.5-pro takes at most")
    assert api.requests() == []
    assert cli("config", "set", "model", "seedance-2.0-reference-to-video").code == 0
    done = cli("upload", str(path))
    assert done.code == 0, done.err
    assert [r.kind for r in api.requests()] == ["upload"]


def test_upload_json(cli: CliRunner, api: Emulator, pics: Path) -> None:
    (item,) = cli("upload", str(pics / "last.jpg"), "--json").json
    assert item["path"] == str(pics / "last.jpg") and item["mime_type"] == "image/jpeg"
    assert set(item) >= {"file_url", "file_id", "expires_at", "file_size"}


def test_upload_checks_every_file_before_uploading_any(
    cli: CliRunner, api: Emulator, pics: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "anim.png"
    bad.write_bytes(GIF_1X1)
    result = cli("upload", str(pics / "first.png"), str(bad))
    assert result.code == 2 and "is a GIF file" in result.err
    assert api.requests() == []


# -- credits ---------------------------------------------------------------------------------------


def test_credits_piped_and_json(cli: CliRunner, api: Emulator, clock: FakeClock) -> None:
    cli("generate", "x", "-d", "8")
    clock.advance(60)
    cli("status", next(iter(api.service.tasks)))
    result = cli("credits")
    assert result.code == 0
    # 8 s of 1.5 pro at 720p with audio: 28.4544 credits, every digit shown
    assert result.lines == ["key\t99971.5456\t28.4544", "account\t99971.5456\t28.4544"]
    (raw,) = cli("credits", "--json").json
    assert raw["data"]["token"] == {
        "remaining_credits": 99971.5456,
        "unlimited_credits": False,
        "used_credits": 28.4544,
    }


def test_credits_errors(cli: CliRunner, api: Emulator) -> None:
    api.add_fault("credits:401")
    result = cli("credits")
    assert result.code == 4 and "error: Invalid or expired token" in result.err
