"""``seedance models``: the Seedance models this version knows, and which ones the key may use."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from .app import EXIT_CODES_HELP, app, with_globals
from .runtime import Runtime


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def models(
    rt: Runtime,
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL", help="Show everything about this model.", show_default=False
        ),
    ] = None,
    available: Annotated[
        bool,
        typer.Option(
            "--available",
            help="Ask the API which models this key may use (needs the key; costs nothing).",
        ),
    ] = False,
) -> None:
    """List the Seedance models this version knows: mode, durations, qualities, ratios, inputs.

    Piped: one id per line (with --available: `id<TAB>available<TAB>known`, yes/no each, `-`
    where the API does not say). With MODEL: everything about it (piped: `key<TAB>value` lines).
    --json prints an array of models (one object with MODEL).
    """
    from ..catalogue import DEFAULT_MODEL, catalogue, closest
    from ..views import Availability, ModelDetail, ModelRows

    known = catalogue()
    if model is not None and model not in known:
        near = closest(model)
        raise UsageError(
            f"MODEL: unknown model {model!r}",
            hint=(f"did you mean {', '.join(near)}? " if near else "")
            + "`seedance models` lists every model this version knows",
        )
    availability = None
    if available:
        with rt.session() as session:
            availability = Availability.of(session.available_models(), known)
    if model is not None:
        rt.out.show(ModelDetail(known[model], model == DEFAULT_MODEL, availability))
    else:
        rt.out.show(ModelRows(tuple(known.values()), DEFAULT_MODEL, availability))
