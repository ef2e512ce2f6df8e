"""Small, valid images made on the spot (no binary fixtures in the repository)."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes([(x + y) % 256 for x in range(width)]) for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


GIF_1X1 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def jpeg_bytes(width: int, height: int, *, progressive: bool = False, exif: int = 0) -> bytes:
    """The headers of a JPEG (SOI, JFIF, optional EXIF padding, a frame header), then filler.

    Enough for anything that reads sizes from headers, as servers and this tool do."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", exif + 2) + b"\x00" * exif if exif else b""
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(64))
    marker = b"\xff\xc2" if progressive else b"\xff\xc0"
    sof = marker + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00" * 3
    return b"\xff\xd8" + app0 + app1 + dqt + sof + b"\xff\xda" + b"\x00" * 64 + b"\xff\xd9"


def webp_bytes(width: int, height: int, kind: str = "VP8X") -> bytes:
    """A WebP file's RIFF header with a VP8 (lossy), VP8L (lossless) or VP8X (extended) chunk."""
    if kind == "VP8X":
        chunk = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
        chunk += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        chunk = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    else:
        frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
        chunk = b"VP8 " + struct.pack("<I", len(frame)) + frame
    body = b"WEBP" + chunk + b"\x00" * 32
    return b"RIFF" + struct.pack("<I", len(body)) + body


HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
AVIF_HEAD = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64
