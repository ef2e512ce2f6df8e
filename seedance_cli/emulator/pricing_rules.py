"""The emulator's live pricing rules: ``GET /v1/catalog/pricing-rules`` and
``GET /v1/catalog/models/{model}/pricing-rules``, generated from ``pricing.RULES``.

API.md knows these endpoints only from EvoLink's own CLI (anonymous, ``?view=full``). The shape is
the one that CLI validates: ``{"meta": {schema_version "2", catalog_version, pricing_version,
price_scope, currency, exchange_rate_version, updated_at, fresh_until}, "models": [...]}`` (one
model: ``"model": {...}``), each model ``{model_id, product_id, operation, modality, lifecycle,
pricing_status, settlement_basis, policy_version, policy_checksum, policy_source, parameters,
components}`` and each component a rate and a minimum charge (``{uc, credits, cny, usd}``: 10,000
uc to the credit, 68 credits to the dollar, 6.8 yuan to the dollar) with a ``quantity_rule``, an
expression tree over the parameters (``variable``, ``constant``, ``multiply``, ``divide``, ``add``,
``ceil``, ``if``, ``gt``, ``eq``, ``max``, ``clamp``, ``lookup``) that gives the billed quantity; the
credits are ``max(round_half_up(quantity x rate, 4 decimals), minimum)``, as ``pricing.charge``
computes them. ``content_filter: false`` (x1.1) is not encoded, as in the published rules.

A model with no published rule (``doubao-seedance-1.0-pro-fast``) is absent from the list and its
own endpoint answers 404; a model the emulator was told to retire is listed as ``deprecated``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from .. import pricing
from ..catalogue import ModelSpec, catalogue

#: How long an answer says it stays fresh (EvoLink's own answered about five minutes).
FRESH_SECONDS: Final = 300
#: 10,000 uc to the credit; 6.8 yuan to the dollar (``exchange_rate_version``).
UC_PER_CREDIT: Final = Decimal(10_000)
CNY_PER_USD: Final = Decimal("6.8")
EXCHANGE_RATE_VERSION: Final = "pricing-fx/v1:USD-CNY=6.8"
EFFECTIVE_AT: Final = f"{pricing.CAPTURED}T00:00:00Z"
#: ``operation`` by catalogue mode, in the words of the published rules.
OPERATIONS: Final = {
    "text-or-image-to-video": "video_generation",
    "text-to-video": "text_to_video",
    "image-to-video": "image_to_video",
    "reference-to-video": "reference_to_video",
    "video-edit": "video_edit",
    "video-extend": "video_extend",
}
#: The query parameters the list endpoint filters on (equality with the model's field).
FILTERS: Final = ("product_id", "operation", "modality", "lifecycle")


def _text(number: Decimal) -> str:
    """A decimal as the rules write it: plain digits, no exponent, no trailing zeros."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0.0") else text


def money(credits: Decimal) -> dict[str, str]:
    """One amount in the four units of the published rules."""
    usd = (credits / pricing.CREDITS_PER_USD).quantize(Decimal("0.00000001"), ROUND_HALF_UP)
    return {
        "uc": _text(credits * UC_PER_CREDIT),
        "credits": _text(credits),
        "cny": _text(credits / pricing.CREDITS_PER_USD * CNY_PER_USD),
        "usd": _text(usd),
    }


def _var(name: str) -> dict[str, Any]:
    return {"op": "variable", "name": name}


def _const(value: Decimal | int | str) -> dict[str, Any]:
    return {"op": "constant", "value": _text(Decimal(value))}


def _op(op: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"op": op, "args": list(args)}


def _lookup(name: str, values: Mapping[str, Decimal]) -> dict[str, Any]:
    return {
        "op": "lookup",
        "key": _var(name),
        "values": {key: _text(value) for key, value in sorted(values.items())},
    }


