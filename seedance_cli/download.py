"""Downloading result videos so that nothing is lost: ``.part`` files, resume, checks, then rename.

The body streams to ``NAME.part`` beside the target, with the server's validators (ETag,
Last-Modified) and the total size kept in ``NAME.part.json``. An interrupted transfer resumes with
``Range`` (and ``If-Range``); a server that ignores ``Range`` makes it start over cleanly. The file
is checked - its size against ``Content-Length``/``Content-Range``, its first box is an MP4 ``ftyp``
and its top-level boxes (``moov`` among them) fill it exactly - and only then renamed into place. An
HTML or JSON error page, or an empty body, is never saved as ``.mp4``.

Every file it creates is opened without following symbolic links (``O_NOFOLLOW``, and ``O_EXCL``
for its temporary files); a link, a folder or another hard link at the target, ``.part`` or
``.part.json`` is refused (``UnsafeFile``, exit 2) and never written through. Failures of this
machine (a full disk, a folder not writable) become ``SeedanceError``s with their own exit codes. Memory stays flat whatever the size. Standard library only: the HTTP
comes through a ``fetch`` callable (``Client.open_result``), which never sends the API key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import hashlib
import json
import os
import queue
import random
import re
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

from .errors import (
    BadResponse,
    DownloadBusy,
    IncompleteFile,
    LocalWriteFailed,
    NotAVideo,
    OutputUnusable,
    ResultGone,
    SeedanceError,
    ServerError,
    ServiceError,
    TargetExists,
    UnsafeFile,
)
from .http_errors import http_error
from .retry import RetryPolicy

CHUNK: Final = 1 << 20
#: The most a result with no announced size may take on disk (a video of 12 s is tens of MB): an
#: endless body is cut off here instead of filling the disk.
MAX_RESULT_BYTES: Final = 4_000_000_000
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


def _lstat(path: Path) -> os.stat_result | None:
    """``lstat`` of ``path``; ``None`` when nothing is there. Other failures become errors."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:
        raise OutputUnusable(f"{str(path)!r} is not a usable file name") from None
    except OSError as exc:
        raise local_error(exc, path) from None


def check_target(target: Path, *, force: bool, make: bool = False) -> None:
    """Everything about writing ``target`` that can be known before anything is sent.

    Its folder is one (or can be made) and is writable; the target is not a folder, a link or
    another special file, and exists only with ``force``; ``.part`` and ``.part.json`` are plain
    files of their own if they exist. Raises a ``UsageError`` (exit 2) saying what is wrong.
    """
    info = _lstat(target)
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeFile(
                f"{target} is a symbolic link; seedance never writes through a link or replaces it",
                hint="remove the link or choose another name",
            )
        if stat.S_ISDIR(info.st_mode):
            raise OutputUnusable(
                f"{target} is a folder; give a file name or a folder with a trailing /"
            )
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{target} exists and is not a regular file; not overwritten")
        if not force:
            raise TargetExists(target)
    for side in (part_path(target), _meta_path(target)):
        _check_side_file(side, _lstat(side))
    check_folder(target.parent, make=make)


def _check_side_file(path: Path, info: os.stat_result | None) -> None:
    """A ``.part`` or ``.part.json`` file must be a plain file of ours, with no other name."""
    if info is None:
        return
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_nlink > 1:
        problem = "has other hard links"
    elif info.st_uid != os.geteuid():  # planted by someone else: its bytes are not ours to resume
        problem = "belongs to another user"
    else:
        return
    raise UnsafeFile(
        f"{path} {problem}; seedance never writes through it",
        hint=f"remove {path} (seedance makes its own) and run the command again",
    )


#: What to do about an output place that cannot be used, for every command that saves: ``-o`` for
#: most, ``--output-dir`` for ``batch``, a ``Destination`` for the library.
ELSEWHERE: Final = "choose another place to save to (-o, or --output-dir for batch)"


