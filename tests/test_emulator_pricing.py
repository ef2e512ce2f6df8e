"""The emulator charges what EvoLink would: reservations by the published rules (``pricing.charge``,
API.md's worked examples through real creates), credits released when a task fails or is
cancelled, the ``billing`` object over a task's life, ``idempotency-replayed`` on a reused key,
and the live pricing rules endpoints (generated from ``pricing.RULES``), with their switches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import jsonschema
import pytest

from seedance_cli import pricing
from seedance_cli.catalogue import catalogue
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.emulator.rules import REFERENCE_VIDEO_SECONDS, auto_seconds
from seedance_cli.emulator.service import UNPRICED_CREDITS

from .bodies import minimal
from .clirunner import CliRunner
from .schemas import validate_response

QUERY = ("get-task-detail.json", "/v1/tasks/{task_id}", "get")
VIDEO = "https://example.com/v.mp4"
START = 100_000.0  # the emulator's starting balance


def post(http: httpx.Client, body: Mapping[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post("/v1/videos/generations", json=dict(body), headers=headers)


def reserved(http: httpx.Client, body: Mapping[str, Any]) -> float:
    response = post(http, body)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["billing"]["reserved_credits"] == task["usage"]["credits_reserved"]
    credits: float = task["usage"]["credits_reserved"]
    return credits


def balance(http: httpx.Client) -> tuple[Any, Any]:
    """(remaining, used) of the key, as ``approx`` values to compare with sums of floats."""
    token = http.get("/v1/credits").json()["data"]["token"]
    return pytest.approx(token["remaining_credits"]), pytest.approx(token["used_credits"])


# -- reservations by the published rules -----------------------------------------------------------

PRO = "seedance-1.5-pro"
WORKED_EXAMPLES = [  # API.md, "Pricing": worked examples
    ({"model": PRO, "duration": 5, "quality": "720p"}, 17.784),
    ({"model": PRO, "duration": 5, "quality": "720p", "generate_audio": False}, 8.892),
    ({"model": PRO, "duration": 4, "quality": "480p", "generate_audio": False}, 3.4445),
    ({"model": PRO, "duration": 12, "quality": "1080p"}, 95.18),
    ({"model": "seedance-2.0-text-to-video", "duration": 5, "quality": "720p"}, 67.5),
    ({"model": "seedance-2.0-mini-text-to-video", "duration": 5, "quality": "720p"}, 13.5),
    ({"model": "seedance-2.5-text-to-video", "duration": 5, "quality": "720p"}, 100.45),
]


@pytest.mark.parametrize(("fields", "credits"), WORKED_EXAMPLES)
def test_a_create_reserves_the_worked_examples_of_api_md(
    http: httpx.Client, fields: dict[str, Any], credits: float
) -> None:
    assert reserved(http, {"prompt": "A cat", **fields}) == credits


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (PRO, {"duration": 9, "quality": "1080p", "generate_audio": False}),
        ("seedance-2.0-image-to-video", {"duration": 15, "quality": "4k"}),
        ("seedance-2.0-fast-text-to-video", {"duration": 7, "quality": "480p"}),
        ("seedance-2.0-mini-image-to-video", {"duration": 4, "quality": "480p"}),  # the minimum
        ("seedance-2.5-image-to-video", {"duration": 30, "quality": "1080p"}),
        ("seedance-2.5-video-extend", {"duration": 8, "quality": "480p"}),
    ],
)
def test_reservations_follow_pricing_charge_for_any_model(
    http: httpx.Client, model: str, fields: dict[str, Any]
) -> None:
    body = {**minimal(catalogue()[model]), **fields}
    videos = len(body.get("video_urls", []))
    expected = pricing.charge(
        model,
        quality=fields["quality"],
        output_seconds=fields["duration"],
        input_seconds=videos * REFERENCE_VIDEO_SECONDS if videos else None,
        audio=fields.get("generate_audio", True),
    )
    assert expected is not None and reserved(http, body) == float(expected)


def test_without_the_content_filter_a_create_costs_a_tenth_more(http: httpx.Client) -> None:
    body = {"model": "seedance-2.0-text-to-video", "prompt": "A cat", "duration": 5}
    assert reserved(http, {**body, "content_filter": False}) == 74.25  # 67.5 x 1.1


def test_an_automatic_duration_is_priced_at_the_length_the_emulator_picks(
    http: httpx.Client,
) -> None:
    spec = catalogue()["seedance-2.5-text-to-video"]
    seconds = auto_seconds(spec, "A storm")
    credits = reserved(http, {"model": spec.id, "prompt": "A storm", "duration": -1})
    assert credits == float(Decimal(seconds) * Decimal("20.09"))  # 720p: factor 1


@pytest.mark.parametrize(
    ("model", "videos", "input_seconds"),
    [
        ("seedance-2.0-reference-to-video", 1, 5),
        ("seedance-2.0-reference-to-video", 3, 15),  # 2.0: 15 s in all
        ("seedance-2.5-reference-to-video", 2, 10),
        ("seedance-2.5-reference-to-video", 10, 30),  # 2.5: at most 30 s in all
    ],
)
def test_each_reference_video_counts_five_seconds_up_to_the_family_total(
    http: httpx.Client, model: str, videos: int, input_seconds: int
) -> None:
    body = {"model": model, "prompt": "Match the dance", "video_urls": [VIDEO] * videos}
    # output 5 s (default), billed output + max(input, output), at the reference 720p factor
    expected = pricing.charge(model, quality="720p", output_seconds=5, input_seconds=input_seconds)
    assert expected is not None and reserved(http, body) == float(expected)
    rate = pricing.rule(model).rate  # type: ignore[union-attr]
    assert expected == pricing.round_credits((5 + max(input_seconds, 5)) * Decimal("0.609") * rate)


def test_a_model_without_a_published_price_reserves_the_fixed_figure(http: httpx.Client) -> None:
    model = "doubao-seedance-1.0-pro-fast"
    body = {"model": model, "prompt": "A cat", "duration": 12}
    assert pricing.rule(model) is None
    assert reserved(http, body) == UNPRICED_CREDITS == 10.0


def test_a_create_beyond_the_balance_is_402_and_reserves_nothing(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, credits=50) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        assert post(http, {"model": PRO, "prompt": "x", "duration": 12}).status_code == 200
        response = post(http, {"model": PRO, "prompt": "x", "duration": 12})
        assert response.status_code == 402
        assert balance(http) == (50 - 42.6816, 0.0)  # 12 x 2 x 1.7784, the first only


# -- release, charge and billing over a task's life ------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"), [("task:fail", "failed"), ("task:cancel", "cancelled")]
)
def test_a_failed_or_cancelled_task_releases_its_credits(
    http: httpx.Client, emulator: Emulator, clock: FakeClock, fault: str, status: str
) -> None:
    emulator.add_fault(fault)
    task = post(http, {"model": PRO, "prompt": "A cat"}).json()
    assert balance(http) == (START - 17.784, 0.0)  # reserved while it runs
    clock.advance(60)
    ended = http.get(f"/v1/tasks/{task['id']}").json()
    assert ended["status"] == status
    assert balance(http) == (START, 0.0)  # released: the whole reservation is back
    assert ended["billing"] == {
        "charge_status": "released",
        "refund_status": "completed",
        "reserved_credits": 17.784,
        "charged_credits": 0,
        "refunded_credits": 17.784,
        "refunded_at": "2026-01-01T00:00:30Z",  # failed halfway through its 60 s
    }
    assert "usage" not in ended


def test_billing_goes_reserved_then_charged_with_usage_credits_used(
    http: httpx.Client, clock: FakeClock
) -> None:
    created = post(http, {"model": PRO, "prompt": "A cat"}).json()
    running = {
        "charge_status": "reserved",
        "refund_status": "not_required",
        "reserved_credits": 17.784,
        "charged_credits": 0,
        "refunded_credits": 0,
    }
    assert created["billing"] == running
    clock.advance(30)
    processing = http.get(f"/v1/tasks/{created['id']}")
    validate_response(*QUERY, 200, processing.json())
    assert processing.json()["status"] == "processing" and processing.json()["billing"] == running
    clock.advance(30)
    done = http.get(f"/v1/tasks/{created['id']}").json()
    validate_response(*QUERY, 200, done)
    assert done["billing"] == {**running, "charge_status": "charged", "charged_credits": 17.784}
    assert done["usage"] == {
        "billing_rule": "per_call",
        "credits_reserved": 17.784,
        "credits_used": 17.784,
        "user_group": "default",
    }
    assert balance(http) == (START - 17.784, 17.784)


def test_without_billing_tasks_have_the_documented_shape(clock: FakeClock) -> None:
    with (
        Emulator(clock=clock, task_seconds=60, billing=False) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer k"}) as http,
    ):
        created = post(http, {"model": PRO, "prompt": "A cat"}).json()
        assert "billing" not in created and created["usage"]["credits_reserved"] == 17.784
        clock.advance(60)
        done = http.get(f"/v1/tasks/{created['id']}").json()
        assert "billing" not in done and "usage" not in done
        emu.billing = True  # switched on a running emulator: the next answer has it
        assert http.get(f"/v1/tasks/{created['id']}").json()["billing"]["charged_credits"]


# -- idempotency-replayed --------------------------------------------------------------------------


def test_a_reused_key_answers_the_original_task_with_the_replayed_header(
    http: httpx.Client, emulator: Emulator, clock: FakeClock
) -> None:
    first = post(http, {"model": PRO, "prompt": "A cat"}, key="ci-42")
    assert "idempotency-replayed" not in first.headers
    clock.advance(60)  # the original has completed since: the answer is still the first one
    again = post(http, {"model": PRO, "prompt": "Another body, same key"}, key="ci-42")
    assert again.status_code == 200 and again.headers["idempotency-replayed"] == "true"
    assert again.json() == first.json()
    assert len(emulator.service.tasks) == 1
    assert balance(http) == (START - 17.784, 17.784)  # charged once


def test_a_key_replays_only_for_its_own_api_key_and_only_when_given(
    http: httpx.Client, emulator: Emulator
) -> None:
    body = {"model": PRO, "prompt": "A cat"}
    mine = post(http, body, key="k1").json()["id"]
    other = httpx.post(
        f"{emulator.url}/v1/videos/generations",
        json=body,
        headers={"Authorization": "Bearer sk-someone-else", "Idempotency-Key": "k1"},
    )
    assert "idempotency-replayed" not in other.headers and other.json()["id"] != mine
    assert post(http, body).json()["id"] != post(http, body).json()["id"]  # no key: new tasks
    assert len(emulator.service.tasks) == 4


def test_a_refused_create_leaves_its_key_free(http: httpx.Client, emulator: Emulator) -> None:
    emulator.add_fault("create:429")
    assert post(http, {"model": PRO, "prompt": "A cat"}, key="k").status_code == 429
    answer = post(http, {"model": PRO, "prompt": "A cat"}, key="k")
    assert answer.status_code == 200 and "idempotency-replayed" not in answer.headers


def test_a_create_whose_answer_was_lost_is_replayed(http: httpx.Client, emulator: Emulator) -> None:
    emulator.add_fault("create:drop")  # carried out, the connection closed before the answer
    with pytest.raises(httpx.HTTPError):
        post(http, {"model": PRO, "prompt": "A cat"}, key="lost")
    (task_id,) = emulator.service.tasks
    again = post(http, {"model": PRO, "prompt": "A cat"}, key="lost")
    assert again.headers["idempotency-replayed"] == "true" and again.json()["id"] == task_id


def test_replay_can_be_switched_off(http: httpx.Client, emulator: Emulator) -> None:
    emulator.idempotency_replay = False  # the behaviour before it existed: a new task each time
    first = post(http, {"model": PRO, "prompt": "A cat"}, key="k").json()["id"]
    second = post(http, {"model": PRO, "prompt": "A cat"}, key="k")
    assert "idempotency-replayed" not in second.headers and second.json()["id"] != first


def test_the_switches_are_steered_through_the_control_endpoint(emulator: Emulator) -> None:
    state = httpx.get(f"{emulator.url}/_emulator/switches").json()
    assert state == {
        "billing": True,
        "idempotency_replay": True,
        "pricing_endpoint": True,
        "models_endpoint": True,
        "batch_endpoint": True,
        "list_endpoint": True,
    }
    changed = httpx.post(
        f"{emulator.url}/_emulator/switches", json={"billing": False, "pricing_endpoint": False}
    )
    assert changed.json() == {**state, "billing": False, "pricing_endpoint": False}
    assert not emulator.billing and not emulator.pricing_endpoint
    refused = httpx.post(f"{emulator.url}/_emulator/switches", json={"billing": "no", "x": True})
    assert refused.status_code == 400 and not emulator.billing


# -- the pricing rules endpoints -------------------------------------------------------------------

DECIMAL = {"type": "string", "pattern": r"^(?:0|[1-9]\d*)(?:\.\d+)?$"}
SIGNED = {"type": "string", "pattern": r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$"}
DATE_TIME = {"type": "string", "format": "date-time"}
MONEY = {
    "type": "object",
    "required": ["uc", "credits", "cny", "usd"],
    "properties": {name: DECIMAL for name in ("uc", "credits", "cny", "usd")},
    "additionalProperties": False,
}
#: The shape EvoLink's own CLI accepts from these endpoints (its validation, transcribed: the
#: zod schemas of ``pricing-rules-client.js``), with the components this family needs.
RULES_SCHEMA: dict[str, Any] = {
    "$defs": {
        "meta": {
            "type": "object",
            "required": [
                "schema_version",
                "catalog_version",
                "pricing_version",
                "price_scope",
                "currency",
                "exchange_rate_version",
                "updated_at",
                "fresh_until",
            ],
            "properties": {
                "schema_version": {"const": "2"},
                "catalog_version": {"type": "string", "minLength": 1, "maxLength": 128},
                "pricing_version": {"type": "string", "minLength": 1, "maxLength": 128},
                "price_scope": {"const": "public_default"},
                "currency": {"const": "USD"},
                "exchange_rate_version": {"const": "pricing-fx/v1:USD-CNY=6.8"},
                "updated_at": DATE_TIME,
                "fresh_until": DATE_TIME,
            },
        },
        "expression": {
            "type": "object",
            "required": ["op"],
            "properties": {
                "op": {"type": "string", "minLength": 1, "maxLength": 40},
                "name": {"type": "string", "maxLength": 100},
                "value": {"type": "string", "maxLength": 128},
                "args": {"type": "array", "maxItems": 32, "items": {"$ref": "#/$defs/expression"}},
                "key": {"$ref": "#/$defs/expression"},
                "values": {"type": "object", "additionalProperties": SIGNED, "minProperties": 1},
            },
        },
        "component": {
            "type": "object",
            "required": [
                "id",
                "role",
                "dimension",
                "unit",
                "sku_id",
                "rate",
                "minimum_charge",
                "billing_rule",
                "pricing_status",
                "effective_at",
                "billing_unit_size",
                "display_unit_size",
                "quantity_rule",
                "rounding",
                "tiers",
            ],
            "properties": {
                "rate": MONEY,
                "minimum_charge": MONEY,
                "pricing_status": {"enum": ["available", "unavailable"]},
                "effective_at": DATE_TIME,
                "billing_unit_size": {"type": "integer", "minimum": 1},
                "display_unit_size": {"type": "integer", "minimum": 1},
                "quantity_rule": {"$ref": "#/$defs/expression"},
                "rounding": {
                    "type": "object",
                    "required": ["point", "mode"],
                    "properties": {"point": {"type": "string"}, "mode": {"type": "string"}},
                },
                "tiers": {"type": "array", "maxItems": 0},
            },
        },
        "model": {
            "type": "object",
            "required": [
                "model_id",
                "product_id",
                "operation",
                "modality",
                "lifecycle",
                "pricing_status",
                "settlement_basis",
                "policy_version",
                "policy_checksum",
                "policy_source",
                "components",
            ],
            "properties": {
                "model_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._:-]*$"},
                "product_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._:-]*$"},
                "operation": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._:-]*$"},
                "modality": {"enum": ["text", "image", "video", "audio"]},
                "lifecycle": {"enum": ["active", "preview", "deprecated"]},
                "pricing_status": {"enum": ["available", "unavailable"]},
                "policy_version": {"type": "integer", "minimum": 0},
                "policy_checksum": {"type": "string", "pattern": "^[a-f0-9]{64}$"},
                "policy_source": {"enum": ["published", "legacy_text_adapter"]},
                "parameters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {"minimum": SIGNED, "maximum": SIGNED},
                    },
                },
                "components": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/$defs/component"},
                },
            },
        },
    },
}
LIST_SCHEMA = {
    **RULES_SCHEMA,
    "type": "object",
    "required": ["meta", "models"],
    "properties": {
        "meta": {"$ref": "#/$defs/meta"},
        "models": {"type": "array", "items": {"$ref": "#/$defs/model"}},
    },
}
SINGLE_SCHEMA = {
    **RULES_SCHEMA,
    "type": "object",
    "required": ["meta", "model"],
    "properties": {"meta": {"$ref": "#/$defs/meta"}, "model": {"$ref": "#/$defs/model"}},
}
PRICED = sorted(model for model in catalogue() if pricing.rule(model) is not None)


def valid(schema: dict[str, Any], body: Any) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        body
    )


def evaluate(node: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """A published quantity rule, evaluated over ``values`` (the expression language of the
    rules, as far as this family uses it)."""
    op = node["op"]
    if op == "variable":
        return values[node["name"]]
    if op == "constant":
        return Decimal(node["value"])
    if op == "lookup":
        return Decimal(node["values"][evaluate(node["key"], values)])
    args = [evaluate(arg, values) for arg in node.get("args", [])]
    if op == "if":
        return args[1] if args[0] else args[2]
    operations: dict[str, Callable[[list[Any]], Any]] = {
        "multiply": lambda a: math.prod(a, start=Decimal(1)),
        "add": sum,
        "divide": lambda a: a[0] / a[1],
        "ceil": lambda a: a[0].to_integral_value(ROUND_CEILING),
        "max": max,
        "gt": lambda a: a[0] > a[1],
        "eq": lambda a: a[0] == a[1],
        "clamp": lambda a: min(max(a[0], a[1]), a[2]),
    }
    return operations[op](args)


def charged_by_rules(model: Mapping[str, Any], values: Mapping[str, Any]) -> Decimal:
    (component,) = model["components"]
    quantity = evaluate(component["quantity_rule"], values)
    credits = (quantity * Decimal(component["rate"]["credits"])).quantize(
        Decimal("0.0001"), ROUND_HALF_UP
    )
    minimum = Decimal(component["minimum_charge"]["credits"])
    return credits if credits > minimum else minimum


def test_the_rules_are_served_to_anyone_in_the_shape_evolinks_cli_reads(
    emulator: Emulator,
) -> None:
    listing = httpx.get(f"{emulator.url}/v1/catalog/pricing-rules?view=full")
    assert listing.status_code == 200
    valid(LIST_SCHEMA, listing.json())
    assert [m["model_id"] for m in listing.json()["models"]] == PRICED
    one = httpx.get(f"{emulator.url}/v1/catalog/models/{PRO}/pricing-rules?view=full")
    valid(SINGLE_SCHEMA, one.json())
    assert one.json()["model"] == next(m for m in listing.json()["models"] if m["model_id"] == PRO)
    meta = one.json()["meta"]
    assert (meta["updated_at"], meta["fresh_until"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:05:00Z",
    )
    assert not any(r.has_authorization for r in emulator.requests("pricing"))  # no key needed


def test_a_rule_states_the_published_figures_in_every_unit(emulator: Emulator) -> None:
    model = httpx.get(f"{emulator.url}/v1/catalog/models/{PRO}/pricing-rules").json()["model"]
    (component,) = model["components"]
    assert component["rate"] == {
        "uc": "17784",
        "credits": "1.7784",
        "cny": "0.17784",
        "usd": "0.02615294",
    }
    assert component["minimum_charge"]["credits"] == "3.4445"
    assert component["billing_rule"] == "per_second" and model["lifecycle"] == "active"
    for money in (component["rate"], component["minimum_charge"]):
        uc = Decimal(money["uc"])
        assert Decimal(money["credits"]) * 10_000 == uc and Decimal(money["cny"]) * 100_000 == uc
        assert abs(Decimal(money["usd"]) * 680_000 - uc) <= Decimal("0.0068")


def parameter_grid(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    params = {p["name"]: p for p in model["parameters"]}
    spec = catalogue()[model["model_id"]]
    durations = [spec.duration_min or 4, spec.duration_max or 15]
    for quality in params["quality"]["values"]:
        for seconds in durations:
            for audio in (True, False) if "generate_audio" in params else (True,):
                for videos in (None, 3, 7.25, 40) if "input_seconds" in params else (None,):
                    values: dict[str, Any] = {
                        "quality": quality,
                        "duration_seconds": Decimal(seconds),
                        "duration": Decimal(seconds),
                        "generate_audio": audio,
                        "input_seconds": Decimal(videos or 0),
                    }
                    yield values


@pytest.mark.parametrize("model_id", PRICED)
def test_the_published_rules_price_every_request_as_pricing_charge_does(
    emulator: Emulator, model_id: str
) -> None:
    url = f"{emulator.url}/v1/catalog/models/{model_id}/pricing-rules?view=full"
    model = httpx.get(url).json()["model"]
    for values in parameter_grid(model):
        expected = pricing.charge(
            model_id,
            quality=values["quality"],
            output_seconds=values["duration_seconds"],
            input_seconds=values["input_seconds"] or None,
            audio=values["generate_audio"],
        )
        assert charged_by_rules(model, values) == expected, values


def test_an_automatic_duration_is_billed_on_the_length_produced(emulator: Emulator) -> None:
    model_id = "seedance-2.5-text-to-video"
    model = httpx.get(f"{emulator.url}/v1/catalog/models/{model_id}/pricing-rules").json()["model"]
    values = {"duration": Decimal(-1), "duration_seconds": Decimal(17), "quality": "480p"}
    assert charged_by_rules(model, values) == pricing.charge(
        model_id, quality="480p", output_seconds=17
    )


def test_the_list_filters_and_marks_retired_models_deprecated(emulator: Emulator) -> None:
    emulator.retire("seedance-2.0-mini-text-to-video")
    url = f"{emulator.url}/v1/catalog/pricing-rules"
    edits = httpx.get(url, params={"operation": "video_edit", "view": "full"}).json()["models"]
    assert [m["model_id"] for m in edits] == ["seedance-2.5-video-edit"]
    old = httpx.get(url, params={"lifecycle": "deprecated"}).json()["models"]
    assert [m["model_id"] for m in old] == ["seedance-2.0-mini-text-to-video"]
    fast = httpx.get(url, params={"product_id": "seedance-2-0-fast"}).json()["models"]
    assert {m["model_id"] for m in fast} == {m for m in PRICED if m.startswith("seedance-2.0-fast")}


@pytest.mark.parametrize("model", ["doubao-seedance-1.0-pro-fast", "seedance-9.0"])
def test_a_model_without_published_rules_is_404(emulator: Emulator, model: str) -> None:
    response = httpx.get(f"{emulator.url}/v1/catalog/models/{model}/pricing-rules?view=full")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_pricing_endpoints_can_be_absent(clock: FakeClock) -> None:
    with Emulator(clock=clock, pricing_endpoint=False) as emu:
        for path in ("/v1/catalog/pricing-rules", f"/v1/catalog/models/{PRO}/pricing-rules"):
            assert httpx.get(f"{emu.url}{path}?view=full").status_code == 404
        emu.pricing_endpoint = True
        assert httpx.get(f"{emu.url}/v1/catalog/pricing-rules").status_code == 200


def test_the_pricing_endpoints_take_faults(emulator: Emulator) -> None:
    emulator.add_fault("pricing:503")
    assert httpx.get(f"{emulator.url}/v1/catalog/pricing-rules").status_code == 503
    assert httpx.get(f"{emulator.url}/v1/catalog/pricing-rules").status_code == 200


def test_the_emulator_command_takes_the_switches(cli: CliRunner) -> None:
    result = cli("emulator", "--help")
    for flag in ("--no-pricing-endpoint", "--no-billing", "--no-idempotency-replay"):
        assert flag in result.out
