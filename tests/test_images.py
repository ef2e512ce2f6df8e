"""Reading local images by their bytes, and every rule of the API for them."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli.errors import ExitCode, ImageError, ValidationError
from seedance_cli.images import (
    ImageRules,
    dimensions,
    image_rules,
    image_sources,
    inspect_image,
    looks_like_image_url,
    reference_urls,
    sniff,
)

from .images import AVIF_HEAD, GIF_1X1, HEIC_HEAD, jpeg_bytes, png_bytes, webp_bytes


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "fmt", "size"),
    [
        (png_bytes(640, 360), "PNG", (640, 360)),
        (jpeg_bytes(1920, 1080), "JPEG", (1920, 1080)),
        (jpeg_bytes(800, 1200, progressive=True), "JPEG", (800, 1200)),
        (jpeg_bytes(1024, 768, exif=30000), "JPEG", (1024, 768)),  # a big EXIF block first
        (webp_bytes(1280, 720, "VP8"), "WebP", (1280, 720)),
        (webp_bytes(5000, 3000, "VP8L"), "WebP", (5000, 3000)),
        (webp_bytes(6000, 2400, "VP8X"), "WebP", (6000, 2400)),
    ],
)
def test_accepted_formats_and_their_sizes(
    tmp_path: Path, data: bytes, fmt: str, size: tuple[int, int]
) -> None:
    info = inspect_image(write(tmp_path, "image.bin", data))
    assert (info.format, (info.width, info.height), info.size) == (fmt, size, len(data))
    assert info.mime == {"PNG": "image/png", "JPEG": "image/jpeg", "WebP": "image/webp"}[fmt]


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("photo.png", GIF_1X1, "is a GIF file"),  # a misleading extension
        ("photo.jpg", HEIC_HEAD, "is a HEIC file"),
        ("photo.webp", AVIF_HEAD, "is a AVIF file"),
        ("photo.png", b"BM" + b"\x00" * 64, "is a BMP file"),
        ("photo.jpg", b"II*\x00" + b"\x00" * 64, "is a TIFF file"),
        ("photo.png", b"%PDF-1.7\n" + b"\x00" * 64, "is a PDF file"),
        ("photo.jpg", b"hello, I am text", "is not an image"),
        ("photo.png", b"", "is not an image"),
    ],
)
def test_other_formats_are_refused_by_their_bytes(
    tmp_path: Path, name: str, data: bytes, what: str
) -> None:
    with pytest.raises(ValidationError) as info:
        inspect_image(write(tmp_path, name, data))
    assert what in info.value.reason
    assert "seedance-1.5-pro takes JPEG, PNG or WebP images only" in info.value.reason
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (299, 400, "its width must be 300-6000 px"),
        (400, 299, "its height must be 300-6000 px"),
        (6001, 3000, "its width must be 300-6000 px"),
        (3000, 6001, "its height must be 300-6000 px"),
        (300, 751, "width/height 0.40; it must be 0.4-2.5"),  # 0.3995 rounds to 0.40
        (1000, 2600, "width/height 0.38"),
        (2510, 1000, "width/height 2.51"),
    ],
)
def test_dimension_and_ratio_limits(tmp_path: Path, width: int, height: int, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        inspect_image(write(tmp_path, "i.png", png_bytes(width, height)))
    assert message in info.value.reason


@pytest.mark.parametrize(
    ("width", "height"),
    [(300, 300), (6000, 6000), (300, 750), (2500, 1000), (6000, 2400), (400, 1000)],
)
def test_limits_are_inclusive(tmp_path: Path, width: int, height: int) -> None:
    data = webp_bytes(width, height) if max(width, height) > 2000 else png_bytes(width, height)
    assert inspect_image(write(tmp_path, "i.img", data)).width == width


def test_at_most_10_mb(tmp_path: Path) -> None:
    header = png_bytes(400, 400)
    inspect_image(write(tmp_path, "ok.png", header + b"\x00" * (10_000_000 - len(header))))
    with pytest.raises(ValidationError) as info:
        inspect_image(write(tmp_path, "big.png", header + b"\x00" * (10_000_001 - len(header))))
    assert "is 10.0 MB; seedance-1.5-pro takes at most 10 MB" in info.value.reason


def test_missing_unreadable_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        inspect_image(tmp_path / "nope.png")
    with pytest.raises(ValidationError, match="is a folder"):
        inspect_image(tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        png_bytes(400, 400)[:20],
        jpeg_bytes(400, 400)[:30],
        webp_bytes(400, 400)[:20],
        b"\xff\xd8\xff\xe0\x00\x01",
    ],
)
def test_truncated_headers_are_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ValidationError, match="cannot read its size"):
        inspect_image(write(tmp_path, "t.img", data))


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200),
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP", b""]),
)
def test_no_bytes_make_the_reader_fail_otherwise(
    tmp_path_factory: pytest.TempPathFactory, tail: bytes, head: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f"
    path.write_bytes(head + tail)
    with contextlib.suppress(ValidationError):
        inspect_image(path)
    fmt = sniff(head + tail)
    if fmt in ("JPEG", "PNG", "WebP"):
        with open(path, "rb") as handle:
            with contextlib.suppress(ImageError):
                dimensions(handle, fmt)


def test_sources_tell_urls_from_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", png_bytes(400, 400))
    url, info = image_sources(["https://e.com/x.png", str(path)])
    assert url == "https://e.com/x.png" and not isinstance(info, str) and info.path == path
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        image_sources(["ftp://e.com/x.png"])
    with pytest.raises(
        ValidationError, match=re.escape("3 images given; seedance-1.5-pro takes at most 2")
    ):
        image_sources([str(path)] * 3)


# -- each model's own limits -----------------------------------------------------------------------


def sparse(tmp_path: Path, name: str, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes that starts with ``head``, without writing them all."""
    path = write(tmp_path, name, head)
    with path.open("r+b") as handle:
        handle.truncate(size)
    return path


