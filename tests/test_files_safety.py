"""Files: nothing written where it should not be, and results that are really results.

Names made from server data stay in their folder; links planted where seedance writes are never
followed; every body is checked on every path; every output path is checked before anything is
paid for; this machine's failures get their own exit codes; a completed task without a usable
result is not a success.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import json
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from seedance_cli import Client, GenerationRequest, Task
from seedance_cli import download as dl
from seedance_cli.download import download, part_path, result_name, safe_stem
from seedance_cli.emulator import Emulator, FakeClock, sample_video
from seedance_cli.errors import (
    ExitCode,
    ImageError,
    NoResult,
    NotAVideo,
    OutputUnusable,
    TargetExists,
    UnsafeFile,
    ValidationError,
)
from seedance_cli.images import MAX_JPEG_GARBAGE, dimensions, inspect_image
from seedance_cli.ledger import Ledger
from seedance_cli.session import Destination, Session

from .clirunner import CliRunner

VIDEO = sample_video()
VICTIM = b"the user's precious file"


@pytest.fixture
def done(client: Client, clock: FakeClock) -> Task:
    task = client.create_generation(GenerationRequest("A cat playing piano"))
    clock.advance(60)
    return client.get_task(task.id)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(VICTIM)
    return path


def fetch(client: Client, url: str, target: Path, **options: Any) -> dl.Saved:
    return download(
        client.open_result, url, target, retry=client.retry, sleep=lambda s: None, **options
    )


def downloads(emulator: Emulator) -> list[Any]:
    return emulator.requests("download")


# -- names made from server data -------------------------------------------------------------------

HOSTILE_IDS = [
    "../escape",
    "../../../../tmp/escape",
    "/etc/passwd",
    "a/b",
    "a\x00b",
    "..",
    ".hidden",
    "x" * 10_000,
    "task\nwith\tcontrols",
    "\u202etxt.exe",
    "",
]


@pytest.mark.parametrize("task_id", HOSTILE_IDS)
def test_names_from_hostile_task_ids_stay_in_their_folder(tmp_path: Path, task_id: str) -> None:
    folder = tmp_path / "out"
    for index in (0, 1):
        target = Destination(folder, True).target(task_id, index)
        assert target.parent == folder
        assert not target.name.startswith(".") and "\x00" not in target.name
        assert len(target.name.encode()) <= 200


def test_ordinary_task_ids_are_kept_and_different_ids_stay_apart() -> None:
    assert (
        result_name("task-unified-1757165031-abcd1234", 1)
        == "task-unified-1757165031-abcd1234-2.mp4"
    )
    names = {safe_stem(i) for i in [*HOSTILE_IDS, "a_b", "a/b/", "a//b"]}
    assert len(names) == len(HOSTILE_IDS) + 3


def test_a_hostile_task_id_saves_inside_the_folder(
    client: Client, done: Task, tmp_path: Path, out: Path
) -> None:
    # Task.from_api refuses such an id since the hostile-server work; the file names must not rely
    # on that alone, so the task is made here as an older or looser parser would have made it.
    task = dataclasses.replace(done, id="../../escape", raw=dict(done.raw, id="../../escape"))
    (saved,) = Session(Ledger(tmp_path / "h.sqlite3"), client).save(
        task, Destination(out, True), force=False
    )
    assert saved.path.parent == out and saved.path.read_bytes() == VIDEO
    assert not (tmp_path / "escape.mp4").exists() and not (out.parent / "escape.mp4").exists()


# -- links where seedance writes -------------------------------------------------------------------


@pytest.mark.parametrize("side", [".part", ".part.json"])
def test_a_link_at_part_files_is_refused_before_anything_is_fetched(
    client: Client, emulator: Emulator, done: Task, out: Path, victim: Path, side: str
) -> None:
    target = out / "cat.mp4"
    (out / f"cat.mp4{side}").symlink_to(victim)
    with pytest.raises(UnsafeFile) as info:
        fetch(client, done.results[0], target)
    assert "symbolic link" in info.value.message and info.value.exit_code == ExitCode.USAGE
    assert victim.read_bytes() == VICTIM and not target.exists()
    assert downloads(emulator) == []


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("force", [False, True])
def test_a_link_at_the_target_is_never_written_through_nor_replaced(
    client: Client,
    emulator: Emulator,
    done: Task,
    out: Path,
    victim: Path,
    force: bool,
    dangling: bool,
) -> None:
    target = out / "cat.mp4"
    pointee = out.parent / "nowhere" if dangling else victim
    target.symlink_to(pointee)
    with pytest.raises(UnsafeFile):
        fetch(client, done.results[0], target, force=force)
    assert target.is_symlink() and os.readlink(target) == str(pointee)
    assert victim.read_bytes() == VICTIM and not (out.parent / "nowhere").exists()
    assert downloads(emulator) == []


def test_a_hard_link_at_part_is_refused(
    client: Client, done: Task, out: Path, victim: Path
) -> None:
    os.link(victim, out / "cat.mp4.part")
    with pytest.raises(UnsafeFile) as info:
        fetch(client, done.results[0], out / "cat.mp4")
    assert "hard links" in info.value.message and victim.read_bytes() == VICTIM


def test_a_part_file_of_another_user_is_neither_resumed_nor_written(
    client: Client, emulator: Emulator, done: Task, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = VIDEO[:1000]
    (out / "cat.mp4.part").write_bytes(planted)
    real = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: real + 1)  # the files are someone else's now
    with pytest.raises(UnsafeFile) as info:
        fetch(client, done.results[0], out / "cat.mp4")
    assert "belongs to another user" in info.value.message
    assert (out / "cat.mp4.part").read_bytes() == planted and downloads(emulator) == []


def test_a_fifo_at_part_is_refused_without_blocking(client: Client, done: Task, out: Path) -> None:
    os.mkfifo(out / "cat.mp4.part")
    with pytest.raises(UnsafeFile):
        fetch(client, done.results[0], out / "cat.mp4")


def test_a_link_planted_after_the_checks_is_not_followed(
    client: Client, done: Task, out: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks come first; the open itself still refuses a link (O_NOFOLLOW), whatever the race."""
    target = out / "cat.mp4"
    save_meta = dl._save_meta

    def plant(path: Path, meta: Any) -> None:
        save_meta(path, meta)
        part_path(target).unlink(missing_ok=True)
        part_path(target).symlink_to(victim)

    monkeypatch.setattr(dl, "_save_meta", plant)
    with pytest.raises(UnsafeFile):
        fetch(client, done.results[0], target)
    assert victim.read_bytes() == VICTIM and not target.exists()


