"""``seedance generate``, ``wait`` and ``status``: create, follow and show tasks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from ..errors import (
    ConfigError,
    Interrupted,
    SeedanceError,
    TaskFailed,
    UnreachableAtDeadline,
    UsageError,
    ValidationError,
    WaitTimeout,
)

if TYPE_CHECKING:
    from ..client import Client
    from ..images import ImageInfo
    from ..jobs import Destination
    from ..models import GenerationRequest, Task, UploadedFile

from ..errors import WaitTimeoutAll
from ..waiting import MAX_POLL_INTERVAL
from .app import (
    EXIT_CODES_HELP,
    ForceOpt,
    IntervalOpt,
    OutputOpt,
    Runtime,
    TaskIdsArg,
    TimeoutOpt,
    about,
    app,
    as_error,
    check_seconds,
    flag_error,
    fmt_size,
    read_bounded,
    report,
    retry_hint,
    with_globals,
)

# -- generate --------------------------------------------------------------------------------------


# Far above any prompt (at most 2000 characters, trailing whitespace dropped), far below trouble.
PROMPT_READ_LIMIT = 1_000_000


def read_prompt(value: str, stdin: TextIO | None) -> str:
    """PROMPT as given: ``-`` reads ``stdin``, ``@FILE`` reads a UTF-8 file; trailing whitespace
    dropped. Either is read up to ``PROMPT_READ_LIMIT`` bytes: ``@/dev/zero`` is refused, not read
    forever."""
    if value == "-":
        if stdin is None or stdin.isatty():
            raise UsageError("PROMPT is '-' but stdin is a terminal", hint="pipe the prompt in")
        stream = getattr(stdin, "buffer", stdin)
        data = read_bounded(stream, PROMPT_READ_LIMIT, "PROMPT from stdin")
        shown = "stdin"
    elif value == "@":  # `@$FILE` with FILE unset: never send a lone "@" and pay for it
        raise UsageError(
            "PROMPT: '@' names no file", hint="give @FILE, or pipe a prompt starting with @ to -"
        )
    elif value.startswith("@"):
        path = Path(value[1:]).expanduser()
        shown = repr(str(path))
        try:
            with path.open("rb") as stream:
                data = read_bounded(stream, PROMPT_READ_LIMIT, f"PROMPT: {shown}")
        except FileNotFoundError:
            raise UsageError(f"PROMPT: no such file {shown}") from None
        except OSError as exc:
            raise UsageError(f"PROMPT: cannot read {shown}: {exc}") from None
    else:
        return value.rstrip()
    if value == "-":  # as stdin reads: odd bytes kept as surrogates, refused by the prompt's check
        return data.decode("utf-8", "surrogateescape").rstrip()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"PROMPT: cannot read {shown}: {exc}") from None
    return text.rstrip()


def build_request(
    rt: Runtime,
    prompt: str,
    *,
    images: Sequence[str],
    duration: int | None,
    quality: str | None,
    aspect_ratio: str | None,
    audio: bool | None,
    callback_url: str | None,
    model: str,
) -> GenerationRequest:
    """Flags over profile defaults, checked against every rule before anything is sent."""
    from ..models import GenerationRequest

    settings = rt.settings
    try:
        return GenerationRequest(
            prompt=read_prompt(prompt, rt.env.stdin),
            image_urls=tuple(images),
            duration=duration if duration is not None else settings.duration,
            quality=quality if quality is not None else settings.quality,
            aspect_ratio=aspect_ratio if aspect_ratio is not None else settings.aspect_ratio,
            generate_audio=audio if audio is not None else settings.audio,
            callback_url=callback_url,
            model=model,
        )
    except ValidationError as exc:
        raise flag_error(exc) from None


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def generate(
    rt: Runtime,
    prompt: Annotated[
        str,
        typer.Argument(
            help="What the video shows; '-' reads stdin, '@FILE' reads a file.", show_default=False
        ),
    ],
    image: Annotated[
        list[str] | None,
        typer.Option(
            "--image",
            "-i",
            metavar="URL|PATH",
            help="First frame, then last frame (at most 2): an http(s) URL, or a local JPEG, "
            "PNG or WebP file, checked and uploaded.",
        ),
    ] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", "-d", metavar="4..12", help="Seconds (default 5).")
    ] = None,
    quality: Annotated[
        str | None, typer.Option(metavar="480p|720p|1080p", help="Resolution (default 720p).")
    ] = None,
    aspect_ratio: Annotated[
        str | None,
        typer.Option(
            "--aspect-ratio",
            "-a",
            metavar="RATIO",
            help="16:9 (default), 9:16, 1:1, 4:3, 3:4, 21:9 or adaptive.",
        ),
    ] = None,
    audio: Annotated[
        bool | None,
        typer.Option(
            "--audio/--no-audio",
            help="Generate sound (default on; costs more).",
            show_default=False,
        ),
    ] = None,
    callback_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="HTTPS URL the API calls when the task ends."),
    ] = None,
    model: Annotated[str, typer.Option(metavar="NAME", help="Model name.")] = "seedance-1.5-pro",
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the result; print its URL.")
    ] = False,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the request that would be sent; send nothing."),
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(metavar="KEY", help="Idempotency-Key for the create (default: a new one)."),
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Create a video generation task.

    Prints the task id; with --wait the result URL; with --output the saved file's path. Every
    input is checked before anything is sent: a bad value costs nothing and exits 2.
    """
    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False, maximum=MAX_POLL_INTERVAL)
    from ..images import placeholder

    sources = image_sources(rt, image or ())
    request = build_request(
        rt,
        prompt,
        images=[placeholder(i, src) for i, src in enumerate(sources)],  # uploaded after checks
        duration=duration,
        quality=quality,
        aspect_ratio=aspect_ratio,
        audio=audio,
        callback_url=callback_url,
        model=model,
    )
    if idempotency_key is not None:
        from ..models import check_idempotency_key

        try:
            check_idempotency_key(idempotency_key)
        except ValidationError as exc:
            raise flag_error(exc) from None
    destination = rt.destination(output, several=False) if output is not None else None
    if destination is not None:
        destination.check(force=force, make=not dry_run)  # before anything is paid for
    if dry_run:
        show_dry_run(rt, request, idempotency_key, sources)
        return
    from ..client import new_idempotency_key
    from ..jobs import create

    key = idempotency_key or new_idempotency_key()
    with rt.client() as client:
        earlier = (
            None
            if idempotency_key is None
            else task_of_key(
                rt,
                client,
                key,
                request,
                has_local_images=any(not isinstance(s, str) for s in sources),
            )
        )
        shown: Task | None = None
        if earlier is None:
            urls, uploaded = upload_sources(rt, client, sources)
            request = dataclasses.replace(request, image_urls=tuple(urls))
            try:
                shown = create(
                    client,
                    rt.ledger,
                    request,
                    idempotency_key=key,
                    profile=rt.settings.profile,
                    local_images=uploaded,
                    sleep=rt.env.sleep,
                    clock=rt.env.clock,
                )
            except KeyboardInterrupt:
                raise Interrupted(
                    "interrupted while the create was under way; it may have reached the server",
                    hint=f"idempotency key {key}: check `seedance history` before creating again",
                ) from None
            reserved = (
                f" ({shown.credits_reserved:g} credits reserved)" if shown.credits_reserved else ""
            )
            rt.out.info(f"created {shown.id}{reserved}")
        task_id = shown.id if shown is not None else earlier
        assert task_id is not None
        if not wait and destination is None:
            if rt.options.json or rt.out.out_fancy:
                if shown is None:  # this key's earlier task, as it is now
                    shown = client.get_task(task_id)
                    rt.ledger.observe(shown, base_url=client.base_url)
                rt.out.task(shown)
            else:
                rt.out.line(task_id)
            if not rt.options.sandbox:
                rt.out.info(f"wait for it with: {rt.resume_command('wait', [task_id])}")
            return
        finish_wait(
            rt,
            client,
            [task_id],
            timeout=timeout,
            interval=rt.poll_interval(interval),
            destination=destination,
            force=force,
        )


