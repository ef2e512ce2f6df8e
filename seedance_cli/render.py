"""Everything the CLI shows: data on stdout, the rest on stderr. The only module that imports rich.

Commands hand what they produced to ``Output.show`` as one of the result objects of ``views``; it
alone decides how that looks: JSON with ``--json``, tables and highlighted JSON on a terminal, plain
lines (tab-separated fields) in pipes and logs.

Rich is used only where a person is looking: a terminal, with colour allowed (no ``NO_COLOR``, no
``TERM=dumb``, no ``--no-color``). Anywhere else lines are written as plain text, so logs and pipes
never see an escape code. Text from the server is cleaned of control characters and never read as
markup. Everything said on stderr also passes ``redact``: the known key (``Output.secrets``) and
anything that looks like a bearer token are masked, a last net behind the client's own masking.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any, Protocol, assert_never

from .errors import OutputClosed, OutputFailed, SeedanceError, describe
from .models import MAX_LISTED_MODELS, Task
from .redact import redact
from .views import (
    Balance,
    BatchDryRun,
    BatchLine,
    ConfigPath,
    ConfigSettings,
    ConfigValue,
    CreatedTask,
    DryRun,
    FinishedTask,
    HistoryRows,
    ModelDetail,
    ModelRows,
    SavedFiles,
    Shown,
    StatusRows,
    UnfinishedTask,
    UploadedImage,
    UsageReport,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from .catalogue import ModelSpec
    from .ledger import Entry
    from .pricing import SecondPrice
    from .spending import Spend, Usage
    from .views import Availability

# C0 and C1 controls, DEL, and the bidirectional overrides that can disguise text on a terminal.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_C1 = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: object, *, one_line: bool = True) -> str:
    """Text safe for a terminal: control characters removed; newlines and tabs folded to spaces."""
    value = _UNSAFE.sub("", str(text))
    if one_line:
        value = " ".join(value.split())
    return value


def to_json(data: Any, *, indent: int | None = None) -> str:
    """JSON that a terminal cannot misread: C1 controls escaped, other non-ASCII text kept."""
    text = json.dumps(
        data, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":")
    )
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def wants_color(stream: IO[str], *, no_color: bool, environ: Mapping[str, str]) -> bool:
    """Colour and escape codes only for a terminal that has not asked for none."""
    if no_color or "NO_COLOR" in environ or environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def fmt_duration(seconds: float) -> str:
    seconds = 0 if math.isnan(seconds) else int(min(max(seconds, 0.0), 1e9))  # inf: bounded
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _through_live_display(current: IO[str] | None, stream: IO[str]) -> IO[str]:
    """``stream``, or the proxy a rich live display put in its place in ``sys`` (``current``)."""
    if current is not stream and getattr(current, "rich_proxied_file", None) is stream:
        assert current is not None
        return current
    return stream


@dataclasses.dataclass
class Output:
    """The CLI's voice. ``json_mode``: JSON on stdout; ``quiet``: no chatter on stderr."""

    json_mode: bool = False
    quiet: bool = False
    verbose: bool = False
    no_color: bool = False
    #: The run's streams and environment variables (``Environment.stdout``, ``stderr``, ``environ``).
    stdout: IO[str] = dataclasses.field(kw_only=True)
    stderr: IO[str] = dataclasses.field(kw_only=True)
    environ: Mapping[str, str] = dataclasses.field(kw_only=True)
    #: Secrets never to be shown (the API key): set once the key is known.
    secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.out_fancy = wants_color(self.out, no_color=self.no_color, environ=self.environ)
        self.err_fancy = wants_color(self.err, no_color=self.no_color, environ=self.environ)

    @property
    def out(self) -> IO[str]:
        """stdout, looked up at each write: a live progress display swaps ``sys.stdout`` for a
        proxy that prints above its bars, and while that proxy wraps this stream, writes go
        through it - when stdout is that terminal. Redirected to a file or a pipe, data goes
        straight there: the proxy would print it on the display's terminal instead."""
        if not _isatty(self.stdout):
            return self.stdout
        return _through_live_display(sys.stdout, self.stdout)

    @property
    def err(self) -> IO[str]:
        """stderr, looked up at each write like ``out`` (the display swaps ``sys.stderr`` too)."""
        return _through_live_display(sys.stderr, self.stderr)

    def rich_console(self, file: IO[str], **options: Any) -> Any:
        """A rich console on ``file`` that reads this output's environment variables (terminal
        size, ``TERM``, ``NO_COLOR``...) rather than the process's."""
        from rich.console import Console

        return Console(
            file=file, highlight=False, markup=False, emoji=False, _environ=self.environ, **options
        )

    # -- stdout: data, written as ``show`` decides -----------------------------------------------

    def _write_out(self, text: str) -> None:
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            raise OutputFailed(exc) from None

    def _line(self, text: str) -> None:
        """One plain line of data on stdout: control characters removed, spaces kept as they are
        (a saved path is printed exactly, so that ``$(...)`` captures the real file name)."""
        self._write_out(_CONTROLS.sub("", text))

    def _lines(self, text: str) -> None:
        """Pre-formatted lines of data (an indented JSON body), control characters removed."""
        for line in text.splitlines():
            self._line(line)

    def _fields(self, *values: object) -> None:
        """One tab-separated line of data on stdout, each field cleaned of tabs and controls."""
        self._write_out("\t".join(clean(v) for v in values))

    def _json(self, data: Any) -> None:
        """One JSON object: compact on one line when piped, indented and highlighted on a terminal."""
        if self.out_fancy:
            self._rich_out(lambda console: console.print_json(to_json(data), indent=2))
        else:
            self._write_out(to_json(data))

    # -- results: the one place that decides how they look ------------------------------------------

    def show(self, result: Shown) -> None:
        """Show what a command produced (see ``views``). The one place that decides how: with
        ``--json`` one JSON object per line (indented and highlighted on a terminal); otherwise on a
        terminal its view for people (tables, the task as highlighted JSON), and plain lines
        (tab-separated fields) for pipes and logs. Text also says a word on stderr where there is
        nothing to show on stdout (an empty history) or nothing was done (a dry run)."""
        if self.json_mode:
            for data in json_objects(result):
                self._json(data)
        else:
            if self.out_fancy:
                self._show_on_terminal(result)
            else:
                self._show_plain(result)
            for note in text_notes(result):
                self.info(note)
        for note in notes(result):
            self.info(note)

    def _show_on_terminal(self, result: Shown) -> None:
        match result:
            case CreatedTask():
                self._json(dict(result.current().raw))
            case FinishedTask():
                self._json(dict(result.task.raw))
            case StatusRows():
                rows: list[tuple[str, ...]] = []
                styles: list[str] = []
                for task_id, item in result.rows:
                    if isinstance(item, Task):
                        shown = item.video_url or (
                            f"{item.error.code}: {item.error.message}" if item.error else ""
                        )
                        rows.append((item.id, item.status, f"{item.progress}%", shown))
                        styles.append(
                            "green" if item.succeeded else "red" if item.failed else "yellow"
                        )
                    else:
                        message = item.message.removeprefix(f"{task_id}: ")
                        rows.append((task_id, "error", "", message))
                        styles.append("red")
                self._rich_table(("ID", "STATUS", "PROGRESS", "RESULT"), rows, status_styles=styles)
            case Balance() | HistoryRows() | ConfigSettings():
                self._rich_table(*table_of(result))
            case ModelRows():
                self._rich_out(lambda console: console.print(models_table(result, console.width)))
            case ModelDetail():
                self._rich_out(lambda console: console.print(model_sheet(result)))
            case UsageReport():
                self._rich_out(lambda console: console.print(*usage_view(result, console)))
            case _:
                self._show_plain(result)

    def _show_plain(self, result: Shown) -> None:
        match result:
            case CreatedTask():
                self._line(result.task_id)
            case FinishedTask():
                if result.usable:
                    self._line(result.task.video_url or "")
            case UnfinishedTask():
                pass  # the error on stderr says it
            case SavedFiles():
                for path in result.paths:
                    self._line(path)
            case StatusRows():
                for task_id, item in result.rows:
                    if isinstance(item, Task):
                        self._fields(item.id, item.status, item.progress, item.video_url or "")
                    else:
                        self._fields(task_id, "error", "", "")
            case DryRun():
                for image in result.uploads:
                    self._line(
                        f"POST {result.upload_url} file={image.path} ({image.format}, "
                        f"{image.width}x{image.height} px, {fmt_bytes(image.size)})"
                    )
                self._line(f"POST {result.url}")
                self._lines(to_json(result.body, indent=2))
            case BatchDryRun():
                for planned in result.lines:
                    estimate = [] if planned.estimate is None else [planned.estimate.text()]
                    if planned.over_budget is not None:  # under a budget: a fifth field
                        estimate.append("over_budget" if planned.over_budget else "within_budget")
                    self._fields(
                        planned.number, planned.name or "", to_json(planned.body), *estimate
                    )
            case BatchLine():
                path = result.files[0] if result.files else ""
                self._fields(result.number, result.task_id or "", result.status, path)
            case UploadedImage():
                self._line(result.file.file_url)
            case ConfigValue():
                self._line(result.value)
            case ConfigPath():
                self._line(str(result.path))
            case Balance() | HistoryRows() | ConfigSettings():
                for row in table_of(result)[1]:
                    self._fields(*row)
            case ModelRows():
                if result.availability is None:
                    for spec in result.specs:
                        self._line(spec.id)
                else:
                    for model_id, available, known in availability_rows(result):
                        self._fields(model_id, yes_no(available), yes_no(known))
            case ModelDetail():
                for key, _, value in model_facts(result):
                    self._fields(key, value.replace("\n", "; "))
            case UsageReport():
                for spend in (*result.usage.groups, result.usage.total):
                    self._fields(*usage_fields(spend))
            case _:
                assert_never(result)

    def _rich_table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        status_styles: Sequence[str] = (),
    ) -> None:
        """A table for people, with a bold header; ``status_styles`` colours each row's second
        cell."""
        from rich.table import Table
        from rich.text import Text

        grid = Table(box=None, pad_edge=False, header_style="bold")
        for index, column in enumerate(columns):
            last = index == len(columns) - 1
            grid.add_column(column, no_wrap=not last, overflow="fold" if last else "ellipsis")
        for index, row in enumerate(rows):
            cells = [Text(clean(value)) for value in row]
            if index < len(status_styles) and len(cells) > 1:
                cells[1].stylize(status_styles[index])
            grid.add_row(*cells)
        self._rich_out(lambda console: console.print(grid))

    def _rich_out(self, draw: Any) -> None:
        console = self.rich_console(self.out, soft_wrap=True)
        try:
            draw(console)
            self.out.flush()
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            raise OutputFailed(exc) from None

    # -- stderr: everything else -------------------------------------------------------------------

    def _write_err(self, text: str, style: str | None = None) -> None:
        text = redact(text, self.secrets)
        try:
            if self.err_fancy and style:
                from rich.text import Text

                console = self.rich_console(self.err, soft_wrap=True)
                console.print(Text(text, style=style))
            else:
                self.err.write(text + "\n")
            self.err.flush()
        except (OSError, ValueError):
            pass  # nowhere left to say it: a closed pipe, a hung-up terminal (EIO), a full disk

    def info(self, text: str) -> None:
        """Chatter for people: suppressed by ``--quiet``."""
        if not self.quiet:
            self._write_err(clean(text))

    def warn(self, text: str) -> None:
        self._write_err(f"warning: {clean(text)}", "yellow")

    def hint(self, text: str) -> None:
        self._write_err(f"hint: {clean(text)}", "cyan")

    def trace(self, text: str) -> None:
        """``--verbose`` lines (already redacted by the client)."""
        if self.verbose:
            self._write_err(clean(text), "dim")

    def error(self, exc: SeedanceError | BaseException, *, json_shown: bool = False) -> None:
        """``error:`` and ``hint:`` lines on stderr; with ``--json`` also ``{"error": ...}`` on
        stdout, unless ``json_shown`` (the command already printed it, in its place among the
        results)."""
        info = describe(exc)
        self._write_err(f"error: {clean(info['message'])}", "bold red")
        if info["hint"]:
            self.hint(str(info["hint"]))
        if self.json_mode and not json_shown:
            with suppress(OutputClosed):
                self._write_out(
                    to_json(
                        {
                            "error": {
                                k: (redact(clean(v), self.secrets) if isinstance(v, str) else v)
                                for k, v in info.items()
                            }
                        }
                    )
                )

    # -- progress ----------------------------------------------------------------------------------

    @contextmanager
    def transfers(self) -> Iterator[Callable[[str], Callable[[int, int | None], None]]]:
        """Download progress. Yields ``start(label)``, which gives each file its
        ``on_progress(done, total)``: a bar with bytes, speed and time left on a terminal, a plain
        line at each quarter otherwise, nothing if quiet."""
        if self.quiet:
            yield lambda label: lambda done, total: None
        elif self.err_fancy:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            console = self.rich_console(self.err)
            with Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bars:

                def start_bar(label: str) -> Callable[[int, int | None], None]:
                    row = bars.add_task(clean(label), total=None)
                    return lambda done, total: bars.update(row, completed=done, total=total)

                yield start_bar
        else:

            def start_lines(label: str) -> Callable[[int, int | None], None]:
                marks: set[int] = set()

                def report(done: int, total: int | None) -> None:
                    if total:
                        quarter = min(4, done * 4 // total)
                        if quarter not in marks:
                            marks.add(quarter)
                            self.info(f"{label}: {quarter * 25}% of {fmt_bytes(total)}")

                return report

            yield start_lines

    @contextmanager
    def batch_progress(self, total: int) -> Iterator[Callable[[str | None, str | None], None]]:
        """Overall progress of a batch. Yields ``note(event, outcome_state)``: a bar with counts on a
        terminal; plain lines of the events otherwise; nothing if quiet."""
        if self.quiet:
            yield lambda event, state: None
            return
        if not self.err_fancy:

            def plain(event: str | None, state: str | None) -> None:
                if event:
                    self.info(event)

            yield plain
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = self.rich_console(self.err)
        counts: dict[str, int] = {}
        with Progress(
            TextColumn("batch", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}", markup=False),
            console=console,
        ) as bars:
            row = bars.add_task("batch", total=total, counts="")

            def fancy(event: str | None, state: str | None) -> None:
                if state is None:
                    return
                counts[state] = counts.get(state, 0) + 1
                shown = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
                bars.update(row, advance=1, counts=shown)

            yield fancy

    @contextmanager
    def progress(
        self, task_ids: Sequence[str], wall_clock: Callable[[], float] = time.time
    ) -> Iterator[WaitDisplay]:
        """A display for a wait: live bars on a terminal, plain lines otherwise, nothing if quiet."""
        if self.quiet:
            yield NullDisplay()
        elif self.err_fancy:
            with LiveDisplay(self, task_ids, wall_clock) as display:
                yield display
        else:
            yield LineDisplay(self, wall_clock)


def json_objects(result: Shown) -> Iterator[Any]:
    """The JSON values ``--json`` prints for ``result``, one per line, in order: objects, and
    for the model list one array."""
    match result:
        case CreatedTask():
            yield dict(result.current().raw)
        case FinishedTask() | UnfinishedTask():
            yield dict(result.task.raw)
        case SavedFiles():
            data = dict(result.task.raw)
            if result.paths:
                data["files"] = list(result.paths)
            yield data
        case StatusRows():
            for task_id, item in result.rows:
                if isinstance(item, Task):
                    yield dict(item.raw)
                else:
                    yield {"id": task_id, "error": describe(item)}
        case DryRun():
            yield {
                "uploads": [
                    {
                        "method": "POST",
                        "url": result.upload_url,
                        "path": str(image.path),
                        "format": image.format,
                        "width": image.width,
                        "height": image.height,
                        "bytes": image.size,
                    }
                    for image in result.uploads
                ],
                "method": "POST",
                "url": result.url,
                "idempotency_key": result.idempotency_key,
                "body": result.body,
                **({} if result.estimate is None else {"estimate": result.estimate.as_json()}),
            }
        case BatchDryRun():
            for planned in result.lines:
                line: dict[str, Any] = {
                    "line": planned.number,
                    "name": planned.name,
                    "body": planned.body,
                }
                if planned.estimate is not None:
                    line["estimate"] = planned.estimate.as_json()
                if planned.over_budget is not None:
                    line["over_budget"] = planned.over_budget
                yield line
            if result.total is not None:
                yield {
                    "total": {
                        **result.total.as_json(),
                        "budget": result.budget,
                        "over_budget": list(result.over_budget),
                    }
                }
        case BatchLine():
            yield {
                "line": result.number,
                "name": result.name,
                "task_id": result.task_id,
                "status": result.status,
                "files": list(result.files),
                "error": describe(result.error) if result.error else None,
            }
        case UploadedImage():
            yield {"path": str(result.path), **result.file.raw}
        case Balance():
            yield dict(result.credits.raw)
        case HistoryRows():
            for entry in result.entries:
                yield history_json(entry, result.now)
        case ConfigValue():
            yield {result.key: result.value}
        case ConfigSettings():
            yield {key: {"value": value, "source": source} for key, value, source in result.rows}
        case ConfigPath():
            yield {"path": str(result.path), "exists": result.exists}
        case ModelRows():
            availability = result.availability
            listing: list[dict[str, Any]] = [
                model_json(spec, default=spec.id == result.default, availability=availability)
                for spec in result.specs
            ]
            if availability is not None:
                listing += [{"id": i, "known": False, "available": True} for i in availability.new]
            yield listing
        case ModelDetail():
            yield model_json(
                result.spec,
                detail=True,
                default=result.is_default,
                availability=result.availability,
                prices=result.prices,
                minimum=result.minimum,
            )
        case UsageReport():
            usage = result.usage
            yield {
                "by": usage.by,
                "since": iso_time(usage.since) if usage.since is not None else None,
                "groups": [spend.as_json() for spend in usage.groups],
                "total": usage.total.as_json(),
                "elsewhere": usage.elsewhere,
                "api": usage.api,
                "other_apis": dict(usage.other_apis),
                "unfinished": usage.unfinished,
            }
        case _:
            assert_never(result)


def notes(result: Shown) -> list[str]:
    """What stderr says along with ``result`` whatever the format, JSON too: what the API did
    not say about the models (a script reading the JSON learns it from ``available: null``)."""
    if not isinstance(result, ModelRows | ModelDetail) or result.availability is None:
        return []
    availability = result.availability
    if availability.listed is None:
        return [
            "the API does not say which models this key may use (it has no GET /v1/models); "
            "showing what this version knows"
        ]
    said = []
    if availability.truncated:
        said.append(f"the API listed more than {MAX_LISTED_MODELS} models; the rest was not read")
    if availability.skipped:
        said.append(f"{availability.skipped} entries of the API's list had no usable id: ignored")
    if availability.more_new and isinstance(result, ModelRows):
        said.append(
            f"and {availability.more_new} more Seedance models the API lists that this version "
            "does not know"
        )
    return said


def text_notes(result: Shown) -> list[str]:
    """What text (not JSON) says on stderr along with ``result``: that a dry run sent nothing, where
    an empty history is."""
    if isinstance(result, DryRun):
        return ["dry run: nothing was sent"]
    if isinstance(result, BatchDryRun) and result.total is not None:
        total = result.total
        lines = f"{total.count} line{'s' if total.count != 1 else ''}"
        return [f"estimate: {total.text()} for {lines}"]
    if isinstance(result, HistoryRows) and not result.entries:
        return [f"no tasks in the history ({result.source})"]
    if isinstance(result, UsageReport):
        said = []
        if not result.usage.total.tasks:
            said.append(
                f"no tasks in the history {period_text(result.usage.since)} ({result.source})"
            )
        others = result.usage.other_apis
        if others:
            count = sum(others.values())
            shown = ", ".join(sorted(others, key=lambda o: -others[o])[:3])
            more = ", ..." if len(others) > 3 else ""
            said.append(
                f"not counted: {count} task{'s' if count != 1 else ''} made against other APIs "
                f"({shown}{more}); seedance --base-url URL usage reports one of them"
            )
        if result.usage.unfinished:
            count = result.usage.unfinished
            said.append(
                f"{count} task{'s were' if count != 1 else ' was'} last seen unfinished: "
                f"{'their' if count != 1 else 'its'} charge is known once `seedance wait ID` or "
                "`seedance status ID` sees it end (`seedance history` lists them)"
            )
        if result.usage.elsewhere:
            count = result.usage.elsewhere
            said.append(
                f"{count} task{'s' if count != 1 else ''} only seen here (status, wait or "
                "download of an id made elsewhere) "
                f"{'are' if count != 1 else 'is'} not counted: the history that created "
                f"{'them counts them' if count != 1 else 'it counts it'}"
            )
        return said
    return []


def table_of(
    result: Balance | HistoryRows | ConfigSettings,
) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
    """The columns and rows of a result shown as a table: a terminal gets the header, pipes get
    each row as tab-separated fields."""
    match result:
        case Balance():
            token, user = result.credits.token, result.credits.user
            return (
                ("OF", "REMAINING", "USED"),
                [
                    (
                        "key",
                        "unlimited" if token.unlimited else fmt_credits(token.remaining),
                        fmt_credits(token.used),
                    ),
                    ("account", fmt_credits(user.remaining), fmt_credits(user.used)),
                ],
            )
        case HistoryRows():
            from .ledger import CREATING, UNKNOWN

            return (
                ("ID", "CREATED", "STATUS", "PROMPT", "RESULT"),
                [
                    (
                        entry.task_id or "-",
                        local_time(entry.created_at),
                        entry.state if entry.state in (CREATING, UNKNOWN) else entry.status or "-",
                        excerpt(clean(entry.prompt or ""), 40),
                        result_text(entry, result.now),
                    )
                    for entry in result.entries
                ],
            )
        case ConfigSettings():
            return (
                ("KEY", "VALUE", "SOURCE"),
                [
                    (key, display_value(value) if value is not None else "", source)
                    for key, value, source in result.rows
                ],
            )
        case _:
            assert_never(result)


def fmt_credits(value: float) -> str:
    """Credits to the four decimals prices come in, trailing zeros dropped (``99971.5456``,
    ``992``): ``:g`` would round a balance to six digits. Absurd sizes in exponent form."""
    if not math.isfinite(value) or abs(value) >= 1e15:
        return f"{value:g}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- usage -------------------------------------------------------------------------------------------

#: The columns of ``usage`` piped, after the group's key (a day, a model, or ``total``); credits
#: exact to four decimals, dollars to cents, ``-`` for a figure not known for any task.
USAGE_FIELDS = (
    "tasks",
    "estimated_low",
    "estimated_high",
    "unpriced",
    "reserved",
    "charged",
    "released",
    "estimated_low_usd",
    "estimated_high_usd",
    "reserved_usd",
    "charged_usd",
    "released_usd",
)


def exact_credits(credits: Decimal) -> str:
    """Credits as kept: up to four decimals, no trailing zeros (``17.784``, ``0``)."""
    from decimal import Decimal as D

    text = format(credits.quantize(D("0.0001")).normalize(), "f")
    return "0" if text in ("-0", "0.0") else text


def usage_fields(spend: Spend) -> tuple[object, ...]:
    """One piped line of ``usage``: the group's key, then ``USAGE_FIELDS``; tasks whose estimate
    is unknown (no published price, or none recorded) are counted in ``unpriced``."""
    from .pricing import usd

    def credits(figure: str, value: Decimal) -> str:
        return exact_credits(value) if spend.known(figure) else "-"

    def dollars(figure: str, value: Decimal) -> str:
        return str(usd(value)) if spend.known(figure) else "-"

    return (
        spend.key,
        spend.tasks,
        credits("estimated", spend.estimated_low),
        credits("estimated", spend.estimated_high),
        spend.unpriced + spend.unestimated,
        credits("reserved", spend.reserved),
        credits("charged", spend.charged),
        credits("released", spend.released),
        dollars("estimated", spend.estimated_low),
        dollars("estimated", spend.estimated_high),
        dollars("reserved", spend.reserved),
        dollars("charged", spend.charged),
        dollars("released", spend.released),
    )


def iso_time(epoch: float) -> str:
    """A timestamp in local time, ISO 8601 with its offset (``--json``)."""
    import datetime

    return datetime.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def period_text(since: float | None) -> str:
    return "in all" if since is None else f"since {local_time(since)}"


def _money(credits: Decimal) -> str:
    """Credits for people: half up to two decimals."""
    from decimal import ROUND_HALF_UP
    from decimal import Decimal as D

    return str(credits.quantize(D("0.01"), rounding=ROUND_HALF_UP))


def usage_cell(spend: Spend, figure: str) -> Any:
    """A figure of ``usage`` for people: credits, then its dollars on a dim second line;
    ``unknown`` (never 0) when no task of the group says; a range for an estimate that is one,
    and how many tasks it leaves out (their price unknown)."""
    from rich.text import Text

    from .pricing import usd

    if not spend.known(figure):
        return Text("unknown", style="yellow")
    if figure == "estimated":
        # a range may wrap after its dash on a narrow terminal, never inside a figure
        low, high = spend.estimated_low, spend.estimated_high
        same = _money(low) == _money(high)
        credits = _money(low) if same else f"{_money(low)} - {_money(high)}"
        dollars = f"${usd(low)}" if usd(low) == usd(high) else f"${usd(low)} - ${usd(high)}"
    else:
        value = getattr(spend, figure)
        credits, dollars = _money(value), f"${usd(value)}"
    text = Text(credits)
    text.append(f"\n{dollars}", style="dim")
    # a sum over some of the tasks says how many it leaves out: their figure is not known (yet)
    left_out = spend.missing(figure) if figure != "released" else 0
    if left_out:
        text.append(f"\n+{left_out} unknown", style="yellow")
    return text


def usage_view(result: UsageReport, console: Any) -> list[Any]:
    """``usage`` for people: a table of the groups and their total (credits, and dollars under
    them), then a bar chart of the spend per day (charged, or reserved where not charged yet),
    both within the console's width: columns move closer before an estimate's range wraps (after
    its dash), and model ids, days and figures are never cut."""
    from rich.measure import Measurement

    table = usage_table(result.usage, collapse=False)
    unbounded = console.options.update_width(10_000)  # the table's natural width, unclamped
    if Measurement.get(console, unbounded, table).maximum > console.width:
        table = usage_table(result.usage, collapse=True)
    shown: list[Any] = [table]
    days = [day for day in result.days.groups if day.known("spent")]
    if days:
        shown.append(spend_chart(days, console.width))
    return shown


def usage_table(usage: Usage, *, collapse: bool) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(
        box=None,
        pad_edge=False,
        header_style="bold",
        collapse_padding=collapse,
        title=f"Spend {period_text(usage.since)}, by {usage.by}",
        title_justify="left",
        title_style="bold",
    )
    # Nothing is ever cut: a terminal too narrow for a figure or an id folds it.
    table.add_column(usage.by.upper(), no_wrap=True, overflow="fold")
    table.add_column("TASKS", justify="right", overflow="fold")
    table.add_column("ESTIMATED", justify="right", overflow="fold")  # wraps after its dash
    for name in ("RESERVED", "CHARGED", "RELEASED"):
        table.add_column(name, justify="right", overflow="fold")
    for spend in (*usage.groups, usage.total):
        is_total = spend is usage.total
        table.add_row(
            Text("TOTAL" if is_total else clean(spend.key), style="bold" if is_total else ""),
            str(spend.tasks),
            *(
                usage_cell(spend, figure)
                for figure in ("estimated", "reserved", "charged", "released")
            ),
        )
    return table


def spend_chart(days: Sequence[Spend], width: int) -> Any:
    """One bar per day, as long as its spend against the largest day's, within ``width``."""
    from rich.bar import Bar
    from rich.table import Table
    from rich.text import Text

    from .pricing import usd

    largest = max(day.spent for day in days)
    labels = [f"{_money(day.spent)} (${usd(day.spent)})" for day in days]
    label_width = max(len(label) for label in labels)
    bar_width = max(1, min(width, 200) - len("2026-01-01") - label_width - 2)
    chart = Table.grid(padding=(0, 1))
    chart.title = "Spend per day (charged, or reserved where not charged yet)"
    chart.title_justify = "left"
    chart.title_style = "bold"
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True, width=bar_width)
    chart.add_column(justify="right", no_wrap=True)
    for day, label in zip(days, labels, strict=True):
        bar = Bar(float(largest) or 1.0, 0, float(day.spent), width=bar_width, color="cyan")
        chart.add_row(Text(day.key), bar, Text(label))
    return chart


