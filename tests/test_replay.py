"""A create answered ``idempotency-replayed: true`` (API.md, from EvoLink's own CLI): the client
marks the task ``replayed``, ``generate`` says "the original task, no new charge" on stderr, and
the history keeps the mark (so that ``usage`` does not count it twice: ``test_cli_usage``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli.client import replayed
from seedance_cli.emulator import Emulator
from seedance_cli.ledger import Ledger

from .clirunner import CliRunner
from .conftest import MakeClient


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("True", True), (" true ", True), ("false", False), ("1", False), ("", False)],
)
def test_the_replayed_header_is_read_as_only_true_says(value: str, expected: bool) -> None:
    assert replayed({"idempotency-replayed": value}) is expected
    assert replayed({}) is False


def test_the_client_marks_a_replayed_create(make_client: MakeClient, emulator: Emulator) -> None:
    client: Client = make_client()
    request = GenerationRequest("A cat playing piano")
    first = client.create_generation(request, idempotency_key="ci-7")
    again = client.create_generation(request, idempotency_key="ci-7")
    assert not first.replayed and again.replayed and again.id == first.id
    emulator.idempotency_replay = False
    fresh = client.create_generation(request, idempotency_key="ci-7")
    assert not fresh.replayed and fresh.id != first.id


def test_generate_says_a_replayed_create_is_the_original_task(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    first = cli("generate", "A cat", "--idempotency-key", "ci-run-9")
    assert first.code == 0 and "created " in first.err
    task_id = first.out.strip()
    # another machine (a fresh history), the same key: the API answers the original task
    elsewhere = {"SEEDANCE_DATA_DIR": str(tmp_path / "elsewhere")}
    again = cli("generate", "A cat", "--idempotency-key", "ci-run-9", env=elsewhere)
    assert again.code == 0 and again.out == f"{task_id}\n"
    assert (
        f"idempotency key ci-run-9 already made task {task_id} at the API: "
        "the original task, no new charge"
    ) in again.err
    assert "created " not in again.err
    assert len(api.service.tasks) == 1
    (row,) = Ledger(tmp_path / "elsewhere").entries() or []
    assert row.task_id == task_id and row.replayed
    (mine,) = Ledger(Path(cli.environ["SEEDANCE_DATA_DIR"])).entries() or []
    assert mine.task_id == task_id and not mine.replayed


def test_a_batch_run_elsewhere_counts_a_replayed_line_as_no_new_charge(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    """The same manifest on another machine (its own history) sends the same keys: the API
    answers the original tasks, and the run neither spends its budget on them nor says it
    reserved credits for them."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "A cat"}\n{"prompt": "A dog", "duration": 8}\n')
    first = cli("batch", str(manifest), "--output-dir", str(tmp_path / "a"))
    assert first.code == 0, first.err
    elsewhere = {"SEEDANCE_DATA_DIR": str(tmp_path / "elsewhere")}
    again = cli(
        "batch",
        str(manifest),
        "--output-dir",
        str(tmp_path / "b"),
        "--max-credits",
        "50",
        env=elsewhere,
    )
    assert again.code == 0, again.err
    assert len(api.service.tasks) == 2
    assert again.err.count("the original task, no new charge") == 2
    assert again.err.endswith("this run created nothing (budget: --max-credits 50)\n")
