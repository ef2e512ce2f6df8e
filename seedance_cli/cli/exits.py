"""The one place errors become exit codes (``run``), and the process around it (``main``): stop
signals taking Ctrl-C's path, closed standard streams, undecodable names."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import typer
from typer.exceptions import TyperException

from ..env import Environment
from ..errors import (
    AlreadyShown,
    ExitCode,
    Interrupted,
    SeedanceError,
    ServiceError,
    Signalled,
    UsageError,
)
from .app import Globals, _Invocation, app
from .runtime import make_output

if TYPE_CHECKING:
    from ..render import Output

# -- the one place errors become exit codes --------------------------------------------------------


#: The signals treated like Ctrl-C: CI cancels and ``timeout`` send SIGTERM, a closed terminal SIGHUP.
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


class _Received:
    """The first stop signal this process received (set by ``install_signal_handlers``'s handler)."""

    signum: int | None = None


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP raise ``Signalled`` in the main thread, like Ctrl-C does.

    Only the CLI process calls this (never on import, never the library). The first signal raises;
    a second one of them kills the process outright (the default action), as a second Ctrl-C would
    in most tools: nothing is lost, since the ledger commits each write and downloads go to .part.
    """
    import signal

    _Received.signum = None
    # An ignored signal stays ignored: `nohup seedance ...` must survive the terminal closing.
    numbers = [
        number
        for number in (getattr(signal, name, None) for name in STOP_SIGNALS)
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN
    ]

    def handler(signum: int, frame: object) -> None:
        if _Received.signum is None:
            _Received.signum = signum
            for number in numbers:
                signal.signal(number, signal.SIG_DFL)
            raise Signalled(signum)

    for number in numbers:
        signal.signal(number, handler)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``seedance`` console script: run, then exit with the right code."""
    _fill_closed_standard_streams()
    install_signal_handlers()
    _pass_undecodable_names()
    sys.exit(run(argv, Environment.from_process()))  # the streams as fixed above


def _pass_undecodable_names() -> None:
    """A path that is not valid UTF-8 (``-o $'\\xff/'``) reaches Python as surrogates: print it as the
    bytes it was, on stdout (so ``$(...)`` gets the real file name) and stderr, instead of failing
    with ``UnicodeEncodeError`` after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="surrogateescape")


def _fill_closed_standard_streams() -> None:
    """Point a closed stdin, stdout or stderr (``>&-``) at /dev/null.

    Otherwise the first file opened - the history database, a config file - would get descriptor
    1 or 2, and anything written to stdout or stderr would land inside it. Output then goes
    nowhere, as when the reader of a pipe has gone; ``sys.stdin`` stays ``None`` (no input).
    """
    for fd, name, mode in (
        (0, "stdin", os.O_RDONLY),
        (1, "stdout", os.O_WRONLY),
        (2, "stderr", os.O_WRONLY),
    ):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = os.open(os.devnull, mode)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:
            continue
        if name != "stdin" and getattr(sys, name) is None:
            stream = open(fd, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
            setattr(sys, name, stream)


def run(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI and return its exit code; every error is printed and mapped here, once.

    ``env`` is what the run reads and writes outside the program (default: this process's). The
    global options are parsed once, by typer; errors are shown in the mode they asked for
    (``--json``, ``--quiet``...). Only when typer could not finish parsing are they read from the
    command line again, by the same parser, leniently (``_lenient_globals``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    env = env or Environment.from_process()
    try:
        with _standard_streams(env):
            code = _run(args, env)
    except KeyboardInterrupt:  # a signal while an error was being reported: interrupted
        code = int(ExitCode.INTERRUPTED)
    signum = _Received.signum
    if signum is not None and code in (ExitCode.INTERRUPTED, ExitCode.INTERNAL):
        return 128 + signum
    return code


@contextmanager
def _standard_streams(env: Environment) -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` are ``env``'s for the duration of the run.

    Everything this program prints goes to ``env``'s streams by name, but typer (help, usage
    errors) and rich (a live display lets other output through above its bars by swapping in a
    proxy of ``sys.stdout`` and ``sys.stderr``) write to whatever ``sys`` holds. A stream is swapped
    only when it differs, so that a run on the process's own streams changes nothing, and only for
    the call: ``run()`` in a test leaves the process as it found it.
    """
    with contextlib.ExitStack() as stack:
        if sys.stdout is not env.stdout:
            stack.enter_context(contextlib.redirect_stdout(env.stdout))
        if sys.stderr is not env.stderr:
            stack.enter_context(contextlib.redirect_stderr(env.stderr))
        yield


def _run(args: list[str], env: Environment) -> int:
    invocation = _Invocation(env)

    def output() -> Output:
        options = invocation.options if invocation.parsed else _lenient_globals(args)
        return make_output(options, env)

    try:
        result = app(args=args, prog_name="seedance", standalone_mode=False, obj=invocation)
        if result == ExitCode.INTERRUPTED and _Received.signum is not None:
            # a command without its own Ctrl-C handling: typer turned the signal into exit 130
            output().error(Interrupted(f"interrupted by {_signal_name(_Received.signum)}"))
        return int(result) if isinstance(result, int) else 0
    except AlreadyShown as exc:
        return int(exc.exit_code)
    except SeedanceError as exc:
        output().error(_naming_the_signal(exc))
        return int(exc.exit_code)
    except TyperException as exc:  # usage errors found while parsing flags
        return _usage_error(exc, output, env.stdout)
    except typer.Abort:
        output().error(_naming_the_signal(Interrupted("aborted")))
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        output().error(_naming_the_signal(Interrupted("interrupted")))
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: say so plainly, without leaking anything
        from ..errors import OutputClosed, OutputFailed

        if isinstance(exc, OutputClosed):
            silence_stdout(env.stdout)
            return int(ExitCode.OK)
        if isinstance(exc, OutputFailed):
            silence_stdout(env.stdout)  # what could not be written is not retried at exit
            output().error(ServiceError(str(exc), hint="the task history keeps every task id"))
            return int(ExitCode.UNAVAILABLE)
        out = output()
        out.error(
            SeedanceError(
                f"internal error: {type(exc).__name__}",
                hint="this is a bug; rerun with --verbose for details",
            )
        )
        if out.verbose:
            import traceback

            traceback.print_exc(file=env.stderr)
        return int(ExitCode.INTERNAL)


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _naming_the_signal(exc: SeedanceError) -> SeedanceError:
    """An ``Interrupted`` error says which signal stopped the run, when it was not Ctrl-C."""
    if (
        isinstance(exc, Interrupted)
        and _Received.signum is not None
        and exc.message.startswith("interrupted")
    ):
        name = _signal_name(_Received.signum)
        return exc.replace(
            message=f"interrupted by {name}" + exc.message.removeprefix("interrupted")
        )
    return exc


def _lenient_globals(args: Sequence[str]) -> Globals:
    """The global options of a command line typer refused, read by typer's own parser leniently.

    Like shell completion, it resolves the command with ``--`` and option values respected, values
    not checked and unknown options skipped: ``generate -- --json`` asks for no JSON, and
    ``--profile -q`` names a profile without asking for quiet.
    """
    found = Globals()
    try:
        from typer.main import get_command

        command: Any = get_command(app)
        ctx = command.make_context(
            "seedance", list(args), resilient_parsing=True, ignore_unknown_options=True
        )
        found = _globals_of(ctx.params, "")
        rest = [*ctx._protected_args, *ctx.args]
        while rest and hasattr(ctx.command, "resolve_command"):
            name, sub, rest = ctx.command.resolve_command(ctx, rest)
            if sub is None:
                break
            ctx = sub.make_context(
                name, rest, parent=ctx, resilient_parsing=True, ignore_unknown_options=True
            )
            found = found.merged(_globals_of(ctx.params, "g_"))
            rest = [*ctx._protected_args, *ctx.args]
    except Exception:  # only decides how an error is shown: never fail over it
        return found
    return found


def _globals_of(params: dict[str, Any], prefix: str) -> Globals:
    def get(name: str) -> Any:
        return params.get(prefix + name) or params.get(prefix + name + "_")

    return Globals(
        profile=get("profile"),
        base_url=get("base_url"),
        json=bool(get("json")),
        quiet=bool(get("quiet")),
        verbose=bool(get("verbose")),
        no_color=bool(get("no_color")),
        sandbox=bool(get("sandbox")),
    )


def _usage_error(exc: TyperException, output: Callable[[], Output], stdout: IO[str]) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        # `seedance` or `seedance config` alone: the help, on stdout
        print(ctx.get_help(), file=stdout)
        return int(ExitCode.OK)
    hint = f"see `{ctx.command_path} --help`" if ctx is not None else None
    output().error(UsageError(exc.format_message(), hint=hint))
    return int(ExitCode.USAGE)


def silence_stdout(stdout: IO[str]) -> None:
    """After the reader of stdout went away, point it at /dev/null so exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError):
        pass
