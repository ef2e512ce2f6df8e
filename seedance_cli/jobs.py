"""The operations a command is made of, with the ledger kept up to date at every step.

``create`` records a row before the create is sent and the task id the moment it answers;
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
from typing import TYPE_CHECKING

from .download import Progress, ResultGone, Saved, download, result_name
from .errors import APIError, ConnectionFailed, OutcomeUnknown, RedirectRefused, ServiceError
from .ledger import Ledger
from .models import GenerationRequest, Task

if TYPE_CHECKING:
    from .client import Client


class ResultExpired(ServiceError):
    """The result is gone from its host, even at a fresh URL: results live 24 hours."""

    code = "result_expired"


def create(
    client: Client,
    ledger: Ledger,
    request: GenerationRequest,
    *,
    idempotency_key: str,
    profile: str | None,
    local_images: Sequence[Mapping[str, str]] = (),
    batch_key: str | None = None,
) -> Task:
    """Create a task, keeping the ledger right whatever happens.

    A definite refusal or a create that never left removes the row; an unknown outcome (or Ctrl-C
    while the create was under way) marks it ``outcome_unknown`` with the key.
    """
    ledger.begin_create(
        idempotency_key,
        request.to_body(),
        profile=profile,
        base_url=client.base_url,
        local_images=local_images,
        batch_key=batch_key,
    )
    try:
        task = client.create_generation(request, idempotency_key=idempotency_key)
    except OutcomeUnknown as exc:
        ledger.outcome_unknown(idempotency_key, exc.cause)
        raise
    except KeyboardInterrupt:
        ledger.outcome_unknown(idempotency_key, "interrupted while the create was under way")
        raise
    except (APIError, ConnectionFailed, RedirectRefused):
        ledger.not_created(idempotency_key)
        raise
    ledger.created(idempotency_key, task)
    return task


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
        is_dir = several or value.endswith(("/", os.sep)) or path.is_dir()
        return cls(path, is_dir)

    def option(self) -> str:
        """How to give this destination back to ``-o``: a folder keeps its trailing ``/``."""
        return f"{self.path}/" if self.is_dir else str(self.path)

    def target(self, task_id: str, index: int) -> Path:
        if self.is_dir:
            return self.path / result_name(task_id, index)
        return self.path.with_name(result_name(task_id, index, base=self.path))


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
            if index >= len(current.results):
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
