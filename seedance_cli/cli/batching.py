"""``seedance batch``: many generations from a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from ..env import expand_user
from ..errors import (
    Interrupted,
    SeedanceError,
    UnreachableAtDeadline,
    UsageError,
)
from ..waiting import MAX_POLL_INTERVAL, is_transient

if TYPE_CHECKING:
    from ..batch import Line
    from ..family import Dropped
from .app import (
    EXIT_CODES_HELP,
    ForceOpt,
    IntervalOpt,
    TimeoutOpt,
    app,
    with_globals,
)
from .flow import report
from .inputs import check_seconds, dropped_defaults, read_bounded
from .runtime import Runtime


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def batch(
    rt: Runtime,
    manifest: Annotated[
        str,
        typer.Argument(
            metavar="FILE", show_default=False, help="JSONL or CSV manifest ('-' reads stdin)."
        ),
    ],
    concurrency: Annotated[
        int, typer.Option(metavar="N", min=1, max=100, help="Tasks in flight at once.")
    ] = 4,
    output_dir: Annotated[
        str | None,
        typer.Option(
            "--output-dir",
            metavar="DIR",
            help="Download each result as DIR/<name or line number>.mp4.",
        ),
    ] = None,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = None,
    force: ForceOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check every line and print the requests; send nothing."),
    ] = False,
) -> None:
    """Run many generations from a manifest: concurrent, resumable, within rate limits.

    One JSON object per line (JSONL) or a CSV with a header row, with the request's field names
    (prompt, model, duration, quality, aspect_ratio, generate_audio, image_urls, video_urls,
    audio_urls, callback_url, content_filter, output_format, model_params; in CSV web_search)
    and an optional name. Every line is checked first: one bad line refuses the whole batch. Running the
    same manifest again skips what was created (waiting on it) and what was saved: a line is never
    created twice. Prints line<TAB>task_id<TAB>status<TAB>path per line as it finishes.
    """
    from ..batch import BatchRun, Outcome, check_outputs, parse_manifest
    from ..errors import ManifestError

    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False, maximum=MAX_POLL_INTERVAL)
    data = read_manifest(manifest, rt.env.stdin)
    kind = (
        {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}.get(
            Path(manifest).suffix.lower()
        )
        if manifest != "-"
        else None
    )
    settings = rt.settings
    defaults = {
        "duration": settings.duration,
        "quality": settings.quality,
        "aspect_ratio": settings.aspect_ratio,
        "generate_audio": settings.audio,
        "model": settings.model,
    }
    try:
        plan = parse_manifest(
            data,
            kind=kind,
            defaults={k: v for k, v in defaults.items() if v is not None},
            base=Path.cwd() if manifest == "-" else expand_user(manifest, "FILE").resolve().parent,
        )
    except ManifestError as exc:
        for number, problem in exc.problems:
            rt.out.error(UsageError(f"line {number}: {problem}") if number else UsageError(problem))
        raise
    for warning in model_warnings(settings.profile, plan.lines):
        rt.out.warn(warning)
    session = rt.session()
    destination = None
    if output_dir is not None:
        from ..session import Destination

        destination = Destination(expand_user(output_dir, "--output-dir"), True)
        # a folder, or can be made, and writable: before any create (made only for a real run)
        destination.check(force=True, make=not dry_run)
        check_outputs(
            session,
            plan,
            destination.path,
            base_url=settings.base_url,
            profile=settings.profile,
            force=force,
        )
    if dry_run:
        from ..views import BatchDryRun, PlannedLine

        rt.out.show(
            BatchDryRun(tuple(PlannedLine(ln.number, ln.name, ln.preview()) for ln in plan.lines))
        )
        count = len(plan.lines)
        rt.out.info(f"dry run: {count} line{'' if count == 1 else 's'} checked; nothing was sent")
        return
    session.require_history("a batch needs it to resume without creating a line twice")
    counts: dict[str, int] = {}
    failures: list[SeedanceError] = []

    def on_outcome(outcome: Outcome) -> None:
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
        from ..views import BatchLine

        shown = BatchLine.of(outcome)
        rt.out.show(shown)
        if outcome.error is not None:
            failures.append(outcome.error.about(f"line {outcome.line.number}"))
        note(f"line {outcome.line.number}: {shown.status}", outcome.state)

    def on_event(line: Line, message: str) -> None:
        note(f"line {line.number}: {message}", None)

    command = rt.resume_command(
        "batch", [manifest], *batch_flags(concurrency, output_dir, timeout, interval, force)
    )
    with session, rt.out.batch_progress(len(plan.lines)) as note:
        run = BatchRun(
            plan,
            session,
            concurrency=concurrency,
            interval=rt.poll_interval(interval),
            timeout=timeout,
            output=destination,
            force=force,
            on_outcome=on_outcome,
            on_event=on_event,
        )
        try:
            run.run()
        except KeyboardInterrupt:
            raise Interrupted(
                "batch interrupted; tasks already created keep running",
                hint=f"resume with: {command}"
                + (" (with the same manifest on stdin)" if manifest == "-" else ""),
            ) from None
    summary = ", ".join(
        f"{counts.get(k, 0)} {label}"
        for k, label in (
            ("succeeded", "succeeded"),
            ("failed", "failed"),
            ("timed_out", "timed out"),
            ("unknown", "outcome unknown"),
            ("error", "errors"),
        )
        if counts.get(k) or k in ("succeeded", "failed", "timed_out")
    )
    rt.out.info(f"batch: {summary}; {run.reserved:g} credits reserved by this run")
    # Lines still running, or whose polls failed at the deadline or for the outage limit: their
    # tasks may well finish, and the rerun waits on them again.
    if counts.get("timed_out") or any(
        isinstance(f, UnreachableAtDeadline) or is_transient(f) for f in failures
    ):
        rt.out.info(f"resume with: {command}")  # the rerun waits on those tasks again
    report(rt, failures)


def model_warnings(profile: str, lines: Sequence[Line]) -> list[str]:
    """One warning per model id the catalogue does not know, and one per profile default left
    out because a line's model does not take its value, each naming its lines."""
    from ..family import unknown_model_warning

    unknown: dict[str, list[int]] = {}
    dropped: dict[tuple[str, Dropped], list[int]] = {}
    for line in lines:
        if not line.request.known_model:
            unknown.setdefault(line.request.model, []).append(line.number)
        for item in line.dropped:
            if item.reason is not None:
                dropped.setdefault((line.request.model, item), []).append(line.number)
    warnings = []
    for model, numbers in unknown.items():
        warning = unknown_model_warning(model)
        if warning is not None:
            warnings.append(f"{warning} ({lines_named(numbers)})")
    for (_, item), numbers in dropped.items():
        warnings += dropped_defaults(profile, [item], f" on {lines_named(numbers)}")
    return warnings


