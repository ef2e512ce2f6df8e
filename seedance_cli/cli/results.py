"""``seedance download`` and ``seedance history``: results saved, tasks remembered."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
from .flow import as_error, report, retry_hint, save
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
                save(rt, session, task, destination, force=force)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"interrupted during {task_id}", hint=rt.resume_hint("download", [task_id])
                ) from None
            except Interrupted:
                raise
            except (SeedanceError, OSError) as exc:
                failures.append(as_error(exc).about(task_id))
    report(rt, failures)


def unfinished_note(task: Any) -> str:
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
) -> None:
    """List past tasks from the local history, newest first.

    Shows each task's id, when it was created, its status, the start of its prompt and its
    result: saved at PATH, downloadable until TIME, or expired.
    """
    from ..render import clean, local_time

    if status_filter is not None:
        status_filter = status_filter.strip().lower()
        if status_filter not in HISTORY_STATUSES:
            raise UsageError(
                f"--status: unknown status {status_filter!r}; one of " + ", ".join(HISTORY_STATUSES)
            )
    if rt.options.sandbox:
        raise UsageError("--sandbox keeps no history: its tasks vanish with the process")
    session = rt.session()
    entries = session.history(limit=limit, status=status_filter, search=search)
    now = rt.env.wall_clock()
    if rt.options.json:
        for entry in entries:
            rt.out.json(history_json(entry, now))
        return
    from ..ledger import CREATING, UNKNOWN

    rows = []
    for entry in entries:
        rows.append(
            (
                entry.task_id or "-",
                local_time(entry.created_at),
                entry.state if entry.state in (CREATING, UNKNOWN) else entry.status or "-",
                excerpt(clean(entry.prompt or ""), 40),
                result_text(entry, now),
            )
        )
    rt.out.table(("ID", "CREATED", "STATUS", "PROMPT", "RESULT"), rows)
    if not entries:
        rt.out.info(f"no tasks in the history ({session.ledger.path})")


def excerpt(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def result_text(entry: Any, now: float) -> str:
    from ..render import local_time

    state = entry.result_state(now)
    if state == "saved":
        return "saved at " + ", ".join(f.path for f in entry.files)
    if state == "downloadable":
        return f"downloadable until {local_time(entry.expires_at)}"
    if state == "expired":
        return "expired"
    from ..ledger import UNKNOWN

    if entry.state == UNKNOWN:
        return f"outcome unknown (idempotency key {entry.idempotency_key})"
    if entry.error_code:
        return f"{entry.error_code}: {entry.error_message or ''}"
    return "-"


def finite(value: float | None) -> float | None:
    """A number JSON can carry (no NaN or infinity), else ``None``."""
    import math

    return value if value is None or math.isfinite(value) else None


def history_json(entry: Any, now: float) -> dict[str, Any]:
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
