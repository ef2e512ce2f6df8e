"""What several commands share after parsing: waiting with progress, saving with progress,
uploading with progress, and ending with the most serious error. Each calls one session
operation and shows what it returned; none touches the history or the client itself.

Command modules import this and ``app``, never each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..errors import (
    AlreadyShown,
    Interrupted,
    NotFinished,
    OverBudget,
    SeedanceError,
    ServiceError,
    TaskFailed,
    UnreachableAtDeadline,
    WaitTimeout,
    WaitTimeoutAll,
)
from ..waiting import is_transient

if TYPE_CHECKING:
    from ..images import ImageInfo
    from ..models import Task, UploadedFile
    from ..pricing import Budget, Estimate
    from ..session import Destination, Session
    from .runtime import Runtime


def report(rt: Runtime, failures: Sequence[SeedanceError], *, json_shown: bool = False) -> None:
    """Show every failure, then end with the exit code of the most serious one.

    Not reaching the API or being refused (its own code) beats a failed task (8), which beats
    a create left out for the budget (11), which beats a deadline (9): a rerun that resumes
    after a deadline would also create the lines left out, with a budget of its own, so a
    script must hear of the budget first. ``json_shown``: the command already printed each
    failure's JSON object on stdout (``status`` does, in the order of the ids), so only stderr
    gets them here.
    """
    if not failures:
        return
    for failure in failures:
        rt.out.error(failure, json_shown=json_shown)

    def rank(exc: SeedanceError) -> int:
        if isinstance(exc, WaitTimeout):
            return 0
        if isinstance(exc, OverBudget):
            return 1
        return 2 if isinstance(exc, TaskFailed) else 3

    raise AlreadyShown(max(failures, key=rank))


def say_created(rt: Runtime, task: Task, key: str, reserved: str = "") -> None:
    """Say on stderr what a create answered: a new task (with what it reserved), or, when the
    API recognised the idempotency key (``idempotency-replayed: true``), the task that key made
    before: the original task, no new charge (the history does not count it twice)."""
    if task.replayed:
        rt.out.info(
            f"idempotency key {key} already made task {task.id} at the API: "
            "the original task, no new charge"
        )
    else:
        rt.out.info(f"created {task.id}{reserved}")


def reserved_beyond(task: Task, estimate: Estimate, budget: Budget | None) -> str | None:
    """A warning when the API reserved more than the estimate said (and than the budget allows):
    the create is made and cannot be undone, but a script capped at N must hear of it."""
    from decimal import Decimal

    if task.replayed or task.credits_reserved is None or estimate.high is None:
        return None
    reserved = Decimal(str(task.credits_reserved))
    if reserved <= estimate.high:
        return None
    over = f", above {budget.limit_text}" if budget is not None and reserved > budget.limit else ""
    return (
        f"the API reserved {reserved.normalize():f} credits for {task.id}, more than the estimate "
        f"{estimate.text()}{over}; {prices_changed(estimate.model)}"
    )


def prices_changed(model: str) -> str:
    """What a reservation above the estimate may mean, and what to do about it (reading the live
    rules, unless they are read already)."""
    from ..pricing import live_in_use

    said = PRICES_CHANGED.format(model=model)
    return said.replace(LIVE_ADVICE, "") if live_in_use() else said


#: What a reservation above the estimate may mean, and what to do about it.
LIVE_ADVICE: Final = "; `seedance config set live-pricing true` estimates with the API's own"
PRICES_CHANGED: Final = (
    "EvoLink's prices may have changed (`seedance models {model}` shows the rules this version "
    "knows" + LIVE_ADVICE + ")"
)


def retry_hint(task: Task) -> str | None:
    if task.error is None:
        return "the API gave no reason"
    if task.error.retryable:
        return "a service-side failure: the same request may succeed later"
    return "this request will fail again as it is; change it before retrying"


def as_error(exc: BaseException) -> SeedanceError:
    """A download that failed on this machine's side (disk full, no permission) is a failed
    download too: exit 7."""
    if isinstance(exc, SeedanceError):
        return exc
    return ServiceError(f"cannot write the file: {exc}")


def finish_wait(
    rt: Runtime,
    session: Session,
    task_ids: Sequence[str],
    *,
    timeout: float | None,
    interval: float,
    destination: Destination | None = None,
    force: bool = False,
    known: Sequence[Task] = (),
    strict_interval: bool = False,
) -> None:
    """Wait for every task under one deadline, show (or save) each outcome, end with the most
    serious error. ``known``: tasks as their create just answered: shown at once, and not asked
    about again before their estimate says they end."""
    failures: list[SeedanceError] = []
    output_flags = [] if destination is None else ["-o", destination.option()]

    def on_error(exc: SeedanceError) -> None:
        rt.out.trace(f"* poll failed, will retry: {exc.message}")

    try:
        with rt.out.progress(task_ids, rt.env.wall_clock) as display:
            for task in known:
                display.update(task)
            waited = session.wait(
                task_ids,
                timeout=timeout,
                interval=interval,
                on_update=display.update,
                on_error=on_error,
                known=known,
                strict_interval=strict_interval,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted while waiting for {', '.join(task_ids)}; the task keeps running",
            hint=rt.resume_hint("wait", task_ids, *output_flags),
        ) from None
    still_running: list[str] = []
    for task_id, outcome in waited.outcomes.items():
        if isinstance(outcome, WaitTimeout):
            still_running.append(task_id)
            if outcome.task is not None:
                from ..views import UnfinishedTask

                rt.out.show(UnfinishedTask(outcome.task))
        elif isinstance(outcome, UnreachableAtDeadline):
            failures.append(outcome.replace(hint=rt.resume_hint("wait", [task_id], *output_flags)))
        elif isinstance(outcome, SeedanceError):
            error = outcome
            if is_transient(error):  # polls failed for the outage limit: it may well finish
                error = error.replace(hint=rt.resume_hint("wait", [task_id], *output_flags))
            failures.append(error.about(task_id))
        elif outcome.succeeded:
            try:
                if destination is None:
                    show_result(rt, outcome)
                else:
                    save(rt, session, outcome, destination, force=force, deadline=waited.deadline)
            except Interrupted:
                raise
            except (SeedanceError, OSError) as exc:
                error = as_error(exc)
                if destination is not None:
                    error = how_to_download(rt, error, task_id, destination)
                failures.append(error.about(task_id))
        else:
            from ..views import UnfinishedTask

            rt.out.show(UnfinishedTask(outcome))
            failures.append(TaskFailed(outcome, hint=retry_hint(outcome)))
    if still_running:
        hint = rt.resume_hint("wait", still_running, *output_flags)
        failures.append(WaitTimeoutAll(still_running, timeout or 0.0, hint))
    report(rt, failures)


def how_to_download(
    rt: Runtime, error: SeedanceError, task_id: str, destination: Destination
) -> SeedanceError:
    """A save that failed after the task was done and paid for: the hint ends with the command
    that downloads it once the cause is fixed - never "run the same command again", which for
    ``generate`` would create (and pay for) another task."""
    if isinstance(error, TaskFailed | NotFinished | Interrupted):
        return error
    then = rt.resume_command("download", [task_id], "-o", destination.option())
    return error.replace(hint=f"{error.hint}; then: {then}" if error.hint else f"then: {then}")


def show_result(rt: Runtime, task: Task) -> None:
    """Show a completed task's result URL; one without a usable result is ``NoResult`` (exit 8)."""
    from ..session import no_result

    unusable = no_result(task)
    from ..views import FinishedTask

    rt.out.show(FinishedTask(task, usable=unusable is None))
    if unusable is not None:
        raise unusable


