"""``seedance config``: profiles, safe writes, masking, validation, and precedence rung by rung."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from seedance_cli.emulator import Emulator

from .clirunner import CliRunner
from .conftest import SENTINEL_KEY

KEY = "sk-live-abcdefghijklmnop1234"


def config_file() -> Path:
    return Path(os.environ["SEEDANCE_CONFIG_DIR"]) / "config.toml"


def test_set_api_key_from_stdin_writes_0600_in_a_0700_folder(cli: CliRunner) -> None:
    result = cli("config", "set", "api-key", input=KEY + "\n")
    assert result.code == 0 and result.out == ""
    assert "set api-key in profile 'default'" in result.err
    path = config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == f'[profiles.default]\napi_key = "{KEY}"\n'
    # no temporary left over; the writers' lock file stays (removing it would race)
    assert sorted(p.name for p in path.parent.iterdir()) == [".config.lock", "config.toml"]
    assert stat.S_IMODE((path.parent / ".config.lock").stat().st_mode) == 0o600


def test_key_on_the_command_line_works_but_warns(cli: CliRunner) -> None:
    result = cli("config", "set", "api-key", KEY)
    assert result.code == 0 and "shell history" in result.err
    assert KEY not in result.err


def test_get_and_list_mask_the_key(cli: CliRunner) -> None:
    cli("config", "set", "api-key", input=KEY)
    got = cli("config", "get", "api-key")
    assert got.out == "sk-...1234\n"
    listed = cli("config", "list")
    assert listed.lines[0] == "api-key\tsk-...1234\tprofile 'default'"
    assert KEY not in got.out + got.err + listed.out + listed.err


def test_values_are_checked_before_saving(cli: CliRunner) -> None:
    cli("config", "set", "duration", "6")
    before = config_file().read_bytes()
    for key, value, message in (
        ("duration", "31", "duration: must be 2 to 30 seconds, or auto, got 31"),
        ("duration", "1", "duration: must be 2 to 30 seconds, or auto, got 1"),
        ("duration", "soon", "duration: must be a whole number of seconds, or auto"),
        ("quality", "8k", "quality: must be one of 480p, 720p, 1080p, 4k"),
        ("model", "seedance 2", "model: must be a model id"),
        ("aspect-ratio", "2:1", "aspect-ratio: must be one of"),
        ("audio", "maybe", "audio: must be true or false"),
        ("base-url", "http://api.evolink.ai", "refusing plain http://"),
    ):
        result = cli("config", "set", key, value)
        assert result.code == 2, (key, result.err)
        assert message in result.err
    assert config_file().read_bytes() == before


def model_row(cli: CliRunner) -> str:
    (row,) = [line for line in cli("config", "list").lines if line.startswith("model\t")]
    return row


def test_model_key_takes_any_plausible_id_and_warns_about_unknown_ones(cli: CliRunner) -> None:
    assert model_row(cli) == "model\tseedance-1.5-pro\tdefault"
    known = cli("config", "set", "model", "seedance-2.0-text-to-video")
    assert known.code == 0 and "warning" not in known.err
    assert cli("config", "get", "model").out == "seedance-2.0-text-to-video\n"
    assert model_row(cli) == "model\tseedance-2.0-text-to-video\tprofile 'default'"
    newer = cli("config", "set", "model", "seedance-2.0-text-to-vid")
    assert newer.code == 0 and newer.out == ""
    (warning, done) = newer.err.splitlines()
    assert warning == (
        "warning: unknown model 'seedance-2.0-text-to-vid'; known models close to it: "
        "seedance-2.0-text-to-video, seedance-2.5-text-to-video, "
        "seedance-2.0-mini-text-to-video; set all the same"
    )
    assert done.startswith("set model in profile 'default'")
    other = cli("config", "set", "model", "veo-9")
    assert other.code == 0
    assert "unknown model 'veo-9'; 'seedance models' lists the models this version knows" in (
        other.err
    )
    assert tomllib.loads(config_file().read_text())["profiles"]["default"]["model"] == "veo-9"


def test_duration_takes_the_family_range_and_auto(cli: CliRunner) -> None:
    for value, stored in (("2", 2), ("30", 30), ("auto", "auto"), ("AUTO", "auto")):
        assert cli("config", "set", "duration", value).code == 0, value
        assert tomllib.loads(config_file().read_text())["profiles"]["default"]["duration"] == (
            stored
        )
    assert cli("config", "set", "duration", "--", "-1").code == 0  # -1 is auto in the API
    assert tomllib.loads(config_file().read_text())["profiles"]["default"]["duration"] == "auto"
    assert cli("config", "get", "duration").out == "auto\n"
    assert "duration\tauto\tprofile 'default'" in cli("config", "list").lines
    assert cli("config", "set", "quality", "4k").code == 0
    assert cli("config", "set", "aspect-ratio", "keep_ratio").code == 0


def test_unknown_key_is_a_usage_error(cli: CliRunner) -> None:
    result = cli("config", "set", "colour", "blue")
    assert result.code == 2
    assert "unknown config key 'colour'" in result.err and "hint: keys: api-key" in result.err


def test_set_get_unset_round_trip(cli: CliRunner) -> None:
    assert cli("config", "set", "quality", "1080p").code == 0
    assert cli("config", "set", "audio", "off").code == 0
    assert cli("config", "get", "quality").out == "1080p\n"
    assert cli("config", "get", "audio").out == "false\n"
    assert cli("--json", "config", "get", "quality").json == [{"quality": "1080p"}]
    assert cli("config", "unset", "quality").code == 0
    missing = cli("config", "get", "quality")
    assert missing.code == 3 and "quality is not set in profile 'default'" in missing.err
    again = cli("config", "unset", "quality")
    assert again.code == 0 and "was not set" in again.err


def test_profiles_are_separate(cli: CliRunner) -> None:
    cli("--profile", "work", "config", "set", "duration", "12")
    cli("config", "set", "duration", "4")
    assert cli("config", "get", "duration", "--profile", "work").out == "12\n"
    assert cli("config", "get", "duration").out == "4\n"
    assert cli("config", "get", "duration", env={"SEEDANCE_PROFILE": "work"}).out == "12\n"
    text = config_file().read_text()
    assert "[profiles.default]" in text and "[profiles.work]" in text


def test_unknown_profile_in_use_is_a_config_error(cli: CliRunner, api: Emulator) -> None:
    result = cli("--profile", "nope", "status", "task-unified-1-abcdefgh")
    assert result.code == 3
    assert "no profile 'nope'" in result.err
    assert "seedance --profile nope config set api-key" in result.err


def test_path_prints_the_file(cli: CliRunner) -> None:
    result = cli("config", "path")
    assert result.out == f"{config_file()}\n"
    assert cli("--json", "config", "path").json == [{"path": str(config_file()), "exists": False}]


def test_readable_by_others_draws_a_warning(cli: CliRunner) -> None:
    cli("config", "set", "duration", "6")
    config_file().chmod(0o644)
    result = cli("config", "get", "duration")
    assert result.code == 0
    assert f"warning: config file {config_file()} is readable by others (mode 0644)" in result.err
    assert f"chmod 600 {config_file()}" in result.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[profiles.default\n", "invalid config file"),
        ("[profiles.default]\nduration = 1\n", "duration: duration must be 2 to 30"),
        ("profiles = 3\n", "[profiles] must be a table"),
        (b"\xff\xfe".decode("latin-1"), "invalid config file"),
    ],
)
def test_invalid_file_is_exit_3_even_with_a_key_in_the_environment(
    cli: CliRunner, api: Emulator, content: str, message: str
) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(content, encoding="latin-1")
    result = cli("status", "task-unified-1-abcdefgh")
    assert result.code == 3
    assert str(config_file()) in result.err and message in result.err
    assert api.requests() == []


def test_unreadable_file_is_exit_3(cli: CliRunner, api: Emulator) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().mkdir()  # a folder where the file should be: reading fails
    result = cli("status", "task-unified-1-abcdefgh")
    assert result.code == 3 and f"cannot read config file {config_file()}" in result.err


def test_unknown_keys_in_the_file_warn(cli: CliRunner) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text('[profiles.default]\nqualty = "1080p"\n')
    result = cli("config", "list")
    assert result.code == 0 and "ignores unknown key 'qualty'" in result.err


# -- precedence: flag > environment > profile > default --------------------------------------------


def source_of(cli: CliRunner, key: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    result = cli(*args, "config", "list", env=env)
    assert result.code == 0, result.err
    row = next(line for line in result.lines if line.startswith(key + "\t"))
    return row.split("\t")[1:]


def test_base_url_precedence_rung_by_rung(cli: CliRunner) -> None:
    assert source_of(cli, "base-url") == ["https://api.evolink.ai", "default"]
    cli("config", "set", "base-url", "https://profile.example.com")
    assert source_of(cli, "base-url") == ["https://profile.example.com", "profile 'default'"]
    env = {"SEEDANCE_BASE_URL": "https://env.example.com"}
    assert source_of(cli, "base-url", env=env) == ["https://env.example.com", "SEEDANCE_BASE_URL"]
    assert source_of(cli, "base-url", "--base-url", "https://flag.example.com", env=env) == [
        "https://flag.example.com",
        "flag",
    ]


def test_api_key_precedence_rung_by_rung(cli: CliRunner) -> None:
    assert source_of(cli, "api-key") == ["", "not set"]
    cli("config", "set", "api-key", input=KEY)
    assert source_of(cli, "api-key") == ["sk-...1234", "profile 'default'"]
    evolink = {"EVOLINK_API_KEY": "sk-evolink-000000000000aaaa"}
    assert source_of(cli, "api-key", env=evolink) == ["sk-...aaaa", "EVOLINK_API_KEY"]
    both = {**evolink, "SEEDANCE_API_KEY": "sk-seedance-0000000000bbbb"}
    assert source_of(cli, "api-key", env=both) == ["sk-...bbbb", "SEEDANCE_API_KEY"]


def test_the_key_actually_used_follows_precedence(cli: CliRunner, emulator: Emulator) -> None:
    env = {"SEEDANCE_BASE_URL": emulator.url}
    cli("config", "set", "api-key", input=KEY)
    cli("status", "task-unified-1-abcdefgh", env=env)
    cli("status", "task-unified-1-abcdefgh", env={**env, "EVOLINK_API_KEY": SENTINEL_KEY})
    sent = [r.headers["authorization"] for r in emulator.requests()]
    assert sent == [f"Bearer {KEY}", f"Bearer {SENTINEL_KEY}"]


def test_request_defaults_precedence(cli: CliRunner, api: Emulator) -> None:
    cli("generate", "x", "--dry-run", "--json")  # default: left to the API
    assert "duration" not in cli("generate", "x", "--dry-run", "--json").json[0]["body"]
    cli("config", "set", "duration", "9")
    assert cli("generate", "x", "--dry-run", "--json").json[0]["body"]["duration"] == 9
    assert cli("generate", "x", "-d", "11", "--dry-run", "--json").json[0]["body"]["duration"] == 11


def test_invalid_environment_values_are_config_errors(cli: CliRunner, api: Emulator) -> None:
    result = cli(
        "status", "task-unified-1-abcdefgh", env={"SEEDANCE_BASE_URL": "http://api.evolink.ai"}
    )
    assert result.code == 3 and "SEEDANCE_BASE_URL" in result.err
    result = cli("status", "task-unified-1-abcdefgh", env={"SEEDANCE_POLL_INTERVAL": "-1"})
    assert result.code == 3 and "SEEDANCE_POLL_INTERVAL" in result.err


def test_poll_interval_from_the_environment(cli: CliRunner, api: Emulator, clock: object) -> None:
    api.service.estimated_time = 0  # else the API's estimate says when to poll
    task_id = cli("generate", "x").out.strip()
    result = cli("wait", task_id, env={"SEEDANCE_POLL_INTERVAL": "20"})
    assert result.code == 0
    assert max(clock.sleeps) == 20.0  # type: ignore[attr-defined]


# -- writes keep what they do not understand, follow links, and never lose an update ---------------

FOREIGN = """\
editor = "vim"
[profiles.default]
api_key = "sk-live-abcdefghijklmnop1234"
model = "seedance-2.0"
max_credits = 50
future_table = { a = 1, b = [1, 2] }

