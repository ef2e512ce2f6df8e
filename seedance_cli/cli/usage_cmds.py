"""``seedance usage``: what the history says was spent, per day or per model."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from .app import EXIT_CODES_HELP, app, with_globals
from .runtime import Runtime

#: The period ``usage`` reports without ``--since``.
DEFAULT_SINCE = "30d"


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def usage(
    rt: Runtime,
    since: Annotated[
        str,
        typer.Option(
            metavar="SPAN|DATE|all",
            help="The period: a span back from now (36h, 7d, 2w), a local date (from its "
            "midnight), or all.",
        ),
    ] = DEFAULT_SINCE,
    by: Annotated[
        str, typer.Option(metavar="day|model", help="One group per day, or per model.")
    ] = "day",
) -> None:
    """Show what was spent, from the local history: estimated, reserved, charged and released
    credits (and USD) per day or per model, and in total. Needs no key; sends nothing.

    On a terminal: a table and a bar chart of the spend per day. Piped: one tab-separated line
    per group, then a `total` line: key, tasks, estimated_low, estimated_high, unpriced,
    reserved, charged, released, then the same five figures in USD (`-` where unknown).
    --json prints one object with the groups and the total. Only the tasks made against the API
    in use count (--base-url, SEEDANCE_BASE_URL or the profile's: an emulator rehearsal is not
    spend); tasks this history only saw (status or wait of an id made elsewhere) are not counted:
    the history that made them counts them.
    """
    from ..spending import GROUPINGS, parse_since, summarize
    from ..views import UsageReport

    grouping = by.strip().lower()
    if grouping not in GROUPINGS:
        raise UsageError(f"--by: {by!r} is not one of {', '.join(GROUPINGS)}")
    start: float | None = None
    if since.strip().lower() != "all":
        try:
            start = parse_since(since, now=rt.env.wall_clock())
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if rt.options.sandbox:
        raise UsageError("--sandbox keeps no history: its tasks vanish with the process")
    with rt.session() as session:
        entries = session.history()
        path = session.ledger.path
    from ..models import api_origin

    api = api_origin(rt.settings.base_url)
    report = UsageReport(
        summarize(entries, by=grouping, since=start, api=api),
        summarize(entries, by="day", since=start, api=api),
        path,
    )
    rt.out.show(report)
