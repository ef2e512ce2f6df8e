"""Running the CLI in-process, the way ``main()`` does, with its streams captured separately.

``run()`` is the real entry point minus ``sys.exit``: typer parses, the command runs, and errors
become exit codes in the one place that maps them. Time comes from a ``FakeClock`` shared with the
emulator, so a wait of minutes takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from typing import Any

import pytest

from seedance_cli.cli import World, run
from seedance_cli.emulator import FakeClock


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
    def __init__(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
    ) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.clock = clock

    def __call__(self, *args: str, input: str = "", env: dict[str, str] | None = None) -> Result:
        with self.monkeypatch.context() as patch:
            patch.setattr(sys, "stdin", io.StringIO(input))
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            self.capsys.readouterr()
            world = World(
                sleep=self.clock.sleep, clock=self.clock.monotonic, wall_clock=self.clock.time
            )
            code = run(list(args), world)
            captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)
