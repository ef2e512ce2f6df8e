"""Generate the shell completions and the man page from the live CLI. Never edit their output.

    python scripts/generate.py          # write completions/ and man/
    python scripts/generate.py --check  # exit 1 (and say which) when a file is stale

Every command, option, metavar and help text comes from the typer app itself; the values offered
after an option come from ``cli.COMPLETION_VALUES``; task ids are looked up at completion time with
the hidden ``seedance _complete`` command, which reads the local history.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from seedance_cli import __version__
from seedance_cli.cli import COMPLETION_VALUES, app
from seedance_cli.config import KEYS
from seedance_cli.errors import EXIT_CODE_MEANINGS

ROOT = Path(__file__).resolve().parent.parent
#: The man page's date: fixed, so that the page only changes when the CLI does. Bump on release.
MAN_DATE = "2026-11-25"
#: Arguments and options whose values are files or folders, by metavar.
FILE_METAVARS = {"FILE", "FILE...", "PATH", "URL|PATH", "PATH|DIR"}
DIR_METAVARS = {"DIR"}
TASK_METAVAR = "TASK_ID..."
EXAMPLES = [
    (
        "Try it without a key, against the built-in sandbox:",
        'seedance --sandbox generate "A cat playing piano" --wait',
    ),
    ("Set the API key once (asked for without echo):", "seedance config set api-key"),
    ("Create, wait and save the video:", 'seedance generate "A cat playing piano" -o cat.mp4'),
    (
        "Image to video from a local file, 8 seconds, portrait:",
        'seedance generate "She turns and smiles" -i portrait.jpg -d 8 -a 9:16 --wait',
    ),
    (
        "Capture a task id now, wait later:",
        'id=$(seedance generate "A lighthouse in a storm"); seedance wait "$id" -o videos/',
    ),
    (
        "A CI step with a deadline:",
        'seedance generate @prompt.txt --wait --timeout 600 || echo "exit $?"',
    ),
    ("Many videos from a manifest, resumable:", "seedance batch videos.jsonl --output-dir out/"),
    ("Fetch every result never saved:", "seedance download --missing -o ~/videos"),
]
ENVIRONMENT = [
    ("SEEDANCE_API_KEY, EVOLINK_API_KEY", "The API key (the first one set wins)."),
    (
        "SEEDANCE_BASE_URL, SEEDANCE_FILES_URL",
        "The API and files origins (default https://api.evolink.ai, https://files-api.evolink.ai).",
    ),
    ("SEEDANCE_PROFILE", "The config profile (default: default)."),
    ("SEEDANCE_CONFIG_DIR", "The folder of config.toml."),
    ("SEEDANCE_DATA_DIR", "The folder of the task history, history.sqlite3."),
    ("SEEDANCE_POLL_INTERVAL", "Seconds between polls (default 5)."),
    ("NO_COLOR", "No colour or escape codes."),
]


def commands() -> list[tuple[str, Any]]:
    """(path, click command) of every visible command, ``config set`` included."""
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if getattr(sub, "hidden", False):
                continue
            path = f"{prefix} {name}".strip()
            if getattr(sub, "commands", None):
                walk(path, sub)
            else:
                found.append((path, sub))

    walk("", root)
    return found


def options(command: Any) -> list[Any]:
    """A command's own options; the global ones it also accepts (``g_*``) are listed once, at
    the top level."""
    return [
        p
        for p in command.params
        if p.param_type_name == "option" and not p.hidden and not p.name.startswith("g_")
    ]


def arguments(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument"]


def global_options() -> list[Any]:
    return options(typer.main.get_command(app))


def takes_value(option: Any) -> bool:
    return not option.is_flag and not option.secondary_opts and not option.count


def summary(command: Any) -> str:
    return (command.help or "").strip().splitlines()[0] if command.help else ""


def values_for(option: Any) -> str:
    """What completes after an option: ``values:...``, ``files``, ``dirs``, ``profiles``, ``none``."""
    for name in option.opts:
        if name in COMPLETION_VALUES:
            return "values:" + " ".join(COMPLETION_VALUES[name])
    if option.name in {"profile", "g_profile"}:
        return "profiles"
    if option.metavar in FILE_METAVARS:
        return "files"
    if option.metavar in DIR_METAVARS:
        return "dirs"
    return "none"


def argument_kind(command_path: str, argument: Any) -> str:
    metavar = argument.metavar or argument.name.upper()
    if metavar == TASK_METAVAR:
        return "completed-task-ids" if command_path == "download" else "task-ids"
    if metavar in FILE_METAVARS:
        return "files"
    if argument.name == "key":
        return "values:" + " ".join(KEYS)
    return "none"


# -- bash ------------------------------------------------------------------------------------------


def bash() -> str:
    # What follows an option is the same whichever command it belongs to: one table for all.
    kinds: dict[str, str] = {}
    for p in [q for _, c in commands() for q in options(c)] + global_options():
        if takes_value(p):
            for name in p.opts:
                kinds[name] = values_for(p)
    by_kind: dict[str, list[str]] = {}
    for name, kind in sorted(kinds.items()):
        by_kind.setdefault(kind, []).append(name)
    value_cases = "\n".join(
        f"        {'|'.join(names)}) _seedance_values {kind!r}; return ;;"
        for kind, names in by_kind.items()
    )
    cases = []
    for path, command in commands():
        opts = sorted({o for p in options(command) for o in (*p.opts, *p.secondary_opts)})
        args = arguments(command)
        positional = argument_kind(path, args[0]) if args else "none"
        cases.append(f'        {path!r}) _seedance_offer {positional!r} "{" ".join(opts)}" ;;')
    top = sorted({p.split()[0] for p, _ in commands()})
    globals_ = " ".join(sorted(o for p in global_options() for o in p.opts))
    global_values = "|".join(o for p in global_options() if takes_value(p) for o in p.opts)
    return f"""# bash completion for seedance - generated by scripts/generate.py; do not edit
