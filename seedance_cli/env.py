"""What a run of the CLI takes from outside the program: its standard streams, its environment
variables and its clocks, in one object handed to everything that needs them.

``Environment.from_process()`` is the real one, read from ``sys`` and ``os`` when it is called;
tests build their own (``StringIO`` streams, a dict of variables, a fake clock) instead of patching
the process. Light on purpose: ``seedance --version`` imports it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO


@dataclasses.dataclass(frozen=True, kw_only=True)
class Environment:
    """The outside of one run.

    ``stdin`` is ``None`` when there is no input at all (a closed descriptor 0). ``environ`` is read,
    never written. ``clock`` is monotonic (deadlines, intervals), ``wall_clock`` is epoch seconds
    (timestamps, the history, ``Retry-After`` dates), ``sleep`` waits on ``clock``'s time.
    """

    stdin: TextIO | None
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_process(cls) -> Environment:
        """This process's streams and variables as they are now, and the real clocks.

        ``environ`` is ``os.environ`` itself, so that the run sees the environment exactly as the
        process does.
        """
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            environ=os.environ,
        )


def expand_user(value: str | os.PathLike[str], what: str) -> Path:
    """``value`` with ``~`` and ``~user`` expanded. A user that does not exist, or a home that
    cannot be found, is a ``UsageError`` naming ``what`` (the flag), not a crash."""
    from .errors import UsageError

    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise UsageError(
            f"{what}: cannot expand {os.fspath(value)!r}: no such user or home folder"
        ) from None
