"""The ``seedance`` command: typer wiring only. Flags in, one library call, output out.

Errors become exit codes in one place, ``main()``. Heavy modules (httpx, rich, the emulator) are
imported inside the commands that need them, so that ``seedance --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.exceptions import TyperException

from . import __version__
from .errors import (
    EXIT_CODE_MEANINGS,
    ConfigError,
    ExitCode,
    Interrupted,
    SeedanceError,
    TaskFailed,
    UsageError,
    ValidationError,
    WaitTimeout,
)
from .models import ASPECT_RATIOS, DURATION_MAX, DURATION_MIN, QUALITIES

if TYPE_CHECKING:
    from .client import Client
    from .config import Settings
    from .images import ImageInfo
    from .jobs import Destination
    from .ledger import Ledger
    from .models import GenerationRequest, Task, UploadedFile
    from .render import Output

F = TypeVar("F", bound=Callable[..., Any])

#: How long a ``--sandbox`` task takes, and how often the sandbox is polled: it is local, so the
#: 5-second rule that spares EvoLink's gateway does not apply.
SANDBOX_TASK_SECONDS = 4.0
SANDBOX_POLL_INTERVAL = 0.5
#: The API field each ``generate`` flag fills, for error messages that name the flag.
FLAG_OF_FIELD = {
    "prompt": "PROMPT",
    "image_urls": "--image",
    "duration": "--duration",
    "quality": "--quality",
    "aspect_ratio": "--aspect-ratio",
    "generate_audio": "--audio",
    "callback_url": "--callback-url",
    "model": "--model",
    "idempotency_key": "--idempotency-key",
}

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {int(code):>3}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)

app = typer.Typer(
    name="seedance",
    help="Generate videos with Seedance 1.5 Pro through the EvoLink API.",
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Manage the config file and its profiles.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_app, name="config")


# -- global options, accepted before or after the command ------------------------------------------


@dataclasses.dataclass
class Globals:
    profile: str | None = None
    base_url: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    no_color: bool = False
    sandbox: bool = False

    def merged(self, other: Globals) -> Globals:
        """``other`` (given after the command) over ``self`` (given before it)."""
        return Globals(
            profile=other.profile or self.profile,
            base_url=other.base_url or self.base_url,
            json=self.json or other.json,
            quiet=self.quiet or other.quiet,
            verbose=self.verbose or other.verbose,
            no_color=self.no_color or other.no_color,
            sandbox=self.sandbox or other.sandbox,
        )


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Config profile (env SEEDANCE_PROFILE).",
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url", metavar="URL", help="API origin (env SEEDANCE_BASE_URL).", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output, one object per line.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or chatter on stderr.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Trace HTTP on stderr (secrets redacted).")
]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour or escape codes.")]
SandboxOpt = Annotated[
    bool,
    typer.Option("--sandbox", help="Run against a local emulator: no key, no network, no cost."),
]

TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS", help="Stop waiting after this long (exit 9); one deadline for all."
    ),
]
IntervalOpt = Annotated[
    float | None,
    typer.Option(
        metavar="SECONDS", help="Poll every SECONDS (default 5, env SEEDANCE_POLL_INTERVAL)."
    ),
]

OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH|DIR",
        help="Save the result here (implies waiting); a folder gets <task-id>.mp4.",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]

_GLOBAL_PARAMS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("g_profile", ProfileOpt, None),
        ("g_base_url", BaseUrlOpt, None),
        ("g_json", JsonOpt, False),
        ("g_quiet", QuietOpt, False),
        ("g_verbose", VerboseOpt, False),
        ("g_no_color", NoColorOpt, False),
        ("g_sandbox", SandboxOpt, False),
    )
] + [inspect.Parameter("g_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]


def with_globals(func: F) -> F:
    """Let a command accept the global options after its name too, and hand it a ``Runtime``."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "rt"]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        ctx: typer.Context = kwargs.pop("g_ctx")
        after = Globals(**{p.name[2:]: kwargs.pop(p.name) for p in _GLOBAL_PARAMS[:-1]})
        world = ctx.obj if isinstance(ctx.obj, World) else World()
        return func(*args, rt=Runtime(world.options.merged(after), world), **kwargs)

    command.__signature__ = signature.replace(parameters=own + _GLOBAL_PARAMS)  # type: ignore[attr-defined]
    del command.__wrapped__
    return command  # type: ignore[return-value]