def check_folder(folder: Path, *, make: bool = False) -> None:
    """``folder`` is a writable folder, or can be made: its nearest existing ancestor is one.

    With ``make`` the folder is made now and a file is written and removed in it: the only sure
    test (root passes every permission check, and ``/proc`` or a read-only mount refuse anyway),
    done before anything is paid for."""
    probe = folder
    while True:
        try:
            info = os.stat(probe)  # a link to a folder is the user's own choice: followed
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(probe):
                raise OutputUnusable(
                    f"cannot make the folder {folder}: {probe} is a broken symbolic link"
                ) from None
            if probe.parent == probe:
                raise OutputUnusable(f"cannot make the folder {folder}") from None
            probe = probe.parent
            continue
        except ValueError:
            raise OutputUnusable(f"{str(folder)!r} is not a usable folder name") from None
        except OSError as exc:
            raise local_error(exc, probe) from None
        break
    made = "" if probe == folder else f"cannot make the folder {folder}: "
    if not stat.S_ISDIR(info.st_mode):
        raise OutputUnusable(f"{made}{probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputUnusable(f"{made}the folder {probe} is not writable", hint=ELSEWHERE)
    if make:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".seedance-probe-", dir=folder)
            os.close(handle)
            os.unlink(name)
        except OSError as exc:
            error = local_error(exc, folder)
            if isinstance(error, LocalWriteFailed) and exc.errno not in (
                errno.ENOSPC,
                errno.EDQUOT,
            ):
                error = OutputUnusable(
                    f"cannot make or write the folder {folder}: {exc.strerror or exc}",
                    hint=ELSEWHERE,
                )
            raise error from None


def local_error(exc: OSError, path: Path | str | None = None) -> SeedanceError:
    """An ``OSError`` of this machine as the error (and exit code) it deserves: never exit 1.

    The user can fix a path (a link, a file where a folder is needed, no permission, a name too
    long): exit 2. A full disk or an I/O error is a failed download: exit 7, ``.part`` kept.
    """
    where = str(path if path is not None else exc.filename or "the file")
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ELOOP:
        return UnsafeFile(f"{where} is a symbolic link; seedance never writes through a link")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputUnusable(f"cannot write {where}: {reason}", hint=ELSEWHERE)
    if exc.errno in (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EINVAL, errno.EEXIST):
        return OutputUnusable(f"cannot use {where}: {reason}")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return LocalWriteFailed(
            f"cannot write {where}: no space left on the device",
            hint="free some space: what arrived is kept in the .part file, and the download "
            "resumes from it",
        )
    return LocalWriteFailed(f"cannot write {where}: {reason}")


def download(
    fetch: Fetch,
    url: str,
    target: Path,
    *,
    force: bool = False,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
    on_retry: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
) -> Saved:
    """Download ``url`` to ``target`` through ``target.part``; return what was saved.

    Transient failures (network, timeouts, a body cut short, 408/429/5xx) are retried by
    ``RetryPolicy.run``, each time resuming from what the ``.part`` file holds; a ``.part`` left
    by an earlier run that proves not to be a video is started over at once. ``ResultGone``
    (403/404/410, ``http_errors.http_error``) is raised at once: the caller may get a fresh URL
    and call again. ``KeyboardInterrupt`` leaves the ``.part`` file for the next call to resume.
    No retry starts that would end after ``deadline`` (a ``clock`` time, a wait's); ``on_retry``
    hears of each (the ``--verbose`` trace), as for API calls.
    """
    retrying = functools.partial(
        (retry or RetryPolicy()).run,
        sleep=sleep,
        rng=rng,
        clock=clock,
        deadline=deadline,
        on_retry=on_retry,
    )
    try:
        return _download(fetch, url, target, force, retrying, on_progress)
    except OSError as exc:
        raise local_error(exc, exc.filename or part_path(target)) from None


class Retrying(Protocol):
    """``RetryPolicy.run`` with its time and trace already given."""

    def __call__(
        self,
        attempt: Callable[[], Hash],
        *,
        retryable: Callable[[SeedanceError], bool],
        at_once: Callable[[SeedanceError], bool] | None = None,
    ) -> Hash: ...


