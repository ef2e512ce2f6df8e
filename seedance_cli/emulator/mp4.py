"""Result videos of a requested length, made from the one sample the emulator ships.

The sample (``sample.mp4``) is a short H.264 + AAC clip. ``with_duration`` makes it ``seconds`` long
the way a real file of that length is built: the last video frame is held (its entry in the video
track's ``stts`` table lasts until the end), and every duration the file states (``mvhd``, each
track's ``tkhd``, ``mdhd`` and edit list) says the new length, so a player or ``ffprobe`` reports it.
The audio track keeps its own length (silence after it). Only box headers and tables change; the
media bytes (``mdat``) are the sample's, and the chunk offsets are moved by what ``moov`` grew.
A length at or under the sample's own is served as the sample.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Final

#: Boxes that hold other boxes, down to the tables this module edits.
CONTAINERS: Final = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})


@dataclasses.dataclass
class Box:
    kind: bytes
    payload: bytes = b""
    children: list[Box] | None = None

    def find(self, kind: bytes) -> Box | None:
        return next((c for c in self.children or () if c.kind == kind), None)

    def get(self, *path: bytes) -> Box:
        """The box down ``path``; ``ValueError`` when the file lacks it."""
        box = self
        for kind in path:
            found = box.find(kind)
            if found is None:
                raise ValueError(f"no {kind!r} in {box.kind!r}")
            box = found
        return box

    def encode(self) -> bytes:
        body = (
            b"".join(c.encode() for c in self.children)
            if self.children is not None
            else self.payload
        )
        return struct.pack(">I4s", 8 + len(body), self.kind) + body


def parse(data: bytes, *, containers: frozenset[bytes] = CONTAINERS) -> list[Box]:
    """The boxes of ``data``; ``ValueError`` for anything that is not a plain ISO BMFF list."""
    boxes = []
    at = 0
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, at)
        if size < 8 or at + size > len(data):  # 64-bit and to-the-end sizes: not in the sample
            raise ValueError(f"unsupported box size {size} for {kind!r}")
        body = data[at + 8 : at + size]
        boxes.append(
            Box(kind, children=parse(body)) if kind in containers else Box(kind, payload=body)
        )
        at += size
    return boxes


def _timing(payload: bytes, *, tkhd: bool = False) -> tuple[int, int]:
    """(offset of the duration field, its width) in a ``mvhd``/``mdhd``/``tkhd`` payload."""
    version = payload[0]
    if tkhd:
        return (28, 8) if version == 1 else (20, 4)
    return (24, 8) if version == 1 else (16, 4)


def _timescale(payload: bytes) -> int:
    """The timescale of a ``mvhd`` or ``mdhd`` payload."""
    at = 20 if payload[0] == 1 else 12
    value: int = struct.unpack_from(">I", payload, at)[0]
    return value


def _set(payload: bytes, at: int, width: int, value: int) -> bytes:
    return payload[:at] + value.to_bytes(width, "big") + payload[at + width :]


def _duration(payload: bytes, *, tkhd: bool = False) -> int:
    at, width = _timing(payload, tkhd=tkhd)
    return int.from_bytes(payload[at : at + width], "big")


def length(data: bytes) -> float:
    """The length a file states (``mvhd``), in seconds."""
    mvhd = _moov(parse(data)).get(b"mvhd")
    return _duration(mvhd.payload) / _timescale(mvhd.payload)


def _moov(boxes: list[Box]) -> Box:
    moov = next((b for b in boxes if b.kind == b"moov"), None)
    if moov is None:
        raise ValueError("no moov box")
    return moov


def _hold_last_frame(stbl: Box, extra: int) -> None:
    """Make the last sample of a track ``extra`` units longer (its own ``stts`` entry)."""
    stts = stbl.get(b"stts")
    count = struct.unpack_from(">I", stts.payload, 4)[0]
    entries = [struct.unpack_from(">II", stts.payload, 8 + 8 * n) for n in range(count)]
    last_count, last_delta = entries[-1]
    entries[-1:] = [(last_count - 1, last_delta)] if last_count > 1 else []
    entries.append((1, last_delta + extra))
    stts.payload = (
        stts.payload[:4]
        + struct.pack(">I", len(entries))
        + b"".join(struct.pack(">II", c, d) for c, d in entries)
    )


def _shift_chunks(box: Box, by: int) -> None:
    """Move every chunk offset (``stco``/``co64``) of the tracks under ``box`` by ``by`` bytes."""
    for child in box.children or ():
        if child.kind in (b"stco", b"co64"):
            width = 4 if child.kind == b"stco" else 8
            count = struct.unpack_from(">I", child.payload, 4)[0]
            offsets = [
                int.from_bytes(child.payload[8 + width * n : 8 + width * (n + 1)], "big") + by
                for n in range(count)
            ]
            child.payload = child.payload[:8] + b"".join(o.to_bytes(width, "big") for o in offsets)
        else:
            _shift_chunks(child, by)


def with_duration(video: bytes, seconds: float) -> bytes:
    """``video`` made ``seconds`` long (see the module docstring); itself when not longer."""
    boxes = parse(video)
    moov = _moov(boxes)
    mvhd = moov.get(b"mvhd")
    movie_scale = _timescale(mvhd.payload)
    target = round(seconds * movie_scale)
    if target <= _duration(mvhd.payload):
        return video
    for trak in (c for c in moov.children or () if c.kind == b"trak"):
        if trak.get(b"mdia", b"hdlr").payload[8:12] != b"vide":
            continue
        tkhd, mdhd = trak.get(b"tkhd"), trak.get(b"mdia", b"mdhd")
        scale = _timescale(mdhd.payload)
        media_target = round(seconds * scale)
        stbl = trak.get(b"mdia", b"minf", b"stbl")
        _hold_last_frame(stbl, media_target - _duration(mdhd.payload))
        mdhd.payload = _set(mdhd.payload, *_timing(mdhd.payload), media_target)
        tkhd.payload = _set(tkhd.payload, *_timing(tkhd.payload, tkhd=True), target)
        edts = trak.find(b"edts")
        elst = edts.find(b"elst") if edts is not None else None
        if elst is not None and struct.unpack_from(">I", elst.payload, 4)[0] == 1:
            elst.payload = _set(elst.payload, 8, 8 if elst.payload[0] == 1 else 4, target)
    mvhd.payload = _set(mvhd.payload, *_timing(mvhd.payload), target)
    grown = len(moov.encode()) - sum(len(b.encode()) for b in parse(video) if b.kind == b"moov")
    kinds = [b.kind for b in boxes]
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        _shift_chunks(moov, grown)
    return b"".join(b.encode() for b in boxes)
