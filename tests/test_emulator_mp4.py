"""Result videos of the requested length, made from the emulator's sample."""

from __future__ import annotations

import struct

import pytest

from seedance_cli.emulator.mp4 import Box, length, parse, with_duration
from seedance_cli.emulator.service import sample_video

SAMPLE = sample_video()


def tracks(video: bytes) -> list[Box]:
    moov = next(b for b in parse(video) if b.kind == b"moov")
    return [c for c in moov.children or () if c.kind == b"trak"]


def table(trak: Box, kind: bytes) -> Box:
    box: Box | None = trak
    for step in (b"mdia", b"minf", b"stbl", kind):
        assert box is not None
        box = box.find(step)
    assert box is not None
    return box


def chunk_bytes(video: bytes) -> list[bytes]:
    """The first 32 bytes of every chunk every track points at."""
    out = []
    for trak in tracks(video):
        stco = table(trak, b"stco").payload
        count = struct.unpack_from(">I", stco, 4)[0]
        for n in range(count):
            offset = struct.unpack_from(">I", stco, 8 + 4 * n)[0]
            out.append(video[offset : offset + 32])
    return out


def media_seconds(trak: Box) -> float:
    """A track's length by its own sample table (what a player plays), in seconds."""
    mdia = trak.find(b"mdia")
    assert mdia is not None
    mdhd = mdia.find(b"mdhd")
    assert mdhd is not None and mdhd.payload[0] == 0
    scale = struct.unpack_from(">I", mdhd.payload, 12)[0]
    stts = table(trak, b"stts").payload
    count = struct.unpack_from(">I", stts, 4)[0]
    total = sum(
        c * d for c, d in (struct.unpack_from(">II", stts, 8 + 8 * n) for n in range(count))
    )
    return float(total / scale)


@pytest.mark.parametrize("seconds", [5, 8, 15, 30])
def test_a_longer_result_holds_its_last_frame_and_says_its_length(seconds: int) -> None:
    video = with_duration(SAMPLE, seconds)
    assert length(video) == seconds
    video_track = tracks(video)[0]
    assert media_seconds(video_track) == pytest.approx(seconds, abs=0.05)
    # the media are the sample's, and every chunk offset still points at the same bytes
    assert chunk_bytes(video) == chunk_bytes(SAMPLE)
    assert video[4:8] == b"ftyp" and len(video) - len(SAMPLE) <= 16


def test_a_length_the_sample_already_has_is_the_sample() -> None:
    assert with_duration(SAMPLE, length(SAMPLE)) is SAMPLE
    assert with_duration(SAMPLE, 2) is SAMPLE
