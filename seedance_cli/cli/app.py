"""The ``seedance`` command's frame: the typer app, its options, and the global options accepted
before or after a command (``with_globals`` hands each command a ``Runtime``).

Wiring only: what a command needs at run time is in ``runtime``, the checks of what users type in
``inputs``, and the one place errors become exit codes in ``exits``. Heavy modules (httpx, rich,
the emulator) are imported inside the commands that need them, so that ``seedance --version`` and
``--help`` start fast.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from .. import __version__
from ..env import Environment
from ..errors import (
    EXIT_CODE_MEANINGS,
)
from .runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {int(code):>3}  {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items()
)

app = typer.Typer(
    name="seedance",
    help="Generate videos with ByteDance's Seedance models through the EvoLink API.",
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
        help="At most SECONDS between polls of a running task (default 5, at most 3600; env "
        "SEEDANCE_POLL_INTERVAL); the API's estimated_time decides the first.",
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
TaskIdsArg = Annotated[list[str], typer.Argument(metavar="TASK_ID...", show_default=False)]

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
    """Generate videos with ByteDance's Seedance models through the EvoLink API.

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