def _output_seconds(spec: ModelSpec) -> dict[str, Any]:
    """The seconds of output the rule bills: the asked duration, or with ``-1`` (automatic) the
    length produced (``duration_seconds``); an edit bills the length it produced."""
    if spec.mode == "video-edit":
        return _var("duration_seconds")
    if not spec.duration_auto:
        return _var("duration_seconds")
    low = spec.duration_min if spec.duration_min is not None else pricing.AUTO_SECONDS[0]
    high = spec.duration_max if spec.duration_max is not None else pricing.AUTO_SECONDS[1]
    bounds = (_const(low), _const(high))
    return _op(
        "if",
        _op("eq", _var("duration"), _const(-1)),
        _op("clamp", _var("duration_seconds"), *bounds),
        _op("clamp", _var("duration"), *bounds),
    )


def _tenths_up(expression: dict[str, Any]) -> dict[str, Any]:
    """``expression`` rounded up to a tenth: ``ceil(x * 10) / 10``."""
    return _op("divide", _op("ceil", _op("multiply", expression, _const(10))), _const(10))


def _quantity(spec: ModelSpec, rule: pricing.Rule) -> tuple[dict[str, Any], bool]:
    """The rule's quantity expression, and whether it bills reference videos too."""
    output = _output_seconds(spec)
    quality = _lookup("quality", _offered(spec, rule.quality))
    videos = "video_urls" in spec.media and rule.reference_quality is not None
    if not videos:
        factors = [output, quality]
        if rule.audio_factor != 1:
            factors.append(_op("if", _var("generate_audio"), _const(rule.audio_factor), _const(1)))
        if spec.duration_auto:  # a length produced is billed to the tenth
            factors[0] = _tenths_up(output)
        return _op("multiply", *factors), False
    assert rule.reference_quality is not None
    has_input = _op("gt", _var("input_seconds"), _const(0))
    billed = _op(
        "add", output, _op("if", has_input, _op("max", _var("input_seconds"), output), _const(0))
    )
    factor = _op(
        "if",
        has_input,
        _lookup("quality", _offered(spec, rule.reference_quality)),
        quality,
    )
    return _op("multiply", _tenths_up(billed), factor), True


