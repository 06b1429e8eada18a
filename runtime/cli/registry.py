"""push, pull, tags and show: the replicated registry's commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import BadInput, ExitCode, NotFound, common_exit_code
from ..text import markdown_table, printable
from . import iso_time, log
from .options import folder_flag, ref_options, store_context, store_options, store_settings

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import AtlasEnv
    from . import Output


def add_commands(sub: argparse._SubParsersAction) -> None:
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
    store_options(push)
    push.set_defaults(handler=cmd_push)

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
    ref_options(pull, "latest")
    pull.add_argument("--force", action="store_true", help="replace a non-empty target directory")
    pull.add_argument(
        "--fallback-on-auth-error",
        action="store_true",
        help="also fall back to the next store when credentials are rejected",
    )
    pull.add_argument(
        "-n", "--dry-run", action="store_true", help="resolve and report, write nothing"
    )
    store_options(pull)
    pull.set_defaults(handler=cmd_pull)

    tags = sub.add_parser("tags", help="list tags and the versions they point to")
    tags.add_argument(
        "--history", action="store_true", help="list every tag move, newest first (the audit log)"
    )
    store_options(tags)
    tags.set_defaults(handler=cmd_tags)

    show = sub.add_parser("show", help="show one version's manifest")
    ref_options(show, "latest")
    store_options(show)
    show.set_defaults(handler=cmd_show)


def _default_dir(given: str | None, env: AtlasEnv | None) -> Path:
    """The DIR argument, else migration.dir of the atlas.hcl env, else ./migrations."""
    from pathlib import Path

    path = folder_flag("DIR", given)
    if path is not None:
        return path
    if env and env.dir and env.dir.startswith("file://"):
        folder = env.dir.removeprefix("file://")
        if not folder:  # not the current folder, which a --force pull would replace
            raise BadInput(f"migration.dir {env.dir!r} in --config names no folder")
        return Path(folder)
    return Path("migrations")


def cmd_push(args: argparse.Namespace, out: Output) -> int:
    from .. import atlas_sum, provenance
    from ..layout import check_name
    from ..progress import progress
    from ..push import push
    from ..targets import open_targets

    repo, plan, env = store_context(args)
    # Each tag once: a repeated --tag is one move, not two events reported as two writes.
    tags = list(dict.fromkeys(check_name("tag", t) for t in (args.tag or ["latest"])))
    dir_format = args.dir_format or (env.dir_format if env else None) or "atlas"
    directory = _default_dir(args.dir, env)
    mdir = atlas_sum.read_dir(directory, dir_format)
    with (
        open_targets(plan, store_settings(args, create_store=True)) as targets,
        progress("pushing", len(targets), out.show_progress, unit="store") as tick,
    ):
        report = push(
            mdir,
            targets,
            repo,
            tags,
            source=provenance.collect(directory),
            force=args.force,
            dry_run=args.dry_run,
            primary_label=plan.primary_label,
            tick=tick,
        )
    if plan.primary is None:
        log.info("primary is %s; pushed to the backups only", plan.primary_label)
    for warning in report.warnings:
        out.warn(warning)
    for s in report.stores:
        log.info(
            "%s %s: %s, pack %s, manifest %s, tags moved: %s",
            s.role,
            s.url,
            s.status,
            "written" if s.pack_written else "present",
            "written" if s.manifest_written else "present",
            ", ".join(s.tags_moved) or "none",
        )
    # A version no store holds is not a result: print the digest only when one took it.
    out.result(report.to_json(), None if report.status == "failed" else f"sha256:{report.digest}")
    out.summary(
        f"### Push of `{report.repo}`: {report.status}, version `sha256:{report.digest[:12]}`\n\n"
        + markdown_table(
            ("store", "role", "status", "objects written", "seconds"),
            [
                (s.url, s.role, s.error or s.status, s.objects_written, f"{s.seconds:.2f}")
                for s in report.stores
            ],
        )
    )
    if report.status == "failed":
        codes = {s.exit_code for s in report.stores}
        log.error("push failed: no store took version %s", report.digest[:12])
        return int(common_exit_code(codes))
    if report.status == "degraded":
        ok = sum(s.status in ("ok", "planned") for s in report.stores)
        out.warn(f"push degraded: {ok} of {len(report.stores)} stores took the version")
    return ExitCode.OK


def cmd_pull(args: argparse.Namespace, out: Output) -> int:
    from ..pull import pull
    from ..targets import open_targets

    repo, plan, env = store_context(args)
    directory = _default_dir(args.dir, env)
    with open_targets(plan, store_settings(args)) as targets:
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
    if report.files_from is not None:
        log.info("manifest from %s, files from %s", report.manifest_from, report.files_from)
    out.result(report.to_json(), None)
    out.summary(
        f"### Pull of `{report.repo}` `{report.ref}`: version `sha256:{report.digest[:12]}`\n\n"
        + markdown_table(
            ("manifest from", "files from", "problems"),
            [(report.manifest_from, report.files_from or "-", "; ".join(report.problems) or "-")],
        )
    )
    return ExitCode.OK


def cmd_tags(args: argparse.Namespace, out: Output) -> int:
    from ..fallback import first_success
    from ..registry import Registry
    from ..targets import open_targets

    repo, plan, _ = store_context(args)
    with open_targets(plan, store_settings(args)) as targets:
        registries = [Registry(t.store, repo) for t in targets]
        read = Registry.tag_history if args.history else Registry.tag_heads
        found = first_success(registries, lambda r: _nonempty(r, read), f"tags of {repo!r}")
    states = found.value
    rows = [
        {
            "tag": s.tag,
            "digest": f"sha256:{s.event.digest}",
            "time": iso_time(s.event.time_ns),
            "source": s.event.source,
            "previous": s.event.previous and f"sha256:{s.event.previous}",
            "ignored": s.ahead_of_clock,
        }
        for s in states
    ]
    text = "\n".join(
        "\t".join(
            printable(field)
            for field in (
                r["tag"],
                r["digest"],
                r["time"],
                r["source"].get("git_commit", "-")[:12],
                r["source"].get("ci_run_url", ""),
                "(dated ahead of this machine's clock: ignored)" if r["ignored"] else "",
            )
        ).rstrip()
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
    from ..pull import resolve
    from ..registry import Registry
    from ..targets import open_targets

    repo, plan, _ = store_context(args)
    with open_targets(plan, store_settings(args)) as targets:
        registries = [Registry(t.store, repo) for t in targets]
        found = resolve(registries, tag=args.tag, digest=args.digest, fallback_on_auth=False)
    m = found.manifest
    lines = [
        f"digest:     sha256:{found.digest}",
        f"repo:       {m.repo}",
        f"format:     {m.dir_format}",
        f"created:    {printable(m.created)}",
        *(f"{printable(k) + ':':<11} {printable(v)}" for k, v in sorted(m.source.items())),
        f"files:      {len(m.files)}",
        *(f"  {printable(f.name)}  {f.size}  sha256:{f.sha256[:12]}" for f in m.files),
    ]
    obj = {
        "digest": f"sha256:{found.digest}",
        "primary": plan.primary_label,
        "store": found.registry.url,
        **m.to_json(),
    }
    out.result(obj, "\n".join(lines))
    return ExitCode.OK
