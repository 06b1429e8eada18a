"""``sync``: give every store what another store holds and it lacks, after an outage.

Create-only: nothing is overwritten or deleted, so sync may run while pushes run, and may be
killed at any point. Only bytes read back verified are copied, so a corrupt object is never
spread. Copies keep the write order of a push: a pack before the manifest that names it, a
version before a tag event that points at it; and what a store already holds is verified before
anything is written on top of it, so a store never holds a tag it cannot serve. Tag events and
grant snapshots dated ahead of the clock are not copied: readers ignore them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import layout
from .errors import ContinuityError, ExitCode, IntegrityError, NotFound, gravest
from .inventory import KINDS, Entry, held_by_any, list_entries, read_verified
from .manifest import Manifest, TagEvent
from .stores.base import ObjectExists, Store
from .targets import Target


@dataclass
class StoreSync:
    url: str
    copied: Counter[str] = field(default_factory=Counter)
    """Objects written (planned, in a dry run), by kind."""
    error: str | None = None
    """Why this store could not take part (unreachable, say)."""
    error_code: ExitCode | None = None


@dataclass
class SyncReport:
    repo: str
    stores: list[StoreSync]
    problems: list[str]
    """Gaps sync could not close: nothing intact to copy, or a corrupt object in the way."""
    warnings: list[str] = field(default_factory=list)
    """What sync met and stepped around: a corrupt copy it read past, a move dated ahead."""
    dry_run: bool = False

    @property
    def exit_code(self) -> ExitCode:
        codes = [s.error_code for s in self.stores if s.error_code is not None]
        return gravest(codes + [ExitCode.INTEGRITY] * bool(self.problems))

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "dry_run": self.dry_run,
            "stores": [
                {"url": s.url, "copied": dict(s.copied), "error": s.error} for s in self.stores
            ],
            "problems": self.problems,
            "warnings": self.warnings,
        }


class _Side:
    def __init__(self, target: Target, repo: str, grants: bool) -> None:
        self.store, self.repo = target.store, repo
        self.report = StoreSync(target.store.url)
        self.entries: dict[str, Entry] = {}
        self.intact: dict[str, bool] = {}
        """Objects this store held before, read back: do they verify? What sync wrote does."""
        try:
            self.entries, _ = list_entries(self.store, repo, grants)
        except ContinuityError as exc:
            self.fail(exc)

    @property
    def live(self) -> bool:
        return self.report.error is None

    def fail(self, exc: ContinuityError) -> None:
        self.report.error, self.report.error_code = str(exc), exc.exit_code

    def holds_intact(self, key: str, manifest: Manifest | None, problems: list[str]) -> bool:
        """Whether this store holds ``key`` and it verifies: the ground a copy stands on."""
        entry = self.entries.get(key)
        if entry is None or not self.live:
            return False
        if key not in self.intact:
            try:
                read_verified(self.store, self.repo, entry, manifest)
                self.intact[key] = True
            except IntegrityError as exc:
                problems.append(f"{exc}; nothing is written on top of it (see verify)")
                self.intact[key] = False
            except ContinuityError as exc:
                self.fail(exc)
                return False
        return self.intact[key]

    def took(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry
        self.intact[key] = True


def sync(
    targets: list[Target],
    repo: str,
    *,
    grants: bool = False,
    dry_run: bool = False,
    tick: Callable[[], None] = lambda: None,
) -> SyncReport:
    sides = [_Side(t, repo, grants) for t in targets]
    live = [s for s in sides if s.live]
    report = SyncReport(repo, [s.report for s in sides], [], dry_run=dry_run)
    union: dict[str, Entry] = {}
    for side in live:
        union.update(side.entries)
    cache: dict[str, tuple[bytes, object] | None] = {}

    def verified(entry: Entry, manifest: Manifest | None = None) -> tuple[bytes, object] | None:
        """The object as the first store holding it intact serves it, read once."""
        if entry.key not in cache:
            cache[entry.key] = None
            for side in live:
                if entry.key in side.entries and side.live:
                    tick()
                    try:
                        cache[entry.key] = read_verified(side.store, repo, entry, manifest)
                        break
                    except (IntegrityError, NotFound) as exc:
                        report.warnings.append(f"not copied from here: {exc}")
                    except ContinuityError as exc:  # the store went down: not a corrupt copy
                        side.fail(exc)
        return cache[entry.key]

    # What each pack's files are: a pack is copied only verified file by file.
    manifests = {
        e.name: found[1]
        for e in union.values()
        if e.kind == "manifest" and (found := verified(e)) is not None
    }
    by_pack = {m.pack.sha256: m for m in manifests.values()}
    for digest, manifest in sorted(manifests.items()):
        pack = layout.pack_key(repo, manifest.pack.sha256)
        if pack not in union and not held_by_any([s.store for s in live], pack):
            report.problems.append(
                f"version sha256:{digest}: its pack is on no store; the version is lost "
                "(restore the pack from the buckets' versioning)"
            )
    ground = _Ground(repo, manifests, report.problems, set(union), [s.store for s in live])
    for kind in KINDS:
        for key in sorted(k for k, e in union.items() if e.kind == kind):
            entry = union[key]
            lacking = [s for s in live if s.live and key not in s.entries]
            if not lacking or (kind == "pack" and entry.name not in by_pack):
                continue  # a pack no manifest names is left by a killed push: it serves no one
            if entry.ahead_of_clock:
                holders = ", ".join(s.store.url for s in live if key in s.entries)
                report.warnings.append(
                    f"{key} (on {holders}): dated ahead of this machine's clock; not copied"
                )
                continue
            found = verified(entry, by_pack.get(entry.name) if kind == "pack" else None)
            if found is None:
                if not any(s.live and key in s.entries for s in live):
                    continue  # its holders went down: their errors say so, not corruption
                report.problems.append(
                    f"{key}: no store holds it intact; not copied to "
                    + ", ".join(s.store.url for s in lacking)
                )
                continue
            for side in lacking:
                if ground.ready(side, entry, found[1]):
                    _copy(side, key, entry, found[0], dry_run)
    return report


def _copy(side: _Side, key: str, entry: Entry, data: bytes, dry_run: bool) -> None:
    if not dry_run:
        try:
            side.store.put(key, data)
        except ObjectExists:  # a push or another sync wrote it meanwhile: check it, not trust it
            side.entries[key] = entry
            return
        except ContinuityError as exc:
            side.fail(exc)
            return
    side.took(key, entry)
    side.report.copied[entry.kind] += 1


@dataclass
class _Ground:
    """Whether a store may take an object now: a manifest once it holds the pack intact, a
    tag event once it holds the version intact; grant snapshots stand alone."""

    repo: str
    manifests: dict[str, Manifest]
    problems: list[str]
    listed: set[str]
    """Every key some store listed."""
    stores: list[Store]

    def ready(self, side: _Side, entry: Entry, decoded: object) -> bool:
        if entry.kind == "manifest":
            return self._version(side, self.manifests[entry.name])
        if entry.kind == "tag":
            event: TagEvent = decoded  # type: ignore[assignment]
            manifest = self.manifests.get(event.digest)
            if manifest is None:
                key = layout.manifest_key(self.repo, event.digest)
                if key not in self.listed and held_by_any(self.stores, key):
                    return False  # a push wrote it after the listing: the next sync copies both
                self.problems.append(
                    f"{entry.key}: points at version sha256:{event.digest}, which no store holds "
                    f"intact; not copied to {side.store.url}"
                )
                return False
            return self._version(side, manifest, with_manifest=True)
        return True

    def _version(self, side: _Side, manifest: Manifest, with_manifest: bool = False) -> bool:
        pack = layout.pack_key(self.repo, manifest.pack.sha256)
        if not side.holds_intact(pack, manifest, self.problems):
            return False
        return not with_manifest or side.holds_intact(
            layout.manifest_key(self.repo, manifest.digest), None, self.problems
        )
