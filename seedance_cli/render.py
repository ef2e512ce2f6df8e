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
from .models import Task
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
    SavedFiles,
    Shown,
    StatusRows,
    UnfinishedTask,
    UploadedImage,
)

if TYPE_CHECKING:
    from .ledger import Entry

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
            return
        if self.out_fancy:
            self._show_on_terminal(result)
        else:
            self._show_plain(result)
        for note in text_notes(result):
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
                    self._fields(planned.number, planned.name or "", to_json(planned.body))
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


def json_objects(result: Shown) -> Iterator[dict[str, Any]]:
    """The JSON objects ``--json`` prints for ``result``, one per line, in order."""
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
            }
        case BatchDryRun():
            for planned in result.lines:
                yield {"line": planned.number, "name": planned.name, "body": planned.body}
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
        case _:
            assert_never(result)


def text_notes(result: Shown) -> list[str]:
    """What text (not JSON) says on stderr along with ``result``: that a dry run sent nothing, where
    an empty history is."""
    if isinstance(result, DryRun):
        return ["dry run: nothing was sent"]
    if isinstance(result, HistoryRows) and not result.entries:
        return [f"no tasks in the history ({result.source})"]
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
                        "unlimited" if token.unlimited else f"{token.remaining:g}",
                        f"{token.used:g}",
                    ),
                    ("account", f"{user.remaining:g}", f"{user.used:g}"),
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
