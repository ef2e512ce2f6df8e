"""Faults the emulator can inject, and their one-line spelling for the command line.

A spec reads ``KIND:ACTION[:COUNT][:KEY=VALUE,...]``:

- KIND is the endpoint: ``create``, ``query``, ``credits``, ``models``, ``pricing`` (the pricing
  rules), ``batch`` (many tasks in one request), ``list`` (the task list), ``upload``, ``quota``,
  ``download`` (result videos), ``file`` (uploaded files served back), ``any``; or ``task`` for
  what the next created tasks do.
- ACTION for an endpoint:
  - a status such as ``500`` or ``429``: answered at once, with the endpoint's error envelope, and
    the request is not carried out (``retry-after=VALUE`` adds that header, seconds or an HTTP date);
  - ``drop``: the request is carried out (a create makes a task) and the connection is closed
    without an answer;
  - ``slow``: carried out, answered after ``seconds=S`` (default 5);
  - ``truncate``: carried out, the answer cut off halfway (Content-Length promises all of it);
  - ``malformed``: carried out, answered 200 with a body that is not JSON;
  - ``html``: carried out, answered 200 with an HTML error page;
  - ``ignore-range``: (download) the whole file with 200, whatever ``Range`` asked;
  - ``short``: carried out, the body cut to three quarters with a ``Content-Length`` that agrees:
    a complete HTTP answer holding an incomplete file;
  - ``stall``: carried out, half the body sent, then a pause of ``seconds=S`` (default 30),
    then the rest;
  - ``json``: carried out, answered 200 with a JSON error object;
  - ``redirect``: not carried out; answered ``307`` (``status=30X``) to the same path on the
    results origin (another port with ``--second-origin``), or to ``to=URL``.
- ACTION for ``task``:
  - ``fail``: fails midway with ``code=CODE`` (default ``service_error``), ``message=TEXT``;
    ``code=none`` fails with no ``error`` object at all;
  - ``hang``: stays ``processing`` forever;
  - ``cancel``: ends ``cancelled``;
  - ``status``: reports ``status=NAME`` (an unknown status) while it runs.
- COUNT is how many requests (or tasks) it applies to, default 1; ``*`` means all from now on.

Examples: ``create:500``, ``query:429:3:retry-after=2``, ``create:drop``, ``download:truncate``,
``task:fail:2:code=content_policy_violation``, ``query:slow:1:seconds=3``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Final

ENDPOINT_KINDS: Final = (
    "create",
    "query",
    "credits",
    "models",
    "pricing",
    "batch",
    "list",
    "upload",
    "quota",
    "download",
    "file",
    "any",
)
ENDPOINT_ACTIONS: Final = (
    "drop",
    "slow",
    "truncate",
    "malformed",
    "html",
    "ignore-range",
    "redirect",
    "short",
    "stall",
    "json",
)
TASK_ACTIONS: Final = ("fail", "hang", "cancel", "status")
FOREVER: Final = -1
#: Longest pause a ``slow`` or ``stall`` fault may ask for (an hour).
MAX_FAULT_SECONDS: Final = 3600.0


class FaultSpecError(ValueError):
    """A fault spec that cannot be read; the message says what is wrong."""


@dataclasses.dataclass
class Fault:
    """One injected misbehaviour. ``count`` is how many more times it fires (``FOREVER``: always)."""

    kind: str
    action: str
    count: int = 1
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "task":
            if self.action not in TASK_ACTIONS:
                raise FaultSpecError(
                    f"unknown task action {self.action!r}; one of {', '.join(TASK_ACTIONS)}"
                )
        elif self.kind in ENDPOINT_KINDS:
            if self.action not in ENDPOINT_ACTIONS and not _is_status(self.action):
                raise FaultSpecError(
                    f"unknown action {self.action!r}; an HTTP status (400-599) or one of "
                    f"{', '.join(ENDPOINT_ACTIONS)}"
                )
        else:
            raise FaultSpecError(
                f"unknown kind {self.kind!r}; one of {', '.join((*ENDPOINT_KINDS, 'task'))}"
            )
        if self.count == 0 or self.count < FOREVER:
            raise FaultSpecError("count must be a positive number or *")
        if self.action in ("slow", "stall"):
            try:
                seconds = float(self.params.get("seconds", "5"))
            except ValueError:
                seconds = math.nan
            if not 0 <= seconds <= MAX_FAULT_SECONDS:  # nan and inf too: a wait cannot take them
                raise FaultSpecError(f"seconds must be a number from 0 to {MAX_FAULT_SECONDS:g}")
        if self.action == "redirect" and not re.fullmatch(
            r"30[0-8]", self.params.get("status", "307")
        ):
            raise FaultSpecError("status must be a redirect status, 300 to 308")

    @property
    def status(self) -> int | None:
        return int(self.action) if _is_status(self.action) else None

    @property
    def seconds(self) -> float:
        return float(self.params.get("seconds", "30" if self.action == "stall" else "5"))

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Read ``KIND:ACTION[:COUNT][:KEY=VALUE,...]``; raises ``FaultSpecError``."""
        parts = spec.strip().split(":", 3)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise FaultSpecError(f"{spec!r}: expected KIND:ACTION[:COUNT][:KEY=VALUE,...]")
        kind, action = parts[0].lower(), parts[1].lower()
        count = 1
        rest = parts[2:]
        if rest and "=" not in rest[0]:
            text = rest.pop(0)
            if text in ("*", "forever"):
                count = FOREVER
            else:
                try:
                    count = int(text)
                except ValueError:
                    raise FaultSpecError(f"{spec!r}: count {text!r} is not a number") from None
        params: dict[str, str] = {}
        # A comma starts a new pair only before "key=": values such as HTTP dates hold commas.
        for chunk in re.split(r",(?=\s*[a-z][a-z-]*=)", ":".join(rest)) if rest else ():
            if not chunk:
                continue
            key, sep, value = chunk.partition("=")
            if not sep:
                raise FaultSpecError(f"{spec!r}: expected KEY=VALUE, got {chunk!r}")
            params[key.strip().lower()] = value.strip()
        try:
            return cls(kind=kind, action=action, count=count, params=params)
        except FaultSpecError as exc:
            raise FaultSpecError(f"{spec!r}: {exc}") from None

    def matches(self, kind: str) -> bool:
        return self.kind == kind or (self.kind == "any" and kind != "task")


def _is_status(text: str) -> bool:
    return text.isdigit() and 400 <= int(text) <= 599