def test_the_temporary_file_of_part_json_cannot_be_planted(
    client: Client, done: Task, out: Path, victim: Path
) -> None:
    planted = ["cat.mp4.part.json.tmp", ".cat.mp4.part.json.tmp", ".seedance-.part.json.tmp"]
    for name in planted:
        (out / name).symlink_to(victim)
    fetch(client, done.results[0], out / "cat.mp4")
    assert victim.read_bytes() == VICTIM and (out / "cat.mp4").read_bytes() == VIDEO
    assert sorted(p.name for p in out.iterdir()) == sorted(["cat.mp4", *planted])


def test_the_longest_file_name_that_fits_is_saved_and_one_too_long_is_refused_first(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    longest = "c" * (255 - len(".mp4.part.json")) + ".mp4"
    result = cli("generate", "A cat", "-o", longest)
    assert result.code == 0, result.err
    assert result.out == f"{longest}\n" and (here / longest).read_bytes() == VIDEO
    too_long = "d" + longest
    result = cli("generate", "A cat", "-o", too_long)
    assert result.code == 2 and result.out == "" and "File name too long" in result.err
    assert creates(api) == 1


@pytest.mark.parametrize("force", [False, True])
def test_something_appearing_at_the_target_meanwhile_is_not_clobbered(
    client: Client, done: Task, out: Path, victim: Path, force: bool
) -> None:
    target = out / "cat.mp4"

    def appear(done_bytes: int, total: int | None) -> None:
        if not os.path.lexists(target):
            if force:
                target.symlink_to(victim)
            else:
                target.write_bytes(b"written meanwhile")

    with pytest.raises(UnsafeFile if force else TargetExists):
        fetch(client, done.results[0], target, force=force, on_progress=appear)
    assert victim.read_bytes() == VICTIM
    if force:
        assert target.is_symlink()
    else:
        assert target.read_bytes() == b"written meanwhile"


def test_cli_link_at_part_is_exit_2_before_anything_is_fetched(
    cli: CliRunner, api: Emulator, clock: FakeClock, here: Path, victim: Path
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    (here / "cat.mp4.part").symlink_to(victim)
    result = cli("download", task_id, "-o", "cat.mp4")
    assert result.code == 2 and result.out == ""
    assert (
        result.err.startswith("error: cat.mp4.part is a symbolic link")
        and "Traceback" not in result.err
    )
    assert victim.read_bytes() == VICTIM and api.requests("download") == []


# -- bodies checked on every path ------------------------------------------------------------------


@contextlib.contextmanager
def result_host(
    answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]],
) -> Iterator[str]:
    """A hand-written result host on 127.0.0.1 answering every GET with ``answer(request)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/results/x.mp4"
    finally:
        server.shutdown()
        server.server_close()


MP4 = {"Content-Type": "video/mp4"}


def test_an_empty_video_is_never_saved(client: Client, out: Path) -> None:
    with result_host(lambda r: (200, MP4, b"")) as url, pytest.raises(NotAVideo) as info:
        fetch(client, url, out / "cat.mp4")
    assert "empty" in info.value.message and info.value.exit_code == ExitCode.UNAVAILABLE
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "body",
    [
        struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00",  # a header and nothing else
        b"\x00\x00\x00\x08",  # four bytes
    ],
)
def test_a_file_that_is_not_a_playable_mp4_is_never_saved(
    client: Client, out: Path, body: bytes
) -> None:
    with result_host(lambda r: (200, MP4, body)) as url, pytest.raises(NotAVideo):
        fetch(client, url, out / "cat.mp4")
    assert list(out.iterdir()) == []


def test_a_whole_file_answered_with_206_to_a_plain_get_is_saved(client: Client, out: Path) -> None:
    seen: list[str | None] = []

    def answer(request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        seen.append(request.headers.get("Range"))
        return 206, {**MP4, "Content-Range": f"bytes 0-{len(VIDEO) - 1}/{len(VIDEO)}"}, VIDEO

    with result_host(answer) as url:
        saved = fetch(client, url, out / "cat.mp4")
    assert (out / "cat.mp4").read_bytes() == VIDEO and saved.size == len(VIDEO)
    assert seen == [None] and sorted(p.name for p in out.iterdir()) == ["cat.mp4"]


def test_an_empty_206_is_never_saved(client: Client, out: Path) -> None:
    with result_host(lambda r: (206, {**MP4, "Content-Range": "bytes 0-0/*"}, b"")) as url:
        with pytest.raises(NotAVideo):
            fetch(client, url, out / "cat.mp4")
    assert list(out.iterdir()) == []


def test_a_resumed_part_that_is_not_a_video_starts_over(
    client: Client, emulator: Emulator, done: Task, out: Path
) -> None:
    target = out / "cat.mp4"
    part_path(target).write_bytes(b"<html>not a video</html>" * 40)
    fetch(client, done.results[0], target)
    assert target.read_bytes() == VIDEO
    assert [r.status for r in downloads(emulator)] == [206, 200]


@pytest.mark.parametrize("junk", ["[" * 100_000, "\xff\xfe", '{"total": "many", "etag": 7}', "{"])
def test_a_corrupt_part_json_is_as_good_as_none(
    client: Client, done: Task, out: Path, junk: str
) -> None:
    target = out / "cat.mp4"
    (out / "cat.mp4.part.json").write_text(junk, encoding="latin-1")
    fetch(client, done.results[0], target)
    assert target.read_bytes() == VIDEO


# -- output paths checked before anything is paid for ----------------------------------------------


def creates(api: Emulator) -> int:
    return len(api.requests("create"))


@pytest.mark.parametrize("output", ["out/cat.mp4", "out/", "out/sub/cat.mp4"])
def test_generate_output_under_a_file_is_refused_before_the_create(
    cli: CliRunner, api: Emulator, here: Path, output: str
) -> None:
    (here / "out").write_text("a file")
    result = cli("generate", "A cat", "-o", output)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and "out is a file, not a folder" in result.err
    assert creates(api) == 0


def test_generate_output_in_a_folder_not_writable_is_refused_before_the_create(
    cli: CliRunner, api: Emulator, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: Path(p).name != "ro" and real(p, m, **k))
    for output in ("ro/cat.mp4", "ro/", "ro/new/cat.mp4"):
        result = cli("generate", "A cat", "-o", output)
        assert result.code == 2 and result.out == "", output
        assert "the folder ro is not writable" in result.err
    assert creates(api) == 0


@pytest.mark.parametrize("output", ["x" * 300 + ".mp4", "x" * 300 + "/cat.mp4"])
def test_generate_output_with_an_impossible_name_is_exit_2(
    cli: CliRunner, api: Emulator, here: Path, output: str
) -> None:
    result = cli("generate", "A cat", "-o", output)
    assert result.code == 2 and result.out == "" and "internal error" not in result.err
    assert creates(api) == 0


def test_output_dir_from_the_profile_with_a_nul_is_exit_2(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    result = cli("download", task_id, env={"SEEDANCE_PROFILE": "default"})
    assert result.code == 0  # the current folder
    config = Path(os.environ["SEEDANCE_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[profiles.default]\noutput_dir = "a\\u0000b"\n')
    config.chmod(0o600)
    result = cli("download", task_id, "--force")
    assert result.code in (2, 3) and "internal error" not in result.err


def test_wait_output_file_that_exists_is_refused_before_waiting(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    (here / "cat.mp4").write_bytes(b"precious")
    queries = len(api.requests("query"))
    result = cli("wait", task_id, "-o", "cat.mp4")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: cat.mp4 exists; not overwritten")
    assert len(api.requests("query")) == queries
    assert (here / "cat.mp4").read_bytes() == b"precious"


def test_download_output_under_a_file_is_refused_before_fetching(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    (here / "out").write_text("a file")
    queries = len(api.requests("query"))
    result = cli("download", task_id, "-o", "out/cat.mp4")
    assert result.code == 2 and "out is a file, not a folder" in result.err
    assert len(api.requests("query")) == queries and api.requests("download") == []


def test_batch_output_dir_that_is_a_file_is_refused_before_any_create(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "videos.jsonl").write_text('{"prompt": "A cat"}\n')
    (here / "out").write_text("a file")
    result = cli("batch", "videos.jsonl", "--output-dir", "out")
    assert result.code == 2 and result.out == ""
    assert "out is a file, not a folder" in result.err
    assert creates(api) == 0


def test_batch_output_file_that_is_a_link_is_refused_before_any_create(
    cli: CliRunner, api: Emulator, here: Path, victim: Path
) -> None:
    (here / "videos.jsonl").write_text('{"prompt": "A cat", "name": "cat"}\n')
    (here / "out").mkdir()
    (here / "out" / "cat.mp4").symlink_to(victim)
    result = cli("batch", "videos.jsonl", "--output-dir", "out", "--force")
    assert result.code == 2 and "symbolic link" in result.err
    assert creates(api) == 0 and victim.read_bytes() == VICTIM


# -- this machine's failures: their own exit codes, never 1 ----------------------------------------


class _Full(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dl, "_open_part", lambda part, append: io.BufferedWriter(_Full()))


def test_download_on_a_full_disk_is_exit_7_with_a_clear_message(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock, disk_full: None
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    result = cli("download", task_id, "-o", "cat.mp4")
    assert result.code == 7 and result.out == ""
    assert "cannot write cat.mp4.part: no space left on the device" in result.err
    assert "the download resumes" in result.err
    assert "internal error" not in result.err


def test_generate_on_a_full_disk_says_how_to_download_never_to_create_again(
    cli: CliRunner, api: Emulator, here: Path, disk_full: None
) -> None:
    """The task is made and paid for: the hint is the download that saves it, never "run the
    same command again", which would create (and pay for) a second task."""
    result = cli("generate", "A cat", "-o", "cat.mp4")
    assert result.code == 7
    task_id = api.requests("query")[0].path.rsplit("/", 1)[-1]
    assert f"then: seedance download {task_id} -o cat.mp4" in result.err
    assert "same command" not in result.err and "run again" not in result.err
    assert "the download resumes" in result.err
    assert len(api.requests("create")) == 1