_seedance_values() {{
    local kind=$1
    case "$kind" in
        values:*) COMPREPLY=($(compgen -W "${{kind#values:}}" -- "$cur")) ;;
        files) COMPREPLY=($(compgen -f -- "$cur")) ;;
        dirs) COMPREPLY=($(compgen -d -- "$cur")) ;;
        profiles|task-ids|completed-task-ids)
            COMPREPLY=($(compgen -W "$(seedance _complete "$kind" 2>/dev/null)" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}}

_seedance_offer() {{
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$2 $globals" -- "$cur"))
    else
        _seedance_values "$1"
    fi
}}

_seedance() {{
    local cur prev
    cur=${{COMP_WORDS[COMP_CWORD]}}
    prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local globals="{globals_}"
    local command="" i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case "$word" in
            {global_values}) ((i++)) ;;
            -*) ;;
            *) if [[ -z $command ]]; then command=$word
               elif [[ $command == config ]]; then command="config $word"; fi ;;
        esac
    done
    case "$prev" in
{value_cases}
    esac
    case "$command" in
{chr(10).join(cases)}
        config) COMPREPLY=($(compgen -W "get list path set unset" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "{" ".join(top)} $globals" -- "$cur")) ;;
    esac
}}
complete -F _seedance seedance
"""


# -- zsh -------------------------------------------------------------------------------------------


def _zsh_action(kind: str) -> str:
    if kind.startswith("values:"):
        return f"({kind[7:]})"
    return {
        "files": "_files",
        "dirs": "_files -/",
        "profiles": "_seedance_dynamic profiles",
        "task-ids": "_seedance_dynamic task-ids",
        "completed-task-ids": "_seedance_dynamic completed-task-ids",
    }.get(kind, " ")


def _zsh_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("'", "'\\''")
        .replace("[", "\\[")
        .replace("]", "\\]")
        .replace(":", "\\:")
    )


def _zsh_spec(p: Any) -> Iterator[str]:
    help_text = _zsh_escape(" ".join((p.help or "").split()))
    names = [*p.opts, *p.secondary_opts]
    for name in names:
        if takes_value(p):
            metavar = _zsh_escape(p.metavar or "VALUE")
            yield f"'{'*' if p.multiple else ''}{name}[{help_text}]:{metavar}:{_zsh_action(values_for(p))}'"
        else:
            yield f"'{name}[{help_text}]'"


def zsh() -> str:
    functions = []
    listing = []
    for path, command in commands():
        fname = "_seedance_" + path.replace(" ", "_").replace("-", "_")
        specs = [s for p in options(command) + global_options() for s in _zsh_spec(p)]
        for arg in arguments(command):
            action = _zsh_action(argument_kind(path, arg))
            specs.append(
                f"'{'*' if arg.nargs == -1 else ''}:{(arg.metavar or arg.name).lower()}:{action}'"
            )
        functions.append(
            f"{fname}() {{\n    _arguments -s \\\n        " + " \\\n        ".join(specs) + "\n}"
        )
        listing.append((path, summary(command), fname))
    top = sorted({p.split()[0] for p, _, _ in listing})
    described = []
    for name in top:
        if name == "config":
            described.append("'config:Manage the config file and its profiles.'")
        else:
            text = next(s for p, s, _ in listing if p == name)
            described.append(f"'{name}:{_zsh_escape(text)}'")
    config_described = [
        f"'{p.split()[1]}:{_zsh_escape(s)}'" for p, s, _ in listing if p.startswith("config ")
    ]
    dispatch = "\n".join(f"        {p.replace(' ', '-')}) {f} ;;" for p, _, f in listing)
    global_specs = " \\\n        ".join(s for p in global_options() for s in _zsh_spec(p))
    return f"""#compdef seedance
