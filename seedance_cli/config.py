"""The config file, its profiles, and where every setting comes from: flag > environment > profile > default.

The file is ``config.toml`` in ``SEEDANCE_CONFIG_DIR`` or ``platformdirs.user_config_dir("seedance")``::

    [profiles.default]
    api_key = "sk-..."
    quality = "1080p"

It is written atomically (a temporary file beside it, fsync, rename) with mode 0600 in a 0700 folder.
Reading never creates anything. Writing keeps what this version does not understand (unknown keys,
tables and profiles; comments are the one thing lost), writes through a symlinked ``config.toml``
(dotfile managers) onto its target, and holds a lock on ``.config.lock`` in the config folder from
the read to the rename, so that two ``config set`` at once both land.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError, UsageError, ValidationError
from .models import (
    AUTO_DURATION,
    DEFAULT_BASE_URL,
    DEFAULT_FILES_URL,
    check_api_key,
    check_base_url,
    is_model_name,
    is_utf8_text,
)

DEFAULT_PROFILE: Final = "default"
FILE_NAME: Final = "config.toml"
#: Held (``flock``) by every writer from its read to its rename: writers queue, none is lost.
LOCK_NAME: Final = ".config.lock"
TRUE_WORDS: Final = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS: Final = frozenset({"false", "no", "off", "0"})


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if not is_utf8_text(value):  # bytes from a command line in another encoding: TOML is UTF-8
        raise ValueError(f"{what} must be UTF-8 text")
    return value.strip()


def _api_key(value: object) -> str:
    try:
        return check_api_key(_text(value, "the API key"))
    except ConfigError as exc:
        raise ValueError(exc.message) from None


def _url(what: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        try:
            return check_base_url(_text(value, what), what=what)
        except ConfigError as exc:
            raise ValueError(exc.message) from None

    return parse


def _duration(value: object) -> int | str:
    """Seconds in the range of the whole family (2-30), or ``auto`` (-1 is read as ``auto``):
    whether the chosen model takes it is judged when a request is made."""
    from .family import duration_range

    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("duration must be a whole number of seconds, or auto")
    if value == AUTO_DURATION:
        return "auto"
    low, high = duration_range()
    if not low <= value <= high:
        raise ValueError(f"duration must be {low} to {high} seconds, or auto, got {value}")
    return value


def _choice(choices: Callable[[], tuple[str, ...]], what: str) -> Callable[[object], str]:
    """One of ``choices()`` (every value some model of the family takes)."""

    def parse(value: object) -> str:
        if value not in choices():
            raise ValueError(f"{what} must be one of {', '.join(choices())}, got {value!r}")
        return str(value)

    return parse


def _qualities() -> tuple[str, ...]:
    from .family import qualities

    return qualities()


def _aspect_ratios() -> tuple[str, ...]:
    from .family import aspect_ratios

    return aspect_ratios()


def _model(value: object) -> str:
    """Any plausible model id: one this version does not know draws a warning when it is set
    and when it is used, never a refusal (a newer model must not wait for a newer seedance)."""
    text = _text(value, "model")
    if not is_model_name(text):
        raise ValueError(
            f"model must be a model id such as seedance-2.0-text-to-video, got {text!r}"
        )
    return text


def _boolean(key: str) -> Callable[[object], bool]:
    def parse(value: object) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise ValueError(f"{key} must be true or false (or yes/no, on/off, 1/0), got {value!r}")

    return parse


def _path(value: object) -> str:
    return _text(value, "output-dir")


def _credits(value: object) -> int | float:
    """A budget in credits (``max-credits``): a finite number, at least 0; kept as a TOML
    integer when it is whole (``50``, not ``50.0``)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if re.fullmatch(r"[0-9]{1,10}", text) else float(text)
        except ValueError:
            raise ValueError(f"max-credits must be a number of credits, got {text!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("max-credits must be a number of credits")
    if not math.isfinite(value) or not 0 <= value <= 10**9:
        raise ValueError(
            f"max-credits must be a number of credits from 0 to 1,000,000,000, got {value}"
        )
    return int(value) if value == int(value) and abs(value) < 2**53 else value


#: Every key a profile may hold: the name users type, and how a value is checked and normalised.
KEYS: Final[dict[str, Callable[[object], Any]]] = {
    "api-key": _api_key,
    "base-url": _url("base-url"),
    "files-url": _url("files-url"),
    "duration": _duration,
    "quality": _choice(_qualities, "quality"),
    "aspect-ratio": _choice(_aspect_ratios, "aspect-ratio"),
    "audio": _boolean("audio"),
    "output-dir": _path,
    "model": _model,
    "max-credits": _credits,
    "live-pricing": _boolean("live-pricing"),
}
SECRET_KEYS: Final = frozenset({"api-key"})


def toml_name(key: str) -> str:
    return key.replace("-", "_")


def check_key(key: str) -> str:
    """The canonical (dashed) name of a config key; ``UsageError`` for an unknown one."""
    name = key.strip().lower().replace("_", "-")
    if name not in KEYS:
        import difflib

        close = difflib.get_close_matches(name, KEYS, n=1, cutoff=0.6)
        meant = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"unknown config key {key!r}", hint=f"{meant}keys: {', '.join(KEYS)}")
    return name


