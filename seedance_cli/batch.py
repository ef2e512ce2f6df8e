"""Many generations from a manifest: validated whole, run concurrently, resumable, gentle with the API.

A manifest is JSONL (one object per line) or CSV (a header row, then one row per video). Every line
is checked before anything is sent; one bad line refuses the whole batch (two lines whose outputs
would share a file included). Each line is keyed by the manifest's content hash, the API origin and
the profile, and its line number, in the ledger and in its idempotency key, so running the same
manifest against the same API again skips what was created (waiting on it instead) and what was
saved (checked on disk: size and sha256). A line is never created twice: it is claimed in the
ledger in one atomic write before its create is sent; a line another live process holds is waited
on; a line whose create had an unknown outcome (its process killed, say) is reported, not resent.
When the ledger can no longer record a claim the run creates nothing more, finishes what is in
flight and reports the rest.

The run is one loop on one thread over one client: it keeps up to ``concurrency`` tasks in flight,
polls them with the engine of ``wait`` (``waiting.Poller``: its cadence, its deadline, its tolerance
of transient failures), and hands finished ones to a small pool of download threads. Because every
API request comes from that one thread, a 429 and its ``Retry-After`` pause the whole batch.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import functools
import hashlib
import io
import json
import queue
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from . import owner
from .catalogue import DEFAULT_MODEL
from .config import FALSE_WORDS, TRUE_WORDS
from .download import check_target, file_sha256
from .errors import (
    HistoryUnavailable,
    ManifestError,
    NotFoundError,
    OutcomeUnknown,
    OverBudget,
    SeedanceError,
    TaskFailed,
    UnreachableAtDeadline,
    UsageError,
    ValidationError,
    WaitTimeout,
)
from .family import Dropped, build_request
from .images import ImageInfo, image_rules, image_sources, placeholder, reference_urls
from .ledger import CREATING, Claim, Entry, Ledger, SavedFile
from .models import AUTO_DURATION, GenerationRequest, Task, api_origin, retry_worthy
from .pricing import Budget, Estimate, Total
from .pricing import estimate as estimate_of
from .session import Destination, Session, no_result, request_differs
from .waiting import COALESCE, DEFAULT_MAX_OUTAGE, Poller, fetch_all

#: A JSONL line's fields: the request's own names (``model_params`` an object holding
#: ``web_search``), plus ``name``.
FIELDS: Final = (
    "prompt",
    "duration",
    "quality",
    "aspect_ratio",
    "generate_audio",
    "image_urls",
    "callback_url",
    "model",
    "video_urls",
    "audio_urls",
    "content_filter",
    "output_format",
    "model_params",
    "name",
)
#: A CSV's columns: the same, with ``web_search`` standing for ``model_params.web_search``.
CSV_FIELDS: Final = tuple("web_search" if f == "model_params" else f for f in FIELDS)
#: What a JSONL line's ``model_params`` may hold.
MODEL_PARAMS: Final = ("web_search",)
#: Fields that hold URLs; in CSV, separated by ``|`` or spaces.
URL_FIELDS: Final = ("image_urls", "video_urls", "audio_urls")
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
    #: Profile defaults left out of the request because its model does not take them.
    dropped: tuple[Dropped, ...] = ()

    @functools.cached_property
    def estimate(self) -> Estimate:
        """What the line's create will cost (``pricing.estimate``; a manifest gives no length
        of reference videos, so a line with videos is a range)."""
        return estimate_of(self.request)

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
    scope: str = ""  # the API origin and profile it runs against: see ``scoped``

    def scoped(self, base_url: str | None, profile: str | None) -> Manifest:
        """This manifest run against ``base_url`` with ``profile``: a rehearsal against the
        emulator and the real run against EvoLink are different batches."""
        return dataclasses.replace(self, scope=f"{api_origin(base_url)} {profile or ''}")

    def shard(self, k: int, n: int) -> Manifest:
        """The entries of shard ``k`` of ``n``: those whose 1-based index i has
        ``(i - 1) % n == k - 1``. The digest, so every line's key and batch id, is the whole
        manifest's: a line keeps its idempotency key in every shard."""
        taken = tuple(line for i, line in enumerate(self.lines) if i % n == k - 1)
        return dataclasses.replace(self, lines=taken)

    @property
    def batch_id(self) -> str:
        """Content hash, API origin and profile, in 16 hex digits."""
        return hashlib.sha256(f"{self.scope}\n{self.digest}".encode()).hexdigest()[:16]

    def key(self, line: Line, attempt: int = 0) -> str:
        """The line's key in the ledger: batch id + line number (+ ``:rK`` for the K-th retry
        of ``--retry-failed``)."""
        key = f"{self.batch_id}:{line.number}"
        return key if attempt == 0 else f"{key}:r{attempt}"

    def latest(self, known: Mapping[str | None, Entry], line: Line) -> tuple[int, Entry | None]:
        """The line's last attempt the history holds (0: its first create) and its row."""
        entry = known.get(self.key(line)) or known.get(self.legacy_key(line))
        attempt = 0
        while (retry := known.get(self.key(line, attempt + 1))) is not None:
            attempt, entry = attempt + 1, retry
        return attempt, entry

    def legacy_key(self, line: Line) -> str:
        """The key seedance 0.x gave the line (content hash alone): still honoured, for rows
        made with the same API and profile."""
        return f"{self.digest[:16]}:{line.number}"

    def idempotency_key(self, line: Line, attempt: int = 0) -> str:
        """The same key on every run, so that even a resent create could be recognised; a
        retry's is derived from the attempt (``-rK``): never the original's, never made twice."""
        key = f"seedance-batch-{self.batch_id}-{line.number}"
        return key if attempt == 0 else f"{key}-r{attempt}"

    def stem(self, line: Line) -> str:
        """The output file's name without ``.mp4``: the line's name, else its number."""
        return line.name if line.name is not None else str(line.number)

    def target(self, line: Line, folder: Path) -> Path:
        """Where the line's (first) result goes in ``folder``: ``<name or number>.mp4``, or
        ``.mov`` for a line that asks for ``output_format: mov``."""
        suffix = ".mov" if line.request.output_format == "mov" else ".mp4"
        return folder / f"{self.stem(line)}{suffix}"


