"""Never paying twice: claims in the ledger, batch keys scoped to the API, saved files checked on
disk, output names that would collide, and a history that can no longer record creates."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli.batch import Manifest, parse_manifest
from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.errors import HistoryUnavailable, OutcomeUnknown, ValidationError
from seedance_cli.ledger import FILE_NAME, Claim, Ledger
from seedance_cli.models import Task, api_origin
from seedance_cli.session import Session

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY

JSONL = "".join(
    json.dumps(line) + "\n"
    for line in [
        {"prompt": "A cat playing piano", "name": "cat"},
        {"prompt": "A dog surfing"},
        {"prompt": "A fox in the snow"},
        {"prompt": "An owl at night"},
    ]
)
REQUEST = GenerationRequest("A cat playing piano")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "m.jsonl").write_text(JSONL)
    return folder


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    made = Ledger(tmp_path / "data", clock=clock.time)
    yield made
    made.close()


def history_ledger(clock: FakeClock) -> Ledger:
    return Ledger(Path(os.environ["SEEDANCE_DATA_DIR"]), clock=clock.time)


def plan(api: Emulator, profile: str = "default") -> Manifest:
    return parse_manifest(JSONL.encode()).scoped(api.url, profile)


def dead_claim(folder: Path, key: str, batch_key: str | None = None) -> None:
    """A ``creating`` row as a process killed between its claim and the answer leaves it."""
    probe = Ledger(folder)
    probe.entries(limit=1)  # create and migrate the database
    probe.close()
    with sqlite3.connect(folder / FILE_NAME) as conn:
        conn.execute(
            "INSERT INTO tasks (idempotency_key, state, created_at, updated_at, prompt, "
            "batch_key, owner) VALUES (?, 'creating', 1, 1, 'A cat playing piano', ?, ?)",
            (key, batch_key, "999999-0123456789ab"),
        )
    conn.close()


# -- the claim -------------------------------------------------------------------------------------


def test_a_claim_is_taken_once(ledger: Ledger) -> None:
    first = ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None, batch_key="b:1")
    again = ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None)
    same_line = ledger.claim("k2", {"prompt": "x"}, profile=None, base_url=None, batch_key="b:1")
    assert first.mine and not again.mine and not same_line.mine
    assert again.held and again.owner == first.owner  # this process is alive: a held claim
    assert same_line.idempotency_key == "k"
    assert [e.idempotency_key for e in ledger.entries() or []] == ["k"]


def test_a_task_id_is_never_overwritten_nor_lost(ledger: Ledger) -> None:
    ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None)
    ledger.created("k", Task.from_api({"id": "task-unified-1-aaaaaaaa", "status": "pending"}))
    ledger.created("k", Task.from_api({"id": "task-unified-2-bbbbbbbb", "status": "pending"}))
    rows = {e.task_id: e for e in ledger.entries() or []}
    assert rows["task-unified-1-aaaaaaaa"].idempotency_key == "k"
    assert rows["task-unified-1-aaaaaaaa"].state == "created"
    second = rows["task-unified-2-bbbbbbbb"]
    assert second.idempotency_key is None and "k, which already held another task" in (
        second.note or ""
    )


def test_a_second_create_with_a_claimed_key_sends_nothing(
    client: Client, emulator: Emulator, ledger: Ledger
) -> None:
    task = Session(ledger, client).create(REQUEST, idempotency_key="k")
    again = Session(ledger, client).create(REQUEST, idempotency_key="k")
    assert again.id == task.id
    taken = Session(ledger, client).try_create(REQUEST, idempotency_key="k")
    assert isinstance(taken, Claim) and taken.task_id == task.id
    assert len(emulator.requests("create")) == 1


def test_a_create_a_live_process_is_sending_is_waited_for_not_sent(
    client: Client, emulator: Emulator, ledger: Ledger, clock: FakeClock
) -> None:
    assert ledger.claim("k", REQUEST.to_body(), profile=None, base_url=emulator.url).mine
    theirs = client.create_generation(REQUEST, idempotency_key="k")  # the other process's
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            ledger.created("k", theirs)
        clock.sleep(seconds)

    session = Session(ledger, client, sleep=sleep, clock=clock.monotonic)
    task = session.create(REQUEST, idempotency_key="k")
    assert task.id == theirs.id and len(naps) == 3
    assert len(emulator.requests("create")) == 1


def test_a_create_another_process_had_refused_is_claimed_again(
    client: Client, emulator: Emulator, ledger: Ledger, clock: FakeClock
) -> None:
    assert ledger.claim("k", REQUEST.to_body(), profile=None, base_url=emulator.url).mine

    def sleep(seconds: float) -> None:
        ledger.not_created("k")  # the other process's create was refused: its row goes
        clock.sleep(seconds)

    session = Session(ledger, client, sleep=sleep, clock=clock.monotonic)
    task = session.create(REQUEST, idempotency_key="k")
    assert [r.idempotency_key for r in emulator.requests("create")] == ["k"]
    entry = ledger.entry(task.id)
    assert entry is not None and entry.idempotency_key == "k"


def test_generate_that_waits_for_another_process_says_it_created_nothing(
    cli: CliRunner, api: Emulator, make_client: Any, clock: FakeClock
) -> None:
    """Two `generate --idempotency-key K` at once: the second waits for the first's answer and
    shows that task, saying it made none (it sent nothing, paid nothing)."""
    other = Ledger(Path(os.environ["SEEDANCE_DATA_DIR"]), clock=clock.time)
    assert other.claim("k-both", REQUEST.to_body(), profile="default", base_url=api.url).mine
    theirs = make_client(base_url=api.url, files_url=api.url, api_key=SENTINEL_KEY)
    made = theirs.create_generation(REQUEST, idempotency_key="k-both")  # the first process's

    def sleep(seconds: float) -> None:
        other.created("k-both", made)  # the first process records its answer
        clock.sleep(seconds)

    result = cli("generate", "A cat playing piano", "--idempotency-key", "k-both", sleep=sleep)
    assert result.code == 0, result.err
    assert result.out.strip() == made.id
    assert f"idempotency key k-both made task {made.id} in another seedance process" in result.err
    assert "created " not in result.err.replace("was created", "")
    assert len(api.requests("create")) == 1


def test_generate_with_a_key_already_used_creates_nothing(cli: CliRunner, api: Emulator) -> None:
    first = cli("generate", "A cat", "--idempotency-key", "ci-run-42")
    assert first.code == 0, first.err
    again = cli("generate", "A cat", "--idempotency-key", "ci-run-42")
    assert again.code == 0, again.err
    assert again.out == first.out
    assert len(api.requests("create")) == 1


def test_a_create_claimed_by_a_dead_process_is_never_sent(
    client: Client, emulator: Emulator, tmp_path: Path
) -> None:
    dead_claim(tmp_path / "data", "k")
    ledger = Ledger(tmp_path / "data")
    with pytest.raises(OutcomeUnknown) as error:
        Session(ledger, client).create(REQUEST, idempotency_key="k")
    assert error.value.idempotency_key == "k"
    assert emulator.requests("create") == []


def test_a_claim_that_cannot_be_written_stops_the_create(
    client: Client, emulator: Emulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ledger = Ledger(blocker / "data")
    with pytest.raises(HistoryUnavailable, match="cannot record the create"):
        Session(ledger, client).create(REQUEST, idempotency_key="k")
    assert emulator.requests() == []


def test_after_any_failed_write_no_create_is_claimed(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An observation that could not be written (a full disk) turns the ledger off for
    observations; from then on no create is claimed, even if the disk recovers."""
    warnings: list[str] = []
    ledger.on_warning = warnings.append
    real_write = Ledger._write

    def full(self: Ledger) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Ledger, "_write", full)
    ledger.observe(Task.from_api({"id": "task-unified-1-aaaaaaaa", "status": "processing"}))
    assert len(warnings) == 1 and "disk is full" in warnings[0]
    monkeypatch.setattr(Ledger, "_write", real_write)
    with pytest.raises(HistoryUnavailable, match="disk is full"):
        ledger.claim("k", {"prompt": "x"}, profile=None, base_url=None)