def _download(
    fetch: Fetch,
    url: str,
    target: Path,
    force: bool,
    retrying: Retrying,
    on_progress: Progress | None,
) -> Saved:
    check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    with _claim(part):
        return _attempts(fetch, url, target, force, retrying, on_progress)


@contextlib.contextmanager
def _claim(part: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``.part`` for the whole download, so that two seedance processes
    (or threads) never write one file; the second is told so at once (``DownloadBusy``, exit 7).
    A ``.part`` left empty by a failure is removed; one with data is kept for the next run."""
    handle = _open_own(part, os.O_RDONLY | os.O_CREAT)
    fd, locked = handle.fileno(), False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            now = _lstat(part)
            if now is None or now.st_ino != os.fstat(fd).st_ino:
                raise BlockingIOError  # it was renamed or replaced meanwhile: not ours
        except BlockingIOError:
            raise DownloadBusy(
                f"another seedance is downloading to {part} right now",
                hint="let it finish; run the command again afterwards if it did not",
            ) from None
        locked = True
        yield
    finally:
        if locked:
            with contextlib.suppress(OSError, SeedanceError):
                now = _lstat(part)
                mine = os.fstat(fd)
                if now is not None and now.st_ino == mine.st_ino and mine.st_size == 0:
                    part.unlink()
        handle.close()


def _attempts(
    fetch: Fetch,
    url: str,
    target: Path,
    force: bool,
    retrying: Retrying,
    on_progress: Progress | None,
) -> Saved:
    part = part_path(target)
    started_at = _size(part)
    resumed = False

    def attempt() -> Hash:
        nonlocal resumed
        resumed = _size(part) > 0
        try:
            digest = _transfer(fetch, url, target, on_progress)
            _verify(part, _load_meta(target).get("total"))
        except (NotAVideo, IncompleteFile):
            # not a video, or complete as far as HTTP knew yet cut short: the next try starts over
            _discard(target)
            raise
        return digest

    def start_over(failure: SeedanceError) -> bool:
        # what an earlier run left may be what is wrong: start over once, without waiting
        return resumed and isinstance(failure, NotAVideo)

    digest: Hash = retrying(attempt, retryable=_download_retryable, at_once=start_over)
    with _open_own(part, os.O_RDONLY) as handle:
        size = os.fstat(handle.fileno()).st_size
        os.fsync(handle.fileno())
    _place(part, target, force=force)
    _fsync_dir(target.parent)
    with contextlib.suppress(OSError):  # the file is saved: a stale .part.json is harmless
        _meta_path(target).unlink(missing_ok=True)
    return Saved(target, size, digest.hexdigest(), started_at)


def _download_retryable(failure: SeedanceError) -> bool:
    """Whether a result download is worth another try, resuming from ``.part``: any failure of the
    network or the host (``ServiceError``, a ``ServerError`` status), except a URL the host
    refused (``ResultGone``: the caller gets a fresh one) and a body that is no video."""
    return isinstance(failure, ServiceError | ServerError) and not isinstance(
        failure, ResultGone | NotAVideo
    )


def _place(part: Path, target: Path, *, force: bool) -> None:
    """Rename ``part`` to ``target``: never over a link, never over a file without ``force``."""
    info = _lstat(target)
    if info is not None and stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(f"{target} became a symbolic link; not replaced")
    if force:
        os.replace(part, target)  # replaces the name itself: never writes through anything
        return
    try:
        os.link(part, target)  # atomic: fails if anything (a file, a link) appeared at target
    except FileExistsError:
        raise TargetExists(target) from None
    except OSError:  # a file system without hard links
        if _lstat(target) is not None:
            raise TargetExists(target) from None
        os.replace(part, target)
        return
    part.unlink()


def _size(path: Path) -> int:
    """The size of our own ``.part`` file, 0 when there is none; a link there is refused."""
    info = _lstat(path)
    _check_side_file(path, info)
    return info.st_size if info is not None else 0


def _open_own(path: Path, flags: int) -> IO[bytes]:
    """Open a file seedance owns, never following a link, refusing anything but a plain file.

    ``O_NONBLOCK`` keeps a FIFO planted there from blocking the open; ``O_TRUNC`` is never passed
    (the file is checked first, truncated after).
    """
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    try:
        _check_side_file(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    mode = "rb" if flags & os.O_ACCMODE == os.O_RDONLY else "ab" if flags & os.O_APPEND else "wb"
    return os.fdopen(fd, mode)


def _open_part(part: Path, *, append: bool) -> IO[bytes]:
    handle = _open_own(part, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else 0))
    if not append:
        os.ftruncate(handle.fileno(), 0)
    return handle


def _transfer(fetch: Fetch, url: str, target: Path, on_progress: Progress | None) -> Hash:
    """One attempt: resume ``.part`` if it has anything, else start it. Returns the sha256 of
    the whole ``.part`` file, computed as it is written (a resumed file's start is read once)."""
    part = part_path(target)
    meta = _load_meta(target)
    offset = _size(part)
    headers = {"Accept-Encoding": "identity"}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if isinstance(validator, str) and validator:
            headers["If-Range"] = validator
    # The start of a resumed file is hashed before the request: done between the headers and the
    # body, a slow disk could hold the connection past the result host's timeouts.
    prior = file_sha256(part) if offset > 0 else None
    with fetch(url, headers) as response:
        status = response.status
        if status == 416:
            total = _range_total(response.headers.get("content-range", ""))
            if total is not None and offset == total and offset > 0:
                assert prior is not None  # offset > 0
                return prior  # the .part file already holds everything
            _discard(target)
            raise BadResponse("the server could not resume this download; starting over")
        if status >= 400:  # ResultGone (403, 404, 410), ServerError or ServiceError
            raise http_error(
                status,
                response.text(300).encode(),
                response.headers,
                now=time.time(),
                result_host=True,
            )
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
            # a whole file answered with 206 to a plain GET starts the file like a 200
            append, digest = (
                (True, prior.copy()) if prior is not None else (False, hashlib.sha256())
            )
        else:  # 200: the whole file, whether or not we asked for a part
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            offset, append, digest = 0, False, hashlib.sha256()
        _save_meta(
            target,
            {
                "etag": response.headers.get("etag"),
                "last_modified": response.headers.get("last-modified"),
                "total": total,
            },
        )
        with _open_part(part, append=append) as handle:
            sink = _Sink(handle, digest)
            try:
                head = b"" if offset == 0 else None
                limit = total if total is not None else MAX_RESULT_BYTES
                for chunk in response.chunks():
                    if offset + len(chunk) > limit:  # never more than announced: not this file
                        raise NotAVideo(
                            f"the result host sent more than the {limit} bytes it announced"
                            if total is not None
                            else f"the result is larger than {limit} bytes; refused"
                        )
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
    """The whole file is there and is an MP4 whose top-level boxes fill it exactly.

    It runs on every path (fresh, resumed, restarted, 200, 206, already complete): an empty or
    tiny file, or one without the ``moov`` box a player needs, is never a result.
    """
    with _open_own(part, os.O_RDONLY) as handle:
        size = os.fstat(handle.fileno()).st_size
        if isinstance(total, int) and not isinstance(total, bool) and size != total:
            raise IncompleteFile(f"the file has {size} bytes, the server announced {total}")
        if size < 8:
            raise NotAVideo(
                "the result host sent an empty file"
                if size == 0
                else f"the result host sent {size} bytes: not an MP4 file"
            )
        position, first, kinds = 0, True, set()
        while position < size:
            handle.seek(position)
            header = handle.read(16)
            if len(header) < 8:
                raise IncompleteFile("the file ends inside an MP4 box header: it is incomplete")
            box_size, kind = struct.unpack(">I4s", header[:8])
            if first and kind != b"ftyp":
                raise NotAVideo("the file is not an MP4 (its first box is not ftyp)")
            first = False
            kinds.add(kind)
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
        if b"moov" not in kinds:
            raise NotAVideo("the file is not a playable MP4 (it has no moov box)")


def _content_range(value: str) -> tuple[int, int | None]:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if match is None:
        raise BadResponse(f"a 206 answer with an unreadable Content-Range {value!r}")
    return int(match[1]), None if match[3] == "*" else int(match[3])


def _range_total(value: str) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value)
    return int(match[1]) if match else None


def _load_meta(target: Path) -> dict[str, object]:
    """What ``.part.json`` says, as far as it makes sense; a corrupt file is as good as none."""
    path = _meta_path(target)
    _check_side_file(path, _lstat(path))
    try:
        with _open_own(path, os.O_RDONLY) as handle:
            data = json.loads(handle.read(1 << 16).decode())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    total = data.get("total")
    return {
        "etag": data["etag"] if isinstance(data.get("etag"), str) else None,
        "last_modified": data["last_modified"]
        if isinstance(data.get("last_modified"), str)
        else None,
        "total": total
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0
        else None,
    }


def _save_meta(target: Path, meta: Mapping[str, object]) -> None:
    """Write ``.part.json`` through a fresh temporary file (``O_EXCL``, unpredictable name)."""
    path = _meta_path(target)
    _check_side_file(path, _lstat(path))
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".seedance-", suffix=".part.json.tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(dict(meta)))
        os.replace(temp, path)  # replaces the name: a link planted there is not written through
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _discard(target: Path) -> None:
    """Start over: empty ``.part`` in place (its lock stays with it), forget ``.part.json``."""
    part = part_path(target)
    if _lstat(part) is not None:
        with _open_part(part, append=False):
            pass
    _meta_path(target).unlink(missing_ok=True)


def file_sha256(path: Path) -> Hash:
    """The sha256 of a file seedance wrote (opened as ``.part`` files are: no link followed)."""
    digest = hashlib.sha256()
    with _open_own(path, os.O_RDONLY) as handle:
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


#: A task id used as a file name as it is: no separator, no leading dot, no NUL, not too long.
SAFE_STEM: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,149}")