# -- models ------------------------------------------------------------------------------------------

#: The kinds of reference ``models`` counts, as people say them.
MEDIA_WORDS = (("image_urls", "images"), ("video_urls", "videos"), ("audio_urls", "audio"))


def yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def model_json(
    spec: ModelSpec,
    *,
    default: bool,
    availability: Availability | None,
    detail: bool = False,
    prices: Sequence[SecondPrice] | None = None,
    minimum: Decimal | None = None,
) -> dict[str, Any]:
    """One model as ``models --json`` prints it: ``id``, ``known`` (true: this version has its
    rules), ``default``, ``family``, ``tier``, ``durations`` (as text), then every field of its
    ``catalogue.json`` entry under the same names; ``available`` with ``--available`` (``null``
    when the API does not say); for one model, ``price_per_second`` (a list of ``quality``,
    ``audio`` (``null`` where it costs nothing), ``reference_videos``, ``credits``, ``usd``; ``null``
    when no price is published) and ``minimum_credits``."""
    entry = spec.to_entry()
    data: dict[str, Any] = {
        "id": entry.pop("id"),
        "known": True,
        "default": default,
        "family": spec.family,
        "tier": spec.tier,
        "durations": spec.durations,
        **entry,
    }
    if availability is not None:
        data["available"] = availability.of_model(spec.id)
    if detail:
        from .pricing import CREDITS_PER_USD

        data["price_per_second"] = (
            [
                {
                    "quality": price.quality,
                    "audio": price.audio,
                    "reference_videos": price.videos,
                    "credits": float(price.credits),
                    "usd": float(price.credits / CREDITS_PER_USD),
                }
                for price in prices
            ]
            if prices is not None
            else None
        )
        data["minimum_credits"] = float(minimum) if minimum is not None else None
    return data


