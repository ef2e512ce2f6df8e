"""Estimates from the published pricing rules: API.md's worked examples to the last digit, the
minimum, the reference-video formula, ranges, unknown prices (never 0) and their display."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli.catalogue import catalogue
from seedance_cli.errors import ValidationError
from seedance_cli.models import GenerationRequest
from seedance_cli.pricing import (
    RULES,
    UNKNOWN_INPUT,
    UNPRICED,
    WEB_SEARCH_NOTE,
    Estimate,
    SecondPrice,
    billed_seconds,
    charge,
    estimate,
    input_bounds,
    per_second,
    round_credits,
    rule,
    usd,
)

D = Decimal
VIDEO = "https://example.com/in.mp4"
QUALITY_ORDER = ("480p", "720p", "1080p", "4k")


def request(model: str = "seedance-1.5-pro", **fields: Any) -> GenerationRequest:
    return GenerationRequest(prompt="a cat", model=model, **fields)


def exact(model: str = "seedance-1.5-pro", **fields: Any) -> Decimal:
    """The single figure of an estimate that must be exact."""
    found = estimate(request(model, **fields))
    assert found.exact and found.low is not None, found
    return found.low


# --- API.md's worked examples, exactly --------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "credits"),
    [
        ("seedance-1.5-pro", {"duration": 5, "quality": "720p", "generate_audio": True}, "17.784"),
        ("seedance-1.5-pro", {"duration": 5, "quality": "720p", "generate_audio": False}, "8.892"),
        ("seedance-1.5-pro", {"duration": 4, "quality": "480p", "generate_audio": False}, "3.4445"),
        ("seedance-1.5-pro", {"duration": 12, "quality": "1080p", "generate_audio": True}, "95.18"),
        ("seedance-2.0-text-to-video", {"duration": 5, "quality": "720p"}, "67.5"),
        ("seedance-2.0-mini-text-to-video", {"duration": 5, "quality": "720p"}, "13.5"),
        ("seedance-2.5-text-to-video", {"duration": 5, "quality": "720p"}, "100.45"),
    ],
)
def test_the_worked_examples_of_api_md(model: str, fields: dict[str, Any], credits: str) -> None:
    assert exact(model, **fields) == D(credits)


def test_the_first_worked_example_is_shown_as_api_md_shows_it() -> None:
    found = estimate(request(duration=5, quality="720p"))
    assert found.text() == "17.78 credits ($0.26)" == str(found)
    assert found.usd_low == found.usd_high == D("0.26")


def test_defaults_come_from_the_catalogue_and_1_5_audio_is_on_unless_turned_off() -> None:
    """Unset duration (5), quality (720p) and generate_audio (true) price as the model's defaults."""
    assert exact() == D("17.784")
    assert exact(generate_audio=False) == D("8.892")
    assert exact("seedance-2.0-mini-text-to-video") == D("13.5")


def test_credits_are_rounded_half_up_to_four_decimals() -> None:
    """12 s 1080p with audio is 95.179968 before rounding: four decimals give 95.18 (as three
    would; two would break 17.784, five or six would not give 95.18)."""
    assert D(12) * D("2.23") * 2 * D("1.7784") == D("95.179968")
    assert round_credits(D("95.179968")) == D("95.18")
    assert round_credits(D("0.00005")) == D("0.0001")  # half up, not half even
    assert round_credits(D("0.00015")) == D("0.0002")
    # 5 s 480p silent on 1.5: 2.3 x 1.7784 = 4.09032 -> 4.0903
    assert exact(duration=5, quality="480p", generate_audio=False) == D("4.0903")
    # 1.5 s 480p with audio: 7 x 0.46 x 2 x 1.7784 = 11.452896 -> 11.4529
    assert exact(duration=7, quality="480p") == D("11.4529")


# --- minimum, audio, content_filter -----------------------------------------------------------


def test_the_minimum_charge_applies_below_it_and_only_there() -> None:
    # 4 x 0.46 x 1.7784 = 3.272256 < 3.4445
    assert exact(duration=4, quality="480p", generate_audio=False) == D("3.4445")
    # with audio it is twice that, above the minimum
    assert exact(duration=4, quality="480p") == D("6.5445")


def test_audio_is_free_on_2_x() -> None:
    for model in ("seedance-2.0-text-to-video", "seedance-2.5-text-to-video"):
        assert exact(model, generate_audio=True) == exact(model, generate_audio=False)


