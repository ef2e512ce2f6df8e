"""Reading local images by their bytes, and every rule of the API for them."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli.errors import ExitCode, ImageError, ValidationError
from seedance_cli.images import dimensions, image_sources, inspect_image, sniff

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
    assert "the API takes JPEG, PNG or WebP images only" in info.value.reason
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
    assert "is 10.0 MB; the API takes at most 10 MB" in info.value.reason


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
    with pytest.raises(ValidationError, match="3 images given"):
        image_sources([str(path)] * 3)
