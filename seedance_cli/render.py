"""Everything the CLI shows: data on stdout, the rest on stderr. The only module that imports rich.

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any, Protocol

from .errors import OutputClosed, OutputFailed, SeedanceError, describe
from .models import Task
from .redact import redact

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
        through it."""
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

    # -- stdout: data ------------------------------------------------------------------------------

    def _write_out(self, text: str) -> None:
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            raise OutputFailed(exc) from None

    def line(self, text: str) -> None:
        """One plain line of data on stdout: control characters removed, spaces kept as they are
        (a saved path is printed exactly, so that ``$(...)`` captures the real file name)."""
        self._write_out(_CONTROLS.sub("", text))

    def lines(self, text: str) -> None:
        """Pre-formatted lines of data (an indented JSON body), control characters removed."""
        for line in text.splitlines():
            self.line(line)

    def fields(self, *values: object) -> None:
        """One tab-separated line of data on stdout, each field cleaned of tabs and controls."""
        self._write_out("\t".join(clean(v) for v in values))

    def json(self, data: Any) -> None:
        """One JSON object: compact on one line when piped, indented and highlighted on a terminal."""
        if self.out_fancy:
            self._rich_out(lambda console: console.print_json(to_json(data), indent=2))
        else:
            self._write_out(to_json(data))

    def task(self, task: Task, *, files: Sequence[str] = ()) -> None:
        """A task as the API returned it (plus ``files`` when something was saved)."""
        data = dict(task.raw)
        if files:
            data["files"] = list(files)
        self.json(data)

    def status_lines(self, rows: Iterable[tuple[str, Task | SeedanceError]]) -> None:
        """``status`` output: a table on a terminal, ``id<TAB>status<TAB>progress<TAB>url`` lines else."""
        rows = list(rows)
        if self.json_mode:
            for task_id, item in rows:
                if isinstance(item, Task):
                    self.task(item)
                else:
                    self.json({"id": task_id, "error": describe(item)})
            return
        if not self.out_fancy:
            for task_id, item in rows:
                if isinstance(item, Task):
                    self.fields(item.id, item.status, item.progress, item.video_url or "")
                else:
                    self.fields(task_id, "error", "", "")
            return
        table: list[tuple[str, ...]] = []
        styles: list[str] = []
        for task_id, item in rows:
            if isinstance(item, Task):
                result = item.video_url or (
                    f"{item.error.code}: {item.error.message}" if item.error else ""
                )
                table.append((item.id, item.status, f"{item.progress}%", result))
                styles.append("green" if item.succeeded else "red" if item.failed else "yellow")
            else:
                table.append((task_id, "error", "", item.message.removeprefix(f"{task_id}: ")))
                styles.append("red")
        self.table(("ID", "STATUS", "PROGRESS", "RESULT"), table, status_styles=styles)

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        status_styles: Sequence[str] = (),
    ) -> None:
        """A table on a terminal; tab-separated lines (no header) when piped."""
        if not self.out_fancy:
            for row in rows:
                self.fields(*row)
            return
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
