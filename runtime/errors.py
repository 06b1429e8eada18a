"""Exit codes and the exception hierarchy the CLI maps onto them.

Every failure a user can cause or meet is one of these classes; the CLI turns it into one
line on stderr and the class's exit code. Anything else is a bug and exits ``INTERNAL``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .redact import redact


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in docs/cli.md (generated from this enum)."""

    OK = 0
    """Success. A degraded push (the primary failed, a backup took the version) is a success."""
    INTERNAL = 1
    """A bug: an unexpected exception. Please report it."""
    USAGE = 2
    """The command line is malformed (unknown flag, missing argument)."""
    BAD_INPUT = 3
    """The input is invalid: missing or stale atlas.sum, bad URL, bad atlas.hcl, unknown env."""
    NOT_FOUND = 4
    """The tag or version exists on no reachable store."""
    UNAVAILABLE = 5
    """No store could complete the operation (unreachable, timed out, throttled). Retryable."""
    INTEGRITY = 6
    """Data failed verification on every store that had it (a corrupt pack or manifest); verify,
    sync and drill: on any store, or a version a tag points at is held intact by none."""
    AUTH = 7
    """A store rejected the credentials; no silent fallback was made."""
    REFUSED = 8
    """Refused to lose data: a history rewrite, or replacing a non-empty target, without --force."""
    GAPS = 9
    """verify or drill: a store lacks what another holds, or lags behind it (sync closes
    these), or holds a tag move dated ahead of this machine's clock; nothing is corrupt."""


class ContinuityError(Exception):
    """Base class of every expected failure; ``exit_code`` says how the CLI exits.

    The message is redacted when the error is made, so no secret leaves in an exception."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class BadInput(ContinuityError, ValueError):
    """A value the user gave is wrong; a ValueError too, as Python code calling in expects."""

    exit_code = ExitCode.BAD_INPUT


class NotFound(ContinuityError):
    exit_code = ExitCode.NOT_FOUND


class Unavailable(ContinuityError):
    exit_code = ExitCode.UNAVAILABLE


class IntegrityError(ContinuityError):
    exit_code = ExitCode.INTEGRITY


class AuthRejected(ContinuityError):
    exit_code = ExitCode.AUTH


class Refused(ContinuityError):
    exit_code = ExitCode.REFUSED


def common_exit_code(codes: Iterable[int | None]) -> ExitCode:
    """The exit code of failures on several stores: theirs when they share one cause (every
    store rejected the credentials, say), UNAVAILABLE otherwise."""
    distinct = set(codes)
    return (
        ExitCode(distinct.pop())
        if len(distinct) == 1 and None not in distinct
        else (ExitCode.UNAVAILABLE)
    )


class EveryTargetFailed(ContinuityError):
    """A write no store or cache took; exits with the failures' common code."""

    def __init__(self, message: str, codes: Iterable[int | None]) -> None:
        super().__init__(message)
        self.exit_code = common_exit_code(codes)


_GRAVITY = (
    ExitCode.INTEGRITY,
    ExitCode.BAD_INPUT,
    ExitCode.AUTH,
    ExitCode.UNAVAILABLE,
    ExitCode.NOT_FOUND,
    ExitCode.GAPS,
)


def gravest(codes: Iterable[int]) -> ExitCode:
    """verify, sync and drill find several things at once: exit with the one that most needs a
    person (corruption first, a store nobody can read next, a gap last); OK when none."""
    present = set(codes)
    return next((code for code in _GRAVITY if code in present), ExitCode.OK)


TROUBLE = {
    ExitCode.INTEGRITY: "corrupt",
    ExitCode.NOT_FOUND: "missing",
    ExitCode.AUTH: "credentials rejected",
    ExitCode.BAD_INPUT: "misconfigured",
    ExitCode.UNAVAILABLE: "unavailable",
}
"""What went wrong with a store, in the words reports use (``--json`` included)."""


def trouble(exc: ContinuityError) -> str:
    return TROUBLE.get(exc.exit_code, "unavailable")
