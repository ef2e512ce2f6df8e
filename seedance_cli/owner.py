"""Who holds a claim in the ledger, and whether that process is still alive.

Each process that claims a create holds an exclusive ``flock`` on a file of its own,
``<ledger folder>/owners/<token>``, for as long as it lives. The kernel releases it when the
process ends, however it ends (``kill -9`` included), so another process can tell a live owner
from a dead one without trusting pids, which get reused. Where ``flock`` does not exist
(Windows) every owner counts as alive: a claim is then never taken for dead, only waited on.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FOLDER = "owners"
LOCKS = "locks"

_held: dict[tuple[int, Path], tuple[str, int]] = {}
_guard = threading.Lock()


#: What ``token`` writes: only such a name is ever opened or removed under ``owners/``.
_TOKEN_RE = re.compile(r"[0-9]+-[0-9a-f]{12}")


def token(folder: Path) -> str:
    """This process's owner token for the ledger in ``folder``; its lock is taken on first use."""
    key = (os.getpid(), folder.resolve())
    with _guard:
        held = _held.get(key)
        if held is not None:
            return held[0]
        owners = folder / FOLDER
        owners.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        path = owners / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _held[key] = (name, fd)
        atexit.register(_release, path, fd)
        return name


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


def alive(folder: Path, owner: str | None) -> bool:
    """Whether the process that wrote ``owner`` into the ledger in ``folder`` still runs.

    A row without an owner was written by an older seedance, whose process is long gone."""
    if not owner or not _TOKEN_RE.fullmatch(owner):  # a row written by hand: never a path
        return False
    with _guard:
        if _held.get((os.getpid(), folder.resolve()), ("",))[0] == owner:
            return True
    if fcntl is None:  # pragma: no cover - Windows: cannot tell, so never take it for dead
        return True
    path = folder / FOLDER / owner
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the lock if we took it
    with contextlib.suppress(OSError):
        path.unlink()  # its owner is dead: tidy up
    return False


@contextlib.contextmanager
def exclusive(folder: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` (any text) under ``folder`` against other
    processes, waiting for it; it is released when the block ends or the process dies.
    Without a folder to lock in, the block runs unlocked."""
    import hashlib

    locks = folder / LOCKS
    path = locks / hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    try:
        locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # no folder for locks: go on unlocked, as a single run would
        yield
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