def test_batch_on_a_full_disk_is_exit_7_not_1(
    cli: CliRunner, api: Emulator, here: Path, disk_full: None
) -> None:
    (here / "videos.jsonl").write_text('{"prompt": "A cat"}\n')
    result = cli("batch", "videos.jsonl", "--output-dir", "out")
    assert result.code == 7
    assert "no space left on the device" in result.err and "internal error" not in result.err


def test_a_folder_refused_while_saving_after_paying_is_exit_2_with_the_command_that_saves(
    cli: CliRunner, api: Emulator, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("cat.mp4.part"):  # passes the checks, fails when it is written
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    result = cli("generate", "A cat", "-o", "clips/cat.mp4")
    assert result.code == 2 and result.out == ""
    assert "Permission denied" in result.err
    assert "then: seedance download task-unified-" in result.err
    assert result.err.rstrip().endswith("-o clips/cat.mp4") and "internal error" not in result.err


def test_a_folder_where_part_json_goes_is_exit_2(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    (here / "cat.mp4.part.json").mkdir()
    result = cli("download", task_id, "-o", "cat.mp4")
    assert result.code == 2 and "cat.mp4.part.json is not a regular file" in result.err


# -- completed without a usable result -------------------------------------------------------------

UNUSABLE: list[Any] = [
    None,
    [],
    ["not a url"],
    [""],
    [123],
    "https://x.test/a.mp4",
    ["file:///etc/passwd"],
]


@pytest.fixture(params=UNUSABLE, ids=lambda v: repr(v)[:20])
def unusable(request: pytest.FixtureRequest, api: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    value = request.param
    render = api.service.render

    def broken(task: Any, now: float) -> dict[str, Any]:
        out = render(task, now)
        if out["status"] == "completed":
            if value is None:
                out.pop("results", None)
            else:
                out["results"] = value
        return out

    monkeypatch.setattr(api.service, "render", broken)
    return value


def test_wait_for_a_task_without_a_usable_result_is_exit_8(
    cli: CliRunner, unusable: Any, clock: FakeClock
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    result = cli("wait", task_id)
    assert result.code == 8 and result.out == ""
    assert f"error: task {task_id} completed without a usable result" in result.err


def test_generate_wait_without_a_usable_result_is_exit_8(cli: CliRunner, unusable: Any) -> None:
    result = cli("generate", "A cat", "--wait")
    assert result.code == 8 and result.out == ""
    assert "completed without a usable result" in result.err


def test_download_without_a_usable_result_is_exit_8(
    cli: CliRunner, unusable: Any, clock: FakeClock, here: Path
) -> None:
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    result = cli("download", task_id, "--json")
    assert result.code == 8
    assert json.loads(result.out.splitlines()[-1])["error"]["code"] == "no_result"
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("output", [[], ["--output-dir", "out"]])
def test_batch_line_without_a_usable_result_fails(
    cli: CliRunner, unusable: Any, here: Path, output: list[str]
) -> None:
    (here / "videos.jsonl").write_text('{"prompt": "A cat"}\n')
    result = cli("batch", "videos.jsonl", *output)
    assert result.code == 8
    assert result.out.split("\t")[2] == "failed"
    assert "completed without a usable result" in result.err


def test_saving_refuses_a_task_without_usable_results(
    client: Client, done: Task, tmp_path: Path, out: Path
) -> None:
    task = Task.from_api(dict(done.raw, results=[]))
    with pytest.raises(NoResult) as info:
        Session(Ledger(tmp_path / "h.sqlite3"), client).save(
            task, Destination(out, True), force=False
        )
    assert info.value.exit_code == ExitCode.TASK_FAILED and list(out.iterdir()) == []


# -- local images: bounded reads -------------------------------------------------------------------


def test_a_huge_file_that_starts_like_a_jpeg_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as handle:
        handle.write(b"\xff\xd8\xff\xe0")
        handle.truncate(3 * 1024**3)  # sparse: 3 GB of nothing

    def no_reading(*args: Any) -> Any:
        raise AssertionError("the headers were read")

    monkeypatch.setattr("seedance_cli.images.dimensions", no_reading)
    with pytest.raises(ValidationError) as info:
        inspect_image(path)
    assert "seedance-1.5-pro takes at most 10 MB" in str(info.value)


def test_the_jpeg_walk_reads_a_bounded_amount(tmp_path: Path) -> None:
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Counting.read_bytes += len(data)
            return data

    handle = Counting(b"\xff\xd8" + b"\x00" * 1_000_000)
    with pytest.raises(ImageError):
        dimensions(handle, "JPEG")
    assert Counting.read_bytes <= MAX_JPEG_GARBAGE + 16


def test_a_fifo_given_as_an_image_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    os.mkfifo(path)
    with pytest.raises(ValidationError) as info:
        inspect_image(path)
    assert "not a regular file" in str(info.value)


def test_a_broken_link_in_the_output_path_is_exit_2_before_the_create(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "clips").symlink_to(here / "gone")
    result = cli("generate", "A cat", "-o", "clips/cat.mp4")
    assert result.code == 2 and result.out == ""
    assert "clips is a broken symbolic link" in result.err
    assert creates(api) == 0


def test_output_unusable_is_a_usage_error() -> None:
    assert OutputUnusable("x").exit_code == ExitCode.USAGE


# -- two processes, one file -----------------------------------------------------------------------


def test_two_processes_downloading_one_file_never_mix_their_bytes(tmp_path: Path) -> None:
    """A real second process finds the first one's lock on ``.part`` and stops at once (exit 7);
    the first saves the file intact."""
    import subprocess

    from .test_cli_process import completed_task, env_for, seedance

    with Emulator(task_seconds=0.3, result_size=4_000_000) as emu:
        emu.add_fault("download:stall:1:seconds=3")
        task_id = completed_task(emu)
        target = tmp_path / "dl" / "cat.mp4"
        part = part_path(target)
        first = subprocess.Popen(
            seedance("download", task_id, "-o", str(target)),
            env=env_for(emu),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 0):
            time.sleep(0.05)
        second = subprocess.run(
            seedance("download", task_id, "-o", str(target), "--force"),
            env=env_for(emu),
            capture_output=True,
            text=True,
            timeout=30,
        )
        out, err = first.communicate(timeout=30)
        assert second.returncode == 7 and second.stdout == ""
        assert f"error: {task_id}: another seedance is downloading to {part} right now" in (
            second.stderr
        )
        assert first.returncode == 0, err
        assert out == f"{target}\n" and target.read_bytes() == emu.service.video
        assert sorted(p.name for p in target.parent.iterdir()) == ["cat.mp4"]


@pytest.mark.parametrize("name", ["a\x00b.png", "x" * 5000 + ".png"])
def test_an_impossible_image_path_is_a_validation_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError):
        inspect_image(tmp_path / name)


def test_batch_image_path_with_a_nul_is_exit_2_not_1(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "videos.jsonl").write_text(
        json.dumps({"prompt": "A cat", "image_urls": ["a\x00b.png"]})
    )
    result = cli("batch", "videos.jsonl")
    assert result.code == 2 and result.out == "" and "internal error" not in result.err
    assert creates(api) == 0


def test_download_of_several_tasks_refuses_a_link_at_any_target_first(
    cli: CliRunner, api: Emulator, here: Path, clock: FakeClock, victim: Path
) -> None:
    ids = [cli("generate", "A cat").out.strip() for _ in range(2)]
    clock.advance(60)
    (here / "out").mkdir()
    (here / "out" / f"{ids[1]}.mp4").symlink_to(victim)
    result = cli("download", *ids, "-o", "out/")
    assert result.code == 2 and result.out == ""
    assert f"out/{ids[1]}.mp4 is a symbolic link" in result.err
    assert api.requests("download") == [] and victim.read_bytes() == VICTIM
    assert sorted(p.name for p in (here / "out").iterdir()) == [f"{ids[1]}.mp4"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:99999/v.mp4", "http://127.0.0.1:port/v.mp4"],
)
def test_a_result_url_with_a_bad_port_or_host_is_exit_7_not_a_bug(
    cli: CliRunner,
    api: Emulator,
    clock: FakeClock,
    here: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    render = api.service.render

    def bad_port(task: Any, now: float) -> dict[str, Any]:
        out = render(task, now)
        if out["status"] == "completed":
            out["results"] = [url]
        return out

    monkeypatch.setattr(api.service, "render", bad_port)
    task_id = cli("generate", "A cat").out.strip()
    clock.advance(60)
    result = cli("download", task_id, "-o", "cat.mp4")
    assert result.code == 7 and result.out == ""
    assert "cannot fetch a result from" in result.err and "internal error" not in result.err
    assert list(here.iterdir()) == []


def test_an_output_folder_that_cannot_be_made_is_exit_2_before_paying(
    cli: CliRunner, api: Emulator
) -> None:
    """Root passes every permission check, and /proc refuses new folders anyway: only making the
    folder (and writing in it) before the create tells."""
    result = cli("generate", "A cat", "-o", "/proc/seedance-nope/cat.mp4")
    assert result.code == 2 and result.out == ""
    assert "cannot make or write the folder /proc/seedance-nope" in result.err
    assert api.requests() == []


def test_a_dry_run_makes_no_folder_and_a_real_run_makes_it_before_the_create(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    assert cli("generate", "A cat", "-o", "new/cat.mp4", "--dry-run").code == 0
    assert not (here / "new").exists()
    assert (
        cli("batch", "-", "--output-dir", "made", "--dry-run", input='{"prompt": "x"}\n').code == 0
    )
    assert not (here / "made").exists()
    result = cli("generate", "A cat", "-o", "new/cat.mp4")
    assert result.code == 0, result.err
    assert (here / "new" / "cat.mp4").is_file() and [p.name for p in (here / "new").iterdir()] == [
        "cat.mp4"
    ]  # the write probe left nothing behind


def test_batch_dry_run_refuses_an_existing_output_file_as_the_real_run_would(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "out").mkdir()
    (here / "out" / "1.mp4").write_bytes(b"mine")
    result = cli("batch", "-", "--output-dir", "out", "--dry-run", input='{"prompt": "x"}\n')
    assert result.code == 2 and "out/1.mp4 exists" in result.err
    assert (here / "out" / "1.mp4").read_bytes() == b"mine" and api.requests() == []
