"""The ``seedance`` command: typer wiring only. Flags in, one library call, output out.

Heavy modules (httpx, rich, the emulator) are imported inside the commands that need them, so that
``seedance --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from . import __version__
from .errors import EXIT_CODE_MEANINGS, ExitCode

EXIT_CODES_HELP = "\n\n".join(
    f"{int(code):>3}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)

app = typer.Typer(
    name="seedance",
    help="Generate videos with Seedance 1.5 Pro through the EvoLink API.",
    epilog=f"Exit codes:\n\n{EXIT_CODES_HELP}",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"seedance {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Generate videos with Seedance 1.5 Pro through the EvoLink API."""


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
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
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
            faults=fault or (),
            log=log,
        )
        emu.start()
    except FaultSpecError as exc:
        print(f"error: --fault {exc}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        raise typer.Exit(ExitCode.USAGE) from None
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
        print("emulator stopped", file=sys.stderr)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    emu.stop()


def main() -> None:
    """Entry point of the ``seedance`` console script."""
    app()