def task_of_key(
    rt: Runtime, client: Client, key: str, request: GenerationRequest, *, has_local_images: bool
) -> str | None:
    """The task this idempotency key already made with this API, from the history; ``None`` for
    a key the history does not hold for this API. Nothing is sent either way.

    A create with this key whose outcome is unknown (or still under way) is not sent again:
    ``OutcomeUnknown`` (exit 10). Keys are per API origin: a row made against another base URL
    (an emulator) is not this API's task; as the history holds one row per key, such a key is
    refused (exit 2) rather than let a second task overwrite the first one's row.
    """
    from ..errors import OutcomeUnknown

    if rt.options.sandbox:  # no history: its tasks vanish with the process
        return None
    entries = rt.ledger.by_idempotency_key(key)
    if entries is None:
        raise ConfigError(
            f"cannot read the task history in {rt.ledger.path}, so cannot tell whether "
            f"idempotency key {key} already made a task; nothing was sent",
            hint="fix the history (see the warning above), or use a new key",
        )
    from ..models import same_api

    here = [e for e in entries if same_api(e.base_url, client.base_url)]
    if not here:
        if entries:
            raise UsageError(
                f"--idempotency-key: {key} already made a task with another API "
                f"({entries[0].base_url}); the history keeps one task per key",
                hint="use a key of its own for each API (e.g. add the API's name to it)",
            )
        return None
    entry = here[0]
    if entry.task_id is None:
        from ..ledger import CREATING

        if entry.state == CREATING:
            # Claimed by a process still sending it (rows of dead owners were marked unknown when
            # the history opened): the create's claim waits for that answer, and never resends.
            return None
        raise OutcomeUnknown(key, "an earlier create with this key had an unknown outcome")
    from .results import local_time

    when = local_time(entry.created_at)
    rt.out.info(
        f"idempotency key {key} already made task {entry.task_id}"
        + (f" on {when}" if when != "-" else "")
        + "; nothing was created"
    )
    body = request.to_body()
    # Local images are known by their uploaded URLs only once uploaded: not compared.
    fields = (set(body) | set(entry.params)) - ({"image_urls"} if has_local_images else set())
    differs = sorted(k for k in fields if body.get(k) != entry.params.get(k))
    if differs:
        rt.out.warn(
            f"that task was made from a different request (differs in: {', '.join(differs)}); "
            "use a new --idempotency-key for a new task"
        )
    return entry.task_id


