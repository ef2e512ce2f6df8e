"""Costs known before paying, and budgets that hold (issue 13): the estimate said before every
create and in dry runs, recorded in the history; ``--max-credits`` and the profile's
``max-credits`` refusing (exit 11) before anything is uploaded or sent; ``batch --max-credits``
never creating past its budget, at any concurrency, and a rerun creating only what it left out."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seedance_cli.emulator import Emulator
from seedance_cli.errors import OverBudget, ValidationError
from seedance_cli.ledger import Ledger
from seedance_cli.models import GenerationRequest
from seedance_cli.pricing import Budget, Estimate, Total, estimate

from .clirunner import CliRunner, Result
from .images import png_bytes

PROMPT = "A cat playing piano"
T2V_20 = "seedance-2.0-text-to-video"
T2V_25 = "seedance-2.5-text-to-video"
REF_20 = "seedance-2.0-reference-to-video"
UNPRICED = "doubao-seedance-1.0-pro-fast"
VIDEO = "https://cdn.example.com/dance.mp4"

#: 1.5 pro, 5 s, 720p, with audio (API.md's worked example), and its line on stderr.
CAT = "17.78 credits ($0.26)"
CAT_LINE = f"estimate: {CAT}"
#: 2.5 with an automatic duration: 4-30 s.
AUTO_LINE = "estimate: 80.36-602.70 credits ($1.18-$8.86) (2.5 picks the duration (auto): 4-30 s)"
UNKNOWN_LINE = f"estimate: price unknown (no published price for {UNPRICED})"


def creates(api: Emulator) -> list[dict[str, Any]]:
    return [r.json() for r in api.requests("create")]


def history(environ: dict[str, str]) -> list[Any]:
    entries = Ledger(Path(environ["SEEDANCE_DATA_DIR"])).entries()
    assert entries is not None
    return entries


def nothing_sent(api: Emulator) -> bool:
    return api.requests("create") == [] and api.requests("upload") == []


# -- the estimate, before every create --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], CAT_LINE),
        (["--model", T2V_20], "estimate: 67.50 credits ($0.99)"),  # API.md: 2.0 5 s 720p = 67.5
        (["--model", T2V_25, "-d", "auto"], AUTO_LINE),
        (["--model", UNPRICED], UNKNOWN_LINE),
    ],
    ids=["1.5", "2.0", "range", "unknown"],
)
def test_the_estimate_is_said_on_stderr_before_the_create(
    cli: CliRunner, api: Emulator, args: list[str], line: str
) -> None:
    result = cli("generate", PROMPT, *args)
    assert result.code == 0, result.err
    (_,) = result.lines  # stdout: the task id alone
    said = result.err.splitlines()
    assert said.index(line) < said.index(next(s for s in said if s.startswith("created ")))
    assert " 0 credits" not in result.err and "$0.00" not in result.err
    assert len(creates(api)) == 1


def test_the_estimate_comes_before_any_upload(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(png_bytes(400, 400))
    result = cli("generate", PROMPT, "-i", str(image))
    assert result.code == 0, result.err
    said = result.err.splitlines()
    assert said.index(CAT_LINE) < said.index(next(s for s in said if s.startswith("uploaded ")))


def test_quiet_says_no_estimate(cli: CliRunner, api: Emulator) -> None:
    result = cli("--quiet", "generate", PROMPT)
    assert result.code == 0 and result.err == ""


def test_the_history_keeps_each_creates_estimate(
    cli: CliRunner, api: Emulator, environ: dict[str, str]
) -> None:
    assert cli("generate", PROMPT).code == 0
    assert cli("generate", PROMPT, "--model", T2V_25, "-d", "auto").code == 0
    assert cli("generate", PROMPT, "--model", UNPRICED).code == 0
    by_model = {e.params["model"]: e.estimate for e in history(environ)}
    assert by_model["seedance-1.5-pro"] == estimate(GenerationRequest(PROMPT)).as_json()
    assert by_model["seedance-1.5-pro"]["high"] == 17.784
    assert (by_model[T2V_25]["low"], by_model[T2V_25]["high"]) == (80.36, 602.7)
    assert by_model[UNPRICED]["known"] is False and by_model[UNPRICED]["high"] is None


def test_input_seconds_prices_the_reference_videos(cli: CliRunner, api: Emulator) -> None:
    ranged = cli("generate", PROMPT, "--model", REF_20, "--video", VIDEO, "--dry-run")
    assert "estimate: 82.22-164.43 credits ($1.21-$2.42) (the reference videos' length" in (
        ranged.err
    )
    # 5 s out of 7 s in: 5 + max(7, 5) = 12 billed seconds x 0.609 x 13.5 = 98.658
    exact = cli("generate", PROMPT, "--model", REF_20, "--video", VIDEO, "--input-seconds", "7")
    assert exact.code == 0, exact.err
    assert "estimate: 98.66 credits ($1.45)\n" in exact.err


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--input-seconds", "7"], "error: --input-seconds: the request has no --video"),
        (["--model", REF_20, "--video", VIDEO, "--input-seconds", "0"], "--input-seconds: must"),
        (["--model", REF_20, "--video", VIDEO, "--input-seconds", "nan"], "--input-seconds: must"),
        (["--model", REF_20, "--video", VIDEO, "--input-seconds", "-3"], "--input-seconds: must"),
        (
            ["--model", REF_20, "--video", VIDEO, "--input-seconds", "0.001"],
            "--input-seconds: must be 2-15 s for 1 video on seedance-2.0-reference-to-video",
        ),
        (["--model", REF_20, "--video", VIDEO, "--input-seconds", "15.1"], "must be 2-15 s"),
    ],
)
def test_input_seconds_without_videos_or_out_of_range_is_refused(
    cli: CliRunner, api: Emulator, args: list[str], error: str
) -> None:
    result = cli("generate", PROMPT, *args)
    assert result.code == 2 and result.out == ""
    assert error in result.err
    assert nothing_sent(api)


# -- dry runs ---------------------------------------------------------------------------------------


def test_a_dry_run_says_the_estimate(cli: CliRunner) -> None:
    result = cli("generate", PROMPT, "--dry-run", "--model", T2V_25, "-d", "auto")
    assert result.code == 0, result.err
    assert result.lines[0].startswith("POST ")
    assert result.err.splitlines() == [AUTO_LINE, "dry run: nothing was sent"]


def test_a_dry_runs_json_has_the_estimate(cli: CliRunner) -> None:
    ranged = cli("--json", "generate", PROMPT, "--dry-run", "--model", T2V_25, "-d", "auto")
    assert ranged.json[0]["estimate"] == {
        "model": T2V_25,
        "known": True,
        "exact": False,
        "low": 80.36,
        "high": 602.7,
        "usd_low": 1.18,
        "usd_high": 8.86,
        "reason": "2.5 picks the duration (auto): 4-30 s",
        "text": "80.36-602.70 credits ($1.18-$8.86)",
    }
    unknown = cli("--json", "generate", PROMPT, "--dry-run", "--model", UNPRICED).json[0]
    assert unknown["estimate"]["known"] is False
    assert (unknown["estimate"]["low"], unknown["estimate"]["high"]) == (None, None)
    assert unknown["estimate"]["text"] == "price unknown"


def test_a_dry_run_over_the_budget_shows_the_request_then_exits_11(cli: CliRunner) -> None:
    result = cli("generate", PROMPT, "--dry-run", "--max-credits", "10")
    assert result.code == 11
    assert result.lines[0].startswith("POST ")
    assert (
        "error: over budget: the estimate 17.78 credits ($0.26) is above --max-credits 10; "
        "dry run: the real run would send nothing\n" in result.err
    )
    # where rounding hides the difference, the exact figure is said
    close = cli("generate", PROMPT, "--dry-run", "--max-credits", "17.78")
    assert "the estimate 17.78 credits ($0.26) (exactly 17.784) is above --max-credits 17.78" in (
        close.err
    )


# -- generate --max-credits -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["18", "17.784", "1e6"], ids=["above", "equal", "far-above"])
def test_a_budget_at_or_above_the_estimate_lets_the_create_through(
    cli: CliRunner, api: Emulator, limit: str
) -> None:
    result = cli("generate", PROMPT, "--max-credits", limit)
    assert result.code == 0, result.err
    assert CAT_LINE in result.err.splitlines()
    assert len(creates(api)) == 1


def test_a_budget_below_the_estimate_is_exit_11_and_sends_nothing(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    image = tmp_path / "frame.png"
    image.write_bytes(png_bytes(400, 400))
    result = cli(
        "generate",
        PROMPT,
        "-d",
        "12",
        "--quality",
        "1080p",
        "-i",
        str(image),
        "--max-credits",
        "50",
    )
    assert result.code == 11
    assert result.out == ""
    assert result.err.splitlines() == [
        "estimate: 95.18 credits ($1.40)",
        "error: over budget: the estimate 95.18 credits ($1.40) is above --max-credits 50; "
        "nothing was sent",
        "hint: ask for less (a shorter --duration, a lower --quality), or raise the budget with "
        "--max-credits N",
    ]
    assert nothing_sent(api)  # no create, and the local image was not uploaded either


def test_a_refused_create_leaves_no_history_row(
    cli: CliRunner, api: Emulator, environ: dict[str, str]
) -> None:
    assert cli("generate", PROMPT, "--max-credits", "17.78").code == 11  # 17.784 is above it
    assert history(environ) == []
    assert nothing_sent(api)


def test_a_range_counts_at_its_top(cli: CliRunner, api: Emulator) -> None:
    args = ("generate", PROMPT, "--model", T2V_25, "-d", "auto", "--max-credits")
    low_fits = cli(*args, "600")  # 80.36 fits, 602.70 does not
    assert low_fits.code == 11
    assert (
        "error: over budget: the estimate 80.36-602.70 credits ($1.18-$8.86) (2.5 picks the "
        "duration (auto): 4-30 s) reaches 602.70 credits at its top, above --max-credits 600; "
        "nothing was sent\n" in low_fits.err
    )
    assert "hint: a range counts at its top" in low_fits.err
    assert nothing_sent(api)
    top_fits = cli(*args, "602.7")
    assert top_fits.code == 0, top_fits.err
    assert len(creates(api)) == 1


def test_an_unknown_price_is_refused_under_a_budget_unless_allowed(
    cli: CliRunner, api: Emulator
) -> None:
    refused = cli("generate", PROMPT, "--model", UNPRICED, "--max-credits", "1000")
    assert refused.code == 11 and refused.out == ""
    assert (
        f"error: over budget: the price is unknown (no published price for {UNPRICED}), so it "
        "cannot be held to --max-credits 1000; nothing was sent\n" in refused.err
    )
    assert "hint: add --allow-unknown-price" in refused.err
    assert nothing_sent(api)
    allowed = cli(
        "generate", PROMPT, "--model", UNPRICED, "--max-credits", "1000", "--allow-unknown-price"
    )
    assert allowed.code == 0, allowed.err
    assert UNKNOWN_LINE in allowed.err.splitlines()
    assert len(creates(api)) == 1
    unbudgeted = cli("generate", PROMPT, "--model", UNPRICED)  # no budget: nothing to hold it to
    assert unbudgeted.code == 0


def test_over_budget_in_json_is_an_error_object(cli: CliRunner, api: Emulator) -> None:
    result = cli("--json", "generate", PROMPT, "--max-credits", "1")
    assert result.code == 11
    (shown,) = result.json
    assert shown["error"]["code"] == "over_budget"
    assert shown["error"]["message"].startswith("over budget: the estimate 17.78 credits")


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "lots", ""])
def test_a_bad_budget_is_exit_2(cli: CliRunner, api: Emulator, value: str) -> None:
    result = cli("generate", PROMPT, "--max-credits", value)
    assert result.code == 2 and result.out == ""
    assert "--max-credits" in result.err
    assert nothing_sent(api)


def test_a_budget_of_0_refuses_every_priced_create(cli: CliRunner, api: Emulator) -> None:
    cheapest = ("-d", "4", "--quality", "480p", "--no-audio")  # 3.4445, the minimum charge
    assert cli("generate", PROMPT, *cheapest, "--max-credits", "0").code == 11
    assert nothing_sent(api)


def test_a_key_that_returns_its_earlier_task_is_not_held_to_the_budget(
    cli: CliRunner, api: Emulator
) -> None:
    first = cli("generate", PROMPT, "--idempotency-key", "ci-42")
    assert first.code == 0, first.err
    again = cli("generate", PROMPT, "--idempotency-key", "ci-42", "--max-credits", "1")
    assert again.code == 0, again.err
    assert again.lines == first.lines  # the same task: created nothing, cost nothing
    assert "already made task" in again.err and "estimate:" not in again.err
    assert len(creates(api)) == 1
    # a dry run says what the real run does: the key's task, no budget to hold it to
    rehearsed = cli(
        "generate", PROMPT, "--idempotency-key", "ci-42", "--max-credits", "0", "--dry-run"
    )
    assert rehearsed.code == 0, rehearsed.err
    task_id = first.lines[0]
    assert rehearsed.err.startswith(
        f"idempotency key ci-42 already made task {task_id}: the real run would return it"
    )
    assert "estimate:" not in rehearsed.err and len(creates(api)) == 1


# -- the profile's max-credits ----------------------------------------------------------------------


def test_the_profiles_max_credits_applies_when_the_flag_is_not_given(
    cli: CliRunner, api: Emulator
) -> None:
    assert cli("config", "set", "max-credits", "50").code == 0
    assert cli("config", "get", "max-credits").lines == ["50"]
    dear = ("generate", PROMPT, "-d", "12", "--quality", "1080p")  # 95.18
    refused = cli(*dear)
    assert refused.code == 11
    assert "is above profile 'default' max-credits 50; nothing was sent" in refused.err
    assert "`seedance config set max-credits N`" in refused.err
    assert nothing_sent(api)
    assert cli(*dear, "--max-credits", "100").code == 0  # the flag comes first
    assert cli("generate", PROMPT).code == 0  # 17.78 fits in the profile's 50
    assert len(creates(api)) == 2
    assert cli("config", "unset", "max-credits").code == 0
    assert cli(*dear).code == 0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "fifty"])
def test_config_refuses_a_bad_max_credits(cli: CliRunner, value: str) -> None:
    result = cli("config", "set", "max-credits", "--", value)
    assert result.code == 2 and "max-credits" in result.err
    assert cli("config", "get", "max-credits").lines in ([], [""])


@pytest.mark.parametrize(("value", "stored"), [("0", "0"), ("12.5", "12.5"), ("1e3", "1000")])
def test_config_keeps_a_max_credits_as_written(cli: CliRunner, value: str, stored: str) -> None:
    assert cli("config", "set", "max-credits", value).code == 0
    assert cli("config", "get", "max-credits").lines == [stored]
    listed = {row.split("\t")[0]: row.split("\t")[1:] for row in cli("config", "list").lines}
    assert listed["max-credits"] == [stored, "profile 'default'"]


# -- batch --max-credits ----------------------------------------------------------------------------


def jsonl(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def rows(result: Result) -> dict[int, list[str]]:
    return {int(r.split("\t")[0]): r.split("\t") for r in result.lines}


SIX = jsonl(*({"prompt": f"cat {n}"} for n in range(1, 7)))  # 17.784 credits each


@pytest.mark.parametrize("concurrency", ["1", "4", "6"])
def test_batch_stops_exactly_at_its_budget_at_any_concurrency(
    cli: CliRunner, api: Emulator, concurrency: str
) -> None:
    budget = "53.352"  # 3 x 17.784: exactly three lines
    result = cli("batch", "-", "--max-credits", budget, "--concurrency", concurrency, input=SIX)
    assert result.code == 11, result.err
    assert len(creates(api)) == 3
    states = {n: r[2] for n, r in rows(result).items()}
    assert states == {1: "completed", 2: "completed", 3: "completed"} | {
        n: "over_budget" for n in (4, 5, 6)
    }
    assert all(rows(result)[n][1] == "" for n in (4, 5, 6))  # no task
    assert (
        "batch: 3 succeeded, 0 failed, 0 timed out, 3 over budget; estimated 53.35 credits "
        "($0.78) for the 3 lines this run created (budget: --max-credits 53.352)" in result.err
    )
    assert (
        "error: line 4: over budget: the estimate 17.78 credits ($0.26) would take the "
        "estimated spend from 53.35 to 71.14 credits, above --max-credits 53.352; nothing was sent"
        in result.err
    )
    assert "hint: a rerun with a larger --max-credits creates only the lines left out" in result.err


def test_batch_over_budget_lines_in_json(cli: CliRunner, api: Emulator) -> None:
    result = cli("--json", "batch", "-", "--max-credits", "20", input=SIX)
    assert result.code == 11
    lines = [o for o in result.json if "line" in o]
    left_out = [o for o in lines if o["status"] == "over_budget"]
    assert [o["line"] for o in left_out] == [2, 3, 4, 5, 6]
    assert all(o["task_id"] is None and o["files"] == [] for o in left_out)
    assert left_out[0]["error"]["code"] == "over_budget"


def test_a_rerun_with_a_larger_budget_creates_only_the_lines_left_out(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(SIX)
    first = cli("batch", str(manifest), "--max-credits", "53.352", "--concurrency", "3")
    assert first.code == 11
    assert sorted(b["prompt"] for b in creates(api)) == ["cat 1", "cat 2", "cat 3"]
    # Lines made by the first run are found (not created again, not counted): the same budget
    # holds the three left out exactly.
    again = cli("batch", str(manifest), "--max-credits", "53.352", "--concurrency", "3")
    assert again.code == 0, again.err
    assert sorted(b["prompt"] for b in creates(api)) == [f"cat {n}" for n in range(1, 7)]
    assert {n: r[2] for n, r in rows(again).items()} == {n: "completed" for n in range(1, 7)}
    assert "line 1: created by an earlier run" in again.err
    third = cli("batch", str(manifest), "--max-credits", "0")  # nothing left to create
    assert third.code == 0, third.err
    assert len(creates(api)) == 6
    assert third.err.endswith("this run created nothing (budget: --max-credits 0)\n")


def test_batch_counts_a_range_at_its_top(cli: CliRunner, api: Emulator) -> None:
    manifest = jsonl(*({"prompt": f"p{n}", "model": T2V_25, "duration": "auto"} for n in range(4)))
    result = cli("batch", "-", "--max-credits", "700", "--concurrency", "4", input=manifest)
    assert result.code == 11
    assert len(creates(api)) == 1  # 602.70 at the top: a second would reach 1205.40
    assert sorted(r[2] for r in rows(result).values()) == ["completed"] + ["over_budget"] * 3


def test_batch_leaves_out_unknown_prices_under_a_budget_unless_allowed(
    cli: CliRunner, api: Emulator
) -> None:
    manifest = jsonl({"prompt": "a"}, {"prompt": "b", "model": UNPRICED})
    refused = cli("batch", "-", "--max-credits", "100", input=manifest)
    assert refused.code == 11
    assert {n: r[2] for n, r in rows(refused).items()} == {1: "completed", 2: "over_budget"}
    assert "hint: a price that is unknown cannot be held to a budget" in refused.err
    allowed = cli("batch", "-", "--max-credits", "100", "--allow-unknown-price", input=manifest)
    assert allowed.code == 0, allowed.err
    assert [b["model"] for b in creates(api)] == ["seedance-1.5-pro", UNPRICED]
    assert "the price of the 1 line this run created is unknown" in allowed.err
    both = cli("batch", "-", "--allow-unknown-price", input=manifest + jsonl({"prompt": "c"}))
    assert both.code == 0, both.err  # another manifest: another batch, every line new
    assert "estimated 35.57 credits ($0.52) + 1 of unknown price for the 3 lines" in both.err


def test_the_profiles_max_credits_holds_a_batch(cli: CliRunner, api: Emulator) -> None:
    assert cli("config", "set", "max-credits", "40").code == 0
    result = cli("batch", "-", input=SIX)
    assert result.code == 11
    assert len(creates(api)) == 2
    assert "(budget: profile 'default' max-credits 40)" in result.err


def test_a_worse_outcome_beats_over_budget_and_over_budget_beats_a_deadline(
    cli: CliRunner, api: Emulator
) -> None:
    api.add_fault("task:fail:1")
    failed = cli("batch", "-", "--max-credits", "20", input=jsonl({"prompt": "a"}, {"prompt": "b"}))
    assert failed.code == 8, failed.err
    api.add_fault("task:hang:1")
    late = cli(
        "batch", "-", "--max-credits", "20", "--timeout", "120",
        input=jsonl({"prompt": "c"}, {"prompt": "d"}),
    )  # fmt: skip
    assert {n: r[2] for n, r in rows(late).items()} == {1: "timed_out", 2: "over_budget"}
    assert late.code == 11


def test_the_history_keeps_each_batch_lines_estimate(
    cli: CliRunner, api: Emulator, environ: dict[str, str]
) -> None:
    manifest = jsonl({"prompt": "a"}, {"prompt": "b", "model": T2V_25, "duration": "auto"})
    assert cli("batch", "-", input=manifest).code == 0
    by_prompt = {e.prompt: e.estimate for e in history(environ)}
    assert by_prompt["a"]["high"] == 17.784
    assert (by_prompt["b"]["low"], by_prompt["b"]["high"]) == (80.36, 602.7)


# -- batch --dry-run --------------------------------------------------------------------------------

MIXED = jsonl(
    {"prompt": "a"},
    {"prompt": "b", "duration": 12, "quality": "1080p"},
    {"prompt": "c", "model": UNPRICED},
    {"prompt": "d", "model": T2V_25, "duration": "auto"},
)


def test_batch_dry_run_says_each_lines_estimate_and_the_total(
    cli: CliRunner, api: Emulator
) -> None:
    result = cli("batch", "-", "--dry-run", input=MIXED)
    assert result.code == 0, result.err
    assert [line.split("\t")[3] for line in result.lines] == [
        CAT,
        "95.18 credits ($1.40)",
        "price unknown",
        "80.36-602.70 credits ($1.18-$8.86)",
    ]
    assert result.err.splitlines() == [
        "estimate: 193.32-715.66 credits ($2.84-$10.52) + 1 of unknown price for 4 lines",
        "dry run: 4 lines checked; nothing was sent",
    ]
    assert api.requests() == []


def test_batch_dry_run_json_has_an_estimate_per_line_and_a_total(
    cli: CliRunner, api: Emulator
) -> None:
    *lines, total = cli("--json", "batch", "-", "--dry-run", input=MIXED).json
    assert [line["estimate"]["high"] for line in lines] == [17.784, 95.18, None, 602.7]
    assert all("over_budget" not in line for line in lines)  # no budget, nothing to say
    assert total == {
        "total": {
            "count": 4,
            "priced": 3,
            "unpriced": 1,
            "low": 193.324,
            "high": 715.664,
            "usd_low": 2.84,
            "usd_high": 10.52,
            "text": "193.32-715.66 credits ($2.84-$10.52) + 1 of unknown price",
            "budget": None,
            "over_budget": [],
        }
    }


def test_batch_dry_run_under_a_budget_names_the_lines_it_would_leave_out(
    cli: CliRunner, api: Emulator
) -> None:
    result = cli("--json", "batch", "-", "--dry-run", "--max-credits", "120", input=MIXED)
    assert result.code == 11
    *lines, total, error = result.json
    assert [line["over_budget"] for line in lines] == [False, False, True, True]
    assert total["total"]["budget"] == "--max-credits 120"
    assert total["total"]["over_budget"] == [3, 4]
    assert error["error"]["code"] == "over_budget"
    assert (
        "2 of 4 lines (lines 3, 4) would not be created within --max-credits 120"
        in (error["error"]["message"])
    )
    assert api.requests() == []
    text = cli("batch", "-", "--dry-run", "--max-credits", "120", input=MIXED)
    assert text.code == 11
    assert [line.split("\t")[4] for line in text.lines] == [
        "within_budget",
        "within_budget",
        "over_budget",
        "over_budget",
    ]
    assert all(
        len(line.split("\t")) == 4 for line in cli("batch", "-", "--dry-run", input=MIXED).lines
    )


# -- the budget itself ------------------------------------------------------------------------------


def exact(credits: str) -> Estimate:
    return Estimate("m", Decimal(credits), Decimal(credits))


def test_a_budget_counts_the_top_of_each_reservation_and_gives_back_releases() -> None:
    budget = Budget(Decimal("100"))
    assert budget.reserve(Estimate("m", Decimal(10), Decimal(60))) is None
    refusal = budget.reserve(Estimate("m", Decimal(10), Decimal(41)))
    assert isinstance(refusal, OverBudget) and refusal.exit_code == 11
    assert budget.counted == Decimal(60)
    assert budget.reserve(exact("40")) is None  # 60 + 40 = 100: equal fits
    budget.release(exact("40"))
    assert budget.counted == Decimal(60)


def test_a_budget_lets_unknown_prices_through_only_when_allowed() -> None:
    unknown = Estimate("m", None, None, "no published price for m")
    assert isinstance(Budget(Decimal(5)).reserve(unknown), OverBudget)
    allowing = Budget(Decimal(5), allow_unknown=True)
    assert allowing.reserve(unknown) is None
    assert (allowing.counted, allowing.unpriced) == (Decimal(0), 1)


@pytest.mark.parametrize("limit", [-1, float("nan"), float("inf"), Decimal("-0.01"), "5", True])
def test_a_budget_must_be_a_finite_number_at_least_0(limit: Any) -> None:
    with pytest.raises(ValidationError):
        Budget(limit)


def test_a_total_adds_ranges_as_ranges_and_counts_unknown_prices_apart() -> None:
    total = Total.of(
        [exact("10"), Estimate("m", Decimal(5), Decimal(50)), Estimate("x", None, None)]
    )
    assert (total.low, total.high, total.unpriced) == (Decimal(15), Decimal(60), 1)
    assert total.text() == "15.00-60.00 credits ($0.22-$0.88) + 1 of unknown price"
    assert Total.of([Estimate("x", None, None)]).text() == "price unknown"


class _SpyLock:
    """The budget's own lock, saying when the second thread finds it taken."""

    def __init__(self, inner: Any, second: threading.Event, blocked: threading.Event) -> None:
        self.inner, self.second, self.blocked = inner, second, blocked

    def __enter__(self) -> None:
        if self.second.is_set() and not self.inner.acquire(blocking=False):
            self.blocked.set()
            self.inner.acquire()
        elif not self.second.is_set():
            self.inner.acquire()

    def __exit__(self, *exc: object) -> None:
        self.inner.release()


