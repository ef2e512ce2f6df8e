"""The live pricing rules (issue 13, optional refresh): read from the API anonymously when
``live-pricing`` is on, cached until ``fresh_until``, evaluated to the same figures as the built-in
table; a price change shows as a range a budget counts at its top; anything odd falls back to the
built-in table in silence."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from seedance_cli import live_pricing, pricing
from seedance_cli.catalogue import catalogue
from seedance_cli.emulator import Emulator, FakeClock
from seedance_cli.emulator import pricing_rules as served
from seedance_cli.errors import ValidationError
from seedance_cli.models import GenerationRequest

from .clirunner import CliRunner

D = Decimal
PROMPT = "A cat playing piano"
LIVE = {"SEEDANCE_LIVE_PRICING": "1"}


@pytest.fixture(autouse=True)
def built_in_only() -> Iterator[None]:
    pricing.use_live(None)
    yield
    pricing.use_live(None)


def requests_of_every_model() -> Iterator[tuple[GenerationRequest, float | None]]:
    """Every model at each quality, its shortest, longest and automatic durations, with and
    without audio, with 0-2 reference videos of unknown and known length."""
    for spec in catalogue().values():
        durations = [None, spec.duration_min, spec.duration_max]
        durations += [-1] if spec.duration_auto else []
        for quality in spec.qualities or (None,):
            for duration in durations:
                for videos in (0, 1, 2) if "video_urls" in spec.media else (0,):
                    for audio in (True, False) if spec.takes("generate_audio") else (None,):
                        fields: dict[str, Any] = {
                            "model": spec.id,
                            "quality": quality,
                            "duration": duration,
                            "generate_audio": audio,
                            "video_urls": ["https://cdn.example.com/v.mp4"] * videos,
                        }
                        if spec.media_required and not videos and "image_urls" in spec.media:
                            fields["image_urls"] = ["https://cdn.example.com/a.png"]
                        try:
                            made = GenerationRequest(
                                PROMPT, **{k: v for k, v in fields.items() if v is not None}
                            )
                        except ValidationError:
                            continue
                        for seconds in (None, 7) if videos else (None,):
                            yield made, seconds


def test_the_served_rules_evaluate_to_the_built_in_figures_for_every_model() -> None:
    """The emulator serves the published rules as expression trees; read back, they price every
    request exactly as the built-in table does (so the estimate is unchanged, no range)."""
    table = live_pricing.parse(served.listing(0, {}))
    assert table.skipped == 0
    assert set(table.rules) == {m for m in catalogue() if pricing.rule(m) is not None}
    compared = 0
    for made, seconds in requests_of_every_model():
        built_in = pricing.estimate(made, input_seconds=seconds)
        pricing.use_live(table)
        live = pricing.estimate(made, input_seconds=seconds)
        pricing.use_live(None)
        assert (live.low, live.high, live.reason) == (built_in.low, built_in.high, built_in.reason)
        compared += 1
    assert compared > 600


def test_a_price_change_makes_a_range_that_spans_both_tables() -> None:
    table = live_pricing.parse(served.listing(0, {}, factor=D("1.2")))
    pricing.use_live(table)
    found = pricing.estimate(GenerationRequest(PROMPT))
    # 1.7784 x 1.2 = 2.13408 per second: 5 x 2 x 2.1341 = 21.341
    assert (found.low, found.high) == (D("17.784"), D("21.341"))
    assert found.reason == (
        "live rules of 1970-01-01: 21.34 credits; built-in of 2026-10-10: 17.78 credits"
    )
    cheaper = live_pricing.parse(served.listing(0, {}, factor=D("0.5")))
    pricing.use_live(cheaper)
    found = pricing.estimate(GenerationRequest(PROMPT))
    assert (found.low, found.high) == (D("8.892"), D("17.784"))  # a budget still counts 17.784
    budget = pricing.Budget(D("17.78"))
    assert budget.refusal(found) is not None


def test_a_model_only_the_live_rules_price_is_priced_by_them() -> None:
    answer = served.listing(0, {})
    rule_15 = next(m for m in answer["models"] if m["model_id"] == "seedance-1.5-pro")
    answer["models"].append({**rule_15, "model_id": "doubao-seedance-1.0-pro-fast"})
    pricing.use_live(live_pricing.parse(answer))
    found = pricing.estimate(GenerationRequest(PROMPT, model="doubao-seedance-1.0-pro-fast"))
    assert found.known and found.reason == "from the live rules of 1970-01-01"
    # a live price of almost nothing is no price: unknown, so a budget refuses it
    component = answer["models"][-1]["components"][0]
    answer["models"][-1] = {
        **answer["models"][-1],
        "components": [
            {**component, "rate": {"credits": "0"}, "minimum_charge": {"credits": "0.0001"}}
        ],
    }
    pricing.use_live(live_pricing.parse(answer))
    cheap = pricing.estimate(GenerationRequest(PROMPT, model="doubao-seedance-1.0-pro-fast"))
    assert not cheap.known
    assert pricing.Budget(D("0.01")).refusal(cheap) is not None


def _with_rule(**changes: Any) -> dict[str, Any]:
    answer = served.listing(0, {})
    for model in answer["models"]:
        if model["model_id"] == "seedance-1.5-pro":
            component = model["components"][0]
            for key, value in changes.items():
                if key == "quantity_rule":
                    component[key] = value
                elif key in ("rate", "minimum_charge"):
                    component[key] = {"credits": value}
                else:
                    model[key] = value
    return answer


def _deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"op": "constant", "value": "1"}
    for _ in range(depth):
        node = {"op": "multiply", "args": [node]}
    return node


@pytest.mark.parametrize(
    "changes",
    [
        {"rate": "0", "minimum_charge": "0"},  # a price of 0 is never shown
        {"rate": "-1.7784"},
        {"rate": "1e400"},
        {"rate": "1e1000000"},  # abs() of it overflows the decimal context: no crash
        {"rate": "1e-1000000", "minimum_charge": "0"},
        {"rate": "0", "minimum_charge": "0.0001"},  # would show as 0.00
        {"quantity_rule": {"op": "constant", "value": "-1E+999999"}},
        {"rate": "NaN"},
        {"rate": "Infinity"},
        {"rate": True},
        {"rate": "9" * 60},
        {"quantity_rule": {"op": "exec", "args": []}},
        {"quantity_rule": {"op": "variable", "name": "__class__"}},
        {"quantity_rule": {"op": "divide", "args": [_deep(1), {"op": "constant", "value": "0"}]}},
        {"quantity_rule": _deep(200)},
        {"quantity_rule": "duration * 2"},
        {"pricing_status": "unavailable"},
    ],
)
def test_a_rule_that_cannot_be_read_or_prices_absurdly_leaves_the_built_in_price(
    changes: dict[str, Any],
) -> None:
    pricing.use_live(live_pricing.parse(_with_rule(**changes)))
    found = pricing.estimate(GenerationRequest(PROMPT))
    assert (found.low, found.high, found.reason) == (D("17.784"), D("17.784"), None)


@pytest.mark.parametrize(
    "answer",
    [b"<html>busy</html>", b"[]", b'{"models": 3}', b"[" * 100_000, b'{"models": [1, "x", null]}'],
)
def test_an_answer_of_another_shape_is_the_built_in_table(answer: bytes, tmp_path: Path) -> None:
    found = live_pricing.load(
        "https://api.example.com", tmp_path, now=1000.0, fetch=lambda url: (200, answer)
    )
    assert found is None or not found.rules


# -- fetched, cached --------------------------------------------------------------------------------


def test_no_key_is_sent_and_the_answer_is_cached_until_fresh_until(
    cli: CliRunner, api: Emulator, clock: FakeClock
) -> None:
    first = cli("generate", PROMPT, env=LIVE)
    assert first.code == 0, first.err
    assert "estimate: 17.78 credits ($0.26)\n" in first.err  # the same rules: one figure
    (asked,) = api.requests("pricing")
    assert asked.path == "/v1/catalog/pricing-rules?view=full"
    assert not {name.lower() for name in asked.headers} & {"authorization", "cookie"}
    assert cli("generate", PROMPT, env=LIVE).code == 0
    assert len(api.requests("pricing")) == 1  # fresh for 5 minutes: from the cache
    clock.advance(301)
    assert cli("generate", PROMPT, env=LIVE).code == 0
    assert len(api.requests("pricing")) == 2
    assert cli("generate", PROMPT).code == 0  # off by default: never asked
    assert len(api.requests("pricing")) == 2


def test_a_price_rise_is_seen_before_paying_and_a_budget_holds_to_it(
    cli: CliRunner, api: Emulator
) -> None:
    api.service.price_factor = D("1.2")
    built_in = cli("generate", PROMPT, "--max-credits", "20")
    assert built_in.code == 0  # the built-in 17.78 fits: the API then reserves more, and says
    assert "warning: the API reserved 21.341 credits" in built_in.err
    live = cli("generate", PROMPT, "--max-credits", "20", env=LIVE)
    assert live.code == 11 and live.out == ""
    assert "estimate 17.78-21.34 credits ($0.26-$0.31)" in live.err
    assert "live rules of" in live.err and "built-in of 2026-10-10: 17.78 credits" in live.err
    assert len(api.requests("create")) == 1  # the refused one sent nothing


@pytest.mark.parametrize("fault", ["pricing:404:*", "pricing:500:*", "pricing:redirect:*"])
def test_an_absent_or_failing_endpoint_falls_back_in_silence_and_is_not_asked_again(
    cli: CliRunner, api: Emulator, fault: str
) -> None:
    api.add_fault(fault)
    first = cli("generate", PROMPT, env=LIVE)
    assert first.code == 0 and "estimate: 17.78 credits ($0.26)\n" in first.err
    assert "pricing" not in first.err and "warning" not in first.err
    assert cli("generate", PROMPT, env=LIVE).code == 0
    assert len(api.requests("pricing")) == 1  # the failure is remembered


def _deep_answer(depth: int) -> bytes:
    answer = served.listing(1000.0, {})
    text = json.dumps(answer)
    return text.replace(
        '"meta": {', '"deep": ' + "[" * depth + "]" * depth + ', "meta": {', 1
    ).encode()


def nested(frames: int, call: Any) -> Any:
    """``call()`` from ``frames`` stack frames deeper: a cache read deeper in a later run."""
    return call() if frames == 0 else nested(frames - 1, call)


@pytest.mark.parametrize("depth", [70, 900, 995, 100_000])
def test_an_answer_nested_too_deep_is_never_a_crash_now_or_in_a_later_run(
    tmp_path: Path, depth: int
) -> None:
    body = _deep_answer(depth)
    first = live_pricing.load(
        "https://a.example", tmp_path, now=1000.0, fetch=lambda url: (200, body)
    )
    later = nested(
        60,
        lambda: live_pricing.load(
            "https://a.example", tmp_path, now=1001.0, fetch=lambda url: (200, body)
        ),
    )
    expired = live_pricing.load(
        "https://a.example", tmp_path, now=10**6, fetch=lambda url: (404, b"")
    )
    assert expired is None
    # an answer nested beyond reason is not read at all, whatever the depth of the stack
    assert first is None and later is None


def test_the_cache_is_per_api_and_a_file_from_the_future_is_stale(tmp_path: Path) -> None:
    calls: list[str] = []
    answer = json.dumps(served.listing(1000.0, {})).encode()

    def fetch(url: str) -> tuple[int, bytes]:
        calls.append(url)
        return 200, answer

    assert live_pricing.load("https://a.example", tmp_path, now=1000.0, fetch=fetch) is not None
    assert live_pricing.load("https://b.example", tmp_path, now=1000.0, fetch=fetch) is not None
    assert live_pricing.load("https://a.example", tmp_path, now=1100.0, fetch=fetch) is not None
    assert len(calls) == 2
    # a clock set back an hour: the cached answer may be from another time, ask again
    assert live_pricing.load("https://a.example", tmp_path, now=1000.0 - 3600, fetch=fetch)
    assert len(calls) == 3
    # a fresh_until years away is trusted a day at most
    far = served.listing(1000.0, {})
    far["meta"]["fresh_until"] = "2999-01-01T00:00:00Z"
    assert live_pricing.fresh_until(far, 1000.0) == 1000.0 + live_pricing.MAX_FRESH
    (tmp_path / "x").mkdir()
    broken = tmp_path / "x" / live_pricing.cache_file(tmp_path, "https://c.example").name
    broken.write_text("{not json")
    assert live_pricing.load("https://c.example", tmp_path / "x", now=1000.0, fetch=fetch)


def test_the_anonymous_fetch_reads_the_rules_and_cuts_off_a_huge_answer(api: Emulator) -> None:
    from seedance_cli.client import fetch_anonymously

    url = api.url + "/v1/catalog/pricing-rules?view=full"
    status, body = fetch_anonymously(url, max_bytes=10_000_000, timeout=5)
    assert status == 200 and json.loads(body)["models"]
    with pytest.raises(OSError, match="too large"):
        fetch_anonymously(url, max_bytes=1000, timeout=5)
    (asked, *_) = api.requests("pricing")
    assert asked.headers["accept-encoding"] == "identity"


class _Hostile(BaseHTTPRequestHandler):
    """Answers a compressed body, or trickles its headers one byte at a time."""

    def do_GET(self) -> None:
        if self.path.startswith("/gzip"):
            body = gzip.compress(json.dumps(served.listing(0, {})).encode())
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for byte in b"X-Slow: " + b"a" * 100:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_compressed_answer_or_trickled_headers_are_no_answer(hostile: str) -> None:
    from seedance_cli.client import fetch_anonymously

    with pytest.raises(OSError, match="compressed"):
        fetch_anonymously(hostile + "/gzip", max_bytes=10**6, timeout=5)
    started = time.monotonic()
    with pytest.raises(OSError, match="not read"):
        fetch_anonymously(hostile + "/slow", max_bytes=10**6, timeout=0.5)
    # the whole request ends by its deadline, headers included (the server would take 10 s)
    assert time.monotonic() - started < 5


def test_live_pricing_is_a_profile_key(cli: CliRunner, api: Emulator) -> None:
    assert cli("config", "set", "live-pricing", "yes").code == 0
    listed = cli("config", "list")
    assert "live-pricing\ttrue\tprofile 'default'" in listed.out
    assert cli("generate", PROMPT).code == 0
    assert len(api.requests("pricing")) == 1
    refused = cli("config", "set", "live-pricing", "maybe")
    assert refused.code == 2 and "live-pricing: must be true or false" in refused.err
    bad_env = cli("generate", PROMPT, env={"SEEDANCE_LIVE_PRICING": "maybe"})
    assert bad_env.code == 3 and "invalid SEEDANCE_LIVE_PRICING" in bad_env.err


@pytest.mark.parametrize("factor", ["0", "11", "nan", "1e999", "x"])
def test_the_emulator_price_factor_is_checked(cli: CliRunner, factor: str) -> None:
    result = cli("emulator", "--price-factor", factor)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: --price-factor: must be a number from 0.1 to 10")


def test_a_batch_that_the_api_charged_more_than_its_estimate_says_so(
    cli: CliRunner, api: Emulator
) -> None:
    api.service.price_factor = D("1.2")
    result = cli("batch", "-", input='{"prompt": "a"}\n{"prompt": "b"}\n')
    assert result.code == 0, result.err
    assert (
        "warning: the API reserved 42.68 credits for this run's creates, more than their "
        "estimate 35.57 credits ($0.52); EvoLink's prices may have changed "
        "(`seedance models seedance-1.5-pro` shows the rules this version knows; "
        "`seedance config set live-pricing true` estimates with the API's own)"
    ) in result.err
    # with the live rules the estimate spans the rise: nothing to warn of
    again = cli("batch", "-", input='{"prompt": "c"}\n', env=LIVE)
    assert again.code == 0 and "warning" not in again.err


def test_the_hint_of_a_refused_range_names_what_makes_it_one(cli: CliRunner, api: Emulator) -> None:
    auto = cli(
        "generate",
        PROMPT,
        "--model",
        "seedance-2.5-text-to-video",
        "-d",
        "auto",
        "--max-credits",
        "100",
    )
    assert auto.code == 11
    assert "hint: a range counts at its top: pin what makes it one (a --duration)" in auto.err
    api.service.price_factor = D("1.2")
    live = cli("generate", PROMPT, "--max-credits", "20", env=LIVE)
    assert "hint: the live prices and the built-in ones differ" in live.err
    video = cli(
        "batch",
        "-",
        "--max-credits",
        "50",
        input='{"prompt": "p", "model": "seedance-2.0-reference-to-video", '
        '"video_urls": ["https://cdn.example.com/v.mp4"]}\n',
    )
    assert video.code == 11
    assert "a manifest cannot give the reference videos' length" in video.err
    assert "--input-seconds" not in video.err