def test_a_claim_never_stays_creating_after_its_create_ends(
    client: Client, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused locally: no row. Anything unexpected on the way: outcome unknown, not a claim
    that looks in progress for as long as the process lives."""

    def refused(request: GenerationRequest, *, idempotency_key: str | None = None) -> Task:
        raise ValidationError("idempotency_key", "too long")

    def broken(request: GenerationRequest, *, idempotency_key: str | None = None) -> Task:
        raise RuntimeError("a bug after sending")

    monkeypatch.setattr(client, "create_generation", refused)
    with pytest.raises(ValidationError):
        Session(ledger, client).create(REQUEST, idempotency_key="k1")
    assert ledger.entries() == []
    monkeypatch.setattr(client, "create_generation", broken)
    with pytest.raises(RuntimeError):
        Session(ledger, client).create(REQUEST, idempotency_key="k2")
    (entry,) = ledger.entries() or []
    assert (entry.idempotency_key, entry.state) == ("k2", "outcome_unknown")
    assert entry.note == "RuntimeError while it was under way"


def test_a_sandbox_ledger_lets_creates_through(client: Client, emulator: Emulator) -> None:
    ledger = Ledger(Path("/nonexistent/never"))
    ledger.disabled = True  # as --sandbox makes it
    Session(ledger, client).create(REQUEST, idempotency_key="k")
    assert len(emulator.requests("create")) == 1


def test_a_creating_row_of_a_dead_process_shows_as_outcome_unknown(
    cli: CliRunner, api: Emulator
) -> None:
    dead_claim(Path(os.environ["SEEDANCE_DATA_DIR"]), "seedance-killed-key")
    result = cli("history", "--status", "outcome_unknown")
    assert result.code == 0, result.err
    (row,) = result.lines
    assert row.endswith("outcome unknown (idempotency key seedance-killed-key)")
    (entry,) = cli("history", "--json").json
    assert entry["state"] == "outcome_unknown" and "pid 999999" in entry["note"]


# -- batch: claims across runs ---------------------------------------------------------------------


def test_a_line_held_by_a_live_process_is_waited_on_not_created(
    cli: CliRunner, api: Emulator, work: Path, clock: FakeClock, make_client: Any
) -> None:
    manifest = plan(api)
    line = manifest.lines[0]
    other = history_ledger(clock)  # "another process": a live owner holds line 1's claim
    key = manifest.idempotency_key(line)
    claim = other.claim(
        key,
        line.request.to_body(),
        profile="default",
        base_url=api.url,
        batch_key=manifest.key(line),
    )
    assert claim.mine
    sleeps = [0]

    def sleep(seconds: float) -> None:
        sleeps[0] += 1
        if sleeps[0] == 3:  # the other process's create answers now
            other.created(
                key,
                make_client(api_key=SENTINEL_KEY).create_generation(
                    line.request, idempotency_key=key
                ),
            )
        clock.sleep(seconds)

    result = cli("batch", "m.jsonl", "--output-dir", "out", sleep=sleep)
    code, out, err = result.code, result.out, result.err
    assert code == 0, err
    creates = api.requests("create")
    assert len(creates) == 4 and len({r.idempotency_key for r in creates}) == 4
    assert "line 1: created by another run" in err
    assert sorted(out.splitlines())[0].split("\t")[2:] == ["completed", "out/cat.mp4"]
    assert (work / "out" / "cat.mp4").read_bytes() == sample_video()


def test_a_line_claimed_by_a_dead_process_is_reported_not_created(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    manifest = plan(api)
    line = manifest.lines[1]
    dead_claim(
        Path(os.environ["SEEDANCE_DATA_DIR"]), manifest.idempotency_key(line), manifest.key(line)
    )
    result = cli("batch", "m.jsonl")
    assert result.code == 10
    assert "2\t\toutcome_unknown\t" in result.lines
    assert "line 2: an earlier run's create had an unknown outcome; not resent" in result.err
    assert sorted(str(r.json()["prompt"]) for r in api.requests("create")) == [
        "A cat playing piano",
        "A fox in the snow",
        "An owl at night",
    ]


def test_batch_stops_creating_when_the_history_cannot_record_claims(
    cli: CliRunner, api: Emulator, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk mid-run: what is in flight finishes, nothing more is created, exit 3."""
    real_claim = Ledger.claim
    real_write = Ledger._write
    calls = [0]
    full = [False]

    def claim(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:
            full[0] = True
        return real_claim(self, *args, **kwargs)

    def write(self: Ledger) -> Any:
        if full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(self)

    monkeypatch.setattr(Ledger, "claim", claim)
    monkeypatch.setattr(Ledger, "_write", write)
    result = cli("batch", "m.jsonl", "--concurrency", "2", "--output-dir", "out")
    assert result.code == 3
    assert len(api.requests("create")) == 2
    states = {row.split("\t")[0]: row.split("\t")[2] for row in result.lines}
    assert states == {"1": "completed", "2": "completed", "3": "error", "4": "error"}
    assert "error: line 3: the task history (" in result.err
    assert "cannot record the create (database or disk is full); it was not sent" in result.err
    assert "error: line 4: the task history (" in result.err
    assert (work / "out" / "cat.mp4").read_bytes() == sample_video()


# -- batch keys belong to one API and one profile --------------------------------------------------


def test_a_rehearsal_against_the_emulator_does_not_skip_the_real_run(
    cli: CliRunner, api: Emulator, work: Path, clock: FakeClock
) -> None:
    assert cli("batch", "m.jsonl").code == 0
    with Emulator(clock=clock, task_seconds=60) as real:
        env = {"SEEDANCE_BASE_URL": real.url, "SEEDANCE_FILES_URL": real.url}
        result = cli("batch", "m.jsonl", env=env)
        assert result.code == 0, result.err
        assert len(real.requests("create")) == 4
        assert "earlier run" not in result.err
        again = cli("batch", "m.jsonl", env=env)  # and each API keeps its own resume
        assert again.code == 0 and len(real.requests("create")) == 4
    assert len(api.requests("create")) == 4
    keys = {r.idempotency_key for r in api.requests("create")}
    assert keys.isdisjoint(r.idempotency_key for r in real.requests("create"))


def test_batch_keys_are_scoped_by_origin_and_profile() -> None:
    manifest = parse_manifest(JSONL.encode())
    line = manifest.lines[0]
    a = manifest.scoped("https://api.evolink.ai", "default")
    assert a.key(line) == manifest.scoped("HTTPS://API.evolink.ai:443/", "default").key(line)
    others = [
        manifest.scoped("http://127.0.0.1:8000", "default"),
        manifest.scoped("https://api.evolink.ai", "work"),
    ]
    for other in others:
        assert other.key(line) != a.key(line)
        assert other.idempotency_key(line) != a.idempotency_key(line)
    assert a.idempotency_key(line).startswith(f"seedance-batch-{a.batch_id}-")
    assert api_origin("https://API.evolink.ai:8443/v1/") == "https://api.evolink.ai:8443/v1"


def test_rows_of_an_older_seedance_keyed_by_the_manifest_alone_are_still_honoured(
    cli: CliRunner, api: Emulator, work: Path, clock: FakeClock, make_client: Any
) -> None:
    client = make_client(api_key=SENTINEL_KEY)
    manifest = parse_manifest(JSONL.encode())
    old = history_ledger(clock)
    for line in manifest.lines[:2]:  # seedance 0.x created lines 1 and 2 with this API
        key = f"seedance-batch-{manifest.digest[:16]}-{line.number}"
        old.claim(
            key,
            line.request.to_body(),
            profile="default",
            base_url=api.url,
            batch_key=manifest.legacy_key(line),
        )
        old.created(key, client.create_generation(line.request, idempotency_key=key))
    old.close()
    result = cli("batch", "m.jsonl")
    assert result.code == 0, result.err
    assert len(api.requests("create")) == 4
    assert result.err.count("created by an earlier run") == 2


# -- saved means saved on disk ---------------------------------------------------------------------


def test_a_saved_line_is_checked_on_disk_before_it_is_skipped(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    assert cli("batch", "m.jsonl", "--output-dir", "out").code == 0
    (work / "out" / "2.mp4").unlink()
    gone = cli("batch", "m.jsonl", "--output-dir", "out")
    assert gone.code == 0, gone.err
    assert "line 2: saved by an earlier run but changed or gone" in gone.err
    assert gone.err.count("already saved") == 3
    assert (work / "out" / "2.mp4").read_bytes() == sample_video()
    assert len(api.requests("download")) == 5 and len(api.requests("create")) == 4

    video = (work / "out" / "cat.mp4").read_bytes()
    (work / "out" / "cat.mp4").write_bytes(video[:1000] + b"x" + video[1001:])  # same size
    changed = cli("batch", "m.jsonl", "--output-dir", "out")
    assert changed.code == 2 and "line 1: out/cat.mp4 exists" in changed.err
    forced = cli("batch", "m.jsonl", "--output-dir", "out", "--force")
    assert forced.code == 0, forced.err
    assert (work / "out" / "cat.mp4").read_bytes() == sample_video()
    assert len(api.requests("download")) == 6 and len(api.requests("create")) == 4
    assert hashlib.sha256(sample_video()).hexdigest() in cli("history", "--json").out


# -- output names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (
            [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c", "name": "2"}],
            "line 3: name '2' is also line 2's output (2.mp4)",
        ),
        (
            [{"prompt": "a", "name": "3"}, {"prompt": "b"}, {"prompt": "c"}],
            "line 3: its output 3.mp4 is also that of line 1 (named)",
        ),
        (
            [{"prompt": "a", "name": "Clip"}, {"prompt": "b", "name": "clip"}],
            "line 2: name 'clip' is also used on line 1 (names equal up to case",
        ),
        (
            [{"prompt": "a", "name": "clip"}, {"prompt": "b", "name": "clip"}],
            "line 2: name 'clip' is also used on line 1",
        ),
        (
            [{"prompt": "a", "name": "cat"}, {"prompt": "b", "name": "cat-2"}],
            "line 2: name 'cat-2' is the file name of line 1's result number 2",
        ),
    ],
)
def test_lines_whose_outputs_collide_are_refused_up_front(
    cli: CliRunner, api: Emulator, work: Path, lines: list[dict[str, str]], problem: str
) -> None:
    manifest = "".join(json.dumps(line) + "\n" for line in lines)
    result = cli("batch", "-", "--output-dir", "out", input=manifest)
    assert result.code == 2
    assert result.out == ""
    assert f"error: {problem}" in result.err
    assert "nothing was sent" in result.err
    assert api.requests() == []


def test_a_csv_name_equal_to_another_rows_line_number_is_refused(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    result = cli("batch", "-", input="prompt,name\na,\nb,2\n")  # line 2 is the first row
    assert result.code == 2 and "error: line 3: name '2' is also line 2's output" in result.err
    assert api.requests() == []


def test_an_owner_written_by_hand_is_never_a_path_to_open_or_remove(tmp_path: Path) -> None:
    from seedance_cli import owner

    folder = tmp_path / "data"
    (folder / "owners").mkdir(parents=True)
    victim = folder / "history.sqlite3"
    victim.write_bytes(b"the history")
    assert owner.alive(folder, "../history.sqlite3") is False
    assert victim.read_bytes() == b"the history"
