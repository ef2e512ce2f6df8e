"""EvoLink's live pricing rules: fetched anonymously, cached until their ``fresh_until``, evaluated.

API.md knows ``GET /v1/catalog/pricing-rules?view=full`` only from EvoLink's own CLI (uncertain):
``{"meta": {..., "updated_at", "fresh_until"}, "models": [{"model_id", "pricing_status",
"components": [{"rate": {"credits"}, "minimum_charge": {"credits"}, "quantity_rule", "tiers"}]}]}``
where a ``quantity_rule`` is an expression tree over the request's parameters (``duration``,
``duration_seconds``, ``quality``, ``generate_audio``, ``input_seconds``). A component costs
``max(round_half_up(quantity x rate, 4 decimals), minimum)``, as the built-in rules do.

Everything here is optional and fails quietly: ``load`` returns ``None`` (the built-in table alone)
for an endpoint that is absent, slow, redirected, too large, not JSON or not of this shape, and a
model whose rule cannot be read, or that prices a request at 0 or at an absurd figure, is priced by
the built-in table alone. Nothing the endpoint says can lower what a budget counts: ``pricing``
spans both tables where they disagree (``pricing.use_live``).

* **No key is sent**: the request is made by a client of its own, with no ``Authorization``
  header, and never follows a redirect.
* **Bounded**: at most ``MAX_BYTES`` of answer, ``MAX_MODELS`` models, expressions at most
  ``MAX_DEPTH`` deep and ``MAX_NODES`` nodes, every number finite and at most ``MAX_NUMBER``.
* **Cached** per API origin in the data folder (``pricing-rules-<hash>.json``, written atomically)
  until the answer's ``fresh_until``, at most a day; a failure is remembered for ``RETRY_AFTER``
  seconds (a day for 404/405: the endpoint is absent), so that a command never waits twice.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from .pricing import CONTENT_FILTER_OFF_FACTOR, round_credits

PATH: Final = "/v1/catalog/pricing-rules"
#: The longest an answer may be; EvoLink's is about 60 KB for every model it sells.
MAX_BYTES: Final = 2_000_000
MAX_MODELS: Final = 2000
MAX_COMPONENTS: Final = 16
MAX_DEPTH: Final = 24
MAX_NODES: Final = 400
#: No number of an expression, rate or charge may be larger (a lying server's 1e400 is unusable).
MAX_NUMBER: Final = Decimal(10) ** 12
#: The least a create can cost by the live rules: below it a figure is absurd (the cheapest
#: published create is 3.4445 credits), and would show as 0.00.
MIN_CHARGE: Final = Decimal(1)
#: The longest a fetched answer is trusted, whatever its ``fresh_until`` says.
MAX_FRESH: Final = 86_400.0
#: How long a failed fetch is remembered before the endpoint is asked again.
RETRY_AFTER: Final = 600.0
ABSENT_RETRY_AFTER: Final = 86_400.0
TIMEOUT: Final = 3.0


Value = Decimal | bool | str


def _number(value: object) -> Decimal:
    """A number of the rules: a decimal string or a JSON number, finite and within bounds."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a number: {value!r}")
    text = str(value).strip()
    if len(text) > 40:
        raise ValueError("number too long")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    return _bounded(number)


def _bounded(number: Decimal) -> Decimal:
    """``number`` when it is finite and at most ``MAX_NUMBER`` in size; a tiny one (``1e-999999``)
    is 0. Judged by its exponent first: ``abs`` of ``1e1000000`` would overflow the context."""
    if not number.is_finite() or number.adjusted() > 12:
        raise ValueError("number out of bounds")
    if number.adjusted() < -12:
        return Decimal(0)
    if abs(number) > MAX_NUMBER:
        raise ValueError("number out of bounds")
    return number