def prices_text(result: ModelDetail) -> str:
    """The price of a second per quality, one quality per line: ``720p: 3.5568 credits ($0.052)
    with audio, 1.7784 ($0.026) without``; "unknown" (never 0) where no rule is published."""
    if result.prices is None:
        return "unknown: EvoLink publishes no price for this model"
    from decimal import ROUND_HALF_UP, Decimal

    from .pricing import CREDITS_PER_USD

    def money(credits: Decimal, unit: str = "") -> str:
        figure = credits.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
        return f"{figure:f}{unit} (${credits / CREDITS_PER_USD:.3f})"

    edit = result.spec.mode in ("video-edit", "video-extend")
    lines: list[str] = []
    for quality in dict.fromkeys(price.quality for price in result.prices):
        parts: list[str] = []
        for price in (price for price in result.prices if price.quality == quality):
            text = money(price.credits, "" if parts else " credits")
            if price.videos:
                text += " a billed second" + ("" if edit else " with reference videos")
            elif price.audio is not None:
                text += " with audio" if price.audio else " without"
            parts.append(text)
        lines.append(f"{quality}: " + ", ".join(parts))
    if result.minimum is not None:
        lines.append(f"at least {result.minimum.normalize():f} credits a create")
    if any(price.videos for price in result.prices):
        edits = "the video it edits or extends" if edit else "reference videos"
        lines.append(
            f"billed seconds with {edits}: the output's length plus the longer of the "
            "videos' total length and the output's, rounded up to 0.1 s (--input-seconds)"
        )
    return "\n".join(lines)


