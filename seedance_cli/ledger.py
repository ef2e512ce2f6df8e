"""The local task ledger: every create and every observation, in SQLite, so no task id is ever lost.

A row is written before a create is sent (its idempotency key, prompt and parameters), gets the task
id the moment the create answers, and is updated on every observation: status, progress, results,
error, when the results expire, where they were saved and their sha256.

Several processes may write at once (WAL, a busy timeout, one short transaction per write). A ledger
that cannot be opened or written never stops a generation that was already paid for: every method
that records an observation swallows database and file-system errors, reports them once through
``on_warning``, and carries on. The one exception is ``claim``: a create is claimed in one atomic
insert before it is sent, and a claim that cannot be written raises ``HistoryUnavailable``, so that
nothing is sent that the ledger cannot record.

A claim row records its owner (see ``owner``): another process that finds the row waits on it
while the owner lives, and takes it as an unknown outcome (never resent) once the owner is dead.
Opening the ledger marks ``creating`` rows of dead owners ``outcome_unknown``.
The schema is versioned with ``PRAGMA user_version`` and migrates forward.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

from . import owner as owners
from .errors import HistoryUnavailable, UsageError
from .models import MAX_CREDITS, Task, epoch_seconds

FILE_NAME: Final = "history.sqlite3"
#: API.md: result URLs live 24 hours after the task completes.
RESULT_TTL: Final = 24 * 3600
BUSY_TIMEOUT_MS: Final = 10_000

#: Each entry moves the schema from version ``index`` to ``index + 1``. Only ever append.
MIGRATIONS: Final[Sequence[str]] = (
    """
    CREATE TABLE tasks (
        row_id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT UNIQUE,
        task_id TEXT UNIQUE,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        profile TEXT,
        base_url TEXT,
        prompt TEXT,
        params TEXT,
        status TEXT,
        progress INTEGER,
        results TEXT,
        error_code TEXT,
        error_message TEXT,
        note TEXT,
        completed_at REAL,
        expires_at REAL
    );
    CREATE INDEX tasks_created ON tasks (created_at);
    CREATE TABLE files (
        task_id TEXT NOT NULL,
        result_index INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        saved_at REAL NOT NULL,
        PRIMARY KEY (task_id, result_index)
    );
    """,
    """
    ALTER TABLE tasks ADD COLUMN local_images TEXT;
    ALTER TABLE tasks ADD COLUMN batch_key TEXT;
    CREATE UNIQUE INDEX tasks_batch_key ON tasks (batch_key);
    """,
    """
    ALTER TABLE tasks ADD COLUMN owner TEXT;
    """,
    # What a task was expected to cost and what it did: the estimate made before the create (JSON:
    # pricing.Estimate.as_json()), the API's reservation, and the billing figures when they come.
    """
    ALTER TABLE tasks ADD COLUMN estimate TEXT;
    ALTER TABLE tasks ADD COLUMN credits_reserved REAL;
    ALTER TABLE tasks ADD COLUMN credits_charged REAL;
    ALTER TABLE tasks ADD COLUMN credits_refunded REAL;
    ALTER TABLE tasks ADD COLUMN charge_status TEXT;
    ALTER TABLE tasks ADD COLUMN replayed INTEGER;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: Row states: what the ledger knows about the create itself.
CREATING: Final = "creating"  # written, the create not answered yet
CREATED: Final = "created"  # the API answered with a task id
UNKNOWN: Final = "outcome_unknown"  # sent; no usable answer: a task may exist
OBSERVED: Final = "observed"  # a task this ledger did not create, seen by status/wait/download

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Claim:
    """What ``claim`` found: ``mine`` (send the create), or the row someone else holds."""

    mine: bool
    idempotency_key: str
    task_id: str | None = None
    state: str = CREATING
    owner: str | None = None
    owner_alive: bool = True

    @property
    def held(self) -> bool:
        """Another live process is sending this create: wait for its task id."""
        return (
            not self.mine and self.task_id is None and self.state == CREATING and self.owner_alive
        )


@dataclasses.dataclass(frozen=True)
class SavedFile:
    result_index: int
    path: str
    sha256: str
    bytes: int
    saved_at: float


