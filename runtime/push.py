"""Push a migration directory version to the primary store and every backup, in parallel.

A version is three objects per store, whatever the directory's size: its pack (every file,
compressed), its manifest, and one tag event per tag moved. Per store the write order is pack,
then manifest, then tag events, so a crash at any point leaves every tag pointing at a complete
version; what a store already holds is checked, not trusted. The push succeeds when at least
one store took the whole version; a store that failed makes it ``degraded``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import pack
from .atlas_sum import DIR_FORMATS, MigrationDir
from .errors import BadInput, ContinuityError, IntegrityError, Refused
from .fallback import first_success
from .manifest import (
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    FileEntry,
    Manifest,
    PackRef,
    TagEvent,
    sha256_hex,
)
from .registry import Registry, TagState
from .targets import Target

log = logging.getLogger(__name__)


@dataclass
class StorePushReport:
    url: str
    role: str
    status: str = "pending"
    """ok, failed, or planned (dry run)."""
    pack_written: bool = False
    manifest_written: bool = False
    tags_moved: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    exit_code: int | None = None
    """The exit code this store's failure alone would give."""
    seconds: float = 0.0

    @property
    def objects_written(self) -> int:
        return int(self.pack_written) + int(self.manifest_written) + len(self.tags_moved)


@dataclass
class PushReport:
    repo: str
    digest: str
    tags: list[str]
    status: str
    """ok (every store took it), degraded (some did), failed (none did)."""
    stores: list[StorePushReport]
    warnings: list[str]
    primary: str
    files: int
    pack_bytes: int
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "digest": f"sha256:{self.digest}",
            "tags": self.tags,
            "status": self.status,
            "dry_run": self.dry_run,
            "primary": self.primary,
            "files": self.files,
            "pack_bytes": self.pack_bytes,
            "stores": [
                {
                    "url": s.url,
                    "role": s.role,
                    "status": s.status,
                    "pack_written": s.pack_written,
                    "manifest_written": s.manifest_written,
                    "tags_moved": s.tags_moved,
                    "objects_written": s.objects_written,
                    "seconds": round(s.seconds, 3),
                    "error": s.error,
                    "error_kind": s.error_kind,
                }
                for s in self.stores
            ],
            "warnings": self.warnings,
        }


def _entries(mdir: MigrationDir) -> tuple[FileEntry, ...]:
    return tuple(
        FileEntry(name=name, sha256=sha256_hex(data), size=len(data))
        for name, data in sorted(mdir.files.items())
    )


def build_version(mdir: MigrationDir, repo: str, source: dict[str, str]) -> tuple[Manifest, bytes]:
    """A new version of ``mdir``: its manifest and its pack. A directory past the limits every
    reader enforces is refused here: pushed, it would move a tag to a version no pull reads."""
    expanded = sum(len(data) for data in mdir.files.values())
    if len(mdir.files) > MAX_FILES or expanded > pack.MAX_EXPANDED:
        raise BadInput(
            f"{mdir.path}: {len(mdir.files)} files of {expanded} bytes in all, more than a "
            f"version may hold ({MAX_FILES} files, {pack.MAX_EXPANDED} bytes: docs/FORMAT.md)"
        )
    packed = pack.build(sorted(mdir.files.items()))
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    manifest = Manifest(
        repo=repo,
        dir_format=mdir.dir_format,
        files=_entries(mdir),
        atlas_sum=mdir.sum_text,
        pack=PackRef(sha256_hex(packed), len(packed), pack.COMPRESSION),
        created=created,
        source=source,
    )
    if len(manifest.encode()) > MAX_MANIFEST_BYTES:
        raise BadInput(
            f"{mdir.path}: its manifest would exceed the {MAX_MANIFEST_BYTES} bytes a reader "
            "accepts (docs/FORMAT.md); split the directory or shorten its file names"
        )
    return manifest, packed