def save(
    rt: Runtime,
    session: Session,
    task: Task,
    destination: Destination,
    *,
    force: bool,
    deadline: float | None = None,
) -> None:
    """Download a completed task's results and show where they went (``files`` with --json);
    by ``deadline`` (a wait's) when one is given."""
    from ..render import fmt_bytes
    from ..session import usable_results

    usable_results(task)
    targets: list[Path] = []
    try:
        with rt.out.transfers() as start:

            def progress(index: int, target: Path) -> Callable[[int, int | None], None]:
                targets.append(target)
                return start(f"downloading {target.name}")

            saved = session.save(
                task, destination, force=force, on_progress=progress, deadline=deadline
            )
    except KeyboardInterrupt:
        target = targets[-1] if targets else destination.target(task.id, 0)
        raise Interrupted(
            f"interrupted while downloading {task.id}; {target.name}.part is kept",
            hint=rt.resume_hint("download", [task.id], "-o", str(target)),
        ) from None
    for item in saved:
        rt.out.info(f"saved {item.path} ({fmt_bytes(item.size)}, sha256 {item.sha256[:12]}...)")
    from ..views import SavedFiles

    rt.out.show(SavedFiles(task, tuple(str(item.path) for item in saved)))


def upload_images(
    rt: Runtime,
    session: Session,
    sources: Sequence[str | ImageInfo],
    *,
    interrupted: str,
) -> tuple[list[str], list[dict[str, str]], list[tuple[ImageInfo, UploadedFile]]]:
    """Upload the local images among ``sources`` with a progress display: every image URL in
    order, ``{"path", "url"}`` of each upload (for the history), and each upload's file.
    Ctrl-C names the image under way and ``interrupted`` (what it means for the command)."""
    done: list[tuple[ImageInfo, UploadedFile]] = []
    current: list[ImageInfo] = []
    try:
        with rt.out.transfers() as start:

            def progress(image: ImageInfo) -> Callable[[int, int | None], None]:
                current[:] = [image]
                return start(f"uploading {image.path.name}")

            urls, uploaded = session.upload_images(
                sources, on_progress=progress, on_uploaded=lambda i, f: done.append((i, f))
            )
    except KeyboardInterrupt:
        what = f" {current[0].path}" if current else ""
        raise Interrupted(f"interrupted while uploading{what}; {interrupted}") from None
    return urls, uploaded, done