def availability_rows(result: ModelRows) -> list[tuple[str, bool | None, bool]]:
    """(id, whether this key may use it, whether this version knows it): every model this
    version knows, then the Seedance models the API lists that it does not."""
    availability = result.availability
    assert availability is not None
    rows = [(spec.id, availability.of_model(spec.id), True) for spec in result.specs]
    return rows + [(model_id, True, False) for model_id in availability.new]


def media_text(spec: ModelSpec) -> str:
    """The references a model takes: ``images 0-9, videos 0-3, audio 0-3``; ``none``. A count
    that may be left out starts at 0 (the file's minimum holds once any is given)."""
    parts = []
    for field, word in MEDIA_WORDS:
        limit = spec.media.get(field)
        if limit is not None:
            low = limit.minimum if limit.required else 0
            high = "" if limit.maximum is None else str(limit.maximum)
            parts.append(f"{word} {low}-{high}" if high != str(low) else f"{word} {low}")
    return ", ".join(parts) or "none"


def extras_text(spec: ModelSpec) -> str:
    """What a model offers beyond the common fields: ``audio`` (generate_audio), ``web search``,
    ``mov`` (output_format)."""
    extras = []
    if spec.takes("generate_audio"):
        extras.append("audio")
    if spec.takes("model_params.web_search"):
        extras.append("web search")
    if spec.output_formats and "mov" in spec.output_formats:
        extras.append("mov")
    return ", ".join(extras) or "-"


