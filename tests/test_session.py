"""The session: the one owner of a task's journey, and of every write to the history."""

from __future__ import annotations

import ast
from pathlib import Path

import seedance_cli
from seedance_cli import Client, GenerationRequest
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.ledger import Ledger
from seedance_cli.session import Destination, Session

REQUEST = GenerationRequest("A cat playing piano", duration=8)
#: Every method of ``Ledger`` that writes: only the session calls them.
LEDGER_WRITES = {"observe", "claim", "created", "saved", "outcome_unknown", "not_created"}


def session_for(client: Client, tmp_path: Path, clock: FakeClock) -> Session:
    ledger = Ledger(tmp_path / "data", clock=clock.time)
    return Session(ledger, client, sleep=clock.sleep, clock=clock.monotonic, wall_clock=clock.time)


def test_every_task_the_session_sees_is_recorded_with_the_api_it_came_from(
    client: Client, emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    session = session_for(client, tmp_path, clock)
    task = session.create(REQUEST, idempotency_key="k-1")
    seen: list[str] = []
    waited = session.wait([task.id], interval=5, on_update=lambda t: seen.append(t.status))
    final = waited.outcomes[task.id]
    assert not isinstance(final, Exception) and final.succeeded
    entry = session.ledger.entry(task.id)
    assert entry is not None
    assert (entry.status, entry.base_url, entry.idempotency_key) == (
        "completed",
        emulator.url,
        "k-1",
    )
    assert seen[-1] == "completed" and waited.deadline is None


def test_a_task_fetched_again_for_a_fresh_url_is_recorded_with_its_api(
    client: Client, emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    """The fetch for a fresh result URL once dropped the API origin: a task the history had
    never seen was recorded as no API's, and ``download --missing`` then skipped it."""
    made = client.create_generation(REQUEST)  # made elsewhere: the history has never seen it
    clock.advance(60)
    done = client.get_task(made.id)
    session = session_for(client, tmp_path, clock)
    emulator.add_fault("download:403")  # the first URL is refused: the session asks again
    (saved,) = session.save(done, Destination(tmp_path / "out", True), force=False)
    entry = session.ledger.entry(done.id)
    assert entry is not None and entry.base_url == emulator.url
    assert [f.path for f in entry.files] == [str(saved.path.resolve())]


def test_the_deadline_a_wait_kept_comes_back_with_its_outcomes(
    client: Client, emulator: Emulator, clock: FakeClock, tmp_path: Path
) -> None:
    emulator.add_fault("task:hang")
    session = session_for(client, tmp_path, clock)
    task = session.create(REQUEST, idempotency_key="k-2")
    started = clock.monotonic()
    waited = session.wait([task.id], timeout=30, interval=5)
    assert waited.deadline == started + 30
    assert type(waited.outcomes[task.id]).__name__ == "WaitTimeout"


def test_only_the_session_writes_the_history() -> None:
    """Commands, batch and everything else go through the session: no other module calls a
    method of the ledger that writes (reads are fine)."""
    package = Path(seedance_cli.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name in ("session.py", "ledger.py") or "emulator" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in LEDGER_WRITES
                and "ledger" in ast.unparse(node.func.value).lower()
            ):
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert offenders == []
