"""The ``seedance`` console script: answers ``--version`` before loading the CLI framework.

Everything else goes to ``cli.main``. ``--version`` is what scripts and package managers call most
often to probe a tool; it needs neither typer nor anything else, so it starts in the time Python does.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        print(f"seedance {__version__}")
        return
    from .cli import main as cli_main

    cli_main()
