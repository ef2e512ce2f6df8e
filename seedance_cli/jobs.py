"""The operations a command is made of, with the ledger kept up to date at every step.

``create`` claims a row before the create is sent (a create the history cannot record is not
sent; one another process holds is waited on, not sent again) and records the task id the moment
it answers;
``save_results`` downloads every result of a completed task, asking the API once for a fresh URL
when the result host refuses the old one. No HTTP here: the client does it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .download import Progress, Saved, check_folder, check_target, download, result_name
from .errors import (
    APIError,
    ConnectionFailed,
    NoResult,
    OutcomeUnknown,
    OutputUnusable,
    RedirectRefused,
    ResultExpired,
    ResultGone,
    UsageError,
    clip,
)
from .ledger import Claim, Ledger
from .models import GenerationRequest, Task

if TYPE_CHECKING:
    from .client import Client


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


#: How long ``create`` waits for another process that holds the same key to get its answer.
HOLDER_PATIENCE: Final = 120.0
HOLDER_POLL: Final = 0.2


class Taken(Exception):
    """``create(wait_for_holder=False)`` found the create claimed already: ``claim`` says by
    whom and with which task, if any. Nothing was sent."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim.idempotency_key)
        self.claim = claim


def create(
    client: Client,
    ledger: Ledger,
    request: GenerationRequest,
    *,
    idempotency_key: str,
    profile: str | None,
    local_images: Sequence[Mapping[str, str]] = (),
    batch_key: str | None = None,
    wait_for_holder: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Task:
    """Create a task, keeping the ledger right whatever happens.

    The create is claimed in the ledger first (``HistoryUnavailable``, exit 3, when the claim
    cannot be written: nothing is sent). A key (or batch line) already claimed is never sent
    again: its task is returned; a live process still sending it is waited on; a create of
    unknown outcome raises ``OutcomeUnknown``. With ``wait_for_holder=False`` ``Taken`` says so
    at once instead. A definite refusal or a create that never left removes the row; an unknown
    outcome (or Ctrl-C while the create was under way) marks it ``outcome_unknown`` with the key.
    """
    while True:
        claim = ledger.claim(
            idempotency_key,
            request.to_body(),
            profile=profile,
            base_url=client.base_url,
            local_images=local_images,
            batch_key=batch_key,
        )
        if claim.mine:
            break
        if not wait_for_holder:
            raise Taken(claim)
        adopted = adopt(client, ledger, claim, sleep=sleep, clock=clock)
        if adopted is not None:
            return adopted
        # The holder's create was refused (its row is gone): nothing was made; claim again.
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


def adopt(
    client: Client,
    ledger: Ledger,
    claim: Claim,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    patience: float = HOLDER_PATIENCE,
) -> Task | None:
    """The task of a create someone else claimed: wait while a live owner is sending it, then
    fetch it. ``None`` when the row went away (that create was refused: no task). Never sends
    the create."""
    key = claim.idempotency_key
    deadline = clock() + patience
    current: Claim | None = claim
    while current is not None and current.held and clock() < deadline:
        sleep(HOLDER_POLL)
        current = ledger.holder(key)
    if current is None:
        return None
    if current.task_id is not None:
        task = client.get_task(current.task_id)
        ledger.observe(task, base_url=client.base_url)
        return task
    if current.held:
        pid = (current.owner or "").split("-")[0]
        raise OutcomeUnknown(key, f"another seedance process (pid {pid}) is still sending it")
    raise OutcomeUnknown(key, "an earlier create with this idempotency key had no answer")


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
            return cls(Path(default_dir or ".").expanduser(), True)
        path = Path(value).expanduser()
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

    def target(self, task_id: str, index: int) -> Path:
        """The file for result ``index`` of ``task_id``: always directly inside the folder."""
        folder = self.path if self.is_dir else self.path.parent
        name = result_name(task_id, index, base=None if self.is_dir else self.path)
        if name in ("", ".", "..") or Path(name).name != name or "\0" in name:
            raise OutputUnusable(f"{name!r} is not a usable file name")
        return folder / name


def save_results(
    client: Client,
    ledger: Ledger,
    task: Task,
    output: Destination,
    *,
    force: bool,
    on_progress: Callable[[int, Path], Progress] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> list[Saved]:
    """Download every result of a completed task to ``output``; record each in the ledger.
    ``deadline`` (a ``client`` clock time, such as a wait's) bounds every transfer.

    When the result host refuses a URL (403/404/410) the task is fetched again once for a fresh
    one; if that is refused too, ``ResultExpired`` says that results live 24 hours.
    """
    saved = []
    current = task
    usable_results(task)
    for index in range(len(task.results)):
        target = output.target(task.id, index)
        progress = on_progress(index, target) if on_progress is not None else None

        def fetch(url: str, target: Path = target, progress: Progress | None = progress) -> Saved:
            return download(
                functools.partial(client.open_result, deadline=deadline),
                url,
                target,
                force=force,
                retry=client.retry,
                sleep=sleep,
                on_progress=progress,
            )

        try:
            result = fetch(current.results[index])
        except ResultGone as first:
            current = client.get_task(task.id)
            ledger.observe(current)
            if index >= len(current.results) or no_result(current) is not None:
                raise ResultExpired(f"{task.id}: {first.message}", hint=EXPIRY_HINT) from None
            try:
                result = fetch(current.results[index])
            except ResultGone as second:
                raise ResultExpired(f"{task.id}: {second.message}", hint=EXPIRY_HINT) from None
        ledger.saved(task.id, index, result.path.resolve(), result.sha256, result.size)
        saved.append(result)
    return saved


EXPIRY_HINT = (
    "result URLs expire 24 hours after the task completes; this one could not be fetched even at "
    "a fresh URL"
)