def _check(expression: object, depth: int = 0, count: list[int] | None = None) -> None:
    """Refuse an expression that is too deep, too large, or not made of known operations."""
    count = count if count is not None else [0]
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        raise ValueError("expression too large")
    if not isinstance(expression, dict):
        raise ValueError("expression is not an object")
    op = expression.get("op")
    if op == "variable":
        if not isinstance(expression.get("name"), str):
            raise ValueError("variable without a name")
        return
    if op == "constant":
        value = expression.get("value")
        if not isinstance(value, bool):
            _number(value)
        return
    if op == "lookup":
        values = expression.get("values")
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise ValueError("lookup without values")
        for value in values.values():
            _number(value)
        _check(expression.get("key"), depth + 1, count)
        return
    arity = _ARITY.get(op) if isinstance(op, str) else None
    args = expression.get("args")
    if arity is None or not isinstance(args, list):
        raise ValueError(f"unknown operation {op!r}")
    low, high = arity
    if not low <= len(args) <= high:
        raise ValueError(f"{op} takes {low}-{high} arguments")
    for arg in args:
        _check(arg, depth + 1, count)


#: Operations with arguments, and how many each takes.
_ARITY: Final[Mapping[str, tuple[int, int]]] = {
    "add": (1, 16),
    "multiply": (1, 16),
    "subtract": (2, 2),
    "divide": (2, 2),
    "max": (1, 16),
    "min": (1, 16),
    "ceil": (1, 1),
    "floor": (1, 1),
    "clamp": (3, 3),
    "if": (3, 3),
    "gt": (2, 2),
    "gte": (2, 2),
    "lt": (2, 2),
    "lte": (2, 2),
    "eq": (2, 2),
    "not": (1, 1),
}


