"""What commands show: one small frozen object per kind of result, handed to ``Output.show``.

A command builds one of these from what its session operation returned and leaves the rest to
``render``, the one place that decides between JSON (``--json``), a terminal's view (tables,
highlighted JSON) and plain lines for pipes and logs. Pure data: nothing here writes, formats or
imports more than the standard library, so that every command can import it at no cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from decimal import Decimal

    from .batch import Outcome
    from .catalogue import ModelSpec
    from .errors import SeedanceError
    from .images import ImageInfo
    from .ledger import Entry
    from .models import Credits, ModelList, Task, UploadedFile
    from .pricing import Estimate, SecondPrice, Total
    from .spending import Usage


@dataclasses.dataclass(frozen=True)
class CreatedTask:
    """A task ``generate`` created (or an idempotency key's earlier one), not waited for.

    Plain text is its id alone; JSON and a terminal show the task, which ``fetch`` gets as it is now
    when only the id is known (``task`` is ``None``), and only then."""

    task_id: str
    task: Task | None = None
    fetch: Callable[[], Task] | None = dataclasses.field(default=None, compare=False)

    def current(self) -> Task:
        if self.task is not None:
            return self.task
        assert self.fetch is not None, "a CreatedTask without its task needs fetch"
        return self.fetch()


@dataclasses.dataclass(frozen=True)
class FinishedTask:
    """A completed task (``wait``, ``generate --wait``): its result URL, or the task in JSON and on
    a terminal. ``usable`` is false when it has no result to give: plain text then prints nothing
    and the error that follows says why."""

    task: Task
    usable: bool = True


@dataclasses.dataclass(frozen=True)
class UnfinishedTask:
    """A waited-for task that failed, or was still running at the deadline: JSON shows it among the
    results; text leaves it to the error on stderr."""

    task: Task


@dataclasses.dataclass(frozen=True)
class SavedFiles:
    """A task whose results were saved: each path (JSON: the task with its ``files``)."""

    task: Task
    paths: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class StatusRows:
    """``status``: each id with its task, or the error that fetching it met, in the ids' order."""

    rows: tuple[tuple[str, Task | SeedanceError], ...]


@dataclasses.dataclass(frozen=True)
class DryRun:
    """``generate --dry-run``: the uploads and the create that would be sent, and what it is
    estimated to cost (JSON: ``estimate``; text says it on stderr, as a real run does)."""

    url: str
    upload_url: str
    uploads: tuple[ImageInfo, ...]
    idempotency_key: str | None
    body: Mapping[str, Any]
    estimate: Estimate | None = None


@dataclasses.dataclass(frozen=True)
class PlannedLine:
    """One line of a manifest as ``batch --dry-run`` shows it: its request body and its
    estimate; ``over_budget`` says, when the run has a budget, whether the line would be left
    out for it (``None``: no budget)."""

    number: int
    name: str | None
    body: Mapping[str, Any]
    estimate: Estimate | None = None
    over_budget: bool | None = None


@dataclasses.dataclass(frozen=True)
class BatchDryRun:
    """``batch --dry-run``: every line of the manifest, checked, and the estimate of them all
    (``total``; ``None``: not shown). ``budget`` names the budget the lines were held to
    (``--max-credits 50``), ``None`` without one."""

    lines: tuple[PlannedLine, ...]
    total: Total | None = None
    budget: str | None = None

    @property
    def over_budget(self) -> tuple[int, ...]:
        """The numbers of the lines the budget would leave out."""
        return tuple(line.number for line in self.lines if line.over_budget)


#: What ``batch`` calls a line's end: the API's word for success, and a readable unknown
#: (``over_budget``, a line not created for the run's budget, keeps its own name).
BATCH_STATUS = {"succeeded": "completed", "unknown": "outcome_unknown"}


@dataclasses.dataclass(frozen=True)
class BatchLine:
    """How one line of a batch ended, shown as soon as it does."""

    number: int
    name: str | None
    task_id: str | None
    status: str
    files: tuple[str, ...] = ()
    error: SeedanceError | None = None

    @classmethod
    def of(cls, outcome: Outcome) -> BatchLine:
        """How ``outcome`` is told: the line, its task, its status in the API's words."""
        return cls(
            number=outcome.line.number,
            name=outcome.line.name,
            task_id=outcome.task_id,
            status=BATCH_STATUS.get(outcome.state, outcome.state),
            files=tuple(str(path) for path in outcome.paths),
            error=outcome.error,
        )


@dataclasses.dataclass(frozen=True)
class UploadedImage:
    """A local image uploaded through the files API: its URL."""

    path: Path
    file: UploadedFile


@dataclasses.dataclass(frozen=True)
class Balance:
    """``credits``: the key's and the account's."""

    credits: Credits


#: How many models the API lists that this version does not know are shown (the rest counted).
MAX_NEW_SHOWN = 50


@dataclasses.dataclass(frozen=True)
class Availability:
    """What the API said about the models this key may use (``models --available``).

    ``listed``: the ids ``GET /v1/models`` lists; ``None`` when the API does not say (the endpoint
    answered 404 or 405). ``new``: the Seedance models it lists that this version does not know
    (ids holding ``seedance``: the API lists the key's other models too), at most
    ``MAX_NEW_SHOWN`` of them, ``more_new`` counting the rest. ``skipped`` and ``truncated``: what
    of the answer could not be read (``ModelList``)."""

    listed: frozenset[str] | None
    new: tuple[str, ...] = ()
    more_new: int = 0
    skipped: int = 0
    truncated: bool = False

    @classmethod
    def of(cls, models: ModelList | None, known: Iterable[str]) -> Availability:
        if models is None:
            return cls(None)
        catalogue = set(known)
        new = [i for i in models.ids if i not in catalogue and "seedance" in i.lower()]
        return cls(
            frozenset(models.ids),
            tuple(new[:MAX_NEW_SHOWN]),
            max(0, len(new) - MAX_NEW_SHOWN),
            models.skipped,
            models.truncated,
        )

    def of_model(self, model_id: str) -> bool | None:
        """Whether this key may use ``model_id``; ``None`` when the API does not say."""
        return None if self.listed is None else model_id in self.listed


@dataclasses.dataclass(frozen=True)
class ModelRows:
    """``models``: every model this version knows (``specs``, in the catalogue's order), which
    one ``generate`` uses without ``--model`` (``default``), and with ``--available`` what the API
    said (``availability``; ``None`` when it was not asked)."""

    specs: tuple[ModelSpec, ...]
    default: str
    availability: Availability | None = None


@dataclasses.dataclass(frozen=True)
class ModelDetail:
    """``models MODEL``: everything about one model. ``availability`` as in ``ModelRows``.

    ``prices``: the price of a second per quality (``pricing.per_second``), ``None`` when no rule
    is published (shown as unknown, never 0); ``minimum``: the least a create is charged."""

    spec: ModelSpec
    is_default: bool
    availability: Availability | None = None
    prices: tuple[SecondPrice, ...] | None = None
    minimum: Decimal | None = None


@dataclasses.dataclass(frozen=True)
class HistoryRows:
    """``history``: rows of the local history, newest first, as of ``now`` (epoch seconds); the
    text says where the history is (``source``) when there are none."""

    entries: tuple[Entry, ...]
    now: float
    source: Path | str


@dataclasses.dataclass(frozen=True)
class UsageReport:
    """``usage``: what the history says was spent in a period, per day or per model (``usage``)
    and per day whatever the grouping (``days``, for the chart a terminal gets); ``source`` is
    where the history is, for the note an empty period draws."""

    usage: Usage
    days: Usage
    source: Path | str


@dataclasses.dataclass(frozen=True)
class ConfigValue:
    """``config get``: one key's value, as shown (keys masked)."""

    key: str
    value: str


@dataclasses.dataclass(frozen=True)
class ConfigSettings:
    """``config list``: (key, value, source) of every setting in effect (keys masked)."""

    rows: tuple[tuple[str, Any, str], ...]


@dataclasses.dataclass(frozen=True)
class ConfigPath:
    """``config path``: where the config file is (it need not exist yet)."""

    path: Path

    @property
    def exists(self) -> bool:
        """Whether the file exists, looked up when asked: only JSON says, and only JSON can fail
        over a folder that cannot be read."""
        return self.path.exists()


Shown: TypeAlias = (
    CreatedTask
    | FinishedTask
    | UnfinishedTask
    | SavedFiles
    | StatusRows
    | DryRun
    | BatchDryRun
    | BatchLine
    | UploadedImage
    | Balance
    | ModelRows
    | ModelDetail
    | HistoryRows
    | UsageReport
    | ConfigValue
    | ConfigSettings
    | ConfigPath
)
