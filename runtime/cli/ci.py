"""ci init: a ready-to-use pipeline file for a CI provider."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import ExitCode, Refused
from .options import verbosity_options

if TYPE_CHECKING:
    from . import Output


def add_commands(sub: argparse._SubParsersAction) -> None:
    from ..ci import PROVIDERS

    ci = sub.add_parser("ci", help="CI pipeline files with grant caching and push / pull in place")
    actions = ci.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="print (or write) a ready-to-use pipeline file")
    init.add_argument("provider", choices=PROVIDERS, metavar="PROVIDER", help=", ".join(PROVIDERS))
    init.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    init.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    verbosity_options(init)
    init.set_defaults(handler=cmd_ci_init)


def cmd_ci_init(args: argparse.Namespace, out: Output) -> int:
    from ..ci import render

    text = render(args.provider)
    if not args.output:
        sys.stdout.write(text)
        return ExitCode.OK
    from pathlib import Path

    path = Path(args.output)
    if path.exists() and not args.force:
        raise Refused(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return ExitCode.OK
