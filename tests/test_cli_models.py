"""``seedance models``: the catalogue as a table (at 80, 120 and 160 columns), piped, in JSON, one
model in full, and ``--available`` with ``GET /v1/models`` present, absent, failing or absurd."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedance_cli.catalogue import DATA, DEFAULT_MODEL, catalogue
from seedance_cli.cli import run
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.env import Environment
from seedance_cli.models import MAX_LISTED_MODELS, ModelList
from seedance_cli.render import Output
from seedance_cli.views import Availability, ModelDetail, ModelRows, Shown

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY
from .fakeapi import FakeAPI, fake_api

IDS = list(catalogue())
ENTRIES = {entry["id"]: entry for entry in json.loads(DATA.read_text(encoding="utf-8"))}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: The keys of every object of ``models --json`` beside the ``catalogue.json`` entry's.
DERIVED_KEYS = ["id", "known", "default", "family", "tier", "durations"]
LISTED = {
    "object": "list",
    "data": [
        {"id": "seedance-1.5-pro", "object": "model", "created": 1, "owned_by": "evolink"},
        {
            "id": "seedance-2.0-text-to-video",
            "object": "model",
            "created": 1,
            "owned_by": "evolink",
        },
        {"id": "seedance-9.0-pro", "object": "model", "created": 1, "owned_by": "evolink"},
        {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "evolink"},
    ],
}
ABSENT_NOTE = (
    "the API does not say which models this key may use (it has no GET /v1/models); "
    "showing what this version knows"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def visible(text: str) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", text).splitlines()]


def shown(result: Shown, width: int) -> list[str]:
    """The lines a colour terminal ``width`` columns wide shows for ``result``."""
    out = Terminal()
    environ = {"TERM": "xterm-256color", "COLUMNS": str(width)}
    Output(stdout=out, stderr=io.StringIO(), environ=environ).show(result)
    return visible(out.getvalue())


def every_model(availability: Availability | None = None) -> ModelRows:
    return ModelRows(tuple(catalogue().values()), DEFAULT_MODEL, availability)


def assert_fits(lines: list[str], width: int) -> None:
    assert lines and all(len(line) <= width for line in lines), max(map(len, lines))


def assert_ids_whole(lines: list[str], ids: list[str]) -> None:
    """Each id starts a line, whole, in order."""
    starts = [
        line.split("  ")[0].removesuffix(" (default)")
        for line in lines
        if line[:1] not in (" ", "?")  # wrapped lines, the wide table's caption
    ]
    assert [s for s in starts if s not in ("ID", "")] == ids


@pytest.fixture
def models_api(environ: dict[str, str]) -> Iterator[FakeAPI]:
    """A hand-written API the CLI points at (the emulator of this branch has no /v1/models)."""
    with fake_api() as api:
        environ.update(
            SEEDANCE_BASE_URL=api.url, SEEDANCE_FILES_URL=api.url, SEEDANCE_API_KEY=SENTINEL_KEY
        )
        yield api


# -- the catalogue, without the API ------------------------------------------------------------------


def test_piped_it_is_one_id_per_line_and_needs_no_key(cli: CliRunner) -> None:
    result = cli("models")
    assert (result.code, result.lines, result.err) == (0, IDS, "")


def test_json_is_one_array_with_every_catalogue_field_under_its_own_name(cli: CliRunner) -> None:
    result = cli("models", "--json")
    assert result.code == 0 and result.err == "" and len(result.lines) == 1
    (listing,) = result.json
    assert [model["id"] for model in listing] == IDS
    for model in listing:
        entry = ENTRIES[model["id"]]
        assert list(model) == DERIVED_KEYS + [k for k in entry if k != "id"]
        assert {k: model[k] for k in entry} == entry
        spec = catalogue()[model["id"]]
        assert model["known"] is True and model["default"] is (model["id"] == DEFAULT_MODEL)
        assert (model["family"], model["tier"], model["durations"]) == (
            spec.family,
            spec.tier,
            spec.durations,
        )
        assert "available" not in model  # asked only with --available


@pytest.mark.parametrize("width", [80, 120])
def test_a_terminal_gets_one_block_per_model_that_fits_and_never_cuts_an_id(width: int) -> None:
    lines = shown(every_model(), width)
    assert_fits(lines, width)
    assert lines[0].split() == ["ID", "DETAILS"]
    assert_ids_whole(lines, IDS)
    assert f"{DEFAULT_MODEL} (default)" in lines[1]
    text = "\n".join(lines)
    block = text.split("seedance-2.0-reference-to-video", 1)[1].split("\n\n")[0]
    assert "reference-to-video, 4-15 s, 480p 720p" in block
    assert "ratios 16:9 9:16 1:1 4:3 3:4 21:9 adaptive" in block
    assert "images 0-9, videos 0-3, audio 0-3" in block
    assert "web search" in text.split("seedance-2.5-text-to-video", 1)[1].split("\n\n")[0]
    assert "4-30 s or auto" in text and "keep_ratio" in text


def test_a_wide_terminal_gets_a_column_per_fact() -> None:
    lines = shown(every_model(), 160)
    assert_fits(lines, 160)
    assert lines[0].split() == [
        "ID",
        "MODE",
        "SECONDS",
        "QUALITY",
        "RATIOS",
        "INPUTS",
        "EXTRAS",
    ]
    assert_ids_whole(lines, IDS)
    (row,) = [line for line in lines if line.startswith("seedance-2.0-reference-to-video ")]
    assert row.split()[1:5] == ["reference-to-video", "4-15", "s", "480p"]
    assert "16:9 9:16" in row and "images 0-9," in row


def test_a_terminal_through_the_command_fits_80_columns(cli: CliRunner) -> None:
    environment = cli.environment(env={"TERM": "xterm-256color", "COLUMNS": "80"})
    environment = Environment(
        stdin=environment.stdin,
        stdout=Terminal(),
        stderr=environment.stderr,
        environ={k: v for k, v in environment.environ.items() if k != "NO_COLOR"},
        clock=environment.clock,
        wall_clock=environment.wall_clock,
        sleep=environment.sleep,
    )
    assert run(["models"], environment) == 0
    lines = visible(environment.stdout.getvalue())  # type: ignore[attr-defined]
    assert_fits(lines, 80)
    assert_ids_whole(lines, IDS)
    assert "\x1b[" in environment.stdout.getvalue()  # type: ignore[attr-defined]


def test_a_real_terminal_of_80_columns(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR",)}
    env.update(TERM="xterm-256color", COLUMNS="80", PYTHONUNBUFFERED="1")
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "seedance_cli", "models"],
        env=env,
        stdout=sub,
        stderr=sub,
        stdin=subprocess.DEVNULL,
    )
    os.close(sub)
    chunks, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(main)
    assert proc.wait(timeout=5) == 0
    lines = visible(b"".join(chunks).decode().replace("\r", ""))
    assert_fits(lines, 80)
    assert_ids_whole(lines, IDS)


# -- one model -------------------------------------------------------------------------------------


def test_one_model_piped_is_key_tab_value_lines(cli: CliRunner) -> None:
    result = cli("models", "seedance-2.5-reference-to-video")
    assert result.code == 0 and result.err == ""
    facts = dict(line.split("\t") for line in result.lines)
    assert list(facts)[:3] == ["id", "default", "mode"]
    assert facts["id"] == "seedance-2.5-reference-to-video" and facts["default"] == "no"
    assert facts["durations"] == "4-30 s or auto (default 5)"
    assert facts["qualities"] == "480p 720p 1080p (default 720p)"
    assert facts["video_urls"] == "0-10; mp4 mov; at most 200 MB each"
    assert facts["media_required"] == "at least one is required"
    assert facts["output_formats"] == "mp4 mov"
    assert facts["source"] == "models/seedance-2.5-reference-to-video.json"
    assert "available" not in facts
    assert facts["price_per_second"].startswith(
        "480p: 9.3419 credits ($0.137), 5.7056 ($0.084) a billed"
    )


def test_the_default_model_says_so(cli: CliRunner) -> None:
    assert "default\tyes" in cli("models", DEFAULT_MODEL).lines
    (model,) = cli("models", DEFAULT_MODEL, "--json").json
    assert model["default"] is True


def test_one_model_in_json_is_its_object_of_the_list(cli: CliRunner) -> None:
    (listing,) = cli("models", "--json").json
    result = cli("models", "doubao-seedance-1.0-pro-fast", "--json")
    assert result.code == 0 and len(result.lines) == 1
    (model,) = result.json
    assert model.pop("price_per_second") is None and model.pop("minimum_credits") is None
    assert model == listing[1]


@pytest.mark.parametrize("width", [80, 120])
def test_one_model_on_a_terminal_is_a_label_and_value_a_line(width: int) -> None:
    spec = catalogue()["doubao-seedance-1.0-pro-fast"]
    lines = shown(ModelDetail(spec, False), width)
    assert_fits(lines, width)
    assert lines[0].split() == ["id", "doubao-seedance-1.0-pro-fast"]
    assert any(line.split()[:4] == ["with", "an", "image", "16:9"] for line in lines)
    assert "keep_ratio" in "\n".join(lines)


def test_the_price_per_second_is_shown_per_quality_and_never_as_0() -> None:
    from seedance_cli.pricing import per_second, rule

    spec = catalogue()[DEFAULT_MODEL]
    prices, found = per_second(spec.id), rule(spec.id)
    assert prices is not None and found is not None
    lines = shown(ModelDetail(spec, True, None, tuple(prices), found.minimum), 100)
    text = "\n".join(lines)
    assert "720p: 3.5568 credits ($0.052) with audio, 1.7784 ($0.026) without" in text
    assert "at least 3.4445 credits a create" in text
    unpriced = catalogue()["doubao-seedance-1.0-pro-fast"]
    lines = shown(ModelDetail(unpriced, False), 100)
    assert any("unknown: EvoLink publishes no price" in line for line in lines)


def test_the_price_per_second_in_json_and_piped(cli: CliRunner) -> None:
    (data,) = cli("--json", "models", "seedance-2.0-reference-to-video").json
    assert data["minimum_credits"] == 25.002
    assert {
        "quality": "720p",
        "audio": None,
        "reference_videos": True,
        "credits": 8.2215,
        "usd": pytest.approx(8.2215 / 68),
    } in data["price_per_second"]
    piped = cli("models", "seedance-1.5-pro").out.splitlines()
    price = next(line for line in piped if line.startswith("price_per_second\t"))
    assert "720p: 3.5568 credits ($0.052) with audio" in price and "; 1080p:" in price
    (unknown,) = cli("--json", "models", "doubao-seedance-1.0-pro-fast").json
    assert unknown["price_per_second"] is None and unknown["minimum_credits"] is None
    # a billed second is explained where it is used; an edit's video is not a "reference"
    reference = cli("models", "seedance-2.0-reference-to-video").out
    assert "8.2215 ($0.121) a billed second with reference videos" in reference
    assert "billed seconds with reference videos: the output's length plus the longer of" in (
        reference
    )
    edit = cli("models", "seedance-2.5-video-edit").out
    assert "a billed second;" in edit and "with reference videos" not in edit
    assert "billed seconds with the video it edits or extends" in edit


@pytest.mark.parametrize("name", ["seedance-1.5", "Seedance-1.5-Pro", "veo-3"])
def test_an_unknown_model_is_exit_2_with_the_closest_ids(
    cli: CliRunner, models_api: FakeAPI, name: str
) -> None:
    result = cli("models", name, "--available")
    assert result.code == 2 and result.out == ""
    first, *rest = result.err.splitlines()
    assert first == f"error: MODEL: unknown model {name!r}"
    (hint,) = rest
    assert hint.endswith("`seedance models` lists every model this version knows")
    if name != "veo-3":
        assert hint.startswith("hint: did you mean seedance-1.5-pro")
    assert models_api.requests() == []  # refused before any request


def test_an_unknown_model_in_json_is_the_error_object(cli: CliRunner) -> None:
    result = cli("models", "seedance-1.5", "--json")
    assert result.code == 2
    assert result.json[0]["error"]["message"] == "MODEL: unknown model 'seedance-1.5'"


# -- --available -----------------------------------------------------------------------------------


def test_available_marks_each_model_and_flags_those_this_version_does_not_know(
    cli: CliRunner, models_api: FakeAPI
) -> None:
    models_api.route("GET", "/v1/models", 200, LISTED)
    result = cli("models", "--available")
    assert result.code == 0 and result.err == ""
    rows = [line.split("\t") for line in result.lines]
    assert rows[0] == ["seedance-1.5-pro", "yes", "yes"]
    assert rows[1] == ["doubao-seedance-1.0-pro-fast", "no", "yes"]
    assert ["seedance-2.0-text-to-video", "yes", "yes"] in rows
    assert rows[-1] == ["seedance-9.0-pro", "yes", "no"]  # listed, unknown here
    assert len(rows) == len(IDS) + 1  # gpt-4o is no Seedance model: not shown
    (request,) = models_api.requests()
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {SENTINEL_KEY}"


def test_available_in_json(cli: CliRunner, models_api: FakeAPI) -> None:
    models_api.route("GET", "/v1/models", 200, LISTED)
    (listing,) = cli("models", "--available", "--json").json
    flags = {model["id"]: model["available"] for model in listing}
    assert flags["seedance-1.5-pro"] is True and flags["seedance-2.5-video-edit"] is False
    assert listing[-1] == {"id": "seedance-9.0-pro", "known": False, "available": True}
    (one,) = cli("models", "seedance-2.0-text-to-video", "--available", "--json").json
    assert one["available"] is True


def test_available_for_one_model(cli: CliRunner, models_api: FakeAPI) -> None:
    models_api.route("GET", "/v1/models", 200, LISTED)
    result = cli("models", "seedance-2.5-video-edit", "--available")
    assert "available\tno" in result.lines and result.code == 0


@pytest.mark.parametrize("width", [80, 120])
def test_available_on_a_narrow_terminal(width: int) -> None:
    availability = Availability.of(ModelList.from_api(LISTED), IDS)
    lines = shown(every_model(availability), width)
    assert_fits(lines, width)
    assert_ids_whole(lines, [*IDS, "seedance-9.0-pro"])
    assert lines[1].split()[-1] == "available"
    (doubao,) = [line for line in lines if line.startswith("doubao-seedance-1.0-pro-fast ")]
    assert doubao.split()[1:] == ["not", "available", "to", "this", "key"]
    new = " ".join(" ".join(lines).split("seedance-9.0-pro", 1)[1].split())
    assert new == "available listed by the API, not known to this version (no rules of its own)"


def test_available_on_a_wide_terminal() -> None:
    availability = Availability.of(ModelList.from_api(LISTED), IDS)
    lines = shown(every_model(availability), 160)
    assert_fits(lines, 160)
    assert_ids_whole(lines, [*IDS, "seedance-9.0-pro"])
    assert lines[0].split()[:3] == ["ID", "AVAILABLE", "MODE"]
    assert lines[1].split()[2:4] == ["yes", "text-or-image-to-video"]
    assert lines[3].split()[1:3] == ["no", "text-or-image-to-video"]
    assert lines[-2].split() == ["seedance-9.0-pro", "yes", "?"]
    assert lines[-1] == "?: listed by the API, not known to this version (no rules of its own)"


def test_available_against_the_emulator_marks_a_retired_model(
    cli: CliRunner, api: Emulator
) -> None:
    api.retire("seedance-1.5-pro")
    result = cli("models", "--available")
    assert result.code == 0 and result.err == ""
    assert result.lines == [
        f"{model_id}\t{'no' if model_id == 'seedance-1.5-pro' else 'yes'}\tyes" for model_id in IDS
    ]


def test_available_when_the_emulator_has_no_such_endpoint(cli: CliRunner, api: Emulator) -> None:
    """The emulator's switch makes /v1/models answer 404: the API does not say."""
    api.models_endpoint = False
    result = cli("models", "--available")
    assert result.code == 0
    assert result.lines == [f"{model_id}\t-\tyes" for model_id in IDS]
    assert result.err.splitlines() == [ABSENT_NOTE]
    assert [r.path for r in api.requests()] == ["/v1/models"]