def known_entries(
    ledger: Ledger, manifest: Manifest, base_url: str | None, profile: str | None
) -> dict[str | None, Entry]:
    """What the ledger holds for ``manifest`` run against ``base_url`` with ``profile``, by
    batch key: its rows, and rows an older seedance keyed by the manifest alone, when they were
    made with this API and profile."""
    scoped = manifest.scoped(base_url, profile)
    known = {e.batch_key: e for e in ledger.entries(batch=scoped.batch_id) or []}
    origin = api_origin(base_url)
    for entry in ledger.entries(batch=manifest.digest[:16]) or []:
        if api_origin(entry.base_url) == origin and entry.profile == profile:
            known.setdefault(entry.batch_key, entry)
    return known


def check_outputs(
    session: Session,
    manifest: Manifest,
    folder: Path,
    *,
    base_url: str | None,
    profile: str | None,
    force: bool,
) -> None:
    """Before anything is sent: no link, folder or odd file where a line's result goes, and no
    existing file there (without ``force``) unless this batch saved it and it is still as saved.
    ``UsageError`` (exit 2) naming the first five otherwise."""
    for line in manifest.lines:
        check_target(manifest.target(line, folder), force=True)
    known = known_entries(session.ledger, manifest, base_url, profile)
    scoped = manifest.scoped(base_url, profile)  # as BatchRun keys it
    existing = []
    for line in manifest.lines:
        target = manifest.target(line, folder)
        if force or not target.exists():
            continue
        _, entry = scoped.latest(known, line)
        if entry is not None and entry.files and all(intact(f) for f in entry.files):
            continue  # a file this batch saved, still as it was saved
        existing.append(f"line {line.number}: {target} exists")
    if existing:
        raise UsageError(
            "; ".join(existing[:5]) + ("; ..." if len(existing) > 5 else ""),
            hint="add --force to replace them",
        )


#: Files found intact in this process, by what ``stat`` says of them and the hash expected: a batch
#: checks its saved files before it starts (``check_outputs``) and again as it runs, and a file
#: whose inode, size and modification time have not changed is not read a second time.
_INTACT: set[tuple[str, int, int, int, str]] = set()


def intact(saved: SavedFile) -> bool:
    """Whether a saved result is still on disk as it was saved: same size, same sha256."""
    path = Path(saved.path)
    try:
        info = path.stat()
        if not path.is_file() or info.st_size != saved.bytes:
            return False
        seen = (saved.path, info.st_ino, info.st_size, info.st_mtime_ns, saved.sha256)
        if seen in _INTACT:
            return True
        if file_sha256(path).hexdigest() != saved.sha256:
            return False
        _INTACT.add(seen)
        return True
    except (OSError, SeedanceError):  # gone, unreadable, or a link now: not as it was saved
        return False


