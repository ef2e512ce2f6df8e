"""``seedance generate``, ``wait`` and ``status``: create, follow and show tasks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from ..env import expand_user
from ..errors import (
    Interrupted,
    SeedanceError,
    UsageError,
    ValidationError,
)

if TYPE_CHECKING:
    from ..images import ImageInfo, ImageRules
    from ..models import GenerationRequest, Task
    from ..pricing import Budget, Estimate
    from ..session import PriorTask
    from ..views import DryRun

from ..waiting import MAX_POLL_INTERVAL
from .app import (
    EXIT_CODES_HELP,
    ForceOpt,
    IntervalOpt,
    OutputOpt,
    TaskIdsArg,
    TimeoutOpt,
    app,
    with_globals,
)
from .flow import finish_wait, report, reserved_beyond, say_created, upload_images
from .inputs import (
    check_seconds,
    dropped_defaults,
    flag_error,
    parse_credits,
    parse_duration,
    read_bounded,
)
from .runtime import Runtime

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
        path = expand_user(value[1:], "PROMPT")
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
    model: str,
    images: Sequence[str],
    duration: int | None,
    quality: str | None,
    aspect_ratio: str | None,
    audio: bool | None,
    callback_url: str | None,
    videos: Sequence[str] = (),
    audio_urls: Sequence[str] = (),
    content_filter: bool | None = None,
    web_search: bool | None = None,
    output_format: str | None = None,
) -> GenerationRequest:
    """Flags over profile defaults, checked against every rule of ``model`` before anything is
    sent. A flag the model refuses is exit 2; a profile default it does not take is left out
    (said in a warning when the model takes the field but not that value)."""
    from ..family import build_request as build

    settings = rt.settings
    given = {
        "prompt": read_prompt(prompt, rt.env.stdin),
        "model": model,
        "image_urls": tuple(images),
        "video_urls": tuple(videos),
        "audio_urls": tuple(audio_urls),
        "duration": duration,
        "quality": quality,
        "aspect_ratio": aspect_ratio,
        "generate_audio": audio,
        "callback_url": callback_url,
        "content_filter": content_filter,
        "web_search": web_search,
        "output_format": output_format,
    }
    defaults = {
        "duration": settings.duration,
        "quality": settings.quality,
        "aspect_ratio": settings.aspect_ratio,
        "generate_audio": settings.audio,
    }
    try:
        request, dropped = build(given, defaults)
    except ValidationError as exc:
        raise flag_error(exc) from None
    for warning in dropped_defaults(settings.profile, dropped):
        rt.out.warn(warning)
    return request


def chosen_model(rt: Runtime, flag: str | None) -> str:
    """``--model``, else the profile's ``model``, else the default; a plausible id the catalogue
    does not know draws one warning (it is sent all the same, with the generic checks only)."""
    from ..catalogue import DEFAULT_MODEL
    from ..family import unknown_model_warning
    from ..models import is_model_name

    model = flag if flag is not None else rt.settings.model or DEFAULT_MODEL
    warning = unknown_model_warning(model) if is_model_name(model) else None
    if warning is not None:
        rt.out.warn(warning)
    return model


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
            help="An image: an http(s) URL, or a local JPEG, PNG or WebP file, checked and "
            "uploaded. Repeatable: first frame, then last frame, or references; how many and "
            "how large depends on the model.",
        ),
    ] = None,
    duration: Annotated[
        int | None,
        typer.Option(
            "--duration",
            "-d",
            metavar="SECONDS|auto",
            parser=parse_duration,
            help="Seconds (4..12 on seedance-1.5-pro; default 5); auto lets the model choose "
            "where it can (2.5).",
        ),
    ] = None,
    quality: Annotated[
        str | None,
        typer.Option(metavar="480p|720p|1080p|4k", help="Resolution (default 720p)."),
    ] = None,
    aspect_ratio: Annotated[
        str | None,
        typer.Option(
            "--aspect-ratio",
            "-a",
            metavar="RATIO",
            help="16:9, 9:16, 1:1, 4:3, 3:4, 21:9, adaptive or keep_ratio, as the model allows.",
        ),
    ] = None,
    audio: Annotated[
        bool | None,
        typer.Option(
            "--audio/--no-audio",
            help="Generate sound (default on; costs more on 1.5).",
            show_default=False,
        ),
    ] = None,
    callback_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="HTTPS URL the API calls when the task ends."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Model id (default seedance-1.5-pro, or the profile's model).",
            show_default=False,
        ),
    ] = None,
    video: Annotated[
        list[str] | None,
        typer.Option(
            "--video",
            metavar="URL",
            help="A reference video, or the video to edit or extend: an http(s) URL only. "
            "Repeatable.",
        ),
    ] = None,
    audio_url: Annotated[
        list[str] | None,
        typer.Option(
            "--audio-url",
            metavar="URL",
            help="A reference audio clip: an http(s) URL only. Repeatable.",
        ),
    ] = None,
    content_filter: Annotated[
        bool | None,
        typer.Option(
            "--content-filter/--no-content-filter",
            help="The safety check (2.x; default on; off is billed 1.1x).",
            show_default=False,
        ),
    ] = None,
    web_search: Annotated[
        bool,
        typer.Option(
            "--web-search", help="Let the model search the web (2.0 and 2.5 text-to-video)."
        ),
    ] = False,
    output_format: Annotated[
        str | None,
        typer.Option(metavar="mp4|mov", help="Container of the result (2.5; default mp4)."),
    ] = None,
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
    max_credits: Annotated[
        Decimal | None,
        typer.Option(
            "--max-credits",
            metavar="N",
            parser=parse_credits,
            help="Refuse (exit 11), sending nothing, when the estimated cost is above N credits "
            "(a range counts at its top; default: the profile's max-credits).",
            show_default=False,
        ),
    ] = None,
    allow_unknown_price: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-price",
            help="Under a budget, create even when the price is unknown (else exit 11).",
        ),
    ] = False,
    input_seconds: Annotated[
        float | None,
        typer.Option(
            "--input-seconds",
            metavar="S",
            help="Total length of the --video references, in seconds, for the estimate.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a video generation task.

    Prints the task id; with --wait the result URL; with --output the saved file's path. Every
    input is checked before anything is sent: a bad value costs nothing and exits 2. The
    estimated cost is printed on stderr before the create.
    """
    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False, maximum=MAX_POLL_INTERVAL)
    check_seconds("--input-seconds", input_seconds, allow_zero=False)
    from ..images import image_rules, placeholder, reference_urls

    chosen = chosen_model(rt, model)
    try:
        videos = reference_urls("video_urls", video or ())
        audio_urls = reference_urls("audio_urls", audio_url or ())
    except ValidationError as exc:
        raise flag_error(exc) from None
    sources = image_sources(rt, image or (), image_rules(chosen))
    request = build_request(
        rt,
        prompt,
        model=chosen,
        images=[placeholder(i, src) for i, src in enumerate(sources)],  # uploaded after checks
        duration=duration,
        quality=quality,
        aspect_ratio=aspect_ratio,
        audio=audio,
        callback_url=callback_url,
        videos=videos,
        audio_urls=audio_urls,
        content_filter=content_filter,
        web_search=True if web_search else None,
        output_format=output_format,
    )
    if idempotency_key is not None:
        from ..models import check_idempotency_key

        try:
            check_idempotency_key(idempotency_key)
        except ValidationError as exc:
            raise flag_error(exc) from None
    estimate = estimate_of(request, input_seconds)  # local images are known: their count is free
    budget = rt.budget(max_credits, allow_unknown=allow_unknown_price)
    destination = rt.destination(output, several=False) if output is not None else None
    if destination is not None:
        destination.check(force=force, make=not dry_run)  # before anything is paid for
    if rt.use_live_pricing():  # once every input is checked: bad input sends nothing
        estimate = estimate_of(request, input_seconds)
    if dry_run:
        prior = None
        if idempotency_key is not None and not rt.options.sandbox:
            with rt.session() as session:  # the history alone: no key needed, nothing sent
                prior = session.prior_task(
                    idempotency_key,
                    request,
                    has_local_images=any(not isinstance(s, str) for s in sources),
                    base_url=rt.settings.base_url,
                )
        if prior is None:
            rt.out.info(f"estimate: {estimate_text(estimate)}")
        else:  # as the real run: the key's task comes back, nothing is created or paid
            rt.out.info(
                f"idempotency key {idempotency_key} already made task {prior.task_id}: the real "
                "run would return it, creating nothing and paying nothing"
            )
        rt.out.show(dry_run_of(rt, request, idempotency_key, sources, estimate))
        if budget is not None and prior is None:
            check_budget(budget, estimate, "the real run would send nothing")
        return
    from ..client import new_idempotency_key

    key = idempotency_key or new_idempotency_key()
    with rt.session() as session:
        session.open()  # no key is exit 3 before anything is said of the create
        prior = (
            None
            if idempotency_key is None
            else session.prior_task(
                key, request, has_local_images=any(not isinstance(s, str) for s in sources)
            )
        )
        shown: Task | None = None
        if prior is not None:  # creates nothing, costs nothing: no budget to hold it to
            show_prior(rt, key, prior)
        else:
            rt.out.info(f"estimate: {estimate_text(estimate)}")
            if budget is not None:
                check_budget(budget, estimate)  # before anything is uploaded or sent
            urls, uploaded, files = upload_images(
                rt, session, sources, interrupted="nothing was created"
            )
            for local, file in files:
                rt.out.info(f"uploaded {local.path} -> {file.file_url}")
            request = dataclasses.replace(request, image_urls=tuple(urls))
            adopted: list[Task] = []
            try:
                shown = session.create(
                    request,
                    idempotency_key=key,
                    local_images=uploaded,
                    on_adopted=adopted.append,
                    estimate=estimate,
                )
            except KeyboardInterrupt:
                raise Interrupted(
                    "interrupted while the create was under way; it may have reached the server",
                    hint=f"idempotency key {key}: check `seedance history` before creating again",
                ) from None
            reserved = (
                f" ({shown.credits_reserved:g} credits reserved)" if shown.credits_reserved else ""
            )
            if adopted:  # another seedance sent this key's create meanwhile: that task, no new one
                rt.out.info(
                    f"idempotency key {key} made task {shown.id} in another seedance process; "
                    "nothing was created"
                )
            else:
                say_created(rt, shown, key, reserved)
                warning = reserved_beyond(shown, estimate, budget)
                if warning is not None:
                    rt.out.warn(warning)
        task_id = shown.id if shown is not None else prior.task_id if prior is not None else None
        assert task_id is not None
        if not wait and destination is None:
            # this key's earlier task is fetched as it is now, if what is shown needs more than its id
            from ..views import CreatedTask

            rt.out.show(CreatedTask(task_id, shown, fetch=lambda: session.get_task(task_id)))
            if not rt.options.sandbox:
                rt.out.info(f"wait for it with: {rt.resume_command('wait', [task_id])}")
            return
        finish_wait(
            rt,
            session,
            [task_id],
            timeout=timeout,
            interval=rt.poll_interval(interval),
            strict_interval=rt.interval_chosen(interval),
            destination=destination,
            force=force,
            known=[shown] if shown is not None else [],
        )


