"""The model catalogue: derived from the official OpenAPI files, and in step with them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from seedance_cli import models
from seedance_cli.catalogue import DATA, DEFAULT_MODEL, catalogue, closest, spec

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(__file__).parent / "openapi" / "models"


def generator() -> ModuleType:
    loaded = importlib.util.spec_from_file_location(
        "catalogue_script", ROOT / "scripts/catalogue.py"
    )
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    sys.modules["catalogue_script"] = module
    loaded.loader.exec_module(module)
    return module


def test_the_catalogue_is_what_the_official_files_say() -> None:
    """Regenerated from the files now, it is byte for byte the one shipped: a file updated (or
    the catalogue edited by hand) fails here until `python scripts/catalogue.py` is run."""
    script = generator()
    assert DATA.read_text(encoding="utf-8") == script.render(script.entries())


def test_every_model_the_overview_files_list_is_in_the_catalogue() -> None:
    listed = set()
    for overview in MODELS_DIR.glob("*overview*.json"):
        document = json.loads(overview.read_text(encoding="utf-8"))
        props = document["components"]["schemas"]["VideoGenerationRequest"]["properties"]
        listed |= set(props["model"]["enum"])
    assert len(listed) == 14 and listed <= set(catalogue())
    assert set(catalogue()) == listed | {"seedance-1.5-pro", "doubao-seedance-1.0-pro-fast"}


def test_the_catalogue_agrees_with_the_rules_1_5_pro_has_always_been_checked_by() -> None:
    pro = spec(DEFAULT_MODEL)
    assert pro is not None and pro.mode == "text-or-image-to-video"
    assert (pro.duration_min, pro.duration_max, pro.duration_auto) == (
        models.DURATION_MIN,
        models.DURATION_MAX,
        False,
    )
    assert pro.aspect_ratios == models.ASPECT_RATIOS
    assert pro.qualities == ("480p", "720p", "1080p") and pro.prompt_max_chars == 2000
    assert pro.media["image_urls"].maximum == models.MAX_IMAGES


@pytest.mark.parametrize(
    ("model_id", "durations", "qualities", "ratios", "media"),
    [
        # the family table of API.md, row by row where the rules differ
        (
            "doubao-seedance-1.0-pro-fast",
            "2-12",
            ("480p", "720p", "1080p"),
            None,
            {"image_urls": 1},
        ),
        ("seedance-2.0-text-to-video", "4-15", ("480p", "720p", "1080p", "4k"), 7, {}),
        ("seedance-2.0-fast-text-to-video", "4-15", ("480p", "720p"), 7, {}),
        ("seedance-2.0-mini-image-to-video", "4-15", ("480p", "720p"), 7, {"image_urls": 2}),
        (
            "seedance-2.0-reference-to-video",
            "4-15",
            ("480p", "720p", "1080p", "4k"),
            7,
            {"image_urls": 9, "video_urls": 3, "audio_urls": 3},
        ),
        ("seedance-2.5-text-to-video", "4-30 or auto", ("480p", "720p", "1080p"), 7, {}),
        (
            "seedance-2.5-image-to-video",
            "4-30 or auto",
            ("480p", "720p", "1080p"),
            1,
            {"image_urls": 2},
        ),
        (
            "seedance-2.5-video-edit",
            "auto",
            ("480p", "720p", "1080p"),
            1,
            {"image_urls": 30, "video_urls": 10, "audio_urls": 10},
        ),
    ],
)
def test_each_model_has_its_own_rules(
    model_id: str,
    durations: str,
    qualities: tuple[str, ...],
    ratios: int | None,
    media: dict[str, int],
) -> None:
    model = spec(model_id)
    assert model is not None
    assert model.durations == durations and model.qualities == qualities
    if ratios is not None:
        assert model.aspect_ratios is not None and len(model.aspect_ratios) == ratios
    assert {name: limit.maximum for name, limit in model.media.items()} == media


def test_what_each_mode_requires_and_allows() -> None:
    for model in catalogue().values():
        if model.mode == "image-to-video":
            assert model.media["image_urls"].required and model.media["image_urls"].minimum == 1
        if model.mode in ("video-edit", "video-extend"):
            assert model.media["video_urls"].required
            assert model.aspect_ratios == ("adaptive",)
        if model.mode == "text-to-video":
            assert model.media == {}
        assert ("web_search" in model.model_params) == (
            model.mode == "text-to-video" and "mini" not in model.id
        )
        assert (model.output_formats == ("mp4", "mov")) == model.id.startswith("seedance-2.5")
        if model.id.startswith("seedance-2."):
            assert model.prompt_max_tokens == 10000 and model.prompt_max_chars is None
            assert "content_filter" in model.fields


def test_an_unknown_model_gets_the_closest_known_ids() -> None:
    assert spec("seedance-2.0-text-to-vid") is None
    assert closest("seedance-2.0-text-to-vid")[0] == "seedance-2.0-text-to-video"
    assert closest("seedance-2.5-video-edt")[0] == "seedance-2.5-video-edit"
    assert closest("completely-different") == []


def test_the_readme_models_table_is_the_catalogue() -> None:
    """Each model has a row in README's Models table with its own durations and qualities."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Models", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.startswith("| `")}
    assert set(rows) == set(catalogue())
    for model, entry in catalogue().items():
        cells = [cell.strip() for cell in rows[model].split("|")]
        assert cells[2] == entry.mode
        assert cells[3].startswith(entry.durations), model
        assert cells[4] == f"{', '.join(entry.qualities or ())} ({entry.quality_default})", model


def test_what_was_typed_finds_the_models_that_contain_it_first() -> None:
    assert closest("seedance-2.5")[:2] == [
        "seedance-2.5-text-to-video",
        "seedance-2.5-image-to-video",
    ]
    assert len(closest("seedance-2.0")) == 5  # nine contain it: the first five are shown
    assert closest("2.0-fast-text")[0] == "seedance-2.0-fast-text-to-video"
    assert closest("seedance-2.0-text-to-vide")[0] == "seedance-2.0-text-to-video"