def parse_manifest(
    data: bytes,
    *,
    kind: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> Manifest:
    """Read and check a whole manifest. ``kind`` is ``jsonl`` or ``csv`` (else guessed from the
    first character). ``defaults`` (profile request defaults) fill fields a line leaves out.
    A line's model is its ``model``, else the default's (the profile's ``model``), else
    ``catalogue.DEFAULT_MODEL``; a default the line's model does not take is left out
    (``Line.dropped``). ``image_urls`` may name local files, relative to ``base`` (the manifest's
    folder); they are checked here like ``generate -i``, with the line's model's limits, and
    uploaded when their line is created. ``video_urls`` and ``audio_urls`` are URLs only.
    Raises ``ManifestError`` naming every bad line; nothing is half-accepted."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError([(0, f"not UTF-8 text ({exc})")]) from None
    if kind is None:
        kind = "jsonl" if text.lstrip().startswith("{") else "csv"
    rows = _jsonl_rows(text) if kind == "jsonl" else _csv_rows(text)
    fields = FIELDS if kind == "jsonl" else CSV_FIELDS
    problems: list[tuple[int, str]] = []
    lines: list[Line] = []
    for number, row in rows:
        if isinstance(row, str):
            problems.append((number, row))
            continue
        try:
            line = _line(number, row, defaults or {}, base or Path.cwd(), fields)
        except ValidationError as exc:
            problems.append((number, exc.message))
            continue
        lines.append(line)
    problems += _collisions(lines)
    problems.sort(key=lambda problem: problem[0])
    if not lines and not problems:
        problems.append((0, "the manifest has no lines"))
    if problems:
        raise ManifestError(problems)
    return Manifest(tuple(lines), hashlib.sha256(data).hexdigest())


def _collisions(lines: Sequence[Line]) -> list[tuple[int, str]]:
    """Lines whose output files would be the same file: equal names, a name equal to another
    line's number, names equal up to case (case-insensitive file systems), or a name equal to
    another line's second-result name (``cat-2`` beside ``cat``)."""
    problems: list[tuple[int, str]] = []
    owners: dict[str, Line] = {}
    for line in lines:  # every file name a line may write, first come first served
        stem = line.name if line.name is not None else str(line.number)
        owners.setdefault(stem.casefold(), line)
    for line in lines:
        stem = line.name if line.name is not None else str(line.number)
        first = owners[stem.casefold()]
        if first is not line:
            if line.name is not None and first.name is not None:
                problem = f"name {line.name!r} is also used on line {first.number}"
                if line.name != first.name:
                    problem += " (names equal up to case are one file on many file systems)"
            elif line.name is not None:
                problem = f"name {line.name!r} is also line {first.number}'s output ({stem}.mp4)"
            else:
                problem = f"its output {stem}.mp4 is also that of line {first.number} (named)"
            problems.append((line.number, problem))
            continue
        base, dash, count = stem.rpartition("-")
        other = owners.get(base.casefold()) if dash and count.isdigit() and int(count) > 1 else None
        if other is not None and other is not line:
            problems.append(
                (
                    line.number,
                    f"name {stem!r} is the file name of line {other.number}'s result number "
                    f"{count}",
                )
            )
    return problems


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
        except RecursionError:
            rows.append((number, "not a manifest line (JSON nested too deeply)"))
            continue
        except ValueError:  # an integer of more digits than Python converts
            rows.append((number, "not a manifest line (a number far too long)"))
            continue
        rows.append((number, value if isinstance(value, dict) else "not a JSON object"))
    return rows


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, dict[str, Any] | str]] = []
    header: list[str] | None = None
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over the csv module's limit: no row to go on from
            rows.append((reader.line_num, f"unreadable CSV ({exc})"))
            break
        number = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            unknown = [h for h in header if h not in CSV_FIELDS]
            if unknown or "prompt" not in header:
                problem = (
                    f"unknown column(s) {', '.join(unknown)}"
                    if unknown
                    else "the header has no prompt column"
                )
                return [(number, f"{problem}; columns are {', '.join(CSV_FIELDS)}")]
            continue
        if len(record) != len(header):
            rows.append((number, f"{len(record)} cells for {len(header)} columns"))
            continue
        rows.append((number, {h: v for h, v in zip(header, record, strict=True) if v.strip()}))
    return rows


