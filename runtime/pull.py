"""Pull a migration directory version: resolve, fetch, verify every byte, then move into place.

Resolution tries the primary, then each backup in order: one LIST and one GET for the tag, one
GET for the manifest. The pack (every file, compressed) is then one GET, from the store that
served the manifest first and from the others in order when it is missing or corrupt. The
rebuilt directory must pass Atlas's own atlas.sum check before it replaces the target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atlas_sum, pack
from .atomic_dir import replace_dir
from .errors import BadInput, IntegrityError, NotFound
from .fallback import Attempt, first_success
from .layout import check_digest, check_name
from .manifest import Manifest
from .registry import Registry
from .targets import Target

log = logging.getLogger(__name__)


@dataclass
class Resolved:
    manifest: Manifest
    digest: str
    registry: Registry
    failures: list[Attempt]


@dataclass
class PullReport:
    repo: str
    ref: str
    digest: str
    dest: str
    manifest_from: str
    files_from: str | None
    """The store whose pack served the files (None in a dry run)."""
    problems: list[str]
    primary: str
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "primary": self.primary,
            "ref": self.ref,
            "digest": f"sha256:{self.digest}",
            "dest": self.dest,
            "dry_run": self.dry_run,
            "manifest_from": self.manifest_from,
            "files_from": self.files_from,
            "problems": self.problems,
        }


def resolve(
    registries: list[Registry], *, tag: str | None, digest: str | None, fallback_on_auth: bool
) -> Resolved:
    """Find a version's manifest on the first store that has it intact."""
    if digest is not None:
        hexd = check_digest(digest)

        def by_digest(r: Registry) -> tuple[Manifest, str]:
            return r.get_manifest(hexd), hexd

        fn, what = by_digest, f"version sha256:{hexd[:12]}"
    else:
        # An empty --tag (an unset variable) is refused, never read as the default.
        name = check_name("tag", "latest" if tag is None else tag)

        def by_tag(r: Registry) -> tuple[Manifest, str]:
            state = r.resolve_tag(name)
            if state is None:
                raise NotFound(f"{r.url}: tag {name!r} not found")
            return r.get_manifest(state.event.digest), state.event.digest

        fn, what = by_tag, f"tag {name!r}"
    result = first_success(registries, fn, what, fallback_on_auth=fallback_on_auth)
    manifest, hexd = result.value
    return Resolved(manifest, hexd, result.registry, result.failures)


def pull(
    targets: list[Target],
    repo: str,
    dest: Path,
    *,
    tag: str | None = None,
    digest: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    fallback_on_auth: bool = False,
    primary_label: str = "",
) -> PullReport:
    registries = [Registry(t.store, repo) for t in targets]
    found = resolve(registries, tag=tag, digest=digest, fallback_on_auth=fallback_on_auth)
    manifest = found.manifest
    problems = [a.error for a in found.failures]
    ref = f"sha256:{found.digest}" if digest else (tag or "latest")
    report = PullReport(
        repo=repo,
        ref=ref,
        digest=found.digest,
        dest=str(dest),
        manifest_from=found.registry.url,
        files_from=None,
        problems=problems,
        primary=primary_label,
        dry_run=dry_run,
    )
    if dry_run:
        return report

    order = [found.registry] + [r for r in registries if r is not found.registry]

    def fetch(r: Registry) -> dict[str, bytes]:
        return dict(pack.unpack(r.get_pack(manifest.pack), manifest.files, r.url))

    got = first_success(
        order,
        fetch,
        f"pack {manifest.pack.sha256[:12]} of version {found.digest[:12]}",
        fallback_on_auth=fallback_on_auth,
    )
    files = got.value
    report.files_from = got.registry.url
    report.problems.extend(a.error for a in got.failures if a.is_news)

    def check(built: Path) -> None:
        try:  # re-read what was written: the check covers the bytes on disk
            atlas_sum.read_dir(built, manifest.dir_format)
        except BadInput as exc:
            raise IntegrityError(
                f"version {found.digest[:12]} fails its atlas.sum: {exc}"
            ) from None

    replace_dir(
        dest,
        {**files, atlas_sum.SUM_FILE: manifest.atlas_sum.encode()},
        force=force,
        before_swap=check,
    )
    return report