class _PackSource:
    """The bytes of the version's pack, made once and only if a store lacks them. A version
    kept from an earlier push is rebuilt here when this machine's zlib gives the same bytes,
    and otherwise copied, verified, from a store that has it."""

    def __init__(
        self,
        mdir: MigrationDir,
        manifest: Manifest,
        registries: list[Registry],
        data: bytes | None = None,
    ) -> None:
        self.mdir, self.ref, self.registries = mdir, manifest.pack, registries
        self.lock = threading.Lock()
        self.data = data

    def get(self) -> bytes:
        with self.lock:
            if self.data is None:
                built = pack.build(sorted(self.mdir.files.items()))
                if sha256_hex(built) == self.ref.sha256:
                    self.data = built
                else:
                    got = first_success(
                        self.registries, lambda r: r.get_pack(self.ref), f"pack {self.ref.sha256}"
                    )
                    self.data = got.value
            return self.data


def push(
    mdir: MigrationDir,
    targets: list[Target],
    repo: str,
    tags: list[str],
    *,
    source: dict[str, str],
    force: bool = False,
    dry_run: bool = False,
    primary_label: str,
    tick: Callable[[], None] = lambda: None,
) -> PushReport:
    registries = [Registry(t.store, repo) for t in targets]
    reports = [StorePushReport(url=t.store.url, role=t.role) for t in targets]

    # The new version is built while the stores answer (compressing leaves the GIL): a
    # changed directory, the usual case, then pays for the slower of the two, not both.
    builder = ThreadPoolExecutor(1, thread_name_prefix="build-version")
    building = builder.submit(build_version, mdir, repo, source)
    builder.shutdown(wait=False)
    surveys = _each(registries, reports, lambda r: _survey(r, tags), threads=len(targets))
    warnings: list[str] = []
    current = _current_versions(registries, surveys, warnings)
    # An unchanged directory keeps its version: a re-run of a pipeline writes nothing new.
    content = (repo, mdir.dir_format, _entries(mdir), mdir.sum_text)
    kept = next((m for _, m in current if m.content == content), None)
    if kept is None:
        manifest, packed = building.result()
        pack_source = _PackSource(mdir, manifest, registries, packed)
    else:
        manifest, pack_source = kept, _PackSource(mdir, kept, registries)
    digest = manifest.digest
    _check_history(manifest, current, force, warnings)
    # One time for every store: concurrent pushes then order the same way everywhere, and
    # failing over from one store to another never changes what a tag resolves to.
    moved_at = time.time_ns()

    def write(i: int) -> None:
        registry, report, survey = registries[i], reports[i], surveys[i]
        moving = [t for t in tags if (s := survey.get(t)) is None or s.event.digest != digest]
        if dry_run:
            report.pack_written = registry.pack_size(manifest.pack.sha256) is None
            report.manifest_written, report.tags_moved = True, moving
            report.status = "planned"
            return
        report.pack_written = _put_checked(
            registry,
            "pack",
            manifest.pack.sha256[:12],
            manifest.pack.size,
            lambda: registry.pack_size(manifest.pack.sha256),
            lambda: registry.put_pack(manifest.pack.sha256, pack_source.get()),
        )
        encoded = manifest.encode()
        report.manifest_written = _put_checked(
            registry,
            "manifest",
            digest[:12],
            len(encoded),
            lambda: registry.manifest_size(digest),
            lambda: registry.put_manifest(manifest),
        )
        for tag in moving:
            previous = survey.get(tag)
            registry.put_tag_event(
                TagEvent(
                    repo=repo,
                    tag=tag,
                    digest=digest,
                    time_ns=moved_at,
                    source=source,
                    previous=previous.event.digest if previous else None,
                )
            )
            report.tags_moved.append(tag)
        report.status = "ok"
        tick()

    live = [i for i, s in enumerate(surveys) if s is not None]
    _each(live, [reports[i] for i in live], write, threads=len(targets))

    succeeded = [r for r in reports if r.status in ("ok", "planned")]
    status = "ok" if len(succeeded) == len(reports) else "degraded" if succeeded else "failed"
    for r in reports:
        if r.status == "failed":
            what = "primary store" if r.role == "primary" else "backup store"
            warnings.append(f"{what} {r.url} did not take the version: {r.error}")
    return PushReport(
        repo=repo,
        digest=digest,
        tags=list(tags),
        status=status,
        stores=reports,
        warnings=warnings,
        primary=primary_label,
        files=len(manifest.files),
        pack_bytes=manifest.pack.size,
        dry_run=dry_run,
    )


