"""Reading the task history never fails on what is stored in it: every column is read tolerantly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from seedance_cli.emulator import FakeClock
from seedance_cli.ledger import Ledger, epoch
from seedance_cli.models import Task


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    return Ledger(tmp_path / "data", clock=clock.time)


def write(ledger: Ledger, sql: str, *args: object) -> None:
    db = sqlite3.connect(ledger.path)
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def task(task_id: str, status: str = "completed") -> Task:
    data: dict[str, object] = {"id": task_id, "status": status, "progress": 100}
    if status == "completed":
        data["results"] = [f"https://cdn.example.com/{task_id}.mp4"]
    return Task.from_api(data)


ID = "task-unified-1761313744-abcdefgh"


@pytest.mark.parametrize(
    ("stored", "seconds"),
    [
        (1761313744, 1761313744.0),
        (1761313744.5, 1761313744.5),
        (1761313744000, 1761313744.0),  # milliseconds
        ("1761313744", 1761313744.0),
        (b"1761313744", 1761313744.0),
        ("2025-10-24T13:49:04Z", 1761313744.0),
        ("2025-10-24T13:49:04+00:00", 1761313744.0),
        (0, 0.0),
    ],
)
def test_epoch_reads_what_can_be_a_time(stored: object, seconds: float) -> None:
    assert epoch(stored) == seconds


@pytest.mark.parametrize(
    "stored",
    [
        None,
        True,
        float("inf"),
        float("-inf"),
        float("nan"),
        "nan",
        "inf",
        -5,
        10**400,
        1e300,
        "yesterday",
        "",
        b"\xff\xfe",
        [1],
        {"a": 1},
    ],
)
def test_epoch_refuses_what_cannot(stored: object) -> None:
    assert epoch(stored) is None


def test_every_column_of_a_row_is_read_tolerantly(ledger: Ledger) -> None:
    ledger.observe(task(ID))
    ledger.saved(ID, 0, Path("/videos/a.mp4"), "ab" * 32, 1234)
    write(
        ledger,
        "UPDATE tasks SET idempotency_key = ?, state = ?, created_at = ?, updated_at = ?, "
        "profile = ?, base_url = ?, prompt = ?, params = ?, status = ?, progress = ?, "
        "results = ?, error_code = ?, error_message = ?, note = ?, completed_at = ?, "
        "expires_at = ?, local_images = ?, batch_key = ?",
        12,
        b"\xff",
        "never",
        float("inf"),
        b"w\xffrk",
        3.5,
        b"A \xff cat",
        '["not", "an", "object"]',
        404,
        "ninety",
        '[1, "https://cdn.example.com/x.mp4", null]',
        b"\x00",
        7.25,
        "[",
        1e300,
        "later",
        '[{"path": "a.png", "url": "https://x/a.png"}, 5]',
        99,
    )
    write(ledger, "UPDATE files SET result_index = 'first', bytes = 1e999, saved_at = 'then'")
    (entry,) = ledger.entries() or []
    assert entry.task_id == ID
    assert (
        entry.idempotency_key == "12" and entry.state == "\ufffd" and entry.profile == "w\ufffdrk"
    )
    assert entry.created_at is None and entry.updated_at is None
    assert entry.completed_at is None and entry.expires_at is None
    assert entry.prompt == "A \ufffd cat" and entry.params == {}
    assert entry.status == "404" and entry.progress is None
    assert entry.results == ["https://cdn.example.com/x.mp4"]
    assert entry.error_code == "\x00" and entry.error_message == "7.25" and entry.note == "["
    assert entry.local_images == [{"path": "a.png", "url": "https://x/a.png"}]
    assert entry.base_url == "3.5" and entry.batch_key == "99"
    (saved,) = entry.files
    assert saved.path == "/videos/a.mp4" and saved.result_index == 0
    assert saved.bytes == 0 and saved.saved_at == 0.0
    assert entry.result_state(0.0) == "saved"
    assert ledger.disabled is False


def test_an_odd_completed_at_never_stops_an_observation(ledger: Ledger, clock: FakeClock) -> None:
    ledger.observe(task(ID))
    write(ledger, "UPDATE tasks SET completed_at = 'soon'")
    ledger.observe(task(ID))  # read as unknown: counted from now, as on a first sighting
    assert ledger.disabled is False
    (entry,) = ledger.entries() or []
    assert entry.completed_at == clock.time()
    assert entry.expires_at == clock.time() + 24 * 3600


@pytest.mark.parametrize("limit", [1, 10**30])
def test_any_limit_is_taken(ledger: Ledger, limit: int) -> None:
    ledger.observe(task(ID))
    ledger.observe(task(ID.replace("abcdefgh", "bcdefghi")))
    assert len(ledger.entries(limit=limit) or []) == min(limit, 2)
    assert ledger.disabled is False


def test_lookup_by_idempotency_key(ledger: Ledger) -> None:
    from seedance_cli import GenerationRequest

    ledger.claim("k-1", GenerationRequest("A cat").to_body(), profile=None, base_url="u")
    ledger.claim("k-2", GenerationRequest("A dog").to_body(), profile=None, base_url="u")
    (entry,) = ledger.by_idempotency_key("k-1") or []
    assert entry.prompt == "A cat" and entry.state == "creating" and entry.base_url == "u"
    assert ledger.by_idempotency_key("k-3") == []


def test_a_table_without_some_columns_is_still_read(ledger: Ledger) -> None:
    """A history made by hand or by another tool may lack columns: they read as unknown."""
    ledger.observe(task(ID))
    ledger.saved(ID, 0, Path("/videos/a.mp4"), "ab" * 32, 1234)
    for column in ("note", "local_images", "error_message", "progress"):
        write(ledger, f"ALTER TABLE tasks DROP COLUMN {column}")
    write(ledger, "ALTER TABLE files DROP COLUMN saved_at")
    ledger.close()
    (entry,) = ledger.entries() or []
    assert entry.task_id == ID and entry.status == "completed"
    assert entry.note is None and entry.local_images == [] and entry.progress is None
    assert entry.files[0].path == "/videos/a.mp4" and entry.files[0].saved_at == 0.0
    assert ledger.disabled is False
