"""``seedance emulator`` and the hidden ``seedance _complete`` behind the shell completions."""

from __future__ import annotations

import contextlib
from typing import IO, Annotated

import typer

from ..errors import (
    Interrupted,
    SeedanceError,
    UsageError,
)
from ..models import HISTORY_STATUSES
from .app import (
    app,
    environment,
)

# -- emulator --------------------------------------------------------------------------------------


@app.command()
def emulator(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).", min=0, max=65535)
    ] = 8989,
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
    credits: Annotated[
        float, typer.Option(help="Starting credits of the key (68 credits are $1).", min=0)
    ] = 100_000.0,
    max_files: Annotated[int, typer.Option(help="Upload quota in files.", min=0)] = 2000,
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
    retire: Annotated[
        list[str] | None,
        typer.Option(
            "--retire",
            metavar="MODEL[:404]",
            help="Answer creates for MODEL as retired: 410 model_retired, or 404 "
            "model_not_found with :404. Its tasks stay readable. Repeatable.",
        ),
    ] = None,
    models_endpoint: Annotated[
        bool,
        typer.Option(
            "--models-endpoint/--no-models-endpoint",
            help="Serve GET /v1/models (the models the key may use), or answer it 404.",
        ),
    ] = True,
    pricing_endpoint: Annotated[
        bool,
        typer.Option(
            "--pricing-endpoint/--no-pricing-endpoint",
            help="Serve the pricing rules (GET /v1/catalog/pricing-rules and "
            "/v1/catalog/models/MODEL/pricing-rules, no key needed), or answer them 404.",
        ),
    ] = True,
    batch_endpoint: Annotated[
        bool,
        typer.Option(
            "--batch-endpoint/--no-batch-endpoint",
            help="Serve POST /v1/tasks/batch (up to 50 tasks in one request), or answer it 404.",
        ),
    ] = True,
    list_endpoint: Annotated[
        bool,
        typer.Option(
            "--list-endpoint/--no-list-endpoint",
            help="Serve GET /v1/tasks (the key's tasks, newest first), or answer it 404.",
        ),
    ] = True,
    estimated_time: Annotated[
        float | None,
        typer.Option(
            "--estimated-time",
            metavar="S",
            help="Report S seconds as pending tasks' task_info.estimated_time (0: none), "
            "whatever they really take: an API whose estimates are wrong.",
        ),
    ] = None,
    billing: Annotated[
        bool,
        typer.Option(
            "--billing/--no-billing",
            help="Give tasks a billing object (reserved, charged, released) and "
            "usage.credits_used once completed, or only the documented usage.",
        ),
    ] = True,
    idempotency_replay: Annotated[
        bool,
        typer.Option(
            "--idempotency-replay/--no-idempotency-replay",
            help="Answer a create whose Idempotency-Key the key already used with that first "
            "task (header idempotency-replayed: true), or make a new task every time.",
        ),
    ] = True,
    price_factor: Annotated[
        str,
        typer.Option(
            "--price-factor",
            metavar="F",
            help="Charge F times the published prices (0.1-10), as after a price change: "
            "creates reserve that much and the pricing rules endpoints say so.",
        ),
    ] = "1",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Run the local EvoLink emulator on a loopback port (no key, no network, no cost).

    Serves every Seedance model with that model's own rules and reserves credits by the
    published pricing (released when a task fails). Prints `export
    SEEDANCE_BASE_URL=...` and `export SEEDANCE_FILES_URL=...` lines on stdout and logs each
    request on stderr. Stop it with Ctrl-C.
    """
    import math
    import signal

    from ..emulator import Emulator, FaultSpecError, RetirementError

    env = environment(ctx)
    if getattr(ctx.get_parameter_source("api_key"), "name", None) != "COMMANDLINE":
        # typer reads SEEDANCE_EMULATOR_KEY from the process; the run's environment decides
        api_key = env.environ.get("SEEDANCE_EMULATOR_KEY") or None
    for flag, number in (("--task-seconds", task_seconds), ("--credits", credits)):
        if not math.isfinite(number):
            raise UsageError(f"{flag}: must be a finite number, got {number}")

    from decimal import Decimal, InvalidOperation

    from ..emulator.service import MAX_PRICE_FACTOR, MIN_PRICE_FACTOR

    try:
        factor = Decimal(price_factor.strip())
    except InvalidOperation:
        factor = Decimal("NaN")
    if not factor.is_finite() or not MIN_PRICE_FACTOR <= factor <= MAX_PRICE_FACTOR:
        raise UsageError(
            f"--price-factor: must be a number from {MIN_PRICE_FACTOR} to {MAX_PRICE_FACTOR}, "
            f"got {price_factor!r}"
        )

    if estimated_time is not None and not (
        math.isfinite(estimated_time) and 0 <= estimated_time <= 86_400
    ):
        raise UsageError(f"--estimated-time: must be 0-86400 seconds, got {estimated_time:g}")

    def log(line: str) -> None:
        if not quiet:
            with contextlib.suppress(OSError):  # a closed or hung-up stderr stops no request
                print(line, file=env.stderr, flush=True)

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
            retired=retire or (),
            models_endpoint=models_endpoint,
            pricing_endpoint=pricing_endpoint,
            billing=billing,
            idempotency_replay=idempotency_replay,
            price_factor=factor,
            batch_endpoint=batch_endpoint,
            list_endpoint=list_endpoint,
            estimated_time=estimated_time,
            log=log,
        )
    except FaultSpecError as exc:
        raise UsageError(f"--fault {exc}") from None
    except RetirementError as exc:
        raise UsageError(f"--retire {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--result-size: {exc}") from None

    def stop_on_sigterm(signum: int, frame: object) -> None:
        emu.request_stop()

    # Before anything is announced: a script may kill us the moment it reads the URL.
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        try:
            emu.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        try:
            if not emu.stop_requested:
                announce(emu.url, env.stdout, env.stderr)
            emu.wait()
        except KeyboardInterrupt:
            raise Interrupted("emulator stopped") from None
        finally:
            emu.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


def announce(url: str, stdout: IO[str], stderr: IO[str]) -> None:
    """The ``export`` lines on stdout; a reader that went away (``| head -1``) stops nothing."""
    try:
        print(f"export SEEDANCE_BASE_URL={url}", file=stdout, flush=True)
        print(f"export SEEDANCE_FILES_URL={url}", file=stdout, flush=True)
    except BrokenPipeError:
        from .exits import silence_stdout

        silence_stdout(stdout)
    with contextlib.suppress(OSError):
        print(f"seedance emulator listening on {url} (Ctrl-C stops it)", file=stderr, flush=True)


# -- shell completion ------------------------------------------------------------------------------


def _completion_values() -> dict[str, tuple[str, ...]]:
    """Values offered after options; for requests, what the model catalogue allows over every
    model (each model's own rules are checked when a request is made)."""
    from .. import family

    low, high = family.duration_range()
    return {
        "--model": family.model_ids(),
        "--quality": family.qualities(),
        "--aspect-ratio": family.aspect_ratios(),
        "--duration": (*(str(n) for n in range(low, high + 1)), "auto"),
        "--output-format": family.output_formats(),
        "--concurrency": ("1", "2", "4", "8", "16"),
        "--status": HISTORY_STATUSES,
        "--by": ("day", "model"),
    }


def __getattr__(name: str) -> dict[str, tuple[str, ...]]:
    """``COMPLETION_VALUES``: the values the generated shell completions offer after an option
    (scripts/generate.py reads them), made when asked for, so that reading the catalogue costs
    no command's start-up."""
    if name == "COMPLETION_VALUES":
        return _completion_values()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@app.command("_complete", hidden=True)
def complete(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="task-ids, completed-task-ids or profiles")],
) -> None:
    """Candidates for the shell completions: task ids from the history, or profile names."""
    from ..config import FILE_NAME, ConfigFile, config_dir, data_dir
    from ..session import recent_task_ids

    env = environment(ctx)
    try:
        if what in ("task-ids", "completed-task-ids"):
            status = "completed" if what == "completed-task-ids" else None
            for task_id in recent_task_ids(data_dir(env.environ), status=status):
                print(task_id, file=env.stdout)
        elif what == "profiles":
            for name in sorted(ConfigFile.load(config_dir(env.environ) / FILE_NAME).profiles):
                print(name, file=env.stdout)
    except (SeedanceError, OSError):
        pass  # a completion never complains
