"""Option groups that several commands share, each next to the code that reads it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput

if TYPE_CHECKING:
    from ..config import AtlasEnv
    from ..stores.base import StoreSettings
    from ..targets import StorePlan


def verbosity_options(p: argparse.ArgumentParser) -> None:
    # Accepted before and after the command; the subcommand's copy only sets what it sees.
    p.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print errors only"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more detail on stderr (-vv for debug)",
    )


def time_options(p: argparse.ArgumentParser) -> None:
    """The time bounds of every store call (read by store_settings), and --json."""
    t = p.add_argument_group("time bounds")
    t.add_argument(
        "--connect-timeout",
        type=float,
        metavar="SEC",
        default=3.0,
        help="seconds to connect to a store (default: %(default)s)",
    )
    t.add_argument(
        "--read-timeout",
        type=float,
        metavar="SEC",
        default=5.0,
        help="seconds to wait for a store's answer (default: %(default)s)",
    )
    t.add_argument(
        "--request-deadline",
        type=float,
        metavar="SEC",
        default=30.0,
        help="seconds one store call may take in all, connecting, sending and the whole "
        "answer; a store slower than this counts as unavailable (default: %(default)s)",
    )
    t.add_argument(
        "--deadline",
        type=float,
        metavar="SEC",
        help="seconds the whole command may take; no store is called after it (default: none)",
    )
    t.add_argument(
        "--attempts",
        type=int,
        metavar="N",
        default=3,
        help="calls per request on refused connections, throttling and 5xx; "
        "timeouts are not repeated (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


MAX_SECONDS = 86_400
"""Longest timeout or deadline: past about 10**10 s the clocks the SDKs wait on overflow, and
every store would count as unavailable; a pipeline waiting a day for a store is stalled anyway."""


def store_settings(args: argparse.Namespace, *, create_store: bool = False) -> StoreSettings:
    """The time bounds the flags give; the command's deadline starts counting now.
    ``create_store``: the command starts a local store whose folder does not exist yet."""
    import math
    import time

    from ..stores.base import StoreSettings

    for flag, seconds in (
        ("--connect-timeout", args.connect_timeout),
        ("--read-timeout", args.read_timeout),
        ("--request-deadline", args.request_deadline),
        ("--deadline", args.deadline),
    ):
        if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
            raise BadInput(
                f"{flag} must be a positive, finite number of seconds, at most {MAX_SECONDS} "
                f"(a day), not {seconds}"
            )
    if args.attempts < 1:
        raise BadInput("--attempts must be at least 1")
    return StoreSettings(
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        request_deadline=args.request_deadline,
        deadline_at=None if args.deadline is None else time.monotonic() + args.deadline,
        attempts=args.attempts,
        create_store=create_store,
    )


def store_options(p: argparse.ArgumentParser) -> None:
    """Which registry and stores a command works on (read by store_context)."""
    verbosity_options(p)
    g = p.add_argument_group("stores (flags win over --config)")
    g.add_argument(
        "--repo",
        metavar="NAME",
        help="registry repository name (default: migration.repo.name from --config)",
    )
    g.add_argument("--primary", metavar="URL", help="primary store URL")
    g.add_argument(
        "--backup",
        metavar="URL",
        action="append",
        default=[],
        help="backup store URL; repeat for more, tried in the order given",
    )
    g.add_argument("--config", metavar="URL", help="Atlas project file, e.g. file://atlas.hcl")
    g.add_argument("--env", metavar="NAME", help="env block of --config to use")
    g.add_argument(
        "--var",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="value for a variable declared in --config; repeatable",
    )
    time_options(p)


def store_context(args: argparse.Namespace) -> tuple[str, StorePlan, AtlasEnv | None]:
    """The repository name, the stores and the atlas.hcl env (if any) that the flags select."""
    from ..config import config_path, load_env, parse_vars, store_plan
    from ..layout import check_name

    env = None
    if args.config:
        if not args.env:
            raise BadInput("--config needs --env NAME to select an env block")
        env = load_env(config_path(args.config), args.env, parse_vars(args.var))
    elif args.env or args.var:
        raise BadInput("--env and --var need --config")
    repo = args.repo or (env.repo if env else None)
    if not repo:
        raise BadInput(
            "no repository name: pass --repo NAME or set migration.repo.name in atlas.hcl"
        )
    plan = store_plan(args.primary, args.backup, env)
    return check_name("repository", repo), plan, env


def folder_flag(flag: str, value: str | None) -> Path | None:
    """The folder a flag or argument names; None when it is not given. An empty value (an unset
    variable in a pipeline) is refused: read as the current folder or as the default, it would
    pull, save or restore where nobody asked."""
    if value is None:
        return None
    if not value:
        raise BadInput(f"{flag} is empty: give a folder (is a variable unset?)")
    return Path(value)


def ref_options(p: argparse.ArgumentParser, default_tag: str | None) -> None:
    """Which version to read: --tag or --digest."""
    g = p.add_mutually_exclusive_group(required=default_tag is None)
    g.add_argument(
        "--tag",
        metavar="TAG",
        help=f"tag to read{f' (default: {default_tag})' if default_tag else ''}",
    )
    g.add_argument("--digest", metavar="sha256:HEX", help="exact version to read")
