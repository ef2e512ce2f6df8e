"""Every model of the family: ``GenerationRequest`` holds a request to its model's own rules, and
what it lets through is what that model's official file accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli import GenerationRequest, ValidationError
from seedance_cli.catalogue import ModelSpec, catalogue
from seedance_cli.models import AUTO_DURATION, MEDIA_FIELDS
from tests.schemas import request_validator

SPECS = list(catalogue().values())
IDS = [spec.id for spec in SPECS]
PROMPT = "A lighthouse in a storm"


def url(kind: str, n: int) -> str:
    extension = {"image_urls": "png", "video_urls": "mp4", "audio_urls": "mp3"}[kind]
    return f"https://media.example.com/{kind}/{n}.{extension}"


def minimal(spec: ModelSpec) -> dict[str, Any]:
    """The smallest request the model takes: its required media (or one image where it needs
    "at least one of" them)."""
    fields: dict[str, Any] = {"model": spec.id, "prompt": PROMPT}
    for name, limit in spec.media.items():
        if limit.required:
            fields[name] = [url(name, n) for n in range(max(1, limit.minimum))]
    if spec.media_required:
        fields["image_urls"] = [url("image_urls", 0)]
    return fields


def schema_of(spec: ModelSpec) -> jsonschema.Draft202012Validator:
    return request_validator(spec.source, "VideoGenerationRequest")


def refused(field: str, **fields: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        GenerationRequest(**fields)
    assert info.value.field == field, info.value.message
    return info.value


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_models_smallest_request_is_what_its_official_file_accepts(spec: ModelSpec) -> None:
    body = GenerationRequest(**minimal(spec)).to_body()
    schema_of(spec).validate(body)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_model_refuses_what_it_does_not_take_naming_itself(spec: ModelSpec) -> None:
    base = minimal(spec)
    extras: dict[str, Any] = {
        "video_urls": [url("video_urls", 0)],
        "audio_urls": [url("audio_urls", 0)],
        "image_urls": [url("image_urls", 0)],
        "content_filter": True,
        "web_search": True,
        "output_format": "mp4",
        "generate_audio": False,
    }
    for name, value in extras.items():
        field = "model_params.web_search" if name == "web_search" else name
        if spec.takes(field):
            continue
        error = refused(field, **{**base, name: value})
        assert f"{spec.id} does not take" in error.reason


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_models_duration_range_is_its_own(spec: ModelSpec) -> None:
    base = minimal(spec)
    if spec.duration_min is None or spec.duration_max is None:  # automatic only
        refused("duration", **base, duration=5)
        assert GenerationRequest(**base, duration=AUTO_DURATION).duration == AUTO_DURATION
        return
    for duration in (spec.duration_min, spec.duration_max):
        schema_of(spec).validate(GenerationRequest(**base, duration=duration).to_body())
    for duration in (spec.duration_min - 1, spec.duration_max + 1):
        error = refused("duration", **base, duration=duration)
        assert f"{spec.id} takes {spec.duration_min} to {spec.duration_max} seconds" in (
            error.reason
        )
    if spec.duration_auto:
        schema_of(spec).validate(GenerationRequest(**base, duration=AUTO_DURATION).to_body())
    else:
        assert (
            "does not pick the length itself"
            in refused("duration", **base, duration=AUTO_DURATION).reason
        )


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_models_qualities_and_ratios_are_its_own(spec: ModelSpec) -> None:
    base = minimal(spec)
    for quality in ("480p", "720p", "1080p", "4k"):
        if quality in (spec.qualities or ()):
            GenerationRequest(**base, quality=quality)
        else:
            assert spec.id in refused("quality", **base, quality=quality).reason
    ratios = spec.ratios(with_images=bool(base.get("image_urls"))) or ()
    for ratio in ("16:9", "21:9", "adaptive", "keep_ratio"):
        if ratio in ratios:
            schema_of(spec).validate(GenerationRequest(**base, aspect_ratio=ratio).to_body())
        else:
            refused("aspect_ratio", **base, aspect_ratio=ratio)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_each_models_media_counts_are_its_own(spec: ModelSpec) -> None:
    base = minimal(spec)
    for name, limit in spec.media.items():
        if limit.maximum is None:
            continue
        most = [url(name, n) for n in range(limit.maximum)]
        fields = {**base, name: most}
        if name == "audio_urls" and not spec.audio_alone:
            fields.setdefault("image_urls", [url("image_urls", 0)])
        schema_of(spec).validate(GenerationRequest(**fields).to_body())
        error = refused(name, **{**fields, name: [*most, url(name, 99)]})
        assert f"takes at most {limit.maximum}" in error.reason and spec.id in error.reason
    for name, limit in spec.media.items():
        if limit.required:
            refused(name, **{**base, name: []})


def test_the_examples_the_issue_names() -> None:
    """``--model seedance-2.0-text-to-video -d 15`` goes; the same on 1.5 pro is refused naming it,
    with the models that take 15 s as the hint."""
    assert GenerationRequest(PROMPT, model="seedance-2.0-text-to-video", duration=15).duration == 15
    error = refused("duration", prompt=PROMPT, duration=15)
    assert error.reason == "seedance-1.5-pro takes 4 to 12 seconds, got 15"
    assert error.hint is not None and "seedance-2.0-text-to-video" in error.hint
    assert "'seedance models'" in error.hint


def test_4k_only_on_2_0_standard() -> None:
    GenerationRequest(PROMPT, model="seedance-2.0-text-to-video", quality="4k")
    error = refused("quality", prompt=PROMPT, model="seedance-2.0-fast-text-to-video", quality="4k")
    assert error.reason == "seedance-2.0-fast-text-to-video takes 480p, 720p, got '4k'"
    assert error.hint is not None and "seedance-2.0-text-to-video" in error.hint


def test_1_0_pro_fast_allows_adaptive_and_keep_ratio_only_with_an_image() -> None:
    model = "doubao-seedance-1.0-pro-fast"
    image = [url("image_urls", 0)]
    for ratio in ("adaptive", "keep_ratio"):
        error = refused("aspect_ratio", prompt=PROMPT, model=model, aspect_ratio=ratio)
        assert error.reason.endswith("(that one only with an image)")
        GenerationRequest(PROMPT, model=model, aspect_ratio=ratio, image_urls=image)
    refused("image_urls", prompt=PROMPT, model=model, image_urls=image * 2)
    assert (
        "no audio choice"
        in refused("generate_audio", prompt=PROMPT, model=model, generate_audio=True).reason
    )


def test_2_5_picks_the_length_and_edit_takes_only_that() -> None:
    video = [url("video_urls", 0)]
    body = GenerationRequest(PROMPT, model="seedance-2.5-text-to-video", duration=-1).to_body()
    assert body["duration"] == -1
    GenerationRequest(PROMPT, model="seedance-2.5-video-edit", video_urls=video, duration=-1)
    error = refused(
        "duration", prompt=PROMPT, model="seedance-2.5-video-edit", video_urls=video, duration=8
    )
    assert "takes only auto" in error.reason
    refused("duration", prompt=PROMPT, model="seedance-2.0-text-to-video", duration=-1)
    refused("video_urls", prompt=PROMPT, model="seedance-2.5-video-extend")


def test_reference_audio_rules_differ_between_2_0_and_2_5() -> None:
    audio = [url("audio_urls", 0)]
    error = refused(
        "audio_urls", prompt=PROMPT, model="seedance-2.0-reference-to-video", audio_urls=audio
    )
    assert "does not take audio alone" in error.reason
    GenerationRequest(PROMPT, model="seedance-2.0-reference-to-video")  # 0-9 images: none is fine
    GenerationRequest(PROMPT, model="seedance-2.5-reference-to-video", audio_urls=audio)
    error = refused("image_urls", prompt=PROMPT, model="seedance-2.5-reference-to-video")
    assert "at least one reference" in error.reason


def test_web_search_and_the_content_filter() -> None:
    body = GenerationRequest(PROMPT, model="seedance-2.5-text-to-video", web_search=True).to_body()
    assert body["model_params"] == {"web_search": True}
    refused(
        "model_params.web_search",
        prompt=PROMPT,
        model="seedance-2.0-mini-text-to-video",
        web_search=True,
    )
    refused(
        "model_params.web_search",
        prompt=PROMPT,
        model="seedance-2.5-image-to-video",
        web_search=True,
    )
    error = refused(
        "content_filter",
        prompt=PROMPT,
        model="seedance-2.0-text-to-video",
        content_filter=False,
        web_search=True,
    )
    assert "web search" in error.reason
    off = GenerationRequest(PROMPT, model="seedance-2.0-text-to-video", content_filter=False)
    assert off.to_body()["content_filter"] is False
    refused("content_filter", prompt=PROMPT, content_filter=True)  # 1.5 pro has no such field


def test_output_format_only_on_2_5() -> None:
    body = GenerationRequest(
        PROMPT, model="seedance-2.5-text-to-video", output_format="mov"
    ).to_body()
    assert body["output_format"] == "mov"
    refused("output_format", prompt=PROMPT, model="seedance-2.5-text-to-video", output_format="avi")
    refused("output_format", prompt=PROMPT, model="seedance-2.0-text-to-video", output_format="mov")


def test_long_prompts_go_to_2_x_but_not_to_1_x() -> None:
    long = "word " * 2000  # 10,000 characters: within 2.x's 10,000 tokens, beyond 1.x's 2,000 chars
    GenerationRequest(long, model="seedance-2.0-text-to-video")
    assert "seedance-1.5-pro takes at most 2000" in refused("prompt", prompt=long).reason
    refused("prompt", prompt="x" * 100_001, model="seedance-2.0-text-to-video")


def test_an_unknown_model_gets_only_the_generic_checks() -> None:
    """A newer model must not be blocked by this version: anything plausible goes."""
    request = GenerationRequest(
        PROMPT,
        model="seedance-3.0-text-to-video",
        duration=45,
        quality="8k",
        aspect_ratio="2:1",
        video_urls=[url("video_urls", 0)],
        output_format="webm",
        web_search=True,
    )
    assert not request.known_model
    assert request.to_body()["duration"] == 45
    refused("duration", prompt=PROMPT, model="seedance-3.0", duration=0)
    refused("video_urls", prompt=PROMPT, model="seedance-3.0", video_urls=["/tmp/clip.mp4"])
    refused("quality", prompt=PROMPT, model="seedance-3.0", quality="high res")
    refused("model", prompt=PROMPT, model="seedance 3")


def test_a_single_url_string_is_not_taken_for_a_list_of_characters() -> None:
    refused(
        "video_urls",
        prompt=PROMPT,
        model="seedance-2.5-video-edit",
        video_urls="https://a.example/v.mp4",
    )


# -- generated requests: what passes is what the official file accepts ----------------------------


@st.composite
def valid_request(draw: st.DrawFn) -> tuple[ModelSpec, dict[str, Any]]:
    spec = draw(st.sampled_from(SPECS))
    fields = minimal(spec)
    if spec.duration_min is not None and spec.duration_max is not None:
        choices = st.integers(spec.duration_min, spec.duration_max)
        if spec.duration_auto:
            choices = choices | st.just(AUTO_DURATION)
        fields["duration"] = draw(st.none() | choices)
    if spec.qualities:
        fields["quality"] = draw(st.none() | st.sampled_from(spec.qualities))
    for name, limit in spec.media.items():
        if limit.maximum is None:
            continue
        low = max(limit.minimum, 1 if limit.required else 0)
        count = draw(st.integers(low, min(limit.maximum, 4)))
        if count:
            fields[name] = [url(name, n) for n in range(count)]
    if "audio_urls" in fields and not spec.audio_alone:
        fields.setdefault("image_urls", [url("image_urls", 0)])
    ratios = spec.ratios(with_images=bool(fields.get("image_urls"))) or ()
    if ratios:
        fields["aspect_ratio"] = draw(st.none() | st.sampled_from(ratios))
    for name in ("generate_audio", "content_filter"):
        if spec.takes(name):
            fields[name] = draw(st.none() | st.booleans())
    if spec.takes("model_params.web_search") and fields.get("content_filter") is not False:
        fields["web_search"] = draw(st.none() | st.booleans())
    if spec.output_formats:
        fields["output_format"] = draw(st.none() | st.sampled_from(spec.output_formats))
    return spec, fields


@settings(max_examples=300, deadline=None)
@given(valid_request())
def test_generated_valid_requests_pass_and_match_the_official_schema(
    case: tuple[ModelSpec, dict[str, Any]],
) -> None:
    spec, fields = case
    schema_of(spec).validate(GenerationRequest(**fields).to_body())


BREAKS: dict[str, Callable[[ModelSpec], object]] = {
    "duration": lambda spec: (spec.duration_max or 0) + 1,
    "quality": lambda spec: "2160p",
    "aspect_ratio": lambda spec: "5:4",
    "output_format": lambda spec: "avi",
}


@settings(max_examples=200, deadline=None)
@given(valid_request(), st.sampled_from(sorted(BREAKS)))
def test_generated_requests_with_one_rule_broken_are_refused_like_the_schema_would(
    case: tuple[ModelSpec, dict[str, Any]], field: str
) -> None:
    """One field out of the model's range: refused locally, naming that field; where the official
    file states that rule in schema keywords (an enum, a maximum, no such property), the schema
    refuses the same body too, so our rule is not stricter than the file by accident."""
    spec, fields = case
    value = BREAKS[field](spec) if spec.duration_max is not None or field != "duration" else 5
    refused(field, **{**fields, field: value})
    body = {**GenerationRequest(**minimal(spec)).to_body(), field: value}
    if _keyword_rule(spec, field):
        assert not schema_of(spec).is_valid(body)


def _keyword_rule(spec: ModelSpec, field: str) -> bool:
    """Whether the file states the rule for ``field`` in keywords (else only in prose)."""
    schema = schema_of(spec).schema["components"]["schemas"]["VideoGenerationRequest"]
    prop = schema["properties"].get(field)
    return prop is None or any(key in prop for key in ("enum", "maximum"))


def test_media_fields_are_the_three_the_files_name() -> None:
    named = {name for spec in SPECS for name in spec.media}
    assert named == set(MEDIA_FIELDS)


def test_a_duration_hint_never_names_a_model_that_takes_only_auto() -> None:
    error = refused("duration", prompt=PROMPT, duration=0)
    assert error.hint is not None and "video-edit" not in error.hint
    assert error.hint.startswith("no model this version knows takes it")
