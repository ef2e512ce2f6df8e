"""Local images for image-to-video: what a file really is (by its bytes) and whether the API takes it.

A small, careful reader of the headers of JPEG, PNG and WebP files for their width and height, and
of enough of GIF, HEIC/HEIF, AVIF, BMP, TIFF and others to name them when refusing them. It reads at
most the headers (never the whole file), checks every length it follows, and raises ``ImageError``
for anything it cannot make sense of - never an exception of another kind.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import urlsplit

from .catalogue import DEFAULT_MODEL, catalogue, spec
from .errors import ImageError, ValidationError
from .models import GENERIC_MEDIA_MAX, check_http_url

#: API.md: 10 MB at most for 1.x (30 MB for 2.x: each model's own limit is in ``ImageRules``).
#: Counted in decimal megabytes, the stricter reading: a file the API might refuse after a create
#: was paid for is refused here first.
MAX_BYTES: Final = 10_000_000
MIN_SIDE: Final = 300
MAX_SIDE: Final = 6000
MIN_RATIO: Final = 0.4
MAX_RATIO: Final = 2.5
ACCEPTED: Final = ("JPEG", "PNG", "WebP")
MIME: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WebP": "image/webp"}
IMAGE_EXTENSIONS: Final = (".jpg", ".jpeg", ".png", ".webp")
#: The format a model's file names (``jpg``, ``jpeg``...) as the bytes tell it.
FORMAT_OF: Final = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WebP"}
#: How many JPEG segments to walk before giving up on finding the frame header.
MAX_JPEG_SEGMENTS: Final = 512
#: How many stray bytes between JPEG segments to skip before giving up: the walk stays bounded.
MAX_JPEG_GARBAGE: Final = 64 * 1024


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    path: Path
    format: str
    width: int
    height: int
    size: int

    @property
    def mime(self) -> str:
        return MIME[self.format]


@dataclasses.dataclass(frozen=True)
class ImageRules:
    """What one model takes as local images: how many (``maximum``; 0 when it takes none), how
    large (``max_bytes``) and in which formats (as ``sniff`` names them). ``model`` is ``None``
    for a model the catalogue does not know: generic limits, as wide as the widest known model's."""

    model: str | None
    maximum: int
    max_bytes: int
    formats: tuple[str, ...]

    @property
    def extensions(self) -> tuple[str, ...]:
        """The URL endings of those formats (``.jpg`` and ``.jpeg`` alike: one format)."""
        names = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",), "WebP": (".webp",)}
        return tuple(ext for fmt in self.formats for ext in names[fmt])

    @property
    def who(self) -> str:
        """Who sets the limits, for messages: the model, or "the API" for the generic ones."""
        return self.model or "the API"


def image_rules(model: str = DEFAULT_MODEL) -> ImageRules:
    """The local-image limits of ``model`` (``image_urls`` in its catalogue entry); generic ones
    (``GENERIC_MEDIA_MAX`` images, the largest size and every format any model takes) for a
    model the catalogue does not know."""
    known = spec(model)
    if known is None:
        limits = [m.media["image_urls"] for m in catalogue().values() if "image_urls" in m.media]
        largest = max((limit.max_mb or 0 for limit in limits), default=0)
        return ImageRules(None, GENERIC_MEDIA_MAX, largest * 1_000_000 or MAX_BYTES, ACCEPTED)
    limit = known.media.get("image_urls")
    if limit is None:
        return ImageRules(model, 0, MAX_BYTES, ACCEPTED)
    formats = tuple(dict.fromkeys(FORMAT_OF[f] for f in (limit.formats or ()) if f in FORMAT_OF))
    return ImageRules(
        model,
        limit.maximum if limit.maximum is not None else GENERIC_MEDIA_MAX,
        limit.max_mb * 1_000_000 if limit.max_mb else MAX_BYTES,
        formats or ACCEPTED,
    )


def _formats(formats: Sequence[str]) -> str:
    """``JPEG, PNG or WebP``."""
    return formats[0] if len(formats) == 1 else f"{', '.join(formats[:-1])} or {formats[-1]}"


