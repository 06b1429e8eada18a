"""``sync``: give every store what another store holds and it lacks, after an outage.

Create-only: nothing is overwritten or deleted, so sync may run while pushes run, and may be
killed at any point. Only bytes read back verified are copied, so a corrupt object is never
spread. Copies keep the write order of a push: a pack before the manifest that names it, a
version before a tag event that points at it, so a store never holds a tag it cannot serve.
Tag events and grant snapshots dated ahead of the clock are not copied: readers ignore them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import layout
from .errors import ContinuityError, ExitCode
from .inventory import KINDS, Entry, list_entries, read_verified
from .manifest import Manifest, TagEvent
from .stores.base import ObjectExists
from .targets import Target


@dataclass
class StoreSync:
    url: str
    copied: Counter[str] = field(default_factory=Counter)
    """Objects written (planned, in a dry run), by kind."""
    error: str | None = None
    """Why this store could not take part (unreachable, say)."""


@dataclass
class SyncReport:
    repo: str
    stores: list[StoreSync]
    problems: list[str]
    dry_run: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if any(s.error for s in self.stores):
            return ExitCode.UNAVAILABLE
        return ExitCode.INTEGRITY if self.problems else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "dry_run": self.dry_run,
            "stores": [
                {"url": s.url, "copied": dict(s.copied), "error": s.error} for s in self.stores
            ],
            "problems": self.problems,
        }


class _Side:
    def __init__(self, target: Target, repo: str, grants: bool) -> None:
        self.store, self.repo = target.store, repo
        self.report = StoreSync(target.store.url)
        self.entries: dict[str, Entry] = {}
        try:
            self.entries, _ = list_entries(self.store, repo, grants)
        except ContinuityError as exc:
            self.report.error = str(exc)

    @property
    def live(self) -> bool:
        return self.report.error is None


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
    report = SyncReport(repo, [s.report for s in sides], [], dry_run)
    union: dict[str, Entry] = {}
    for side in live:
        union.update(side.entries)
    cache: dict[str, tuple[bytes, object] | None] = {}

    def verified(entry: Entry, manifest: Manifest | None = None) -> tuple[bytes, object] | None:
        """The object as the first store holding it intact serves it, read once."""
        if entry.key not in cache:
            cache[entry.key] = None
            for side in live:
                if entry.key in side.entries:
                    tick()
                    try:
                        cache[entry.key] = read_verified(side.store, repo, entry, manifest)
                        break
                    except ContinuityError as exc:
                        report.problems.append(f"not copied from here: {exc}")
            if cache[entry.key] is None:
                report.problems.append(f"{entry.key}: no store holds it intact; not copied")
        return cache[entry.key]

    # What each pack's files are: a pack is copied only verified file by file.
    manifests = {
        e.name: found[1]
        for e in union.values()
        if e.kind == "manifest" and (found := verified(e)) is not None
    }
    by_pack = {m.pack.sha256: m for m in manifests.values()}
    for kind in KINDS:
        for key in sorted(k for k, e in union.items() if e.kind == kind):
            entry = union[key]
            if entry.ahead_of_clock:
                report.problems.append(f"{key}: dated ahead of this machine's clock; not copied")
                continue
            for side in live:
                if key in side.entries or not _ready(side, entry, manifests, verified):
                    continue
                found = verified(entry, by_pack.get(entry.name) if kind == "pack" else None)
                if found is None:
                    break
                if not dry_run:
                    try:
                        side.store.put(key, found[0])
                    except ObjectExists:  # a push or another sync wrote it meanwhile
                        pass
                    except ContinuityError as exc:
                        side.report.error = str(exc)
                        continue
                side.entries[key] = entry
                side.report.copied[kind] += 1
    return report


def _ready(
    side: _Side,
    entry: Entry,
    manifests: dict[str, Manifest],
    verified: Callable[[Entry], tuple[bytes, object] | None],
) -> bool:
    """Whether ``side`` may take ``entry`` now: a manifest once it has its pack, a tag event
    once it has its version; a pack only if a manifest names it (an orphan from a killed push
    serves no one)."""
    if not side.live:
        return False
    if entry.kind == "pack":
        return any(m.pack.sha256 == entry.name for m in manifests.values())
    if entry.kind == "manifest":
        manifest = manifests.get(entry.name)
        return manifest is not None and (
            layout.pack_key(side.repo, manifest.pack.sha256) in side.entries
        )
    if entry.kind == "tag":
        found = verified(entry)
        if found is None:
            return False
        event: TagEvent = found[1]  # type: ignore[assignment]
        return layout.manifest_key(side.repo, event.digest) in side.entries
    return True
