"""Scale (issue 14): polls scheduled from what the API says, many tasks per request with a
fallback that nothing depends on, and the emulator's task batch and task list endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_cli import Client, GenerationRequest
from seedance_cli import client as client_module
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.errors import AuthenticationError, NotFoundError
from seedance_cli.models import Task
from seedance_cli.waiting import COALESCE, MAX_ESTIMATE_WAIT, Poller, wait_for_tasks

from .clirunner import CliRunner
from .conftest import TEST_KEY, MakeClient

PROMPT = "A cat playing piano"
REQUEST = GenerationRequest(PROMPT)
A, B = "task-unified-1767225600-aaaaaaaa", "task-unified-1767225600-bbbbbbbb"
C = "task-unified-1767225600-cccccccc"
MISSING = "task-unified-1761313744-zzzzzzzz"


@pytest.fixture(autouse=True)
def fast_path_unknown() -> Iterator[None]:
    client_module.batch_unavailable.clear()
    client_module.batch_paused.clear()
    yield
    client_module.batch_unavailable.clear()
    client_module.batch_paused.clear()


def task(task_id: str, status: str = "processing", **fields: Any) -> Task:
    return Task.from_api({"id": task_id, "status": status, **fields})


# -- the schedule ----------------------------------------------------------------------------------


def test_a_created_task_is_first_polled_when_its_estimate_says_it_ends(clock: FakeClock) -> None:
    poller = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    t = clock.monotonic()
    created = int(clock.time())
    poller.add(A, task=task(A, "pending", created=created, task_info={"estimated_time": 165}))
    assert poller.wake() == t + 165  # not at 5, 10, ...: no result can exist before
    # an absurd estimate is not believed past ten minutes
    other = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    other.add(B, task=task(B, "pending", created=created, task_info={"estimated_time": 86400}))
    assert other.wake() == t + MAX_ESTIMATE_WAIT


def test_a_task_seen_later_counts_its_estimate_from_its_creation(clock: FakeClock) -> None:
    poller = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    t = clock.monotonic()
    poller.add(A)  # `seedance wait ID`: asked at once
    assert poller.due() == [A]
    made_100_s_ago = int(clock.time()) - 100
    seen = task(A, "pending", created=made_100_s_ago, task_info={"estimated_time": 165})
    assert poller.record(A, seen, sent=t) is None
    # 165 s from its creation, less 100 s already gone (and the second ``created`` may hide)
    wake = poller.wake()
    assert wake is not None and t + 64 <= wake <= t + 66


def test_a_running_task_is_polled_when_its_progress_rate_says_it_ends_within_the_interval(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    t = clock.monotonic()
    poller.add(A)
    assert poller.record(A, task(A, progress=50), sent=t) is None
    assert poller.wake() == t + 5  # one figure and no creation time: the interval
    assert poller.record(A, task(A, progress=80), sent=t + 5) is None
    # 30 points in 5 s: the last 20 take 3.33 s, sooner than the interval
    assert poller.wake() == pytest.approx(t + 5 + 20 / 6)
    assert poller.record(A, task(A, progress=81), sent=t + 9, now=t + 9) is None
    assert poller.wake() == t + 14  # slower now (76 s to go): the interval caps the wait


def test_an_overdue_task_is_polled_sooner_as_it_gets_later_never_faster_than_the_floor(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    t = clock.monotonic()
    created = int(clock.time())
    poller.add(A, task=task(A, "pending", created=created, task_info={"estimated_time": 10}))
    assert poller.wake() == t + 10
    clock.sleep(10)
    assert poller.record(A, task(A, "pending", created=created)) is None  # late, no progress
    assert poller.wake() == t + 11  # the floor: 1 s
    clock.sleep(1)
    assert poller.record(A, task(A, "pending", created=created)) is None
    assert poller.wake() == t + 12
    clock.sleep(6)  # 7 s overdue: half of it
    assert poller.record(A, task(A, "pending", created=created)) is None
    assert poller.wake() == t + 20.5
    clock.sleep(3)  # 10 s overdue: 5 s, the interval; never more
    assert poller.record(A, task(A, "pending", created=created)) is None
    assert poller.wake() == t + 25


def test_polls_falling_due_together_wait_for_each_other_half_a_second_never_early(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, timeout=20, clock=clock.monotonic, wall_clock=clock.time)
    poller.coalesce = COALESCE
    t = clock.monotonic()
    created = int(clock.time())
    for task_id, seconds in ((A, 10), (B, 10.3), (C, 10.8)):
        poller.add(
            task_id,
            task=task(task_id, "pending", created=created, task_info={"estimated_time": seconds}),
        )
    # A waits for B, due 0.3 s later (within half a second), not for C, due 0.8 s later
    assert poller.due(t + 10) == [] and poller.wake() == t + 10.3
    assert poller.due(t + 10.3) == [A, B]  # C is not due yet: it is never polled early
    poller.coalesce = 0.0
    assert poller.due(t + 10) == [A]


def test_a_task_stuck_at_100_percent_is_polled_ever_less_often_up_to_the_interval(
    clock: FakeClock,
) -> None:
    poller = Poller(interval=5, clock=clock.monotonic, wall_clock=clock.time)
    poller.add(A)
    gaps = []
    for _ in range(12):
        now = clock.monotonic()
        assert poller.record(A, task(A, progress=100), sent=now, now=now) is None
        wake = poller.wake()
        assert wake is not None
        gaps.append(wake - now)
        clock.sleep(wake - now)
    assert gaps[-1] == 5 and sum(gaps) > 40  # not a poll a second for ever


def test_an_interval_the_user_chose_caps_the_wait_for_an_estimate_too(clock: FakeClock) -> None:
    poller = Poller(interval=2, clock=clock.monotonic, wall_clock=clock.time, strict_interval=True)
    t = clock.monotonic()
    made = int(clock.time())
    poller.add(A, task=task(A, "pending", created=made, task_info={"estimated_time": 120}))
    assert poller.wake() == t + 2


def test_a_short_interval_lowers_the_floor_too(clock: FakeClock) -> None:
    poller = Poller(interval=0.25, clock=clock.monotonic, wall_clock=clock.time)
    assert poller.floor == 0.25


# -- many tasks per request ------------------------------------------------------------------------


def polls(emulator: Emulator) -> list[str]:
    """``query`` for a GET of one task, ``batch`` for a POST of many (answered or not)."""
    return [
        "batch" if r.path == "/v1/tasks/batch" else "query"
        for r in emulator.requests()
        if r.kind == "query" or r.path == "/v1/tasks/batch"
    ]


def test_many_tasks_are_fetched_in_one_request_of_at_most_50(
    client: Client, emulator: Emulator
) -> None:
    ids = [client.create_generation(REQUEST).id for _ in range(60)]
    found = client.get_tasks([*ids, MISSING])
    assert list(found) == [*ids, MISSING]
    assert all(isinstance(found[i], Task) and found[i].id == i for i in ids)  # type: ignore[union-attr]
    assert isinstance(found[MISSING], NotFoundError)
    sizes = [len(json.loads(r.body)["task_ids"]) for r in emulator.requests("batch")]
    assert sizes == [50, 11]
    # the fast path's "not found" is confirmed by a GET of its own before it ends a wait
    assert [r.path.rsplit("/", 1)[-1] for r in emulator.requests("query")] == [MISSING]


def test_where_the_fast_path_is_absent_one_get_per_task_and_it_is_not_asked_again(
    make_client: MakeClient, emulator: Emulator
) -> None:
    emulator.batch_endpoint = False
    client = make_client()
    ids = [client.create_generation(REQUEST).id for _ in range(3)]
    for _ in range(2):
        found = client.get_tasks(ids)
        assert all(isinstance(found[i], Task) for i in ids)
    assert polls(emulator) == ["batch"] + ["query"] * 6  # asked once per process and API
    assert emulator.url in client_module.batch_unavailable
    other = make_client()  # a second client of the same process and API knows it too
    other.get_tasks(ids)
    assert polls(emulator).count("batch") == 1


@pytest.mark.parametrize(
    "fault",
    ["batch:403:1", "batch:401:1", "batch:503:1", "batch:html:1", "batch:400:1", "batch:drop:1"],
)
def test_nothing_depends_on_the_fast_path_any_failure_of_it_falls_back_to_gets(
    client: Client, emulator: Emulator, clock: FakeClock, fault: str
) -> None:
    """The tasks batch endpoint refusing, broken or down while GETs work: each task is fetched
    on its own, no wait ends for its sake, and it rests a minute before it is asked again."""
    ids = [client.create_generation(REQUEST).id for _ in range(2)]
    emulator.add_fault(fault)
    found = client.get_tasks(ids)
    assert all(isinstance(found[i], Task) for i in ids)
    assert polls(emulator) == ["batch", "query", "query"]  # asked once, not retried
    assert emulator.url not in client_module.batch_unavailable  # not absent: resting
    client.get_tasks(ids)
    assert polls(emulator)[3:] == ["query", "query"]
    clock.advance(client_module.BATCH_PAUSE)
    client.get_tasks(ids)
    assert polls(emulator)[5:] == ["batch"]


def test_a_refused_key_is_each_tasks_error_as_its_get_says(
    make_client: MakeClient, emulator: Emulator
) -> None:
    client = make_client()
    ids = [client.create_generation(REQUEST).id for _ in range(2)]
    refused = make_client(api_key="sk-wrong-key-0000000000000")
    emulator.service.api_key = TEST_KEY
    found = refused.get_tasks(ids)
    assert all(isinstance(found[i], AuthenticationError) for i in ids)


def test_a_lying_batch_answer_cannot_stand_for_another_task(
    client: Client, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [client.create_generation(REQUEST).id for _ in range(2)]
    real = emulator.service._batch

    def lying(key: str, body: bytes) -> Any:
        reply = real(key, body)
        data = json.loads(reply.body)
        other = dict(data["data"][0], id="task-unified-1767225600-notasked")
        data["data"] = [other, dict(data["data"][0], id=ids[1], status="completed")][:1]
        data["not_found"] = []
        reply.body = json.dumps(data).encode()
        return reply

    monkeypatch.setattr(emulator.service, "_batch", lying)
    found = client.get_tasks(ids)
    # neither id was answered for: each is asked on its own, and the stranger is ignored
    assert [f.id for f in found.values() if isinstance(f, Task)] == ids
    assert len(emulator.requests("query")) == 2


def test_wait_and_batch_poll_many_tasks_per_request(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    ids = [client.create_generation(REQUEST).id for _ in range(5)]
    outcomes = wait_for_tasks(client, ids, sleep=clock.sleep, clock=clock.monotonic)
    assert all(isinstance(o, Task) and o.succeeded for o in outcomes.values())
    assert polls(emulator) == ["batch", "batch"]  # at once, and when the estimate says


# -- the emulator's endpoints ----------------------------------------------------------------------


def test_the_emulator_batch_endpoint_answers_only_the_keys_own_tasks(
    client: Client, emulator: Emulator
) -> None:
    mine = client.create_generation(REQUEST).id
    url = f"{emulator.url}/v1/tasks/batch"
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    answer = httpx.post(url, json={"task_ids": [mine, MISSING, "nope"]}, headers=headers)
    assert answer.status_code == 200
    data = answer.json()
    assert [t["id"] for t in data["data"]] == [mine] and data["not_found"] == [MISSING, "nope"]
    stranger = httpx.post(
        url, json={"task_ids": [mine]}, headers={"Authorization": "Bearer sk-someone-else-0000"}
    )
    assert stranger.json()["not_found"] == [mine]
    too_many = httpx.post(url, json={"task_ids": [mine] * 51}, headers=headers)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "task_ids"
    assert httpx.post(url, json={"task_ids": []}, headers=headers).status_code == 400
    emulator.batch_endpoint = False
    assert httpx.post(url, json={"task_ids": [mine]}, headers=headers).status_code == 404


def test_the_emulator_task_list_is_newest_first_paged_and_filtered(
    client: Client, emulator: Emulator, clock: FakeClock
) -> None:
    made = []
    for _ in range(3):
        made.append(client.create_generation(REQUEST).id)
        clock.advance(1)
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    url = f"{emulator.url}/v1/tasks"
    page = httpx.get(url, params={"page_size": 2}, headers=headers).json()
    assert page["total"] == 3 and page["page"] == 1 and page["page_size"] == 2
    assert [t["id"] for t in page["data"]] == made[::-1][:2]
    assert all("results" not in t and "has_results" in t for t in page["data"])
    second = httpx.get(url, params={"page_size": 2, "page": 2}, headers=headers).json()
    assert [t["id"] for t in second["data"]] == [made[0]]
    clock.advance(120)
    done = httpx.get(url, params={"status": "completed"}, headers=headers).json()
    assert done["total"] == 3 and all(t["has_results"] and t["credits_used"] for t in done["data"])
    assert httpx.get(url, params={"page_size": 51}, headers=headers).status_code == 400
    emulator.list_endpoint = False
    assert httpx.get(url, headers=headers).status_code == 404


# -- batches split across machines -----------------------------------------------------------------

SEVEN = "".join(json.dumps({"prompt": f"shard {n}", "name": f"s{n}"}) + "\n" for n in range(1, 8))


def test_shards_split_a_manifest_without_overlap_and_keep_each_lines_key(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(SEVEN)
    taken: dict[int, list[int]] = {}
    for k in (1, 2, 3):
        result = cli("batch", "m.jsonl", "--shard", f"{k}/3")
        assert result.code == 0, result.err
        taken[k] = [int(line.split("\t")[0]) for line in result.lines]
        assert f"shard {k}/3: {len(taken[k])} of the manifest's 7 entries (all 7 checked)" in (
            result.err
        )
    assert taken == {1: [1, 4, 7], 2: [2, 5], 3: [3, 6]}
    creates = api.requests("create")
    assert sorted(json.loads(r.body)["prompt"] for r in creates) == [
        f"shard {n}" for n in range(1, 8)
    ]
    keys = {json.loads(r.body)["prompt"]: r.idempotency_key for r in creates}
    # the keys of an unsplit run: a whole run afterwards finds every line made, creates nothing
    whole = cli("batch", "m.jsonl")
    assert whole.code == 0 and len(api.requests("create")) == 7
    assert whole.err.count("created by an earlier run") == 7
    suffixes = {prompt: key.rsplit("-", 1)[-1] for prompt, key in keys.items() if key}
    assert suffixes == {f"shard {n}": str(n) for n in range(1, 8)}


def test_a_shard_beyond_the_entries_takes_none_and_says_so(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(SEVEN)
    result = cli("batch", "m.jsonl", "--shard", "8/9")
    assert result.code == 0 and result.out == ""
    assert "warning: shard 8/9: 0 of the manifest's 7 entries (all 7 checked): this shard" in (
        result.err
    )
    assert api.requests("create") == []


def test_every_shard_checks_the_whole_manifest(cli: CliRunner, api: Emulator, here: Path) -> None:
    (here / "m.jsonl").write_text(SEVEN + '{"prompt": "bad", "duration": 99}\n')
    result = cli("batch", "m.jsonl", "--shard", "1/3")  # line 8 is another shard's
    assert result.code == 2 and "line 8" in result.err
    assert api.requests() == []


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "a/b", "3", "1/3/5", "-1/3", "1/100000"])
def test_a_shard_that_is_not_k_of_n_is_refused(cli: CliRunner, api: Emulator, value: str) -> None:
    result = cli("batch", "-", "--shard", value, input=SEVEN)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"error: --shard: {value!r} is not K/N")
    assert api.requests() == []


def test_a_shards_resume_command_keeps_its_shard(cli: CliRunner, api: Emulator, here: Path) -> None:
    (here / "m.jsonl").write_text(SEVEN)
    result = cli("batch", "m.jsonl", "--shard", "2/3", "--timeout", "1")
    assert result.code == 9
    assert "resume with: seedance batch m.jsonl --concurrency 4 --timeout 1 --shard 2/3" in (
        result.err
    )


# -- a rerun that moves forward --------------------------------------------------------------------

THREE = "".join(json.dumps({"prompt": f"retry {n}"}) + "\n" for n in range(1, 4))


def keys_made(api: Emulator) -> list[str]:
    return [str(r.idempotency_key) for r in api.requests("create")]


def test_retry_failed_makes_a_new_task_for_lines_worth_it_once_and_never_twice(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(THREE)
    api.add_fault("task:fail:1:code=service_error")  # line 1's task
    first = cli("batch", "m.jsonl", "--concurrency", "1")
    assert first.code == 8
    assert (
        "line 1 may succeed as a new task (a failure worth a retry, or a task the API no longer "
        "knows): seedance batch m.jsonl --concurrency 1 --retry-failed makes it again, each paid "
        "again"
    ) in first.err
    assert cli("batch", "m.jsonl", "--concurrency", "1").code == 8  # a plain rerun never does
    assert len(keys_made(api)) == 3
    retried = cli("batch", "m.jsonl", "--concurrency", "1", "--retry-failed")
    assert retried.code == 0, retried.err
    made = keys_made(api)
    assert len(made) == 4 and made[3] == made[0] + "-r1"  # derived from the line and attempt
    assert "failed (service_error): retrying as attempt 1" in retried.err
    assert sorted(line.split("\t")[2] for line in retried.lines) == ["completed"] * 3
    again = cli("batch", "m.jsonl", "--concurrency", "1", "--retry-failed")
    assert again.code == 0 and len(keys_made(api)) == 4  # the retry is found, not made again


def test_a_code_not_worth_a_retry_is_never_retried(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(THREE)
    api.add_fault("task:fail:1:code=content_policy_violation")
    assert cli("batch", "m.jsonl", "--concurrency", "1").code == 8
    again = cli("batch", "m.jsonl", "--concurrency", "1", "--retry-failed")
    assert again.code == 8 and len(keys_made(api)) == 3
    assert again.err.count("failed with content_policy_violation: not retried") == 1


def test_a_task_this_run_made_that_fails_is_not_retried_in_the_same_run(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(THREE)
    api.add_fault("task:fail:1:code=service_error")
    result = cli("batch", "m.jsonl", "--concurrency", "1", "--retry-failed")
    assert result.code == 8 and len(keys_made(api)) == 3


def test_a_line_whose_task_the_api_forgot_says_what_to_do_and_can_be_made_again(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(THREE)
    assert cli("batch", "m.jsonl").code == 0  # no --output-dir: nothing saved
    forgotten = next(iter(api.service.tasks))
    del api.service.tasks[forgotten]  # task records expire
    gone = cli("batch", "m.jsonl")
    assert gone.code == 6
    assert f"hint: the API no longer knows task {forgotten} (task records expire); a rerun " in (
        gone.err
    )
    assert "--retry-failed makes it again" in gone.err
    made = cli("batch", "m.jsonl", "--retry-failed")
    assert made.code == 0, made.err
    assert f"{forgotten} is no longer known to the API: retrying as attempt 1" in made.err
    assert len(keys_made(api)) == 4


# -- reconciling outcome-unknown creates ------------------------------------------------------------


def test_history_sync_brings_remote_tasks_in_and_names_the_candidates_deciding_nothing(
    cli: CliRunner, api: Emulator, make_client: MakeClient, environ: dict[str, str]
) -> None:
    done = cli("generate", PROMPT, "--wait")  # a task of this history, completed, with results
    assert done.code == 0
    api.add_fault("create:drop")  # the create is made, its answer lost
    lost = cli("generate", PROMPT, "--model", "seedance-2.0-text-to-video", "--duration", "5")
    assert lost.code == 10
    elsewhere = make_client(api_key=environ["SEEDANCE_API_KEY"]).create_generation(REQUEST)
    synced = cli("history", "--sync")
    assert synced.code == 0, synced.err
    dropped = [
        t for t in api.service.tasks.values() if t.asked.model == "seedance-2.0-text-to-video"
    ]
    (made,) = dropped
    assert "synced 3 remote tasks of the last two days (2 new here)" in synced.err
    assert f"could be {made.id} (" in synced.err
    assert elsewhere.id not in synced.err.split("could be", 1)[1]  # another model: no candidate
    assert "nothing was decided" in synced.err
    rows = {row[0]: row for row in (line.split("\t") for line in synced.lines)}
    assert elsewhere.id in rows and made.id in rows  # now in the history, as seen
    (unknown,) = [r for r in cli("--json", "history").json if r["state"] == "outcome_unknown"]
    assert unknown["id"] is None  # still unknown: never decided alone
    first_id = done.lines[0].split("/results/")[1].split(".")[0]
    (first,) = [r for r in cli("--json", "history").json if r["id"] == first_id]
    assert first["results"]  # the list's items carry no URLs: the recorded ones are kept


def test_history_sync_without_a_task_list_says_so_and_changes_nothing(
    cli: CliRunner, api: Emulator
) -> None:
    api.list_endpoint = False
    assert cli("generate", PROMPT).code == 0
    result = cli("history", "--sync")
    assert result.code == 0
    assert "warning: the API lists no tasks (GET /v1/tasks answered 404): nothing was synced" in (
        result.err
    )
    assert len(result.lines) == 1


def test_settle_records_what_the_user_found_and_the_batch_line_moves_on(
    cli: CliRunner, api: Emulator, here: Path
) -> None:
    (here / "m.jsonl").write_text(THREE)
    api.add_fault("create:drop")  # line 1's create is made, its answer lost
    first = cli("batch", "m.jsonl", "--concurrency", "1")
    assert first.code == 10
    key = keys_made(api)[0]
    assert f"seedance history --settle {key}=TASK_ID" in first.err
    assert cli("batch", "m.jsonl", "--concurrency", "1").code == 10  # stuck until settled
    made = [t.id for t in api.service.tasks.values() if t.body["prompt"] == "retry 1"]
    (task_id,) = made
    settled = cli("history", "--settle", f"{key}={task_id}")
    assert settled.code == 0, settled.err
    assert f"settled: key {key} made task {task_id}: recorded" in settled.err
    (row,) = [r for r in cli("--json", "history").json if r["idempotency_key"] == key]
    assert row["id"] == task_id and row["status"] is not None  # it learned what the task is
    again = cli("batch", "m.jsonl", "--concurrency", "1")
    assert again.code == 0, again.err
    assert f"line 1: created by an earlier run: {task_id}" in again.err
    assert len(keys_made(api)) == 3  # the lost one and lines 2 and 3, each made once: no more


def test_settle_none_lets_the_next_run_create_it_and_refuses_what_it_cannot_be(
    cli: CliRunner, api: Emulator
) -> None:
    api.add_fault("create:drop")
    assert cli("generate", PROMPT, "--idempotency-key", "k-1").code == 10
    other = cli("generate", PROMPT, "--idempotency-key", "k-2").out.strip()
    bad = {
        "k-1": "expected KEY=TASK_ID or KEY=none",
        "k-9=none": "holds no outcome-unknown create",
        f"k-1={other}": f"task {other} is already another create's (k-2)",
    }
    for value, message in bad.items():
        refused = cli("history", "--settle", value)
        assert refused.code == 2 and message in refused.err, (value, refused.err)
    missing = cli("history", "--settle", f"k-1={MISSING}")
    assert missing.code == 6  # asked about: no such task
    stranger = cli("history", "--settle", f"k-9={other}")
    assert stranger.code == 2
    assert [r["id"] for r in cli("--json", "history").json].count(other) == 1  # nothing added
    elsewhere = cli("--base-url", "http://127.0.0.1:9", "history", "--settle", f"k-1={other}")
    assert elsewhere.code == 2 and "went to another API" in elsewhere.err
    forgotten = cli("history", "--settle", "k-1=none")
    assert forgotten.code == 0
    assert "key k-1 made no task: forgotten, the next run creates it" in forgotten.err
    again = cli("generate", PROMPT, "--idempotency-key", "k-1")
    assert again.code == 0 and len(api.requests("create")) == 3  # made again, as asked


def test_a_listed_task_never_changes_a_row_the_history_holds(tmp_path: Path) -> None:
    """List items are thin (no URLs, maybe no error) and may be stale: they only bring in tasks
    the history does not hold, so a failure's code (which decides --retry-failed) is kept."""
    from seedance_cli.ledger import Ledger

    ledger = Ledger(tmp_path)
    failed = task(A, "failed", error={"code": "content_policy_violation", "message": "no"})
    done = task(B, "completed", progress=100, results=["https://cdn.example.com/b.mp4"])
    ledger.observe(failed)
    ledger.observe(done)
    ledger.observe(task(A, "failed"), listed=True)  # no error in the list item
    ledger.observe(task(B, "processing", progress=40), listed=True)  # stale
    ledger.observe(task(C, "completed", progress=100), listed=True)  # new: brought in
    rows = {e.task_id: e for e in ledger.entries() or []}
    assert rows[A].error_code == "content_policy_violation"
    assert rows[B].status == "completed" and rows[B].results == ["https://cdn.example.com/b.mp4"]
    assert rows[C].state == "observed" and rows[C].status == "completed"


def test_sync_counts_a_task_once_however_often_the_pages_repeat_it(
    cli: CliRunner, api: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("generate", PROMPT).code == 0
    real = api.service._list

    def same_page(key: str, query: str) -> Any:
        reply = real(key, "page=1&page_size=50")
        data = json.loads(reply.body)
        data["total"] = 10**6
        reply.body = json.dumps(data).encode()
        return reply

    monkeypatch.setattr(api.service, "_list", same_page)
    result = cli("history", "--sync")
    assert result.code == 0
    assert "synced 1 remote tasks of the last two days (0 new here)" in result.err
    assert len([r for r in api.requests() if r.path.startswith("/v1/tasks?")]) == 2


def test_wait_with_an_interval_chosen_polls_at_least_that_often(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    task_id = cli("generate", PROMPT).out.strip()
    assert cli("wait", task_id, "--interval", "10").code == 0
    assert clock.sleeps and max(clock.sleeps) <= 10  # not the 60 s the estimate says
    clock.sleeps.clear()
    other = cli("generate", PROMPT).out.strip()
    assert cli("wait", other).code == 0
    assert clock.sleeps == [60.0]  # the default: the estimate decides the first poll
