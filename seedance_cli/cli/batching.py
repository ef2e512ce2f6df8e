"""``seedance batch``: many generations from a manifest."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
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
    from ..batch import Line, Outcome
    from ..family import Dropped
    from ..pricing import Budget, Total
from .app import (
    EXIT_CODES_HELP,
    ForceOpt,
    IntervalOpt,
    TimeoutOpt,
    app,
    with_globals,
)
from .flow import report
from .inputs import check_seconds, dropped_defaults, parse_credits, read_bounded
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
        int, typer.Option(metavar="N", min=1, max=500, help="Tasks in flight at once.")
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
        typer.Option(
            "--dry-run",
            help="Check every line and print the requests and their estimated cost; send nothing.",
        ),
    ] = False,
    max_credits: Annotated[
        Decimal | None,
        typer.Option(
            "--max-credits",
            metavar="N",
            parser=parse_credits,
            help="Create no line that would take this run's estimated spend above N credits "
            "(exit 11; default: the profile's max-credits).",
            show_default=False,
        ),
    ] = None,
    allow_unknown_price: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-price",
            help="Under a budget, create lines whose price is unknown too (else over_budget).",
        ),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Make a new task for lines whose task (made by an earlier run) failed with a "
            "code worth a retry, or that the API no longer knows; once per run, paid again.",
        ),
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="K/N",
            help="Take every N-th entry from the K-th (1-based), so that N machines split one "
            "manifest without overlap; each still checks all of it.",
        ),
    ] = None,
) -> None:
    """Run many generations from a manifest: concurrent, resumable, within rate limits.

    One JSON object per line (JSONL) or a CSV with a header row, with the request's field names
    (prompt, model, duration, quality, aspect_ratio, generate_audio, image_urls, video_urls,
    audio_urls, callback_url, content_filter, output_format, model_params; in CSV web_search)
    and an optional name. Every line is checked first: one bad line refuses the whole batch. Running the
    same manifest again skips what was created (waiting on it) and what was saved: a line is never
    created twice. Prints line<TAB>task_id<TAB>status<TAB>path per line as it finishes. With
    --max-credits, lines that would take the run's estimated spend above the budget are not
    created (status over_budget, exit 11); a rerun with a larger budget creates only them.
    """
    from ..batch import BatchRun, check_outputs, parse_manifest
    from ..errors import ManifestError

    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False, maximum=MAX_POLL_INTERVAL)
    part = parse_shard(shard) if shard is not None else None
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
    if part is not None:  # the whole manifest was checked: now this shard's share of it
        whole = len(plan.lines)
        plan = plan.shard(*part)
        said = (
            f"shard {part[0]}/{part[1]}: {len(plan.lines)} of the manifest's {whole} entries "
            f"(all {whole} checked)"
        )
        if plan.lines:
            rt.out.info(said)
        else:
            rt.out.warn(f"{said}: this shard takes none, there are fewer entries than shards")
    budget = rt.budget(max_credits, allow_unknown=allow_unknown_price)
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
    rt.use_live_pricing()
    if dry_run:
        show_dry_run(rt, plan.lines, budget)
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
        "batch",
        [manifest],
        *batch_flags(concurrency, output_dir, timeout, interval, force),
        *budget_flags(max_credits, allow_unknown_price),
        *(["--retry-failed"] if retry_failed else []),
        *(["--shard", f"{part[0]}/{part[1]}"] if part is not None else []),
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
            budget=budget,
            retry_failed=retry_failed,
            strict_interval=rt.interval_chosen(interval),
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
            ("over_budget", "over budget"),
        )
        if counts.get(k) or k in ("succeeded", "failed", "timed_out")
    )
    rt.out.info(f"batch: {summary}; {spending(run.estimated, budget, run.reserved)}")
    beyond = reserved_beyond_run(run.estimated, run.reserved, plan.lines)
    if beyond is not None:
        rt.out.warn(beyond)
    # Lines still running, or whose polls failed at the deadline or for the outage limit: their
    # tasks may well finish, and the rerun waits on them again.
    if counts.get("timed_out") or any(
        isinstance(f, UnreachableAtDeadline) or is_transient(f) for f in failures
    ):
        rt.out.info(f"resume with: {command}")  # the rerun waits on those tasks again
    worth = sorted(n for n, outcome in run.outcomes.items() if retry_would_remake(outcome))
    if worth and not retry_failed:
        them = "it" if len(worth) == 1 else "them"
        rt.out.info(
            f"{lines_named(worth)} may succeed as a new task (a failure worth a retry, or a task "
            f"the API no longer knows): {command} --retry-failed makes {them} again, each paid "
            "again"
        )
    report(rt, failures)


def retry_would_remake(outcome: Outcome) -> bool:
    """Whether ``batch --retry-failed`` would make the line of ``outcome`` again: its task failed
    with a code worth a retry, or the API no longer knows it."""
    from ..errors import NotFoundError
    from ..models import retry_worthy

    if outcome.state == "error":
        return isinstance(outcome.error, NotFoundError)
    if outcome.state != "failed" or outcome.task is None or outcome.task.status != "failed":
        return False
    return retry_worthy(outcome.task.error.code if outcome.task.error is not None else None)


def reserved_beyond_run(estimated: Total, reserved: Decimal, lines: Sequence[Line]) -> str | None:
    """A warning when the API reserved more for this run's creates than their estimates add up
    to at their top (when every one of them had a known price): prices may have changed."""
    from ..pricing import credits_text
    from .flow import prices_changed

    if not estimated.priced or estimated.unpriced or reserved <= estimated.high:
        return None
    models = sorted({line.request.model for line in lines})
    model = models[0] if len(models) == 1 else "MODEL"
    return (
        f"the API reserved {credits_text(reserved)} credits for this run's "
        f"creates, more than their estimate {estimated.text()}; " + prices_changed(model)
    )


def spending(estimated: Total, budget: Budget | None, reserved: Decimal) -> str:
    """What the run's creates were estimated to cost (against its budget, if any) and what the
    API reserved for them."""
    from ..pricing import credits_text

    within = f" (budget: {budget.limit_text})" if budget is not None else ""
    lines = f"{estimated.count} line{'s' if estimated.count != 1 else ''}"
    if estimated.count == 0 and not reserved:
        return f"this run created nothing{within}"
    if estimated.count == 0:
        said = "this run created nothing"
    elif estimated.priced == 0:
        said = f"the price of the {lines} this run created is unknown"
    else:
        said = f"estimated {estimated.text()} for the {lines} this run created"
    return f"{said}{within}, {credits_text(reserved)} credits reserved by this run"


def show_dry_run(rt: Runtime, lines: Sequence[Line], budget: Budget | None) -> None:
    """``--dry-run``: every line's request and estimate, and their total; with a budget, which
    lines it would leave out, counting every line as new (lines an earlier run created would
    not count), and exit 11 when it would leave out any."""
    from ..pricing import Total
    from ..views import BatchDryRun, PlannedLine

    planned = []
    for line in lines:
        over = None if budget is None else budget.reserve(line.estimate) is not None
        planned.append(PlannedLine(line.number, line.name, line.preview(), line.estimate, over))
    shown = BatchDryRun(
        tuple(planned),
        Total.of(line.estimate for line in lines),
        budget.limit_text if budget is not None else None,
    )
    rt.out.show(shown)
    count = len(lines)
    rt.out.info(f"dry run: {count} line{'s' if count != 1 else ''} checked; nothing was sent")
    if shown.over_budget:
        from ..errors import OverBudget

        numbers = shown.over_budget
        raise OverBudget(
            f"over budget: {len(numbers)} of {count} lines ({lines_named(numbers)}) would not "
            f"be created within {shown.budget}, counting every line as new; dry run: nothing "
            "was sent",
            hint="lines an earlier run created would not count; raise the budget to create "
            "them all, or --allow-unknown-price for lines of unknown price",
        )


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


#: The most machines one manifest may be split across.
MAX_SHARDS = 10_000


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard K/N`` as (K, N): whole numbers, 1 <= K <= N <= ``MAX_SHARDS``; exit 2 else."""
    import re

    found = re.fullmatch(r"\s*([0-9]{1,5})\s*/\s*([0-9]{1,5})\s*", text)
    k, n = (int(found[1]), int(found[2])) if found else (0, 0)
    if not 1 <= k <= n <= MAX_SHARDS:
        raise UsageError(
            f"--shard: {text!r} is not K/N with 1 <= K <= N <= {MAX_SHARDS}",
            hint="e.g. --shard 2/4: the second of four machines",
        )
    return k, n


def budget_flags(max_credits: Decimal | None, allow_unknown_price: bool) -> list[str]:
    """The budget a run was given, for the command that resumes it: a resumed run must never
    create what this one left out for the budget's sake without it."""
    flags = ["--max-credits", f"{max_credits.normalize():f}"] if max_credits is not None else []
    return flags + (["--allow-unknown-price"] if allow_unknown_price else [])


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