def safe_stem(task_id: str) -> str:
    """``task_id`` as the stem of a file name that stays inside its folder, whatever the server
    sent: an ordinary id is kept; anything else (``../x``, ``/etc/x``, NUL, 10 000 characters)
    keeps only its safe characters, with a hash of the whole id so different ids stay apart."""
    if SAFE_STEM.fullmatch(task_id):
        return task_id
    digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id).strip("._-")[:100].rstrip("._-")
    return f"{cleaned}-{digest}" if cleaned else f"task-{digest}"


#: The containers a result may come in (``output_format``): by the result URL's extension.
VIDEO_SUFFIXES: Final = (".mp4", ".mov")


def video_suffix(url: str | None) -> str:
    """The file extension for a result at ``url``: ``.mov`` for a QuickTime result (a 2.5 model
    asked for ``output_format: mov``), else ``.mp4``."""
    from urllib.parse import urlsplit

    path = urlsplit(url).path.lower() if url else ""
    return next((s for s in VIDEO_SUFFIXES if path.endswith(s)), ".mp4")


def result_name(task_id: str, index: int, *, base: Path | None = None, suffix: str = ".mp4") -> str:
    """``<task-id>.mp4``, ``<task-id>-2.mp4`` for a second result (``suffix`` for a ``.mov``
    one); or ``base``'s name likewise (a name the user gave is kept as given).

    A task id comes from the server: it is made safe first (``safe_stem``)."""
    if suffix not in VIDEO_SUFFIXES:
        suffix = ".mp4"
    if base is None:
        stem = safe_stem(task_id)
        return f"{stem}{suffix}" if index == 0 else f"{stem}-{index + 1}{suffix}"
    if index == 0:
        return base.name
    return f"{base.stem}-{index + 1}{base.suffix}"
