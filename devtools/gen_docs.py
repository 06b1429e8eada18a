"""Generate docs/cli.md from the CLI's parser and the ExitCode enum: python -m devtools.gen_docs"""

from __future__ import annotations

import argparse
import inspect
import os
from pathlib import Path

from atlas_continuity.runtime.cli import PROG, build_parser
from atlas_continuity.runtime.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
_BEGIN, _END = "<!-- exit-codes:begin", "<!-- exit-codes:end -->"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flag_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue  # hidden flags are kept for old pipeline files, not offered
        names = (
            ", ".join(f"`{o}`" for o in action.option_strings)
            or f"`{action.metavar or action.dest}`"
        )
        if action.option_strings and action.nargs != 0:
            names += f" `{action.metavar or action.dest.upper()}`"  # as argparse's usage says
        help_text = (action.help or "").replace("%(default)s", str(action.default))
        rows.append(f"| {names} | {help_text.replace('|', '/')} |")
    return rows


def render_cli_doc() -> str:
    os.environ["COLUMNS"] = "80"  # argparse wraps usage to the terminal: make it reproducible
    parser = build_parser()
    out = [
        f"# `{PROG}` command reference",
        "",
        "Generated from the code by `python -m devtools.gen_docs`; do not edit by hand.",
        "",
        "Results go to stdout (`--json` for machines); logs, warnings and errors go to stderr.",
        "A successful command prints only its result. `-q` prints errors only, `-v` adds what",
        "each store did, `-vv` adds debug detail.",
        "",
        "## Exit codes",
        "",
        *exit_code_table(),
        "",
        "## Global options",
        "",
        "| option | meaning |",
        "|---|---|",
    ]
    out += [r for r in _flag_rows(parser) if "COMMAND" not in r]
    out += _command_sections(parser, PROG)
    return "\n".join(out) + "\n"


def _command_sections(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    out: list[str] = []
    for name, sub in _subparsers(parser).items():
        nested = _subparsers(sub)
        title = f"{prefix} {name}"
        out += ["", f"## `{title}`", "", sub.description or _help_of(parser, name), ""]
        if nested:
            out += _command_sections(sub, title)
            continue
        out += ["```", sub.format_usage().strip(), "```", "", "| option | meaning |", "|---|---|"]
        out += _flag_rows(sub)
    return out


def _help_of(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    text = choice.help or ""
                    return text[:1].upper() + text[1:] + "."  # keeps "CI" as written
    return ""


def exit_code_table() -> list[str]:
    rows = ["| code | name | meaning |", "|---|---|---|"]
    for code in ExitCode:
        doc = inspect.cleandoc(_member_doc(code)).replace("\n", " ")
        rows.append(f"| {code.value} | `{code.name}` | {doc} |")
    return rows


def render_readme(text: str) -> str:
    """README.md with its exit-code table replaced by the generated one."""
    head, rest = text.split(_BEGIN, 1)
    marker_line, _, rest = rest.partition("\n")
    _, tail = rest.split(_END, 1)
    table = "\n".join(exit_code_table())
    return f"{head}{_BEGIN}{marker_line}\n{table}\n{_END}{tail}"


def _member_doc(member: ExitCode) -> str:
    source = inspect.getsource(ExitCode)
    marker = f"    {member.name} = {member.value}\n"
    after = source.split(marker, 1)[1]
    return after.split('"""')[1]


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render_cli_doc())
    README.write_text(render_readme(README.read_text()))
    print(f"wrote {DOC} and the exit codes in {README}")
