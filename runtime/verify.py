"""``verify``: is every copy intact, and does each store hold what the others hold?

The answer is a matrix, stores across, and down: each tag (is this store's value the newest any
store has?), each version (are its manifest and pack here, and do they verify, file by file?),
and with ``grants`` each grant snapshot. A cell is ``ok``, ``missing`` (a gap that ``sync``
closes), ``behind`` (a tag whose newest move this store lacks, also a gap), ``corrupt``, or
``unavailable`` (the store could not be asked).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import layout
from .errors import ContinuityError, ExitCode, IntegrityError, NotFound
from .inventory import Entry, list_entries, read_verified
from .manifest import Manifest
from .targets import Target

OK, MISSING, BEHIND, CORRUPT, UNAVAILABLE = "ok", "missing", "behind", "corrupt", "unavailable"
GAPS = (MISSING, BEHIND)


@dataclass
class Row:
    kind: str
    """tag, version, event or grant."""
    name: str
    cells: dict[str, str]
    """store URL -> status."""


@dataclass
class VerifyReport:
    repo: str
    stores: list[str]
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What is wrong, one line each, naming the store and the object."""

    @property
    def status(self) -> str:
        cells = {c for row in self.rows for c in row.cells.values()}
        if CORRUPT in cells:
            return CORRUPT
        if UNAVAILABLE in cells:
            return UNAVAILABLE
        return "gaps" if cells & set(GAPS) or self.problems else OK

    @property
    def exit_code(self) -> ExitCode:
        return {
            CORRUPT: ExitCode.INTEGRITY,
            UNAVAILABLE: ExitCode.UNAVAILABLE,
            "gaps": ExitCode.GAPS,
        }.get(self.status, ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "status": self.status,
            "stores": self.stores,
            "rows": [{"kind": r.kind, "name": r.name, "cells": r.cells} for r in self.rows],
            "problems": self.problems,
        }


class _Store:
    """One store's side of the check: what it lists, and each object read once."""

    def __init__(self, target: Target, repo: str, grants: bool, tick: Callable[[], None]):
        self.url, self.store, self.repo, self.tick = target.store.url, target.store, repo, tick
        self.problems: list[str] = []
        self.entries: dict[str, Entry] = {}
        self.down: str | None = None
        self.decoded: dict[str, object] = {}
        self.status: dict[str, str] = {}
        try:
            self.entries, unexpected = list_entries(self.store, repo, grants)
            self.problems += [f"{self.url}: {k}: not an object of the layout" for k in unexpected]
        except ContinuityError as exc:
            self.down = str(exc)

    def check(self, key: str, manifest: Manifest | None = None) -> str:
        """The status of one object here, read and verified at most once."""
        if self.down is not None:
            return UNAVAILABLE
        if key not in self.status:
            entry = self.entries.get(key)
            if entry is None:
                self.status[key] = MISSING
            else:
                self.status[key] = self._read(entry, manifest)
        return self.status[key]

    def _read(self, entry: Entry, manifest: Manifest | None) -> str:
        self.tick()
        try:
            _, self.decoded[entry.key] = read_verified(self.store, self.repo, entry, manifest)
            return OK
        except IntegrityError as exc:
            self.problems.append(str(exc))
            return CORRUPT
        except NotFound:
            return MISSING
        except ContinuityError as exc:
            self.problems.append(str(exc))
            return UNAVAILABLE

    def heads(self) -> dict[str, Entry]:
        """Each tag's newest event here that verifies; events dated ahead are reported."""
        heads: dict[str, Entry] = {}
        for entry in sorted((e for e in self.entries.values() if e.kind == "tag"), key=_newest):
            if entry.name in heads:
                continue
            if entry.ahead_of_clock:
                self.problems.append(
                    f"{self.url}: {entry.key}: tag {entry.name!r} has an event dated ahead of "
                    "this machine's clock; readers ignore it"
                )
            elif self.check(entry.key) == OK:
                heads[entry.name] = entry
        return heads


