"""``python -m seedance_cli`` is the ``seedance`` command."""

from .entry import main

if __name__ == "__main__":
    main()