def test_content_filter_off_costs_1_1x() -> None:
    assert exact("seedance-2.0-text-to-video", content_filter=False) == D("74.25")
    assert exact("seedance-2.5-text-to-video", content_filter=False) == D("110.495")
    assert exact("seedance-2.0-fast-text-to-video", content_filter=False) == round_credits(
        D("8.2013") * 5 * D("1.1")
    )
    # on is the default, and the same as unset
    assert exact("seedance-2.0-text-to-video", content_filter=True) == D("67.5")


def test_content_filter_off_applies_to_the_minimum_and_is_rounded_again() -> None:
    """The 1.1x multiplies the charge after the minimum (a rule no model reaches today)."""
    pro = RULES[("1.5", "standard")]
    assert pro.minimum == D("3.4445")
    assert charge(
        "seedance-1.5-pro",
        quality="480p",
        output_seconds=4,
        audio=False,
        content_filter=False,
    ) == round_credits(D("3.4445") * D("1.1"))
    assert round_credits(D("3.4445") * D("1.1")) == D("3.7890")  # 3.78895 half up


# --- reference videos -------------------------------------------------------------------------


def test_billed_seconds_with_reference_videos_are_rounded_up_to_a_tenth() -> None:
    assert billed_seconds(D(5), D(3)) == D(10)  # input shorter: output twice
    assert billed_seconds(D(5), D(7)) == D(12)
    assert billed_seconds(D(5), D("6.01")) == D("11.1")  # up, not to the nearest
    assert billed_seconds(D(5), D("6.1")) == D("11.1")
    assert billed_seconds(D("3.6"), D(4)) == D("7.6")


def test_the_reference_video_formula_with_a_known_input() -> None:
    videos = {"video_urls": [VIDEO]}
    # 2.0: (5 + max(3, 5)) x 0.609 x 13.5 = 82.215
    found = estimate(request("seedance-2.0-reference-to-video", **videos), input_seconds=3)
    assert (found.low, found.high, found.reason) == (D("82.215"), D("82.215"), None)
    # 6.01 s of input: 11.1 billed seconds, 11.1 x 0.609 x 13.5 = 91.25865 -> 91.2587
    found = estimate(request("seedance-2.0-reference-to-video", **videos), input_seconds=6.01)
    assert found.exact and found.low == D("91.2587")
    # fast has its own factors: 10 x 0.595 x 8.2013 = 48.797735 -> 48.7977
    found = estimate(request("seedance-2.0-fast-reference-to-video", **videos), input_seconds=2)
    assert found.low == D("48.7977")
    # mini: 10 x 0.284 x 2.7 at 480p = 7.668
    found = estimate(
        request("seedance-2.0-mini-reference-to-video", quality="480p", **videos),
        input_seconds=4,
    )
    assert found.low == D("7.668")
    # 2.5 extend, 4k-free table: (10 + 12) x 1.52 x 20.09 = 671.8096
    found = estimate(
        request("seedance-2.5-video-extend", duration=10, quality="1080p", **videos),
        input_seconds=12,
    )
    assert found.exact and found.low == D("671.8096")


def test_a_reference_model_without_videos_is_priced_per_second_of_output() -> None:
    assert exact("seedance-2.0-reference-to-video", image_urls=["https://example.com/a.png"]) == D(
        "67.5"
    )


def test_without_input_seconds_reference_videos_make_a_range_from_shortest_to_longest() -> None:
    one = request("seedance-2.0-reference-to-video", video_urls=[VIDEO])
    found = estimate(one)
    # shortest: one 2 s clip -> 5 + 5 billed; longest: 15 s in all -> 5 + 15 billed
    assert (found.low, found.high) == (D("82.215"), D("164.43"))
    assert found.known and not found.exact and found.reason == UNKNOWN_INPUT
    assert found.text() == "82.22-164.43 credits ($1.21-$2.42)"
    # three clips of at least 2 s: 6 s of input against a 4 s output -> 4 + 6 billed
    three = request("seedance-2.0-reference-to-video", duration=4, video_urls=[VIDEO, VIDEO, VIDEO])
    assert estimate(three).low == round_credits(D(10) * D("0.609") * D("13.5"))
    # 2.5: up to 30 s in all
    found = estimate(request("seedance-2.5-reference-to-video", video_urls=[VIDEO]))
    assert found.high == round_credits(D(35) * D("0.609") * D("20.09"))
    # a known length closes the range at a point inside it
    known = estimate(one, input_seconds=9)  # 5 + 9 billed seconds
    assert known.exact and known.low == round_credits(D(14) * D("0.609") * D("13.5"))
    assert D("82.215") < known.low < D("164.43")


