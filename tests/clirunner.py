"""Running the CLI in-process, the way ``main()`` does, with its streams captured separately.

``run()`` is the real entry point minus ``sys.exit``: typer parses, the command runs, and errors
become exit codes in the one place that maps them. Everything the run takes from outside comes
from an ``Environment`` built here, never from the process: stdin is the ``input`` given, stdout and
stderr are captured in memory, the environment variables are the test's (``environ``, plus the
``env`` given), and time comes from a ``FakeClock`` shared with the emulator, so a wait of minutes
takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from seedance_cli.cli import run
from seedance_cli.emulator import FakeClock
from seedance_cli.env import Environment


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def json(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


class CliRunner:
    """``cli("generate", "A cat", input=..., env={...})``: one run, its exit code and output.

    ``environ`` is the test's environment (conftest's hermetic one, which fixtures such as ``api``
    add to); it is read at each call, so that what a fixture adds later is seen.
    """

    def __init__(self, environ: Mapping[str, str], clock: FakeClock) -> None:
        self.environ = environ
        self.clock = clock

    def environment(
        self,
        *,
        input: str | TextIO = "",
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Environment:
        """The environment of one run: fresh in-memory streams; ``sleep`` replaces the clock's."""
        return Environment(
            stdin=io.StringIO(input) if isinstance(input, str) else input,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            environ={**self.environ, **(env or {})},
            clock=self.clock.monotonic,
            wall_clock=self.clock.time,
            sleep=self.clock.sleep if sleep is None else sleep,
        )

    def __call__(
        self,
        *args: str,
        input: str | TextIO = "",
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Result:
        environment = self.environment(input=input, env=env, sleep=sleep)
        code = run(list(args), environment)
        return Result(code, output(environment.stdout), output(environment.stderr))


def output(stream: TextIO) -> str:
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()