def ratios_text(spec: ModelSpec) -> str:
    """Its aspect ratios; those it takes only with an image follow in brackets (1.0 pro fast)."""
    plain = list(spec.aspect_ratios or ())
    with_images = [r for r in spec.aspect_ratios_with_images or () if r not in plain]
    text = " ".join(plain) or "any"
    return text + (f" (with an image: {' '.join(with_images)})" if with_images else "")


def _listing(values: tuple[str, ...] | None, default: str | None) -> str:
    if not values:
        return "any"
    return " ".join(values) + (f" (default {default})" if default else "")


def model_facts(result: ModelDetail) -> list[tuple[str, str, str]]:
    """(key, label, value) of everything about one model: ``key`` for pipes (``key<TAB>value``),
    ``label`` for people."""
    spec = result.spec
    facts = [
        ("id", "id", spec.id),
        ("default", "default", "yes" if result.is_default else "no"),
        ("mode", "mode", spec.mode),
        ("family", "family", spec.family),
        ("tier", "tier", spec.tier),
        (
            "durations",
            "seconds",
            seconds_text(spec)
            + (
                f" (default {'auto' if spec.duration_default == -1 else spec.duration_default})"
                if spec.duration_default is not None
                else ""
            ),
        ),
        ("qualities", "qualities", _listing(spec.qualities, spec.quality_default)),
        ("aspect_ratios", "aspect ratios", _listing(spec.aspect_ratios, spec.aspect_ratio_default)),
    ]
    if spec.aspect_ratios_with_images != spec.aspect_ratios:
        facts.append(
            (
                "aspect_ratios_with_images",
                "with an image",
                _listing(spec.aspect_ratios_with_images, spec.aspect_ratio_default_with_images),
            )
        )
    for field, word in MEDIA_WORDS:
        limit = spec.media.get(field)
        if limit is None:
            continue
        low = limit.minimum if limit.required else 0
        high = "" if limit.maximum is None else str(limit.maximum)
        text = f"{low}-{high}" + (", required" if limit.required else "")
        if limit.formats:
            text += "; " + " ".join(limit.formats)
        if limit.max_mb is not None:
            text += f"; at most {limit.max_mb} MB each"
        facts.append((field, word, text))
    if "audio_urls" in spec.media:
        facts.append(
            (
                "audio_alone",
                "audio alone",
                "yes" if spec.audio_alone else "no: give an image or a video with it",
            )
        )
    if spec.media_required:
        facts.append(("media_required", "references", "at least one is required"))
    limits = []
    if spec.prompt_max_chars is not None:
        limits.append(f"{spec.prompt_max_chars} characters")
    if spec.prompt_max_tokens is not None:
        limits.append(f"{spec.prompt_max_tokens} tokens")
    facts.append(("prompt", "prompt", "at most " + " or ".join(limits) if limits else "any"))
    facts.append(("extras", "extras", extras_text(spec)))
    facts.append(("fields", "request fields", " ".join(sorted(spec.fields))))
    if spec.model_params:
        facts.append(("model_params", "model_params", " ".join(sorted(spec.model_params))))
    if spec.output_formats:
        facts.append(("output_formats", "output formats", " ".join(spec.output_formats)))
    facts.append(("price_per_second", "price per second", prices_text(result)))
    if result.availability is not None:
        available = result.availability.of_model(spec.id)
        facts.append(
            (
                "available",
                "available",
                "unknown (the API does not say)" if available is None else yes_no(available),
            )
        )
    facts.append(("source", "source", spec.source))
    return facts


