"""Validators built from EvoLink's official OpenAPI files in ``tests/openapi/``.

``strict`` validators also refuse any property the schema does not declare, except the extras that
API.md documents (so the emulator cannot invent fields that scripts might come to rely on).
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

OPENAPI_DIR = Path(__file__).parent / "openapi"

_CREDITS = {"type": "number", "minimum": 0}
#: API.md, "More endpoints seen only in EvoLink's own CLI": a task "may carry billing
#: {charge_status (reserved|charged|released), refund_status, reserved_credits, charged_credits,
#: refunded_credits, refunded_at}".
BILLING = {
    "type": "object",
    "properties": {
        "charge_status": {"enum": ["reserved", "charged", "released"]},
        "refund_status": {"type": "string"},
        "reserved_credits": _CREDITS,
        "charged_credits": _CREDITS,
        "refunded_credits": _CREDITS,
        "refunded_at": {"type": "string", "format": "date-time"},
    },
}

#: Properties API.md documents beyond the official schemas, by file and schema name.
DOCUMENTED_EXTRAS: dict[tuple[str, str], dict[str, Any]] = {
    # API.md: "task_info.estimated_time and usage may appear on pending tasks"; usage holds what
    # the create's answer documents (Create: usage {billing_rule, credits_reserved, user_group})
    # and "usage.credits_used" (More endpoints seen only in EvoLink's own CLI); and "billing".
    ("get-task-detail.json", "TaskDetailResponse"): {
        "usage": {
            "type": "object",
            "properties": {
                "billing_rule": {"enum": ["per_call", "per_token", "per_second"]},
                "credits_reserved": _CREDITS,
                "credits_used": _CREDITS,
                "user_group": {"type": "string"},
            },
        },
        "billing": BILLING,
    },
    ("get-task-detail.json", "TaskDetailResponse/task_info"): {
        "estimated_time": {"type": "integer", "minimum": 0},
        "video_duration": {"type": "integer"},
    },
    # API.md's error envelope: {"error": {"code", "message", "type", "param"?}}.
    ("seedance-1.5-pro-video-generate.json", "ErrorResponse/error"): {
        "param": {"type": "string"},
    },
    ("get-credits.json", "ErrorResponse/error"): {},
}
# Each model's own file describes the same create endpoint, with the same envelope; a create's
# answer is a task too, which may carry "billing" (API.md, as above).
DOCUMENTED_EXTRAS.update(
    {
        (f"models/{path.name}", "ErrorResponse/error"): {"param": {"type": "string"}}
        for path in sorted((OPENAPI_DIR / "models").glob("*.json"))
    }
)
DOCUMENTED_EXTRAS.update(
    {
        (file, "VideoGenerationResponse"): {"billing": BILLING}
        for file in [
            "seedance-1.5-pro-video-generate.json",
            *(f"models/{path.name}" for path in sorted((OPENAPI_DIR / "models").glob("*.json"))),
        ]
    }
)

FORMATS = jsonschema.FormatChecker(formats=())


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("mailto", "urn"))


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.datetime.fromisoformat(value)
    return parsed.tzinfo is not None


FORMATS.checks("uri", raises=ValueError)(_is_uri)
FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


@functools.cache
def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OPENAPI_DIR / name).read_text())
    return data


def _close(schema: dict[str, Any], file: str, name: str) -> None:
    """Forbid undeclared properties throughout ``schema``, adding API.md's documented extras."""
    if schema.get("type") == "object" and "properties" in schema:
        schema["properties"].update(copy.deepcopy(DOCUMENTED_EXTRAS.get((file, name), {})))
        schema.setdefault("additionalProperties", False)
        for key, sub in schema["properties"].items():
            if isinstance(sub, dict):
                _close(sub, file, f"{name}/{key}")
    if isinstance(schema.get("items"), dict):
        _close(schema["items"], file, f"{name}/items")


def _components(file: str, *, strict: bool) -> dict[str, Any]:
    components: dict[str, Any] = copy.deepcopy(load(file)["components"])
    if strict:
        for name, schema in components["schemas"].items():
            _close(schema, file, name)
    return components


@functools.cache
def component(file: str, name: str, *, strict: bool = True) -> jsonschema.Draft202012Validator:
    """A validator for ``#/components/schemas/NAME`` of ``file``."""
    schema = {
        "$ref": f"#/components/schemas/{name}",
        "components": _components(file, strict=strict),
    }
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def response_schema_name(file: str, path: str, method: str, status: int) -> str:
    """The component the spec names for this answer; its ErrorResponse when the status is unlisted.

    The files API's specs list no error answers: API.md says its errors come in the success
    envelope (``{"success": false, "code", "msg"}``), so they are checked against the 200 schema.
    """
    doc = load(file)
    responses = doc["paths"][path][method]["responses"]
    entry = responses.get(str(status))
    if entry is None and "ErrorResponse" in doc["components"]["schemas"]:
        return "ErrorResponse"
    entry = entry or responses["200"]
    ref: str = entry["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def validate_response(file: str, path: str, method: str, status: int, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` is what the spec says for ``status``."""
    name = response_schema_name(file, path, method, status)
    component(file, name).validate(body)


def request_validator(file: str, name: str) -> jsonschema.Draft202012Validator:
    return component(file, name)
