"""``python -m seedance_cli`` is the ``seedance`` command."""

from .cli import main

if __name__ == "__main__":
    main()
