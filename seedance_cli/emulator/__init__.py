"""A faithful local stand-in for the EvoLink API: tests, ``--sandbox`` and users' own CI run on it.

from seedance_cli.emulator import Emulator, FakeClock

clock = FakeClock()
with Emulator(clock=clock, task_seconds=10) as emu:
    ...                    # point a Client at emu.url
    clock.advance(10)      # every task is now complete
"""

from __future__ import annotations

import threading

from .faults import Fault, FaultSpecError
from .server import Emulator, RecordedRequest
from .service import RetirementError, Service, sample_video

__all__ = [
    "Emulator",
    "FakeClock",
    "Fault",
    "FaultSpecError",
    "RecordedRequest",
    "RetirementError",
    "Service",
    "sample_video",
]


class FakeClock:
    """A clock that moves only when told: ``sleep`` and ``advance`` add to it, instantly.

    One object serves as the emulator's wall clock (``time``) and a client's ``clock``/``sleep``, so
    a wait that "sleeps" 5 s makes the emulated task 5 s older, with no real waiting.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.time()

    def time(self) -> float:
        with self._lock:
            return self._now

    monotonic = time

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
