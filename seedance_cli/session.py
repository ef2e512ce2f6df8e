r"""One session under every command: the operations a command is made of, with the task history
kept up to date by them and only them.

A ``Session`` holds the client, the history (``Ledger``), the clock and the profile. Every task it
sees - created, polled, fetched again for a fresh result URL - is recorded in the history by the
session itself, with the API it came from; commands never write the history::

    command (cli/)  --parse-->  Session.create / wait / save / upload / batch  --result-->  render
                                   |            |           |
                               Ledger.claim  waiting     download
                               (one row per  (one poll   (one file
                                create)       engine)     at a time)
                                   \____________|___________/
                                         Client (HTTP: one retry policy)

``create`` claims a row before the create is sent (a create the history cannot record is not
sent; one another process holds is waited on, not sent again) and records the task id the moment
it answers; ``wait`` polls with the one engine of ``waiting``; ``save`` downloads every result of a
completed task, asking the API once for a fresh URL when the result host refuses the old one.
No HTTP here: the client does it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .download import (
    Progress,
    Saved,
    check_folder,
    check_target,
    download,
    result_name,
    video_suffix,
)
from .env import expand_user
from .errors import (
    APIError,
    ConfigError,
    ConnectionFailed,
    NoResult,
    OutcomeUnknown,
    OutputUnusable,
    RedirectRefused,
    ResultExpired,
    ResultGone,
    SeedanceError,
    UsageError,
    clip,
)
from .ledger import CREATING, OBSERVED, UNKNOWN, Claim, Entry, Ledger
from .models import GenerationRequest, Task, same_api
from .waiting import DEFAULT_MAX_OUTAGE, DEFAULT_POLL_INTERVAL, Outcome, Poller, follow

if TYPE_CHECKING:
    from .client import Client
    from .config import Settings
    from .images import ImageInfo
    from .models import Credits, ModelList, UploadedFile
    from .pricing import Estimate
    from .waiting import ErrorCallback, UpdateCallback


def usable_results(task: Task) -> tuple[str, ...]:
    """The result URLs of a completed task, each an http(s) URL; ``NoResult`` otherwise."""
    from urllib.parse import urlsplit

    raw = task.raw.get("results")
    if not isinstance(raw, list) or not raw:
        raise NoResult(task, "no results" if raw is None else f"results is {clip(repr(raw), 60)}")
    for item in raw:
        ok = isinstance(item, str) and not any(c.isspace() or ord(c) < 32 for c in item)
        if ok:
            try:
                parts = urlsplit(item)
                ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
            except ValueError:
                ok = False
        if not ok:
            raise NoResult(task, f"a result is not a URL: {clip(repr(item), 80)}")
    return tuple(raw)


def no_result(task: Task) -> NoResult | None:
    """``NoResult`` for a completed task without usable results, else ``None``."""
    try:
        usable_results(task)
    except NoResult as exc:
        return exc
    return None


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where results go: a file (``cat.mp4``, then ``cat-2.mp4``) or a folder (``<task-id>.mp4``)."""

    path: Path
    is_dir: bool

    @classmethod
    def from_option(
        cls, value: str | None, *, default_dir: str | None, several: bool
    ) -> Destination:
        """``-o`` as given: a folder if it is one, ends with ``/``, or several tasks share it."""
        if value is None:
            return cls(expand_user(default_dir or ".", "output-dir"), True)
        path = expand_user(value, "-o")
        try:
            is_dir = several or value.endswith(("/", os.sep)) or path.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL: ``check`` says what is wrong
            is_dir = False
        return cls(path, is_dir)

    def check(self, *, force: bool, task_ids: Sequence[str] = (), make: bool = True) -> None:
        """Everything about writing here that can be known before anything is sent or paid for.

        A file: its folder is one (or can be made) and writable, it is not a folder or a link, and
        exists only with ``force``. A folder: it is one (or can be made) and writable, and the
        first result of each known task would not land on a link or a folder (an existing file is
        reported per task, later). ``UsageError`` (exit 2) otherwise. With ``make`` (not in a dry
        run) the folder is made and written to now, the only sure test.
        """
        if not self.is_dir:
            check_target(self.path, force=force, make=make)
            return
        check_folder(self.path, make=make)
        for task_id in task_ids:
            check_target(self.target(task_id, 0), force=True)

    def option(self) -> str:
        """How to give this destination back to ``-o``: a folder keeps its trailing ``/``."""
        return f"{self.path}/" if self.is_dir else str(self.path)

    def target(self, task_id: str, index: int, *, suffix: str = ".mp4") -> Path:
        """The file for result ``index`` of ``task_id``: always directly inside the folder;
        named with ``suffix`` (``.mov`` for a QuickTime result) unless the user named it."""
        folder = self.path if self.is_dir else self.path.parent
        base = None if self.is_dir else self.path
        name = result_name(task_id, index, base=base, suffix=suffix)
        if name in ("", ".", "..") or Path(name).name != name or "\0" in name:
            raise OutputUnusable(f"{name!r} is not a usable file name")
        return folder / name