def _put_checked(registry: Registry, kind: str, name: str, size: int, stat, put) -> bool:
    """Write an object the store lacks; check one it holds, by its size, rather than trust it.
    Returns whether it was written. An object of the wrong size has rotted: create-only writes
    cannot replace it, so the store cannot hold this version, and says so."""
    held = stat()
    if held is None:
        if put():
            return True
        held = stat()  # another push created it meanwhile: check that one too
    if held != size:
        raise IntegrityError(
            f"{registry.url}: its {kind} {name} is {held} bytes, not {size}: it has rotted, "
            "and this store cannot serve the version (see verify)"
        )
    return False


def _survey(registry: Registry, tags: list[str]) -> dict[str, TagState | None]:
    """The current value of each tag on one store."""
    return {tag: registry.resolve_tag(tag) for tag in tags}


def _each(items: list, reports: list[StorePushReport], fn, *, threads: int) -> list:
    """Run ``fn`` per store in parallel; a store's failure is recorded in its report, and its
    result is None. Failures that are not the store's fault (a refusal) propagate."""

    def run(pair):
        item, report = pair
        started = time.monotonic()
        try:
            return fn(item)
        except Refused:
            raise
        except ContinuityError as exc:
            report.status, report.error, report.error_kind = "failed", str(exc), type(exc).__name__
            report.exit_code = int(exc.exit_code)
            log.debug("%s: %s", report.url, exc)
            return None
        finally:
            report.seconds += time.monotonic() - started

    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(run, zip(items, reports, strict=True)))


def _current_versions(
    registries: list[Registry],
    surveys: list[dict[str, TagState | None] | None],
    warnings: list[str],
) -> list[tuple[str, Manifest]]:
    """The manifests the pushed tags point at now, on any store, each fetched once."""
    found: dict[str, tuple[str, Manifest]] = {}
    for registry, survey in zip(registries, surveys, strict=True):
        for tag, state in (survey or {}).items():
            if state is None or state.event.digest in found:
                continue
            try:
                found[state.event.digest] = (tag, registry.get_manifest(state.event.digest))
            except ContinuityError as exc:
                warnings.append(f"cannot compare with {tag!r} on {registry.url}: {exc}")
    return list(found.values())


def _check_history(
    manifest: Manifest, current: list[tuple[str, Manifest]], force: bool, warnings: list[str]
) -> None:
    """Refuse to move a tag to a version that edits or removes a migration of its current
    version on any store; warn about new migrations that sort before existing ones."""
    counted = DIR_FORMATS[manifest.dir_format]
    new = {f.name: f.sha256 for f in manifest.files}
    new_counted = set(counted(list(new)))
    for tag, previous in current:
        if previous.digest == manifest.digest:
            continue
        old = {f.name: f.sha256 for f in previous.files}
        old_counted = counted(list(old))
        removed = [n for n in old_counted if n not in new]
        edited = [n for n in old_counted if n in new and new[n] != old[n]]
        if (removed or edited) and not force:
            changes = [f"{n} (edited)" for n in edited] + [f"{n} (removed)" for n in removed]
            more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
            raise Refused(
                f"refusing to move tag {tag!r}: version {manifest.digest[:12]} rewrites "
                f"history of {previous.digest[:12]}, which may already be applied: "
                f"{', '.join(changes[:5])}{more}. Add a new migration instead, or pass --force"
            )
        if removed or edited:
            warnings.append(f"--force: tag {tag!r} moves to a version that rewrites history")
        if old_counted:
            last = max(old_counted)
            early = sorted(n for n in new_counted - set(old) if n < last)
            if early:
                warnings.append(
                    f"out-of-order migration(s) {', '.join(early[:5])} sort before {last}, "
                    f"the newest migration of {tag!r}; databases past it need "
                    "'atlas migrate apply --exec-order non-linear'"
                )