def test_two_reservations_at_once_never_both_pass_the_check() -> None:
    """The first thread is held right after its check passed, until the second thread has
    either found the budget locked or made its own check: with check and count in one step the
    second waits, then sees the first one counted and is refused."""
    first_checked, second_started, second_moved = (threading.Event() for _ in range(3))

    class Held(Budget):
        def refusal(self, estimate: Estimate) -> OverBudget | None:
            found = super().refusal(estimate)
            if threading.current_thread().name == "first":
                first_checked.set()
                assert second_moved.wait(10)
            else:
                second_moved.set()
            return found

    budget = Held(Decimal(30))
    budget._lock = _SpyLock(budget._lock, second_started, second_moved)  # type: ignore[assignment]
    results: dict[str, OverBudget | None] = {}

    def reserve(name: str) -> None:
        results[name] = budget.reserve(exact("20"))

    first = threading.Thread(target=reserve, args=("first",), name="first")
    first.start()
    assert first_checked.wait(10)
    second_started.set()
    second = threading.Thread(target=reserve, args=("second",), name="second")
    second.start()
    first.join(10)
    second.join(10)
    assert results["first"] is None
    assert isinstance(results["second"], OverBudget)
    assert budget.counted == Decimal(20)


def test_the_command_that_resumes_a_batch_keeps_its_budget(
    cli: CliRunner, api: Emulator, tmp_path: Path
) -> None:
    """A run stopped at its deadline prints how to resume: that command must hold the lines it
    left out for the budget to the same budget (it would create them unbounded otherwise)."""
    manifest = tmp_path / "t.jsonl"
    manifest.write_text("".join(f'{{"prompt": "t {n}"}}\n' for n in (1, 2, 3)))
    result = cli(
        "batch", str(manifest), "--max-credits", "40", "--allow-unknown-price", "--timeout", "1"
    )
    assert result.code == 11, result.err
    hint = next(line for line in result.err.splitlines() if line.startswith("resume with:"))
    assert hint.endswith("--max-credits 40 --allow-unknown-price")
    resumed = cli(*hint.removeprefix("resume with: seedance ").split())
    assert "(budget: --max-credits 40)" in resumed.err and len(creates(api)) == 3