EXPIRY_HINT = (
    "result URLs expire 24 hours after the task completes; this one could not be fetched even at "
    "a fresh URL"
)

#: How long ``create`` waits for another process that holds the same key to get its answer.
HOLDER_PATIENCE: Final = 120.0
HOLDER_POLL: Final = 0.2
#: How long after its creation ``missing_results`` still asks about a task last seen unfinished:
#: tasks take minutes, results live 24 hours after completion, so after two days there is nothing
#: left to download (and old task records end up 404).
RECHECK_WINDOW: Final = 2 * 24 * 3600


@dataclasses.dataclass(frozen=True)
class Waited:
    """What ``Session.wait`` ends with: each task's outcome (the terminal task, or the error that
    ended its wait), in the order asked, and the deadline it kept (a ``clock`` time; ``None``
    without one)."""

    outcomes: dict[str, Outcome]
    deadline: float | None


@dataclasses.dataclass(frozen=True)
class PriorTask:
    """The task an idempotency key already made with this API (``Session.prior_task``):
    ``differs`` names the request fields in which this request is not that task's."""

    task_id: str
    created_at: float | None
    differs: tuple[str, ...]


def request_differs(
    request: GenerationRequest, params: Mapping[str, Any], *, has_local_images: bool
) -> tuple[str, ...]:
    """The body fields in which ``request`` is not the request the history recorded
    (``params``), nested ones (``model_params``) compared whole. Local images are known by their
    uploaded URLs only once uploaded: then ``image_urls`` is not compared."""
    body = request.to_body()
    fields = (set(body) | set(params)) - ({"image_urls"} if has_local_images else set())
    return tuple(sorted(k for k in fields if body.get(k) != params.get(k)))


#: ``history --sync``: how far back remote tasks are read (results expire in 24 hours), the most
#: pages of 50 read, and how long after a claim a remote task may have been created to be a
#: candidate for it.
SYNC_SPAN: Final = 2 * 86_400.0
SYNC_PAGES: Final = 20
SYNC_WINDOW: Final = 600.0


@dataclasses.dataclass(frozen=True)
class Synced:
    """What ``Session.sync`` did: whether the API lists tasks, how many it read and how many of
    them were new to the history, and per outcome-unknown key its row and the remote tasks that
    could be it (nothing is decided)."""

    available: bool
    read: int = 0
    new: int = 0
    candidates: Mapping[str, tuple[Entry, list[Task]]] = dataclasses.field(default_factory=dict)
    #: How many tasks the API says it holds (more than ``read`` when the pages ran out).
    total: int = 0


