"""The ``atlas-continuity`` command line.

Results go to stdout, logs and warnings to stderr, nothing is printed on plain success but
the result itself. Exit codes are ``errors.ExitCode``. Each command group declares its
subcommands next to their handlers: ``registry`` (push, pull, tags, show), ``grant``, ``ci``
and ``plan``; ``options`` holds the option groups they share. At start-up only the standard
library is imported; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from .. import __version__
from ..errors import ContinuityError, ExitCode

log = logging.getLogger("atlas_continuity")
PROG = "atlas-continuity"


class _Parser(argparse.ArgumentParser):
    """Subparsers are of the parser's own class, so every level exits the same way."""

    def error(self, message: str) -> None:  # argparse's own exit code 2 is ours too
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, safe_line(f"{self.prog}: error: {message}") + "\n")


def build_parser() -> argparse.ArgumentParser:
    from . import ci, grant, ops, plan, registry
    from .options import verbosity_options

    parser = _Parser(
        prog=PROG,
        description="Replicated, verified Atlas migration registry and grant caching.",
        epilog="Exit codes: "
        + ", ".join(f"{c.value} {c.name.lower()}" for c in ExitCode)
        + ". See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbosity_options(parser)
    # What main reads of every command, whether or not it declares the flag.
    parser.set_defaults(quiet=False, verbose=0, json=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registry.add_commands(sub)
    ops.add_commands(sub)
    grant.add_commands(sub)
    ci.add_commands(sub)
    plan.add_commands(sub)
    return parser


# -- output -------------------------------------------------------------------------------


def safe_line(text: str) -> str:
    """``text`` as one line that is safe to print: secrets redacted, and every character that
    could move the cursor, recolour or retitle a terminal, or start a forged line (key names
    come from a store's listing) shown as its escape."""
    from ..redact import redact
    from ..text import printable

    return printable(redact(text))


class Output:
    def __init__(self, as_json: bool, quiet: bool = False) -> None:
        self.as_json = as_json
        self.github = os.environ.get("GITHUB_ACTIONS") == "true"
        self.show_progress = not (as_json or quiet)
        """A progress bar may be drawn (and is, on a terminal only): not for machines."""
        self._summary_failed = False

    def warn(self, message: str) -> None:
        message = safe_line(message)
        log.warning("%s", message)
        if self.github:
            print(
                f"::warning title=atlas-continuity::{_escape_annotation(message)}", file=sys.stderr
            )

    def result(self, obj: Any, text: str | None) -> None:
        from ..redact import redact

        if self.as_json:
            print(redact(json.dumps(obj, indent=2, sort_keys=False)))
        elif text:
            print(redact(text))

    def summary(self, markdown: str) -> None:
        """Add ``markdown`` to the job's summary page where the CI offers one (GitHub Actions'
        $GITHUB_STEP_SUMMARY); elsewhere nothing.

        The summary is a copy of the result, never the result: a file that cannot be written
        costs one warning, not the command's output or its exit code."""
        from ..redact import redact

        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if not path or self._summary_failed:
            return
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(redact(markdown) + "\n")
        except OSError as exc:
            self._summary_failed = True
            self.warn(
                f"job summary not written to {path} ($GITHUB_STEP_SUMMARY): {exc.strerror or exc}"
            )


def _escape_annotation(message: str) -> str:
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def iso_time(time_ns: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(time_ns / 1e9, UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


# -- logging and the entry point ----------------------------------------------------------


_TRUSTED = ("Traceback (most recent call last):", "  File ", "\nThe above", "\nDuring handling")
"""How the traceback module starts the parts of a traceback it writes itself."""


class _Formatter(logging.Formatter):
    """Lower-case level names; every line of a record, traceback included, made safe_line."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe_line(super().formatMessage(record))

    def formatException(self, ei) -> str:
        import traceback

        lines: list[str] = []
        for chunk in traceback.TracebackException(*ei[:3]).format():
            text = chunk.removesuffix("\n")
            # Frames and the chain's headers are ours, several lines each; anything else is an
            # exception's message, which may come from a store: one line, whatever it holds.
            trusted = chunk.startswith(_TRUSTED)
            lines += map(safe_line, text.split("\n")) if trusted else [safe_line(text)]
        return "\n".join(lines)


def _setup_logging(quiet: bool, verbose: int) -> None:
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # SDK loggers stay at warning even under -vv: their debug output carries request headers.
    root.setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # pool chatter is not the user's news
    log.setLevel(level)


def _failed(out: Output, message: str, exc: BaseException, code: int) -> int:
    """Say why the command failed, on stderr and, with --json, as the error object on stdout
    (a machine reading stdout gets JSON whatever went wrong)."""
    log.error("%s", message)
    if out.as_json:
        error = {"message": message, "kind": type(exc).__name__, "exit_code": int(code)}
        print(json.dumps({"error": error}, indent=2))
    return int(code)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.quiet, args.verbose)
    out = Output(args.json, args.quiet)
    try:
        return int(args.handler(args, out))
    except ContinuityError as exc:
        from ..redact import redact

        return _failed(out, redact(str(exc)), exc, exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): as a shell's tools do, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush of stdout fails no more
        return 128 + 13  # SIGPIPE
    except OSError as exc:  # the local file system said no: a path, a permission, a full disk
        from ..redact import redact

        where = f"{exc.filename}: " if exc.filename else ""
        return _failed(out, redact(f"{where}{exc.strerror or exc}"), exc, ExitCode.BAD_INPUT)
    except Exception as exc:  # a bug: say so in one line; the traceback is for -vv
        log.debug("internal error", exc_info=True)
        # The exception's text may hold data (a grant); its type and the traceback are enough.
        log.error(
            "internal error: %s (please report it; -vv shows the traceback)", type(exc).__name__
        )
        return int(ExitCode.INTERNAL)