def model_sheet(result: ModelDetail) -> Any:
    """One model for people: a label and a value on each line."""
    from rich.table import Table
    from rich.text import Text

    sheet = Table(box=None, pad_edge=False, show_header=False)
    sheet.add_column(style="bold", no_wrap=True)
    sheet.add_column(overflow="fold")
    for key, label, value in model_facts(result):
        cell = Text("\n".join(clean(line) for line in value.split("\n")))
        if key == "default" and result.is_default:
            cell.stylize("green")
        elif key == "available":
            cell.stylize("green" if value == "yes" else "red" if value == "no" else "yellow")
        sheet.add_row(Text(label), cell)
    return sheet


#: The model table's columns after ID (and AVAILABLE): (name, the narrowest it may wrap to, or
#: ``None`` for a column never wrapped). The wide table is shown only where every column gets
#: that much; narrower, each model's facts share one column beside its id, a line for each kind.
MODEL_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("MODE", None),
    ("SECONDS", None),
    ("QUALITY", None),
    ("RATIOS", 18),
    ("INPUTS", 12),
    ("EXTRAS", 11),
)
NEW_MODEL = "?"
NEW_MODEL_NOTE = "listed by the API, not known to this version (no rules of its own)"
#: Space between two columns, and what the narrow layout keeps for the facts beside an id.
COLUMN_GAP = 2
LEAST_DETAILS = 24