def check_value(key: str, value: object) -> Any:
    """``value`` checked and normalised for ``key``; ``ValidationError`` names the key."""
    try:
        return KEYS[key](value)
    except ValueError as exc:
        raise ValidationError(key, str(exc).removeprefix(f"{key} ")) from None


def check_profile_name(name: str) -> str:
    """A profile name is a TOML bare key: letters, digits, ``-`` and ``_``."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise UsageError(f"--profile: {name!r} is not a profile name (letters, digits, - and _)")
    return name


def mask(secret: str) -> str:
    """``sk-...abcd``: enough to tell keys apart, never enough to use one."""
    if len(secret) <= 12:
        return "****"
    return f"{secret[:3]}...{secret[-4:]}"


def config_dir(environ: Mapping[str, str]) -> Path:
    """The config folder: ``SEEDANCE_CONFIG_DIR`` in ``environ``, else the platform's."""
    override = environ.get("SEEDANCE_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("seedance"))


def data_dir(environ: Mapping[str, str]) -> Path:
    """The data folder (the task history): ``SEEDANCE_DATA_DIR`` in ``environ``, else the
    platform's."""
    override = environ.get("SEEDANCE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("seedance"))


@dataclasses.dataclass
class ConfigFile:
    """The parsed config file. ``warnings`` collects what the user should hear about."""

    path: Path
    profiles: dict[str, dict[str, Any]]
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: The whole file as parsed; ``save`` writes it back with only ``profiles``' keys changed.
    document: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        """Read ``path`` (absent: empty). ``ConfigError`` (exit 3) names the file and the problem."""
        try:
            mode = path.stat().st_mode
            if not stat.S_ISREG(mode):  # a FIFO would block the read forever
                raise ConfigError(f"cannot read config file {path}: not a regular file")
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, {})
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        warnings = []
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.append(
                f"config file {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                f"fix it with: chmod 600 {path}"
            )
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid config file {path}: {exc}") from None
        profiles_raw = data.get("profiles", {})
        if not isinstance(profiles_raw, dict):
            raise ConfigError(f"invalid config file {path}: [profiles] must be a table")
        profiles: dict[str, dict[str, Any]] = {}
        for name, table in profiles_raw.items():
            if not isinstance(table, dict):
                raise ConfigError(f"invalid config file {path}: [profiles.{name}] must be a table")
            profile: dict[str, Any] = {}
            for key, value in table.items():
                dashed = key.replace("_", "-")
                if dashed not in KEYS:
                    warnings.append(
                        f"config file {path}: [profiles.{name}] ignores unknown key {key!r}"
                    )
                    continue
                try:
                    profile[dashed] = KEYS[dashed](value)
                except ValueError as exc:
                    raise ConfigError(
                        f"invalid config file {path}: [profiles.{name}] {key}: {exc}"
                    ) from None
            profiles[name] = profile
        return cls(path, profiles, warnings, data)

    @classmethod
    @contextlib.contextmanager
    def editing(cls, path: Path) -> Iterator[ConfigFile]:
        """The file loaded under the writers' lock, held until the block ends: read, change,
        ``save()`` inside it, so that no other writer's update is lost in between."""
        with _writers_lock(path.parent):
            yield cls.load(path)

    def profile(self, name: str) -> dict[str, Any]:
        return self.profiles.get(name, {})

    def save(self) -> None:
        """Write atomically with mode 0600, creating the folder with mode 0700 if needed.

        Only the keys of ``profiles`` change; everything else in the file is written back as it
        was read. A symlinked file is replaced at its target, so the link stays a link.
        """
        import tomli_w

        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            text = tomli_w.dumps(self._merged_document())
            target = Path(os.path.realpath(self.path))
            _write_atomically(target, text.encode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot write config file {self.path}: {exc.strerror}") from None

    def _merged_document(self) -> dict[str, Any]:
        document = dict(self.document)
        tables = document.get("profiles")
        tables = dict(tables) if isinstance(tables, dict) else {}
        for name, values in self.profiles.items():
            table = dict(tables.get(name) or {})
            for key in list(table):  # known keys: as ``values`` says; unknown ones stay
                dashed = key.replace("_", "-")
                if dashed in KEYS and (dashed not in values or key != toml_name(dashed)):
                    del table[key]
            for key, value in values.items():
                table[toml_name(key)] = value
            if table or name in tables:
                tables[name] = table
        if tables or "profiles" in document:
            document["profiles"] = tables
        return document


def _write_atomically(target: Path, data: bytes) -> None:
    """A temporary file beside ``target`` (mode 0600), fsync, rename onto it, fsync the folder."""
    folder = target.parent
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".config.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


@contextlib.contextmanager
def _writers_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder/.config.lock`` (created 0600, never removed)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot lock the config folder {folder}: {exc.strerror}") from None
    try:
        with contextlib.suppress(OSError):  # no locks on this file system (ENOLCK): write anyway
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting resolved, each from the highest source that has it."""

    profile: str
    config_path: Path
    api_key: str | None
    api_key_source: str | None
    base_url: str
    #: Where ``base_url`` and ``files_url`` come from: ``flag``, the variable's name, ``default`` or
    #: ``profile 'NAME'``.
    base_url_source: str
    files_url: str
    files_url_source: str
    #: Seconds, or -1 (``AUTO_DURATION``) for ``auto``.
    duration: int | None
    quality: str | None
    aspect_ratio: str | None
    audio: bool | None
    output_dir: str | None
    poll_interval: float | None
    #: The profile's model (``None``: the built-in default, ``catalogue.DEFAULT_MODEL``).
    model: str | None = None
    #: The profile's budget per command, in credits (``None``: none).
    max_credits: Decimal | None = None
    #: Whether estimates also read the API's live pricing rules (``SEEDANCE_LIVE_PRICING``,
    #: profile ``live-pricing``; off by default).
    live_pricing: bool = False
    live_pricing_source: str = "default"


def profile_name(flag: str | None, environ: Mapping[str, str]) -> str:
    """The profile in use: the ``--profile`` flag, else ``SEEDANCE_PROFILE``, else ``default``."""
    return check_profile_name(flag or environ.get("SEEDANCE_PROFILE") or DEFAULT_PROFILE)


def resolve(
    *,
    profile: str | None = None,
    base_url: str | None = None,
    environ: Mapping[str, str],
    config: ConfigFile | None = None,
) -> Settings:
    """Resolve settings: flag > environment > profile in the config file > built-in default.

    ``profile`` and ``base_url`` are the flags; ``environ`` is the environment, the only one read.
    Raises ``ConfigError`` for an invalid config file, an unknown profile asked for by name, or an
    invalid value in the environment.
    """
    env = environ
    name = profile_name(profile, env)
    cfg = config if config is not None else ConfigFile.load(config_dir(env) / FILE_NAME)
    if (
        (profile or env.get("SEEDANCE_PROFILE"))
        and name != DEFAULT_PROFILE
        and (name not in cfg.profiles)
    ):
        known = ", ".join(sorted(cfg.profiles)) or "none yet"
        raise ConfigError(
            f"no profile {name!r} in {cfg.path}",
            hint=f"profiles: {known}; create it with: seedance --profile {name} config set api-key",
        )
    values = cfg.profile(name)

    def env_value(var: str, key: str) -> Any:
        raw = env.get(var)
        if raw is None or raw == "":
            return None
        try:
            return KEYS[key](raw)
        except ValueError as exc:
            raise ConfigError(f"invalid {var}: {exc}") from None

    key, source = None, None
    for var in ("SEEDANCE_API_KEY", "EVOLINK_API_KEY"):
        if env.get(var):
            key, source = env_value(var, "api-key"), var
            break
    if key is None and "api-key" in values:
        key, source = values["api-key"], f"profile {name!r} in {cfg.path}"

    flag_base = None
    if base_url is not None:
        try:
            flag_base = check_base_url(base_url)
        except ConfigError as exc:
            raise UsageError(f"--base-url: {exc.message}", hint=exc.hint) from None

    interval_raw = env.get("SEEDANCE_POLL_INTERVAL")
    interval = None
    if interval_raw:
        try:
            interval = float(interval_raw)
        except ValueError:
            interval = math.nan
        from .waiting import MAX_POLL_INTERVAL

        if not math.isfinite(interval) or not 0 < interval <= MAX_POLL_INTERVAL:
            raise ConfigError(
                f"invalid SEEDANCE_POLL_INTERVAL {interval_raw!r}: expected seconds > 0, "
                f"at most {MAX_POLL_INTERVAL:g}"
            )

    def source_of(value: str, default: str, var: str, flag: bool = False) -> str:
        if flag:
            return "flag"
        if env.get(var):
            return var
        return "default" if value == default else f"profile {name!r}"

    base = (
        flag_base
        or env_value("SEEDANCE_BASE_URL", "base-url")
        or values.get("base-url")
        or DEFAULT_BASE_URL
    )
    files = (
        env_value("SEEDANCE_FILES_URL", "files-url") or values.get("files-url") or DEFAULT_FILES_URL
    )
    live, live_source = env_value("SEEDANCE_LIVE_PRICING", "live-pricing"), "SEEDANCE_LIVE_PRICING"
    if live is None:
        live = values.get("live-pricing")
        live_source = "default" if live is None else f"profile {name!r}"
    return Settings(
        profile=name,
        config_path=cfg.path,
        api_key=key,
        api_key_source=source,
        base_url=base,
        base_url_source=source_of(
            base, DEFAULT_BASE_URL, "SEEDANCE_BASE_URL", base_url is not None
        ),
        files_url=files,
        files_url_source=source_of(files, DEFAULT_FILES_URL, "SEEDANCE_FILES_URL"),
        duration=AUTO_DURATION if values.get("duration") == "auto" else values.get("duration"),
        quality=values.get("quality"),
        aspect_ratio=values.get("aspect-ratio"),
        audio=values.get("audio"),
        output_dir=values.get("output-dir"),
        poll_interval=interval,
        model=values.get("model"),
        max_credits=(
            Decimal(str(values["max-credits"])) if values.get("max-credits") is not None else None
        ),
        live_pricing=live is True,
        live_pricing_source=live_source,
    )


def effective_settings(settings: Settings) -> list[tuple[str, Any, str]]:
    """(key, value, source) for every config key as it applies now, as ``resolve`` decided it;
    keys masked."""
    profile_source = f"profile {settings.profile!r}"
    rows: list[tuple[str, Any, str]] = []
    key = settings.api_key
    rows.append(
        (
            "api-key",
            mask(key) if key else None,
            (settings.api_key_source or "not set").replace(f" in {settings.config_path}", ""),
        )
    )

    rows.append(("base-url", settings.base_url, settings.base_url_source))
    rows.append(("files-url", settings.files_url, settings.files_url_source))
    from .catalogue import DEFAULT_MODEL, spec

    # Unset request defaults are the model's own (the profile's model, else the default one)
    model = settings.model or DEFAULT_MODEL
    found = spec(model)
    built_in: dict[str, Any] = {
        "duration": None if found is None else found.duration_default,
        "quality": None if found is None else found.quality_default,
        "aspect-ratio": None if found is None else found.aspect_ratio_default,
        "audio": True if found is not None and found.takes("generate_audio") else None,
        "output-dir": ".",
    }
    for name, value in (
        ("duration", "auto" if settings.duration == AUTO_DURATION else settings.duration),
        ("quality", settings.quality),
        ("aspect-ratio", settings.aspect_ratio),
        ("audio", settings.audio),
        ("output-dir", settings.output_dir),
    ):
        if value is not None:
            rows.append((name, value, profile_source))
            continue
        default = built_in[name]
        if default == -1:
            default = "auto"
        said = "default (the current folder)" if name == "output-dir" else f"default ({model})"
        rows.append((name, default, said if default is not None else "default"))

    rows.append(
        ("model", settings.model or DEFAULT_MODEL, profile_source if settings.model else "default")
    )
    budget = settings.max_credits
    rows.append(
        (
            "max-credits",
            None if budget is None else _credits(str(budget)),
            profile_source if budget is not None else "default (no budget)",
        )
    )
    rows.append(("live-pricing", settings.live_pricing, settings.live_pricing_source))
    return rows
