"""The one exception tree: every error seedance raises lives in ``errors.py`` and is drawn there."""

from __future__ import annotations

import importlib
import pkgutil

import seedance_cli
from seedance_cli import errors


def test_every_seedance_error_is_defined_in_errors_py_and_drawn_in_its_tree() -> None:
    for info in pkgutil.walk_packages(seedance_cli.__path__, "seedance_cli."):
        importlib.import_module(info.name)
    seen: set[type[errors.SeedanceError]] = set()
    todo: list[type[errors.SeedanceError]] = [errors.SeedanceError]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo.extend(cls.__subclasses__())
    doc = errors.__doc__ or ""
    for cls in seen:
        assert cls.__module__ == "seedance_cli.errors", f"{cls.__qualname__} is in {cls.__module__}"
        assert f"── {cls.__name__} " in doc or cls is errors.SeedanceError, cls.__name__