def estimate_of(request: GenerationRequest, input_seconds: float | None) -> Estimate:
    """What the create will cost. ``--input-seconds`` prices reference videos: a request
    without any is refused (exit 2) rather than the flag silently ignored."""
    from ..pricing import estimate

    if input_seconds is not None and not request.video_urls:
        raise UsageError(
            "--input-seconds: the request has no --video; it is the total length of the "
            "reference videos, which are priced only when there are some",
            hint="leave it out, or give the videos with --video URL",
        )
    try:
        return estimate(request, input_seconds=input_seconds)
    except ValidationError as exc:
        raise UsageError(f"--input-seconds: {exc.reason}") from None


def estimate_text(estimate: Estimate) -> str:
    """The ``estimate:`` line of ``generate``: the estimate and its reason, saying which flag
    pins the reference videos' length when that is unknown."""
    from ..pricing import UNKNOWN_INPUT

    text = estimate.described()
    if "input" in estimate.causes:
        text = text.replace(UNKNOWN_INPUT, f"{UNKNOWN_INPUT}: give --input-seconds", 1)
    return text


def check_budget(budget: Budget, estimate: Estimate, dry_run: str | None = None) -> None:
    """``OverBudget`` (exit 11) when ``estimate`` does not fit in ``budget``, with what to do
    about it; ``dry_run`` replaces "nothing was sent" in a dry run's message."""
    refusal = budget.refusal(estimate)
    if refusal is None:
        return
    raise_it = (
        "--max-credits N"
        if budget.name == "--max-credits"
        else (f"--max-credits N, or `seedance config set max-credits N` ({budget.name})")
    )
    if not estimate.known:
        hint = "add --allow-unknown-price to create it all the same"
    elif estimate.exact:
        hint = f"ask for less (a shorter --duration, a lower --quality), or raise the budget with {raise_it}"
    else:
        pins = {"auto": "a --duration", "input": "--input-seconds"}
        pinned = [pins[cause] for cause in estimate.causes if cause in pins]
        if pinned:
            hint = (
                f"a range counts at its top: pin what makes it one ({', '.join(pinned)}), "
                f"or raise the budget with {raise_it}"
            )
        elif "live" in estimate.causes:
            hint = (
                "the live prices and the built-in ones differ, and a budget holds to the higher: "
                f"raise the budget with {raise_it}"
            )
        else:
            hint = f"a range counts at its top: raise the budget with {raise_it}"
    message = refusal.message
    if dry_run is not None:
        message = message.replace("nothing was sent", f"dry run: {dry_run}")
    raise refusal.replace(message=message, hint=hint)


