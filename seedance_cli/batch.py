"""Many generations from a manifest: validated whole, run concurrently, resumable, gentle with the API.

A manifest is JSONL (one object per line) or CSV (a header row, then one row per video). Every line
is checked before anything is sent; one bad line refuses the whole batch. Each line is keyed by the
manifest's content hash and its line number, in the ledger and in its idempotency key, so running the
same manifest again skips what was created (waiting on it instead) and what was saved. A line is
never created twice: a line whose create had an unknown outcome is reported, not resent.

The run is one loop on one thread over one client: it keeps up to ``concurrency`` tasks in flight,
polls each at ``interval``, and hands finished ones to a small pool of download threads. Because every
API request comes from that one thread, a 429 and its ``Retry-After`` pause the whole batch.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Final

from .config import FALSE_WORDS, TRUE_WORDS
from .errors import (
    OutcomeUnknown,
    SeedanceError,
    TaskFailed,
    UsageError,
    ValidationError,
    WaitTimeout,
)
from .images import ImageInfo, image_sources, placeholder
from .jobs import Destination, create, save_results
from .ledger import Entry, Ledger
from .models import GenerationRequest, Task
from .waiting import is_transient

FIELDS: Final = (
    "prompt",
    "duration",
    "quality",
    "aspect_ratio",
    "generate_audio",
    "image_urls",
    "callback_url",
    "model",
    "name",
)
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,99}")
MAX_DOWNLOADS: Final = 4


@dataclasses.dataclass(frozen=True)
class Line:
    """One manifest line, checked: its request, the output name, and its local images (whose
    places in ``request.image_urls`` hold placeholders until they are uploaded)."""

    number: int
    name: str | None
    request: GenerationRequest
    local_images: tuple[tuple[int, ImageInfo], ...] = ()

    def preview(self) -> dict[str, Any]:
        """The request body as ``--dry-run`` shows it: each local image named, not yet a URL."""
        body = self.request.to_body()
        for index, image in self.local_images:
            body["image_urls"][index] = f"<file_url of the upload of {image.path}>"
        return body


@dataclasses.dataclass(frozen=True)
class Manifest:
    lines: tuple[Line, ...]
    digest: str  # sha256 of the manifest's bytes

    def key(self, line: Line) -> str:
        """The line's key in the ledger: content hash + line number."""
        return f"{self.digest[:16]}:{line.number}"

    def idempotency_key(self, line: Line) -> str:
        """The same key on every run, so that even a resent create could be recognised."""
        return f"seedance-batch-{self.digest[:16]}-{line.number}"


class ManifestError(UsageError):
    """Some lines are invalid; ``problems`` lists ``(line number, message)``."""

    code = "invalid_manifest"

    def __init__(self, problems: Sequence[tuple[int, str]]) -> None:
        count = len(problems)
        super().__init__(
            f"{count} invalid line{'s' if count != 1 else ''} in the manifest; nothing was sent",
            hint="fix them and run again",
        )
        self.problems = list(problems)