@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the ledger, as ``history`` shows it."""

    idempotency_key: str | None
    task_id: str | None
    state: str
    created_at: float | None
    updated_at: float | None
    profile: str | None
    base_url: str | None
    prompt: str | None
    params: dict[str, Any]
    status: str | None
    progress: int | None
    results: list[str]
    error_code: str | None
    error_message: str | None
    note: str | None
    completed_at: float | None
    expires_at: float | None
    local_images: list[dict[str, str]]
    batch_key: str | None
    files: list[SavedFile]
    estimate: dict[str, Any] | None = None
    credits_reserved: float | None = None
    credits_charged: float | None = None
    credits_refunded: float | None = None
    charge_status: str | None = None
    replayed: bool = False

    @property
    def credits_released(self) -> float | None:
        """What the API gave back: a failed or cancelled task is not charged, so its whole
        reservation is released (API.md), unless the billing says it charged something."""
        if self.charge_status == "released" or (
            self.status in ("failed", "cancelled") and not self.credits_charged
        ):
            return self.credits_reserved
        return None

    def result_state(self, now: float) -> str:
        """``saved``, ``downloadable``, ``expired``, or ``none`` (no result to speak of)."""
        if self.files:
            return "saved"
        if self.status != "completed" or not self.results:
            return "none"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "downloadable"


def _busy(exc: BaseException) -> bool:
    """Whether a database error is another writer holding it past the busy timeout (a passing
    condition), rather than a broken, full or unwritable history."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in ("locked", "busy")
    )


