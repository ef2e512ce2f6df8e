"""Downloading result videos so that nothing is lost: ``.part`` files, resume, checks, then rename.

The body streams to ``NAME.part`` beside the target, with the server's validators (ETag,
Last-Modified) and the total size kept in ``NAME.part.json``. An interrupted transfer resumes with
``Range`` (and ``If-Range``); a server that ignores ``Range`` makes it start over cleanly. The file
is checked - its size against ``Content-Length``/``Content-Range``, its first box is an MP4 ``ftyp``
and its top-level boxes fill it exactly - and only then renamed into place. An HTML or JSON error page
is never saved as ``.mp4``. Memory stays flat whatever the size. Standard library only: the HTTP
comes through a ``fetch`` callable (``Client.open_result``), which never sends the API key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import random
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

from .errors import BadResponse, ServerError, ServiceError, UsageError
from .retry import RetryPolicy, is_retryable_status, parse_retry_after

CHUNK: Final = 1 << 20
#: Content types that are surely not a video: an error page or an API answer.
NOT_VIDEO_TYPES: Final = re.compile(
    r"^(text/|application/(json|xml|problem)|[^;]*\+(json|xml))", re.I
)


class Response(Protocol):
    status: int
    headers: Mapping[str, str]

    def chunks(self) -> Iterator[bytes]: ...

    def text(self, limit: int = ...) -> str: ...


Fetch = Callable[[str, Mapping[str, str]], AbstractContextManager[Response]]
Progress = Callable[[int, int | None], None]


class ResultGone(ServiceError):
    """The result host refused the URL (403, 404, 410): expired, or signed for another time."""

    code = "result_gone"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(
            f"the result host answered HTTP {status}" + (f": {detail}" if detail else "")
        )
        self.status = status


class NotAVideo(BadResponse):
    """The body is not an MP4: an error page, an API answer, or a file cut short."""

    code = "not_a_video"


class IncompleteFile(BadResponse):
    """The transfer ended as HTTP said it should, yet the MP4 inside is cut short."""

    code = "incomplete_file"


class TargetExists(UsageError):
    code = "file_exists"

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} exists; not overwritten", hint="add --force to replace it")
        self.path = path


@dataclasses.dataclass(frozen=True)
class Saved:
    path: Path
    size: int
    sha256: str
    resumed_from: int


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _meta_path(target: Path) -> Path:
    return target.with_name(target.name + ".part.json")


def check_target(target: Path, *, force: bool) -> None:
    """Refuse an existing file without ``force``; refuse a folder in the way in any case."""
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name or a folder with a trailing /")
    if target.exists() and not force:
        raise TargetExists(target)


def download(
    fetch: Fetch,
    url: str,
    target: Path,
    *,
    force: bool = False,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    on_progress: Progress | None = None,
) -> Saved:
    """Download ``url`` to ``target`` through ``target.part``; return what was saved.

    Transient failures (network, timeouts, a body cut short, 408/429/5xx) are retried, each time
    resuming from what the ``.part`` file holds. ``ResultGone`` (403/404/410) is raised at once: the
    caller may get a fresh URL and call again. ``KeyboardInterrupt`` leaves the ``.part`` file for
    the next call to resume.
    """
    policy = retry or RetryPolicy()
    check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    started_at = part.stat().st_size if part.exists() else 0
    attempt = 0
    while True:
        attempt += 1
        try:
            digest = _transfer(fetch, url, target, on_progress)
            _verify(part, _load_meta(target).get("total"))
            break
        except NotAVideo:
            _discard(target)
            raise
        except (ServiceError, ServerError) as exc:
            if isinstance(exc, IncompleteFile):
                _discard(target)  # complete as far as HTTP knew, yet cut short: start over
            if isinstance(exc, ResultGone) or attempt >= policy.max_attempts:
                raise
            retry_after = exc.retry_after if isinstance(exc, ServerError) else None
            sleep(policy.delay(attempt, retry_after, rng))
    size = part.stat().st_size
    with open(part, "rb+") as handle:
        os.fsync(handle.fileno())
    if target.exists() and not force:  # it appeared while we downloaded
        raise TargetExists(target)
    os.replace(part, target)
    _fsync_dir(target.parent)
    _meta_path(target).unlink(missing_ok=True)
    return Saved(target, size, digest.hexdigest(), started_at)


def _transfer(fetch: Fetch, url: str, target: Path, on_progress: Progress | None) -> Hash:
    """One attempt: resume ``.part`` if it has anything, else start it. Returns the sha256 of
    the whole ``.part`` file, computed as it is written (a resumed file's start is read once)."""
    part = part_path(target)
    meta = _load_meta(target)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if isinstance(validator, str) and validator:
            headers["If-Range"] = validator
    with fetch(url, headers) as response:
        status = response.status
        if status in (403, 404, 410):
            raise ResultGone(status, " ".join(response.text(300).split())[:200])
        if status == 416:
            total = _range_total(response.headers.get("content-range", ""))
            if total is not None and offset == total and offset > 0:
                return _sha256(part)  # the .part file already holds everything
            _discard(target)
            raise BadResponse("the server could not resume this download; starting over")
        if status >= 400:
            detail = " ".join(response.text(300).split())[:200]
            error = f"the result host answered HTTP {status}" + (f": {detail}" if detail else "")
            if is_retryable_status(status):
                raise ServerError(
                    error,
                    status=status,
                    retry_after=parse_retry_after(response.headers.get("retry-after"), time.time()),
                )
            raise ServiceError(error)
        content_type = response.headers.get("content-type", "")
        if NOT_VIDEO_TYPES.match(content_type):
            raise NotAVideo(
                f"the result host sent {content_type.split(';')[0]} instead of a video: "
                + " ".join(response.text(200).split())[:120]
            )
        if status == 206:
            start, total = _content_range(response.headers.get("content-range", ""))
            if start != offset or (meta.get("total") not in (None, total)):
                _discard(target)
                raise BadResponse("the server sent another part than asked for; starting over")
            mode, digest = "ab", _sha256(part)
        else:  # 200: the whole file, whether or not we asked for a part
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            offset, mode, digest = 0, "wb", hashlib.sha256()
        _save_meta(
            target,
            {
                "etag": response.headers.get("etag"),
                "last_modified": response.headers.get("last-modified"),
                "total": total,
            },
        )
        with open(part, mode) as handle:
            sink = _Sink(handle, digest)
            try:
                head = b"" if offset == 0 else None
                for chunk in response.chunks():
                    if head is not None and len(head) < 8:
                        head += chunk[: 8 - len(head)]
                        if len(head) >= 8 and head[4:8] != b"ftyp":
                            raise NotAVideo(
                                "the body does not start like an MP4 file (no ftyp box)"
                            )
                    sink.put(chunk)
                    offset += len(chunk)
                    if on_progress is not None:
                        on_progress(offset, total)
            finally:
                sink.close()  # whatever arrived is on disk, for the next attempt to resume from
    if total is not None and offset < total:
        raise BadResponse(f"the download stopped at {offset} of {total} bytes")
    return digest


class _Sink:
    """Writes blocks to the file and feeds sha256 on two worker threads, so that the network, the
    disk and the hash overlap (both release the GIL). Bounded queues keep memory flat."""

    _END: Final = b""

    def __init__(self, handle: IO[bytes], digest: Hash, depth: int = 8) -> None:
        self._errors: list[BaseException] = []
        self._queues: list[queue.Queue[bytes]] = [queue.Queue(depth), queue.Queue(depth)]
        self._threads = [
            threading.Thread(target=self._drain, args=(q, step), daemon=True)
            for q, step in zip(self._queues, (handle.write, digest.update), strict=True)
        ]
        for thread in self._threads:
            thread.start()

    def _drain(self, blocks: queue.Queue[bytes], step: Callable[[bytes], object]) -> None:
        while (block := blocks.get()) is not self._END:
            if not self._errors:
                try:
                    step(block)
                except BaseException as exc:  # surfaced in put() or close()
                    self._errors.append(exc)

    def put(self, block: bytes) -> None:
        if self._errors:
            self.close()
        for blocks in self._queues:
            blocks.put(block)

    def close(self) -> None:
        """Finish every queued block, stop the workers, raise the first failure."""
        if self._threads:
            for blocks in self._queues:
                blocks.put(self._END)
            for thread in self._threads:
                thread.join()
            self._threads = []
        if self._errors:
            raise self._errors[0]


def _verify(part: Path, total: object) -> None:
    """The whole file is there and is an MP4 whose top-level boxes fill it exactly."""
    size = part.stat().st_size
    if isinstance(total, int) and size != total:
        raise IncompleteFile(f"the file has {size} bytes, the server announced {total}")
    with open(part, "rb") as handle:
        position, first = 0, True
        while position < size:
            handle.seek(position)
            header = handle.read(16)
            if len(header) < 8:
                raise IncompleteFile("the file ends inside an MP4 box header: it is incomplete")
            box_size, kind = struct.unpack(">I4s", header[:8])
            if first and kind != b"ftyp":
                raise NotAVideo("the file is not an MP4 (its first box is not ftyp)")
            first = False
            if box_size == 1:
                if len(header) < 16:
                    raise IncompleteFile("the file ends inside an MP4 box header: it is incomplete")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - position
            if box_size < 8:
                raise NotAVideo("the file holds a corrupt MP4 box")
            position += box_size
        if position != size:
            raise IncompleteFile(
                f"the MP4 file is incomplete: its boxes need {position} bytes, it has {size}"
            )


def _content_range(value: str) -> tuple[int, int | None]:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if match is None:
        raise BadResponse(f"a 206 answer with an unreadable Content-Range {value!r}")
    return int(match[1]), None if match[3] == "*" else int(match[3])


def _range_total(value: str) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value)
    return int(match[1]) if match else None


def _load_meta(target: Path) -> dict[str, object]:
    try:
        data = json.loads(_meta_path(target).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_meta(target: Path, meta: Mapping[str, object]) -> None:
    path = _meta_path(target)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(dict(meta)))
    os.replace(temp, path)


def _discard(target: Path) -> None:
    part_path(target).unlink(missing_ok=True)
    _meta_path(target).unlink(missing_ok=True)


def _sha256(path: Path) -> Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def result_name(task_id: str, index: int, *, base: Path | None = None) -> str:
    """``<task-id>.mp4``, ``<task-id>-2.mp4`` for a second result; or ``base``'s name likewise."""
    if base is None:
        return f"{task_id}.mp4" if index == 0 else f"{task_id}-{index + 1}.mp4"
    if index == 0:
        return base.name
    return f"{base.stem}-{index + 1}{base.suffix}"