def image_sources(rt: Runtime, values: Sequence[str]) -> list[str | ImageInfo]:
    """Check every --image before anything is sent; warn about URLs that may not be images."""
    from ..images import image_sources as sources_of
    from ..images import looks_like_image_url

    try:
        sources = sources_of(values)
    except ValidationError as exc:
        raise flag_error(exc) from None
    for source in sources:
        if isinstance(source, str) and not looks_like_image_url(source):
            rt.out.warn(
                f"--image {source}: the path does not end in .jpg, .jpeg, .png or .webp; the API "
                "must be able to fetch it as an image"
            )
    return sources


def upload_sources(
    rt: Runtime, client: Client, sources: Sequence[str | ImageInfo]
) -> tuple[list[str], list[dict[str, str]]]:
    """Upload the local images; return every image URL in order, and (path, url) of uploads."""
    urls: list[str] = []
    uploaded: list[dict[str, str]] = []
    for source in sources:
        if isinstance(source, str):
            urls.append(source)
            continue
        file = upload_one(rt, client, source, "nothing was created")
        rt.out.info(f"uploaded {source.path} -> {file.file_url}")
        urls.append(file.file_url)
        uploaded.append({"path": str(source.path.resolve()), "url": file.file_url})
    return urls, uploaded


def upload_one(rt: Runtime, client: Client, image: ImageInfo, interrupted: str) -> UploadedFile:
    """Upload one checked image with a progress display."""
    try:
        with rt.out.transfers() as start:
            return client.upload_file(
                image.path, mime=image.mime, on_progress=start(f"uploading {image.path.name}")
            )
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while uploading {image.path}; {interrupted}") from None