def seconds_text(spec: ModelSpec) -> str:
    """Its durations with their unit: ``4-12 s``, ``4-30 s or auto``, ``auto``."""
    span = spec.durations.removesuffix(" or auto")
    if span == "auto":
        return "auto"
    return f"{span} s" + (" or auto" if spec.duration_auto else "")


def fit_columns(columns: Sequence[tuple[int, int | None]], width: int) -> list[int] | None:
    """Widths for columns of (widest cell, narrowest it may wrap to; ``None``: never wrapped)
    within ``width`` (gaps included): every column as wide as its widest cell if they all fit,
    else the wrapping ones share what is left, each at least its narrowest and the widest first
    given more. ``None`` when even that does not fit."""
    widths = [widest if least is None else min(widest, least) for widest, least in columns]
    room = width - sum(widths) - COLUMN_GAP * (len(columns) - 1)
    if room < 0:
        return None
    growing = [i for i, (widest, least) in enumerate(columns) if least is not None]
    while room > 0:
        short = [i for i in growing if widths[i] < columns[i][0]]
        if not short:
            break
        # One character at a time to the column furthest from its widest cell, in proportion.
        index = max(short, key=lambda i: (columns[i][0] - widths[i]) / columns[i][0])
        widths[index] += 1
        room -= 1
    return widths


def models_table(result: ModelRows, width: int) -> Any:
    """The models for people, fitting ``width``: ids are never cut (one longer than the terminal
    allows, from the API, is folded onto several lines, every character kept). Wide enough, one
    column per fact; narrower, each model's facts in one column beside its id."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    availability = result.availability
    asked = availability is not None and availability.listed is not None
    known = {spec.id: spec for spec in result.specs}
    rows = (
        [(model_id, available) for model_id, available, _ in availability_rows(result)]
        if asked
        else [(spec.id, None) for spec in result.specs]
    )

    def id_cell(model_id: str) -> Text:
        text = Text(clean(model_id))
        if model_id == result.default:
            text.append(" (default)", style="green")
        return text

    def facts(spec: ModelSpec | None) -> list[str]:
        if spec is None:
            return [NEW_MODEL] + [""] * (len(MODEL_COLUMNS) - 1)
        return [
            spec.mode,
            seconds_text(spec),
            " ".join(spec.qualities or ()) or "any",
            ratios_text(spec),
            media_text(spec),
            extras_text(spec),
        ]

    ids = [id_cell(model_id) for model_id, _ in rows]
    cells = [facts(known.get(model_id)) for model_id, _ in rows]
    id_width = max([cell_len("ID"), *(cell_len(str(cell)) for cell in ids)])
    columns: list[tuple[int, int | None]] = [(id_width, None)]
    if asked:
        columns.append((len("AVAILABLE"), None))
    for index, (name, least) in enumerate(MODEL_COLUMNS):
        widest = max([cell_len(name), *(cell_len(row[index]) for row in cells)])
        columns.append((widest, least))
    widths = fit_columns(columns, width)
    if widths is not None:
        wide = Table(box=None, pad_edge=False, header_style="bold", padding=(0, COLUMN_GAP, 0, 0))
        names = ["ID", *(["AVAILABLE"] if asked else []), *(name for name, _ in MODEL_COLUMNS)]
        for name, column_width in zip(names, widths, strict=True):
            wide.add_column(name, width=column_width, overflow="fold")
        for identity, (_, available), row in zip(ids, rows, cells, strict=True):
            shown = [identity]
            if asked:
                shown.append(Text(yes_no(available), style="green" if available else "red"))
            shown += [Text(cell) for cell in row]
            wide.add_row(*shown)
        if asked and availability is not None and availability.new:
            wide.caption = f"{NEW_MODEL}: {NEW_MODEL_NOTE}"
            wide.caption_justify = "left"
        return wide
    narrow = Table(box=None, pad_edge=False, header_style="bold", padding=(0, COLUMN_GAP, 0, 0))
    narrow.add_column(
        "ID", width=max(4, min(id_width, width - COLUMN_GAP - LEAST_DETAILS)), overflow="fold"
    )
    narrow.add_column("DETAILS", overflow="fold")
    for index, (identity, (model_id, available), row) in enumerate(
        zip(ids, rows, cells, strict=True)
    ):
        lines = []
        if asked:
            lines.append(
                Text(
                    "available" if available else "not available to this key",
                    style="green" if available else "red",
                )
            )
        if known.get(model_id) is None:
            lines.append(Text(NEW_MODEL_NOTE))
        else:
            mode, seconds, qualities, ratios, inputs, extras = row
            lines.append(Text(f"{mode}, {seconds}, {qualities}"))
            lines.append(Text(f"ratios {ratios}"))
            said = [] if inputs == "none" else [inputs]
            said += [] if extras == "-" else [f"extras: {extras}"]
            lines.append(Text("; ".join(said) or "text only"))
        if index < len(rows) - 1:
            lines.append(Text(""))  # a blank line between models: each takes several
        narrow.add_row(identity, Text("\n").join(lines))
    return narrow


def excerpt(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def display_value(value: object) -> str:
    """A config value as text: ``true``/``false`` for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def result_text(entry: Entry, now: float) -> str:
    """The RESULT column of ``history``: where it was saved, until when it can be, or why not."""
    state = entry.result_state(now)
    if state == "saved":
        return "saved at " + ", ".join(f.path for f in entry.files)
    if state == "downloadable":
        return f"downloadable until {local_time(entry.expires_at)}"
    if state == "expired":
        return "expired"
    from .ledger import UNKNOWN

    if entry.state == UNKNOWN:
        return f"outcome unknown (idempotency key {entry.idempotency_key})"
    if entry.error_code:
        return f"{entry.error_code}: {entry.error_message or ''}"
    return "-"