[profiles.work]
quality = "720p"
region = "eu"

[profiles.empty]

[plugins.thing]
enabled = true
when = 2026-11-29T10:00:00Z
"""


def test_set_and_unset_keep_unknown_keys_tables_and_profiles(cli: CliRunner) -> None:
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text(FOREIGN)
    path.chmod(0o600)
    before = tomllib.loads(FOREIGN)
    assert cli("config", "set", "quality", "1080p").code == 0
    assert cli("--profile", "work", "config", "unset", "quality").code == 0
    after = tomllib.loads(path.read_text())
    before["profiles"]["default"]["quality"] = "1080p"
    del before["profiles"]["work"]["quality"]
    assert after == before  # everything else exactly as it was, types included
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_set_writes_through_a_symlinked_file_and_keeps_the_link(
    cli: CliRunner, tmp_path: Path
) -> None:
    dotfiles = tmp_path / "dotfiles" / "seedance"
    dotfiles.mkdir(parents=True)
    target = dotfiles / "config.toml"
    target.write_text("[profiles.default]\nduration = 8\n")
    target.chmod(0o600)
    link = config_file()
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    result = cli("config", "set", "quality", "1080p")
    assert result.code == 0, result.err
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text() == '[profiles.default]\nduration = 8\nquality = "1080p"\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # the temporary file was made beside the target, and is gone
    assert sorted(p.name for p in dotfiles.iterdir()) == ["config.toml"]
    assert sorted(p.name for p in link.parent.iterdir()) == [".config.lock", "config.toml"]


def test_a_relative_chain_of_links_is_followed_to_the_end(cli: CliRunner, tmp_path: Path) -> None:
    folder = config_file().parent
    (folder / "real").mkdir(parents=True)
    (folder / "real" / "c.toml").write_text("")
    (folder / "middle.toml").symlink_to(Path("real") / "c.toml")
    config_file().symlink_to("middle.toml")
    assert cli("config", "set", "duration", "6").code == 0
    assert (folder / "middle.toml").is_symlink() and config_file().is_symlink()
    assert (folder / "real" / "c.toml").read_text() == "[profiles.default]\nduration = 6\n"


def test_twenty_concurrent_config_sets_all_land(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    env = {**os.environ, "SEEDANCE_CONFIG_DIR": str(folder)}
    profiles = [f"p{n:02d}" for n in range(20)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seedance_cli",
                "--profile",
                name,
                "config",
                "set",
                "duration",
                str(4 + n % 9),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n, name in enumerate(profiles)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    written = tomllib.loads((folder / "config.toml").read_text())["profiles"]
    assert {name: table["duration"] for name, table in written.items()} == {
        name: 4 + n % 9 for n, name in enumerate(profiles)
    }
    assert stat.S_IMODE((folder / "config.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_value_that_is_not_utf8_is_refused_and_the_file_untouched(cli: CliRunner) -> None:
    assert cli("config", "set", "quality", "720p").code == 0
    before = config_file().read_bytes()
    result = cli("config", "set", "output-dir", "/videos/caf\udce9")  # a Latin-1 argv byte
    assert result.code == 2 and result.out == ""
    assert result.err == "error: output-dir: must be UTF-8 text\n"
    assert config_file().read_bytes() == before


def test_a_config_file_that_is_a_fifo_is_exit_3_not_a_hang(cli: CliRunner, api: Emulator) -> None:
    config_file().parent.mkdir(parents=True)
    os.mkfifo(config_file())
    result = cli("status", "task-unified-1-abcdefgh")
    assert result.code == 3 and result.out == ""
    assert f"cannot read config file {config_file()}: not a regular file" in result.err


def waits_for_a_flock(pid: int) -> bool:
    """Whether process ``pid`` is blocked waiting for a ``flock`` (Linux: ``->`` in /proc/locks)."""
    locks = Path("/proc/locks").read_text()
    return any(
        fields[1] == "->" and fields[2] == "FLOCK" and fields[5] == str(pid)
        for fields in (line.split() for line in locks.splitlines())
        if len(fields) > 5
    )


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_a_writer_waits_for_the_lock_and_reads_the_file_only_once_it_holds_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o700)
    path = folder / "config.toml"
    path.write_text("[profiles.default]\nduration = 8\n")
    path.chmod(0o600)
    env = {**os.environ, "SEEDANCE_CONFIG_DIR": str(folder)}
    with open(folder / ".config.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another writer is mid-update
        proc = subprocess.Popen(
            [sys.executable, "-m", "seedance_cli", "config", "set", "quality", "1080p"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not waits_for_a_flock(proc.pid):  # started, and now blocked on the lock
            assert proc.poll() is None, "it wrote without waiting for the lock"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert path.read_text() == "[profiles.default]\nduration = 8\n"
        # the other writer's update lands while this one waits: it must not be lost
        path.write_text("[profiles.default]\nduration = 8\naudio = false\n")
        fcntl.flock(lock, fcntl.LOCK_UN)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert tomllib.loads(path.read_text()) == {
        "profiles": {"default": {"duration": 8, "audio": False, "quality": "1080p"}}
    }


def test_list_shows_the_built_in_defaults_of_the_model_in_use(cli: CliRunner) -> None:
    """Unset request defaults are the model's own, shown as such rather than blank."""
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in cli("config", "list").lines}
    assert rows["duration"] == ["5", "default (seedance-1.5-pro)"]
    assert rows["quality"] == ["720p", "default (seedance-1.5-pro)"]
    assert rows["aspect-ratio"] == ["16:9", "default (seedance-1.5-pro)"]
    assert rows["audio"] == ["true", "default (seedance-1.5-pro)"]
    assert rows["output-dir"] == [".", "default (the current folder)"]
    assert rows["max-credits"] == ["", "default (no budget)"]
    assert cli("config", "set", "model", "seedance-2.0-mini-text-to-video").code == 0
    assert cli("config", "set", "quality", "480p").code == 0
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in cli("config", "list").lines}
    assert rows["quality"] == ["480p", "profile 'default'"]
    assert rows["duration"][1] == "default (seedance-2.0-mini-text-to-video)"
    assert cli("config", "get", "duration").lines in ([], [""])  # get says what the file holds


def test_a_mistyped_key_gets_the_closest_one(cli: CliRunner) -> None:
    result = cli("config", "set", "qualty", "720p")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: unknown config key 'qualty'\nhint: did you mean quality? ")