def show_dry_run(
    rt: Runtime,
    request: GenerationRequest,
    idempotency_key: str | None,
    sources: Sequence[str | ImageInfo] = (),
) -> None:
    from ..render import to_json

    sandbox = "http://127.0.0.1:<sandbox>" if rt.options.sandbox else None
    base = rt.options.base_url or sandbox or rt.settings.base_url
    files = rt.options.base_url or sandbox or rt.settings.files_url
    url = f"{base.rstrip('/')}/v1/videos/generations"
    upload_url = f"{files.rstrip('/')}/api/v1/files/upload/stream"
    local = [s for s in sources if not isinstance(s, str)]
    body = request.to_body()
    if local:
        body["image_urls"] = [
            s if isinstance(s, str) else f"<file_url of the upload of {s.path}>" for s in sources
        ]
    if rt.options.json:
        uploads = [
            {
                "method": "POST",
                "url": upload_url,
                "path": str(s.path),
                "format": s.format,
                "width": s.width,
                "height": s.height,
                "bytes": s.size,
            }
            for s in local
        ]
        rt.out.json(
            {
                "uploads": uploads,
                "method": "POST",
                "url": url,
                "idempotency_key": idempotency_key,
                "body": body,
            }
        )
        return
    for image in local:
        rt.out.line(
            f"POST {upload_url} file={image.path} ({image.format}, {image.width}x{image.height} "
            f"px, {fmt_size(image.size)})"
        )
    rt.out.line(f"POST {url}")
    rt.out.lines(to_json(body, indent=2))
    rt.out.info("dry run: nothing was sent")


# -- wait and status -------------------------------------------------------------------------------


def finish_wait(
    rt: Runtime,
    client: Client,
    task_ids: Sequence[str],
    *,
    timeout: float | None,
    interval: float,
    destination: Destination | None = None,
    force: bool = False,
) -> None:
    """Wait for every task under one deadline, show (or save) each outcome, end with the most
    serious error."""
    from ..waiting import wait_for_tasks

    failures: list[SeedanceError] = []
    output_flags = [] if destination is None else ["-o", destination.option()]

    def on_error(exc: SeedanceError) -> None:
        rt.out.trace(f"* poll failed, will retry: {exc.message}")

    try:
        with rt.out.progress(task_ids, rt.env.wall_clock) as display:

            def on_update(task: Task) -> None:
                rt.ledger.observe(task, base_url=client.base_url)
                display.update(task)

            deadline = rt.env.clock() + timeout if timeout is not None else None
            outcomes = wait_for_tasks(
                client,
                task_ids,
                timeout=timeout,
                interval=interval,
                on_update=on_update,
                on_error=on_error,
                sleep=rt.env.sleep,
                clock=rt.env.clock,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted while waiting for {', '.join(task_ids)}; the task keeps running",
            hint=rt.resume_hint("wait", task_ids, *output_flags),
        ) from None
    still_running: list[str] = []
    for task_id, outcome in outcomes.items():
        if isinstance(outcome, WaitTimeout):
            still_running.append(task_id)
            if rt.options.json and outcome.task is not None:
                rt.out.task(outcome.task)
        elif isinstance(outcome, UnreachableAtDeadline):
            outcome.hint = rt.resume_hint("wait", [task_id], *output_flags)
            failures.append(outcome)
        elif isinstance(outcome, SeedanceError):
            failures.append(about(task_id, outcome))
        elif outcome.succeeded:
            try:
                if destination is None:
                    show_result(rt, outcome)
                else:
                    save(rt, client, outcome, destination, force=force, deadline=deadline)
            except Interrupted:
                raise
            except (SeedanceError, OSError) as exc:
                error = as_error(exc)
                if destination is not None and not isinstance(error, TaskFailed):
                    # the task is done and paid for: say how to get its result once this is fixed
                    then = rt.resume_command("download", [task_id], "-o", destination.option())
                    error.hint = f"{error.hint}; then: {then}" if error.hint else f"then: {then}"
                failures.append(about(task_id, error))
        else:
            if rt.options.json:
                rt.out.task(outcome)
            failures.append(TaskFailed(outcome, hint=retry_hint(outcome)))
    if still_running:
        hint = rt.resume_hint("wait", still_running, *output_flags)
        failures.append(WaitTimeoutAll(still_running, timeout or 0.0, hint))
    report(rt, failures)


