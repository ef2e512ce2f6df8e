"""Masking: the known key and anything like a bearer token, in the client's texts and as render's
last net on everything said on stderr."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_cli.errors import APIError, SeedanceError
from seedance_cli.redact import redact, scrub
from seedance_cli.render import Output

KEY = "zk_live_93b1d0c4e6f2a8"  # a key that looks like nothing in particular


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bad key {KEY}.", "bad key ***."),
        ("Authorization: Bearer abcdef0123456789", "Authorization: Bearer ***"),
        ("authorization=bearer%20abcdef0123456789", "authorization=bearer ***"),
        ("key sk-abcDEF0123456789xyz is revoked", "key sk-*** is revoked"),
        ("the bearer of bad news", "the bearer of bad news"),  # words stay
        ("risk-free task-unified-1-abc", "risk-free task-unified-1-abc"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, (KEY,)) == expected


@given(st.text(max_size=40), st.text(max_size=40))
def test_the_known_key_never_survives(before: str, after: str) -> None:
    assert KEY not in redact(before + KEY + after, (KEY,))


def test_scrub_masks_strings_keeps_urls_working_and_drops_non_finite_numbers() -> None:
    data = {
        "error": {"message": f"key {KEY} refused, Bearer abcdefgh1234"},
        "results": [f"https://cdn.example/v.mp4?sig=sk-abcdefghijk&k={KEY}"],
        "created": float("inf"),
        "progress": float("nan"),
        "nested": [[{"x": 1.5}]],
    }
    clean = scrub(data, (KEY,))
    assert clean["error"]["message"] == "key *** refused, Bearer ***"
    assert clean["results"] == ["https://cdn.example/v.mp4?sig=sk-abcdefghijk&k=***"]
    assert clean["created"] is None and clean["progress"] is None
    assert clean["nested"] == [[{"x": 1.5}]]
    json.dumps(clean, allow_nan=False)


def output(**kwargs: object) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(stdout=out, stderr=err, environ={}, **kwargs), out, err  # type: ignore[arg-type]


def test_render_masks_the_known_key_on_every_stderr_line_and_in_json_errors() -> None:
    shown, out, err = output(secrets=(KEY,), json_mode=True, verbose=True)
    shown.error(SeedanceError(f"server said {KEY}", hint=f"try {KEY}"))
    shown.warn(f"w {KEY}")
    shown.info(f"i {KEY}")
    shown.trace(f"t {KEY}")
    assert KEY not in err.getvalue() and KEY not in out.getvalue()
    assert err.getvalue().count("***") == 5
    assert json.loads(out.getvalue())["error"]["message"] == "server said ***"


def test_render_masks_bearer_tokens_even_without_knowing_the_key() -> None:
    shown, _, err = output()
    shown.error(APIError("echo: Bearer sk-abcdef0123456789", status=400))
    assert "abcdef0123456789" not in err.getvalue()
    assert err.getvalue().startswith("error: echo: Bearer ***")


def test_the_known_key_is_masked_in_any_letter_case() -> None:
    """A server that redirects to ``http://<key>.evil.example`` gets the host lowercased in the
    message: the key must not come through in another case either."""
    key = "MyS3cretKeyValue"
    text = f"redirect to another origin ({key.lower()}.evil.example); was {key.upper()}"
    masked = redact(text, (key,))
    assert key.casefold() not in masked.casefold()
    assert masked == "redirect to another origin (***.evil.example); was ***"
    assert scrub({"u": f"https://{key.lower()}.cdn.example/v.mp4"}, (key,)) == {
        "u": "https://***.cdn.example/v.mp4"
    }


INVISIBLE = [
    "\x00",
    "\x1b",
    "\x7f",
    "\u202e",
    "\x85",
    "\x9b",
    "\r",
    "\n",
    "\t",
    "\u200b",
    "\x1b[31m",
    "\ufeff",
    " ",
    "\u00ad",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(INVISIBLE), min_size=1, max_size=4),
    st.lists(st.integers(1, 22), min_size=1, max_size=4),
)
def test_a_key_split_by_what_vanishes_on_a_terminal_is_still_masked(
    separators: list[str], cuts: list[int]
) -> None:
    """A server that echoes the key with controls, escape sequences or invisible characters
    inside must not get it shown whole once the output is cleaned for the terminal."""
    from seedance_cli.render import clean

    key = "evokey-ABCDEFGH12345678"
    text = key
    for cut, separator in sorted(zip(cuts, separators, strict=False), reverse=True):
        text = text[:cut] + separator + text[cut:]
    shown = clean(redact(f"invalid key {text} end", [key]))
    assert "ABCDEFGH" not in shown and "12345678" not in shown