def show_prior(rt: Runtime, key: str, prior: PriorTask) -> None:
    """Say that an idempotency key's task is reused, and whether this request differs."""
    from ..render import local_time

    when = local_time(prior.created_at)
    rt.out.info(
        f"idempotency key {key} already made task {prior.task_id}"
        + (f" on {when}" if when != "-" else "")
        + "; nothing was created"
    )
    if prior.differs:
        rt.out.warn(
            f"that task was made from a different request (differs in: {', '.join(prior.differs)}); "
            "use a new --idempotency-key for a new task"
        )


def image_sources(rt: Runtime, values: Sequence[str], rules: ImageRules) -> list[str | ImageInfo]:
    """Check every --image against the model's ``rules`` before anything is sent; warn about
    URLs that may not be images."""
    from ..images import image_sources as sources_of
    from ..images import looks_like_image_url

    try:
        sources = sources_of(values, rules=rules)
    except ValidationError as exc:
        raise flag_error(exc) from None
    for source in sources:
        if isinstance(source, str) and not looks_like_image_url(source, rules):
            endings = ", ".join(rules.extensions[:-1]) + f" or {rules.extensions[-1]}"
            rt.out.warn(
                f"--image {source}: the path does not end in {endings}; the API must be able "
                "to fetch it as an image"
            )
    return sources


def dry_run_of(
    rt: Runtime,
    request: GenerationRequest,
    idempotency_key: str | None,
    sources: Sequence[str | ImageInfo] = (),
    estimate: Estimate | None = None,
) -> DryRun:
    """What ``generate --dry-run`` shows: the uploads and the create that would be sent."""
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
    from ..views import DryRun

    return DryRun(
        url=url,
        upload_url=upload_url,
        uploads=tuple(local),
        idempotency_key=idempotency_key,
        body=body,
        estimate=estimate,
    )


# -- wait and status -------------------------------------------------------------------------------


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
    with rt.session() as session:
        finish_wait(
            rt,
            session,
            ids,
            timeout=timeout,
            interval=rt.poll_interval(interval),
            strict_interval=rt.interval_chosen(interval),
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
    with rt.session() as session:
        for task_id in ids:
            try:
                task = session.get_task(task_id)
                rows.append((task_id, task))
            except (SeedanceError, KeyboardInterrupt) as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise Interrupted("interrupted") from None
                error = exc.about(task_id)
                rows.append((task_id, error))
                errors.append(error)
    from ..views import StatusRows

    rt.out.show(StatusRows(tuple(rows)))  # with --json, each error's object is among the rows
    report(rt, errors, json_shown=True)
