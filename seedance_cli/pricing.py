"""What a create will cost, from EvoLink's published pricing rules (API.md, "Pricing").

The rules, captured 2026-10-10, are a table per family and tier (``RULES``): a rate in credits per
billed second, a minimum charge, a factor per quality, the 1.5 audio factor and, for requests with
reference videos, their own quality factors. One component is charged
``max(round_half_up(quantity x rate), minimum)``; 68 credits are one US dollar.

Where rounding happens (each step is a ``decimal.Decimal`` operation, never a float):

* **Billed seconds with reference videos** (``output + max(input, output)``) are rounded *up* to a
  tenth of a second, as the rules say, before any factor applies.
* **Credits** are rounded half up to four decimals (``0.0001``) once per component, on
  ``quantity x rate``. The worked examples pin this down to three or four decimals: 1.5 pro, 5 s,
  720p with audio is ``17.784`` (two decimals would give 17.78), and 12 s 1080p with audio,
  ``12 x 2.23 x 2 x 1.7784 = 95.179968``, is ``95.18`` (five or six decimals would give 95.17997 or
  95.179968; three and four give 95.180 and 95.1800). Four is the precision every published figure
  is written in (rates 1.7784 and 8.2013, minimums 3.4445, 15.1893, 5.0004, 37.3674), so a charge
  is never finer or coarser than the minimum it is compared with.
* ``content_filter: false`` (x1.1, from the model pages; the rules themselves do not encode it)
  multiplies the component's charge after the minimum, and the product is rounded again to four
  decimals. With the published figures the minimum never applies to a model that takes
  ``content_filter`` (2.x: the smallest quantity, 4 s at 480p, is above every 2.x minimum), so the
  order of the two cannot change a price today.
* Dollars are ``credits / 68`` rounded half up to cents, for display only: sum credits, then convert.

An estimate is a range when the price depends on something not known before the create (the length
of the reference videos, a duration the model picks) and "unknown" when no rule is published
(``doubao-seedance-1.0-pro-fast``, a model this version does not know); never 0. Web search fees are
charged only when a search runs, at no published price: an estimate leaves them out and says so.

Budgets: a ``Budget`` is the most a create, or a whole run of creates, may be estimated to cost
(``--max-credits``). An estimate counts at its top (``high``); an unknown price cannot be held to
a budget and is refused unless unknown prices are allowed. ``Budget.reserve`` checks an estimate
and counts it in one step under a lock, so two creates never both pass and together go above it.
``Total`` adds estimates up (a dry run's total): ranges as ranges, unknown prices counted apart.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .errors import OverBudget, ValidationError

if TYPE_CHECKING:
    from .catalogue import ModelSpec
    from .live_pricing import LiveTable
    from .models import GenerationRequest

#: EvoLink's unit: 68 credits are 1 USD.
CREDITS_PER_USD: Final = Decimal(68)
#: Credits are rounded half up to this step, once per component (see the module docstring).
CREDIT_STEP: Final = Decimal("0.0001")
#: Billed seconds with reference videos are rounded up to this step.
BILLED_SECONDS_STEP: Final = Decimal("0.1")
#: ``content_filter: false`` is billed at 1.1x (the model pages; not in the published rules).
CONTENT_FILTER_OFF_FACTOR: Final = Decimal("1.1")
#: When the rules were captured (API.md); a live refresh would carry its own date.
CAPTURED: Final = "2026-10-10"
#: How long an edit's output may fall short of its first video (the 2.5 video-edit file).
EDIT_SHORTFALL: Final = Decimal("0.4")


@dataclasses.dataclass(frozen=True)
class Rule:
    """The published rule of one family and tier.

    ``quality`` maps each quality to its factor on the duration; ``reference_quality`` the factors
    on billed seconds when the request has reference videos (``None``: the family takes none).
    ``audio_factor`` multiplies the quantity when audio is generated (2 on 1.5; 1 where audio is
    free).
    """

    family: str
    tier: str
    rate: Decimal
    minimum: Decimal
    quality: Mapping[str, Decimal]
    reference_quality: Mapping[str, Decimal] | None = None
    audio_factor: Decimal = Decimal(1)


def _factors(text: str) -> dict[str, Decimal]:
    """``"480p=0.46 720p=1"`` as a mapping of exact factors."""
    pairs = (item.split("=") for item in text.split())
    return {quality: Decimal(factor) for quality, factor in pairs}


#: The published rules by ``(family, tier)``, as API.md's table gives them, digit for digit.
#: ``doubao-seedance-1.0-pro-fast`` (family 1.0) has none.
RULES: Final[Mapping[tuple[str, str], Rule]] = {
    ("1.5", "standard"): Rule(
        "1.5",
        "standard",
        rate=Decimal("1.7784"),
        minimum=Decimal("3.4445"),
        quality=_factors("480p=0.46 720p=1 1080p=2.23"),
        audio_factor=Decimal(2),
    ),
    ("2.0", "standard"): Rule(
        "2.0",
        "standard",
        rate=Decimal("13.5"),
        minimum=Decimal("25.002"),
        quality=_factors("480p=0.465 720p=1 1080p=2.5 4k=5.1"),
        reference_quality=_factors("480p=0.284 720p=0.609 1080p=1.52 4k=3.15"),
    ),
    ("2.0", "fast"): Rule(
        "2.0",
        "fast",
        rate=Decimal("8.2013"),
        minimum=Decimal("15.1893"),
        quality=_factors("480p=0.465 720p=1"),
        reference_quality=_factors("480p=0.277 720p=0.595"),
    ),
    ("2.0", "mini"): Rule(
        "2.0",
        "mini",
        rate=Decimal("2.7"),
        minimum=Decimal("5.0004"),
        quality=_factors("480p=0.465 720p=1"),
        reference_quality=_factors("480p=0.284 720p=0.609"),
    ),
    ("2.5", "standard"): Rule(
        "2.5",
        "standard",
        rate=Decimal("20.09"),
        minimum=Decimal("37.3674"),
        quality=_factors("480p=0.465 720p=1 1080p=2.5"),
        reference_quality=_factors("480p=0.284 720p=0.609 1080p=1.52"),
    ),
}


#: Models of the catalogue with no published rule, named so that a new model is a decision: a test
#: fails for a catalogue model that is neither priced by ``RULES`` nor listed here.
UNPRICED: Final = frozenset({"doubao-seedance-1.0-pro-fast"})


@dataclasses.dataclass(frozen=True)
class VideoLimits:
    """How long reference videos may be, which bounds an estimate when their length is unknown:
    each clip at least ``clip_min`` s, all together at most ``total_max`` s."""

    clip_min: Decimal
    total_max: Decimal


#: API.md: videos 2-15 s each and 15 s in all (2.5: 2-30 s, 30 s in all).
VIDEO_LIMITS: Final[Mapping[str, VideoLimits]] = {
    "2.0": VideoLimits(Decimal(2), Decimal(15)),
    "2.5": VideoLimits(Decimal(2), Decimal(30)),
}
#: The 2.5 video-edit file says 4-30 s for the video it edits; its other clips keep API.md's 2 s,
#: the wider (safer) reading of "4 ~ 30 seconds per video" there.
EDIT_FIRST_MIN: Final = Decimal(4)
#: Where the catalogue states no range for an automatic duration (it does for every 2.5 model).
AUTO_SECONDS: Final = (Decimal(4), Decimal(30))

UNKNOWN_INPUT: Final = "the reference videos' length is unknown"
WEB_SEARCH_NOTE: Final = (
    "excludes web search fees, charged only when a search runs, at no published price"
)


def round_credits(credits: Decimal) -> Decimal:
    """Credits rounded half up to four decimals, the step of every published figure."""
    return credits.quantize(CREDIT_STEP, rounding=ROUND_HALF_UP)


def billed_seconds(output_seconds: Decimal, input_seconds: Decimal) -> Decimal:
    """Seconds billed with reference videos: ``output + max(input, output)``, rounded up to 0.1 s."""
    total = output_seconds + max(input_seconds, output_seconds)
    return total.quantize(BILLED_SECONDS_STEP, rounding=ROUND_CEILING)


def usd(credits: Decimal) -> Decimal:
    """``credits`` in US dollars, rounded half up to cents (display only: sum credits first)."""
    return (credits / CREDITS_PER_USD).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _spec(model_id: str) -> ModelSpec | None:
    from .catalogue import spec

    return spec(model_id)


def rule(model_id: str) -> Rule | None:
    """The published rule of a model; ``None`` when none is published or the catalogue does not
    know the model (its price is unknown, never 0)."""
    spec = _spec(model_id)
    if spec is None or model_id in UNPRICED:
        return None
    return RULES.get((spec.family, spec.tier))


def _decimal(value: float | Decimal, name: str) -> Decimal:
    """A non-negative finite number of seconds as a Decimal (a float through its shortest text,
    so 3.04 is 3.04, not 3.0399999...)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(name, "must be a number of seconds")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(name, "must be a finite number of seconds")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValidationError(name, "must be a finite number of seconds, at least 0")
    return number


