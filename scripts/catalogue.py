"""Derive the model catalogue (``seedance_cli/catalogue.json``) from EvoLink's official OpenAPI files.

    python scripts/catalogue.py           # rewrite seedance_cli/catalogue.json
    python scripts/catalogue.py --check   # exit 1 if it differs from what the files say

Each model's file (``tests/openapi/seedance-1.5-pro-video-generate.json`` and
``tests/openapi/models/*.json``, the overview files aside) is the authority for its model. What the
schema states in keywords (enums, minimum/maximum, minItems/maxItems, maxLength, defaults, required) is
taken as it is; what only its prose states is read by a few narrow patterns, each tried on the one field
it describes: a duration range (``between `4`–`30` ``), the automatic duration (`` `-1` ``), a default
(``defaults to `5` ``, ``Default value: `16:9` ``), the aspect ratios listed on "Supported values"
lines (with the extra ones a file allows only "when using image_urls"), a prompt limit in tokens, each
medium's size limit (``Max size per image: `30MB` ``) and formats (``Supported formats: `.png`...``),
audio that may not come alone, and "at least one of" the media. A pattern that finds nothing leaves the
rule out (the generic checks apply), never guesses.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tests" / "openapi"
TARGET = ROOT / "seedance_cli" / "catalogue.json"
MEDIA = ("image_urls", "video_urls", "audio_urls")
MODES = {
    "text-to-video": "text-to-video",
    "image-to-video": "image-to-video",
    "reference-to-video": "reference-to-video",
    "video-edit": "video-edit",
    "video-extend": "video-extend",
    "video-generate": "text-or-image-to-video",
}
_BACKTICKED = re.compile(r"`([^`]+)`")
_RATIO = re.compile(r"\d+:\d+|adaptive|keep_ratio")
_SIZE = re.compile(r"(?:Max size per \w+|size): (?:Not exceeding )?`(\d+)\s*MB`", re.IGNORECASE)
_FORMATS = re.compile(r"[Ss]upported (?:file )?formats: (.*)")
_NOT_ALONE = re.compile(r"only `audio_urls`|Audio cannot be provided alone")
_ONE_OF = re.compile(
    r"At least one of `image_urls`, `video_urls`, or `audio_urls` must be provided"
)
#: Where a file lists more ratios for requests with an image (1.0 pro fast's "Image-to-video mode").
_WITH_IMAGES = re.compile(r"\*\*Image-to-video mode[^*]*\*\*")


def _files() -> list[Path]:
    files = [SOURCES / "seedance-1.5-pro-video-generate.json"]
    files += sorted(p for p in (SOURCES / "models").glob("*.json") if "overview" not in p.name)
    return files


def _prose(schema: dict[str, Any]) -> str:
    text = schema.get("description")
    return text if isinstance(text, str) else ""


def _default(schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    found = re.search(r"(?:[Dd]efaults? to|Default value:)\s*`([^`]+)`", _prose(schema))
    if found is None:
        return None
    value = found.group(1)
    return int(value) if schema.get("type") == "integer" and value.lstrip("-").isdigit() else value


def _durations(schema: dict[str, Any]) -> dict[str, Any]:
    prose = _prose(schema)
    if "enum" in schema:
        values = [v for v in schema["enum"] if v != -1]
        low, high = (min(values), max(values)) if values else (None, None)
        auto = -1 in schema["enum"]
    else:
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is None or high is None:
            found = re.search(r"between\s*`(\d+)`\s*(?:–|-|and|to)\s*`(\d+)`", prose)
            if found is not None:
                low, high = int(found.group(1)), int(found.group(2))
        auto = "`-1`" in prose
    return {"min": low, "max": high, "auto": auto, "default": _default(schema)}


def _ratios(schema: dict[str, Any], *, with_images: bool = False) -> list[str] | None:
    """The ratios the prose lists; ``with_images``: also those of an "Image-to-video mode" section
    (without one, the same list)."""
    if "enum" in schema:
        return list(schema["enum"])
    prose = _prose(schema)
    section = _WITH_IMAGES.search(prose)
    if section is not None and not with_images:
        prose = prose[: section.start()]
    found: list[str] = []
    listing = False  # inside a "Supported values" line or the bullets under it
    for line in prose.splitlines():
        text = line.strip()
        if "Supported values" in text:
            listing = True
        elif not text or text.startswith("**") or "Default value" in text:
            listing = False
            continue
        if listing:
            for token in _BACKTICKED.findall(text):
                if _RATIO.fullmatch(token) and token not in found:
                    found.append(token)
    return found or None


def _image_mode_default(schema: dict[str, Any]) -> Any:
    """The default a file gives for requests with an image, where it has its own section."""
    prose = _prose(schema)
    section = _WITH_IMAGES.search(prose)
    return _default({"description": prose[section.end() :]}) if section else _default(schema)


def _medium(schema: dict[str, Any], required: bool) -> dict[str, Any]:
    prose = _prose(schema)
    size = _SIZE.search(prose)
    formats = _FORMATS.search(prose)
    return {
        "min": schema.get("minItems", 0),
        "max": schema.get("maxItems"),
        "required": required,
        "max_mb": int(size.group(1)) if size else None,
        "formats": [f.lstrip(".") for f in _BACKTICKED.findall(formats.group(1))]
        if formats
        else None,
    }


def _prompt(schema: dict[str, Any]) -> dict[str, Any]:
    tokens = re.search(r"[Mm]aximum prompt length:\s*([\d,]+)\s*tokens", _prose(schema))
    return {
        "max_chars": schema.get("maxLength"),
        "max_tokens": int(tokens.group(1).replace(",", "")) if tokens else None,
    }


_FAMILY_ORDER = ("1.5", "1.0", "2.0", "2.5")
_TIER_ORDER = ("standard", "fast", "mini")
_MODE_ORDER = (*MODES.values(),)


def _place(entry: dict[str, Any]) -> tuple[int, int, int, str]:
    """Where a model is listed: the default (1.5 pro) first, then by generation, by tier
    (standard, fast, mini) and by mode (text, image, reference, edit, extend)."""
    model_id: str = entry["id"]
    family = next((n for n, f in enumerate(_FAMILY_ORDER) if f"-{f}-" in model_id), 9)
    tier = next((n for n, t in enumerate(_TIER_ORDER) if f"-{t}" in model_id), 0)
    mode = _MODE_ORDER.index(entry["mode"]) if entry["mode"] in _MODE_ORDER else 9
    return family, tier, mode, model_id


def entries(files: list[Path] | None = None) -> list[dict[str, Any]]:
    """One entry per model id, in the order people read them (``_place``)."""
    out = []
    for path in files or _files():
        document = json.loads(path.read_text(encoding="utf-8"))
        request = document["components"]["schemas"]["VideoGenerationRequest"]
        props: dict[str, Any] = request["properties"]
        required = set(request.get("required", []))
        stem = path.stem
        mode = next((m for suffix, m in MODES.items() if stem.endswith(suffix)), "unknown")
        media = {name: _medium(props[name], name in required) for name in MEDIA if name in props}
        prose = " ".join(_prose(props[name]) for name in MEDIA if name in props)
        params = props.get("model_params", {}).get("properties", {})
        quality = props.get("quality", {})
        ratio = props.get("aspect_ratio", {})
        formats = props.get("output_format", {})
        for model_id in props["model"]["enum"]:
            out.append(
                {
                    "id": model_id,
                    "source": path.relative_to(SOURCES).as_posix(),
                    "mode": mode,
                    "fields": sorted(props),
                    "required": sorted(required),
                    "prompt": _prompt(props.get("prompt", {})),
                    "duration": _durations(props["duration"]) if "duration" in props else None,
                    "qualities": quality.get("enum"),
                    "quality_default": _default(quality) if quality else None,
                    "aspect_ratios": _ratios(ratio) if ratio else None,
                    "aspect_ratio_default": _default(ratio) if ratio else None,
                    "aspect_ratios_with_images": _ratios(ratio, with_images=True)
                    if ratio
                    else None,
                    "aspect_ratio_default_with_images": _image_mode_default(ratio)
                    if ratio
                    else None,
                    "media": media,
                    "audio_alone": _NOT_ALONE.search(prose) is None,
                    "media_required": _ONE_OF.search(prose) is not None,
                    "model_params": sorted(params),
                    "output_formats": formats.get("enum"),
                }
            )
    return sorted(out, key=_place)


def render(data: list[dict[str, Any]]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if catalogue.json is stale")
    options = parser.parse_args()
    text = render(entries())
    if options.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python scripts/catalogue.py")
            return 1
        print(f"{TARGET.relative_to(ROOT)} matches the official files")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(json.loads(text))} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
