"""The ``atlas-continuity`` command line.

Results go to stdout, logs and warnings to stderr, nothing is printed on plain success but
the result itself. Exit codes are ``errors.ExitCode``. This module imports only the standard
library at start-up; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .errors import (
    BadInput,
    ContinuityError,
    EveryTargetFailed,
    ExitCode,
    NotFound,
    Refused,
    common_exit_code,
)

log = logging.getLogger("atlas_continuity")
PROG = "atlas-continuity"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code 2 is ours too
        from .redact import redact

        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, redact(f"{self.prog}: error: {message}\n"))


def _verbosity_options(p: argparse.ArgumentParser, default: object) -> None:
    # Accepted before and after the command; the subcommand's copy only sets what it sees.
    p.add_argument("-q", "--quiet", action="store_true", default=default, help="print errors only")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="more detail on stderr (-vv for debug)",
    )


def _store_options(p: argparse.ArgumentParser) -> None:
    _verbosity_options(p, argparse.SUPPRESS)
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
    _time_options(p)


def _time_options(p: argparse.ArgumentParser) -> None:
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
        "--attempts",
        type=int,
        metavar="N",
        default=3,
        help="calls per request on refused connections, throttling and 5xx; "
        "timeouts are not repeated (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _grant_options(p: argparse.ArgumentParser) -> None:
    _verbosity_options(p, argparse.SUPPRESS)
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
    _time_options(p)


def _ref_options(p: argparse.ArgumentParser, default_tag: str | None) -> None:
    g = p.add_mutually_exclusive_group(required=default_tag is None)
    g.add_argument(
        "--tag",
        metavar="TAG",
        help=f"tag to read{f' (default: {default_tag})' if default_tag else ''}",
    )
    g.add_argument("--digest", metavar="sha256:HEX", help="exact version to read")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Replicated, verified Atlas migration registry and grant caching.",
        epilog="Exit codes: "
        + ", ".join(f"{c.value} {c.name.lower()}" for c in ExitCode)
        + ". See docs/cli.md.",
    )
    _verbosity_options(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    push = sub.add_parser(
        "push",
        help="push a migration directory to every store",
        description="Validate DIR's atlas.sum, then write the version to the "
        "primary and every backup in parallel.",
    )
    push.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="migration directory (default: migration.dir from --config, else ./migrations)",
    )
    push.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="tag to move to this version; repeatable (default: latest)",
    )
    push.add_argument(
        "--dir-format",
        metavar="FORMAT",
        help="atlas, golang-migrate, goose, flyway, liquibase or dbmate "
        "(default: migration.format from --config, else atlas)",
    )
    push.add_argument(
        "--force",
        action="store_true",
        help="move tags even to a version that edits or removes a migration",
    )
    push.add_argument(
        "-n", "--dry-run", action="store_true", help="report what would be written, write nothing"
    )
    _store_options(push)

    pull = sub.add_parser(
        "pull",
        help="pull a version into a directory, verified",
        description="Resolve a tag or digest on the primary, then on the "
        "backups in order; verify every byte and atlas.sum; move "
        "the directory into place atomically.",
    )
    pull.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="target directory (default: migration.dir from --config, else ./migrations)",
    )
    _ref_options(pull, "latest")
    pull.add_argument("--force", action="store_true", help="replace a non-empty target directory")
    pull.add_argument(
        "--fallback-on-auth-error",
        action="store_true",
        help="also fall back to the next store when credentials are rejected",
    )
    pull.add_argument(
        "-n", "--dry-run", action="store_true", help="resolve and report, write nothing"
    )
    _store_options(pull)

    tags = sub.add_parser("tags", help="list tags and the versions they point to")
    tags.add_argument(
        "--history", action="store_true", help="list every tag move, newest first (the audit log)"
    )
    _store_options(tags)

    show = sub.add_parser("show", help="show one version's manifest")
    _ref_options(show, "latest")
    _store_options(show)

    grant = sub.add_parser(
        "grant",
        help="cache Atlas's license grant (~/.atlas) across CI runs and clusters",
        description="Save the Atlas state folder to CI cache folders and stores, and restore it "
        "from the first intact copy, so pipelines keep working while Atlas Cloud is unreachable.",
    )
    gsub = grant.add_subparsers(
        dest="grant_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    g_save = gsub.add_parser("save", help="save the state folder to every cache")
    g_save.add_argument("-n", "--dry-run", action="store_true", help="write nothing")
    g_restore = gsub.add_parser("restore", help="restore the newest intact copy")
    g_restore.add_argument(
        "--force", action="store_true", help="replace a state folder that is newer than the cache"
    )
    g_restore.add_argument(
        "--newest",
        action="store_true",
        help="ask every cache and take the newest intact copy, not the first cache's "
        "(for CI caches refreshed rarely, e.g. Bitbucket's weekly one)",
    )
    g_restore.add_argument("-n", "--dry-run", action="store_true", help="write nothing")
    g_status = gsub.add_parser("status", help="where the grant is, its age, each cache's state")
    g_exec = gsub.add_parser(
        "exec",
        help="restore, run a command, save (even if it fails), exit with its code",
        usage=f"{PROG} grant exec [options] -- CMD [ARG ...]",
    )
    g_exec.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command")
    for p, handler in (
        (g_save, cmd_grant_save),
        (g_restore, cmd_grant_restore),
        (g_status, cmd_grant_status),
        (g_exec, cmd_grant_exec),
    ):
        _grant_options(p)
        p.set_defaults(handler=handler)

    ci = sub.add_parser("ci", help="CI pipeline files with grant caching and push / pull in place")
    csub = ci.add_subparsers(
        dest="ci_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    from .ci import PROVIDERS as ci_providers

    init = csub.add_parser("init", help="print (or write) a ready-to-use pipeline file")
    init.add_argument(
        "provider", choices=ci_providers, metavar="PROVIDER", help=", ".join(ci_providers)
    )
    init.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    init.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    init.set_defaults(handler=cmd_ci_init)
    _verbosity_options(init, argparse.SUPPRESS)

    for name, handler in (
        ("push", cmd_push),
        ("pull", cmd_pull),
        ("tags", cmd_tags),
        ("show", cmd_show),
    ):
        sub.choices[name].set_defaults(handler=handler)
    return parser


# -- output -------------------------------------------------------------------------------


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.github = os.environ.get("GITHUB_ACTIONS") == "true"

    def warn(self, message: str) -> None:
        from .redact import redact

        message = redact(message)
        log.warning("%s", message)
        if self.github:
            print(
                f"::warning title=atlas-continuity::{_escape_annotation(message)}", file=sys.stderr
            )

    def result(self, obj: Any, text: str | None) -> None:
        from .redact import redact

        if self.as_json:
            print(redact(json.dumps(obj, indent=2, sort_keys=False)))
        elif text:
            print(redact(text))


def _escape_annotation(message: str) -> str:
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# -- commands -----------------------------------------------------------------------------


def _settings(args: argparse.Namespace):
    from .stores.base import StoreSettings

    for flag in ("connect_timeout", "read_timeout"):
        if getattr(args, flag) <= 0:
            raise BadInput(f"--{flag.replace('_', '-')} must be positive")
    if args.attempts < 1:
        raise BadInput("--attempts must be at least 1")
    return StoreSettings(
        connect_timeout=args.connect_timeout, read_timeout=args.read_timeout, attempts=args.attempts
    )


def _context(args: argparse.Namespace):
    """Resolve the repository, stores, directory format and default directory."""
    from .config import config_path, load_env, parse_vars, store_plan
    from .layout import check_name

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


def _default_dir(given: str | None, env) -> Path:
    if given:
        return Path(given)
    if env and env.dir and env.dir.startswith("file://"):
        return Path(env.dir.removeprefix("file://"))
    return Path("migrations")


def cmd_push(args: argparse.Namespace, out: Output) -> int:
    from . import atlas_sum, provenance
    from .layout import check_name
    from .push import push
    from .targets import open_targets

    repo, plan, env = _context(args)
    tags = [check_name("tag", t) for t in (args.tag or ["latest"])]
    dir_format = args.dir_format or (env.dir_format if env else None) or "atlas"
    directory = _default_dir(args.dir, env)
    mdir = atlas_sum.read_dir(directory, dir_format)
    settings = _settings(args)
    with open_targets(plan, settings) as targets:
        report = push(
            mdir,
            targets,
            repo,
            tags,
            source=provenance.collect(directory),
            force=args.force,
            dry_run=args.dry_run,
            primary_label=plan.primary_label,
            concurrency=settings.concurrency,
        )
    if plan.primary is None:
        log.info("primary is %s; pushed to the backups only", plan.primary_label)
    for warning in report.warnings:
        out.warn(warning)
    for s in report.stores:
        log.info(
            "%s %s: %s, %d blob(s) written, %d present, tags moved: %s",
            s.role,
            s.url,
            s.status,
            s.blobs_written,
            s.blobs_present,
            ", ".join(s.tags_moved) or "none",
        )
    # A version no store holds is not a result: print the digest only when one took it.
    out.result(report.to_json(), None if report.status == "failed" else f"sha256:{report.digest}")
    if report.status == "failed":
        codes = {s.exit_code for s in report.stores}
        log.error("push failed: no store took version %s", report.digest[:12])
        return int(common_exit_code(codes))
    if report.status == "degraded":
        ok = sum(s.status in ("ok", "planned") for s in report.stores)
        out.warn(f"push degraded: {ok} of {len(report.stores)} stores took the version")
    return ExitCode.OK


def cmd_pull(args: argparse.Namespace, out: Output) -> int:
    from .pull import pull
    from .targets import open_targets

    repo, plan, env = _context(args)
    directory = _default_dir(args.dir, env)
    with open_targets(plan, _settings(args)) as targets:
        report = pull(
            targets,
            repo,
            directory,
            tag=args.tag,
            digest=args.digest,
            force=args.force,
            dry_run=args.dry_run,
            fallback_on_auth=args.fallback_on_auth_error,
            primary_label=plan.primary_label,
        )
    if plan.primary is None:
        log.info("primary is %s; read from the backups only", plan.primary_label)
    for problem in report.problems:
        out.warn(problem)
    if report.manifest_from != (plan.urls()[0] if plan.urls() else None):
        out.warn(f"served from {report.manifest_from}, not the first store")
    for url, count in report.files_from.items():
        log.info("%d file(s) from %s", count, url)
    out.result(report.to_json(), None)
    return ExitCode.OK


def cmd_tags(args: argparse.Namespace, out: Output) -> int:
    from .fallback import first_success
    from .registry import Registry
    from .targets import open_targets

    repo, plan, _ = _context(args)
    with open_targets(plan, _settings(args)) as targets:
        registries = [Registry(t.store, repo) for t in targets]
        read = Registry.tag_history if args.history else Registry.tag_heads
        found = first_success(registries, lambda r: _nonempty(r, read), f"tags of {repo!r}")
    states = found.value
    rows = [
        {
            "tag": s.tag,
            "digest": f"sha256:{s.event.digest}",
            "time": _iso(s.event.time_ns),
            "source": s.event.source,
            "previous": s.event.previous and f"sha256:{s.event.previous}",
        }
        for s in states
    ]
    text = "\n".join(
        f"{r['tag']}\t{r['digest']}\t{r['time']}\t"
        f"{r['source'].get('git_commit', '-')[:12]}\t{r['source'].get('ci_run_url', '')}".rstrip()
        for r in rows
    )
    out.result(
        {"repo": repo, "primary": plan.primary_label, "store": found.registry.url, "tags": rows},
        text or None,
    )
    return ExitCode.OK


def _nonempty(registry, read):
    # A store without any tag (a fresh primary after an outage) must not hide the backups'.
    history = read(registry)
    if not history:
        raise NotFound(f"{registry.url}: no tags in repository {registry.repo!r}")
    return history


def cmd_show(args: argparse.Namespace, out: Output) -> int:
    from .pull import resolve
    from .registry import Registry
    from .targets import open_targets

    repo, plan, _ = _context(args)
    with open_targets(plan, _settings(args)) as targets:
        registries = [Registry(t.store, repo) for t in targets]
        found = resolve(registries, tag=args.tag, digest=args.digest, fallback_on_auth=False)
    m = found.manifest
    lines = [
        f"digest:     sha256:{found.digest}",
        f"repo:       {m.repo}",
        f"format:     {m.dir_format}",
        f"created:    {m.created}",
        *(f"{k + ':':<11} {v}" for k, v in sorted(m.source.items())),
        f"files:      {len(m.files)}",
        *(f"  {f.name}  {f.size}  sha256:{f.sha256[:12]}" for f in m.files),
    ]
    obj = {
        "digest": f"sha256:{found.digest}",
        "primary": plan.primary_label,
        "store": found.registry.url,
        **m.to_json(),
    }
    out.result(obj, "\n".join(lines))
    return ExitCode.OK


# -- grant caching ---------------------------------------------------------------------------


def _grant_context(args: argparse.Namespace):
    from .layout import check_name

    check_name("grant cache", args.name)
    state_dir = Path(args.state_dir) if args.state_dir else None
    data_root = Path(args.data_root) if args.data_root else None
    return state_dir, data_root


def _save(args: argparse.Namespace, out: Output, state_dir, data_root) -> dict[str, Any]:
    from . import grants, provenance

    if data_root is not None:
        files, shape = grants.read_data_root(data_root), grants.DATA_ROOT_LAYOUT
    else:
        files = grants.read_state_dir(state_dir or grants.default_state_dir())
        shape = grants.STATE_LAYOUT
    snapshot = grants.make_snapshot(args.name, files, shape, provenance.collect(Path.cwd()))
    with grants.open_caches(args.cache_dir, args.store, _settings(args)) as caches:
        results = grants.save(snapshot, caches, dry_run=getattr(args, "dry_run", False))
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
    state_dir, data_root = _grant_context(args)
    out.result(_save(args, out, state_dir, data_root), None)
    return ExitCode.OK


def _restore(args: argparse.Namespace, out: Output, state_dir, data_root) -> dict[str, Any]:
    from . import grants

    with grants.open_caches(args.cache_dir, args.store, _settings(args)) as caches:
        report = grants.restore(
            caches,
            args.name,
            state_dir=state_dir,
            data_root=data_root,
            force=getattr(args, "force", False),
            dry_run=getattr(args, "dry_run", False),
            newest=getattr(args, "newest", False),
        )
        first = caches[0].label
    for problem in report.problems:
        out.warn(problem)
    if report.source != first:
        out.warn(f"grant restored from {report.source}, not the first cache")
    log.info(
        "grant from %s (%s): replaced %s; kept %s",
        report.source,
        report.key,
        ", ".join(report.applied) or "nothing",
        ", ".join(report.kept) or "nothing",
    )
    return {**vars(report), "created": _iso(report.created_ns)}


def cmd_grant_restore(args: argparse.Namespace, out: Output) -> int:
    state_dir, data_root = _grant_context(args)
    out.result(_restore(args, out, state_dir, data_root), None)
    return ExitCode.OK


def cmd_grant_status(args: argparse.Namespace, out: Output) -> int:
    from . import grants

    state_dir, data_root = _grant_context(args)
    with grants.open_caches(args.cache_dir, args.store, _settings(args)) as caches:
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
    state_dir, data_root = _grant_context(args)
    try:
        _restore(args, out, state_dir, data_root)
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
        _save(args, out, state_dir, data_root)
    except Exception as exc:  # the command's exit code is the result, whatever the save met
        reason = exc if isinstance(exc, ContinuityError) else type(exc).__name__
        out.warn(f"grant not saved after the command: {reason}")
    return 128 - code if code < 0 else code


def cmd_ci_init(args: argparse.Namespace, out: Output) -> int:
    from .ci import render

    text = render(args.provider)
    if not args.output:
        sys.stdout.write(text)
        return ExitCode.OK
    path = Path(args.output)
    if path.exists() and not args.force:
        raise Refused(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return ExitCode.OK


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _iso(time_ns: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(time_ns / 1e9, UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


class _Formatter(logging.Formatter):
    """Lower-case level names; the whole formatted record, traceback included, is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        from .redact import redact

        record.levelname = record.levelname.lower()
        return redact(super().format(record))


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(getattr(args, "quiet", False), getattr(args, "verbose", 0))
    out = Output(getattr(args, "json", False))
    try:
        return int(args.handler(args, out))
    except ContinuityError as exc:
        from .redact import redact

        message = redact(str(exc))
        log.error("%s", message)
        if out.as_json:
            print(
                json.dumps(
                    {
                        "error": {
                            "message": message,
                            "kind": type(exc).__name__,
                            "exit_code": int(exc.exit_code),
                        }
                    },
                    indent=2,
                )
            )
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the local file system said no: a path, a permission, a full disk
        from .redact import redact

        where = f"{exc.filename}: " if exc.filename else ""
        log.error("%s", redact(f"{where}{exc.strerror or exc}"))
        return int(ExitCode.BAD_INPUT)
    except Exception as exc:  # a bug: say so in one line; the traceback is for -vv
        log.debug("internal error", exc_info=True)
        # The exception's text may hold data (a grant); its type and the traceback are enough.
        log.error(
            "internal error: %s (please report it; -vv shows the traceback)", type(exc).__name__
        )
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":
    sys.exit(main())
