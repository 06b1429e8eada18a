"""grant save, restore, status and exec: Atlas's license grant cached across runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, ContinuityError, EveryTargetFailed, ExitCode
from . import PROG, iso_time, log
from .options import folder_flag, store_settings, time_options, verbosity_options

if TYPE_CHECKING:
    from pathlib import Path

    from . import Output


def add_commands(sub: argparse._SubParsersAction) -> None:
    grant = sub.add_parser(
        "grant",
        help="cache Atlas's license grant (~/.atlas) across CI runs and clusters",
        description="Save the Atlas state folder to CI cache folders and stores, and restore it "
        "from the first intact copy, so pipelines keep working while Atlas Cloud is unreachable.",
    )
    actions = grant.add_subparsers(dest="grant_command", metavar="ACTION", required=True)

    save = actions.add_parser("save", help="save the state folder to every cache")
    save.add_argument("-n", "--dry-run", action="store_true", help="write nothing")
    _grant_options(save)
    save.set_defaults(handler=cmd_grant_save)

    restore = actions.add_parser(
        "restore",
        help="restore the newest intact copy of all caches",
        description="Ask every cache and restore the newest snapshot that verifies, judged by "
        "its content, so a cache refreshed rarely never rolls the grant back; a grant in place "
        "that is newer still is kept.",
    )
    restore.add_argument(
        "--force", action="store_true", help="replace a state folder that is newer than the cache"
    )
    # Pipeline files written before every restore took the newest copy pass this: accept it.
    restore.add_argument("--newest", action="store_true", help=argparse.SUPPRESS)
    restore.add_argument("-n", "--dry-run", action="store_true", help="write nothing")
    _grant_options(restore)
    restore.set_defaults(handler=cmd_grant_restore)

    status = actions.add_parser("status", help="where the grant is, its age, each cache's state")
    _grant_options(status)
    status.set_defaults(handler=cmd_grant_status)

    run = actions.add_parser(
        "exec",
        help="restore, run a command, save (even if it fails), exit with its code",
        usage=f"{PROG} grant exec [options] -- CMD [ARG ...]",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command")
    _grant_options(run)
    run.set_defaults(handler=cmd_grant_exec)


def _grant_options(p: argparse.ArgumentParser) -> None:
    """The flags every grant action has: _save and _restore read only these from ``args``."""
    verbosity_options(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--state-dir",
        metavar="DIR",
        help="Atlas state folder (default: $HOME/.atlas)",
    )
    where.add_argument(
        "--data-root",
        metavar="DIR",
        help="Atlas operator data root: every <namespace>/<name>/.atlas below it",
    )
    c = p.add_argument_group("caches (restore tries the folders first, then the stores, in order)")
    c.add_argument(
        "--cache-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="CI cache folder in the workspace, e.g. .atlas-cache; repeatable",
    )
    c.add_argument(
        "--store",
        metavar="URL",
        action="append",
        default=[],
        help="store URL (s3://, gs://, azureblob://, file://); repeatable",
    )
    c.add_argument(
        "--name",
        default="default",
        help="which grant series, when one bucket serves several (default: %(default)s)",
    )
    time_options(p)


def _local_paths(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """(state folder, operator data root): at most one is given. Every folder flag is checked."""
    from ..layout import check_name

    check_name("grant cache", args.name)
    for folder in args.cache_dir:
        folder_flag("--cache-dir", folder)
    return folder_flag("--state-dir", args.state_dir), folder_flag("--data-root", args.data_root)


def _save(
    args: argparse.Namespace,
    out: Output,
    state_dir: Path | None,
    data_root: Path | None,
    *,
    dry_run: bool,
) -> dict[str, Any]:
    from pathlib import Path

    from .. import grants, provenance

    files = grants.read_local(state_dir, data_root)
    shape = grants.STATE_LAYOUT if data_root is None else grants.DATA_ROOT_LAYOUT
    snapshot = grants.make_snapshot(args.name, files, shape, provenance.collect(Path.cwd()))
    settings = store_settings(args, create_store=True)
    with grants.open_caches(args.cache_dir, args.store, settings) as caches:
        results = grants.save(snapshot, caches, dry_run=dry_run)
    for r in results:
        if r.status == "failed":
            out.warn(f"grant not saved to {r.cache}: {r.error}")
        else:
            log.info("grant %s to %s", r.status, r.cache)
    report = {"name": args.name, "files": len(files), "caches": [vars(r) for r in results]}
    if all(r.status == "failed" for r in results):
        raise EveryTargetFailed(
            "grant save failed: no cache took it; "
            + "; ".join(f"{r.cache}: {r.error}" for r in results),
            (r.exit_code for r in results),
        )
    return report


def cmd_grant_save(args: argparse.Namespace, out: Output) -> int:
    state_dir, data_root = _local_paths(args)
    out.result(_save(args, out, state_dir, data_root, dry_run=args.dry_run), None)
    return ExitCode.OK


def _restore(
    args: argparse.Namespace,
    out: Output,
    state_dir: Path | None,
    data_root: Path | None,
    *,
    force: bool,
    dry_run: bool,
) -> dict[str, Any]:
    from .. import grants

    with grants.open_caches(args.cache_dir, args.store, store_settings(args)) as caches:
        report = grants.restore(
            caches,
            args.name,
            state_dir=state_dir,
            data_root=data_root,
            force=force,
            dry_run=dry_run,
        )
    for problem in report.problems:
        out.warn(problem)
    log.info(
        "grant from %s (%s): replaced %s; kept %s",
        report.source,
        report.key,
        ", ".join(report.applied) or "nothing",
        ", ".join(report.kept) or "nothing",
    )
    return {**vars(report), "created": iso_time(report.created_ns)}


def cmd_grant_restore(args: argparse.Namespace, out: Output) -> int:
    state_dir, data_root = _local_paths(args)
    report = _restore(
        args,
        out,
        state_dir,
        data_root,
        force=args.force,
        dry_run=args.dry_run,
    )
    out.result(report, None)
    return ExitCode.OK


def cmd_grant_status(args: argparse.Namespace, out: Output) -> int:
    from .. import grants

    state_dir, data_root = _local_paths(args)
    with grants.open_caches(args.cache_dir, args.store, store_settings(args)) as caches:
        report = grants.status(caches, args.name, state_dir, data_root)
    local = report["local"]
    lines = [
        f"local  {local['path']}: "
        + (
            f"{local['files']} file(s), {_age(local['age_seconds'])} old"
            if local["present"]
            else "no grant"
        )
    ]
    for c in report["caches"]:
        state = (
            f"intact, {c['files']} file(s), saved {_age(c['age_seconds'])} ago"
            if c["intact"]
            else f"NOT USABLE: {c['error']}"
        )
        lines.append(f"cache  {c['cache']}: {state}")
    out.result(report, "\n".join(lines))
    return ExitCode.OK


def cmd_grant_exec(args: argparse.Namespace, out: Output) -> int:
    import signal
    import subprocess

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise BadInput("grant exec needs a command: grant exec [options] -- CMD [ARG ...]")
    state_dir, data_root = _local_paths(args)
    try:
        _restore(args, out, state_dir, data_root, force=False, dry_run=False)
    except Exception as exc:  # nothing cached yet, or no cache can serve: run the command anyway
        reason = exc if isinstance(exc, ContinuityError) else type(exc).__name__
        out.warn(f"grant not restored: {reason}")

    child: list[subprocess.Popen] = []
    stopped: list[int] = []

    def relay(signum: int, _frame: object) -> None:
        # Ctrl-C reaches the command through the terminal's process group already; SIGTERM
        # and SIGHUP sent to this wrapper are passed on. Either way: wait, then save.
        stopped.append(signum)
        if child and signum != signal.SIGINT:
            child[0].send_signal(signum)

    relayed = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, relay) for signum in relayed}
    try:
        if stopped:  # told to stop before the command started: do not start it
            code = -stopped[0]
        else:
            try:
                child.append(subprocess.Popen(cmd))
            except OSError as exc:
                raise BadInput(f"cannot run {cmd[0]!r}: {exc.strerror}") from None
            code = child[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    try:
        _save(args, out, state_dir, data_root, dry_run=False)
    except Exception as exc:  # the command's exit code is the result, whatever the save met
        reason = exc if isinstance(exc, ContinuityError) else type(exc).__name__
        out.warn(f"grant not saved after the command: {reason}")
    return 128 - code if code < 0 else code


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
