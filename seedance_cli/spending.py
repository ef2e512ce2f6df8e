"""What was spent, from the history: estimated, reserved, charged and released credits per group.

``summarize`` reads history entries (``ledger.Entry``) and adds up, per day or per model, the four
figures ``seedance usage`` reports. Each is taken only from what the history knows, never guessed:

* **estimated**: the estimate made before the create (a range adds up as a range; a task whose
  price was unknown is counted in ``unpriced``, never as 0);
* **reserved**: the API's ``usage.credits_reserved`` on the create's answer;
* **charged**: the task's ``billing.charged_credits`` (or ``usage.credits_used`` on a completed
  task), where the API sent them;
* **released**: the reservation of a task that failed or was cancelled (not charged, API.md), or
  one whose billing says ``released``.

Each group also counts the tasks behind each figure, so that a figure nothing is known of is
"unknown" (``None`` in ``as_json``), never 0: ``estimated_tasks`` (a known estimate),
``reserved_tasks``, ``charged_tasks`` (a charge the API stated, or 0 for a released reservation).
``spent`` is each task's best known cost: its charge where known, nothing once released, else its
reservation (a task still running, or an API that sends no billing).

A create answered with ``idempotency-replayed: true`` is the original task: it is counted once.
Rows that never became a task (a create refused, or with an unknown outcome) have no figures.
Tasks this history did not create, only saw (``status``, ``wait``, ``download`` of an id made on
another machine or with another tool), are not counted: the history that created them counts them,
so usage reports of two machines add up without counting a task twice. ``Usage.elsewhere`` says how
many there were. Tasks made against another API than the one asked about (an emulator rehearsal in
the same history as the real runs) are left out too, and counted by API in ``Usage.other_apis``.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from . import pricing
from .catalogue import DEFAULT_MODEL
from .ledger import OBSERVED
from .models import MAX_CREDITS, TaskStatus, api_origin

if TYPE_CHECKING:
    from .ledger import Entry

GROUPINGS: Final = ("day", "model")
#: The largest credit figure one task may carry: anything above is absurd, read as absent.
MAX_FIGURE: Final = Decimal(MAX_CREDITS)


@dataclasses.dataclass
class Spend:
    """The figures of one group (a day, a model, or the whole period), in credits."""

    key: str
    tasks: int = 0
    estimated_low: Decimal = Decimal(0)
    estimated_high: Decimal = Decimal(0)
    unpriced: int = 0
    reserved: Decimal = Decimal(0)
    charged: Decimal = Decimal(0)
    released: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    estimated_tasks: int = 0
    reserved_tasks: int = 0
    charged_tasks: int = 0

    def add(self, entry: Entry) -> None:
        self.tasks += 1
        estimate = entry.estimate or {}
        low, high = _decimal(estimate.get("low")), _decimal(estimate.get("high"))
        if low is not None and high is not None and low <= high:
            self.estimated_low += low
            self.estimated_high += high
            self.estimated_tasks += 1
        elif entry.estimate is not None:
            self.unpriced += 1
        reserved = _decimal(entry.credits_reserved)
        # While the billing says "reserved" its charged_credits (0) is no charge yet.
        charged = None if entry.charge_status == "reserved" else _decimal(entry.credits_charged)
        released = _decimal(entry.credits_released)
        if reserved is not None:
            self.reserved += reserved
            self.reserved_tasks += 1
        if released is not None:
            self.released += released
        if charged is None and released is not None:
            charged = Decimal(0)  # a released reservation was not charged (API.md)
        if charged is not None:
            self.charged += charged
            self.charged_tasks += 1
        self.spent += charged if charged is not None else reserved or 0

    @property
    def unestimated(self) -> int:
        """Tasks the history holds no estimate for (made before estimates were kept, or
        elsewhere)."""
        return self.tasks - self.estimated_tasks - self.unpriced

    def known(self, figure: str) -> bool:
        """Whether ``figure`` (``estimated``, ``reserved``, ``charged``, ``spent``) is known for
        at least one task of the group; a group of no tasks knows that it spent nothing."""
        if self.tasks == 0 or figure == "released":
            return True
        if figure == "spent":
            return self.reserved_tasks + self.charged_tasks > 0
        count: int = getattr(self, f"{figure}_tasks")
        return count > 0

    def missing(self, figure: str) -> int:
        """How many tasks of the group ``figure`` (``estimated``, ``reserved``, ``charged``) is
        not known for: a sum over the others is partial by that many (a task still running has
        no charge yet; a task whose price is unknown has no estimate)."""
        count: int = getattr(self, f"{figure}_tasks")
        return self.tasks - count

    def as_json(self) -> dict[str, Any]:
        """The group as JSON numbers (credits to their four decimals, dollars to cents); a
        figure not known for any of its tasks is ``null``, never 0."""
        figures = {
            "estimated_low": ("estimated", self.estimated_low),
            "estimated_high": ("estimated", self.estimated_high),
            "reserved": ("reserved", self.reserved),
            "charged": ("charged", self.charged),
            "released": ("released", self.released),
            "spent": ("spent", self.spent),
        }
        out: dict[str, Any] = {
            "key": self.key,
            "tasks": self.tasks,
            "unpriced": self.unpriced,
            "unestimated": self.unestimated,
            "estimated_tasks": self.estimated_tasks,
            "reserved_tasks": self.reserved_tasks,
            "charged_tasks": self.charged_tasks,
        }
        for name, (figure, credits) in figures.items():
            known = self.known(figure)
            out[name] = float(credits) if known else None
            out[f"{name}_usd"] = float(pricing.usd(credits)) if known else None
        return out


@dataclasses.dataclass(frozen=True)
class Usage:
    """``groups`` in order (days oldest first, models by reserved credits, largest first) and
    ``total`` over the period that began at ``since`` (``None``: all of the history)."""

    by: str
    since: float | None
    groups: tuple[Spend, ...]
    total: Spend
    #: Tasks of the period this history only saw, created elsewhere: not counted.
    elsewhere: int = 0
    #: The API the report is about (its origin; ``None``: every API), and how many tasks of the
    #: period other APIs made (not counted), by origin.
    api: str | None = None
    other_apis: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Counted tasks the history last saw unfinished: their charge is not known yet.
    unfinished: int = 0


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    # a figure no task costs (a history edited by hand, a lying server) is read as absent
    return number if number.is_finite() and 0 <= number <= MAX_FIGURE else None


def model_of(entry: Entry) -> str:
    model = entry.params.get("model")
    return model if isinstance(model, str) and model else DEFAULT_MODEL


def day_of(entry: Entry, tz: datetime.tzinfo | None = None) -> str:
    """The local date the task was created (``YYYY-MM-DD``)."""
    when = datetime.datetime.fromtimestamp(entry.created_at or 0, tz=tz)
    return when.date().isoformat()


def counted(entry: Entry) -> bool:
    """Whether a history row is a task that may have cost something, counted once: it has a task
    id, and it is not a replay of a create already counted."""
    return entry.task_id is not None and not entry.replayed and not seen_only(entry)


def seen_only(entry: Entry) -> bool:
    """Whether the history only saw the task (``status``/``wait`` of an id made elsewhere)."""
    return entry.state == OBSERVED


def summarize(
    entries: Iterable[Entry],
    *,
    by: str = "day",
    since: float | None = None,
    tz: datetime.tzinfo | None = None,
    api: str | None = None,
) -> Usage:
    """Add up what each task of ``entries`` created at or after ``since`` against ``api`` (an
    origin, ``models.api_origin``; ``None``: any) cost, per ``by``. A row that does not say which
    API made it is counted (spend is never hidden)."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    key: Callable[[Entry], str] = model_of if by == "model" else (lambda e: day_of(e, tz))
    groups: dict[str, Spend] = {}
    total = Spend("total")
    elsewhere = unfinished = 0
    others: dict[str, int] = {}
    for entry in entries:
        if since is not None and (entry.created_at is None or entry.created_at < since):
            continue
        origin = api_origin(entry.base_url)
        if api is not None and origin and origin != api:
            if counted(entry):
                others[origin] = others.get(origin, 0) + 1
            continue
        if entry.task_id is not None and seen_only(entry):
            elsewhere += 1
        if not counted(entry):
            continue
        name = key(entry)
        groups.setdefault(name, Spend(name)).add(entry)
        total.add(entry)
        if entry.status not in TaskStatus.TERMINAL:
            unfinished += 1
    ordered = (
        sorted(groups.values(), key=lambda g: g.key)
        if by == "day"
        else sorted(groups.values(), key=lambda g: (-g.reserved, g.key))
    )
    return Usage(by, since, tuple(ordered), total, elsewhere, api, others, unfinished)


_UNITS: Final = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: float, tz: datetime.tzinfo | None = None) -> float:
    """``--since``: a span back from ``now`` (``36h``, ``7d``, ``2w``) or a local date
    (``2026-11-01``, from its midnight), as epoch seconds. ``ValueError`` with a message for
    anything else, a span of 0 or less, or a date in the future."""
    value = text.strip().lower()
    if re.fullmatch(r"[0-9]{1,12}[hdw]", value):  # ASCII digits; more would be no date at all
        amount = int(value[:-1])
        if amount <= 0:
            raise ValueError(f"--since: {text!r} is no span; give e.g. 7d")
        return max(0.0, now - amount * _UNITS[value[-1]])  # before 1970: the whole history
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since: {text!r} is neither a span (36h, 7d, 2w) nor a date (2026-11-01)"
        ) from None
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=tz)  # naive: local time
    try:
        epoch = start.timestamp()
    except (OverflowError, ValueError, OSError):  # 0001-01-01 in a zone east of UTC: year 0
        return 0.0  # before 1970: the whole history
    if epoch > now:
        raise ValueError(f"--since: {text} is in the future")
    return max(0.0, epoch)