def _show_version(value: bool) -> None:
    if value:
        print(f"seedance {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    base_url: BaseUrlOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
    sandbox: SandboxOpt = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Generate videos with Seedance 1.5 Pro through the EvoLink API.

    Set a key once with `seedance config set api-key`, or export SEEDANCE_API_KEY. Try everything
    without one: `seedance --sandbox generate "A cat playing piano" --wait`.
    """
    world = ctx.ensure_object(World)
    world.options = Globals(profile, base_url, json_, quiet, verbose, no_color, sandbox)


# -- the runtime: settings, output, client ---------------------------------------------------------


@dataclasses.dataclass
class World:
    """What a run takes from outside, injectable by tests: time, and the options before the command."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    options: Globals = dataclasses.field(default_factory=Globals)


class Runtime:
    """What every command needs, made on first use: output, settings, a client."""

    def __init__(self, options: Globals, world: World) -> None:
        from .render import Output

        self.options = options
        self.world = world
        self.out: Output = Output(
            json_mode=options.json,
            quiet=options.quiet,
            verbose=options.verbose,
            no_color=options.no_color,
        )
        self._settings: Settings | None = None
        self._ledger: Ledger | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from .config import FILE_NAME, ConfigFile, config_dir, resolve

            cfg = ConfigFile.load(config_dir() / FILE_NAME)
            for warning in cfg.warnings:
                self.out.warn(warning)
            self._settings = resolve(
                profile=self.options.profile, base_url=self.options.base_url, config=cfg
            )
        return self._settings

    @property
    def ledger(self) -> Ledger:
        """The task history; with --sandbox none is kept (its tasks vanish with the process)."""
        if self._ledger is None:
            from .config import data_dir
            from .ledger import Ledger

            self._ledger = Ledger(data_dir(), clock=self.world.wall_clock, on_warning=self.out.warn)
            if self.options.sandbox:
                self._ledger.disabled = True
        return self._ledger

    def destination(self, value: str | None, *, several: bool) -> Destination:
        from .jobs import Destination

        return Destination.from_option(value, default_dir=self.settings.output_dir, several=several)

    def poll_interval(self, flag: float | None) -> float:
        from .waiting import DEFAULT_POLL_INTERVAL

        if flag is not None:
            return flag
        if self.settings.poll_interval is not None:
            return self.settings.poll_interval
        return SANDBOX_POLL_INTERVAL if self.options.sandbox else DEFAULT_POLL_INTERVAL

    @contextmanager
    def client(self) -> Iterator[Client]:
        """A client for the configured API, or for an in-process emulator with ``--sandbox``."""
        from .client import Client

        settings = self.settings
        if self.options.sandbox:
            from .emulator import Emulator

            with Emulator(
                task_seconds=SANDBOX_TASK_SECONDS, clock=self.world.wall_clock
            ) as emulator:
                self.out.info(
                    f"sandbox: a local emulator at {emulator.url} stands in for EvoLink "
                    "(no key, no network, no cost)"
                )
                with Client(
                    "sandbox-key",
                    base_url=emulator.url,
                    files_url=emulator.url,
                    trace=self.out.trace,
                    **self.timekeeping(),
                ) as client:
                    yield client
            return
        if settings.api_key is None:
            raise ConfigError(
                "no API key",
                hint="run `seedance config set api-key` (it asks for the key without echoing it), "
                "or export SEEDANCE_API_KEY; keys are at https://evolink.ai/dashboard/keys",
            )
        with Client(
            settings.api_key,
            base_url=settings.base_url,
            files_url=settings.files_url,
            trace=self.out.trace,
            **self.timekeeping(),
        ) as client:
            yield client

    def timekeeping(self) -> dict[str, Any]:
        return {
            "sleep": self.world.sleep,
            "clock": self.world.clock,
            "wall_clock": self.world.wall_clock,
        }

    def resume_command(self, verb: str, task_ids: Sequence[str], *extra: str) -> str:
        """The command that picks up where this one stopped, with the options that matter."""
        words = ["seedance", verb, *task_ids, *extra]
        if self.options.profile:
            words[1:1] = ["--profile", self.options.profile]
        if self.options.base_url:
            words[1:1] = ["--base-url", self.options.base_url]
        return shlex.join(words)

    def resume_hint(self, verb: str, task_ids: Sequence[str], *extra: str) -> str:
        if self.options.sandbox:
            return "the sandbox emulator stopped with this process; its tasks are gone"
        return f"resume with: {self.resume_command(verb, task_ids, *extra)}"


# -- generate --------------------------------------------------------------------------------------


def read_prompt(value: str) -> str:
    """PROMPT as given: ``-`` reads stdin, ``@FILE`` reads a UTF-8 file; trailing whitespace dropped."""
    if value == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("PROMPT is '-' but stdin is a terminal", hint="pipe the prompt in")
        text = sys.stdin.read()
    elif value.startswith("@") and len(value) > 1:
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"PROMPT: no such file {str(path)!r}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"PROMPT: cannot read {str(path)!r}: {exc}") from None
    else:
        text = value
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
    from .models import GenerationRequest

    settings = rt.settings
    try:
        return GenerationRequest(
            prompt=read_prompt(prompt),
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


def flag_error(exc: ValidationError) -> UsageError:
    flag = FLAG_OF_FIELD.get(exc.field, exc.field)
    return UsageError(f"{flag}: {exc.reason}", hint=exc.hint)


def check_seconds(flag: str, value: float | None, *, allow_zero: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag}: must be a number of seconds {'>= 0' if allow_zero else '> 0'}")


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
    check_seconds("--interval", interval, allow_zero=False)
    sources = image_sources(rt, image or ())
    request = build_request(
        rt,
        prompt,
        images=[placeholder(i, src) for i, src in enumerate(sources)],
        duration=duration,
        quality=quality,
        aspect_ratio=aspect_ratio,
        audio=audio,
        callback_url=callback_url,
        model=model,
    )
    if idempotency_key is not None:
        from .models import check_idempotency_key

        try:
            check_idempotency_key(idempotency_key)
        except ValidationError as exc:
            raise flag_error(exc) from None
    destination = rt.destination(output, several=False) if output is not None else None
    if destination is not None and not destination.is_dir:
        from .download import check_target

        check_target(destination.path, force=force)  # before anything is paid for
    if dry_run:
        show_dry_run(rt, request, idempotency_key, sources)
        return
    from .client import new_idempotency_key
    from .jobs import create

    key = idempotency_key or new_idempotency_key()
    with rt.client() as client:
        urls, uploaded = upload_sources(rt, client, sources)
        request = dataclasses.replace(request, image_urls=tuple(urls))
        try:
            task = create(
                client,
                rt.ledger,
                request,
                idempotency_key=key,
                profile=rt.settings.profile,
                local_images=uploaded,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted while the create was under way; it may have reached the server",
                hint=f"idempotency key {key}: check `seedance history` before creating again",
            ) from None
        reserved = f" ({task.credits_reserved:g} credits reserved)" if task.credits_reserved else ""
        rt.out.info(f"created {task.id}{reserved}")
        if not wait and destination is None:
            if rt.options.json or rt.out.out_fancy:
                rt.out.task(task)
            else:
                rt.out.line(task.id)
            if not rt.options.sandbox:
                rt.out.info(f"wait for it with: {rt.resume_command('wait', [task.id])}")
            return
        finish_wait(
            rt,
            client,
            [task.id],
            timeout=timeout,
            interval=rt.poll_interval(interval),
            destination=destination,
            force=force,
        )


PLACEHOLDER_HOST = "upload.pending.invalid"


def placeholder(index: int, source: str | ImageInfo) -> str:
    """The URL a local image stands in with until it is uploaded (a reserved, unreachable host)."""
    return source if isinstance(source, str) else f"https://{PLACEHOLDER_HOST}/{index}.img"


def image_sources(rt: Runtime, values: Sequence[str]) -> list[str | ImageInfo]:
    """Check every --image before anything is sent; warn about URLs that may not be images."""
    from .images import image_sources as sources_of
    from .images import looks_like_image_url

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
    from .render import to_json

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
    from .waiting import wait_for_tasks

    failures: list[SeedanceError] = []

    def on_error(exc: SeedanceError) -> None:
        rt.out.trace(f"* poll failed, will retry: {exc.message}")

    try:
        with rt.out.progress(task_ids, rt.world.wall_clock) as display:

            def on_update(task: Task) -> None:
                rt.ledger.observe(task, base_url=client.base_url)
                display.update(task)

            outcomes = wait_for_tasks(
                client,
                task_ids,
                timeout=timeout,
                interval=interval,
                on_update=on_update,
                on_error=on_error,
                sleep=rt.world.sleep,
                clock=rt.world.clock,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted while waiting for {', '.join(task_ids)}; the task keeps running",
            hint=rt.resume_hint("wait", task_ids),
        ) from None
    still_running: list[str] = []
    for task_id, outcome in outcomes.items():
        if isinstance(outcome, WaitTimeout):
            still_running.append(task_id)
            if rt.options.json and outcome.task is not None:
                rt.out.task(outcome.task)
        elif isinstance(outcome, SeedanceError):
            failures.append(about(task_id, outcome))
        elif outcome.succeeded:
            if destination is None:
                show_result(rt, outcome)
            else:
                try:
                    save(rt, client, outcome, destination, force=force)
                except Interrupted:
                    raise
                except (SeedanceError, OSError) as exc:
                    failures.append(about(task_id, as_error(exc)))
        else:
            if rt.options.json:
                rt.out.task(outcome)
            failures.append(TaskFailed(outcome, hint=retry_hint(outcome)))
    if still_running:
        failures.append(
            WaitTimeoutAll(still_running, timeout or 0.0, rt.resume_hint("wait", still_running))
        )
    report(rt, failures)


def about(task_id: str, exc: SeedanceError) -> SeedanceError:
    """``exc`` with the task id in front of its message, for output about several tasks."""
    if task_id not in exc.message:
        exc.message = f"{task_id}: {exc.message}"
    return exc


def report(rt: Runtime, failures: Sequence[SeedanceError]) -> None:
    """Show every failure, then end with the exit code of the most serious one.

    Not reaching the API or being refused (its own code) beats a failed task (8), which beats a
    deadline (9).
    """
    if not failures:
        return
    for failure in failures:
        rt.out.error(failure)

    def rank(exc: SeedanceError) -> int:
        return 0 if isinstance(exc, WaitTimeout) else 1 if isinstance(exc, TaskFailed) else 2

    raise AlreadyShown(max(failures, key=rank))


def show_result(rt: Runtime, task: Task) -> None:
    if rt.options.json or rt.out.out_fancy:
        rt.out.task(task)
    else:
        rt.out.line(task.video_url or "")
    if not task.video_url:
        rt.out.warn(f"task {task.id} completed without a result URL")


def retry_hint(task: Task) -> str | None:
    if task.error is None:
        return "the API gave no reason"
    if task.error.retryable:
        return "a service-side failure: the same request may succeed later"
    return "this request will fail again as it is; change it before retrying"


class WaitTimeoutAll(WaitTimeout):
    """The deadline passed for one or more tasks; the message and hint name them all."""

    def __init__(self, task_ids: Sequence[str], timeout: float, hint: str) -> None:
        super().__init__(task_ids[0], timeout)
        self.message = f"still running after {timeout:g}s: {', '.join(task_ids)}"
        self.hint = hint
        self.task_ids = list(task_ids)


class NotFinished(SeedanceError):
    """A task asked to be downloaded is still running."""

    exit_code = ExitCode.TIMEOUT
    code = "not_finished"


class AlreadyShown(SeedanceError):
    """An error whose lines were printed where it happened; ``main`` only exits with its code."""

    def __init__(self, error: SeedanceError) -> None:
        super().__init__(error.message, hint=error.hint)
        self.error = error
        self.exit_code = error.exit_code  # type: ignore[misc]


TaskIdsArg = Annotated[list[str], typer.Argument(metavar="TASK_ID...", show_default=False)]


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
    from .models import task_ids as check_ids

    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False)
    try:
        ids = check_ids(task_ids)
    except ValidationError as exc:
        raise UsageError(f"TASK_ID: {exc.reason}") from None
    destination = rt.destination(output, several=True) if output is not None else None
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
    from .models import task_ids as check_ids

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
    rt.out.status_lines(rows)
    report(rt, errors)


def save(rt: Runtime, client: Client, task: Task, destination: Destination, *, force: bool) -> None:
    """Download a completed task's results and print where they went (``files`` with --json)."""
    from .jobs import save_results

    if not task.results:
        raise SeedanceError(f"task {task.id} completed without a result URL")
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
                sleep=rt.world.sleep,
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


def as_error(exc: BaseException) -> SeedanceError:
    """A download that failed on this machine's side (disk full, no permission) is a failed
    download too: exit 7."""
    if isinstance(exc, SeedanceError):
        return exc
    from .errors import ServiceError

    return ServiceError(f"cannot write the file: {exc}")


def fmt_size(size: int) -> str:
    from .render import fmt_bytes

    return fmt_bytes(size)


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
    from .models import task_ids as check_ids

    try:
        ids = check_ids(task_ids or [])
    except ValidationError as exc:
        raise UsageError(f"TASK_ID: {exc.reason}") from None
    if missing and ids:
        raise UsageError("give TASK_IDs or --missing, not both")
    if not missing and not ids:
        raise UsageError("Missing argument 'TASK_ID...'", hint="see `seedance download --help`")
    failures: list[SeedanceError] = []
    with rt.client() as client:
        if missing:
            ids = missing_results(rt, client.base_url)
            if not ids:
                rt.out.info("nothing to download: every completed result is saved or expired")
                return
        destination = rt.destination(output, several=len(ids) > 1)
        for task_id in ids:
            try:
                task = client.get_task(task_id)
                rt.ledger.observe(task, base_url=client.base_url)
                if task.failed:
                    raise TaskFailed(task, hint=retry_hint(task))
                if not task.succeeded:
                    raise NotFinished(
                        f"task {task_id} is {task.status} ({task.progress}%); nothing to download "
                        "yet",
                        hint="wait and download with: "
                        + rt.resume_command("wait", [task_id], "-o", str(destination.path)),
                    )
                save(rt, client, task, destination, force=force)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"interrupted during {task_id}", hint=rt.resume_hint("download", [task_id])
                ) from None
            except Interrupted:
                raise
            except (SeedanceError, OSError) as exc:
                failures.append(about(task_id, as_error(exc)))
    report(rt, failures)


