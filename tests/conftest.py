"""Shared fixtures: hermetic isolation, a loopback-only network guard, the emulator and clients."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_cli import Client, RetryPolicy
from seedance_cli.client import Timeouts
from seedance_cli.emulator import Emulator, FakeClock

from .clirunner import CliRunner

TEST_KEY = "sk-test-0123456789abcdef"


def hermetic_environ(home: Path) -> dict[str, str]:
    """The environment variables of a test: its own home, config and data folders, no colour."""
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "SEEDANCE_CONFIG_DIR": str(home / "config" / "seedance"),
        "SEEDANCE_DATA_DIR": str(home / "data" / "seedance"),
        "NO_COLOR": "1",
        "COLUMNS": "100",
        "TERM": "dumb",
    }


@pytest.fixture(autouse=True)
def isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the user's config, data, keys or terminal settings.

    In-process CLI runs get their variables from ``environ`` (through the ``Environment``); the
    process gets the same ones too, for subprocesses and as a safety net.
    """
    for name in list(os.environ):
        if name.startswith(("SEEDANCE_", "EVOLINK_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    for sub in ("config", "data", "cache"):
        (home / sub).mkdir(parents=True)
    for name, value in hermetic_environ(home).items():
        monkeypatch.setenv(name, value)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    return home


@pytest.fixture
def environ(isolation: Path) -> dict[str, str]:
    """The environment variables in-process CLI runs see, and only these: fixtures and tests add
    to it (``api`` does) instead of setting the process's."""
    return hermetic_environ(isolation)


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"test tried to reach {host}: only loopback is allowed")
    _real_connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A safety net: any connection beyond 127.0.0.1 fails the test that tries it."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Emulator]:
    with Emulator(clock=clock, task_seconds=60) as emu:
        yield emu


class Rng:
    """Deterministic jitter: always the middle of the range."""

    def __call__(self) -> float:
        return 0.5


MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(emulator: Emulator, clock: FakeClock) -> Iterator[MakeClient]:
    """Clients bound to the emulator and the fake clock; closed after the test."""
    made: list[Client] = []

    def make(**overrides: Any) -> Client:
        options: dict[str, Any] = {
            "base_url": emulator.url,
            "files_url": emulator.url,
            "sleep": clock.sleep,
            "clock": clock.monotonic,
            "wall_clock": clock.time,
            "rng": Rng(),
            "timeouts": Timeouts(connect=2, read=5, write=5, pool=2),
            "retry": RetryPolicy(),
        }
        options.update(overrides)
        client = Client(options.pop("api_key", TEST_KEY), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    """Raw HTTP to the emulator, as the client sends it (key and User-Agent), for tests of the
    emulator's own answers."""
    from seedance_cli import __version__

    headers = {"Authorization": f"Bearer {TEST_KEY}", "User-Agent": f"seedance-cli/{__version__}"}
    with httpx.Client(base_url=emulator.url, headers=headers) as client:
        yield client


@pytest.fixture
def client(make_client: MakeClient) -> Client:
    return make_client()


SENTINEL_KEY = "sk-SENTINEL-5f3a9c1e7b2d4068a1"


@pytest.fixture
def cli(environ: dict[str, str], clock: FakeClock) -> CliRunner:
    """The CLI in-process, with no API configured (see ``api`` for one)."""
    return CliRunner(environ, clock)


def api_environ(url: str) -> dict[str, str]:
    """The variables that point the CLI at an API (an emulator's ``url``), with the sentinel key."""
    return {"SEEDANCE_BASE_URL": url, "SEEDANCE_FILES_URL": url, "SEEDANCE_API_KEY": SENTINEL_KEY}


@pytest.fixture
def api(emulator: Emulator, environ: dict[str, str]) -> Emulator:
    """Point the CLI at the emulator through its environment, with the sentinel key."""
    environ.update(api_environ(emulator.url))
    return emulator


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder, as a user in their project would."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder
