"""The ``seedance`` command: typer wiring only. Flags in, one session operation, output out.

``app`` holds the typer frame, ``runtime`` what a command needs at run time, ``inputs`` the
checks of what users type, ``flow`` the flows several commands share, ``exits`` the one place
errors become exit codes; each other module registers its
commands on import, in the order ``--help`` lists them (hence no sorting of these imports).
"""
# isort: skip_file

from __future__ import annotations

from ..env import Environment
from .app import app
from .exits import main, run
from . import tasks  # noqa: F401 - generate, wait, status
from . import results  # noqa: F401 - download, history
from . import batching  # noqa: F401 - batch
from . import files  # noqa: F401 - upload, credits
from . import model_cmds  # noqa: F401 - models
from . import usage_cmds  # noqa: F401 - usage
from . import serve  # emulator, _complete
from . import config_cmds  # noqa: F401 - config ...

__all__ = ["COMPLETION_VALUES", "Environment", "app", "main", "run"]


def __getattr__(name: str) -> dict[str, tuple[str, ...]]:
    """``COMPLETION_VALUES`` (see ``serve``), read from the model catalogue only when asked for."""
    if name == "COMPLETION_VALUES":
        return serve.COMPLETION_VALUES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