# zsh completion for seedance - generated by scripts/generate.py; do not edit

_seedance_dynamic() {{
    local -a items
    items=(${{(f)"$(seedance _complete $1 2>/dev/null)"}})
    compadd -a items
}}

{chr(10).join(functions)}

_seedance() {{
    local curcontext=$curcontext state line
    local -a commands config_commands
    commands=({" ".join(described)})
    config_commands=({" ".join(config_described)})
    _arguments -s -C \\
        {global_specs} \\
        '1:command:->command' \\
        '*::arg:->args'
    case $state in
        command) _describe -t commands 'seedance command' commands ;;
        args)
            local name=$words[1]
            if [[ $name == config ]]; then
                if (( CURRENT == 2 )); then
                    _describe -t commands 'config command' config_commands
                    return
                fi
                shift words; (( CURRENT-- )); name=config-$words[1]
            fi
            case $name in
{dispatch}
            esac ;;
    esac
}}

_seedance "$@"
"""


# -- fish ------------------------------------------------------------------------------------------


def _fish_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def fish() -> str:
    lines = [
        "# fish completion for seedance - generated by scripts/generate.py; do not edit",
        "complete -c seedance -f",
        "function __seedance_command --description 'the seedance (sub)command being typed'",
        "    set -l words (commandline -opc)",
        "    set -l found",
        "    for word in $words[2..-1]",
        "        switch $word",
        "            case '-*'",
        "            case '*'",
        "                set -a found $word",
        "        end",
        "    end",
        "    if test (count $found) -ge 1; and test $found[1] = config; and test (count $found) -ge 2",
        "        echo config $found[2]",
        "    else if test (count $found) -ge 1",
        "        echo $found[1]",
        "    end",
        "end",
        "function __seedance_is --argument-names expected",
        "    test (__seedance_command) = $expected",
        "end",
    ]
    top = sorted({p.split()[0] for p, _ in commands()})
    for path, command in commands():
        if path.startswith("config "):
            continue
        lines.append(
            f"complete -c seedance -n 'test -z (__seedance_command)' -a {path} "
            f"-d '{_fish_escape(summary(command))}'"
        )
    lines.append(
        "complete -c seedance -n 'test -z (__seedance_command)' -a config "
        "-d 'Manage the config file and its profiles.'"
    )
    for path, command in commands():
        if path.startswith("config "):
            lines.append(
                f"complete -c seedance -n '__seedance_is config' -a {path.split()[1]} "
                f"-d '{_fish_escape(summary(command))}'"
            )
    del top

    def option_line(condition: str, p: Any) -> Iterator[str]:
        help_text = _fish_escape(" ".join((p.help or "").split()))
        for name in (*p.opts, *p.secondary_opts):
            flag = f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}"
            extra = ""
            if takes_value(p):
                kind = values_for(p)
                if kind.startswith("values:"):
                    extra = f" -x -a '{kind[7:]}'"
                elif kind in ("files", "dirs"):
                    extra = " -r -F"
                elif kind == "profiles":
                    extra = " -x -a '(seedance _complete profiles 2>/dev/null)'"
                else:
                    extra = " -x"
            yield f"complete -c seedance {condition}{flag}{extra} -d '{help_text}'"

    for p in global_options():
        lines.extend(option_line("", p))
    for path, command in commands():
        condition = f"-n '__seedance_is \"{path}\"' "
        for p in options(command):
            lines.extend(option_line(condition, p))
        for arg in arguments(command):
            kind = argument_kind(path, arg)
            if kind.startswith("values:"):
                lines.append(f"complete -c seedance {condition}-a '{kind[7:]}'")
            elif kind in ("task-ids", "completed-task-ids"):
                lines.append(
                    f"complete -c seedance {condition}-a '(seedance _complete {kind} 2>/dev/null)'"
                )
            elif kind == "files":
                lines.append(f"complete -c seedance {condition}-F")
    return "\n".join(lines) + "\n"


# -- the man page ----------------------------------------------------------------------------------


def roff(text: str) -> str:
    """Text safe in roff, wrapped at 80 columns: backslashes, hyphens of options, and lines that
    would start with a dot or a quote are escaped."""
    lines = []
    for piece in textwrap.wrap(text, width=72, break_long_words=False, break_on_hyphens=False):
        escaped = piece.replace("\\", "\\e").replace("-", "\\-")
        lines.append("\\&" + escaped if escaped.startswith((".", "'")) else escaped)
    return "\n".join(lines)


def man() -> str:
    out = [
        '.\\" Generated by scripts/generate.py from the live CLI; do not edit.',
        f'.TH SEEDANCE 1 "{MAN_DATE}" "seedance {__version__}" "User Commands"',
        ".SH NAME",
        "seedance \\- generate videos with Seedance 1.5 Pro through the EvoLink API",
        ".SH SYNOPSIS",
        ".B seedance",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        roff(
            "seedance creates video generation tasks, waits for them with progress, downloads the "
            "results safely, and keeps a local history of every task. A create is never sent "
            "twice blindly, a task id is never lost, and exit codes tell scripts what happened. "
            "Data goes to standard output, everything else to standard error."
        ),
        ".SH COMMANDS",
    ]
    for path, command in commands():
        usage = " ".join(
            [f"\\fB{roff('seedance ' + path)}\\fR"]
            + [f"\\fI{roff(a.metavar or a.name.upper())}\\fR" for a in arguments(command)]
        )
        out += [".TP", usage]
        paragraphs = [" ".join(p.split()) for p in (command.help or "").split("\n\n") if p.strip()]
        out.append(roff(paragraphs[0]) if paragraphs else "")
        for paragraph in paragraphs[1:]:
            out += [".IP", roff(paragraph)]
        for p in options(command):
            out += [".RS", ".TP", _option_head(p), roff(" ".join((p.help or "").split())), ".RE"]
    out.append(".SH OPTIONS")
    out.append(roff("Global options may come before or after the command."))
    for p in global_options():
        out += [".TP", _option_head(p), roff(" ".join((p.help or "").split()))]
    out.append(".SH ENVIRONMENT")
    for name, text in ENVIRONMENT:
        out += [".TP", f"\\fB{roff(name)}\\fR", roff(text)]
    out += [
        ".SH FILES",
        ".TP",
        "\\fI~/.config/seedance/config.toml\\fR",
        roff(
            "Profiles with api_key, base_url, files_url and request defaults; mode 0600 "
            "(SEEDANCE_CONFIG_DIR moves it)."
        ),
        ".TP",
        "\\fI~/.local/share/seedance/history.sqlite3\\fR",
        roff("The task history (SEEDANCE_DATA_DIR moves it)."),
        ".TP",
        "\\fINAME.part\\fR, \\fINAME.part.json\\fR",
        roff("A download in progress and its validators; a later run resumes from them."),
        ".SH EXIT STATUS",
    ]
    for code, meaning in EXIT_CODE_MEANINGS.items():
        out += [".TP", f"\\fB{int(code)}\\fR", roff(meaning[0].upper() + meaning[1:] + ".")]
    out.append(".SH EXAMPLES")
    for index, (text, command) in enumerate(EXAMPLES):
        out += ([] if index == 0 else [".PP"]) + [
            roff(text),
            ".PP",
            ".RS",
            ".nf",
            command.replace("\\", "\\e").replace("-", "\\-"),
            ".fi",
            ".RE",
        ]
    out += [".SH SEE ALSO", roff("The README of the project, and https://evolink.ai for keys.")]
    return "\n".join(out) + "\n"


def _option_head(p: Any) -> str:
    names = ", ".join(f"\\fB{roff(n)}\\fR" for n in sorted(p.opts, key=len))
    if p.secondary_opts:
        names += ", " + ", ".join(f"\\fB{roff(n)}\\fR" for n in p.secondary_opts)
    if takes_value(p):
        names += f" \\fI{roff(p.metavar or 'VALUE')}\\fR"
    return names


OUTPUTS = {
    "completions/seedance.bash": bash,
    "completions/_seedance": zsh,
    "completions/seedance.fish": fish,
    "man/seedance.1": man,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale files; write nothing")
    check = parser.parse_args().check
    stale = []
    for name, make in OUTPUTS.items():
        path = ROOT / name
        text = make()
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run: python scripts/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