def _line(
    number: int,
    row: Mapping[str, Any],
    defaults: Mapping[str, Any],
    base: Path,
    fields: Sequence[str] = FIELDS,
) -> Line:
    unknown = [k for k in row if k not in fields]
    if unknown:
        if unknown[0] == "web_search" and "model_params" in fields:
            raise ValidationError(
                "web_search", 'goes in model_params in JSONL: "model_params": {"web_search": true}'
            )
        raise ValidationError(unknown[0], f"unknown field; fields are {', '.join(fields)}")
    name = row.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.fullmatch(name.strip())):
        raise ValidationError("name", "must be a plain file name (letters, digits, . _ - space)")
    urls = {field: _urls(field, row.get(field, ())) for field in URL_FIELDS}
    model = row.get("model", defaults.get("model") or DEFAULT_MODEL)
    rules = image_rules(model if isinstance(model, str) else DEFAULT_MODEL)
    sources = image_sources(urls["image_urls"], base, rules)
    local = tuple((n, s) for n, s in enumerate(sources) if not isinstance(s, str))
    request, dropped = build_request(
        {
            "prompt": row.get("prompt", ""),
            "model": model,
            "image_urls": tuple(placeholder(n, s) for n, s in enumerate(sources)),
            "video_urls": reference_urls("video_urls", urls["video_urls"]),
            "audio_urls": reference_urls("audio_urls", urls["audio_urls"]),
            "duration": _duration(row.get("duration")),
            "quality": row.get("quality"),
            "aspect_ratio": row.get("aspect_ratio"),
            "generate_audio": _boolean(row.get("generate_audio")),
            "callback_url": row.get("callback_url"),
            "content_filter": _boolean(row.get("content_filter")),
            "web_search": _boolean(_web_search(row)),
            "output_format": row.get("output_format"),
        },
        {name: value for name, value in defaults.items() if name != "model"},
    )
    return Line(number, name.strip() if isinstance(name, str) else None, request, local, dropped)


def _urls(field: str, value: object) -> list[str]:
    """A list of URLs (or image files); in CSV one cell of them separated by spaces or ``|``."""
    if isinstance(value, str):
        value = [u for u in re.split(r"[\s|]+", value) if u]
    if not isinstance(value, list | tuple) or not all(isinstance(i, str) for i in value):
        what = "URLs or image files" if field == "image_urls" else "URLs"
        raise ValidationError(field, f"must be a list of {what}")
    return list(value)