def finite(value: float | None) -> float | None:
    """A number JSON can carry (no NaN or infinity), else ``None``."""
    return value if value is None or math.isfinite(value) else None


def history_json(entry: Entry, now: float) -> dict[str, Any]:
    """A row of the history as ``history --json`` prints it."""
    return {
        "id": entry.task_id,
        "idempotency_key": entry.idempotency_key,
        "state": entry.state,
        "status": entry.status,
        "progress": entry.progress,
        "created_at": finite(entry.created_at),
        "profile": entry.profile,
        "prompt": entry.prompt,
        "params": entry.params,
        "results": entry.results,
        "error": {"code": entry.error_code, "message": entry.error_message}
        if entry.error_code
        else None,
        "note": entry.note,
        "expires_at": finite(entry.expires_at),
        "result_state": entry.result_state(now),
        "files": [
            {"path": f.path, "sha256": f.sha256, "bytes": f.bytes, "index": f.result_index}
            for f in entry.files
        ],
        "cost": {
            "estimate": entry.estimate,
            "reserved": entry.credits_reserved,
            "charged": entry.credits_charged,
            "refunded": entry.credits_refunded,
            "released": entry.credits_released,
            "charge_status": entry.charge_status,
            "replayed": entry.replayed,
        },
    }


def fmt_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class WaitDisplay(Protocol):
    def update(self, task: Task) -> None: ...


class NullDisplay:
    def update(self, task: Task) -> None:
        pass


def _timing(
    task: Task, now: float, estimates: dict[str, float]
) -> tuple[float | None, float | None]:
    """(elapsed, left) in seconds, from the task's ``created`` and the first estimate seen."""
    if task.estimated_time is not None:
        estimates.setdefault(task.id, task.estimated_time)
    if task.created is None:
        return None, None
    elapsed = max(0.0, now - task.created)
    estimate = estimates.get(task.id)
    left = None if estimate is None or task.is_terminal else max(0.0, estimate - elapsed)
    return elapsed, left


class LineDisplay:
    """One plain line per status or progress change: what a CI log wants."""

    def __init__(self, output: Output, wall_clock: Callable[[], float]) -> None:
        self.output = output
        self.seen: dict[str, tuple[str, int]] = {}
        self.estimates: dict[str, float] = {}
        self.wall_clock = wall_clock

    def update(self, task: Task) -> None:
        state = (task.status, task.progress)
        if self.seen.get(task.id) == state:
            return
        self.seen[task.id] = state
        elapsed, left = _timing(task, self.wall_clock(), self.estimates)
        parts = [task.id, task.status, f"{task.progress}%"]
        if elapsed is not None:
            parts.append(f"elapsed {fmt_duration(elapsed)}")
        if left is not None:
            parts.append(f"~{fmt_duration(left)} left")
        self.output.info(" ".join(parts))


class LiveDisplay:
    """Rich progress bars, one per task: status, percent, elapsed, estimate."""

    def __init__(
        self, output: Output, task_ids: Sequence[str], wall_clock: Callable[[], float]
    ) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = output.rich_console(output.err)
        self.bars = Progress(
            TextColumn("{task.description}", markup=False),
            TextColumn("{task.fields[status]}", markup=False, style="cyan"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%", markup=False),
            TextColumn("{task.fields[elapsed]}", markup=False, style="dim"),
            TextColumn("{task.fields[left]}", markup=False, style="dim"),
            console=self.console,
            transient=False,
            auto_refresh=True,
            refresh_per_second=4,
        )
        self.rows = {
            task_id: self.bars.add_task(
                clean(task_id), total=100, status="waiting", elapsed="", left=""
            )
            for task_id in dict.fromkeys(task_ids)
        }
        self.estimates: dict[str, float] = {}
        self.wall_clock = wall_clock

    def __enter__(self) -> LiveDisplay:
        self.bars.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bars.stop()

    def update(self, task: Task) -> None:
        row = self.rows.get(task.id)
        if row is None:
            return
        elapsed, left = _timing(task, self.wall_clock(), self.estimates)
        self.bars.update(
            row,
            completed=task.progress,
            status=clean(task.status),
            elapsed=fmt_duration(elapsed) if elapsed is not None else "",
            left=f"~{fmt_duration(left)} left" if left is not None else "",
        )


def local_time(epoch: object) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM``; ``-`` for anything that is not a usable one."""
    import datetime

    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        return "-"
    try:
        return datetime.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):  # inf, NaN, beyond the year 9999
        return "-"