def _offered(spec: ModelSpec, factors: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The factors of the qualities this model takes (a tier's table may hold more)."""
    qualities = spec.qualities or tuple(factors)
    return {quality: factors[quality] for quality in qualities if quality in factors}


def _parameters(spec: ModelSpec, rule: pricing.Rule, videos: bool) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if spec.mode == "video-edit":
        params.append({"name": "duration_seconds", "type": "decimal", "minimum": "0"})
    elif spec.duration_auto:
        params.append(
            {
                "name": "duration",
                "type": "integer",
                "minimum": "-1",
                "maximum": str(spec.duration_max),
                "default": str(spec.duration_default),
            }
        )
        params.append({"name": "duration_seconds", "type": "decimal", "minimum": "0"})
    else:
        params.append(
            {
                "name": "duration_seconds",
                "type": "integer",
                "minimum": str(spec.duration_min),
                "maximum": str(spec.duration_max),
                "default": str(spec.duration_default),
            }
        )
    qualities = list(_offered(spec, rule.quality))
    params.append(
        {
            "name": "quality",
            "type": "enum",
            "values": qualities,
            "default": spec.quality_default or qualities[0],
        }
    )
    if rule.audio_factor != 1:
        params.append({"name": "generate_audio", "type": "boolean", "default": True})
    if videos:
        limits = pricing.VIDEO_LIMITS.get(rule.family)
        param: dict[str, Any] = {"name": "input_seconds", "type": "decimal", "minimum": "0"}
        if limits is not None:
            param["maximum"] = _text(limits.total_max)
        param["default"] = "0"
        params.append(param)
    return params


def _product(spec: ModelSpec) -> str:
    family = spec.family.replace(".", "-")
    if spec.family == "1.5":
        return f"seedance-{family}-pro"
    return f"seedance-{family}" + ("" if spec.tier == "standard" else f"-{spec.tier}")


def _checksum(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def model_rules(
    spec: ModelSpec, *, retired: bool = False, factor: Decimal = Decimal(1)
) -> dict[str, Any] | None:
    """The published rule of one model in the live shape (its rate and minimum times
    ``factor``: ``pricing.scaled``); ``None`` when it has none."""
    rule = pricing.rule(spec.id)
    if rule is None:
        return None
    rule = pricing.scaled(rule, factor)
    quantity, videos = _quantity(spec, rule)
    component: dict[str, Any] = {
        "id": "video_output",
        "role": "video_output",
        "label_key": "output_plus_billable_input_seconds" if videos else "output_seconds",
        "dimension": "input_plus_output_second" if videos else "output_second",
        "sku_id": f"{_product(spec)}-{spec.mode}",
        "unit": "input_plus_output_second" if videos else "output_second",
        "billing_unit_size": 1,
        "display_unit_size": 1,
        "rate": money(rule.rate),
        "minimum_charge": money(rule.minimum),
        "billing_rule": "per_second",
        "pricing_status": "available",
        "effective_at": EFFECTIVE_AT,
        "quantity_rule": quantity,
        "rounding": {"point": "per_component_subtotal", "mode": "half_up"},
        "tiers": [],
    }
    parameters = _parameters(spec, rule, videos)
    return {
        "model_id": spec.id,
        "product_id": _product(spec),
        "operation": OPERATIONS.get(spec.mode, spec.mode.replace("-", "_")),
        "modality": "video",
        "lifecycle": "deprecated" if retired else "active",
        "pricing_status": "available",
        "settlement_basis": "request_then_actual"
        if videos or spec.duration_auto
        else "request_only",
        "policy_version": 1,
        "policy_checksum": _checksum({"parameters": parameters, "components": [component]}),
        "policy_source": "published",
        "parameters": parameters,
        "components": [component],
    }


def every_model(
    retired: Collection[str] = (), factor: Decimal = Decimal(1)
) -> list[dict[str, Any]]:
    """Every model of the catalogue that has a published rule, in id order."""
    found = (
        model_rules(spec, retired=spec.id in retired, factor=factor)
        for spec in catalogue().values()
    )
    return sorted((m for m in found if m is not None), key=lambda m: m["model_id"])


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(now: float, factor: Decimal = Decimal(1)) -> dict[str, str]:
    """The answer's ``meta``: versions derived from the rules themselves, fresh for five
    minutes from ``now``."""
    rules = every_model(factor=factor)
    return {
        "schema_version": "2",
        "catalog_version": "cat_" + _checksum(sorted(m["model_id"] for m in rules))[:24],
        "pricing_version": "prc_" + _checksum(rules)[:24],
        "price_scope": "public_default",
        "currency": "USD",
        "exchange_rate_version": EXCHANGE_RATE_VERSION,
        "updated_at": _iso(now),
        "fresh_until": _iso(now + FRESH_SECONDS),
    }


def listing(
    now: float,
    query: Mapping[str, str],
    retired: Collection[str] = (),
    factor: Decimal = Decimal(1),
) -> dict[str, Any]:
    """``GET /v1/catalog/pricing-rules``: every priced model, filtered by ``query``'s
    ``product_id``, ``operation``, ``modality`` and ``lifecycle`` (other parameters, ``view``
    among them, change nothing: the answer is always the full view)."""
    models = [
        m
        for m in every_model(retired, factor)
        if all(m[name] == query[name] for name in FILTERS if query.get(name))
    ]
    return {"meta": meta(now, factor), "models": models}


def single(
    now: float, model_id: str, retired: Collection[str] = (), factor: Decimal = Decimal(1)
) -> dict[str, Any] | None:
    """``GET /v1/catalog/models/{model}/pricing-rules``; ``None`` for a model with no published
    rule (or none the emulator serves)."""
    spec = catalogue().get(model_id)
    found = model_rules(spec, retired=model_id in retired, factor=factor) if spec else None
    return None if found is None else {"meta": meta(now, factor), "model": found}