def test_an_edit_follows_its_first_video_and_may_be_0_4_s_shorter() -> None:
    edit = request("seedance-2.5-video-edit", video_urls=[VIDEO])
    found = estimate(edit, input_seconds=10)
    # output 9.6-10 s: billed 19.6-20 s at 0.609 x 20.09
    assert found.low == round_credits(D("19.6") * D("0.609") * D("20.09"))
    assert found.high == round_credits(D(20) * D("0.609") * D("20.09"))
    assert found.reason is not None and "0.4 s shorter" in found.reason
    # unknown length: its first video is 4-30 s
    found = estimate(edit)
    assert found.low == round_credits(D("7.6") * D("0.609") * D("20.09"))
    assert found.high == round_credits(D(60) * D("0.609") * D("20.09"))
    assert found.reason is not None and UNKNOWN_INPUT in found.reason
    # two videos of 10 s in all: the first is 4-8 s of it
    found = estimate(
        request("seedance-2.5-video-edit", video_urls=[VIDEO, VIDEO]), input_seconds=10
    )
    assert found.low == round_credits(D("13.6") * D("0.609") * D("20.09"))
    assert found.high == round_credits(D(18) * D("0.609") * D("20.09"))


def test_input_seconds_is_ignored_without_videos_and_checked_when_given() -> None:
    assert estimate(request(), input_seconds=12).low == D("17.784")
    for bad in (-1, float("nan"), float("inf"), 0.001, 1.99, 15.01):
        with pytest.raises(ValidationError) as caught:
            estimate(
                request("seedance-2.0-reference-to-video", video_urls=[VIDEO]), input_seconds=bad
            )
        assert caught.value.field == "input_seconds"


def test_input_seconds_must_be_a_length_the_api_accepts_for_the_videos() -> None:
    """2 s a clip (4 s for the video an edit works on), 15 s in all on 2.0 and 30 s on 2.5: a
    length outside would price below or above any real charge."""
    cases = {
        ("seedance-2.0-reference-to-video", 1): (D(2), D(15)),
        ("seedance-2.0-reference-to-video", 3): (D(6), D(15)),
        ("seedance-2.5-reference-to-video", 2): (D(4), D(30)),
        ("seedance-2.5-video-edit", 1): (D(4), D(30)),
        ("seedance-2.5-video-edit", 3): (D(8), D(30)),
    }
    for (model, videos), (low, high) in cases.items():
        req = request(model, video_urls=[VIDEO] * videos)
        assert input_bounds(req) == (low, high)
        assert estimate(req, input_seconds=low).exact or model.endswith("edit")
        assert estimate(req, input_seconds=high).known
        for bad in (low - D("0.01"), high + D("0.01")):
            with pytest.raises(ValidationError) as caught:
                estimate(req, input_seconds=bad)
            assert caught.value.field == "input_seconds"
            assert f"must be {low}-{high} s for {videos} video" in caught.value.reason
            assert model in caught.value.reason
    assert input_bounds(request()) is None
    assert input_bounds(request("seedance-2.0-reference-to-video")) is None


# --- automatic duration, web search -----------------------------------------------------------


def test_automatic_duration_is_a_range_over_4_to_30_seconds() -> None:
    found = estimate(request("seedance-2.5-text-to-video", duration=-1))
    assert (found.low, found.high) == (D("80.36"), D("602.7"))
    assert found.reason == "2.5 picks the duration (auto): 4-30 s"
    # at 480p the short end sits at the 2.5 minimum exactly: 4 x 0.465 x 20.09 = 37.3674
    found = estimate(request("seedance-2.5-text-to-video", duration=-1, quality="480p"))
    assert found.low == D("37.3674") == RULES[("2.5", "standard")].minimum
    assert found.text() == "37.37-280.26 credits ($0.55-$4.12)"


def test_web_search_fees_are_left_out_and_said() -> None:
    found = estimate(request("seedance-2.0-text-to-video", web_search=True))
    assert found.exact and found.low == D("67.5")
    assert found.reason == WEB_SEARCH_NOTE


