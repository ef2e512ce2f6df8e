"""The task ledger: rows at every step of a create, concurrency, migrations, and graceful failure."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.errors import HistoryUnavailable
from seedance_cli.ledger import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, Ledger
from seedance_cli.models import Task
from seedance_cli.session import Session

REQUEST = GenerationRequest("A cat playing piano", duration=8)


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    return Ledger(tmp_path / "data", clock=clock.time)


def test_row_is_written_before_the_create_is_sent(
    client: Client, emulator: Emulator, ledger: Ledger
) -> None:
    seen_rows: list[int] = []

    original = client.create_generation

    def spy(request: GenerationRequest, *, idempotency_key: str | None = None) -> Task:
        entries = ledger.entries() or []
        seen_rows.append(len(entries))
        assert entries[0].state == "creating" and entries[0].task_id is None
        assert entries[0].idempotency_key == idempotency_key
        return original(request, idempotency_key=idempotency_key)

    client.create_generation = spy  # type: ignore[method-assign]
    task = Session(ledger, client, profile="default").create(REQUEST, idempotency_key="k-1")
    assert seen_rows == [1]
    (entry,) = ledger.entries() or []
    assert (entry.task_id, entry.state, entry.status) == (task.id, "created", "pending")
    assert entry.prompt == "A cat playing piano" and entry.params["duration"] == 8
    assert entry.profile == "default" and entry.base_url == emulator.url


def test_outcome_unknown_leaves_a_row_with_its_key(
    client: Client, emulator: Emulator, ledger: Ledger
) -> None:
    emulator.add_fault("create:drop")
    with pytest.raises(Exception, match="not resent"):
        Session(ledger, client).create(REQUEST, idempotency_key="k-unknown")
    (entry,) = ledger.entries() or []
    assert (entry.state, entry.idempotency_key, entry.task_id) == (
        "outcome_unknown",
        "k-unknown",
        None,
    )
    assert "broke" in (entry.note or "")


def test_a_refused_create_leaves_no_row(client: Client, emulator: Emulator, ledger: Ledger) -> None:
    emulator.add_fault("create:402")
    with pytest.raises(Exception, match="Insufficient"):
        Session(ledger, client).create(REQUEST, idempotency_key="k-402")
    assert ledger.entries() == []


def test_observations_update_status_results_and_expiry(
    client: Client, emulator: Emulator, ledger: Ledger, clock: FakeClock
) -> None:
    task = Session(ledger, client).create(REQUEST, idempotency_key="k")
    clock.advance(30)
    ledger.observe(client.get_task(task.id))
    running = ledger.entry(task.id)
    assert running is not None and running.status == "processing" and running.expires_at is None
    clock.advance(30)
    done = client.get_task(task.id)
    ledger.observe(done)
    clock.advance(100)
    ledger.observe(done)  # seen again later: the first sighting of completion counts
    entry = ledger.entry(task.id)
    assert entry is not None and entry.results == list(done.results)
    assert entry.completed_at == clock.time() - 100
    assert entry.expires_at == entry.completed_at + 24 * 3600
    assert entry.result_state(clock.time()) == "downloadable"
    assert entry.result_state(entry.expires_at) == "expired"


def test_unknown_tasks_get_a_row_when_observed(ledger: Ledger) -> None:
    ledger.observe(
        Task.from_api(
            {
                "id": "task-unified-5-abcdefgh",
                "status": "failed",
                "error": {"code": "service_error", "message": "m"},
            }
        ),
        base_url="https://api.evolink.ai",
    )
    (entry,) = ledger.entries() or []
    assert (entry.state, entry.error_code, entry.base_url) == (
        "observed",
        "service_error",
        "https://api.evolink.ai",
    )


def test_filters(ledger: Ledger, clock: FakeClock) -> None:
    for n, (prompt, status) in enumerate(
        [("red fox", "completed"), ("blue whale", "failed"), ("100% fox_y", "completed")]
    ):
        ledger.claim(f"k{n}", {"prompt": prompt}, profile=None, base_url=None)
        ledger.created(
            f"k{n}", Task.from_api({"id": f"task-unified-{n}-aaaaaaaa", "status": status})
        )
        clock.advance(1)
    entries = ledger.entries() or []
    assert [e.prompt for e in entries] == ["100% fox_y", "blue whale", "red fox"]  # newest first
    assert [e.prompt for e in ledger.entries(status="failed") or []] == ["blue whale"]
    assert [e.prompt for e in ledger.entries(search="fox") or []] == ["100% fox_y", "red fox"]
    assert [e.prompt for e in ledger.entries(search="%") or []] == ["100% fox_y"]
    assert [e.prompt for e in ledger.entries(search="_") or []] == ["100% fox_y"]
    assert len(ledger.entries(limit=2) or []) == 2


# -- migrations ------------------------------------------------------------------------------------


def test_a_version_1_database_migrates_forward_keeping_its_rows(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / FILE_NAME)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO tasks (idempotency_key, task_id, state, created_at, updated_at, "
        "prompt) VALUES ('k', 'task-unified-1-aaaaaaaa', 'created', 1, 1, 'old row')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    ledger = Ledger(folder)
    (entry,) = ledger.entries() or []
    assert entry.prompt == "old row" and entry.batch_key is None and entry.local_images == []
    ledger.close()
    version = sqlite3.connect(folder / FILE_NAME).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 4


def test_a_version_2_creating_row_becomes_outcome_unknown(tmp_path: Path) -> None:
    """A row an older seedance left ``creating`` has no owner to wait on: its process is gone,
    and its create may have reached the server."""
    folder = tmp_path / "v2"
    folder.mkdir()
    conn = sqlite3.connect(folder / FILE_NAME)
    for migration in MIGRATIONS[:2]:
        conn.executescript(migration)
    conn.execute(
        "INSERT INTO tasks (idempotency_key, state, created_at, updated_at, prompt) "
        "VALUES ('k-old', 'creating', 1, 1, 'left behind')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    ledger = Ledger(folder)
    (entry,) = ledger.entries(status="outcome_unknown") or []
    assert (entry.idempotency_key, entry.task_id) == ("k-old", None)
    assert "ended before it answered" in (entry.note or "")
    claim = ledger.claim("k-old", {"prompt": "again"}, profile=None, base_url=None)
    assert not claim.mine and claim.state == "outcome_unknown"
    ledger.close()


def test_a_newer_database_is_left_alone_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    sqlite3.connect(folder / FILE_NAME).execute("PRAGMA user_version = 99").connection.close()
    warnings: list[str] = []
    ledger = Ledger(folder, on_warning=warnings.append)
    assert ledger.entries() is None
    assert len(warnings) == 1 and "newer seedance" in warnings[0]


# -- failing gracefully ----------------------------------------------------------------------------


def test_an_unwritable_data_folder_degrades_to_one_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    warnings: list[str] = []
    ledger = Ledger(blocker / "data", on_warning=warnings.append)
    with pytest.raises(HistoryUnavailable):  # a create it cannot record is never sent
        ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None)
    ledger.observe(Task.from_api({"id": "task-unified-1-aaaaaaaa", "status": "pending"}))
    assert ledger.entries() is None
    assert len(warnings) == 1 and "task history unavailable" in warnings[0]


def test_a_corrupt_database_degrades_to_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / FILE_NAME).write_bytes(b"this is not a database" * 100)
    warnings: list[str] = []
    ledger = Ledger(folder, on_warning=warnings.append)
    ledger.observe(Task.from_api({"id": "task-unified-1-aaaaaaaa", "status": "pending"}))
    with pytest.raises(HistoryUnavailable):
        ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None)
    assert len(warnings) == 1 and "not a database" in warnings[0]


# -- several processes at once ---------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from seedance_cli.ledger import Ledger
from seedance_cli.models import Task

folder, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ledger = Ledger(folder, on_warning=lambda w: sys.exit("warning: " + w))
for n in range(count):
    key = f"{name}-{n}"
    ledger.claim(key, {"prompt": key}, profile=None, base_url=None)
    task = Task.from_api({"id": f"task-unified-{n}-{name}", "status": "pending"})
    ledger.created(key, task)
    ledger.observe(Task.from_api({"id": task.id, "status": "processing", "progress": 50}))
    ledger.entries(limit=5)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), name, "500"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("aaaaaaaa", "bbbbbbbb")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    conn = sqlite3.connect(folder / FILE_NAME)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT idempotency_key, task_id, status FROM tasks").fetchall()
    conn.close()
    assert len(rows) == 1000
    assert {status for _, _, status in rows} == {"processing"}
    assert all(task_id.endswith(key.split("-")[0]) for key, task_id, _ in rows)


def test_a_create_under_way_in_a_live_process_stays_creating_for_other_readers(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.claim("k-begun", {"prompt": "x"}, profile=None, base_url=None)
    assert ledger.claim("k-claimed", {"prompt": "y"}, profile=None, base_url=None).mine
    reader = Ledger(tmp_path / "data")  # opening the ledger marks only dead owners' rows
    assert {e.idempotency_key: e.state for e in reader.entries() or []} == {
        "k-begun": "creating",
        "k-claimed": "creating",
    }
    reader.close()


def test_history_status_names_the_ledgers_own_create_states() -> None:
    from seedance_cli.ledger import CREATED, CREATING, OBSERVED, UNKNOWN
    from seedance_cli.models import HISTORY_STATUSES, TaskStatus

    assert {CREATING, UNKNOWN} <= set(HISTORY_STATUSES)
    assert {CREATED, OBSERVED}.isdisjoint(
        HISTORY_STATUSES
    )  # rows with a task id: filtered by its status
    assert set(TaskStatus.TERMINAL) | {"pending", "processing"} <= set(HISTORY_STATUSES)


def _hold(ledger: Ledger) -> sqlite3.Connection:
    """Another process's long write: the database locked until the returned connection ends."""
    other = sqlite3.connect(ledger.path, timeout=0, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_task_id_answered_while_the_history_is_busy_is_kept_and_written_later(
    client: Client, emulator: Emulator, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack: the history locked past the busy timeout as the create answers. The id must
    not be lost (nor every later write dropped): it is kept and written once the lock goes."""
    monkeypatch.setattr("seedance_cli.ledger.BUSY_TIMEOUT_MS", 50)
    warnings: list[str] = []
    ledger.on_warning = warnings.append
    assert ledger.entries() == []  # opened (and its busy timeout set) before the lock
    session = Session(ledger, client)
    original = client.create_generation
    holder: list[sqlite3.Connection] = []

    def create_then_lock(request: GenerationRequest, *, idempotency_key: str | None = None) -> Task:
        task = original(request, idempotency_key=idempotency_key)
        holder.append(_hold(ledger))  # the answer comes while someone holds the history
        return task

    monkeypatch.setattr(client, "create_generation", create_then_lock)
    task = session.create(REQUEST, idempotency_key="k-busy")
    assert ledger.unwritten == 1 and not ledger.disabled
    assert len(warnings) == 1 and "busy" in warnings[0]
    holder[0].execute("COMMIT")  # the other process is done
    holder[0].close()
    session.get_task(task.id)  # the next write makes the kept one first, then its own
    assert ledger.unwritten == 0
    (entry,) = ledger.entries() or []
    assert (entry.task_id, entry.idempotency_key, entry.state) == (task.id, "k-busy", "created")


def test_a_history_still_busy_when_the_session_ends_names_what_it_could_not_record(
    client: Client, emulator: Emulator, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seedance_cli.ledger.BUSY_TIMEOUT_MS", 50)
    warnings: list[str] = []
    ledger.on_warning = warnings.append
    assert ledger.entries() == []
    task = client.create_generation(REQUEST)
    other = _hold(ledger)
    try:
        ledger.observe(task)
        assert ledger.flush(patience=0.3) is False
    finally:
        other.close()
    assert f"not recorded for {task.id}" in warnings[-1]
    assert ledger.flush(patience=0.3) is True and ledger.entry(task.id) is not None


def test_the_end_of_a_session_waits_for_a_busy_history_to_record_what_it_saw(
    client: Client, emulator: Emulator, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("seedance_cli.ledger.BUSY_TIMEOUT_MS", 50)
    ledger.on_warning = lambda text: None
    assert ledger.entries() == []
    task = client.create_generation(REQUEST)
    other = _hold(ledger)
    ledger.observe(task)
    assert ledger.unwritten == 1
    release = threading.Timer(0.3, other.close)  # the other process finishes a moment later
    release.start()
    try:
        Session(ledger, client).close()  # waits for it, then writes
    finally:
        release.join()
    assert ledger.unwritten == 0 and ledger.entry(task.id) is not None


# -- money -----------------------------------------------------------------------------------------


def task_answer(status: str, **extra: object) -> Task:
    return Task.from_api({"id": "task-unified-1-moneyabc", "status": status, "created": 1, **extra})


def test_the_history_keeps_the_estimate_the_reservation_and_what_was_charged(
    ledger: Ledger,
) -> None:
    estimate = {"known": True, "low": "17.784", "high": "17.784", "text": "17.78 credits ($0.26)"}
    assert ledger.claim("k-money", {"prompt": "p"}, profile=None, base_url=None, estimate=estimate)
    ledger.created("k-money", task_answer("pending", usage={"credits_reserved": 17.784}))
    ledger.observe(task_answer("processing"))  # usage comes on pending tasks only: kept
    entry = ledger.entry("task-unified-1-moneyabc")
    assert entry is not None
    assert entry.estimate == estimate and entry.credits_reserved == 17.784
    assert entry.credits_charged is None and entry.credits_released is None
    ledger.observe(
        task_answer(
            "completed",
            billing={"charge_status": "charged", "charged_credits": 17.784, "refunded_credits": 0},
        )
    )
    entry = ledger.entry("task-unified-1-moneyabc")
    assert entry is not None
    assert (entry.credits_charged, entry.charge_status, entry.credits_refunded) == (
        17.784,
        "charged",
        0.0,
    )
    assert entry.credits_released is None


def test_a_failed_tasks_reservation_is_released(ledger: Ledger) -> None:
    ledger.claim("k-fail", {"prompt": "p"}, profile=None, base_url=None)
    ledger.created("k-fail", task_answer("pending", usage={"credits_reserved": 8.0}))
    ledger.observe(task_answer("failed", error={"code": "service_error", "message": "x"}))
    entry = ledger.entry("task-unified-1-moneyabc")
    assert entry is not None and entry.credits_released == 8.0 and entry.credits_charged is None


def test_a_replayed_create_is_remembered_as_no_new_charge(ledger: Ledger) -> None:
    ledger.claim("k-replay", {"prompt": "p"}, profile=None, base_url=None)
    replayed = dataclasses.replace(task_answer("pending"), replayed=True)
    ledger.created("k-replay", replayed)
    entry = ledger.entry("task-unified-1-moneyabc")
    assert entry is not None and entry.replayed


def test_absurd_stored_money_figures_read_as_absent(ledger: Ledger) -> None:
    ledger.claim("k-odd", {"prompt": "p"}, profile=None, base_url=None)
    ledger.created("k-odd", task_answer("pending", usage={"credits_reserved": 5.0}))
    with sqlite3.connect(ledger.path) as conn:
        conn.execute(
            "UPDATE tasks SET credits_reserved = 'lots', credits_charged = -3, estimate = '[1]'"
        )
    entry = ledger.entry("task-unified-1-moneyabc")
    assert entry is not None
    assert (entry.credits_reserved, entry.credits_charged, entry.estimate) == (None, None, None)


def test_an_answer_naming_a_task_another_create_holds_keeps_both_rows(tmp_path: Path) -> None:
    """A server that answers a new create with a task id this history already holds (a lie, or a
    replay under a new key): the older row keeps its task, the new key is outcome-unknown and
    says why, and the history stays on (a unique-constraint error turned it off before)."""
    warnings: list[str] = []
    ledger = Ledger(tmp_path, clock=lambda: 1000.0, on_warning=warnings.append)
    body = {"model": "seedance-1.5-pro", "prompt": "a"}
    ledger.claim("k1", body, profile=None, base_url=None)
    ledger.created("k1", Task.from_api({"id": "task-1", "status": "pending"}))
    ledger.claim("k2", {**body, "prompt": "b"}, profile=None, base_url=None)
    ledger.created("k2", Task.from_api({"id": "task-1", "status": "processing"}))
    assert not ledger.disabled and ledger.flush()
    rows = {e.idempotency_key: e for e in ledger.entries() or []}
    assert (rows["k1"].task_id, rows["k1"].state) == ("task-1", "created")
    assert (rows["k2"].task_id, rows["k2"].state) == (None, "outcome_unknown")
    assert rows["k2"].note is not None and "task-1, which another create" in rows["k2"].note
    assert warnings == [rows["k2"].note]
    # the same answer again for the key that holds it is its own task: no warning
    ledger.created("k1", Task.from_api({"id": "task-1", "status": "processing"}))
    assert len(warnings) == 1 and not ledger.disabled
