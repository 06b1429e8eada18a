"""verify, sync and drill: the continuity operations a pipeline runs on a schedule."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import BadInput, ExitCode
from ..text import printable
from .options import store_context, store_options, store_settings

if TYPE_CHECKING:
    from . import Output


def add_commands(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="check that every store holds every tag, version and grant intact",
        description="Read back every object the tags point to (--all: every object any store "
        "holds) from every store, verify it byte for byte, and print a matrix of stores and "
        "versions. Exits 0 when all is well, 9 (gaps) when a store lacks what another holds "
        "or lags behind it, 6 (integrity) when anything is corrupt.",
    )
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--tag", metavar="TAG", help="only this tag and its version")
    which.add_argument(
        "--all", action="store_true", help="every version and tag event any store holds"
    )
    verify.add_argument("--grants", action="store_true", help="also every grant snapshot")
    store_options(verify)
    verify.set_defaults(handler=cmd_verify)

    sync = sub.add_parser(
        "sync",
        help="copy to every store what another store holds and it lacks",
        description="Create-only: never overwrites or deletes, copies only what verifies, and "
        "keeps a push's order (pack, manifest, tag event), so it is safe to run beside "
        "pushes and to kill. After an outage, the primary gets the pushes it missed. Exits 0 "
        "when every store took what it lacked, 6 (integrity) when a corrupt object was found "
        "(it is copied from a store that holds it intact, never spread; the corrupt copy stays "
        "for you to deal with), 5 when a store could not be reached.",
    )
    sync.add_argument("--grants", action="store_true", help="also the grant snapshots")
    sync.add_argument(
        "-n", "--dry-run", action="store_true", help="say what would be copied, copy nothing"
    )
    store_options(sync)
    sync.set_defaults(handler=cmd_sync)

    drill = sub.add_parser(
        "drill",
        help="restore from each store alone, and report how far behind it is",
        description="For each store, as if it were the only one left: restore the tag's "
        "version into a temporary folder (every byte and atlas.sum verified), count the moves "
        "of the tag it lacks (RPO), time the restore (RTO), and with --grant restore the "
        "newest grant. Writes a table to $GITHUB_STEP_SUMMARY when set. Exits 9 on a lag past "
        "--max-lag, 6 on corruption, 5 when a store cannot be read.",
    )
    drill.add_argument("--tag", default="latest", help="the tag to restore (default: %(default)s)")
    drill.add_argument("--grant", metavar="NAME", help="also restore this grant series")
    drill.add_argument(
        "--max-lag",
        type=int,
        default=0,
        metavar="N",
        help="versions a store may lag before the drill fails (default: %(default)s)",
    )
    store_options(drill)
    drill.set_defaults(handler=cmd_drill)


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    from ..progress import progress
    from ..targets import open_targets
    from ..verify import verify

    repo, plan, _ = store_context(args)
    with (
        open_targets(plan, store_settings(args)) as targets,
        progress("verifying", None, out.show_progress) as tick,
    ):
        report = verify(targets, repo, tag=args.tag, every=args.all, grants=args.grants, tick=tick)
    for problem in report.problems:
        out.warn(problem)
    out.result(report.to_json(), _matrix(report))
    return int(report.exit_code)


def _matrix(report) -> str:
    """Tags, versions (and events, grants) down, the stores across as [1], [2]..."""
    labels = [f"{row.kind} {printable(row.name)}" for row in report.rows]
    width = max(map(len, labels), default=0) + 2
    columns = range(1, len(report.stores) + 1)
    lines = [" " * width + "".join(f"{f'[{i}]':<12}" for i in columns)]
    for label, row in zip(labels, report.rows, strict=True):
        lines.append(label.ljust(width) + "".join(f"{row.cells[u]:<12}" for u in report.stores))
    lines += [f"[{i}] {url}" for i, url in zip(columns, report.stores, strict=True)]
    lines.append(f"status: {report.status}")
    return "\n".join(line.rstrip() for line in lines)


def cmd_sync(args: argparse.Namespace, out: Output) -> int:
    from ..progress import progress
    from ..sync import sync
    from ..targets import open_targets

    repo, plan, _ = store_context(args)
    with (
        open_targets(plan, store_settings(args)) as targets,
        progress("syncing", None, out.show_progress) as tick,
    ):
        report = sync(targets, repo, grants=args.grants, dry_run=args.dry_run, tick=tick)
    for problem in report.problems:
        out.warn(problem)
    verb = "would copy" if args.dry_run else "copied"
    lines = []
    for s in report.stores:
        if s.error:
            out.warn(f"{s.url}: not synced: {s.error}")
        copied = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(s.copied.items()))
        lines.append(f"{s.url}: {verb} {copied or 'nothing'}")
    out.result(report.to_json(), "\n".join(lines) if args.dry_run else None)
    return int(report.exit_code)


def cmd_drill(args: argparse.Namespace, out: Output) -> int:
    from ..drill import drill
    from ..layout import check_name
    from ..progress import progress
    from ..targets import open_targets

    if args.max_lag < 0:
        raise BadInput("--max-lag must be 0 or more")
    if args.grant is not None:
        check_name("grant cache", args.grant)
    repo, plan, _ = store_context(args)
    with (
        open_targets(plan, store_settings(args)) as targets,
        progress("drilling", len(targets), out.show_progress, unit="store") as tick,
    ):
        report = drill(
            targets, repo, tag=args.tag, grant=args.grant, max_lag=args.max_lag, tick=tick
        )
    lines = []
    for s in report.stores:
        state = "restores" if s.restores else f"does NOT restore: {s.error}"
        lag = "?" if s.lag is None else s.lag
        rto = "-" if s.rto_seconds is None else f"{s.rto_seconds:.2f} s"
        grant = f", grant {s.grant}" if s.grant else ""
        lines.append(f"{s.url}: {state}; {lag} version(s) behind; restore {rto}{grant}")
    out.summary(report.markdown())
    out.result(report.to_json(), "\n".join(lines))
    if report.exit_code != ExitCode.OK:
        out.warn(f"drill failed: {report.exit_code.name.lower()}")
    return int(report.exit_code)