def test_a_reservation_above_the_estimate_and_the_budget_is_said(
    cli: CliRunner, api: Emulator
) -> None:
    """The user says the reference videos last 6 s; the emulator takes them for 5 s each (15 s):
    the API reserves more than estimated. The create is made, but a capped script hears it."""
    videos = [arg for n in (1, 2, 3) for arg in ("--video", f"https://e.com/{n}.mp4")]
    result = cli(
        "generate",
        "Dance",
        "--model",
        "seedance-2.0-mini-reference-to-video",
        *videos,
        "--input-seconds",
        "6",
        "--quality",
        "480p",
        "--max-credits",
        "10",
    )
    assert result.code == 0, result.err
    warning = next(line for line in result.err.splitlines() if line.startswith("warning:"))
    assert "more than the estimate 8.43 credits" in warning
    assert warning.count("above --max-credits 10") == 1
    plain = cli("generate", "A cat", "--max-credits", "20")
    assert plain.code == 0 and "warning" not in plain.err


def test_a_budget_is_counted_to_the_credit_step_and_never_above_what_was_asked() -> None:
    from seedance_cli.pricing import check_limit

    assert check_limit(Decimal("17.78459")) == Decimal("17.7845")  # down, never up
    assert check_limit(0.1234567890123456789) == Decimal("0.1234")  # a float just above it
    assert check_limit(Decimal("1e-1000000")) == 0  # not a million digits in a message
    assert str(Budget(Decimal("-0")).limit_text) == "--max-credits 0"