def _guarded(method: Callable[P, R]) -> Callable[P, R | None]:
    """Run a ledger method; on a database or file-system error warn once and return ``None``."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
        ledger = args[0]
        assert isinstance(ledger, Ledger)
        if ledger.disabled:
            return None
        try:
            return method(*args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            ledger.fail(exc)
            return None

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


def _kept(method: Callable[P, None]) -> Callable[P, None]:
    """A write of what happened to a task (its id, its status, a saved file): never dropped for
    a history that is only busy. While another process holds the database past the busy timeout,
    the write is kept, in order, and made at the next write or at ``flush``; the run goes on.
    Any other failure turns the history off, as ``_guarded`` does."""

    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        ledger = args[0]
        assert isinstance(ledger, Ledger)
        if ledger.disabled:
            return
        about = next(
            (a.id if isinstance(a, Task) else a for a in args[1:] if isinstance(a, Task | str)),
            "?",
        )
        with ledger._lock:
            ledger._pending.append((about, lambda: method(*args, **kwargs)))
            ledger._drain()

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


class Ledger:
    """The task history in ``folder/history.sqlite3``. Safe to share between threads of a process."""

    def __init__(
        self,
        folder: Path,
        *,
        clock: Callable[[], float] = time.time,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.path = folder / FILE_NAME
        self.clock = clock
        self.on_warning = on_warning
        self.disabled = False
        self.broken: BaseException | None = None  # why writing failed; claims refuse after it
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        #: Writes kept while the database was busy, made in order as soon as it is free again.
        self._pending: list[tuple[str, Callable[[], None]]] = []
        self._busy_told = False

    # -- plumbing ----------------------------------------------------------------------------------

    def fail(self, exc: BaseException) -> None:
        """Turn the ledger off for this run and say so once; the work goes on without it."""
        if not self.disabled and self.on_warning is not None:
            detail = getattr(exc, "strerror", None) or str(exc)
            self.on_warning(
                f"task history unavailable ({self.path}: {detail}); carrying on without it"
            )
        self.disabled = True
        self.broken = exc

    def _drain(self) -> None:
        """Make the kept writes, oldest first; stop at the first that finds the database still
        busy (it stays kept, as do those after it)."""
        while self._pending and not self.disabled:
            try:
                self._pending[0][1]()
            except (sqlite3.Error, OSError) as exc:
                if not _busy(exc):
                    self._pending.clear()
                    self.fail(exc)
                    return
                if not self._busy_told and self.on_warning is not None:
                    self.on_warning(
                        f"task history busy ({self.path}: another process holds it); what "
                        "happens is kept and written as soon as it is free"
                    )
                self._busy_told = True
                return
            self._pending.pop(0)

    def flush(self, *, patience: float = 60.0) -> bool:
        """Write what was kept while the database was busy, trying for up to ``patience``
        seconds; whether nothing is left unwritten (if something is, a warning names it)."""
        deadline = time.monotonic() + patience
        with self._lock:
            self._drain()
            while self._pending and not self.disabled and time.monotonic() < deadline:
                time.sleep(0.2)
                self._drain()
            if self._pending and self.on_warning is not None:
                about = ", ".join(dict.fromkeys(what for what, _ in self._pending))
                self.on_warning(
                    f"the task history ({self.path}) stayed busy: not recorded for {about}"
                )
            return not self._pending

    @property
    def unwritten(self) -> int:
        """How many writes are still kept, waiting for a busy database."""
        return len(self._pending)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._use_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            with contextlib.suppress(sqlite3.Error, OSError):
                self._reap(conn)
        return self._conn

    def _reap(self, conn: sqlite3.Connection) -> None:
        """Mark ``outcome_unknown`` every ``creating`` row whose owner is dead: its create may
        have reached the server (a process killed between the claim and the answer)."""
        rows = conn.execute(
            "SELECT idempotency_key, owner FROM tasks WHERE state = ? AND task_id IS NULL",
            (CREATING,),
        ).fetchall()
        dead = [(key, who) for key, who in rows if not owners.alive(self.path.parent, who)]
        for key, who in dead:
            self._mark_dead(conn, key, who)

    def _mark_dead(self, conn: sqlite3.Connection, key: str, who: str | None) -> None:
        pid = who.split("-")[0] if who else None
        cause = (
            f"the process that sent the create (pid {pid}) ended before it answered"
            if pid
            else "the process that sent the create ended before it answered"
        )
        conn.execute(
            "UPDATE tasks SET state = ?, note = ?, updated_at = ? WHERE idempotency_key = ? "
            "AND state = ? AND task_id IS NULL AND owner IS ?",
            (UNKNOWN, cause, self.clock(), key, CREATING, who),
        )

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        """Switch to WAL. SQLite does not wait on a busy database for this, so we do."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"written by a newer seedance (schema {version} > {SCHEMA_VERSION})"
            )
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may
            for number in range(version, SCHEMA_VERSION):  # have migrated meanwhile
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken at once so that writers queue instead of deadlocking."""
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    # -- the create ---------------------------------------------------------------------------------

    def claim(
        self,
        idempotency_key: str,
        body: Mapping[str, Any],
        *,
        profile: str | None,
        base_url: str | None,
        local_images: Sequence[Mapping[str, str]] = (),
        batch_key: str | None = None,
        estimate: Mapping[str, Any] | None = None,
    ) -> Claim:
        """Claim a create before it is sent: one atomic insert of a ``creating`` row owned by this
        process. ``mine`` when it is ours to send; otherwise the row that holds the key (or the
        batch line) already. Raises ``HistoryUnavailable`` when the claim cannot be written.
        A ledger turned off on purpose (``--sandbox``) lets every create through."""
        with self._lock:
            self._drain()  # what happened before this claim is recorded before it
        if self.broken is not None:
            raise self._unavailable(self.broken)
        if self.disabled:
            return Claim(True, idempotency_key)
        try:
            now = self.clock()
            with self._write() as conn:
                me = owners.token(self.path.parent)
                inserted = conn.execute(
                    "INSERT INTO tasks (idempotency_key, state, created_at, updated_at, profile, "
                    "base_url, prompt, params, local_images, batch_key, owner, estimate) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (
                        idempotency_key,
                        CREATING,
                        now,
                        now,
                        profile,
                        base_url,
                        body.get("prompt"),
                        json.dumps(dict(body)),
                        json.dumps(list(local_images)) if local_images else None,
                        batch_key,
                        me,
                        json.dumps(dict(estimate)) if estimate is not None else None,
                    ),
                ).rowcount
                if inserted == 1:
                    return Claim(True, idempotency_key, owner=me)
                row = conn.execute(
                    "SELECT idempotency_key, task_id, state, owner FROM tasks "
                    "WHERE idempotency_key = ? OR (batch_key IS NOT NULL AND batch_key = ?)",
                    (idempotency_key, batch_key),
                ).fetchone()
                if row is None:  # pragma: no cover - a conflict leaves a row
                    raise sqlite3.IntegrityError("claim conflicted with no row")
                return self._holder(conn, *row)
        except (sqlite3.Error, OSError) as exc:
            self.broken = exc  # no more claims; observations still try to be recorded
            raise self._unavailable(exc) from None

    def holder(self, idempotency_key: str) -> Claim | None:
        """Who holds ``idempotency_key`` now (``None``: no row). Raises ``HistoryUnavailable``
        when the history cannot be asked."""
        with self._lock:
            self._drain()  # what happened before this claim is recorded before it
        if self.broken is not None:
            raise self._unavailable(self.broken)
        if self.disabled:
            return None
        try:
            with self._write() as conn:
                row = conn.execute(
                    "SELECT idempotency_key, task_id, state, owner FROM tasks "
                    "WHERE idempotency_key = ?",
                    (idempotency_key,),
                ).fetchone()
                return None if row is None else self._holder(conn, *row)
        except (sqlite3.Error, OSError) as exc:
            self.broken = exc
            raise self._unavailable(exc, "cannot tell who holds the create") from None

    def _holder(
        self, conn: sqlite3.Connection, key: str, task_id: str | None, state: str, who: str | None
    ) -> Claim:
        alive = True
        if task_id is None and state == CREATING:
            alive = owners.alive(self.path.parent, who)
            if not alive:
                self._mark_dead(conn, key, who)
                state = UNKNOWN
        return Claim(False, key, task_id, state, who, alive)

    def _unavailable(
        self, exc: BaseException, what: str = "cannot record the create"
    ) -> HistoryUnavailable:
        detail = getattr(exc, "strerror", None) or str(exc)
        return HistoryUnavailable(
            f"the task history ({self.path}) {what} ({detail}); it was not sent",
            hint="a create the history cannot record could be paid for twice or lost; free the "
            "history (another process holding it, a full disk, a read-only folder) and run again",
        )

    @_kept
    def created(self, idempotency_key: str, task: Task) -> None:
        """The create answered: the task id is now known. Written before anything else can fail.

        A row's task id is never overwritten: if the key already holds another task, this one
        gets a row of its own (a task id is never lost either). An answer naming a task another
        create of this history already holds (a server that lies, or replays under a new key)
        leaves that row as it is and this key's row outcome-unknown, saying so: whether this
        create made a task of its own is not known."""
        now = self.clock()
        with self._write() as conn:
            # A sighting of this task by another process (``status ID``) merges into this row.
            conn.execute(
                "DELETE FROM tasks WHERE task_id = ? AND state = ? AND idempotency_key IS NULL",
                (task.id, OBSERVED),
            )
            holder = conn.execute(
                "SELECT idempotency_key FROM tasks WHERE task_id = ? "
                "AND idempotency_key IS NOT ? AND idempotency_key IS NOT NULL",
                (task.id, idempotency_key),
            ).fetchone()
            if holder is not None:
                cause = (
                    f"the API answered with task {task.id}, which another create of this history "
                    "already holds: whether this create made a task of its own is unknown"
                )
                conn.execute(
                    "UPDATE tasks SET state = ?, note = ?, updated_at = ? "
                    "WHERE idempotency_key = ? AND task_id IS NULL",
                    (UNKNOWN, cause, now, idempotency_key),
                )
            else:
                self._record_created(conn, idempotency_key, task, now)
        if holder is not None and self.on_warning is not None:
            self.on_warning(cause)  # once the row is written, not at each busy retry

    @staticmethod
    def _record_created(
        conn: sqlite3.Connection, idempotency_key: str, task: Task, now: float
    ) -> None:
        """The key's row takes the task id (or, when the key already holds another task, the
        task gets a row of its own)."""
        updated = conn.execute(
            "UPDATE tasks SET task_id = ?, state = ?, updated_at = ?, status = ?, "
            "progress = ?, replayed = ? WHERE idempotency_key = ? AND task_id IS NULL",
            (
                task.id,
                CREATED,
                now,
                task.status,
                task.progress,
                int(task.replayed),
                idempotency_key,
            ),
        ).rowcount
        _book(conn, task)
        if updated == 0:
            conn.execute(
                "INSERT INTO tasks (task_id, state, created_at, updated_at, status, "
                "progress, note) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    task.id,
                    OBSERVED,
                    now,
                    now,
                    task.status,
                    task.progress,
                    f"created with idempotency key {idempotency_key}, which already held "
                    "another task",
                ),
            )

    @_kept
    def outcome_unknown(self, idempotency_key: str, cause: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE tasks SET state = ?, note = ?, updated_at = ? WHERE idempotency_key = ? "
                "AND task_id IS NULL",
                (UNKNOWN, cause, self.clock(), idempotency_key),
            )

    def settle(self, idempotency_key: str, task_id: str | None) -> str:
        """The user's word on an outcome-unknown create: it made ``task_id`` (the row takes it,
        a sighting of that task merging in), or made none (``None``: the row is forgotten, so the
        next run creates it again). Raises ``UsageError`` when the key holds no outcome-unknown
        row or the task is another create's; ``HistoryUnavailable`` when it cannot be written.
        Returns what was recorded, for the user to read."""
        if self.disabled:
            raise HistoryUnavailable(f"the task history ({self.path}) cannot be written")
        try:
            return self._settle(idempotency_key, task_id)
        except (sqlite3.Error, OSError) as exc:
            raise HistoryUnavailable(
                f"the task history ({self.path}) cannot be written: {exc}"
            ) from None

    def _settle(self, idempotency_key: str, task_id: str | None) -> str:
        with self._write() as conn:
            row = conn.execute(
                "SELECT state FROM tasks WHERE idempotency_key = ? AND task_id IS NULL",
                (idempotency_key,),
            ).fetchone()
            if row is None or row[0] != UNKNOWN:
                raise UsageError(
                    f"--settle: idempotency key {idempotency_key} holds no outcome-unknown create",
                    hint="`seedance history --status outcome_unknown` lists them",
                )
            if task_id is None:
                conn.execute(
                    "DELETE FROM tasks WHERE idempotency_key = ? AND task_id IS NULL",
                    (idempotency_key,),
                )
                return f"key {idempotency_key} made no task: forgotten, the next run creates it"
            holder = conn.execute(
                "SELECT idempotency_key FROM tasks WHERE task_id = ? AND state != ?",
                (task_id, OBSERVED),
            ).fetchone()
            if holder is not None:
                raise UsageError(
                    f"--settle: task {task_id} is already another create's "
                    f"({holder[0] or 'no key'}); nothing was changed"
                )
            conn.execute("DELETE FROM tasks WHERE task_id = ? AND state = ?", (task_id, OBSERVED))
            conn.execute(
                "UPDATE tasks SET task_id = ?, state = ?, note = ?, updated_at = ? "
                "WHERE idempotency_key = ? AND task_id IS NULL",
                (task_id, CREATED, "settled by the user", self.clock(), idempotency_key),
            )
        return f"key {idempotency_key} made task {task_id}: recorded"

    @_kept
    def not_created(self, idempotency_key: str) -> None:
        """The create surely made no task (refused, or never sent): forget the row."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM tasks WHERE idempotency_key = ? AND task_id IS NULL",
                (idempotency_key,),
            )

    # -- observations -------------------------------------------------------------------------------

    @_kept
    def observe(self, task: Task, *, base_url: str | None = None, listed: bool = False) -> None:
        """Record what a poll saw. A task this ledger never created gets a row of its own.
        ``listed``: the task comes from the task list, whose items are thin (API.md: no result
        URLs, maybe no error) and may be stale: it only brings in a task the history does not
        hold; a row it holds is left as it is (its results, its error), for polls to update."""
        now = self.clock()
        error = task.error
        with self._write() as conn:
            row = conn.execute(
                "SELECT completed_at FROM tasks WHERE task_id = ?", (task.id,)
            ).fetchone()
            if listed and row is not None:
                return  # a list item says less than a poll did (and may be stale): polls update
            # Stored data may be odd (written by hand, another tool or version): read tolerantly.
            completed_at = epoch(row[0]) if row is not None else None
            if task.succeeded and completed_at is None:
                # The first time it is seen completed: the results expire 24 hours after
                # completion, which was at the latest now.
                completed_at = now
            expires_at = completed_at + RESULT_TTL if completed_at is not None else None
            values = (
                task.status,
                task.progress,
                json.dumps(list(task.results)),
                error.code if error else None,
                error.message if error else None,
                completed_at,
                expires_at,
                now,
            )
            if row is None:
                conn.execute(
                    "INSERT INTO tasks (task_id, state, created_at, base_url, status, progress, "
                    "results, error_code, error_message, completed_at, expires_at, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (task.id, OBSERVED, float(task.created or now), base_url, *values),
                )
            else:
                conn.execute(
                    "UPDATE tasks SET status = ?, progress = ?, results = ?, error_code = ?, "
                    "error_message = ?, completed_at = ?, expires_at = ?, updated_at = ? "
                    "WHERE task_id = ?",
                    (*values, task.id),
                )
            _book(conn, task)

    @_kept
    def saved(self, task_id: str, result_index: int, path: Path, sha256: str, size: int) -> None:
        # A name that is not UTF-8 (``-o $'\\xff/'``) cannot be SQLite text: it is kept as its bytes.
        text = str(path)
        stored: str | bytes = text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            stored = os.fsencode(path)
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO files (task_id, result_index, path, sha256, bytes, saved_at) "
                "VALUES (?,?,?,?,?,?)",
                (task_id, result_index, stored, sha256, size, self.clock()),
            )

    # -- reading -------------------------------------------------------------------------------------

    @_guarded
    def entries(
        self,
        *,
        limit: int | None = None,
        status: str | None = None,
        search: str | None = None,
        task_ids: Sequence[str] | None = None,
        batch: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Entry]:
        """Rows newest first, filtered by status (or state), prompt text, task ids, idempotency
        key, or the manifest a batch line came from (its hash prefix).

        Reading never fails on what is stored: a value of the wrong type or out of range (a
        timestamp in milliseconds, ``1e999``, a string) is read as far as it makes sense, else as
        unknown (``None``), so one odd row never makes the history unreadable.
        """
        clauses: list[str] = []
        args: list[Any] = []
        if idempotency_key is not None:
            clauses.append("idempotency_key = ?")
            args.append(idempotency_key)
        if batch:
            clauses.append("batch_key LIKE ?")
            args.append(f"{batch}:%")
        if status:
            clauses.append("(status = ? OR state = ?)")
            args += [status, status]
        if search:
            clauses.append("(prompt LIKE ? ESCAPE '\\' OR task_id LIKE ? ESCAPE '\\')")
            pattern = (
                "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            args += [pattern, pattern]
        if task_ids is not None:
            clauses.append(f"task_id IN ({','.join('?' * len(task_ids))})")
            args += list(task_ids)
        sql = "SELECT * FROM tasks"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC, row_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, min(int(limit), MAX_LIMIT)))
        with self._lock:
            conn = self._connect()
            conn.row_factory = sqlite3.Row
            try:
                rows = conn.execute(sql, args).fetchall()
                files: dict[str, list[SavedFile]] = {}
                ids = [r["task_id"] for r in rows if r["task_id"]]
                if ids:
                    marks = ",".join("?" * len(ids))
                    for f in conn.execute(
                        f"SELECT * FROM files WHERE task_id IN ({marks}) ORDER BY result_index",  # noqa: S608 - placeholders only
                        ids,
                    ):
                        files.setdefault(f["task_id"], []).append(_saved_file(f))
            finally:
                conn.row_factory = None
        return [_entry(row, files.get(row["task_id"], [])) for row in rows]

    def entry(self, task_id: str) -> Entry | None:
        found = self.entries(task_ids=[task_id])
        return found[0] if found else None

    def by_idempotency_key(self, idempotency_key: str) -> list[Entry] | None:
        """The rows made with this idempotency key (at most one: keys are unique in the
        history), whatever API they went to; ``None`` when the history cannot be read."""
        return self.entries(idempotency_key=idempotency_key)


