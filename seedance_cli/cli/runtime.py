"""What every command needs at run time, made on first use: its output, its settings, its session
(the history and a client, with ``--sandbox`` an in-process emulator), and the commands that resume
what it started."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..env import Environment
from ..errors import (
    UsageError,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from ..config import Settings
    from ..pricing import Budget
    from ..render import Output
    from ..session import Destination, Session
    from .app import Globals

#: How long a ``--sandbox`` task takes, and how often the sandbox is polled: it is local, so the
#: 5-second rule that spares EvoLink's gateway does not apply.
SANDBOX_TASK_SECONDS = 4.0
SANDBOX_POLL_INTERVAL = 0.5

# -- the runtime: settings, output, client ---------------------------------------------------------


class Runtime:
    """What every command needs, made on first use: output, settings, a client."""

    def __init__(self, options: Globals, env: Environment) -> None:
        self.options = options
        self.env = env
        self.out: Output = make_output(options, env)
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

    def use_live_pricing(self) -> bool:
        """With ``live-pricing`` on (profile key or ``SEEDANCE_LIVE_PRICING``), estimate with the
        API's live pricing rules as well as the built-in ones: read from the cache in the data
        folder while fresh, else fetched anonymously; quietly none when the API has none. Called
        once every input is checked, before the estimates that count; whether live rules are
        now in use."""
        from ..pricing import use_live

        if not self.settings.live_pricing or self.options.sandbox:
            use_live(None)  # an earlier run in this process may have installed some
            return False
        from ..config import data_dir
        from ..live_pricing import load

        rules = load(
            self.settings.base_url,
            data_dir(self.env.environ),
            now=self.env.wall_clock(),
            trace=self.out.trace,
        )
        use_live(rules)
        return rules is not None

    def budget(self, flag: Decimal | None, *, allow_unknown: bool) -> Budget | None:
        """The budget of this command: ``--max-credits`` (``flag``), else the profile's
        ``max-credits``, else none."""
        from ..pricing import Budget

        if flag is not None:
            return Budget(flag, allow_unknown=allow_unknown, name="--max-credits")
        limit = self.settings.max_credits
        if limit is None:
            return None
        name = f"profile {self.settings.profile!r} max-credits"
        return Budget(limit, allow_unknown=allow_unknown, name=name)

    def destination(self, value: str | None, *, several: bool) -> Destination:
        from ..session import Destination

        if value == "-":  # curl's and wget's stdout; here it would be a file named '-'
            raise UsageError(
                "--output: '-' (stdout) is not supported; videos are saved to files",
                hint="give a file or folder; for a file named '-' write ./-",
            )
        return Destination.from_option(value, default_dir=self.settings.output_dir, several=several)

    def interval_chosen(self, flag: float | None) -> bool:
        """Whether the user chose the poll interval (``--interval`` or
        ``SEEDANCE_POLL_INTERVAL``): then it caps every pause, the wait for an estimate too."""
        return flag is not None or self.settings.poll_interval is not None

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


def make_output(options: Globals, env: Environment) -> Output:
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
