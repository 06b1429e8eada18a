"""ci init: a ready-to-use pipeline file for a CI provider."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import BadInput, ExitCode, Refused
from .options import verbosity_options

if TYPE_CHECKING:
    from pathlib import Path

    from . import Output

STDOUT = "-"


def add_commands(sub: argparse._SubParsersAction) -> None:
    from ..ci import PROVIDERS

    ci = sub.add_parser("ci", help="CI pipeline files with grant caching and push / pull in place")
    actions = ci.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="print (or write) a ready-to-use pipeline file")
    init.add_argument("provider", choices=PROVIDERS, metavar="PROVIDER", help=", ".join(PROVIDERS))
    init.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=_output_path,
        default=STDOUT,
        help="write here instead of stdout (- for stdout)",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    verbosity_options(init)
    init.set_defaults(handler=cmd_ci_init)


def _output_path(value: str) -> str:
    # An empty path is an unset variable in the caller's script, not a request for stdout.
    if not value:
        raise argparse.ArgumentTypeError("an empty path; give a file, or - for stdout")
    return value


def cmd_ci_init(args: argparse.Namespace, out: Output) -> int:
    from pathlib import Path

    from ..ci import render

    text = render(args.provider)
    if args.output == STDOUT:
        sys.stdout.write(text)
    else:
        _write_whole(Path(args.output), text, replace=args.force)
    return ExitCode.OK


def _write_whole(path: Path, text: str, *, replace: bool) -> None:
    """Put ``text`` at ``path`` whole or not at all: a file written beside it is linked into
    place, which fails when the name exists (a dangling link included), or with ``replace``
    renamed over the file ``path`` names (through a link), so a failed write never costs the
    file it was to replace. A pipe or a device (``-o /dev/stdout``) is written into."""
    import contextlib
    import os
    import stat
    from pathlib import Path

    from .. import ownership

    mode = None
    if replace:
        with contextlib.suppress(FileNotFoundError):
            mode = os.stat(path).st_mode
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise BadInput(f"{path} is a folder")
        if not stat.S_ISREG(mode):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return
        path = Path(os.path.realpath(path))
    if path.parent.exists() and not path.parent.is_dir():
        raise BadInput(f"{path.parent} is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / ownership.temp_name(path.name, "tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        raise Refused(f"{path} exists; pass --force to overwrite it") from None
    except OSError as exc:  # the temporary file is ours: the user asked for path
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
