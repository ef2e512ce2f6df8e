"""``seedance batch``: whole-manifest validation, resumability (one create per line), rate limits."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.waiting import DEFAULT_MAX_OUTAGE

from .clirunner import CliRunner, Result

JSONL = (
    "\n".join(
        json.dumps(line)
        for line in [
            {"prompt": "A cat playing piano", "name": "cat"},
            {"prompt": "A dog surfing", "duration": 8},
            {"prompt": "A fox in the snow", "quality": "480p", "generate_audio": False},
            {"prompt": "Two frames", "image_urls": ["https://e.com/a.png", "https://e.com/b.png"]},
        ]
    )
    + "\n"
)
CSV = (
    "prompt,duration,quality,generate_audio,image_urls,name\n"
    "A cat playing piano,,,,,cat\n"
    "A dog surfing,8,,,,\n"
    "A fox in the snow,,480p,false,,\n"
    "Two frames,,,,https://e.com/a.png|https://e.com/b.png,\n"
)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    (folder / "m.jsonl").write_text(JSONL)
    (folder / "m.csv").write_text(CSV)
    return folder


def bodies(api: Emulator) -> list[dict[str, Any]]:
    return [r.json() for r in api.requests("create")]


EXPECTED: list[dict[str, Any]] = [
    {"model": "seedance-1.5-pro", "prompt": "A cat playing piano"},
    {"model": "seedance-1.5-pro", "prompt": "A dog surfing", "duration": 8},
    {
        "model": "seedance-1.5-pro",
        "prompt": "A fox in the snow",
        "quality": "480p",
        "generate_audio": False,
    },
    {
        "model": "seedance-1.5-pro",
        "prompt": "Two frames",
        "image_urls": ["https://e.com/a.png", "https://e.com/b.png"],
    },
]


@pytest.mark.parametrize("manifest", ["m.jsonl", "m.csv"])
def test_jsonl_and_csv_run_the_same_requests(
    cli: CliRunner, api: Emulator, work: Path, manifest: str
) -> None:
    result = cli("batch", manifest, "--output-dir", "out")
    assert result.code == 0, result.err
    assert sorted(bodies(api), key=lambda b: str(b["prompt"])) == sorted(
        EXPECTED, key=lambda b: str(b["prompt"])
    )
    first = 1 if manifest.endswith("jsonl") else 2  # a CSV's first line is its header
    rows = [line.split("\t") for line in result.lines]
    assert sorted(int(r[0]) for r in rows) == list(range(first, first + 4))
    assert all(r[2] == "completed" for r in rows)
    by_line = {int(r[0]): r[3] for r in rows}
    assert by_line[first] == "out/cat.mp4" and by_line[first + 1] == f"out/{first + 1}.mp4"
    assert (work / "out" / "cat.mp4").read_bytes() == sample_video()
    assert (
        # the published prices of the four lines (1.5 pro): 5 s 17.784, 8 s 28.4544,
        # 480p silent 4.0903, 5 s 17.784: the emulator reserves what was estimated
        "batch: 4 succeeded, 0 failed, 0 timed out; estimated 68.11 credits ($1.00) for the 4 "
        "lines this run created, 68.11 credits reserved by this run" in result.err
    )


def test_stdin_manifest(cli: CliRunner, api: Emulator, work: Path) -> None:
    result = cli("batch", "-", input=JSONL)
    assert result.code == 0 and len(api.requests("create")) == 4


def test_json_lines_per_outcome(cli: CliRunner, api: Emulator, work: Path) -> None:
    result = cli("batch", "m.jsonl", "--json")
    assert result.code == 0
    lines = sorted(result.json, key=lambda o: o["line"])
    assert [o["line"] for o in lines] == [1, 2, 3, 4]
    assert set(lines[0]) == {"line", "name", "task_id", "status", "files", "error"}
    assert lines[0]["name"] == "cat" and lines[0]["status"] == "completed"
    assert lines[0]["files"] == [] and lines[0]["error"] is None


def test_one_invalid_line_refuses_the_whole_batch(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    manifest = JSONL + '{"prompt": "x", "duration": 30}\n\n{"prompt": "y", "colour": "red"}\n[1]\n'
    result = cli("batch", "-", input=manifest)
    assert result.code == 2
    assert "error: line 5: duration: seedance-1.5-pro takes 4 to 12 seconds, got 30" in result.err
    assert "error: line 7: colour: unknown field" in result.err
    assert "error: line 8: not a JSON object" in result.err
    assert "error: 3 invalid lines in the manifest; nothing was sent" in result.err
    assert api.requests() == []


def test_csv_problems_are_named_by_line(cli: CliRunner, api: Emulator, work: Path) -> None:
    bad = "prompt,duration\nok,5\nbad,3\nshort\n"
    result = cli("batch", "-", input=bad)
    assert result.code == 2
    assert (
        "line 3: duration: seedance-1.5-pro takes 4 to 12" in result.err
        and "line 4: 1 cells for 2" in (result.err)
    )
    assert cli("batch", "-", input="prompt,size\nx,big\n").code == 2
    assert api.requests() == []


def test_duplicate_names_are_refused(cli: CliRunner, api: Emulator, work: Path) -> None:
    manifest = '{"prompt": "a", "name": "clip"}\n{"prompt": "b", "name": "Clip"}\n'
    result = cli("batch", "-", input=manifest)
    assert result.code == 2 and "line 2: name 'Clip' is also used on line 1" in result.err


def test_dry_run_checks_and_prints_without_sending(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    result = cli("batch", "m.csv", "--dry-run", "--json")
    assert result.code == 0
    *lines, total = result.json
    assert [o["body"] for o in lines] == EXPECTED
    assert [o["estimate"]["text"] for o in lines] == [
        "17.78 credits ($0.26)",
        "28.45 credits ($0.42)",
        "4.09 credits ($0.06)",
        "17.78 credits ($0.26)",
    ]
    assert total == {
        "total": {
            "count": 4,
            "priced": 4,
            "unpriced": 0,
            "low": 68.1127,
            "high": 68.1127,
            "usd_low": 1,
            "usd_high": 1,
            "text": "68.11 credits ($1.00)",
            "budget": None,
            "over_budget": [],
        }
    }
    assert api.requests() == []


# -- resumable: one create per line ----------------------------------------------------------------


def run_until_interrupted(cli: CliRunner, clock: FakeClock, args: list[str], sleeps: int) -> Result:
    """Run the CLI and press Ctrl-C at its ``sleeps``-th pause."""
    count = [0]

    def sleep(seconds: float) -> None:
        count[0] += 1
        if count[0] >= sleeps:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    return cli(*args, sleep=sleep)


def test_interrupted_batch_reruns_with_exactly_one_create_per_line(
    cli: CliRunner,
    api: Emulator,
    work: Path,
    clock: FakeClock,
) -> None:
    api.service.estimated_time = 0  # polled every 5 s: Ctrl-C comes while both still run
    first = run_until_interrupted(
        cli, clock, ["batch", "m.jsonl", "--concurrency", "2", "--output-dir", "out"], 3
    )
    assert first.code == 130
    assert "batch interrupted" in first.err
    assert "resume with: seedance batch m.jsonl --concurrency 2 --output-dir out" in first.err
    created_first = len(api.requests("create"))
    assert created_first == 2  # two in flight when Ctrl-C came
    second = cli("batch", "m.jsonl", "--concurrency", "2", "--output-dir", "out")
    assert second.code == 0, second.err
    creates = api.requests("create")
    assert len(creates) == 4
    keys = [r.idempotency_key for r in creates]
    assert len(set(keys)) == 4 and all(k and k.startswith("seedance-batch-") for k in keys)
    assert sorted(str(b["prompt"]) for b in bodies(api)) == sorted(
        str(b["prompt"]) for b in EXPECTED
    )
    assert "created by an earlier run" in second.err
    third = cli("batch", "m.jsonl", "--concurrency", "2", "--output-dir", "out")
    assert third.code == 0
    assert len(api.requests("create")) == 4 and len(api.requests("download")) == 4
    assert sorted(line.split("\t")[2] for line in third.lines) == ["completed"] * 4
    assert third.err.count("already saved") == 4


def test_a_changed_manifest_is_a_new_batch(cli: CliRunner, api: Emulator, work: Path) -> None:
    assert cli("batch", "m.jsonl").code == 0
    (work / "m.jsonl").write_text(JSONL + '{"prompt": "one more"}\n')
    assert cli("batch", "m.jsonl").code == 0
    assert len(api.requests("create")) == 9


def test_a_line_of_unknown_outcome_is_never_resent(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    api.add_fault("create:drop")
    first = cli("batch", "m.jsonl", "--concurrency", "1")
    assert first.code == 10
    assert "error: line 1: the create may have reached the server" in first.err
    assert len(api.requests("create")) == 4
    second = cli("batch", "m.jsonl", "--concurrency", "1")
    assert second.code == 10
    assert "line 1: an earlier run's create had an unknown outcome; not resent" in second.err
    assert len(api.requests("create")) == 4  # nothing created again
    assert "1\t\toutcome_unknown\t" in second.lines


# -- outcomes and exit codes -----------------------------------------------------------------------


def test_mixed_failures(cli: CliRunner, api: Emulator, work: Path) -> None:
    api.add_fault("task:fail:1:code=content_policy_violation")
    result = cli("batch", "m.jsonl", "--concurrency", "1")
    assert result.code == 8
    states = {line.split("\t")[0]: line.split("\t")[2] for line in result.lines}
    assert states == {"1": "failed", "2": "completed", "3": "completed", "4": "completed"}
    assert "content_policy_violation" in result.err
    assert "batch: 3 succeeded, 1 failed" in result.err


def test_deadline_reports_timed_out_lines_and_how_to_resume(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    api.add_fault("task:hang:1")
    result = cli("batch", "m.jsonl", "--timeout", "120")
    assert result.code == 9
    states = {line.split("\t")[0]: line.split("\t")[2] for line in result.lines}
    assert sorted(states.values()) == ["completed", "completed", "completed", "timed_out"]
    assert "resume with: seedance batch m.jsonl --concurrency 4 --timeout 120" in result.err


def test_failure_beats_deadline(cli: CliRunner, api: Emulator, work: Path) -> None:
    api.add_fault("task:hang:1")
    api.add_fault("task:fail:1")
    assert cli("batch", "m.jsonl", "--timeout", "120").code == 8


def test_a_429_storm_slows_the_whole_batch(cli: CliRunner, api: Emulator, work: Path) -> None:
    api.add_fault("any:429:5:retry-after=7")
    result = cli("batch", "m.jsonl", "--concurrency", "4")
    assert result.code == 0, result.err
    api.add_fault("any:429:4:retry-after=7")
    assert cli("batch", "m.csv", "--concurrency", "4").code == 0  # a storm mid-batch too
    records = api.requests()
    assert sum(r.status == 429 for r in records) == 9
    for earlier, later in itertools.pairwise(records):
        if earlier.status == 429:  # nothing at all was sent during the pause it asked for
            assert later.at - earlier.at >= 7
    assert len(api.service.tasks) == 8  # every line created once; the 429s created nothing


def test_existing_outputs_are_refused_before_anything_is_sent(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    (work / "out").mkdir()
    (work / "out" / "cat.mp4").write_bytes(b"mine")
    result = cli("batch", "m.jsonl", "--output-dir", "out")
    assert result.code == 2 and "line 1: out/cat.mp4 exists" in result.err
    assert api.requests() == []
    assert cli("batch", "m.jsonl", "--output-dir", "out", "--force").code == 0
    assert (work / "out" / "cat.mp4").read_bytes() == sample_video()


def test_batch_needs_a_usable_history(
    cli: CliRunner, api: Emulator, work: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("batch", "m.jsonl", env={"SEEDANCE_DATA_DIR": str(blocker / "d")})
    assert result.code == 3 and "a batch needs it to resume" in result.err
    assert api.requests() == []


def test_local_images_in_a_manifest_are_checked_first_then_uploaded(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    from .images import GIF_1X1, png_bytes

    (work / "frames").mkdir()
    (work / "frames" / "start.png").write_bytes(png_bytes(640, 360))
    (work / "frames" / "anim.png").write_bytes(GIF_1X1)
    good = '{"prompt": "from a frame", "image_urls": ["frames/start.png"]}\n'
    bad = '{"prompt": "from a gif", "image_urls": ["frames/anim.png"]}\n'
    refused = cli("batch", "-", input=good + bad)
    assert refused.code == 2 and "line 2: image_urls: " in refused.err
    assert "is a GIF file" in refused.err and api.requests() == []
    preview = cli("batch", "-", "--dry-run", "--json", input=good).json[0]["body"]
    assert preview["image_urls"] == [f"<file_url of the upload of {work / 'frames' / 'start.png'}>"]
    (work / "m2.jsonl").write_text(good)
    done = cli("batch", "m2.jsonl")
    assert done.code == 0, done.err
    assert [r.kind for r in api.requests()][:2] == ["upload", "create"]
    (stored,) = api.service.files.values()
    assert stored.data == (work / "frames" / "start.png").read_bytes()
    assert api.requests("create")[0].json()["image_urls"][0].endswith(stored.file_name)


# -- polls that fail: the engine of ``wait`` ------------------------------------------------------


def run_watched(
    cli: CliRunner,
    clock: FakeClock,
    args: list[str],
    at: tuple[float, Callable[[], object]] | None = None,
) -> Result:
    """Run the CLI on the fake clock; ``at`` = (seconds, action) acts once that much time has
    passed. A run still going after two hours of fake time fails the test rather than hang it."""
    start = clock.monotonic()
    pending = [at] if at is not None else []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        elapsed = clock.monotonic() - start
        if pending and elapsed >= pending[0][0]:
            pending.pop()[1]()
        assert elapsed < 7200, "the batch never ends"

    return cli(*args, sleep=sleep)


def test_a_line_whose_polls_keep_failing_ends_as_an_error_after_the_outage_limit(
    cli: CliRunner, api: Emulator, work: Path, clock: FakeClock
) -> None:
    (work / "one.jsonl").write_text('{"prompt": "A cat playing piano"}\n')
    api.add_fault("query:503:*")  # the task runs; no poll is ever answered
    start = clock.monotonic()
    result = run_watched(cli, clock, ["batch", "one.jsonl"])  # no --timeout
    assert result.code == 7, result.err
    ((number, task_id, status, path),) = [line.split("\t") for line in result.lines]
    assert (number, status, path) == ("1", "error", "") and task_id.startswith("task-")
    assert "error: line 1: Service temporarily unavailable" in result.err  # the last failure
    # the first poll waits for the task's estimated 60 s; then the outage is borne its limit
    assert DEFAULT_MAX_OUTAGE <= clock.monotonic() - start - 60 < DEFAULT_MAX_OUTAGE + 60
    assert "batch: 0 succeeded, 0 failed, 0 timed out, 1 errors" in result.err
    assert "resume with: seedance batch one.jsonl" in result.err  # its task may well finish


def test_a_line_unreachable_at_the_deadline_is_an_error_exit_7_not_timed_out(
    cli: CliRunner, api: Emulator, work: Path, clock: FakeClock
) -> None:
    (work / "two.jsonl").write_text('{"prompt": "hangs"}\n{"prompt": "finishes"}\n')
    api.add_fault("task:hang:1")  # line 1 runs forever; line 2 is done after 60 s
    outage = (90.0, lambda: api.add_fault("query:503:*"))  # then no poll is answered
    args = ["batch", "two.jsonl", "--timeout", "150", "--json"]
    result = run_watched(cli, clock, args, at=outage)
    assert result.code == 7, result.err
    rows = {row["line"]: row for row in result.json if "line" in row}
    assert rows[2]["status"] == "completed"
    assert rows[1]["status"] == "error" and rows[1]["task_id"]
    assert rows[1]["error"]["code"] == "unreachable"
    assert "its state is unknown" in rows[1]["error"]["message"]
    assert "still running" not in result.err
    assert "batch: 1 succeeded, 0 failed, 0 timed out, 1 errors" in result.err
    assert "resume with: seedance batch two.jsonl --concurrency 4 --timeout 150" in result.err


def test_lines_not_started_by_the_deadline_are_timed_out_and_say_so(
    cli: CliRunner, api: Emulator, work: Path
) -> None:
    api.add_fault("task:hang:1")
    result = cli("batch", "m.jsonl", "--concurrency", "1", "--timeout", "30")
    assert result.code == 9, result.err
    states = {line.split("\t")[0]: line.split("\t")[2] for line in result.lines}
    assert states == {"1": "timed_out", "2": "timed_out", "3": "timed_out", "4": "timed_out"}
    assert "still running after 30s" in result.err
    assert result.err.count("not started before the deadline") == 3
    assert len(api.requests("create")) == 1


def test_a_saved_file_is_hashed_once_per_run_yet_a_changed_one_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun checks each saved file before it starts and again as it runs: the second check
    does not read the file again while nothing about it changed; a file changed meanwhile (even
    to the same size) is read and found not intact."""
    import hashlib
    import os

    from seedance_cli import batch
    from seedance_cli.ledger import SavedFile

    video = tmp_path / "cat.mp4"
    video.write_bytes(b"x" * 1000)
    saved = SavedFile(0, str(video), hashlib.sha256(b"x" * 1000).hexdigest(), 1000, 0.0)
    reads: list[Path] = []
    from seedance_cli.download import file_sha256 as real

    def counted(path: Path) -> Any:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(batch, "file_sha256", counted)
    assert batch.intact(saved) and batch.intact(saved)
    assert len(reads) == 1
    video.write_bytes(b"y" * 1000)  # same size, other bytes
    os.utime(video, ns=(1, 1))
    assert not batch.intact(saved) and len(reads) == 2