def _newest(entry: Entry) -> tuple[str, int]:
    return entry.name, -entry.time_ns


def verify(
    targets: list[Target],
    repo: str,
    *,
    tag: str | None = None,
    every: bool = False,
    grants: bool = False,
    tick: Callable[[], None] = lambda: None,
) -> VerifyReport:
    """Check every store: the tags (``tag`` alone, when given), the versions they point at
    (``every``: every version and tag event any store holds), and with ``grants`` the grant
    snapshots."""
    with ThreadPoolExecutor(max(1, len(targets))) as pool:
        sides = list(pool.map(lambda t: _Store(t, repo, grants, tick), targets))
        report = VerifyReport(repo, [s.url for s in sides])
        heads = list(pool.map(lambda s: {} if s.down else s.heads(), sides))
        names = {tag} if tag else {n for h in heads for n in h}
        digests = _tag_rows(report, sides, heads, sorted(names))
        if every:
            events = _union(sides, "tag")
            digests |= {_event_digest(sides, key) for key in events} - {None}
            digests |= {e.name for s in sides for e in s.entries.values() if e.kind == "manifest"}
        manifests = {d: _intact_manifest(sides, d) for d in sorted(digests)}
        for digest, manifest in manifests.items():
            statuses = pool.map(_version(digest, manifest), sides)
            cells = dict(zip(report.stores, statuses, strict=True))
            report.rows.append(Row("version", f"sha256:{digest}", cells))
        if every:
            for key in sorted(events):
                report.rows.append(Row("event", key, _cells(pool, sides, key)))
        if grants:
            for key in sorted(_union(sides, "grant")):
                report.rows.append(Row("grant", key, _cells(pool, sides, key)))
    for side in sides:
        if side.down is not None:
            report.problems.append(side.down)
        report.problems += side.problems
    return report


def _tag_rows(
    report: VerifyReport, sides: list[_Store], heads: list[dict[str, Entry]], names: list[str]
) -> set[str]:
    """A row per tag: is each store's value the newest move any store has? Returns the
    digests the tags point at."""
    digests: set[str] = set()
    for name in names:
        newest = max((h[name].time_ns for h in heads if name in h), default=None)
        cells = {}
        for side, head in zip(sides, heads, strict=True):
            if side.down is not None:
                cells[side.url] = UNAVAILABLE
            elif name not in head:
                cells[side.url] = MISSING
            else:
                digests.add(side.decoded[head[name].key].digest)
                cells[side.url] = OK if head[name].time_ns == newest else BEHIND
        report.rows.append(Row("tag", name, cells))
    return digests


def _union(sides: list[_Store], kind: str) -> set[str]:
    return {k for s in sides for k, e in s.entries.items() if e.kind == kind}


def _event_digest(sides: list[_Store], key: str) -> str | None:
    for side in sides:
        if side.check(key) == OK:
            return side.decoded[key].digest
    return None


def _intact_manifest(sides: list[_Store], digest: str) -> Manifest | None:
    for side in sides:
        key = _manifest_key(side, digest)
        if side.check(key) == OK:
            return side.decoded[key]
    return None


def _manifest_key(side: _Store, digest: str) -> str:
    return layout.manifest_key(side.repo, digest)


def _version(digest: str, manifest: Manifest | None) -> Callable[[_Store], str]:
    """A store's cell for a version: its manifest and its pack, the worse of the two."""

    def cell(side: _Store) -> str:
        states = [side.check(_manifest_key(side, digest))]
        if manifest is None:  # no store has it intact: what this store has is all there is
            return CORRUPT if CORRUPT in states else states[0]
        states.append(side.check(layout.pack_key(side.repo, manifest.pack.sha256), manifest))
        for status in (UNAVAILABLE, CORRUPT, MISSING):
            if status in states:
                return status
        return OK

    return cell


def _cells(pool: ThreadPoolExecutor, sides: list[_Store], key: str) -> dict[str, str]:
    return dict(zip((s.url for s in sides), pool.map(lambda s: s.check(key), sides), strict=True))