def _web_search(row: Mapping[str, Any]) -> object:
    """``model_params.web_search`` of a JSONL line (an object holding only it), or a CSV's
    ``web_search`` cell."""
    if "web_search" in row:
        return row["web_search"]
    params = row.get("model_params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise ValidationError("model_params", 'must be an object such as {"web_search": true}')
    unknown = [key for key in params if key not in MODEL_PARAMS]
    if unknown:
        raise ValidationError(
            "model_params",
            f"unknown key {unknown[0]!r}; it may hold {', '.join(MODEL_PARAMS)}",
        )
    return params.get("web_search")


def _duration(value: object) -> object:
    """CSV cells are text: "8" is the number 8; "auto" (in JSONL too) is -1, the model picks the
    length. Anything else is left for the request to judge."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return AUTO_DURATION
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        return int(value)  # ASCII digits only: "²" and "--5" are left for the request to refuse
    return value


def _boolean(value: object) -> object:
    """CSV cells are text: "true", "no", "1"... are booleans."""
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    return value


# -- running -------------------------------------------------------------------------------------


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
    """How a line ended: ``succeeded``, ``failed``, ``timed_out``, ``unknown``, ``error``, or
    ``over_budget`` (not created: its estimate did not fit in the run's budget)."""

    line: Line
    state: str
    task_id: str | None = None
    task: Task | None = None
    paths: list[Path] = dataclasses.field(default_factory=list)
    error: SeedanceError | None = None


@dataclasses.dataclass(frozen=True)
class _Active:
    """A line with a task to follow: ``task`` when its create just answered (first polled an
    interval later), ``None`` when it comes from the ledger (polled at once)."""

    line: Line
    task_id: str
    task: Task | None = None


@dataclasses.dataclass
class _Held:
    """A line whose create another live process is sending: wait for its task id."""

    line: Line
    idempotency_key: str
    next_check: float


#: What an ``over_budget`` line's error suggests: a larger budget, or unknown prices allowed.
#: The "code" of a task the API no longer knows (404), for ``--retry-failed``.
GONE: Final = "gone"


def gone_hint(task_id: str, retrying: bool) -> str:
    """What to do about a line whose task the API no longer knows (404: task records expire)."""
    if retrying:
        return f"the API no longer knows task {task_id}; it was made in this run: check it"
    return (
        f"the API no longer knows task {task_id} (task records expire); a rerun with "
        "--retry-failed makes the line again as a new task (paid for again)"
    )


OVER_BUDGET_HINT: Final = (
    "a rerun with a larger --max-credits creates only the lines left out: those created are "
    "found in the history, and neither cost nor count again"
)
UNKNOWN_PRICE_HINT: Final = (
    "a price that is unknown cannot be held to a budget; a rerun with --allow-unknown-price "
    "creates such lines (those created are found in the history and not created again)"
)


class BatchRun:
    """One run of a manifest. ``on_event(line, message)`` narrates; ``on_outcome`` reports each
    line as it finishes. Time comes from the session's ``sleep``/``clock``, so tests need not wait;
    its tasks are polled by the one engine of ``waiting`` (``Poller``).

    ``budget`` (``pricing.Budget``) is the most this run's creates may be estimated to cost: a
    line is created only when its estimate (at its top) fits in what the run's earlier creates
    left of it, checked and reserved in one step before anything of it is uploaded or sent;
    otherwise it is ``over_budget``, and later lines that fit are still created. Lines whose task
    an earlier run (or another process) made are not this run's spending: they do not count.
    A create that made no task (refused, never sent) gives its reservation back; one whose
    outcome is unknown keeps it. ``estimated`` adds up the estimates of the creates this run
    sent; ``reserved`` what the API reserved for them.
    """

    def __init__(
        self,
        manifest: Manifest,
        session: Session,
        *,
        concurrency: int,
        interval: float,
        timeout: float | None,
        output: Destination | None,
        force: bool,
        on_outcome: Callable[[Outcome], None],
        on_event: Callable[[Line, str], None],
        max_outage: float = DEFAULT_MAX_OUTAGE,
        budget: Budget | None = None,
        retry_failed: bool = False,
        strict_interval: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.session = session
        self.budget = budget
        self.estimated = Total()
        self.manifest = manifest.scoped(session.base_url, session.profile)
        self.ledger = session.ledger
        self.profile = session.profile
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_outage = max_outage
        self.output = output
        self.force = force
        self.on_outcome = on_outcome
        self.on_event = on_event
        self.sleep = session.sleep
        self.clock = session.clock
        self.outcomes: dict[int, Outcome] = {}
        #: What the API reserved for this run's creates, added up exactly (floats drift).
        self.reserved = Decimal(0)
        self._interval = interval
        self._strict_interval = strict_interval
        self._poller = self._new_poller()  # checks interval and timeout now; remade by run()
        #: The poll cadence, within the engine's bounds (never a busy loop of polls); held
        #: lines are looked at again at the same pace.
        self.interval = self._poller.interval
        #: The lines of each task followed (one, unless the history is odd).
        self._lines: dict[str, list[Line]] = {}
        #: ``--retry-failed``: lines whose task an earlier run made and that failed (with a code
        #: worth a retry) or that the API no longer knows get one new attempt in this run.
        self.retry_failed = retry_failed
        #: The attempt each line's create is (0 unless it is a retry).
        self._attempts: dict[int, int] = {}
        #: Tasks earlier runs made, by id, with the attempt they were: the ones a retry may follow.
        self._earlier: dict[str, int] = {}
        #: Lines to create again, found while polling (appended to what is pending).
        self._retries: list[Line] = []

    def _new_poller(self) -> Poller:
        return Poller(
            interval=self._interval,
            timeout=self.timeout,
            max_outage=self.max_outage,
            clock=self.clock,
            wall_clock=self.session.wall_clock,
            strict_interval=self._strict_interval,
        )

    @property
    def _deadline(self) -> float | None:
        """The run's deadline: polls and downloads end by it too (a trickling server cannot
        hold one)."""
        return self._poller.deadline

    def run(self) -> list[Outcome]:
        """Run every line to an outcome (or to the deadline); return them in manifest order."""
        self._poller = self._new_poller()  # the deadline counts from now
        self._lines = {}
        known = self._known()
        pending: list[Line] = []
        held: list[_Held] = []
        for line in self.manifest.lines:
            attempt, entry = self.manifest.latest(known, line)
            self._attempts[line.number] = attempt
            if (
                self.retry_failed
                and entry is not None
                and entry.task_id is not None
                and entry.status == "failed"
                and not entry.files
            ):
                if self._retry(line, entry.task_id, entry.error_code, attempt):
                    pending.append(line)
                    continue
                told = True  # said why not: not asked again when its poll says it failed
            else:
                told = False
            resumed = self._resume(line, entry)
            if isinstance(resumed, _Active):
                if not told:
                    self._earlier[resumed.task_id] = attempt
                self._follow(resumed)
            elif isinstance(resumed, _Held):
                held.append(resumed)
            elif line.number not in self.outcomes:
                pending.append(line)
        downloads: dict[int, Future[list[Path]]] = {}
        pool = _DaemonPool(min(MAX_DOWNLOADS, self.concurrency))
        try:
            # On Ctrl-C the downloads' daemon threads end with the process, leaving their .part
            # files for the rerun to resume.
            self._loop(pool, pending, held, downloads)
        finally:
            pool.shutdown()
        return [
            self.outcomes[line.number]
            for line in self.manifest.lines
            if line.number in self.outcomes
        ]

    def _known(self) -> dict[str | None, Entry]:
        return known_entries(self.ledger, self.manifest, self.session.base_url, self.profile)

    def _loop(
        self,
        pool: _DaemonPool,
        pending: list[Line],
        held: list[_Held],
        downloads: dict[int, Future[list[Path]]],
    ) -> None:
        """Keep up to ``concurrency`` lines in flight until every one has an outcome or the
        deadline passes; then, after a last poll of each task in flight, report what is still
        out: timed out, or an error when the API could not be reached about it."""
        while pending or self._lines or held or downloads:
            self._collect(downloads)
            late = self._poller.expired()
            self._poll_due(pool, downloads)  # at the deadline too: the last poll of each
            if late:
                break
            pending += self._retries
            self._retries.clear()
            while pending and self._in_flight() + len(downloads) < self.concurrency:
                line = pending.pop(0)
                try:
                    started = self._create(line)
                except HistoryUnavailable as exc:
                    # Nothing more is created once the ledger cannot record it: report every
                    # line not started, and finish what is in flight.
                    for unsent in [line, *pending]:
                        self._report(Outcome(unsent, "error", error=copy.copy(exc)))
                    pending.clear()
                    break
                if isinstance(started, _Active):
                    self._follow(started)
                elif isinstance(started, _Held):
                    held.append(started)
            now = self.clock()
            for waiting in [h for h in held if h.next_check <= now]:
                held.remove(waiting)
                adopted = self._check_held(waiting)
                if isinstance(adopted, _Active):
                    self._follow(adopted)
                elif isinstance(adopted, _Held):
                    held.append(adopted)
                elif adopted is not None:
                    pending.append(adopted)
            if not (pending or self._lines or held or downloads or self._retries):
                break
            self._pause(held, downloads)
        for task_id, error in self._poller.close().items():
            state = "error" if isinstance(error, UnreachableAtDeadline) else "timed_out"
            for line in self._lines.pop(task_id):
                self._report(Outcome(line, state, task_id, error.task, error=error))
        for waiting in held:
            unseen = WaitTimeout(
                "-",
                self.timeout or 0,
                message="another process was still creating it at the deadline",
            )
            self._report(Outcome(waiting.line, "timed_out", error=unseen))
        for line in pending:
            unstarted = WaitTimeout(
                "-", self.timeout or 0, message="not started before the deadline"
            )
            self._report(Outcome(line, "timed_out", error=unstarted))
        for number in list(downloads):
            downloads[number].exception()  # let started downloads finish
        self._collect(downloads)

    # -- steps ---------------------------------------------------------------------------------------

    def _resume(self, line: Line, entry: Entry | None) -> _Active | _Held | None:
        """What an earlier (or a concurrent) run left: saved, created (wait on it), being
        created by another live process (wait for it), or of unknown outcome."""
        if entry is None:
            return None
        if entry.task_id is None:
            if entry.state == CREATING and entry.idempotency_key:
                return _Held(line, entry.idempotency_key, self.clock())
            self._unknown(line, entry.idempotency_key)
            return None
        differs = entry.params and request_differs(
            line.request, entry.params, has_local_images=bool(line.local_images)
        )
        if differs:  # the same manifest, other profile defaults (say its model): not remade
            self.on_event(
                line,
                f"its task {entry.task_id} was made from a different request (differs in: "
                f"{', '.join(differs)}); kept, as the manifest is unchanged",
            )
        if entry.files and entry.status == "completed" and all(intact(f) for f in entry.files):
            self.on_event(line, f"already saved ({entry.task_id})")
            paths = [Path(f.path) for f in entry.files]
            self._report(Outcome(line, "succeeded", entry.task_id, paths=paths))
            return None
        if entry.files and entry.status == "completed":
            self.on_event(line, f"saved by an earlier run but changed or gone: {entry.task_id}")
        else:
            self.on_event(line, f"created by an earlier run: {entry.task_id}")
        return _Active(line, entry.task_id)

    def _retry(self, line: Line, task_id: str, code: str | None, attempt: int) -> bool:
        """Whether the line gets a new attempt for its failed (or gone) task: only for a code
        API.md says is worth a later retry; else it stays failed, saying why."""
        if code != GONE and not retry_worthy(code):
            self.on_event(
                line,
                f"{task_id} failed with {code}: not retried, as the same request would fail "
                "again (a changed line is a new manifest: put it in a manifest of its own, or "
                "every line is made again)",
            )
            return False
        self._attempts[line.number] = attempt + 1
        why = "is no longer known to the API" if code == GONE else f"failed ({code or 'no code'})"
        self.on_event(line, f"{task_id} {why}: retrying as attempt {attempt + 1}")
        return True

    def _unknown(self, line: Line, key: str | None) -> None:
        error = OutcomeUnknown(key or "-", "in an earlier run").replace(
            message="an earlier run's create had an unknown outcome; not resent"
        )
        self._report(Outcome(line, "unknown", error=error))

    def _taken(self, line: Line, claim: Claim) -> _Active | _Held | None:
        """A line whose claim someone else holds: its task, a live creator, or unknown."""
        if claim.task_id is not None:
            self.on_event(line, f"created by another run: {claim.task_id}")
            return _Active(line, claim.task_id)
        if claim.held:
            return _Held(line, claim.idempotency_key, self.clock() + self.interval)
        self._unknown(line, claim.idempotency_key)
        return None

    def _check_held(self, waiting: _Held) -> _Active | _Held | Line | None:
        """Look again at a line another process is creating. Its row gone means that create
        was refused (nothing was made): the line is ours to claim again."""
        try:
            claim = self.ledger.holder(waiting.idempotency_key)
        except HistoryUnavailable as exc:
            self._report(Outcome(waiting.line, "error", error=exc))
            return None
        if claim is None:
            return waiting.line
        if claim.held:
            waiting.next_check = self.clock() + self.interval
            return waiting
        return self._taken(waiting.line, claim)

    def _create(self, line: Line) -> _Active | _Held | None:
        """Reserve the line's estimate in the budget, claim the line and send its create.
        ``HistoryUnavailable`` (the claim cannot be written) propagates: the run stops
        creating."""
        cost = line.estimate
        if self.budget is not None:
            refusal = self.budget.reserve(cost)  # checked and counted in one step
            if refusal is not None:
                self._over_budget(line, refusal)
                return None
        try:
            request, uploaded = self._upload(line)
            attempt = self._attempts.get(line.number, 0)
            made = self.session.try_create(
                request,
                idempotency_key=self.manifest.idempotency_key(line, attempt),
                local_images=uploaded,
                batch_key=self.manifest.key(line, attempt),
                estimate=cost,
            )
        except HistoryUnavailable:
            self._release(cost)
            raise
        except SeedanceError as exc:
            unknown = isinstance(exc, OutcomeUnknown)
            if unknown:  # it may have made (and cost) a task: it stays counted
                self.estimated.add(cost)
            else:
                self._release(cost)
            self._report(Outcome(line, "unknown" if unknown else "error", error=exc))
            return None
        if isinstance(made, Claim):  # another run's create: not this run's spending
            self._release(cost)
            return self._taken(line, made)
        task = made
        if task.replayed:  # the API answered with the task this key made before: no new charge
            self._release(cost)
            self.on_event(line, f"{task.id}: the original task, no new charge")
            return _Active(line, task.id, task)
        self.estimated.add(cost)
        self.reserved += Decimal(str(task.credits_reserved or 0))
        self.on_event(line, f"created {task.id}")
        return _Active(line, task.id, task)

    def _release(self, cost: Estimate) -> None:
        if self.budget is not None:
            self.budget.release(cost)

    def _over_budget(self, line: Line, refusal: OverBudget) -> None:
        hint = OVER_BUDGET_HINT if line.estimate.known else UNKNOWN_PRICE_HINT
        if "input" in line.estimate.causes:
            hint += (
                "; a manifest cannot give the reference videos' length, so a line with videos "
                "counts at the longest the API accepts"
            )
        self._report(Outcome(line, "over_budget", error=refusal.replace(hint=hint)))

    def _upload(self, line: Line) -> tuple[GenerationRequest, list[dict[str, str]]]:
        """The line's request with its local images uploaded (files API; 72 hours)."""
        if not line.local_images:
            return line.request, []
        sources: list[str | ImageInfo] = list(line.request.image_urls)
        for index, image in line.local_images:
            sources[index] = image
        urls, uploaded = self.session.upload_images(
            sources,
            on_uploaded=lambda image, file: self.on_event(line, f"uploaded {image.path.name}"),
        )
        return dataclasses.replace(line.request, image_urls=tuple(urls)), uploaded

    def _follow(self, item: _Active) -> None:
        """Hand the line's task to the poll engine."""
        self._lines.setdefault(item.task_id, []).append(item.line)
        self._poller.add(item.task_id, task=item.task)

    def _in_flight(self) -> int:
        return sum(len(lines) for lines in self._lines.values())

    def _poll_due(self, pool: _DaemonPool, downloads: dict[int, Future[list[Path]]]) -> None:
        """Poll each task that is due once; finish the lines of those that end."""
        many = len(self._poller) > 1 and self.session.many_per_request
        self._poller.coalesce = COALESCE if many else 0.0
        sent = self.clock()
        due = self._poller.due()
        for task_id, result in fetch_all(self.session, due, deadline=self._deadline).items():
            before = self._poller.last(task_id)
            if isinstance(result, Task) and (before is None or before.status != result.status):
                for line in self._lines[task_id]:
                    self.on_event(line, f"{result.status} {result.progress}%")
            ended = self._poller.record(task_id, result, sent=sent)
            if ended is None:
                continue
            for line in self._lines.pop(task_id):
                if self._retried(line, task_id, ended):
                    continue
                if isinstance(ended, NotFoundError):
                    ended = ended.replace(hint=gone_hint(task_id, self.retry_failed))
                if isinstance(ended, SeedanceError):  # a permanent error, or too long an outage
                    self._report(Outcome(line, "error", task_id, before, error=ended))
                else:
                    self._finish(line, ended, pool, downloads)

    def _retried(self, line: Line, task_id: str, ended: Task | SeedanceError) -> bool:
        """With ``--retry-failed``, a task an earlier run made that this run sees fail (with a
        code worth it) or gone: the line is created again, once."""
        attempt = self._earlier.pop(task_id, None)
        if not self.retry_failed or attempt is None:
            return False
        if isinstance(ended, NotFoundError):
            code: str | None = GONE
        elif isinstance(ended, Task) and ended.status == "failed":
            code = ended.error.code if ended.error is not None else None
        else:
            return False
        if not self._retry(line, task_id, code, attempt):
            return False
        self._retries.append(line)
        return True

    def _finish(
        self,
        line: Line,
        task: Task,
        pool: _DaemonPool,
        downloads: dict[int, Future[list[Path]]],
    ) -> None:
        """A line whose task ended: report it, or save its result first."""
        if task.succeeded and (unusable := no_result(task)) is not None:
            self._report(Outcome(line, "failed", task.id, task, error=unusable))
        elif task.succeeded and self.output is not None:
            downloads[line.number] = pool.submit(self._save, line, task)
            self.outcomes[line.number] = Outcome(line, "succeeded", task.id, task)
        elif task.succeeded:
            self._report(Outcome(line, "succeeded", task.id, task))
        else:
            self._report(Outcome(line, "failed", task.id, task, error=TaskFailed(task)))

    def _save(self, line: Line, task: Task) -> list[Path]:
        assert self.output is not None
        # the output is always a folder: each line's file is named by Manifest.stem, as checked
        destination = Destination(self.manifest.target(line, self.output.path), False)
        # Another run of the same manifest may be saving this very task to the same file:
        # one at a time, and a file already saved intact is not fetched again.
        with self._target_lock(destination.target(task.id, 0)):
            entry = self.ledger.entry(task.id)
            targets = [destination.target(task.id, n) for n in range(len(task.results))]
            if (
                entry is not None
                and entry.files
                and {Path(f.path) for f in entry.files} == {t.resolve() for t in targets}
                and all(intact(f) for f in entry.files)  # the costly check last
            ):
                return targets
            saved = self.session.save(
                task,
                destination,
                force=self.force,
                deadline=self._deadline,  # --timeout bounds the downloads too
            )
        return [item.path for item in saved]

    def _target_lock(self, target: Path) -> contextlib.AbstractContextManager[None]:
        if self.ledger.disabled:
            return contextlib.nullcontext()
        return owner.exclusive(self.ledger.path.parent, str(target.resolve()))

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

    def _pause(self, held: Sequence[_Held], downloads: Mapping[int, Future[list[Path]]]) -> None:
        now = self.clock()
        polls = self._poller.wake()
        wake = min(
            [h.next_check for h in held] + ([] if polls is None else [polls]),
            default=now + self.interval,
        )
        if downloads:
            wake = min(wake, now + 0.05)
        if self._deadline is not None:
            wake = min(wake, self._deadline)
        if wake > now:
            self.sleep(wake - now)

    def _report(self, outcome: Outcome) -> None:
        self.outcomes[outcome.line.number] = outcome
        self.on_outcome(outcome)