@pytest.mark.parametrize(
    ("model", "maximum", "megabytes"),
    [
        ("seedance-1.5-pro", 2, 10),
        ("doubao-seedance-1.0-pro-fast", 1, 10),
        ("seedance-2.0-image-to-video", 2, 30),
        ("seedance-2.0-reference-to-video", 9, 30),
        ("seedance-2.5-reference-to-video", 30, 30),
        ("seedance-2.5-video-edit", 30, 30),
        ("seedance-2.0-text-to-video", 0, 10),  # takes no images at all
    ],
)
def test_rules_come_from_the_model(model: str, maximum: int, megabytes: int) -> None:
    rules = image_rules(model)
    assert (rules.model, rules.maximum, rules.max_bytes) == (model, maximum, megabytes * 10**6)
    assert rules.formats == ("JPEG", "PNG", "WebP")


def test_a_model_the_catalogue_does_not_know_gets_generic_limits() -> None:
    rules = image_rules("seedance-9-text-to-video")
    assert rules == ImageRules(None, 100, 30_000_000, ("JPEG", "PNG", "WebP"))
    assert rules.who == "the API"


def test_the_default_rules_are_the_default_models() -> None:
    assert image_rules() == image_rules("seedance-1.5-pro")


def test_size_limit_per_model(tmp_path: Path) -> None:
    head = png_bytes(400, 400)
    twenty = sparse(tmp_path, "twenty.png", head, 20_000_000)
    with pytest.raises(ValidationError) as info:
        inspect_image(twenty, rules=image_rules("seedance-1.5-pro"))
    assert "is 20.0 MB; seedance-1.5-pro takes at most 10 MB" in info.value.reason
    assert (
        inspect_image(twenty, rules=image_rules("seedance-2.0-image-to-video")).size == 20 * 10**6
    )
    assert inspect_image(
        sparse(tmp_path, "max.png", head, 30_000_000),
        rules=image_rules("seedance-2.5-reference-to-video"),
    )
    over = sparse(tmp_path, "over.png", head, 30_000_001)
    with pytest.raises(ValidationError) as info:
        inspect_image(over, rules=image_rules("seedance-2.5-reference-to-video"))
    assert "is 30.0 MB; seedance-2.5-reference-to-video takes at most 30 MB" in info.value.reason
    with pytest.raises(ValidationError) as info:
        inspect_image(over, rules=image_rules("seedance-9"))
    assert "is 30.0 MB; the API takes at most 30 MB" in info.value.reason


