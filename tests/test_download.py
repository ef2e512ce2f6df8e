"""Downloads against the emulator's result host: resume, restart, checks, expiry, no key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from seedance_cli import Client, GenerationRequest, RetryPolicy, Task
from seedance_cli.download import Saved, download, part_path, result_name
from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.errors import (
    ExitCode,
    NotAVideo,
    ResultExpired,
    ResultGone,
    ServerError,
    ServiceError,
    TargetExists,
)
from seedance_cli.ledger import Ledger
from seedance_cli.session import Destination, Session

from .conftest import MakeClient

VIDEO = sample_video()


@pytest.fixture
def done(client: Client, clock: FakeClock) -> str:
    """A completed task; returns its result URL."""
    task = client.create_generation(GenerationRequest("A cat playing piano"))
    clock.advance(60)
    url = client.get_task(task.id).video_url
    assert url is not None
    return url


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def fetch(
    client: Client,
    url: str,
    target: Path,
    *,
    force: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Saved:
    return download(
        client.open_result,
        url,
        target,
        retry=client.retry,
        sleep=lambda s: None,
        force=force,
        on_progress=on_progress,
    )


def downloads(emulator: Emulator) -> list[dict[str, str]]:
    return [r.headers for r in emulator.requests("download")]


def test_whole_download(client: Client, emulator: Emulator, done: str, out: Path) -> None:
    target = out / "cat.mp4"
    seen: list[tuple[int, int | None]] = []
    saved = fetch(client, done, target, on_progress=lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == VIDEO
    assert saved.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert sorted(p.name for p in out.iterdir()) == ["cat.mp4"]  # no .part, no .part.json
    assert seen[-1] == (len(VIDEO), len(VIDEO))
    (headers,) = downloads(emulator)
    assert "authorization" not in headers and headers["user-agent"].startswith("seedance-cli/")


def test_body_cut_midway_is_resumed_with_range(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    emulator.add_fault("download:truncate")
    target = out / "cat.mp4"
    saved = fetch(client, done, target)
    assert target.read_bytes() == VIDEO
    first, second = downloads(emulator)
    assert "range" not in first
    half = len(VIDEO) // 2
    assert second["range"] == f"bytes={half}-"
    assert second["if-range"].startswith('"')  # the ETag of the first answer
    assert saved.resumed_from == 0


def test_server_ignoring_range_starts_over_cleanly(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    emulator.add_fault("download:truncate")
    emulator.add_fault("download:ignore-range")
    target = out / "cat.mp4"
    fetch(client, done, target)
    assert target.read_bytes() == VIDEO  # not half + whole
    assert [r.status for r in emulator.requests("download")] == [200, 200]


def test_resume_from_a_part_left_by_an_earlier_run(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    target = out / "cat.mp4"
    part_path(target).write_bytes(VIDEO[:1000])
    saved = fetch(client, done, target)
    assert target.read_bytes() == VIDEO
    assert downloads(emulator)[0]["range"] == "bytes=1000-"
    assert saved.resumed_from == 1000
    assert [r.status for r in emulator.requests("download")] == [206]


def test_stale_part_with_changed_validator_is_replaced(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    target = out / "cat.mp4"
    part_path(target).write_bytes(b"x" * 1000)
    target.with_name("cat.mp4.part.json").write_text('{"etag": "\\"old\\"", "total": 54699}')
    fetch(client, done, target)
    assert target.read_bytes() == VIDEO
    assert downloads(emulator)[0]["if-range"] == '"old"'
    assert [r.status for r in emulator.requests("download")] == [200]


def test_wrong_length_is_caught_and_fetched_again(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    emulator.add_fault("download:short")
    target = out / "cat.mp4"
    fetch(client, done, target)
    assert target.read_bytes() == VIDEO
    assert len(emulator.requests("download")) == 2


def test_persistently_short_file_is_never_saved(
    make_client: MakeClient, emulator: Emulator, done: str, out: Path
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3))
    emulator.add_fault("download:short:*")
    target = out / "cat.mp4"
    with pytest.raises(ServiceError) as info:
        fetch(client, done, target)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert "incomplete" in info.value.message
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("fault", ["download:html", "download:json"])
def test_error_page_with_200_is_never_saved_as_mp4(
    client: Client, emulator: Emulator, done: str, out: Path, fault: str
) -> None:
    emulator.add_fault(fault)
    target = out / "cat.mp4"
    with pytest.raises(NotAVideo) as info:
        fetch(client, done, target)
    assert "instead of a video" in info.value.message
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert list(out.iterdir()) == []


def test_transient_result_host_errors_are_retried(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    emulator.add_fault("download:503:2")
    emulator.add_fault("download:drop")
    target = out / "cat.mp4"
    fetch(client, done, target)
    assert target.read_bytes() == VIDEO
    assert [r.status for r in emulator.requests("download")] == [503, 503, None, 200]


def test_existing_file_needs_force(client: Client, done: str, out: Path) -> None:
    target = out / "cat.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(TargetExists) as info:
        fetch(client, done, target)
    assert info.value.exit_code == ExitCode.USAGE and target.read_bytes() == b"precious"
    fetch(client, done, target, force=True)
    assert target.read_bytes() == VIDEO


def test_gone_url_is_reported_as_such(
    client: Client, emulator: Emulator, done: str, out: Path
) -> None:
    emulator.add_fault("download:410")
    with pytest.raises(ResultGone) as info:
        fetch(client, done, out / "cat.mp4")
    assert info.value.status == 410


def test_results_on_another_origin_never_get_the_key(clock: FakeClock, out: Path) -> None:
    with (
        Emulator(clock=clock, second_origin=True, task_seconds=10) as emu,
        Client("sk-secret-key-000000", base_url=emu.url, sleep=clock.sleep) as client,
    ):
        task = client.create_generation(GenerationRequest("x"))
        clock.advance(10)
        url = client.get_task(task.id).video_url
        assert url is not None and url.startswith(emu.results_url)
        fetch(client, url, out / "x.mp4")
        (record,) = emu.requests("download")
        assert not record.has_authorization


# -- through the job layer: fresh URLs and the ledger ----------------------------------------------


def completed(client: Client, clock: FakeClock) -> Task:
    task = client.create_generation(GenerationRequest("A cat playing piano"))
    clock.advance(60)
    return client.get_task(task.id)


def test_expired_url_gets_one_fresh_try(
    client: Client, emulator: Emulator, clock: FakeClock, out: Path
) -> None:
    task = completed(client, clock)
    ledger = Ledger(out / "data", clock=clock.time)
    emulator.add_fault("download:403")
    saved = Session(ledger, client, sleep=clock.sleep).save(
        task, Destination(out / "out", True), force=False
    )
    assert saved[0].path.read_bytes() == VIDEO
    kinds = [r.kind for r in emulator.requests()][-3:]
    assert kinds == ["download", "query", "download"]  # refused, re-queried, fetched
    entry = ledger.entry(task.id)
    assert entry is not None and entry.files[0].sha256 == hashlib.sha256(VIDEO).hexdigest()


def test_result_expired_for_good_says_results_live_24_hours(
    client: Client, emulator: Emulator, clock: FakeClock, out: Path
) -> None:
    task = completed(client, clock)
    clock.advance(24 * 3600)
    ledger = Ledger(out / "data", clock=clock.time)
    with pytest.raises(ResultExpired) as info:
        Session(ledger, client, sleep=clock.sleep).save(task, Destination(out, True), force=False)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert "24 hours" in (info.value.hint or "")
    assert [p.name for p in out.iterdir()] == ["data"]  # the ledger's folder, and no video


def test_names_of_results() -> None:
    assert result_name("task-1", 0) == "task-1.mp4"
    assert result_name("task-1", 1) == "task-1-2.mp4"
    assert result_name("task-1", 1, base=Path("cat.mp4")) == "cat-2.mp4"
    folder = Destination.from_option("out/", default_dir=None, several=False)
    assert folder.is_dir and folder.target("t", 0) == Path("out/t.mp4")
    single = Destination.from_option("clips/cat.mp4", default_dir=None, several=False)
    assert not single.is_dir and single.target("t", 1) == Path("clips/cat-2.mp4")
    assert Destination.from_option(None, default_dir="~/videos", several=False).path == (
        Path("~/videos").expanduser()
    )
    assert Destination.from_option("many", default_dir=None, several=True).is_dir


def test_a_sessions_download_retries_are_traced_and_end_by_the_waits_deadline(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, out: Path
) -> None:
    """The result host fails like the API can (503s): the retries go through the one retry
    loop, say so in the --verbose trace, and start none that would end after the deadline."""
    lines: list[str] = []
    client = make_client(trace=lines.append)
    task = completed(client, clock)
    emulator.add_fault("download:503:*")
    session = Session(
        Ledger(out / "data", clock=clock.time), client, sleep=clock.sleep, clock=clock.monotonic
    )
    started = clock.monotonic()
    with pytest.raises(ServerError):
        session.save(task, Destination(out, True), force=False, deadline=started + 2.0)
    retries = [line for line in lines if line.startswith("* retry ")]
    assert retries and "HTTP 503" in retries[0]
    assert len(emulator.requests("download")) == len(retries) + 1 < 6  # cut by the deadline
    assert clock.monotonic() - started <= 2.0


def test_without_a_deadline_a_download_gets_every_attempt(
    make_client: MakeClient, emulator: Emulator, clock: FakeClock, out: Path
) -> None:
    client = make_client()
    task = completed(client, clock)
    emulator.add_fault("download:503:*")
    session = Session(Ledger(out / "data", clock=clock.time), client, sleep=clock.sleep)
    with pytest.raises(ServerError):
        session.save(task, Destination(out, True), force=False)
    assert len(emulator.requests("download")) == RetryPolicy().max_attempts