def missing_results(rt: Runtime, base_url: str) -> list[str]:
    """Task ids of completed results never saved and not expired, made with this API."""
    entries = rt.ledger.entries(status="completed") or []
    now = rt.world.wall_clock()
    return [
        e.task_id
        for e in reversed(entries)
        if e.task_id and e.result_state(now) == "downloadable" and e.base_url in (None, base_url)
    ]


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
            help="Only tasks in this status (completed, failed, outcome_unknown, ...).",
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
    from .render import clean

    entries = rt.ledger.entries(limit=limit, status=status_filter, search=search)
    if entries is None:
        raise ConfigError(f"cannot read the task history in {rt.ledger.path}")
    now = rt.world.wall_clock()
    if rt.options.json:
        for entry in entries:
            rt.out.json(history_json(entry, now))
        return
    rows = []
    for entry in entries:
        rows.append(
            (
                entry.task_id or "-",
                local_time(entry.created_at),
                entry.status if entry.state not in ("outcome_unknown", "creating") else entry.state,
                excerpt(clean(entry.prompt or ""), 40),
                result_text(entry, now),
            )
        )
    rt.out.table(("ID", "CREATED", "STATUS", "PROMPT", "RESULT"), rows)
    if not entries:
        rt.out.info(f"no tasks in the history ({rt.ledger.path})")