@pytest.mark.parametrize("status", [404, 405])
def test_available_where_the_endpoint_is_absent(
    cli: CliRunner, models_api: FakeAPI, status: int
) -> None:
    models_api.route("GET", "/v1/models", status, {"error": {"message": "no"}})
    result = cli("models", "--available", "--json")
    assert result.code == 0 and result.err.splitlines() == [ABSENT_NOTE]
    (listing,) = result.json
    assert [m["available"] for m in listing] == [None] * len(IDS)
    assert len(models_api.requests()) == 1  # not retried
    one = cli("models", DEFAULT_MODEL, "--available")
    assert "available\tunknown (the API does not say)" in one.lines
    assert cli("models", "--available", "--quiet").err == ""


def test_available_retries_a_failing_endpoint_like_any_read_then_exit_7(
    cli: CliRunner, models_api: FakeAPI, clock: FakeClock
) -> None:
    models_api.route("GET", "/v1/models", 500, {"error": {"code": "internal_error"}})
    result = cli("models", "--available")
    assert result.code == 7 and result.out == ""
    assert result.err.startswith("error: ")
    assert len(models_api.requests()) == 6 and len(clock.sleeps) == 5


def test_available_recovers_from_a_passing_failure(
    cli: CliRunner, models_api: FakeAPI, clock: FakeClock
) -> None:
    models_api.route("GET", "/v1/models", 429, {"error": {"code": "rate_limit_exceeded"}})
    models_api.route("GET", "/v1/models", 503, b"<html>busy</html>", {"Content-Type": "text/html"})
    models_api.route("GET", "/v1/models", 200, LISTED)
    result = cli("models", "--available")
    assert result.code == 0 and result.lines[0] == "seedance-1.5-pro\tyes\tyes"
    assert len(models_api.requests()) == 3