def _decimal(value: Value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise ValueError("a number was expected")
    return value


def evaluate(expression: Any, variables: Mapping[str, Value]) -> Value:
    """The value of a checked expression (``_check``) for ``variables``; ``ValueError`` for a
    variable not given, a lookup of a value it does not list, a division by 0 or a number out of
    bounds."""
    op = expression["op"]
    if op == "variable":
        name = expression["name"]
        if name not in variables:
            raise ValueError(f"unknown variable {name!r}")
        return variables[name]
    if op == "constant":
        value = expression["value"]
        return value if isinstance(value, bool) else _number(value)
    if op == "lookup":
        key = evaluate(expression["key"], variables)
        values = expression["values"]
        if not isinstance(key, str) or key not in values:
            raise ValueError(f"no value for {key!r}")
        return _number(values[key])
    args = expression["args"]
    if op == "if":
        condition = evaluate(args[0], variables)
        if not isinstance(condition, bool):
            raise ValueError("if needs a condition")
        return evaluate(args[1] if condition else args[2], variables)
    values = [evaluate(arg, variables) for arg in args]
    if op == "eq":
        return bool(values[0] == values[1])
    if op == "not":
        if not isinstance(values[0], bool):
            raise ValueError("not needs a condition")
        return not values[0]
    result = _arithmetic(op, [_decimal(value) for value in values])
    return result if isinstance(result, bool) else _bounded(result)


def _arithmetic(op: str, numbers: list[Decimal]) -> Decimal | bool:
    match op:
        case "add":
            return sum(numbers, Decimal(0))
        case "multiply":
            product = Decimal(1)
            for number in numbers:
                product = _bounded(product * number)
            return product
        case "subtract":
            return numbers[0] - numbers[1]
        case "divide":
            if numbers[1] == 0:
                raise ValueError("division by 0")
            return numbers[0] / numbers[1]
        case "max":
            return max(numbers)
        case "min":
            return min(numbers)
        case "ceil":
            return numbers[0].to_integral_value(rounding=ROUND_CEILING)
        case "floor":
            return numbers[0].to_integral_value(rounding=ROUND_FLOOR)
        case "clamp":
            return min(max(numbers[0], numbers[1]), numbers[2])
        case "gt":
            return numbers[0] > numbers[1]
        case "gte":
            return numbers[0] >= numbers[1]
        case "lt":
            return numbers[0] < numbers[1]
        case "lte":
            return numbers[0] <= numbers[1]
    raise ValueError(f"unknown operation {op!r}")  # pragma: no cover - _check refused it


@dataclasses.dataclass(frozen=True)
class Component:
    rate: Decimal
    minimum: Decimal
    quantity: Any  # a checked expression


@dataclasses.dataclass(frozen=True)
class LiveRule:
    """One model's live rule: the sum of its components' charges."""

    model: str
    components: tuple[Component, ...]

    def credits(self, variables: Mapping[str, Value], *, content_filter: bool) -> Decimal:
        """What the rule charges for ``variables``; ``ValueError`` when it cannot say, or says 0
        or less (a price is never 0) or more than ``MAX_NUMBER``."""
        total = Decimal(0)
        for component in self.components:
            quantity = _decimal(evaluate(component.quantity, variables))
            if quantity < 0:
                raise ValueError("a negative quantity")
            total += max(round_credits(_bounded(quantity * component.rate)), component.minimum)
        if not content_filter:
            total = round_credits(total * CONTENT_FILTER_OFF_FACTOR)
        if not MIN_CHARGE <= total <= MAX_NUMBER:
            raise ValueError("a price of (almost) 0 or an absurd one")
        return total

    def ends(
        self,
        *,
        duration: int | None,
        quality: str,
        outputs: tuple[Decimal, Decimal],
        inputs: tuple[Decimal, Decimal] | None,
        audio: bool,
        content_filter: bool,
    ) -> list[Decimal] | None:
        """The credits at each end of an estimate; ``None`` when the rule cannot price it."""
        ends = []
        try:
            for end in (0, 1):
                variables: dict[str, Value] = {
                    "quality": quality,
                    "generate_audio": audio,
                    "duration_seconds": outputs[end],
                    "input_seconds": inputs[end] if inputs is not None else Decimal(0),
                }
                if duration is not None:
                    variables["duration"] = Decimal(duration)
                ends.append(self.credits(variables, content_filter=content_filter))
        except (ValueError, ArithmeticError, RecursionError):
            return None
        return ends


def _credits(money: object) -> Decimal:
    if not isinstance(money, dict):
        raise ValueError("an amount is not an object")
    amount = _number(money.get("credits"))
    if amount < 0:
        raise ValueError("a negative amount")
    return amount


def parse_rule(data: object) -> LiveRule:
    """One model of the answer as a rule; ``ValueError`` when any part of it cannot be read."""
    if not isinstance(data, dict) or not isinstance(data.get("model_id"), str):
        raise ValueError("a model without an id")
    if data.get("pricing_status", "available") != "available":
        raise ValueError("no price available")
    components = data.get("components")
    if not isinstance(components, list) or not 0 < len(components) <= MAX_COMPONENTS:
        raise ValueError("no components")
    parsed = []
    for component in components:
        if not isinstance(component, dict):
            raise ValueError("a component is not an object")
        if component.get("tiers"):  # tiered prices: not in the published rules, not understood
            raise ValueError("tiered prices")
        if component.get("pricing_status", "available") != "available":
            raise ValueError("a component without a price")
        quantity = component.get("quantity_rule")
        _check(quantity)
        parsed.append(
            Component(
                _credits(component.get("rate")), _credits(component.get("minimum_charge")), quantity
            )
        )
    return LiveRule(data["model_id"], tuple(parsed))


@dataclasses.dataclass(frozen=True)
class LiveTable:
    """The usable rules of one answer, by model id, and when the API says they were updated."""

    rules: Mapping[str, LiveRule]
    updated: str
    skipped: int = 0

    def rule(self, model_id: str) -> LiveRule | None:
        return self.rules.get(model_id)


def parse(answer: object) -> LiveTable:
    """The answer of the list endpoint as a table: models that cannot be read are left out (the
    built-in table prices them); ``ValueError`` for an answer that is not of this shape at all."""
    if not isinstance(answer, dict) or not isinstance(answer.get("models"), list):
        raise ValueError("not a list of pricing rules")
    meta = answer.get("meta")
    updated = meta.get("updated_at") if isinstance(meta, dict) else None
    models = answer["models"][:MAX_MODELS]
    rules: dict[str, LiveRule] = {}
    skipped = 0
    for data in models:
        try:
            found = parse_rule(data)
        except (ValueError, ArithmeticError, RecursionError):
            skipped += 1
            continue
        rules.setdefault(found.model, found)
    when = _epoch(updated)
    day = (
        datetime.datetime.fromtimestamp(when, datetime.UTC).date().isoformat()
        if when is not None and 0 <= when < 253402300800  # years 1970-9999
        else "an unknown date"
    )
    return LiveTable(rules, day, skipped)


def _epoch(text: object) -> float | None:
    """An ISO 8601 time of the answer as Unix seconds (``ledger.epoch``: absurd ones ``None``)."""
    from .ledger import epoch

    return epoch(text) if isinstance(text, str) and len(text) <= 40 else None


def fresh_until(answer: Mapping[str, Any], fetched_at: float) -> float:
    """Until when an answer fetched at ``fetched_at`` is used: its ``meta.fresh_until``, at most
    ``MAX_FRESH`` after the fetch; 5 minutes when it says nothing usable."""
    meta = answer.get("meta")
    until = _epoch(meta.get("fresh_until")) if isinstance(meta, dict) else None
    if until is None:
        until = fetched_at + 300
    return min(max(until, fetched_at), fetched_at + MAX_FRESH)


Fetch = Callable[[str], tuple[int, bytes]]


def fetch_anonymously(url: str) -> tuple[int, bytes]:
    """GET ``url`` with no key, no redirect, at most ``MAX_BYTES``: ``(status, body)``;
    ``OSError`` when it cannot be read."""
    from .client import fetch_anonymously as fetch

    return fetch(url, max_bytes=MAX_BYTES, timeout=TIMEOUT)


def cache_file(folder: Path, origin: str) -> Path:
    digest = hashlib.sha256(origin.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return folder / f"pricing-rules-{digest}.json"


def _read_cache(path: Path, origin: str, now: float) -> dict[str, Any] | None:
    """The cache file's record when it is this API's and fresh; ``None`` otherwise (or when it
    cannot be read). The answer itself is kept as text (``body``), parsed only once fresh."""
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read(MAX_BYTES * 2))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("origin") != origin:
        return None
    fetched, until = data.get("fetched_at"), data.get("fresh_until")
    if not isinstance(fetched, int | float) or not isinstance(until, int | float):
        return None
    # a clock set back, or a file from the future, is stale: asked again
    if not fetched - 60 <= now < until or until - fetched > MAX_FRESH:
        return None
    if data.get("body") is not None and not isinstance(data.get("body"), str):
        return None
    return data


def _write_cache(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically (temporary file, rename); a folder that cannot be written is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".pricing-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def load(
    base_url: str,
    folder: Path,
    *,
    now: float,
    fetch: Fetch = fetch_anonymously,
    trace: Callable[[str], None] | None = None,
) -> LiveTable | None:
    """The live rules of the API at ``base_url``: cached in ``folder`` while fresh, else fetched
    (anonymously) and cached; ``None`` when there are none usable (the built-in table alone)."""
    origin = base_url.rstrip("/")
    path = cache_file(folder, origin)
    cached = _read_cache(path, origin, now)
    if cached is not None:
        return _table(cached.get("body"))
    url = origin + PATH + "?view=full"
    if trace is not None:
        trace(f"GET {url} (pricing rules, anonymous)")
    retry, text = RETRY_AFTER, None
    try:
        status, body = fetch(url)
        if status in (404, 405):
            retry = ABSENT_RETRY_AFTER
        if status == 200:
            text = body.decode("utf-8")
    except (OSError, ValueError):  # the built-in table, quietly
        text = None
    table = _table(text)
    until = now + retry
    if table is not None and text is not None:
        until = fresh_until(json.loads(text), now)
    else:
        text = None
    record = {"origin": origin, "fetched_at": now, "fresh_until": until, "body": text}
    _write_cache(path, record)
    return table


#: How deep an answer's JSON may nest (EvoLink's is about 20 deep): deeper, it is not read at
#: all, so that what a run makes of it never depends on how deep its stack already is.
MAX_NESTING: Final = 64


def _nesting(text: str) -> int:
    """How deep ``text``'s JSON arrays and objects nest (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _table(text: object) -> LiveTable | None:
    """The answer's usable rules; ``None`` for none, or for anything that cannot be read (not
    JSON, nested too deep, numbers beyond reason, another shape): never an exception."""
    if not isinstance(text, str) or _nesting(text) > MAX_NESTING:
        return None
    try:
        table = parse(json.loads(text))
    except (ValueError, ArithmeticError, RecursionError):
        return None
    return table if table.rules else None
