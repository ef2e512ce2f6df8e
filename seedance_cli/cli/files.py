"""``seedance upload`` and ``seedance credits``: the files API and the balance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..env import expand_user
from ..errors import (
    UsageError,
    ValidationError,
)
from .app import (
    EXIT_CODES_HELP,
    app,
    with_globals,
)
from .flow import upload_images
from .runtime import Runtime


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def upload(
    rt: Runtime,
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", show_default=False)],
) -> None:
    """Check local images and upload them through the files API; print one URL per file.

    Each file must be a JPEG, PNG or WebP image by its bytes, 300-6000 px a side, with a
    width/height ratio of 0.4-2.5, and no larger than the profile's model takes (10 MB on 1.x,
    30 MB on 2.x); all are checked before any is uploaded. Uploaded files expire after 72 hours.
    """
    from ..catalogue import DEFAULT_MODEL
    from ..images import image_rules, inspect_image

    rules = image_rules(rt.settings.model or DEFAULT_MODEL)
    infos = []
    for path in files:
        try:
            infos.append(inspect_image(expand_user(path, "FILE"), field="FILE", rules=rules))
        except ValidationError as exc:
            raise UsageError(f"FILE: {exc.reason}", hint=exc.hint) from None
    with rt.session() as session:
        for info in infos:
            _, _, [(_, file)] = upload_images(
                rt, session, [info], interrupted="files before it are uploaded"
            )
            expiry = f"; it expires at {file.expires_at}" if file.expires_at else ""
            rt.out.info(
                f"uploaded {info.path} ({info.format}, {info.width}x{info.height} px)"
                f"{expiry} (files live 72 hours)"
            )
            from ..views import UploadedImage

            rt.out.show(UploadedImage(info.path, file))


@app.command(epilog=EXIT_CODES_HELP)
@with_globals
def credits(rt: Runtime) -> None:
    """Show the remaining and used credits of this key and of the account.

    Piped: `key<TAB>remaining<TAB>used` and `account<TAB>remaining<TAB>used` lines.
    """
    with rt.session() as session:
        balance = session.credits()
    from ..views import Balance

    rt.out.show(Balance(balance))