def sniff(head: bytes) -> str | None:
    """The format that ``head`` (the first bytes of a file) announces, if any is known."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC"
        return "a video or other ISO media file"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"%PDF"):
        return "PDF"
    if head.lstrip().startswith((b"<svg", b"<?xml")):
        return "SVG or XML"
    if head[:4] == b"\xff\x0a" or head[4:12] == b"jP  \r\n\x87\n":
        return "JPEG XL or JPEG 2000"
    return None


def dimensions(handle: BinaryIO, fmt: str) -> tuple[int, int]:
    """(width, height) from the headers of a JPEG, PNG or WebP file opened at its start."""
    if fmt == "PNG":
        return _png(handle)
    if fmt == "JPEG":
        return _jpeg(handle)
    if fmt == "WebP":
        return _webp(handle)
    raise ImageError(f"cannot read the size of {fmt}")


def _read(handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise ImageError("the file ends inside its header: it is truncated")
    return data


def _png(handle: BinaryIO) -> tuple[int, int]:
    header = _read(handle, 24)
    if header[12:16] != b"IHDR":
        raise ImageError("a PNG file without its IHDR header")
    width, height = struct.unpack(">II", header[16:24])
    return width, height


#: SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(handle: BinaryIO) -> tuple[int, int]:
    _read(handle, 2)  # SOI
    garbage = 0
    for _ in range(MAX_JPEG_SEGMENTS):
        byte = _read(handle, 1)
        while byte != b"\xff":  # tolerate garbage between segments, as decoders do, up to a point
            garbage += 1
            if garbage > MAX_JPEG_GARBAGE:
                raise ImageError("a JPEG file with corrupt data between its segments")
            byte = _read(handle, 1)
        marker = _read(handle, 1)[0]
        while marker == 0xFF:  # fill bytes
            garbage += 1
            if garbage > MAX_JPEG_GARBAGE:
                raise ImageError("a JPEG file with corrupt data between its segments")
            marker = _read(handle, 1)[0]
        if marker in (0x01, *range(0xD0, 0xD8)):  # TEM, RSTn: no length
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            break
        (length,) = struct.unpack(">H", _read(handle, 2))
        if length < 2:
            raise ImageError("a JPEG file with a corrupt segment length")
        if marker in _SOF:
            segment = _read(handle, 5)
            height, width = struct.unpack(">HH", segment[1:5])
            return width, height
        handle.seek(length - 2, 1)
    raise ImageError("a JPEG file without a frame header")


def _webp(handle: BinaryIO) -> tuple[int, int]:
    header = _read(handle, 30)
    chunk = header[12:16]
    if chunk == b"VP8 ":
        if header[23:26] != b"\x9d\x01\x2a":
            raise ImageError("a WebP file with a corrupt VP8 frame")
        width, height = struct.unpack("<HH", header[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if header[20] != 0x2F:
            raise ImageError("a WebP file with a corrupt VP8L header")
        bits = int.from_bytes(header[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(header[24:27], "little") + 1
        height = int.from_bytes(header[27:30], "little") + 1
        return width, height
    raise ImageError("a WebP file of an unknown kind")


def inspect_image(
    path: Path, *, field: str = "image", rules: ImageRules | None = None
) -> ImageInfo:
    """Check a local image against every rule of the API; ``ValidationError`` names the file.

    It must exist and be readable, be of a format the model takes by its bytes (JPEG, PNG or WebP,
    whatever its name says), hold at most the model's size (10 MB for 1.x, 30 MB for 2.x), measure
    300-6000 px a side, and have a width/height ratio of 0.4-2.5. ``rules`` are the model's
    (``image_rules``; by default those of the default model).
    """
    rules = rules or image_rules()
    shown = str(path)
    try:
        info = path.stat()
        size = info.st_size
        if stat.S_ISDIR(info.st_mode):
            raise ValidationError(field, f"{shown} is a folder, not an image")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise ValidationError(field, f"{shown} is not a regular file, not an image")
        if size > rules.max_bytes:  # before reading a byte: a multi-GB file is never read
            raise ValidationError(
                field,
                f"{shown} is {size / 1e6:.1f} MB; {rules.who} takes at most "
                f"{rules.max_bytes / 1e6:g} MB",
                hint="save it smaller (lower resolution or JPEG/WebP quality)",
            )
        # O_NONBLOCK: a file swapped for a FIFO after the check cannot block the open
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ValidationError(field, f"{shown} is not a regular file, not an image")
            head = handle.read(32)
            fmt = sniff(head)
            if fmt not in rules.formats:
                what = (
                    f"a {fmt} file" if fmt and not fmt.startswith("a ") else (fmt or "not an image")
                )
                raise ValidationError(
                    field,
                    f"{shown} is {what}; {rules.who} takes {_formats(rules.formats)} images only",
                    hint="convert it, e.g. to PNG, first",
                )
            handle.seek(0)
            try:
                width, height = dimensions(handle, fmt)
            except (ImageError, OSError, struct.error) as exc:
                raise ValidationError(field, f"{shown}: cannot read its size: {exc}") from None
    except FileNotFoundError:
        raise ValidationError(field, f"{shown}: no such file") from None
    except PermissionError:
        raise ValidationError(field, f"{shown}: not readable (permission denied)") from None
    except IsADirectoryError:
        raise ValidationError(field, f"{shown} is a folder, not an image") from None
    except OSError as exc:
        raise ValidationError(field, f"{shown}: cannot read it ({exc.strerror or exc})") from None
    except ValueError:  # a NUL in the name
        raise ValidationError(field, f"{shown!r} is not a usable file name") from None
    for side, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise ValidationError(
                field,
                f"{shown} is {width}x{height} px; its {side} must be {MIN_SIDE}-{MAX_SIDE} px",
            )
    ratio = width / height
    if not MIN_RATIO <= ratio <= MAX_RATIO:
        raise ValidationError(
            field,
            f"{shown} is {width}x{height} px, width/height {ratio:.2f}; "
            f"it must be {MIN_RATIO}-{MAX_RATIO}",
        )
    return ImageInfo(path, fmt, width, height, size)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: A reserved, unreachable host: local images stand in with URLs on it until they are uploaded.
PLACEHOLDER_HOST: Final = "upload.pending.invalid"


def is_url(value: str) -> bool:
    """``scheme://...`` is a URL; anything else is a path."""
    return _SCHEME.match(value) is not None


