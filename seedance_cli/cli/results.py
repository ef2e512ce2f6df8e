"""``seedance download`` and ``seedance history``: results saved, tasks remembered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..models import Task
    from ..session import Synced

from ..errors import (
    Interrupted,
    NotFinished,
    SeedanceError,
    TaskFailed,
    UsageError,
    ValidationError,
)
from ..models import HISTORY_STATUSES
from .app import (
    EXIT_CODES_HELP,
    ForceOpt,
    OutputOpt,
    app,
    with_globals,
)
from .flow import as_error, how_to_download, report, retry_hint, save
from .runtime import Runtime


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def download(
    rt: Runtime,
    task_ids: Annotated[
        list[str] | None, typer.Argument(metavar="TASK_ID...", show_default=False)
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    missing: Annotated[
        bool,
        typer.Option(
            "--missing", help="Every completed result in the history never saved and not expired."
        ),
    ] = False,
) -> None:
    """Download the result video(s) of completed tasks; print each saved path.

    Streams to NAME.part and renames when complete; an interrupted download resumes where it
    stopped. Results expire 24 hours after completion.
    """
    from ..models import task_ids as check_ids

    try:
        ids = check_ids(task_ids or [])
    except ValidationError as exc:
        raise UsageError(f"TASK_ID: {exc.reason}") from None
    if missing and ids:
        raise UsageError("give TASK_IDs or --missing, not both")
    if not missing and not ids:
        raise UsageError("Missing argument 'TASK_ID...'", hint="see `seedance download --help`")
    failures: list[SeedanceError] = []
    with rt.session() as session:
        if missing:
            ids = session.missing_results()
            if not ids:
                rt.out.info("nothing to download: every completed result is saved or expired")
                return
        destination = rt.destination(output, several=len(ids) > 1)
        destination.check(force=force, task_ids=ids)
        for task_id in ids:
            try:
                task = session.get_task(task_id)
                if missing and not task.succeeded:
                    # Re-checked because the history last saw it unfinished: nothing is missing
                    # until it completes, and a task that failed has nothing to download.
                    rt.out.info(unfinished_note(task))
                    continue
                if task.failed:
                    raise TaskFailed(task, hint=retry_hint(task))
                if not task.succeeded:
                    raise NotFinished(
                        f"task {task_id} is {task.status} ({task.progress}%); nothing to download "
                        "yet",
                        hint="wait and download with: "
                        + rt.resume_command("wait", [task_id], "-o", destination.option()),
                    )
                try:
                    save(rt, session, task, destination, force=force)
                except (SeedanceError, OSError) as exc:
                    raise how_to_download(rt, as_error(exc), task_id, destination) from None
            except KeyboardInterrupt:
                raise Interrupted(
                    f"interrupted during {task_id}", hint=rt.resume_hint("download", [task_id])
                ) from None
            except Interrupted:
                raise
            except (SeedanceError, OSError) as exc:
                failures.append(as_error(exc).about(task_id))
    report(rt, failures)


def unfinished_note(task: Task) -> str:
    """What ``download --missing`` says of a re-checked task that has nothing to download."""
    if task.failed:
        error = task.error
        reason = f"{error.code}: {error.message}" if error and error.message else "no reason given"
        return f"{task.id} {task.status} ({reason}); nothing to download"
    return f"{task.id} is still {task.status} ({task.progress}%); run --missing again later"


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def history(
    rt: Runtime,
    limit: Annotated[int, typer.Option(metavar="N", min=1, help="At most N tasks.")] = 20,
    status_filter: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only tasks in this status: " + ", ".join(HISTORY_STATUSES) + ".",
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Only tasks whose prompt or id holds TEXT.")
    ] = None,
    settle: Annotated[
        str | None,
        typer.Option(
            "--settle",
            metavar="KEY=TASK_ID|KEY=none",
            help="Record what you found of an outcome-unknown create: the task it made (checked "
            "with the API), or none (the next run creates it again, paid).",
        ),
    ] = None,
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="First bring the API's recent tasks in (where it lists them) and show, for each "
            "outcome-unknown create, the remote tasks that could be it.",
        ),
    ] = False,
) -> None:
    """List past tasks from the local history, newest first.

    Shows each task's id, when it was created, its status, the start of its prompt and its
    result: saved at PATH, downloadable until TIME, or expired. --sync asks the API first
    (GET /v1/tasks, the last two days) and decides nothing: an outcome-unknown row stays one.
    """
    if status_filter is not None:
        status_filter = status_filter.strip().lower()
        if status_filter not in HISTORY_STATUSES:
            raise UsageError(
                f"--status: unknown status {status_filter!r}; one of " + ", ".join(HISTORY_STATUSES)
            )
    if rt.options.sandbox:
        raise UsageError("--sandbox keeps no history: its tasks vanish with the process")
    settled = parse_settle(settle) if settle is not None else None
    with rt.session() as session:
        if settled is not None:
            rt.out.info(f"settled: {session.settle(*settled)}")
        if sync:
            show_sync(rt, session.sync())
        entries = session.history(limit=limit, status=status_filter, search=search)
        path = session.ledger.path
    from ..views import HistoryRows

    rt.out.show(HistoryRows(tuple(entries), rt.env.wall_clock(), path))


def parse_settle(text: str) -> tuple[str, str | None]:
    """``--settle KEY=TASK_ID`` or ``KEY=none`` as (key, task id or ``None``); exit 2 else."""
    from ..models import check_idempotency_key, check_task_id

    key, sep, task = text.strip().rpartition("=")
    try:
        if not sep or not key or not task:
            raise ValidationError("settle", "expected KEY=TASK_ID or KEY=none")
        check_idempotency_key(key)
        if task.lower() == "none":
            return key, None
        check_task_id(task)
    except ValidationError as exc:
        raise UsageError(
            f"--settle: {text!r}: {exc.reason}",
            hint="e.g. --settle seedance-batch-0123abcd-3=task-unified-1767225600-abcd1234",
        ) from None
    return key, task


def show_sync(rt: Runtime, synced: Synced) -> None:
    """What ``history --sync`` found, on stderr: how many remote tasks, and for each
    outcome-unknown create the tasks that could be it (or that none could)."""
    from ..render import local_time
    from ..session import SYNC_PAGES

    if not synced.available:
        rt.out.warn(
            "the API lists no tasks (GET /v1/tasks answered 404): nothing was synced; an "
            "outcome-unknown create can be checked only by its task id, if you have one"
        )
        return
    more = (
        f"; the newest {synced.read} of the {synced.total} the API holds, as far back as two days"
        if synced.total > synced.read and synced.read >= SYNC_PAGES * 50
        else ""
    )
    rt.out.info(
        f"synced {synced.read} remote tasks of the last two days ({synced.new} new here){more}"
    )
    for key, (entry, tasks) in synced.candidates.items():
        when = local_time(entry.created_at) if entry.created_at is not None else "?"
        about = (
            f"outcome unknown: key {key} ({entry.params.get('model') or 'default model'}, {when})"
        )
        if not tasks:
            rt.out.info(f"{about}: no remote task could be it; it most likely made none")
            continue
        found = ", ".join(
            f"{task.id} ({task.status}, {local_time(task.created)})"
            for task in tasks[:5]
            if task.created is not None
        )
        more = f" and {len(tasks) - 5} more" if len(tasks) > 5 else ""
        rt.out.info(f"{about}: could be {found}{more}")
    if synced.candidates:
        rt.out.info(
            "nothing was decided: `seedance status ID` shows a candidate; record what you find "
            "with `seedance history --settle KEY=TASK_ID` (or KEY=none if it made none)"
        )