# --- unknown prices, never 0 ------------------------------------------------------------------


@pytest.mark.parametrize("model", ["doubao-seedance-1.0-pro-fast", "seedance-3.0-text-to-video"])
def test_no_published_rule_is_an_unknown_price_never_zero(model: str) -> None:
    found = estimate(request(model))
    assert not found.known and not found.exact
    assert found.low is None and found.high is None
    assert found.usd_low is None and found.usd_high is None
    assert found.text() == "price unknown"
    assert found.reason == f"no published price for {model}"
    assert per_second(model) is None and rule(model) is None
    assert charge(model, quality="720p", output_seconds=5) is None
    assert found.as_json()["low"] is None and "0" not in found.text()


def test_every_catalogue_model_is_priced_or_explicitly_unknown() -> None:
    for model_id, spec in catalogue().items():
        found = rule(model_id)
        if model_id in UNPRICED:
            assert found is None, model_id
            continue
        assert found is not None, f"{model_id} has no rule: add one or list it in UNPRICED"
        takes_videos = "video_urls" in spec.media
        for quality in spec.qualities or ():
            assert quality in found.quality, (model_id, quality)
            if takes_videos:
                assert found.reference_quality is not None, model_id
                assert quality in found.reference_quality, (model_id, quality)
    assert set(catalogue()) >= UNPRICED


# --- display and JSON -------------------------------------------------------------------------


def test_text_shows_credits_to_cents_half_up_and_dollars_to_cents() -> None:
    assert Estimate("m", D("17.784"), D("17.784")).text() == "17.78 credits ($0.26)"
    assert Estimate("m", D("3.4445"), D("37.3674")).text() == "3.44-37.37 credits ($0.05-$0.55)"
    assert Estimate("m", D("0.005"), D("0.005")).text() == "0.01 credits ($0.00)"
    assert Estimate("m", D("67.5"), D("67.5")).text() == "67.50 credits ($0.99)"
    # a range whose ends look alike at that precision is shown once; dollars likewise
    assert Estimate("m", D("10.001"), D("10.004")).text() == "10.00 credits ($0.15)"
    assert Estimate("m", D("10"), D("10.5")).text() == "10.00-10.50 credits ($0.15)"
    assert Estimate("m", None, None, "why").text() == "price unknown"
    assert usd(D(68)) == D("1.00") and usd(D("0.34")) == D("0.01")  # 0.005 half up


def test_as_json_keeps_exact_figures_and_says_unknown_as_null() -> None:
    found = estimate(request(duration=12, quality="1080p"))
    assert found.as_json() == {
        "model": "seedance-1.5-pro",
        "known": True,
        "exact": True,
        "low": 95.18,
        "high": 95.18,
        "usd_low": 1.4,
        "usd_high": 1.4,
        "reason": None,
        "text": "95.18 credits ($1.40)",
    }
    assert estimate(request("seedance-2.0-text-to-video")).as_json()["low"] == 67.5


# --- per second -------------------------------------------------------------------------------


def test_per_second_on_1_5_has_every_quality_with_and_without_audio() -> None:
    prices = per_second("seedance-1.5-pro")
    assert prices == [
        SecondPrice("480p", True, D("1.636128")),
        SecondPrice("480p", False, D("0.818064")),
        SecondPrice("720p", True, D("3.5568")),
        SecondPrice("720p", False, D("1.7784")),
        SecondPrice("1080p", True, D("7.931664")),
        SecondPrice("1080p", False, D("3.965832")),
    ]


def test_per_second_on_2_x_names_reference_seconds_apart() -> None:
    assert per_second("seedance-2.0-mini-text-to-video") == [
        SecondPrice("480p", None, D("1.2555")),
        SecondPrice("720p", None, D("2.7")),
    ]
    reference = per_second("seedance-2.0-reference-to-video")
    assert reference is not None
    assert [(p.quality, p.videos) for p in reference] == [
        (q, videos) for q in QUALITY_ORDER for videos in (False, True)
    ]
    assert SecondPrice("4k", None, D("42.525"), videos=True) in reference
    # edit and extend always have videos: only billed seconds with videos
    for model in ("seedance-2.5-video-edit", "seedance-2.5-video-extend"):
        prices = per_second(model)
        assert prices is not None and all(p.videos for p in prices)
        assert [p.quality for p in prices] == ["480p", "720p", "1080p"]