class Session:
    """The client, the history and the clock of one run, and the operations made of them.

    ``client`` is given, or made on first use by ``connect`` (so that commands that only read
    the history never open a connection); ``close`` (or ``with``) closes what the session opened.
    Every task the session sees is recorded in ``ledger``, with the client's API origin.
    """

    def __init__(
        self,
        ledger: Ledger,
        client: Client | None = None,
        *,
        connect: Callable[[], contextlib.AbstractContextManager[Client]] | None = None,
        profile: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if client is None and connect is None:
            raise ValueError("a session needs a client or a way to connect")
        self.ledger = ledger
        self.profile = profile
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self._client = client
        self._connect = connect
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close what the session opened, once the history holds everything it saw (a history
        another process keeps busy is waited on for a minute, then named in a warning)."""
        try:
            self.ledger.flush()
        finally:
            self._stack.close()

    @property
    def client(self) -> Client:
        """The client, connected on first use."""
        if self._client is None:
            assert self._connect is not None
            self._client = self._stack.enter_context(self._connect())
        return self._client

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def open(self) -> None:
        """Connect now rather than on first use (``ConfigError`` without a key; the sandbox
        starts): a command about to create calls it before it says anything of the create."""
        _ = self.client

    # -- tasks ---------------------------------------------------------------------------------------

    def get_task(self, task_id: str, *, deadline: float | None = None) -> Task:
        """Fetch a task and record what it says now. ``deadline`` (a ``clock`` time) bounds it."""
        task = self.client.get_task(task_id, deadline=deadline)
        self.ledger.observe(task, base_url=self.client.base_url)
        return task

    @property
    def many_per_request(self) -> bool:
        """``Client.many_per_request``."""
        return self.client.many_per_request

    def get_tasks(
        self, task_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, Task | SeedanceError]:
        """Fetch many tasks at once where the API can (``Client.get_tasks``) and record each
        task seen."""
        found = self.client.get_tasks(task_ids, deadline=deadline)
        for result in found.values():
            if isinstance(result, Task):
                self.ledger.observe(result, base_url=self.client.base_url)
        return found

    def wait(
        self,
        task_ids: Sequence[str],
        *,
        timeout: float | None = None,
        interval: float = DEFAULT_POLL_INTERVAL,
        on_update: UpdateCallback | None = None,
        on_error: ErrorCallback | None = None,
        max_outage: float = DEFAULT_MAX_OUTAGE,
        known: Sequence[Task] = (),
        strict_interval: bool = False,
    ) -> Waited:
        """Poll every task until each has an outcome, with the one engine of ``waiting``
        (``wait_for_tasks`` says the rules), recording every task seen. ``on_update`` and
        ``on_error`` are for display only. The deadline it kept comes back with the outcomes,
        for the downloads that follow to end by it too. ``known``: tasks as their create just
        answered (``waiting.follow``)."""
        poller = Poller(
            interval=interval,
            timeout=timeout,
            max_outage=max_outage,
            clock=self.clock,
            wall_clock=self.wall_clock,
            strict_interval=strict_interval,
        )
        outcomes = follow(
            self,
            poller,
            task_ids,
            known=known,
            on_update=on_update,
            on_error=on_error,
            sleep=self.sleep,
            clock=self.clock,
        )
        return Waited(outcomes, poller.deadline)

    def credits(self) -> Credits:
        return self.client.get_credits()

    def available_models(self) -> ModelList | None:
        """The models this key may use (``GET /v1/models``); ``None`` where the API does not
        say (the endpoint answers 404 or 405)."""
        return self.client.list_models()

    # -- creating ------------------------------------------------------------------------------------

    def create(
        self,
        request: GenerationRequest,
        *,
        idempotency_key: str,
        local_images: Sequence[Mapping[str, str]] = (),
        batch_key: str | None = None,
        on_adopted: Callable[[Task], None] | None = None,
        estimate: Estimate | None = None,
    ) -> Task:
        """Create a task, keeping the history right whatever happens.

        The create is claimed in the history first (``HistoryUnavailable``, exit 3, when the
        claim cannot be written: nothing is sent). A key (or batch line) already claimed is never
        sent again: its task is returned; a live process still sending it is waited on; a create
        of unknown outcome raises ``OutcomeUnknown``. A definite refusal or a create that never
        left removes the row; an unknown outcome (or Ctrl-C while the create was under way) marks
        it ``outcome_unknown`` with the key. ``on_adopted`` hears of a task another process's
        create made (nothing was sent here, nothing paid), before it is returned.

        ``estimate`` (``pricing.estimate`` of the request, made by default) is recorded in the
        claim, so the history keeps what every create was expected to cost. No budget is
        checked here: ``pricing.Budget`` does that before anything is uploaded or sent.
        """
        while True:
            made = self.try_create(
                request,
                idempotency_key=idempotency_key,
                local_images=local_images,
                batch_key=batch_key,
                estimate=estimate,
            )
            if isinstance(made, Task):
                return made
            adopted = self.adopt(made)
            if adopted is not None:
                if on_adopted is not None:
                    on_adopted(adopted)
                return adopted
            # The holder's create was refused (its row is gone): nothing was made; claim again.

    def try_create(
        self,
        request: GenerationRequest,
        *,
        idempotency_key: str,
        local_images: Sequence[Mapping[str, str]] = (),
        batch_key: str | None = None,
        estimate: Estimate | None = None,
    ) -> Task | Claim:
        """``create``, except that a create someone already claimed is not waited on: its
        ``Claim`` is returned (who holds it, and its task if any). Nothing is sent then."""
        client = self.client
        if estimate is None:
            from .pricing import estimate as estimate_of

            estimate = estimate_of(request)
        claim = self.ledger.claim(
            idempotency_key,
            request.to_body(),
            profile=self.profile,
            base_url=client.base_url,
            local_images=local_images,
            batch_key=batch_key,
            estimate=estimate.as_json(),
        )
        if not claim.mine:
            return claim
        ledger = self.ledger
        try:
            task = client.create_generation(request, idempotency_key=idempotency_key)
        except OutcomeUnknown as exc:
            ledger.outcome_unknown(idempotency_key, exc.cause)
            raise
        except KeyboardInterrupt:
            ledger.outcome_unknown(idempotency_key, "interrupted while the create was under way")
            raise
        except (APIError, ConnectionFailed, RedirectRefused, UsageError):
            ledger.not_created(idempotency_key)  # refused, here or there: no task was made
            raise
        except Exception as exc:  # anything else may have come after sending: never take it for no
            ledger.outcome_unknown(idempotency_key, f"{type(exc).__name__} while it was under way")
            raise
        ledger.created(idempotency_key, task)
        return task

    def adopt(self, claim: Claim, *, patience: float = HOLDER_PATIENCE) -> Task | None:
        """The task of a create someone else claimed: wait while a live owner is sending it,
        then fetch it. ``None`` when the row went away (that create was refused: no task). Never
        sends the create."""
        key = claim.idempotency_key
        deadline = self.clock() + patience
        current: Claim | None = claim
        while current is not None and current.held and self.clock() < deadline:
            self.sleep(HOLDER_POLL)
            current = self.ledger.holder(key)
        if current is None:
            return None
        if current.task_id is not None:
            return self.get_task(current.task_id)
        if current.held:
            pid = (current.owner or "").split("-")[0]
            raise OutcomeUnknown(key, f"another seedance process (pid {pid}) is still sending it")
        raise OutcomeUnknown(key, "an earlier create with this idempotency key had no answer")

    def prior_task(
        self,
        key: str,
        request: GenerationRequest,
        *,
        has_local_images: bool,
        base_url: str | None = None,
    ) -> PriorTask | None:
        """The task this idempotency key already made with this API, from the history; ``None``
        for a key the history does not hold for this API (or holds for a create still being
        sent by a live process: ``create`` waits for that one). Nothing is sent either way.

        A create with this key whose outcome is unknown is not sent again: ``OutcomeUnknown``
        (exit 10). Keys are per API origin: a row made against another base URL (an emulator) is
        not this API's task; as the history holds one row per key, such a key is refused (exit 2)
        rather than let a second task overwrite the first one's row. ``base_url`` is the API's
        (default: the client's; a dry run, which needs no key, gives the settings').
        """
        if self.ledger.disabled:  # no history (--sandbox): its tasks vanish with the process
            return None
        entries = self.ledger.by_idempotency_key(key)
        if entries is None:
            raise ConfigError(
                f"cannot read the task history in {self.ledger.path}, so cannot tell whether "
                f"idempotency key {key} already made a task; nothing was sent",
                hint="fix the history (see the warning above), or use a new key",
            )
        api = base_url if base_url is not None else self.client.base_url
        here = [e for e in entries if same_api(e.base_url, api)]
        if not here:
            if entries:
                raise UsageError(
                    f"--idempotency-key: {key} already made a task with another API "
                    f"({entries[0].base_url}); the history keeps one task per key",
                    hint="use a key of its own for each API (e.g. add the API's name to it)",
                )
            return None
        entry = here[0]
        if entry.task_id is None:
            if entry.state == CREATING:
                # Claimed by a process still sending it (rows of dead owners were marked unknown
                # when the history opened): the create's claim waits for that answer.
                return None
            raise OutcomeUnknown(key, "an earlier create with this key had an unknown outcome")
        differs = request_differs(request, entry.params, has_local_images=has_local_images)
        return PriorTask(entry.task_id, entry.created_at, differs)

    # -- files -----------------------------------------------------------------------------------

    def upload(
        self, image: ImageInfo, *, on_progress: Callable[[int, int], None] | None = None
    ) -> UploadedFile:
        """Upload one checked image through the files API (its URL lives 72 hours)."""
        return self.client.upload_file(image.path, mime=image.mime, on_progress=on_progress)

    def upload_images(
        self,
        sources: Sequence[str | ImageInfo],
        *,
        on_progress: Callable[[ImageInfo], Callable[[int, int], None] | None] | None = None,
        on_uploaded: Callable[[ImageInfo, UploadedFile], None] | None = None,
    ) -> tuple[list[str], list[dict[str, str]]]:
        """Every image as a URL, in order, local ones uploaded (URLs are kept as they are); and
        ``{"path", "url"}`` of each upload, for the history."""
        urls: list[str] = []
        uploaded: list[dict[str, str]] = []
        for source in sources:
            if isinstance(source, str):
                urls.append(source)
                continue
            progress = on_progress(source) if on_progress is not None else None
            file = self.upload(source, on_progress=progress)
            if on_uploaded is not None:
                on_uploaded(source, file)
            urls.append(file.file_url)
            uploaded.append({"path": str(source.path.resolve()), "url": file.file_url})
        return urls, uploaded

    def save(
        self,
        task: Task,
        output: Destination,
        *,
        force: bool,
        on_progress: Callable[[int, Path], Progress] | None = None,
        deadline: float | None = None,
    ) -> list[Saved]:
        """Download every result of a completed task to ``output``; record each in the history.
        ``deadline`` (a ``clock`` time, such as a wait's) bounds every transfer.

        When the result host refuses a URL (403/404/410) the task is fetched again once for a
        fresh one; if that is refused too, ``ResultExpired`` says that results live 24 hours.
        """
        client = self.client
        saved = []
        current = task
        usable_results(task)
        for index in range(len(task.results)):
            target = output.target(task.id, index, suffix=video_suffix(task.results[index]))
            progress = on_progress(index, target) if on_progress is not None else None

            def fetch(
                url: str, target: Path = target, progress: Progress | None = progress
            ) -> Saved:
                return download(
                    functools.partial(client.open_result, deadline=deadline),
                    url,
                    target,
                    force=force,
                    retry=client.retry,
                    sleep=self.sleep,
                    clock=self.clock,
                    deadline=deadline,
                    on_retry=client.trace,
                    on_progress=progress,
                )

            try:
                result = fetch(current.results[index])
            except ResultGone as first:
                current = self.get_task(task.id)
                if index >= len(current.results) or no_result(current) is not None:
                    raise ResultExpired(f"{task.id}: {first.message}", hint=EXPIRY_HINT) from None
                try:
                    result = fetch(current.results[index])
                except ResultGone as second:
                    raise ResultExpired(f"{task.id}: {second.message}", hint=EXPIRY_HINT) from None
            self.ledger.saved(task.id, index, result.path.resolve(), result.sha256, result.size)
            saved.append(result)
        return saved

    # -- the history -----------------------------------------------------------------------------

    def history(
        self, *, limit: int | None = None, status: str | None = None, search: str | None = None
    ) -> list[Entry]:
        """Rows of the history, newest first; ``ConfigError`` when it cannot be read."""
        entries = self.ledger.entries(limit=limit, status=status, search=search)
        if entries is None:
            raise ConfigError(f"cannot read the task history in {self.ledger.path}")
        return entries

    def sync(self, *, span: float = SYNC_SPAN) -> Synced:
        """Bring this key's recent remote tasks (created in the last ``span`` seconds, at most
        ``SYNC_PAGES`` pages of 50) into the history (``GET /v1/tasks``, where the API has it)
        and find, for each outcome-unknown create made with this API, the remote tasks that
        could be it: same model, created within ``SYNC_WINDOW`` seconds after its claim (or a
        minute before: clocks differ), and held by no other row. Decides nothing: the rows stay
        as they are. ``Synced.available`` is false where the API has no task list."""
        self.require_history("history --sync records what it reads in it")
        now = self.wall_clock()
        remote: dict[str, Task] = {}  # by id: a page that repeats itself adds nothing
        total = 0
        for page in range(1, SYNC_PAGES + 1):
            found = self.client.list_tasks(page=page, page_size=50)
            if found is None:
                return Synced(available=False)
            tasks, total = found
            fresh = [task for task in tasks if task.id not in remote]
            remote.update((task.id, task) for task in fresh)
            oldest = min((t.created for t in tasks if t.created is not None), default=None)
            if not fresh or len(remote) >= total or (oldest is not None and oldest < now - span):
                break
        listed = list(remote.values())
        entries = self.ledger.entries() or []
        held = {e.task_id for e in entries if e.task_id is not None and e.state != OBSERVED}
        known = {e.task_id for e in entries if e.task_id is not None}
        new = 0
        for task in listed:
            new += task.id not in known
            self.ledger.observe(task, base_url=self.client.base_url, listed=True)
        self.ledger.flush()
        candidates: dict[str, tuple[Entry, list[Task]]] = {}
        for entry in entries:
            if entry.state != UNKNOWN or entry.idempotency_key is None:
                continue
            if not same_api(entry.base_url, self.client.base_url) or entry.created_at is None:
                continue
            from .catalogue import DEFAULT_MODEL

            model = entry.params.get("model") or DEFAULT_MODEL
            matches = [
                task
                for task in listed
                if task.id not in held
                and (task.model in (None, model))
                and task.created is not None
                and entry.created_at - 60 <= task.created <= entry.created_at + SYNC_WINDOW
            ]
            candidates[entry.idempotency_key] = (entry, matches)
        return Synced(True, len(listed), new, candidates, max(total, len(listed)))

    def settle(self, idempotency_key: str, task_id: str | None) -> str:
        """``history --settle``: the user's word on an outcome-unknown create of this API. The
        row is looked at first (an outcome-unknown create made with this API, else exit 2),
        then a task id is asked about (it must exist for this key: ``NotFoundError``
        otherwise), recorded, and the row takes it with all the answer said (status, results,
        error, credits); ``None`` forgets the row (``Ledger.settle``)."""
        entries = self.ledger.by_idempotency_key(idempotency_key)
        if entries is None:
            raise ConfigError(f"cannot read the task history in {self.ledger.path}")
        unknown = [e for e in entries if e.state == UNKNOWN and e.task_id is None]
        if not unknown:
            raise UsageError(
                f"--settle: idempotency key {idempotency_key} holds no outcome-unknown create",
                hint="`seedance history --status outcome_unknown` lists them",
            )
        if not same_api(unknown[0].base_url, self.client.base_url):
            raise UsageError(
                f"--settle: the create with key {idempotency_key} went to another API "
                f"({unknown[0].base_url}); settle it against that one",
                hint=f"seedance --base-url {unknown[0].base_url} history --settle ...",
            )
        if task_id is None:
            return self.ledger.settle(idempotency_key, None)
        task = self.client.get_task(task_id)  # it exists for this key, or exit 6
        said = self.ledger.settle(idempotency_key, task_id)
        self.ledger.observe(task, base_url=self.client.base_url)  # the row learns what it is
        return said

    def require_history(self, why: str) -> None:
        """``ConfigError`` (exit 3) when the history cannot be read, saying ``why`` it is needed;
        nothing when none is kept (``--sandbox``)."""
        if not self.ledger.disabled and self.ledger.entries(limit=1) is None:
            raise ConfigError(f"the task history ({self.ledger.path}) cannot be used, and {why}")

    def missing_results(self) -> list[str]:
        """Task ids, oldest first, made with this API, whose result is missing: completed,
        never saved and not expired, or last seen unfinished (pending, processing, or a status
        this version does not know) in the last two days, which may have completed since."""
        from .models import TaskStatus

        base_url = self.client.base_url
        now = self.wall_clock()
        return [
            e.task_id
            for e in reversed(self.history())
            if e.task_id
            and same_api(e.base_url, base_url)
            and (
                e.result_state(now) == "downloadable"
                or (
                    not e.files
                    and e.status not in TaskStatus.TERMINAL
                    and (e.created_at is None or now - e.created_at < RECHECK_WINDOW)
                )
            )
        ]


def open_session(
    settings: Settings,
    *,
    data_dir: Path,
    sandbox: bool = False,
    sandbox_task_seconds: float = 4.0,
    trace: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Session:
    """The session of a run with ``settings``: the history in ``data_dir`` (none is kept with
    ``sandbox``: its tasks vanish with the process), and a client connected on first use (to an
    in-process emulator with ``sandbox``). ``on_info`` hears of the sandbox, ``on_warning`` of a
    history that cannot be used."""
    ledger = Ledger(data_dir, clock=wall_clock, on_warning=on_warning)
    ledger.disabled = sandbox
    return Session(
        ledger,
        connect=functools.partial(
            connect,
            settings,
            sandbox=sandbox,
            sandbox_task_seconds=sandbox_task_seconds,
            trace=trace,
            on_info=on_info,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
        ),
        profile=settings.profile,
        sleep=sleep,
        clock=clock,
        wall_clock=wall_clock,
    )


def recent_task_ids(data_dir: Path, *, status: str | None = None, limit: int = 100) -> list[str]:
    """Task ids in the history in ``data_dir``, newest first (for shell completion): never an
    error, at worst none."""
    entries = Ledger(data_dir).entries(limit=limit, status=status) or []
    return [entry.task_id for entry in entries if entry.task_id]


@contextlib.contextmanager
def connect(
    settings: Settings,
    *,
    sandbox: bool = False,
    sandbox_task_seconds: float = 4.0,
    trace: Callable[[str], None] | None = None,
    on_info: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Iterator[Client]:
    """A client for the configured API; with ``sandbox``, for an in-process emulator (started
    here, stopped on exit: no key, no network, no cost). ``ConfigError`` without a key."""
    from .client import Client

    with contextlib.ExitStack() as stack:
        if sandbox:
            from .emulator import Emulator

            emulator = stack.enter_context(
                Emulator(task_seconds=sandbox_task_seconds, clock=wall_clock)
            )
            if on_info is not None:
                on_info(
                    f"sandbox: a local emulator at {emulator.url} stands in for EvoLink "
                    "(no key, no network, no cost)"
                )
            key, base_url, files_url = "sandbox-key", emulator.url, emulator.url
        elif settings.api_key is None:
            raise ConfigError(
                "no API key",
                hint="run `seedance config set api-key` (it asks for the key without echoing "
                "it), or export SEEDANCE_API_KEY; keys are at https://evolink.ai/dashboard/keys",
            )
        else:
            key, base_url, files_url = settings.api_key, settings.base_url, settings.files_url
        yield stack.enter_context(
            Client(
                key,
                base_url=base_url,
                files_url=files_url,
                trace=trace,
                sleep=sleep,
                clock=clock,
                wall_clock=wall_clock,
            )
        )
