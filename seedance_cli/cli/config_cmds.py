"""``seedance config set|get|unset|list|path``: the config file and its profiles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..config import ConfigFile

from ..errors import (
    ConfigError,
    Interrupted,
    UsageError,
)
from .app import (
    config_app,
    with_globals,
)
from .runtime import Runtime

# -- config ----------------------------------------------------------------------------------------

KeyArg = Annotated[
    str,
    typer.Argument(
        metavar="KEY",
        help="api-key, base-url, files-url, duration, quality, aspect-ratio, audio, output-dir "
        "or model.",
        show_default=False,
    ),
]


def _config_file(rt: Runtime) -> tuple[ConfigFile, str]:
    from ..config import FILE_NAME, ConfigFile, config_dir

    profile = _profile_name(rt)
    cfg = ConfigFile.load(config_dir(rt.env.environ) / FILE_NAME)
    for warning in cfg.warnings:
        rt.out.warn(warning)
    return cfg, profile


def _profile_name(rt: Runtime) -> str:
    from ..config import profile_name

    return profile_name(rt.options.profile, rt.env.environ)


@contextmanager
def _editing(rt: Runtime) -> Iterator[ConfigFile]:
    """The config file loaded under the writers' lock (see ``ConfigFile.editing``)."""
    from ..config import FILE_NAME, ConfigFile, config_dir

    with ConfigFile.editing(config_dir(rt.env.environ) / FILE_NAME) as cfg:
        for warning in cfg.warnings:
            rt.out.warn(warning)
        yield cfg


def _read_secret(rt: Runtime) -> str:
    stdin = rt.env.stdin
    if stdin is not None and stdin.isatty():
        import getpass

        try:
            return getpass.getpass("API key (input hidden): ", stream=rt.env.stderr)
        except (EOFError, KeyboardInterrupt):
            raise Interrupted("no key entered; nothing was changed") from None
    return stdin.readline().strip() if stdin is not None else ""


@config_app.command("set")
@with_globals
def config_set(
    rt: Runtime,
    key: KeyArg,
    value: Annotated[
        str | None,
        typer.Argument(
            help="The value; for api-key leave it out to type it hidden or pipe it in.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set KEY in the profile, checking the value first."""
    from ..config import SECRET_KEYS, check_key, check_value

    name = check_key(key)
    if value is None:
        if name not in SECRET_KEYS:
            raise UsageError(f"config set {name}: a VALUE is needed")
        value = _read_secret(rt)
    elif name in SECRET_KEYS:
        rt.out.warn(
            "a key typed on the command line stays in your shell history; "
            "`seedance config set api-key` alone asks for it instead"
        )
    checked = check_value(name, value)
    if name == "model":
        from ..family import unknown_model_warning

        warning = unknown_model_warning(checked)
        if warning is not None:
            rt.out.warn(f"{warning}; set all the same")
    profile = _profile_name(rt)
    with _editing(rt) as cfg:
        cfg.profiles.setdefault(profile, {})[name] = checked
        cfg.save()
    rt.out.info(f"set {name} in profile {profile!r} ({cfg.path})")


@config_app.command("get")
@with_globals
def config_get(rt: Runtime, key: KeyArg) -> None:
    """Print KEY from the profile (keys masked)."""
    from ..config import SECRET_KEYS, check_key, mask
    from ..render import display_value

    name = check_key(key)
    cfg, profile = _config_file(rt)
    value = cfg.profile(profile).get(name)
    if value is None:
        raise ConfigError(f"{name} is not set in profile {profile!r} ({cfg.path})")
    shown = mask(value) if name in SECRET_KEYS else display_value(value)
    from ..views import ConfigValue

    rt.out.show(ConfigValue(name, shown))


@config_app.command("unset")
@with_globals
def config_unset(rt: Runtime, key: KeyArg) -> None:
    """Remove KEY from the profile."""
    from ..config import check_key

    name = check_key(key)
    profile = _profile_name(rt)
    with _editing(rt) as cfg:
        if name not in cfg.profile(profile):
            rt.out.info(f"{name} was not set in profile {profile!r}")
            return
        del cfg.profiles[profile][name]
        cfg.save()
    rt.out.info(f"unset {name} in profile {profile!r} ({cfg.path})")


@config_app.command("list")
@with_globals
def config_list(rt: Runtime) -> None:
    """Show every setting in effect, its value (keys masked) and where it comes from."""
    from ..config import effective_settings
    from ..views import ConfigSettings

    rt.out.show(ConfigSettings(tuple(effective_settings(rt.settings))))


@config_app.command("path")
@with_globals
def config_path(rt: Runtime) -> None:
    """Print the path of the config file (it need not exist yet)."""
    from ..config import FILE_NAME, config_dir

    path = config_dir(rt.env.environ) / FILE_NAME
    from ..views import ConfigPath

    rt.out.show(ConfigPath(path))
