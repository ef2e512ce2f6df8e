"""The ``seedance`` command's frame: the typer app, global options accepted before or after a
command, the runtime (settings, output, client, history), shared helpers, and the one place where
errors become exit codes, ``run()``.

Heavy modules (httpx, rich, the emulator) are imported inside the commands that need them, so that
``seedance --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.exceptions import TyperException

from .. import __version__
from ..env import Environment
from ..errors import (
    EXIT_CODE_MEANINGS,
    AlreadyShown,
    ExitCode,
    Interrupted,
    SeedanceError,
    ServiceError,
    Signalled,
    UsageError,
    ValidationError,
)

if TYPE_CHECKING:
    from ..config import Settings
    from ..render import Output
    from ..session import Destination, Session


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
        metavar="SECONDS",
        help="Poll every SECONDS (default 5, at most 3600; env SEEDANCE_POLL_INTERVAL).",
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
        invocation = _invocation(ctx)
        invocation.options = invocation.options.merged(after)  # what run() shows errors with
        invocation.parsed = True
        return func(*args, rt=Runtime(invocation.options, invocation.env), **kwargs)

    params = own + _GLOBAL_PARAMS
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    # Evaluated annotations: typer must not re-evaluate the strings in this module's namespace.
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    del command.__wrapped__
    return command  # type: ignore[return-value]


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        print(f"seedance {__version__}", file=_invocation(ctx).env.stdout)
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
    _invocation(ctx).options = Globals(profile, base_url, json_, quiet, verbose, no_color, sandbox)


@dataclasses.dataclass
class _Invocation:
    """One run's state as typer parses it (the click context's ``obj``): its environment, and the
    global options seen so far."""

    env: Environment = dataclasses.field(default_factory=Environment.from_process)
    options: Globals = dataclasses.field(default_factory=Globals)
    #: Whether typer has parsed the whole command line: ``options`` then holds every global option.
    parsed: bool = False


def _invocation(ctx: typer.Context) -> _Invocation:
    """This run's state; a fresh one (the process's environment) when ``app`` is called directly."""
    return ctx.ensure_object(_Invocation)


def environment(ctx: typer.Context) -> Environment:
    """The environment of the run ``ctx`` belongs to, for commands that take no ``Runtime``."""
    return _invocation(ctx).env


# -- the runtime: settings, output, client ---------------------------------------------------------


class Runtime:
    """What every command needs, made on first use: output, settings, a client."""

    def __init__(self, options: Globals, env: Environment) -> None:
        self.options = options
        self.env = env
        self.out: Output = _output(options, env)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from ..config import FILE_NAME, ConfigFile, config_dir, resolve

            cfg = ConfigFile.load(config_dir(self.env.environ) / FILE_NAME)
            for warning in cfg.warnings:
                self.out.warn(warning)
            self._settings = resolve(
                profile=self.options.profile,
                base_url=self.options.base_url,
                environ=self.env.environ,
                config=cfg,
            )
        return self._settings

    def session(self) -> Session:
        """The session a command runs in: the history (none is kept with --sandbox: its tasks
        vanish with the process), and a client connected on first use (to an in-process
        emulator with --sandbox)."""
        from ..config import data_dir
        from ..session import open_session

        settings = self.settings
        if settings.api_key is not None and not self.options.sandbox:
            self.out.secrets = (settings.api_key,)
        return open_session(
            settings,
            data_dir=data_dir(self.env.environ),
            sandbox=self.options.sandbox,
            sandbox_task_seconds=SANDBOX_TASK_SECONDS,
            trace=self.out.trace,
            on_info=self.out.info,
            on_warning=self.out.warn,
            sleep=self.env.sleep,
            clock=self.env.clock,
            wall_clock=self.env.wall_clock,
        )

    def destination(self, value: str | None, *, several: bool) -> Destination:
        from ..session import Destination

        if value == "-":  # curl's and wget's stdout; here it would be a file named '-'
            raise UsageError(
                "--output: '-' (stdout) is not supported; videos are saved to files",
                hint="give a file or folder; for a file named '-' write ./-",
            )
        return Destination.from_option(value, default_dir=self.settings.output_dir, several=several)

    def poll_interval(self, flag: float | None) -> float:
        from ..waiting import DEFAULT_POLL_INTERVAL

        if flag is not None:
            return flag
        if self.settings.poll_interval is not None:
            return self.settings.poll_interval
        return SANDBOX_POLL_INTERVAL if self.options.sandbox else DEFAULT_POLL_INTERVAL

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


def flag_error(exc: ValidationError) -> UsageError:
    flag = FLAG_OF_FIELD.get(exc.field, exc.field)
    return UsageError(f"{flag}: {exc.reason}", hint=exc.hint)


def check_seconds(
    flag: str, value: float | None, *, allow_zero: bool, maximum: float = math.inf
) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag}: must be a number of seconds {'>= 0' if allow_zero else '> 0'}")
    if value > maximum:
        raise UsageError(f"{flag}: must be at most {maximum:g} seconds, got {value:g}")


TaskIdsArg = Annotated[list[str], typer.Argument(metavar="TASK_ID...", show_default=False)]


def fmt_size(size: int) -> str:
    from ..render import fmt_bytes

    return fmt_bytes(size)


def read_bounded(stream: Any, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``stream`` (binary, or text from a test's stdin); more is a
    usage error, so that ``@/dev/zero`` or an endless pipe is refused instead of filling memory."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        data = chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk
        chunks.append(data)
        total += len(data)
        if total > limit:
            raise UsageError(f"{what} is larger than {fmt_size(limit)}; refused")


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
        return _output(options, env)

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
            _silence_stdout(env.stdout)
            return int(ExitCode.OK)
        if isinstance(exc, OutputFailed):
            _silence_stdout(env.stdout)  # what could not be written is not retried at exit
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


def _output(options: Globals, env: Environment) -> Output:
    from ..render import Output

    return Output(
        json_mode=options.json,
        quiet=options.quiet,
        verbose=options.verbose,
        no_color=options.no_color,
        stdout=env.stdout,
        stderr=env.stderr,
        environ=env.environ,
    )


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


def _silence_stdout(stdout: IO[str]) -> None:
    """After the reader of stdout went away, point it at /dev/null so exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
    except (OSError, ValueError):
        pass