def local_time(epoch: float | None) -> str:
    import datetime

    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")


def excerpt(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def result_text(entry: Any, now: float) -> str:
    state = entry.result_state(now)
    if state == "saved":
        return "saved at " + ", ".join(f.path for f in entry.files)
    if state == "downloadable":
        return f"downloadable until {local_time(entry.expires_at)}"
    if state == "expired":
        return "expired"
    if entry.state == "outcome_unknown":
        return f"outcome unknown (idempotency key {entry.idempotency_key})"
    if entry.error_code:
        return f"{entry.error_code}: {entry.error_message or ''}"
    return "-"


def history_json(entry: Any, now: float) -> dict[str, Any]:
    return {
        "id": entry.task_id,
        "idempotency_key": entry.idempotency_key,
        "state": entry.state,
        "status": entry.status,
        "progress": entry.progress,
        "created_at": entry.created_at,
        "profile": entry.profile,
        "prompt": entry.prompt,
        "params": entry.params,
        "results": entry.results,
        "error": {"code": entry.error_code, "message": entry.error_message}
        if entry.error_code
        else None,
        "note": entry.note,
        "expires_at": entry.expires_at,
        "result_state": entry.result_state(now),
        "files": [
            {"path": f.path, "sha256": f.sha256, "bytes": f.bytes, "index": f.result_index}
            for f in entry.files
        ],
    }


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
    (prompt, duration, quality, aspect_ratio, generate_audio, image_urls, callback_url) and an
    optional name. Every line is checked first: one bad line refuses the whole batch. Running the
    same manifest again skips what was created (waiting on it) and what was saved: a line is never
    created twice. Prints line<TAB>task_id<TAB>status<TAB>path per line as it finishes.
    """
    from .batch import BatchRun, ManifestError, parse_manifest

    check_seconds("--timeout", timeout, allow_zero=True)
    check_seconds("--interval", interval, allow_zero=False)
    data = read_manifest(manifest)
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
    }
    try:
        plan = parse_manifest(
            data,
            kind=kind,
            defaults={k: v for k, v in defaults.items() if v is not None},
            base=Path.cwd() if manifest == "-" else Path(manifest).expanduser().resolve().parent,
        )
    except ManifestError as exc:
        for number, problem in exc.problems:
            rt.out.error(UsageError(f"line {number}: {problem}") if number else UsageError(problem))
        raise
    if dry_run:
        for line in plan.lines:
            if rt.options.json:
                rt.out.json({"line": line.number, "name": line.name, "body": line.preview()})
            else:
                from .render import to_json

                rt.out.fields(line.number, line.name or "", to_json(line.preview()))
        rt.out.info(f"dry run: {len(plan.lines)} lines checked; nothing was sent")
        return
    if rt.ledger.entries(limit=1) is None and not rt.options.sandbox:
        raise ConfigError(
            f"the task history ({rt.ledger.path}) cannot be used, and a batch needs it to resume "
            "without creating a line twice"
        )
    destination = None
    if output_dir is not None:
        from .jobs import Destination

        destination = Destination(Path(output_dir).expanduser(), True)
        saved = {e.batch_key for e in rt.ledger.entries(batch=plan.digest[:16]) or [] if e.files}
        existing = [
            f"line {line.number}: {target} exists"
            for line in plan.lines
            for target in [destination.path / f"{line.name or line.number}.mp4"]
            if target.exists() and not force and plan.key(line) not in saved
        ]
        if existing:
            raise UsageError(
                "; ".join(existing[:5]) + ("; ..." if len(existing) > 5 else ""),
                hint="add --force to replace them",
            )
    counts: dict[str, int] = {}
    failures: list[SeedanceError] = []

    def on_outcome(outcome: Any) -> None:
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
        status = {"succeeded": "completed", "unknown": "outcome_unknown"}.get(
            outcome.state, outcome.state
        )
        path = str(outcome.paths[0]) if outcome.paths else ""
        if rt.options.json:
            rt.out.json(
                {
                    "line": outcome.line.number,
                    "name": outcome.line.name,
                    "task_id": outcome.task_id,
                    "status": status,
                    "files": [str(p) for p in outcome.paths],
                    "error": describe(outcome.error) if outcome.error else None,
                }
            )
        else:
            rt.out.fields(outcome.line.number, outcome.task_id or "", status, path)
        if outcome.error is not None:
            failures.append(about(f"line {outcome.line.number}", outcome.error))
        note(f"line {outcome.line.number}: {status}", outcome.state)

    def on_event(line: Any, message: str) -> None:
        note(f"line {line.number}: {message}", None)

    from .errors import describe

    command = rt.resume_command(
        "batch", [manifest], *batch_flags(concurrency, output_dir, timeout, interval, force)
    )
    with rt.client() as client, rt.out.batch_progress(len(plan.lines)) as note:
        run = BatchRun(
            plan,
            client,
            rt.ledger,
            profile=rt.settings.profile,
            concurrency=concurrency,
            interval=rt.poll_interval(interval),
            timeout=timeout,
            output=destination,
            force=force,
            on_outcome=on_outcome,
            on_event=on_event,
            sleep=rt.world.sleep,
            clock=rt.world.clock,
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
        if counts.get(k) or k == "succeeded"
    )
    rt.out.info(f"batch: {summary}; {run.reserved:g} credits reserved by this run")
    if counts.get("timed_out"):
        rt.out.info(f"resume with: {command}")
    report(rt, failures)


def read_manifest(name: str) -> bytes:
    if name == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("FILE is '-' but stdin is a terminal", hint="pipe the manifest in")
        return (
            sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        )
    try:
        return Path(name).expanduser().read_bytes()
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


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def upload(
    rt: Runtime,
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", show_default=False)],
) -> None:
    """Check local images and upload them through the files API; print one URL per file.

    Each file must be a JPEG, PNG or WebP image by its bytes, at most 10 MB, 300-6000 px a side,
    with a width/height ratio of 0.4-2.5; all are checked before any is uploaded. Uploaded files
    expire after 72 hours.
    """
    from .images import inspect_image

    infos = []
    for path in files:
        try:
            infos.append(inspect_image(path.expanduser(), field="FILE"))
        except ValidationError as exc:
            raise UsageError(f"FILE: {exc.reason}", hint=exc.hint) from None
    with rt.client() as client:
        for info in infos:
            file = upload_one(rt, client, info, "files before it are uploaded")
            expiry = f"; it expires at {file.expires_at}" if file.expires_at else ""
            rt.out.info(
                f"uploaded {info.path} ({info.format}, {info.width}x{info.height} px)"
                f"{expiry} (files live 72 hours)"
            )
            if rt.options.json:
                rt.out.json({"path": str(info.path), **file.raw})
            else:
                rt.out.line(file.file_url)


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def credits(rt: Runtime) -> None:
    """Show the remaining and used credits of this key and of the account.

    Piped: `key<TAB>remaining<TAB>used` and `account<TAB>remaining<TAB>used` lines.
    """
    with rt.client() as client:
        balance = client.get_credits()
    if rt.options.json:
        rt.out.json(dict(balance.raw))
        return
    key_remaining = "unlimited" if balance.token.unlimited else f"{balance.token.remaining:g}"
    rt.out.table(
        ("OF", "REMAINING", "USED"),
        [
            ("key", key_remaining, f"{balance.token.used:g}"),
            ("account", f"{balance.user.remaining:g}", f"{balance.user.used:g}"),
        ],
    )


# -- config ----------------------------------------------------------------------------------------

KeyArg = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="api-key, base-url, files-url, duration, quality, aspect-ratio, audio or output-dir.",
        show_default=False,
    ),
]


def _config_file(rt: Runtime) -> tuple[Any, str]:
    from .config import FILE_NAME, ConfigFile, config_dir

    cfg = ConfigFile.load(config_dir() / FILE_NAME)
    for warning in cfg.warnings:
        rt.out.warn(warning)
    name = rt.options.profile or os.environ.get("SEEDANCE_PROFILE") or "default"
    from .config import check_profile_name

    return cfg, check_profile_name(name)


def _read_secret(rt: Runtime) -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass("API key (input hidden): ", stream=sys.stderr)
        except (EOFError, KeyboardInterrupt):
            raise Interrupted("no key entered; nothing was changed") from None
    return sys.stdin.readline().strip() if sys.stdin is not None else ""


@config_app.command("set")
@with_globals
def config_set(
    rt: Runtime,
    key: KeyArg,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value; for api-key leave it out to type it hidden or pipe it in.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set KEY in the profile, checking the value first."""
    from .config import SECRET_KEYS, check_key, check_value

    name = check_key(key)
    if value is None:
        if name not in SECRET_KEYS:
            raise UsageError(f"config set {name}: a VALUE is needed")
        value = _read_secret(rt)
    elif name in SECRET_KEYS:
        rt.out.warn(
            "a key typed on the command line stays in your shell history; "
            "`seedance config set api-key` alone asks for it instead"
        )
    checked = check_value(name, value)
    cfg, profile = _config_file(rt)
    cfg.profiles.setdefault(profile, {})[name] = checked
    cfg.save()
    rt.out.info(f"set {name} in profile {profile!r} ({cfg.path})")


@config_app.command("get")
@with_globals
def config_get(rt: Runtime, key: KeyArg) -> None:
    """Print KEY from the profile (keys masked)."""
    from .config import SECRET_KEYS, check_key, mask

    name = check_key(key)
    cfg, profile = _config_file(rt)
    value = cfg.profile(profile).get(name)
    if value is None:
        raise ConfigError(f"{name} is not set in profile {profile!r} ({cfg.path})")
    shown = mask(value) if name in SECRET_KEYS else display_value(value)
    if rt.options.json:
        rt.out.json({name: shown})
    else:
        rt.out.line(shown)


@config_app.command("unset")
@with_globals
def config_unset(rt: Runtime, key: KeyArg) -> None:
    """Remove KEY from the profile."""
    from .config import check_key

    name = check_key(key)
    cfg, profile = _config_file(rt)
    if name not in cfg.profile(profile):
        rt.out.info(f"{name} was not set in profile {profile!r}")
        return
    del cfg.profiles[profile][name]
    cfg.save()
    rt.out.info(f"unset {name} in profile {profile!r} ({cfg.path})")


@config_app.command("list")
@with_globals
def config_list(rt: Runtime) -> None:
    """Show every setting in effect, its value (keys masked) and where it comes from."""
    from .config import effective_settings

    rows = effective_settings(rt.settings, rt.options.base_url)
    if rt.options.json:
        rt.out.json({key: {"value": value, "source": source} for key, value, source in rows})
        return
    rt.out.table(
        ("KEY", "VALUE", "SOURCE"),
        [(k, display_value(v) if v is not None else "", src) for k, v, src in rows],
    )


@config_app.command("path")
@with_globals
def config_path(rt: Runtime) -> None:
    """Print the path of the config file (it need not exist yet)."""
    from .config import FILE_NAME, config_dir

    path = config_dir() / FILE_NAME
    if rt.options.json:
        rt.out.json({"path": str(path), "exists": path.exists()})
    else:
        rt.out.line(str(path))


def display_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- emulator --------------------------------------------------------------------------------------


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8989,
    task_seconds: Annotated[
        float, typer.Option(help="Seconds from create to completed.", min=0.1)
    ] = 10.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--require-key",
            help="Accept only this Bearer key (default: any non-empty key).",
            envvar="SEEDANCE_EMULATOR_KEY",
        ),
    ] = None,
    credits: Annotated[float, typer.Option(help="Starting credits of the key.")] = 1000.0,
    max_files: Annotated[int, typer.Option(help="Upload quota in files.")] = 2000,
    second_origin: Annotated[
        bool, typer.Option(help="Serve result videos from a second port, like a CDN.")
    ] = False,
    legacy_error_codes: Annotated[
        bool, typer.Option(help="Send integer error codes (the API before March 2026).")
    ] = False,
    files_errors_200: Annotated[
        bool, typer.Option(help="Answer files API errors with HTTP 200 and success: false.")
    ] = False,
    result_size: Annotated[
        int | None,
        typer.Option(
            metavar="BYTES",
            help="Grow the result video to BYTES (a valid MP4, padded), for load tests.",
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="SPEC",
            help="Inject a fault, KIND:ACTION[:COUNT][:KEY=VALUE,...], e.g. create:500, "
            "query:429:3:retry-after=2, create:drop, download:truncate, task:fail:1:code=... "
            "Repeatable.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Run the local EvoLink emulator on a loopback port (no key, no network, no cost).

    Prints `export SEEDANCE_BASE_URL=...` and `export SEEDANCE_FILES_URL=...` lines on stdout
    and logs each request on stderr. Stop it with Ctrl-C.
    """
    import signal

    from .emulator import Emulator, FaultSpecError

    def log(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    try:
        emu = Emulator(
            port=port,
            task_seconds=task_seconds,
            api_key=api_key,
            credits=credits,
            max_files=max_files,
            second_origin=second_origin,
            legacy_error_codes=legacy_error_codes,
            files_errors_http_200=files_errors_200,
            result_size=result_size,
            faults=fault or (),
            log=log,
        )
        emu.start()
    except FaultSpecError as exc:
        raise UsageError(f"--fault {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--result-size: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    print(f"export SEEDANCE_BASE_URL={emu.url}", flush=True)
    print(f"export SEEDANCE_FILES_URL={emu.url}", flush=True)
    print(
        f"seedance emulator listening on {emu.url} (Ctrl-C stops it)", file=sys.stderr, flush=True
    )
    signal.signal(signal.SIGTERM, lambda *_: emu._stopping.set())
    try:
        emu.wait()
    except KeyboardInterrupt:
        emu.stop()
        raise Interrupted("emulator stopped") from None
    emu.stop()


# -- shell completion ------------------------------------------------------------------------------

#: Values the generated shell completions offer after an option (scripts/generate.py reads these).
COMPLETION_VALUES: dict[str, tuple[str, ...]] = {
    "--quality": QUALITIES,
    "--aspect-ratio": ASPECT_RATIOS,
    "--duration": tuple(str(n) for n in range(DURATION_MIN, DURATION_MAX + 1)),
    "--concurrency": ("1", "2", "4", "8", "16"),
}


@app.command("_complete", hidden=True)
def complete(
    what: Annotated[str, typer.Argument(help="task-ids, completed-task-ids or profiles")],
) -> None:
    """Candidates for the shell completions: task ids from the history, or profile names."""
    from .config import FILE_NAME, ConfigFile, config_dir, data_dir
    from .ledger import Ledger

    try:
        if what in ("task-ids", "completed-task-ids"):
            status = "completed" if what == "completed-task-ids" else None
            for entry in Ledger(data_dir()).entries(limit=100, status=status) or []:
                if entry.task_id:
                    print(entry.task_id)
        elif what == "profiles":
            for name in sorted(ConfigFile.load(config_dir() / FILE_NAME).profiles):
                print(name)
    except (SeedanceError, OSError):
        pass  # a completion never complains


# -- the one place errors become exit codes --------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``seedance`` console script: run, then exit with the right code."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None, world: World | None = None) -> int:
    """Run the CLI and return its exit code; every error is printed and mapped here, once."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="seedance", standalone_mode=False, obj=world or World())
        return int(result) if isinstance(result, int) else 0
    except AlreadyShown as exc:
        return int(exc.exit_code)
    except SeedanceError as exc:
        _output(args).error(exc)
        return int(exc.exit_code)
    except TyperException as exc:  # usage errors found while parsing flags
        return _usage_error(exc, args)
    except typer.Abort:
        _output(args).error(Interrupted("aborted"))
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        _output(args).error(Interrupted("interrupted"))
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, without leaking anything
        from .render import OutputClosed

        if isinstance(exc, OutputClosed):
            _silence_stdout()
            return int(ExitCode.OK)
        out = _output(args)
        out.error(
            SeedanceError(
                f"internal error: {type(exc).__name__}",
                hint="this is a bug; rerun with --verbose for details",
            )
        )
        if out.verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        return int(ExitCode.INTERNAL)


def _output(args: Sequence[str]) -> Output:
    from .render import Output

    return Output(
        json_mode="--json" in args,
        quiet="--quiet" in args or "-q" in args,
        verbose="--verbose" in args or "-v" in args,
        no_color="--no-color" in args,
    )


def _usage_error(exc: TyperException, args: Sequence[str]) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        print(ctx.get_help())  # `seedance` or `seedance config` alone: the help, on stdout
        return int(ExitCode.OK)
    hint = f"see `{ctx.command_path} --help`" if ctx is not None else None
    _output(args).error(UsageError(exc.format_message(), hint=hint))
    return int(ExitCode.USAGE)


def _silence_stdout() -> None:
    """After the reader of stdout went away, point it at /dev/null so exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
