"""verify, sync and drill: the continuity operations a pipeline runs on a schedule."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import BadInput, ExitCode
from ..text import printable
from . import log
from .options import store_context, store_options, store_settings

if TYPE_CHECKING:
    from ..drill import Restore
    from . import Output


def add_commands(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="check that every store holds every tag, version and grant intact",
        description="Read back every object the tags point to (--all: every object any store "
        "holds) from every store, verify it byte for byte, and print a matrix of stores and "
        "versions. Exits with the gravest finding: 6 (integrity) when anything is corrupt or a "
        "version a tag points at is on no store; 3, 7 or 5 when a store is misconfigured, "
        "rejects the credentials or cannot be read; 4 when no store holds anything of the "
        "repository (or of --tag); 9 (gaps) when a store lacks what another holds, lags behind "
        "it, or holds a tag move dated ahead of the clock; 0 when all is well.",
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
        "pushes and to kill. After an outage, the primary gets the pushes it missed. What a "
        "store holds is verified before anything is written on top of it. Exits 0 when every "
        "store took what it lacked (a corrupt copy read past on the way is a warning: verify "
        "lists them all); 6 (integrity) when a gap could not be closed, because no store holds "
        "the object intact or a corrupt object is in the way; 3, 7 or 5 when a store is "
        "misconfigured, rejects the credentials or cannot be reached.",
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
        "newest grant. Writes a table to $GITHUB_STEP_SUMMARY when set. Exits with the gravest "
        "finding: 6 on corruption, or when the tag points at a version no store holds; 3, 7 or "
        "5 when a store is misconfigured, rejects the credentials or cannot be read; 4 when no "
        "store holds the tag (or the grant); 9 when a store lacks the tag or lags more than "
        "--max-lag moves; 0 when every store restores. A store without the grant is listed, "
        "not failed, while another restores it.",
    )
    drill.add_argument(
        "--tag", default="latest", metavar="TAG", help="the tag to restore (default: %(default)s)"
    )
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
    from ..layout import check_name
    from ..progress import progress
    from ..targets import open_targets
    from ..verify import verify

    if args.tag is not None:
        check_name("tag", args.tag)
    repo, plan, _ = store_context(args)
    with (
        open_targets(plan, store_settings(args)) as targets,
        progress("verifying", None, out.show_progress) as tick,
    ):
        report = verify(targets, repo, tag=args.tag, every=args.all, grants=args.grants, tick=tick)
    for problem in report.problems + report.warnings:
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
    for problem in report.problems + report.warnings:
        out.warn(problem)
    verb = "would copy" if args.dry_run else "copied"
    lines = []
    for s in report.stores:
        if s.error:
            out.warn(f"not synced: {_naming(s.url, s.error)}")
        copied = ", ".join(f"{n} {kind}(s)" for kind, n in sorted(s.copied.items()))
        lines.append(f"{s.url}: {verb} {copied or 'nothing'}")
    if not args.dry_run:  # quiet on success; -v says what went where
        for line in lines:
            log.info("%s", line)
    out.result(report.to_json(), "\n".join(lines) if args.dry_run else None)
    return int(report.exit_code)


def _naming(url: str, error: str) -> str:
    """``error``, naming its store once."""
    return error if error.startswith(url) else f"{url}: {error}"


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
        lag = "?" if s.lag is None else s.lag
        rto = "-" if s.rto_seconds is None else f"{s.rto_seconds:.2f} s"
        grant = f"; grant {_restored(s.grant)}" if s.grant else ""
        lines.append(f"{s.url}: {_restored(s)}; {lag} version(s) behind; restore {rto}{grant}")
    out.result(report.to_json(), "\n".join(lines))
    out.summary(report.markdown())
    for digest in report.lost:
        out.warn(f"tag {report.tag!r} points at version {digest}, which no store holds: it is lost")
    if report.exit_code != ExitCode.OK:
        # Which stores, on stderr too: under --json the details are on stdout only.
        failing = [
            f"{s.url} {'behind' if s.restores else s.problem}"
            for s in report.stores
            if not s.restores or report.behind(s)
        ]
        which = f" ({'; '.join(failing)})" if failing else ""
        out.warn(f"drill failed: {report.exit_code.name.lower()}{which}")
    return int(report.exit_code)


def _restored(r: Restore) -> str:
    return "restores" if r.restores else f"does NOT restore ({r.problem}): {printable(r.error)}"