def parse_manifest(
    data: bytes,
    *,
    kind: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> Manifest:
    """Read and check a whole manifest. ``kind`` is ``jsonl`` or ``csv`` (else guessed from the
    first character). ``defaults`` (profile request defaults) fill fields a line leaves out.
    ``image_urls`` may name local files, relative to ``base`` (the manifest's folder); they are
    checked here like ``generate -i`` and uploaded when their line is created.
    Raises ``ManifestError`` naming every bad line; nothing is half-accepted."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError([(0, f"not UTF-8 text ({exc})")]) from None
    if kind is None:
        kind = "jsonl" if text.lstrip().startswith("{") else "csv"
    rows = _jsonl_rows(text) if kind == "jsonl" else _csv_rows(text)
    problems: list[tuple[int, str]] = []
    lines: list[Line] = []
    names: dict[str, int] = {}
    for number, row in rows:
        if isinstance(row, str):
            problems.append((number, row))
            continue
        try:
            line = _line(number, row, defaults or {}, base or Path.cwd())
        except ValidationError as exc:
            problems.append((number, exc.message))
            continue
        if line.name is not None:
            earlier = names.setdefault(line.name.lower(), number)
            if earlier != number:
                problems.append((number, f"name {line.name!r} is also used on line {earlier}"))
                continue
        lines.append(line)
    if not lines and not problems:
        problems.append((0, "the manifest has no lines"))
    if problems:
        raise ManifestError(problems)
    return Manifest(tuple(lines), hashlib.sha256(data).hexdigest())


def _jsonl_rows(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            rows.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        rows.append((number, value if isinstance(value, dict) else "not a JSON object"))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, dict[str, Any] | str]] = []
    header: list[str] | None = None
    for record in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            unknown = [h for h in header if h not in FIELDS]
            if unknown or "prompt" not in header:
                problem = (
                    f"unknown column(s) {', '.join(unknown)}"
                    if unknown
                    else "the header has no prompt column"
                )
                return [(number, f"{problem}; columns are {', '.join(FIELDS)}")]
            continue
        if len(record) != len(header):
            rows.append((number, f"{len(record)} cells for {len(header)} columns"))
            continue
        rows.append((number, {h: v for h, v in zip(header, record, strict=True) if v.strip()}))
    return rows


def _line(number: int, row: Mapping[str, Any], defaults: Mapping[str, Any], base: Path) -> Line:
    unknown = [k for k in row if k not in FIELDS]
    if unknown:
        raise ValidationError(unknown[0], f"unknown field; fields are {', '.join(FIELDS)}")
    name = row.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.fullmatch(name.strip())):
        raise ValidationError("name", "must be a plain file name (letters, digits, . _ - space)")
    images = row.get("image_urls", ())
    if isinstance(images, str):  # CSV: URLs separated by spaces or |
        images = [u for u in re.split(r"[\s|]+", images) if u]
    if not isinstance(images, list | tuple) or not all(isinstance(i, str) for i in images):
        raise ValidationError("image_urls", "must be a list of URLs or image files")
    sources = image_sources(images, base)
    local = tuple((n, s) for n, s in enumerate(sources) if not isinstance(s, str))
    request = GenerationRequest(
        prompt=row.get("prompt", ""),
        image_urls=tuple(placeholder(n, s) for n, s in enumerate(sources)),
        duration=_integer(row.get("duration", defaults.get("duration"))),  # type: ignore[arg-type]
        quality=row.get("quality", defaults.get("quality")),
        aspect_ratio=row.get("aspect_ratio", defaults.get("aspect_ratio")),
        generate_audio=_boolean(row.get("generate_audio", defaults.get("generate_audio"))),  # type: ignore[arg-type]
        callback_url=row.get("callback_url"),
        model=row.get("model", "seedance-1.5-pro"),
    )
    return Line(number, name.strip() if isinstance(name, str) else None, request, local)


def _integer(value: object) -> object:
    """CSV cells are text: "8" is the number 8. Anything else is left for the request to judge."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _boolean(value: object) -> object:
    """CSV cells are text: "true", "no", "1"... are booleans."""
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    return value


# -- running -------------------------------------------------------------------------------------


class _Stopped(Exception):
    """Ctrl-C reached the batch: a download in a worker thread stops at its next block."""


class _DaemonPool:
    """Runs downloads on daemon threads, so that Ctrl-C never waits for a stalled transfer: the
    process ends, and the ``.part`` file holds what arrived, for the next run to resume."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.Queue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._jobs = queue.Queue()
        self._workers = workers
        for _ in range(workers):
            threading.Thread(target=self._work, daemon=True, name="seedance-download").start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, function, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to whoever collects the future
                future.set_exception(exc)

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, function, args))
        return future

    def shutdown(self) -> None:
        for _ in range(self._workers):
            self._jobs.put(None)


@dataclasses.dataclass
class Outcome:
    """How a line ended: ``succeeded``, ``failed``, ``timed_out``, ``unknown`` or ``error``."""

    line: Line
    state: str
    task_id: str | None = None
    task: Task | None = None
    paths: list[Path] = dataclasses.field(default_factory=list)
    error: SeedanceError | None = None


@dataclasses.dataclass
class _Active:
    line: Line
    task_id: str
    next_poll: float
    last: Task | None = None
    done: bool = False


class BatchRun:
    """One run of a manifest. ``on_event(line, message)`` narrates; ``on_outcome`` reports each
    line as it finishes. Time comes from ``sleep``/``clock``, so tests need not wait."""

    def __init__(
        self,
        manifest: Manifest,
        client: Any,
        ledger: Ledger,
        *,
        profile: str | None,
        concurrency: int,
        interval: float,
        timeout: float | None,
        output: Destination | None,
        force: bool,
        on_outcome: Callable[[Outcome], None],
        on_event: Callable[[Line, str], None],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.manifest = manifest
        self.client = client
        self.ledger = ledger
        self.profile = profile
        self.concurrency = concurrency
        self.interval = interval
        self.timeout = timeout
        self.output = output
        self.force = force
        self.on_outcome = on_outcome
        self.on_event = on_event
        self.sleep = sleep
        self.clock = clock
        self.outcomes: dict[int, Outcome] = {}
        self.reserved = 0.0
        self._stop = threading.Event()
        self._deadline: float | None = None

    def run(self) -> list[Outcome]:
        """Run every line to an outcome (or to the deadline); return them in manifest order."""
        deadline = self.clock() + self.timeout if self.timeout is not None else None
        self._deadline = deadline  # polls end by it too (a trickling server cannot hold one)
        known = {e.batch_key: e for e in self.ledger.entries(batch=self.manifest.digest[:16]) or []}
        pending: list[Line] = []
        active: list[_Active] = []
        for line in self.manifest.lines:
            entry = known.get(self.manifest.key(line))
            resumed = self._resume(line, entry)
            if resumed is not None:
                active.append(resumed)
            elif line.number not in self.outcomes:
                pending.append(line)
        downloads: dict[int, Future[list[Path]]] = {}
        pool = _DaemonPool(min(MAX_DOWNLOADS, self.concurrency))
        try:
            self._loop(pool, pending, active, downloads, deadline)
        except KeyboardInterrupt:
            self._stop.set()  # downloads stop at their next block, keeping their .part files
            raise
        finally:
            pool.shutdown()
        return [
            self.outcomes[line.number]
            for line in self.manifest.lines
            if line.number in self.outcomes
        ]

    def _loop(
        self,
        pool: _DaemonPool,
        pending: list[Line],
        active: list[_Active],
        downloads: dict[int, Future[list[Path]]],
        deadline: float | None,
    ) -> None:
        """Keep up to ``concurrency`` lines in flight until every one has an outcome or the
        deadline passes; then report what is still out as timed out."""
        while pending or active or downloads:
            self._collect(downloads)
            if deadline is not None and self.clock() >= deadline:
                break
            while pending and len(active) + len(downloads) < self.concurrency:
                started = self._create(pending.pop(0))
                if started is not None:
                    active.append(started)
            now = self.clock()
            for item in [a for a in active if a.next_poll <= now]:
                task = self._poll(item)
                if item.done:
                    active.remove(item)
                if task is None or not task.is_terminal:
                    continue
                active.remove(item)
                if task.succeeded and self.output is not None:
                    downloads[item.line.number] = pool.submit(self._save, item.line, task)
                    self.outcomes[item.line.number] = Outcome(item.line, "succeeded", task.id, task)
                elif task.succeeded:
                    self._report(Outcome(item.line, "succeeded", task.id, task))
                else:
                    self._report(
                        Outcome(item.line, "failed", task.id, task, error=TaskFailed(task))
                    )
            if not (pending or active or downloads):
                break
            self._pause(active, downloads, deadline)
        for item in active:
            late = WaitTimeout(item.task_id, self.timeout or 0, item.last)
            self._report(Outcome(item.line, "timed_out", item.task_id, item.last, error=late))
        for line in pending:
            unstarted = WaitTimeout("-", self.timeout or 0)
            unstarted.message = "not started before the deadline"
            self._report(Outcome(line, "timed_out", error=unstarted))
        for number in list(downloads):
            downloads[number].exception()  # let started downloads finish
        self._collect(downloads)

    # -- steps ---------------------------------------------------------------------------------------

    def _resume(self, line: Line, entry: Entry | None) -> _Active | None:
        """What an earlier run left: saved, created (wait on it), or of unknown outcome."""
        if entry is None:
            return None
        if entry.task_id is None:
            error = OutcomeUnknown(entry.idempotency_key or "-", "in an earlier run")
            error.message = "an earlier run's create had an unknown outcome; not resent"
            self._report(Outcome(line, "unknown", error=error))
            return None
        if entry.files and entry.status == "completed":
            self.on_event(line, f"already saved ({entry.task_id})")
            paths = [Path(f.path) for f in entry.files]
            self._report(Outcome(line, "succeeded", entry.task_id, paths=paths))
            return None
        self.on_event(line, f"created by an earlier run: {entry.task_id}")
        return _Active(line, entry.task_id, self.clock())

    def _create(self, line: Line) -> _Active | None:
        try:
            request, uploaded = self._upload(line)
            task = create(
                self.client,
                self.ledger,
                request,
                idempotency_key=self.manifest.idempotency_key(line),
                profile=self.profile,
                local_images=uploaded,
                batch_key=self.manifest.key(line),
            )
        except SeedanceError as exc:
            state = "unknown" if isinstance(exc, OutcomeUnknown) else "error"
            self._report(Outcome(line, state, error=exc))
            return None
        self.reserved += task.credits_reserved or 0.0
        self.on_event(line, f"created {task.id}")
        return _Active(line, task.id, self.clock() + self.interval, task)

    def _upload(self, line: Line) -> tuple[GenerationRequest, list[dict[str, str]]]:
        """The line's request with its local images uploaded (files API; 72 hours)."""
        if not line.local_images:
            return line.request, []
        urls = list(line.request.image_urls)
        uploaded = []
        for index, image in line.local_images:
            file = self.client.upload_file(image.path, mime=image.mime)
            urls[index] = file.file_url
            uploaded.append({"path": str(image.path.resolve()), "url": file.file_url})
            self.on_event(line, f"uploaded {image.path.name}")
        return dataclasses.replace(line.request, image_urls=tuple(urls)), uploaded

    def _poll(self, item: _Active) -> Task | None:
        """Fetch the task; ``None`` when nothing new is known. A permanent error ends the line."""
        item.next_poll = self.clock() + self.interval
        try:
            task: Task = self.client.get_task(item.task_id, deadline=self._deadline)
        except SeedanceError as exc:
            if not is_transient(exc):
                self._report(Outcome(item.line, "error", item.task_id, item.last, error=exc))
                item.done = True
            return None
        self.ledger.observe(task, base_url=self.client.base_url)
        if item.last is None or item.last.status != task.status:
            self.on_event(item.line, f"{task.status} {task.progress}%")
        item.last = task
        return task

    def _save(self, line: Line, task: Task) -> list[Path]:
        assert self.output is not None
        destination = self.output
        if line.name is not None:
            destination = Destination(self.output.path / f"{line.name}.mp4", is_dir=False)
        elif destination.is_dir:
            destination = Destination(self.output.path / f"{line.number}.mp4", is_dir=False)
        saved = save_results(
            self.client, self.ledger, task, destination, force=self.force, sleep=self.sleep
        )
        return [item.path for item in saved]

    def _unless_stopped(self, done: int, total: int | None) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _collect(self, downloads: dict[int, Future[list[Path]]]) -> None:
        for number, future in list(downloads.items()):
            if not future.done():
                continue
            del downloads[number]
            outcome = self.outcomes.pop(number)
            error = future.exception()
            if error is None:
                outcome.paths = future.result()
            else:
                outcome.state = "error"
                outcome.error = (
                    error
                    if isinstance(error, SeedanceError)
                    else SeedanceError(f"cannot save the result: {error}")
                )
            self._report(outcome)

    def _pause(
        self,
        active: Sequence[_Active],
        downloads: Mapping[int, Future[list[Path]]],
        deadline: float | None,
    ) -> None:
        now = self.clock()
        wake = min((a.next_poll for a in active), default=now + self.interval)
        if downloads:
            wake = min(wake, now + 0.05)
        if deadline is not None:
            wake = min(wake, deadline)
        if wake > now:
            self.sleep(wake - now)

    def _report(self, outcome: Outcome) -> None:
        self.outcomes[outcome.line.number] = outcome
        self.on_outcome(outcome)