def show_result(rt: Runtime, task: Task) -> None:
    """Print a completed task's result URL; one without a usable result is ``NoResult`` (exit 8)."""
    from ..jobs import no_result

    unusable = no_result(task)
    if rt.options.json or rt.out.out_fancy:
        rt.out.task(task)
    elif unusable is None:
        rt.out.line(task.video_url or "")
    if unusable is not None:
        raise unusable


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def wait(
    rt: Runtime,
    task_ids: TaskIdsArg,
    timeout: TimeoutOpt = None,
    interval: IntervalOpt = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Wait until every task has ended, with progress; print each result URL (or saved path).

    Exits 8 if a task failed (its code and message shown), 9 if the deadline passed (the command
    that resumes is shown), 130 on Ctrl-C.
    """
    from ..models import task_ids as check_ids

    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False, maximum=MAX_POLL_INTERVAL)
    try:
        ids = check_ids(task_ids)
    except ValidationError as exc:
        raise UsageError(f"TASK_ID: {exc.reason}") from None
    destination = rt.destination(output, several=len(ids) > 1) if output is not None else None
    if destination is not None:
        destination.check(force=force, task_ids=ids)  # before waiting
    with rt.client() as client:
        finish_wait(
            rt,
            client,
            ids,
            timeout=timeout,
            interval=rt.poll_interval(interval),
            destination=destination,
            force=force,
        )


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def status(rt: Runtime, task_ids: TaskIdsArg) -> None:
    """Fetch each task once and show it: a table on a terminal, one line per task when piped.

    Piped lines read id<TAB>status<TAB>progress<TAB>url; --json prints each task as the API
    returned it.
    """
    from ..models import task_ids as check_ids

    try:
        ids = check_ids(task_ids)
    except ValidationError as exc:
        raise UsageError(f"TASK_ID: {exc.reason}") from None
    rows: list[tuple[str, Task | SeedanceError]] = []
    errors: list[SeedanceError] = []
    with rt.client() as client:
        for task_id in ids:
            try:
                task = client.get_task(task_id)
                rt.ledger.observe(task, base_url=client.base_url)
                rows.append((task_id, task))
            except (SeedanceError, KeyboardInterrupt) as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise Interrupted("interrupted") from None
                rows.append((task_id, exc))
                errors.append(about(task_id, exc))
    rt.out.status_lines(rows)  # with --json, each error's object is among the rows already
    report(rt, errors, json_shown=True)


def save(
    rt: Runtime,
    client: Client,
    task: Task,
    destination: Destination,
    *,
    force: bool,
    deadline: float | None = None,
) -> None:
    """Download a completed task's results and print where they went (``files`` with --json);
    by ``deadline`` (a wait's) when one is given."""
    from ..jobs import save_results, usable_results

    usable_results(task)
    targets: list[Path] = []
    try:
        with rt.out.transfers() as start:

            def progress(index: int, target: Path) -> Callable[[int, int | None], None]:
                targets.append(target)
                return start(f"downloading {target.name}")

            saved = save_results(
                client,
                rt.ledger,
                task,
                destination,
                force=force,
                on_progress=progress,
                sleep=rt.env.sleep,
                deadline=deadline,
            )
    except KeyboardInterrupt:
        target = targets[-1] if targets else destination.target(task.id, 0)
        raise Interrupted(
            f"interrupted while downloading {task.id}; {target.name}.part is kept",
            hint=rt.resume_hint("download", [task.id], "-o", str(target)),
        ) from None
    for item in saved:
        rt.out.info(f"saved {item.path} ({fmt_size(item.size)}, sha256 {item.sha256[:12]}...)")
    if rt.options.json:
        rt.out.task(task, files=[str(item.path) for item in saved])
    else:
        for item in saved:
            rt.out.line(str(item.path))