def _charge(
    rule: Rule,
    factor: Decimal,
    *,
    output: Decimal,
    input_seconds: Decimal | None,
    audio: bool,
    content_filter: bool,
) -> Decimal:
    if input_seconds is None:
        quantity = output * factor * (rule.audio_factor if audio else 1)
    else:
        quantity = billed_seconds(output, input_seconds) * factor
    credits = max(round_credits(quantity * rule.rate), rule.minimum)
    if not content_filter:
        credits = round_credits(credits * CONTENT_FILTER_OFF_FACTOR)
    return credits


def scaled(found: Rule, factor: Decimal) -> Rule:
    """``found`` with its rate and minimum charge multiplied by ``factor`` (to four decimals): the
    rule after a price change (the emulator's ``--price-factor``)."""
    if factor == 1:
        return found
    return dataclasses.replace(
        found,
        rate=round_credits(found.rate * factor),
        minimum=round_credits(found.minimum * factor),
    )


def charge(
    model_id: str,
    *,
    quality: str,
    output_seconds: float | Decimal,
    input_seconds: float | Decimal | None = None,
    audio: bool = True,
    content_filter: bool = True,
    factor: Decimal = Decimal(1),
) -> Decimal | None:
    """The credits one task costs when everything is known: the output's length in seconds (what
    was produced, for an automatic duration), the total length of its reference videos
    (``None``: it has none) and the rest of the request. ``None`` when no rule prices this model
    at this quality (never 0). Web search fees are not included.

    ``input_seconds`` on a family without the reference-video formula (1.5) is ignored.
    ``factor`` prices by the rule ``scaled`` by it."""
    found = rule(model_id)
    if found is None:
        return None
    found = scaled(found, factor)
    output = _decimal(output_seconds, "duration")
    videos = _decimal(input_seconds, "input_seconds") if input_seconds is not None else None
    table = found.quality if videos is None else found.reference_quality
    if table is None:
        table, videos = found.quality, None
    if quality not in table:
        return None
    return _charge(
        found,
        table[quality],
        output=output,
        input_seconds=videos,
        audio=audio,
        content_filter=content_filter,
    )


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a create is expected to cost, in credits.

    ``low`` and ``high`` are equal when the price is exact; both are ``None`` when ``known`` is
    false (no published rule: show "price unknown", never 0). ``reason`` says why it is a range or
    unknown, and what it leaves out (web search fees); ``None`` when there is nothing to say. A
    budget counts an estimate at ``high``.
    """

    model: str
    low: Decimal | None
    high: Decimal | None
    reason: str | None = None
    #: What makes it a range: ``input`` (the reference videos' length), ``auto`` (a duration the
    #: model picks), ``edit`` (an edit's output), ``live`` (the live and built-in rules differ).
    causes: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def exact(self) -> bool:
        """Known and a single figure (it may still leave web search fees out: see ``reason``)."""
        return self.known and self.low == self.high

    @property
    def usd_low(self) -> Decimal | None:
        return usd(self.low) if self.low is not None else None

    @property
    def usd_high(self) -> Decimal | None:
        return usd(self.high) if self.high is not None else None

    def text(self) -> str:
        """``17.78 credits ($0.26)``, ``3.44-37.37 credits ($0.05-$0.55)`` or ``price unknown``.

        Credits are shown half up to two decimals, dollars to cents; a range whose ends look the
        same at that precision is shown once."""
        if self.low is None or self.high is None:
            return "price unknown"
        low, high = _credits_text(self.low), _credits_text(self.high)
        usd_low, usd_high = f"${usd(self.low)}", f"${usd(self.high)}"
        if low == high:
            return f"{low} credits ({usd_high})"
        dollars = usd_high if usd_low == usd_high else f"{usd_low}-{usd_high}"
        return f"{low}-{high} credits ({dollars})"

    def __str__(self) -> str:
        return self.text()

    def described(self) -> str:
        """``text()`` and, in brackets, its ``reason`` (why it is a range or unknown, what it
        leaves out): ``80.36-602.70 credits ($1.18-$8.86) (2.5 picks the duration (auto): 4-30 s)``,
        ``price unknown (no published price for X)``. What ``estimate:`` lines say."""
        return self.text() + (f" ({self.reason})" if self.reason else "")

    def as_json(self) -> dict[str, Any]:
        """The estimate as JSON values: credits as numbers (exact to their four decimals),
        ``null`` when unknown."""
        return {
            "model": self.model,
            "known": self.known,
            "exact": self.exact,
            "low": _number(self.low),
            "high": _number(self.high),
            "usd_low": _number(self.usd_low),
            "usd_high": _number(self.usd_high),
            "reason": self.reason,
            "text": self.text(),
        }


def _credits_text(credits: Decimal) -> str:
    return str(credits.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def unknown(model_id: str) -> Estimate:
    """The estimate of a model with no published price."""
    return Estimate(model_id, None, None, f"no published price for {model_id}")


def input_bounds(request: GenerationRequest) -> tuple[Decimal, Decimal] | None:
    """The shortest and longest total length of reference videos the API accepts for
    ``request``: each clip at least 2 s (4 s for the video an edit works on), at most 15 s in all
    on 2.0 and 30 s on 2.5. ``None`` when the request has no videos or its family takes none."""
    spec = request.spec
    limits = VIDEO_LIMITS.get(spec.family) if spec is not None else None
    videos = len(request.video_urls)
    if spec is None or limits is None or not videos:
        return None
    first_min = EDIT_FIRST_MIN if spec.mode == "video-edit" else limits.clip_min
    shortest = min(first_min + limits.clip_min * (videos - 1), limits.total_max)
    return shortest, limits.total_max


def estimate(
    request: GenerationRequest, *, input_seconds: float | Decimal | None = None
) -> Estimate:
    """What ``request`` will cost, from the published rules, before it is sent.

    Unset fields take the model's defaults from the catalogue (duration, quality); unset
    ``generate_audio`` means with audio, unset ``content_filter`` means on. ``input_seconds`` is
    the total length of the reference videos (``video_urls``); without it a request with videos
    is a range from the shortest inputs the API accepts (2 s a clip; 4 s for the video an edit
    works on) to the longest (15 s in all on 2.0, 30 s on 2.5). It is ignored for a request
    without videos. Other ranges:

    * ``duration: -1`` (automatic): the model picks 4-30 s, billed on what it produced.
    * 2.5 video edit: the output follows its first video and may be up to 0.4 s shorter, so even a
      known ``input_seconds`` gives a narrow range; with several videos the first one's share of
      ``input_seconds`` is unknown too.

    Raises ``ValidationError`` (field ``input_seconds``) for a length that is not a finite number
    or that the API would refuse for these videos (``input_bounds``: 0.001 s would price below
    any real charge); the request itself was checked when it was made.
    """
    model = request.model
    spec = request.spec
    found = rule(model)
    live = _InUse.live
    live_rule = live.rule(model) if live is not None else None
    if spec is None or (found is None and live_rule is None):
        return unknown(model)
    quality = request.quality if request.quality is not None else spec.quality_default
    given = _decimal(input_seconds, "input_seconds") if input_seconds is not None else None
    videos = len(request.video_urls)
    reasons: list[str] = []
    causes: list[str] = []

    inputs: tuple[Decimal, Decimal] | None = None
    limits = VIDEO_LIMITS.get(spec.family)
    bounds = input_bounds(request)
    if bounds is not None:
        if given is None:
            inputs = bounds
            reasons.append(UNKNOWN_INPUT)
            causes.append("input")
        elif not bounds[0] <= given <= bounds[1]:
            clips = f"{videos} video{'s' if videos > 1 else ''}"
            raise ValidationError(
                "input_seconds",
                f"must be {plain_number(bounds[0])}-{plain_number(bounds[1])} s for {clips} "
                f"on {model} (the total length of the reference videos the API accepts), "
                f"got {plain_number(given)}",
            )
        else:
            inputs = (given, given)
    at = f" at {quality}" if quality is not None else ""
    if quality is None:
        return Estimate(model, None, None, f"no published price for {model}{at}")

    duration = request.duration if request.duration is not None else spec.duration_default
    outputs: tuple[Decimal, Decimal]
    if spec.mode == "video-edit" and inputs is not None and limits is not None:
        # The output follows the first video: at most all the input but the other clips'
        # shortest lengths, at least the first video's shortest, less the 0.4 s it may lose.
        others = videos - 1
        first_low = inputs[0] if others == 0 else EDIT_FIRST_MIN
        first_high = max(first_low, inputs[1] - limits.clip_min * others)
        outputs = (max(first_low - EDIT_SHORTFALL, Decimal(0)), first_high)
        reasons.append("the edit's output follows its first video (up to 0.4 s shorter)")
        causes.append("edit")
    elif duration is None:  # no default in the catalogue (none today): nothing to price
        return Estimate(model, None, None, f"no default duration known for {model}")
    elif duration == -1:
        low = Decimal(spec.duration_min) if spec.duration_min is not None else AUTO_SECONDS[0]
        high = Decimal(spec.duration_max) if spec.duration_max is not None else AUTO_SECONDS[1]
        outputs = (low, high)
        reasons.append(f"{spec.family} picks the duration (auto): {low}-{high} s")
        causes.append("auto")
    else:
        outputs = (Decimal(duration), Decimal(duration))

    audio = request.generate_audio is not False
    content_filter = request.content_filter is not False
    built_in: list[Decimal] | None = None
    table = None if found is None else found.quality if inputs is None else found.reference_quality
    if found is not None and table is not None and quality in table:
        built_in = [
            _charge(
                found,
                table[quality],
                output=outputs[end],
                input_seconds=inputs[end] if inputs is not None else None,
                audio=audio,
                content_filter=content_filter,
            )
            for end in (0, 1)
        ]
    live_ends = None
    if live_rule is not None:
        live_ends = live_rule.ends(
            duration=duration,
            quality=quality,
            outputs=outputs,
            inputs=inputs,
            audio=audio,
            content_filter=content_filter,
        )
    ends = [*(built_in or ()), *(live_ends or ())]
    if not ends:
        return Estimate(model, None, None, f"no published price for {model}{at}")
    if live_ends is not None and live is not None:
        if built_in is None:
            reasons.append(f"from the live rules of {live.updated}")
        elif sorted(built_in) != sorted(live_ends):
            causes.append("live")
            reasons.append(
                f"live rules of {live.updated}: {_span(live_ends)}; built-in of {CAPTURED}: "
                f"{_span(built_in)}"
            )
    if request.web_search:
        reasons.append(WEB_SEARCH_NOTE)
    return Estimate(model, min(ends), max(ends), "; ".join(reasons) or None, tuple(causes))


def _span(ends: list[Decimal]) -> str:
    low, high = _credits_text(min(ends)), _credits_text(max(ends))
    return f"{low} credits" if low == high else f"{low}-{high} credits"


class _InUse:
    """The live rules in use (``use_live``); ``None``: the built-in table alone."""

    live: LiveTable | None = None


def live_in_use() -> bool:
    """Whether estimates read live rules too (``use_live``)."""
    return _InUse.live is not None


def use_live(rules: LiveTable | None) -> None:
    """Estimate with ``rules`` as well as the built-in table from now on (``None``: the built-in
    table alone). Where both price a request and disagree, an estimate spans both, so a budget
    counts the higher: a lower live price never lets more through than the published rules, and a
    higher one is never missed."""
    _InUse.live = rules


class SecondPrice(NamedTuple):
    """The price of one second for ``seedance models MODEL``, before rounding and the minimum.

    ``audio`` is ``True``/``False`` where audio changes the price (1.5), ``None`` where it is free.
    ``videos`` is ``False`` for a second of output, ``True`` for a billed second of a request with
    reference videos (billed seconds = ``output + max(input, output)``, rounded up to 0.1 s).
    ``content_filter: false`` would add 10%.
    """

    quality: str
    audio: bool | None
    credits: Decimal
    videos: bool = False


def per_second(model_id: str) -> list[SecondPrice] | None:
    """The price of a second per quality the model takes (with and without audio on 1.5, with
    reference videos where it takes them), in the catalogue's order of qualities; ``None`` when
    the price is unknown."""
    spec = _spec(model_id)
    found = rule(model_id)
    if spec is None or found is None:
        return None
    qualities = spec.qualities or tuple(found.quality)
    prices: list[SecondPrice] = []
    takes_videos = "video_urls" in spec.media
    video_required = takes_videos and spec.media["video_urls"].required
    for quality in qualities:
        factor = found.quality.get(quality)
        if factor is not None and not video_required:
            if found.audio_factor != 1:
                prices.append(SecondPrice(quality, True, factor * found.audio_factor * found.rate))
                prices.append(SecondPrice(quality, False, factor * found.rate))
            else:
                prices.append(SecondPrice(quality, None, factor * found.rate))
        reference = (found.reference_quality or {}).get(quality)
        if reference is not None and takes_videos:
            prices.append(SecondPrice(quality, None, reference * found.rate, videos=True))
    return prices or None


def credits_text(credits: Decimal) -> str:
    """Credits as shown with an estimate: half up to two decimals (``17.78``)."""
    return _credits_text(credits)


def plain_number(value: Decimal) -> str:
    """A limit as the user wrote it, without exponent or trailing zeros: ``50``, ``12.5``."""
    return f"{value.normalize():f}"


@dataclasses.dataclass
class Total:
    """Estimates added up: ``low`` and ``high`` over those with a known price (a range adds up as
    a range), ``unpriced`` counting the others, which are never added as 0."""

    count: int = 0
    unpriced: int = 0
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)

    @classmethod
    def of(cls, estimates: Iterable[Estimate]) -> Total:
        total = cls()
        for item in estimates:
            total.add(item)
        return total

    def add(self, estimate: Estimate) -> None:
        self.count += 1
        if estimate.low is None or estimate.high is None:
            self.unpriced += 1
            return
        self.low += estimate.low
        self.high += estimate.high

    @property
    def priced(self) -> int:
        return self.count - self.unpriced

    def text(self) -> str:
        """``45.00-90.00 credits ($0.66-$1.32)``, with ``+ 2 of unknown price`` when some are;
        ``price unknown`` when none is known; ``nothing`` for no estimates at all."""
        if self.count == 0:
            return "nothing"
        if self.priced == 0:
            return "price unknown"
        known = Estimate("total", self.low, self.high).text()
        return known + (f" + {self.unpriced} of unknown price" if self.unpriced else "")

    def as_json(self) -> dict[str, Any]:
        """Credits as numbers (``null`` when no price is known), ``unpriced`` apart."""
        priced = self.priced > 0
        return {
            "count": self.count,
            "priced": self.priced,
            "unpriced": self.unpriced,
            "low": _number(self.low) if priced else None,
            "high": _number(self.high) if priced else None,
            "usd_low": _number(usd(self.low)) if priced else None,
            "usd_high": _number(usd(self.high)) if priced else None,
            "text": self.text(),
        }


class Budget:
    """The most that creates may be estimated to cost, in credits, and what was counted so far.

    ``limit`` is finite and at least 0 (``ValidationError`` otherwise). ``name`` says where it
    comes from in messages (``--max-credits``, ``profile 'default' max-credits``). An estimate
    counts at its top (``high``): an estimate fits when ``counted + high <= limit`` (equal fits).
    An unknown price cannot be held to a budget: it is refused unless ``allow_unknown``, and then
    counts nothing (``unpriced`` says how many went through). Since no price is ever 0, a limit
    of 0 lets only unknown prices through, and those only with ``allow_unknown``.

    ``reserve`` checks and counts in one step under a lock: two creates never both pass the check
    and together go above the limit, whichever threads they run on. ``release`` gives back what a
    create that made no task had reserved.
    """

    def __init__(
        self,
        limit: Decimal | int | float,
        *,
        allow_unknown: bool = False,
        name: str = "--max-credits",
    ) -> None:
        self.limit = check_limit(limit, name)
        self.allow_unknown = allow_unknown
        self.name = name
        #: The tops of the estimates reserved so far (and not released).
        self.counted = Decimal(0)
        #: Reservations of unknown price let through (``allow_unknown``).
        self.unpriced = 0
        self._lock = threading.Lock()

    @property
    def limit_text(self) -> str:
        """``--max-credits 50``."""
        return f"{self.name} {plain_number(self.limit)}"

    def refusal(self, estimate: Estimate) -> OverBudget | None:
        """Why ``estimate``, on top of what is counted now, does not fit; ``None`` when it does.
        Counts nothing (``reserve`` does)."""
        if estimate.high is None:
            if self.allow_unknown:
                return None
            why = f" ({estimate.reason})" if estimate.reason else ""
            return OverBudget(
                f"over budget: the price is unknown{why}, so it cannot be held to "
                f"{self.limit_text}; nothing was sent"
            )
        after = self.counted + estimate.high
        if after <= self.limit:
            return None
        top = "" if estimate.exact else " at its top"
        why = f" ({estimate.reason})" if estimate.reason and not estimate.exact else ""
        if self.counted:
            return OverBudget(
                f"over budget: the estimate {estimate.text()}{why} would take the estimated "
                f"spend from {credits_text(self.counted)} to {credits_text(after)} "
                f"credits{top}, above {self.limit_text}; nothing was sent"
            )
        if not estimate.exact:
            return OverBudget(
                f"over budget: the estimate {estimate.text()}{why} reaches "
                f"{credits_text(estimate.high)} credits at its top, above {self.limit_text}; "
                "nothing was sent"
            )
        full = f"{estimate.high.normalize():f}" if estimate.high is not None else ""
        # "17.78 ... is above 17.78" would read as a lie: say the figure the budget was held to
        hidden = credits_text(self.limit) == credits_text(estimate.high)
        exact = f" (exactly {full})" if hidden and full not in estimate.text() else ""
        return OverBudget(
            f"over budget: the estimate {estimate.text()}{exact} is above {self.limit_text}; "
            "nothing was sent"
        )

    def check(self, estimate: Estimate) -> None:
        """``OverBudget`` when ``estimate`` does not fit (see ``refusal``); counts nothing."""
        refusal = self.refusal(estimate)
        if refusal is not None:
            raise refusal

    def reserve(self, estimate: Estimate) -> OverBudget | None:
        """Check ``estimate`` and, when it fits, count it, in one step: ``None`` when it was
        counted, else why it does not fit (nothing counted)."""
        with self._lock:
            refusal = self.refusal(estimate)
            if refusal is None:
                self._count(estimate, 1)
            return refusal

    def release(self, estimate: Estimate) -> None:
        """Give back what ``reserve`` counted for ``estimate`` (its create made no task)."""
        with self._lock:
            self._count(estimate, -1)

    def _count(self, estimate: Estimate, sign: int) -> None:
        if estimate.high is None:
            self.unpriced += sign
        else:
            self.counted += sign * estimate.high


def check_limit(value: Decimal | int | float, name: str = "--max-credits") -> Decimal:
    """A budget as a Decimal: a finite number of credits, at least 0; ``ValidationError``
    naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(name, "must be a number of credits")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValidationError(name, f"must be a finite number of credits, at least 0, got {value}")
    if number.adjusted() < -5:  # far below a credit step: 0 (and never a million digits long)
        return Decimal(0)
    # down to the step credits are counted in: a budget is never above what was asked
    return abs(number.quantize(CREDIT_STEP, rounding=ROUND_FLOOR))