#: SQLite's largest LIMIT; a larger ``--limit`` means "all of them".
MAX_LIMIT: Final = 2**63 - 1


def _book(conn: sqlite3.Connection, task: Task) -> None:
    """Keep the money figures a task answer carries; a figure an answer leaves out (``usage``
    comes on pending tasks only) keeps what an earlier answer said."""
    billing = task.billing
    charged = billing.charged if billing else None
    if charged is None and task.credits_used is not None and task.status == "completed":
        charged = task.credits_used
    conn.execute(
        "UPDATE tasks SET credits_reserved = COALESCE(?, credits_reserved), "
        "credits_charged = COALESCE(?, credits_charged), "
        "credits_refunded = COALESCE(?, credits_refunded), "
        "charge_status = COALESCE(?, charge_status) WHERE task_id = ?",
        (
            task.credits_reserved
            if task.credits_reserved is not None
            else (billing.reserved if billing else None),
            charged,
            billing.refunded if billing else None,
            billing.charge_status if billing else None,
            task.id,
        ),
    )


def _credits(value: Any) -> float | None:
    """A stored money figure: a finite, non-negative number, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_CREDITS else None


def epoch(value: Any) -> float | None:
    """A stored timestamp as Unix seconds, or ``None`` when it cannot be one.

    Tolerates what other versions, tools or hands may have written: numbers in milliseconds,
    numeric or ISO 8601 text, and refuses infinities, NaN, negative and absurd values.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            import datetime

            try:
                parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            try:
                value = parsed.timestamp()
            except (OverflowError, OSError, ValueError):
                return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return epoch_seconds(seconds)