@pytest.mark.parametrize(("status", "code"), [(401, 4), (403, 4), (400, 6)])
def test_available_refused_is_the_usual_exit_code(
    cli: CliRunner, models_api: FakeAPI, status: int, code: int
) -> None:
    models_api.route("GET", "/v1/models", status, {"error": {"code": "x", "message": "refused"}})
    result = cli("models", "--available")
    assert (result.code, result.out) == (code, "")
    assert result.err.splitlines()[0] == "error: refused"


def test_available_needs_a_key(cli: CliRunner, emulator: Emulator) -> None:
    result = cli("models", "--available", env={"SEEDANCE_BASE_URL": emulator.url})
    assert result.code == 3 and result.err.startswith("error: no API key")
    assert emulator.requests() == []


# -- absurd answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"data": "seedance-1.5-pro"}, {"data": None}, {"object": "list"}, "models", 42, None],
)
def test_an_answer_without_a_list_of_models_is_a_service_failure(
    cli: CliRunner, models_api: FakeAPI, body: object
) -> None:
    models_api.route("GET", "/v1/models", 200, body)
    result = cli("models", "--available")
    assert (result.code, result.out) == (7, "")
    assert result.err.splitlines() == [
        "error: the answer of GET /v1/models holds no list of models"
    ]


