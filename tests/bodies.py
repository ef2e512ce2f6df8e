"""Create bodies for every model of the catalogue: minimal valid ones, valid ones drawn by
hypothesis within each model's rules, and ways to break exactly one rule (with the ``param`` the
server must name). The rules come from the catalogue, which ``test_catalogue`` holds to the
official files; the valid bodies are also checked against each model's own schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from seedance_cli.catalogue import ModelSpec, catalogue

Body = dict[str, Any]
#: One way to break a rule: it takes a valid body and returns a broken copy and the param.
Breaker = Callable[[Body], tuple[Body, str]]

SPECS = list(catalogue().values())
IDS = [spec.id for spec in SPECS]
MEDIA_URLS = {
    "image_urls": "https://example.com/a.png",
    "video_urls": "https://example.com/v.mp4",
    "audio_urls": "https://example.com/a.mp3",
}
#: Every request field some model takes: each one a model does not take is refused by it.
ALL_FIELDS = sorted(set().union(*(spec.fields for spec in SPECS)))
PROMPT_SANE_MAX_CHARS = 100_000
CALLBACKS = ["https://hooks.example.com/seedance", "https://8.8.4.4:8443/cb?id=1"]


def schema_file(spec: ModelSpec) -> str:
    """The official file of ``spec``, relative to ``tests/openapi``."""
    return spec.source


def minimal(spec: ModelSpec) -> Body:
    """The smallest body ``spec`` accepts: model, prompt and the media it requires."""
    body: Body = {"model": spec.id, "prompt": "A cat playing piano"}
    for name, limit in spec.media.items():
        if limit.required:
            body[name] = [MEDIA_URLS[name]] * max(1, limit.minimum)
    if spec.media_required and not any(name in body for name in MEDIA_URLS):
        body["image_urls"] = [MEDIA_URLS["image_urls"]]
    return body


# -- valid bodies ----------------------------------------------------------------------------------


@st.composite
def valid_bodies(draw: st.DrawFn, spec: ModelSpec) -> Body:
    """Any body within ``spec``'s rules, optional fields left out or set."""
    limit = spec.prompt_max_chars or 300
    prompt = draw(st.text(min_size=1, max_size=min(limit, 300)).filter(lambda p: p.strip() != ""))
    body: Body = {"model": spec.id, "prompt": prompt, **draw(_media(spec))}
    images = bool(body.get("image_urls"))
    options: dict[str, st.SearchStrategy[Any]] = {
        "duration": _durations(spec),
        "quality": st.sampled_from(spec.qualities or ("720p",)),
        "aspect_ratio": st.sampled_from(spec.ratios(with_images=images) or ("16:9",)),
        "output_format": st.sampled_from(spec.output_formats or ("mp4",)),
        "generate_audio": st.booleans(),
        "content_filter": st.booleans(),
        "model_params": st.fixed_dictionaries({}, optional={"web_search": st.booleans()}),
        "callback_url": st.sampled_from(CALLBACKS),
    }
    for name, values in options.items():
        if name in spec.fields and draw(st.booleans()):
            body[name] = draw(values)
    if body.get("content_filter") is False and body.get("model_params", {}).get("web_search"):
        body["model_params"]["web_search"] = False  # the one pair the API refuses
    return body


def _durations(spec: ModelSpec) -> st.SearchStrategy[int]:
    auto = st.just(-1) if spec.duration_auto else st.nothing()
    if spec.duration_min is None or spec.duration_max is None:
        return auto
    return st.integers(spec.duration_min, spec.duration_max) | auto


@st.composite
def _media(draw: st.DrawFn, spec: ModelSpec) -> Body:
    media: Body = {}
    for name, limit in spec.media.items():
        low = max(1, limit.minimum)
        high = max(low, min(limit.maximum or low, 12))
        count = draw(st.integers(low, high)) if limit.required or draw(st.booleans()) else 0
        if count:
            media[name] = [f"{MEDIA_URLS[name]}?n={n}" for n in range(count)]
    alone = set(media) == {"audio_urls"} and not spec.audio_alone
    if alone or (spec.media_required and not media):
        media["image_urls"] = [MEDIA_URLS["image_urls"]]
    return media


# -- bodies that break one rule --------------------------------------------------------------------


def _set(name: str, value: Any, param: str | None = None) -> Breaker:
    def breaker(body: Body) -> tuple[Body, str]:
        return {**body, name: value}, param or name

    return breaker


def _without(*names: str, param: str, extra: Body | None = None) -> Breaker:
    def breaker(body: Body) -> tuple[Body, str]:
        kept = {k: v for k, v in body.items() if k not in names}
        return {**kept, **(extra or {})}, param

    return breaker