# --- properties -------------------------------------------------------------------------------

PRICED = sorted(m for m in catalogue() if rule(m) is not None)


@st.composite
def priced_requests(draw: st.DrawFn) -> tuple[GenerationRequest, float | None]:
    model = draw(st.sampled_from(PRICED))
    spec = catalogue()[model]
    fields: dict[str, Any] = {}
    if spec.duration_min is not None and spec.duration_max is not None:
        choices = list(range(spec.duration_min, spec.duration_max + 1))
        if spec.duration_auto:
            choices.append(-1)
        fields["duration"] = draw(st.sampled_from(choices))
    fields["quality"] = draw(st.sampled_from(spec.qualities or ("720p",)))
    if spec.takes("generate_audio"):
        fields["generate_audio"] = draw(st.booleans())
    if spec.takes("content_filter"):
        fields["content_filter"] = draw(st.booleans())
    if "video_urls" in spec.media:
        limit = spec.media["video_urls"]
        low = max(1, limit.minimum) if limit.required else 0
        fields["video_urls"] = [VIDEO] * draw(st.integers(low, min(limit.maximum or 3, 3)))
    needs_image = spec.media_required and not fields.get("video_urls")
    if "image_urls" in spec.media and (spec.media["image_urls"].required or needs_image):
        fields["image_urls"] = ["https://example.com/a.png"]
    made = request(model, **fields)
    bounds = input_bounds(made)
    seconds = None
    if bounds is not None:  # a length the API accepts for these videos, to the hundredth
        lengths = st.floats(float(bounds[0]), float(bounds[1]), allow_nan=False)
        seconds = draw(st.none() | lengths.map(lambda s: max(round(s, 2), float(bounds[0]))))
    return made, seconds


def _with(base: GenerationRequest, **changes: Any) -> GenerationRequest:
    fields = {
        name: getattr(base, name)
        for name in (
            "image_urls",
            "duration",
            "quality",
            "generate_audio",
            "video_urls",
            "content_filter",
        )
    }
    return request(base.model, **{**fields, **changes})


@settings(max_examples=300, deadline=None)
@given(priced_requests())
def test_every_priced_request_has_a_positive_estimate_with_low_at_most_high(
    drawn: tuple[GenerationRequest, float | None],
) -> None:
    req, seconds = drawn
    found = estimate(req, input_seconds=seconds)
    assert found.known and found.low is not None and found.high is not None
    assert D(0) < found.low <= found.high
    assert found.exact == (found.low == found.high)
    assert found.low == round_credits(found.low) and found.high == round_credits(found.high)
    assert "credits" in found.text()


@settings(max_examples=300, deadline=None)
@given(priced_requests())
def test_estimates_grow_with_duration_quality_audio_and_input(
    drawn: tuple[GenerationRequest, float | None],
) -> None:
    req, seconds = drawn
    spec = req.spec
    assert spec is not None
    found = estimate(req, input_seconds=seconds)
    assert found.low is not None and found.high is not None

    def at_least(other: Estimate) -> None:
        assert other.low is not None and other.high is not None
        assert other.low >= found.low and other.high >= found.high  # type: ignore[operator]

    if req.duration is not None and req.duration != -1 and req.duration < (spec.duration_max or 0):
        at_least(estimate(_with(req, duration=req.duration + 1), input_seconds=seconds))
    qualities = [q for q in QUALITY_ORDER if q in (spec.qualities or ())]
    higher = qualities[qualities.index(str(req.quality)) + 1 :]
    if higher:
        at_least(estimate(_with(req, quality=higher[0]), input_seconds=seconds))
    if req.generate_audio is False:
        at_least(estimate(_with(req, generate_audio=True), input_seconds=seconds))
    if req.content_filter is not False and spec.takes("content_filter"):
        at_least(estimate(_with(req, content_filter=False), input_seconds=seconds))
    bounds = input_bounds(req)
    if bounds is not None and seconds is not None:
        if seconds + 1.05 <= bounds[1]:
            at_least(estimate(req, input_seconds=seconds + 1.05))
        unknown_input = estimate(req)  # the range of every length the API accepts holds this one
        assert unknown_input.low is not None and unknown_input.high is not None
        assert unknown_input.low <= found.low and unknown_input.high >= found.high