def test_an_answer_that_is_not_json_is_a_service_failure(
    cli: CliRunner, models_api: FakeAPI
) -> None:
    models_api.route("GET", "/v1/models", 200, b"<html>oops</html>")
    result = cli("models", "--available")
    assert result.code == 7 and result.out == ""


def test_entries_without_a_usable_id_are_skipped_and_counted(
    cli: CliRunner, models_api: FakeAPI
) -> None:
    body = {
        "data": [
            1,
            None,
            {"id": 5},
            {"name": "seedance-2.0-text-to-video"},
            {"id": ["seedance-2.5-video-edit"]},
            {"id": "seedance-x" * 30},  # 300 characters
            {"id": "seedance-evil\x1b[2J"},
            {"id": "   "},
            "seedance-2.0-image-to-video",  # a bare string is an id too
            {"id": "seedance-1.5-pro"},
            {"id": "seedance-1.5-pro"},  # twice: once
            {"id": " seedance-9.0-pro "},
        ]
    }
    models_api.route("GET", "/v1/models", 200, body)
    result = cli("models", "--available")
    assert result.code == 0
    assert result.err.splitlines() == ["8 entries of the API's list had no usable id: ignored"]
    rows = dict((r.split("\t")[0], r.split("\t")[1:]) for r in result.lines)
    assert rows["seedance-1.5-pro"] == ["yes", "yes"]
    assert rows["seedance-2.0-image-to-video"] == ["yes", "yes"]
    assert rows["seedance-2.0-text-to-video"] == ["no", "yes"]
    assert rows["seedance-9.0-pro"] == ["yes", "no"]
    assert len(rows) == len(IDS) + 1 and "\x1b" not in result.out