def breakers(spec: ModelSpec) -> dict[str, Breaker]:
    """Every rule of ``spec`` a body can break, by a name for test ids."""
    rules: dict[str, Breaker] = {
        "empty prompt": _set("prompt", " "),
        "prompt not text": _set("prompt", ["A cat"]),
        "prompt too long": _set("prompt", "x" * ((spec.prompt_max_chars or 100_000) + 1)),
        "quality 2k": _set("quality", "2k"),
        "aspect ratio 2:1": _set("aspect_ratio", "2:1"),
        "duration not whole": _set("duration", 5.5),
        "duration -2": _set("duration", -2),
        "callback over http": _set("callback_url", "http://hooks.example.com/x"),
        **_duration_breakers(spec),
        **_choice_breakers(spec),
        **_media_breakers(spec),
        **_flag_breakers(spec),
    }
    # A rule of a field the model does not take is not its rule: that field is refused as such.
    found = {name: b for name, b in rules.items() if _param_root(spec, b) in spec.fields}
    found["unknown field seed"] = _set("seed", 42)
    for name in ALL_FIELDS:
        if name not in spec.fields:
            found[f"field {name} not taken"] = _set(name, _a_value(name))
    return found


def _param_root(spec: ModelSpec, breaker: Breaker) -> str:
    _, param = breaker(minimal(spec))
    return param.split(".", 1)[0]


def _a_value(name: str) -> Any:
    if name in MEDIA_URLS:
        return [MEDIA_URLS[name]]
    return {
        "duration": 5,
        "quality": "720p",
        "aspect_ratio": "16:9",
        "generate_audio": True,
        "content_filter": True,
        "output_format": "mp4",
        "model_params": {"web_search": False},
        "callback_url": CALLBACKS[0],
    }[name]


def _duration_breakers(spec: ModelSpec) -> dict[str, Breaker]:
    low, high = spec.duration_min, spec.duration_max
    if low is None or high is None:
        return {"duration 5 on an automatic-only model": _set("duration", 5)}
    found = {
        "duration below range": _set("duration", low - 1 if low - 1 != -1 else -3),
        "duration above range": _set("duration", high + 1),
    }
    if not spec.duration_auto:
        found["duration auto not allowed"] = _set("duration", -1)
    return found


def _choice_breakers(spec: ModelSpec) -> dict[str, Breaker]:
    found: dict[str, Breaker] = {}
    if spec.qualities and "4k" not in spec.qualities:
        found["quality 4k"] = _set("quality", "4k")
    plain = spec.ratios(with_images=False) or ()
    extra = set(spec.ratios(with_images=True) or ()) - set(plain)
    images = spec.media.get("image_urls")
    if extra and images is not None and not images.required:
        ratio = sorted(extra)[0]
        found[f"ratio {ratio} without an image"] = _without(
            "image_urls", param="aspect_ratio", extra={"aspect_ratio": ratio}
        )
    if plain and "16:9" not in plain:
        found["ratio 16:9"] = _set("aspect_ratio", "16:9")
    if spec.output_formats:
        found["output format avi"] = _set("output_format", "avi")
    return found


def _media_breakers(spec: ModelSpec) -> dict[str, Breaker]:
    found: dict[str, Breaker] = {}
    for name, limit in spec.media.items():
        if limit.maximum is not None:
            found[f"too many {name}"] = _set(name, [MEDIA_URLS[name]] * (limit.maximum + 1))
        found[f"{name} not a list"] = _set(name, MEDIA_URLS[name])
        found[f"{name} not URLs"] = _set(name, ["not a url"])
        if limit.required:
            found[f"no {name}"] = _without(name, param=name)
        if limit.minimum >= 1 or limit.required:
            found[f"empty {name}"] = _set(name, [])
    if not spec.audio_alone:
        found["audio alone"] = _without(
            *MEDIA_URLS, param="audio_urls", extra={"audio_urls": [MEDIA_URLS["audio_urls"]]}
        )
    if spec.media_required:
        found["no media at all"] = _without(*MEDIA_URLS, param="image_urls")
    return found


def _flag_breakers(spec: ModelSpec) -> dict[str, Breaker]:
    found = {
        "generate_audio not boolean": _set("generate_audio", "yes"),
        "content_filter not boolean": _set("content_filter", "no"),
        "model_params not an object": _set("model_params", "web_search", "model_params"),
    }
    if "web_search" in spec.model_params:
        found["web_search not boolean"] = _set(
            "model_params", {"web_search": "yes"}, "model_params.web_search"
        )
        found["unknown model param"] = _set(
            "model_params", {"temperature": True}, "model_params.temperature"
        )

        def filter_off_with_search(body: Body) -> tuple[Body, str]:
            return {
                **body,
                "content_filter": False,
                "model_params": {"web_search": True},
            }, "content_filter"

        found["content filter off with web search"] = filter_off_with_search
    elif "model_params" in spec.fields:
        found["model params not taken"] = _set(
            "model_params", {"web_search": True}, "model_params.web_search"
        )
    return found


def broken_bodies(spec: ModelSpec) -> st.SearchStrategy[tuple[str, Body, str]]:
    """(rule, body, param): a valid body of ``spec`` with exactly one rule broken."""
    rules = breakers(spec)
    return st.tuples(valid_bodies(spec), st.sampled_from(sorted(rules))).map(
        lambda pair: (pair[1], *rules[pair[1]](pair[0]))
    )