def test_formats_per_model(tmp_path: Path) -> None:
    gif = write(tmp_path, "a.png", GIF_1X1)
    with pytest.raises(ValidationError) as info:
        inspect_image(gif, rules=image_rules("seedance-2.0-image-to-video"))
    assert "is a GIF file; seedance-2.0-image-to-video takes JPEG, PNG or WebP images only" in (
        info.value.reason
    )
    pngs_only = ImageRules("some-model", 2, 10**7, ("PNG",))
    with pytest.raises(ValidationError, match="is a JPEG file; some-model takes PNG images only"):
        inspect_image(write(tmp_path, "b.jpg", jpeg_bytes(400, 400)), rules=pngs_only)
    # a JPEG is a JPEG by either name, whatever the model's file calls the format
    two = image_rules("seedance-2.0-image-to-video")
    assert looks_like_image_url("https://e.com/a.jpg", two)
    assert looks_like_image_url("https://e.com/a.JPEG", two)
    assert not looks_like_image_url("https://e.com/a.gif", two)
    assert not looks_like_image_url("https://e.com/a.jpg", pngs_only)


@pytest.mark.parametrize(
    ("model", "allowed"),
    [
        ("seedance-2.0-reference-to-video", 9),
        ("seedance-2.5-reference-to-video", 30),
        ("doubao-seedance-1.0-pro-fast", 1),
        ("seedance-9-reference", 100),
    ],
)
def test_image_count_per_model(tmp_path: Path, model: str, allowed: int) -> None:
    path = str(write(tmp_path, "a.png", png_bytes(400, 400)))
    rules = image_rules(model)
    assert len(image_sources([path] * allowed, rules=rules)) == allowed
    with pytest.raises(ValidationError) as info:
        image_sources([path] * (allowed + 1), rules=rules)
    assert info.value.field == "image_urls"
    who = model if rules.model else "the API"
    assert f"{allowed + 1} images given; {who} takes at most {allowed}" in info.value.reason


def test_a_model_without_images_refuses_any(tmp_path: Path) -> None:
    rules = image_rules("seedance-2.5-text-to-video")
    assert image_sources([], rules=rules) == []
    with pytest.raises(
        ValidationError, match=re.escape("seedance-2.5-text-to-video does not take images")
    ):
        image_sources(["https://e.com/a.png"], rules=rules)


@pytest.mark.parametrize("field", ["video_urls", "audio_urls"])
@pytest.mark.parametrize("value", ["clip.mp4", "/tmp/clip.mov", "~/voice.wav", "./a b.mp3"])
def test_reference_media_must_be_urls(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        reference_urls(field, [value])
    assert info.value.field == field
    what = "videos" if field == "video_urls" else "audio clips"
    assert info.value.reason == (
        f"{value!r} is a local file; the files API takes images only, so {what} must be given "
        "as http(s) URLs"
    )
    assert info.value.hint and "URL" in info.value.hint


def test_reference_urls_are_checked_and_kept_in_order() -> None:
    urls = ["https://e.com/a.mp4", "http://e.com/b.mov"]
    assert reference_urls("video_urls", urls) == tuple(urls)
    with pytest.raises(ValidationError, match="must be an http:// or https:// URL"):
        reference_urls("audio_urls", ["ftp://e.com/a.wav"])