def test_a_million_entries_are_read_only_up_to_the_cap(cli: CliRunner, models_api: FakeAPI) -> None:
    body = {"data": [{"id": "seedance-1.5-pro"}] + [0] * 999_999}
    models_api.route("GET", "/v1/models", 200, body)
    started = time.monotonic()
    result = cli("models", "--available")
    assert time.monotonic() - started < 20
    assert result.code == 0 and result.lines[0] == "seedance-1.5-pro\tyes\tyes"
    assert result.err.splitlines() == [
        f"the API listed more than {MAX_LISTED_MODELS} models; the rest was not read",
        f"{MAX_LISTED_MODELS - 1} entries of the API's list had no usable id: ignored",
    ]


def test_many_new_models_are_shown_up_to_a_cap(cli: CliRunner, models_api: FakeAPI) -> None:
    body = {"data": [{"id": f"seedance-9.{n}-pro"} for n in range(80)]}
    models_api.route("GET", "/v1/models", 200, body)
    result = cli("models", "--available")
    assert result.code == 0 and len(result.lines) == len(IDS) + 50
    assert result.err.splitlines() == [
        "and 30 more Seedance models the API lists that this version does not know"
    ]


def test_the_model_list_is_read_tolerantly() -> None:
    assert ModelList.from_api(["a", {"id": "b"}, "a"]) == ModelList(("a", "b"))
    assert ModelList.from_api({"data": []}) == ModelList(())
    capped = ModelList.from_api([f"m{n}" for n in range(MAX_LISTED_MODELS + 5)])
    assert len(capped.ids) == MAX_LISTED_MODELS and capped.truncated


def test_a_long_new_id_is_folded_never_cut_on_a_terminal() -> None:
    long_id = "seedance-" + "q" * 150
    availability = Availability.of(ModelList((long_id,)), IDS)
    for width in (80, 160):
        lines = shown(every_model(availability), width)
        assert_fits(lines, width)
        assert "".join(lines).count("q") == 150