def lines_named(numbers: Sequence[int]) -> str:
    """``line 3``, ``lines 1, 2, 5``, ``lines 1, 2, 3 and 17 more``."""
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    shown = ", ".join(str(n) for n in numbers[:5])
    return f"lines {shown}" + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


# A manifest this large would be hundreds of thousands of paid lines: refused before it fills memory.
MANIFEST_READ_LIMIT = 64_000_000


def read_manifest(name: str, stdin: TextIO | None) -> bytes:
    """The manifest's bytes: the file ``name``, or ``stdin`` for ``-``; refused beyond
    ``MANIFEST_READ_LIMIT``."""
    if name == "-":
        if stdin is None or stdin.isatty():
            raise UsageError("FILE is '-' but stdin is a terminal", hint="pipe the manifest in")
        stream = getattr(stdin, "buffer", stdin)
        return read_bounded(stream, MANIFEST_READ_LIMIT, "FILE: the manifest on stdin")
    try:
        with expand_user(name, "FILE").open("rb") as file:
            return read_bounded(file, MANIFEST_READ_LIMIT, f"FILE: {name!r}")
    except OSError as exc:
        raise UsageError(f"FILE: cannot read {name!r} ({exc.strerror or exc})") from None


def batch_flags(
    concurrency: int,
    output_dir: str | None,
    timeout: float | None,
    interval: float | None,
    force: bool,
) -> list[str]:
    flags = ["--concurrency", str(concurrency)]
    if output_dir is not None:
        flags += ["--output-dir", output_dir]
    if timeout is not None:
        flags += ["--timeout", f"{timeout:g}"]
    if interval is not None:
        flags += ["--interval", f"{interval:g}"]
    if force:
        flags.append("--force")
    return flags
