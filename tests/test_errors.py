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


def test_every_exception_class_of_the_package_is_in_errors_py_and_drawn() -> None:
    """Not only the tree: the few exceptions outside it on purpose (stdout closed, a signal) are
    defined and drawn in ``errors.py`` too. The emulator, a program of its own, keeps its own."""
    import inspect

    for info in pkgutil.walk_packages(seedance_cli.__path__, "seedance_cli."):
        if info.name.startswith("seedance_cli.emulator"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException):
                assert value.__module__ in ("seedance_cli.errors", "builtins") or not (
                    value.__module__.startswith("seedance_cli")
                ), f"{info.name}.{name} is defined outside errors.py"
    doc = errors.__doc__ or ""
    for cls in (errors.OutputClosed, errors.OutputFailed, errors.ImageError, errors.Signalled):
        assert f"    {cls.__name__} (" in doc


def test_errors_are_immutable_once_made_and_replace_makes_a_changed_copy() -> None:
    import copy
    import pickle

    import pytest

    error = errors.OutcomeUnknown("key-1", "no answer")
    with pytest.raises(AttributeError, match="immutable"):
        error.message = "changed"
    with pytest.raises(AttributeError, match="immutable"):
        error.hint = None
    hinted = error.replace(hint="try later")
    assert (hinted.hint, error.hint) == ("try later", errors.OutcomeUnknown("key-1", "x").hint)
    assert type(hinted) is errors.OutcomeUnknown and hinted.idempotency_key == "key-1"
    about = error.about("line 3")
    assert about.message.startswith("line 3: ") and str(about) == about.message
    assert about.about("line 3") is about and not error.message.startswith("line 3")
    for clone in (copy.copy(error), pickle.loads(pickle.dumps(error))):
        assert (clone.message, clone.hint, clone.cause) == (error.message, error.hint, "no answer")
        with pytest.raises(AttributeError):
            clone.cause = "x"
    with pytest.raises(TypeError):
        error.replace(nonsense=1)
    with pytest.raises(errors.OutcomeUnknown) as caught:  # Python's own bookkeeping still works
        try:
            raise error from ValueError("cause")
        except errors.OutcomeUnknown as sealed:
            sealed.add_note("a note")
            raise
    assert isinstance(caught.value.__cause__, ValueError) and caught.value.__notes__ == ["a note"]