def _text(value: Any) -> str | None:
    """A stored text column as text: bytes decoded, numbers written out, ``None`` kept."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str | bytes):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return None
    return None


def _load(value: Any, kind: type[Any], default: Any) -> Any:
    """A stored JSON column: its value when it decodes to ``kind``, else ``default``."""
    try:
        loaded = json.loads(value) if value else default
    except (ValueError, TypeError, RecursionError):
        return default
    return loaded if isinstance(loaded, kind) else default


def _columns(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict in which a column the table lacks (a database made by hand or by another
    tool) reads as ``None``."""
    return collections.defaultdict(lambda: None, zip(row.keys(), tuple(row), strict=True))


def _saved_file(row: sqlite3.Row) -> SavedFile:
    col = _columns(row)
    path = col["path"]
    return SavedFile(
        _int(col["result_index"]) or 0,
        os.fsdecode(path) if isinstance(path, bytes) else _text(path) or "",
        _text(col["sha256"]) or "",
        _int(col["bytes"]) or 0,
        epoch(col["saved_at"]) or 0.0,
    )


def _entry(row: sqlite3.Row, files: list[SavedFile]) -> Entry:
    col = _columns(row)
    results = _load(col["results"], list, [])
    images = _load(col["local_images"], list, [])
    return Entry(
        idempotency_key=_text(col["idempotency_key"]),
        task_id=_text(col["task_id"]),
        state=_text(col["state"]) or "",
        created_at=epoch(col["created_at"]),
        updated_at=epoch(col["updated_at"]),
        profile=_text(col["profile"]),
        base_url=_text(col["base_url"]),
        prompt=_text(col["prompt"]),
        params=_load(col["params"], dict, {}),
        status=_text(col["status"]),
        progress=_int(col["progress"]),
        results=[r for r in results if isinstance(r, str)],
        error_code=_text(col["error_code"]),
        error_message=_text(col["error_message"]),
        note=_text(col["note"]),
        completed_at=epoch(col["completed_at"]),
        expires_at=epoch(col["expires_at"]),
        local_images=[i for i in images if isinstance(i, dict)],
        batch_key=_text(col["batch_key"]),
        files=files,
        estimate=_load(col["estimate"], dict, None),
        credits_reserved=_credits(col["credits_reserved"]),
        credits_charged=_credits(col["credits_charged"]),
        credits_refunded=_credits(col["credits_refunded"]),
        charge_status=_text(col["charge_status"]),
        replayed=bool(_int(col["replayed"])),
    )