def placeholder(index: int, source: str | ImageInfo) -> str:
    """The URL a source stands in with in a request that is checked before any upload."""
    return source if isinstance(source, str) else f"https://{PLACEHOLDER_HOST}/{index}.img"


def image_sources(
    values: Sequence[str], base: Path | None = None, rules: ImageRules | None = None
) -> list[str | ImageInfo]:
    """Each ``--image`` value as a URL (checked) or a local file (inspected), in order.

    Anything that looks like ``scheme://...`` is a URL and must be http(s); everything else is a
    path, relative to ``base`` if given. ``rules`` are the chosen model's (``image_rules``; by
    default the default model's): how many images, how large, which formats. Raises
    ``ValidationError`` (field ``image_urls``) before anything is sent or uploaded.
    """
    rules = rules or image_rules()
    if values and rules.maximum == 0:
        raise ValidationError("image_urls", f"{rules.who} does not take images")
    if len(values) > rules.maximum:
        raise ValidationError(
            "image_urls",
            f"{len(values)} images given; {rules.who} takes at most {rules.maximum}"
            + (" (first frame, then last frame)" if rules.maximum == 2 else ""),
        )
    sources: list[str | ImageInfo] = []
    for value in values:
        if is_url(value):
            sources.append(check_http_url("image_urls", value))
        else:
            try:
                path = Path(value).expanduser()
            except RuntimeError:
                raise ValidationError(
                    "image_urls", f"cannot expand {value!r}: no such user or home folder"
                ) from None
            sources.append(
                inspect_image(base / path if base else path, field="image_urls", rules=rules)
            )
    return sources


#: What each medium that travels as URLs only is called in the refusal of a local file.
_URL_ONLY: Final = {"video_urls": "videos", "audio_urls": "audio clips"}


#: ``scheme:`` without ``//`` (``data:``, ``javascript:``): not a path, not a URL the API fetches.
#: Two letters at least, so that a Windows drive (``C:``) is still read as a path.
_SCHEME_ONLY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def reference_urls(field: str, values: Sequence[str]) -> tuple[str, ...]:
    """Reference videos or audio clips (``video_urls``, ``audio_urls``): http(s) URLs only. A local
    path is refused with why: the files API takes images only, so there is no way to upload it."""
    urls = []
    for value in values:
        if _SCHEME_ONLY.match(value) and not is_url(value):  # javascript:, data:, mailto:...
            raise ValidationError(field, f"must be an http:// or https:// URL, got {value[:80]!r}")
        if not is_url(value):
            what = _URL_ONLY.get(field, "such files")
            raise ValidationError(
                field,
                f"{value!r} is a local file; the files API takes images only, so {what} must be "
                "given as http(s) URLs",
                hint="put the file where the API can fetch it (your own storage or a CDN) and "
                "give its URL",
            )
        urls.append(check_http_url(field, value))
    return tuple(urls)


def looks_like_image_url(url: str, rules: ImageRules | None = None) -> bool:
    """True when the URL's path ends in an image extension (of a format the model takes), as
    the API's examples do."""
    extensions = rules.extensions if rules is not None else IMAGE_EXTENSIONS
    return urlsplit(url).path.lower().endswith(extensions)
