"""``verify``: is every copy intact, and does each store hold what the others hold?

The answer is a matrix, stores across, and down: each tag (is this store's value the newest any
store has, and does its newest move verify?), each version (are its manifest and pack here, and
do they verify, file by file?), with ``every`` each tag event and each pack no manifest names,
and with ``grants`` each grant snapshot. A cell is ``ok``, ``missing`` (a gap that ``sync``
closes), ``behind`` (a tag whose newest move this store lacks, also a gap), ``corrupt``,
``unavailable`` (the store could not be asked), or ``-`` (not held, and not expected: a pack
left by a killed push).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import layout
from .errors import ContinuityError, ExitCode, IntegrityError, NotFound, gravest
from .inventory import Entry, held_by_any, list_entries, read_verified
from .manifest import Manifest
from .targets import Target

OK, MISSING, BEHIND, CORRUPT, UNAVAILABLE, ABSENT = (
    "ok",
    "missing",
    "behind",
    "corrupt",
    "unavailable",
    "-",
)
GAPS = (MISSING, BEHIND)


@dataclass
class Row:
    kind: str
    """tag, version, event, pack or grant."""
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
    warnings: list[str] = field(default_factory=list)
    """What is odd but harms no copy: keys the layout does not name."""
    status: str = OK
    """ok, gaps, corrupt, unavailable or not-found."""
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "status": self.status,
            "stores": self.stores,
            "rows": [{"kind": r.kind, "name": r.name, "cells": r.cells} for r in self.rows],
            "problems": self.problems,
            "warnings": self.warnings,
        }


class _Store:
    """One store's side of the check: what it lists, and each object read once."""

    def __init__(self, target: Target, repo: str, grants: bool, tick: Callable[[], None]):
        self.url, self.store, self.repo, self.tick = target.store.url, target.store, repo, tick
        self.problems: list[str] = []
        self.unexpected: list[str] = []
        self.entries: dict[str, Entry] = {}
        self.down: ContinuityError | None = None
        self.decoded: dict[str, object] = {}
        self.status: dict[str, str] = {}
        self.broken_tags: dict[str, str] = {}
        """Tags whose newest move here is corrupt or could not be read, and which: a reader of
        this store fails on it."""
        self.skewed = False
        try:
            self.entries, unexpected = list_entries(self.store, repo, grants)
            self.unexpected = [f"{self.url}: {k}: not an object of the layout" for k in unexpected]
        except ContinuityError as exc:
            self.down = exc

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

    def heads(self, only: str | None) -> dict[str, Entry]:
        """Each tag's newest move here (``only``: that tag's), as a reader resolves it: events
        dated ahead of the clock are left out (and reported); a newest move that does not
        verify, or cannot be read, breaks the tag here, as readers do not fall back to an
        older one."""
        heads: dict[str, Entry] = {}
        seen: set[str] = set()
        events = (e for e in self.entries.values() if e.kind == "tag" and only in (None, e.name))
        for entry in sorted(events, key=_newest):
            if entry.name in seen:
                continue
            if self.note_ahead([entry]):
                continue
            seen.add(entry.name)
            status = self.check(entry.key)
            if status == OK:
                heads[entry.name] = entry
            elif status != MISSING:
                self.broken_tags[entry.name] = status
        return heads

    def note_ahead(self, entries: Iterable[Entry]) -> bool:
        """Report those of ``entries`` dated ahead of the clock: readers ignore them and sync
        copies none, so the gap they leave stays until that time. Whether there were any."""
        ahead = [e for e in entries if e.ahead_of_clock]
        for entry in ahead:
            self.problems.append(
                f"{self.url}: {entry.key}: {entry.kind} {entry.name!r}: dated ahead of this "
                "machine's clock; readers ignore it and sync does not copy it until then"
            )
        self.skewed = self.skewed or bool(ahead)
        return bool(ahead)


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
    (``every``: every version, tag event and pack any store holds), and with ``grants`` the
    grant snapshots."""
    with ThreadPoolExecutor(max(1, len(targets))) as pool:
        sides = list(pool.map(lambda t: _Store(t, repo, grants, tick), targets))
        report = VerifyReport(repo, [s.url for s in sides])
        heads = list(pool.map(lambda s: {} if s.down else s.heads(tag), sides))
        names = {tag} if tag else {n for h in heads for n in h} | _broken_tags(sides)
        digests = _tag_rows(report, sides, heads, sorted(names))
        if every:
            events = _union(sides, "tag")
            digests |= {_event_digest(sides, key) for key in events} - {None}
            digests |= {e.name for s in sides for e in s.entries.values() if e.kind == "manifest"}
        manifests = {d: _intact_manifest(sides, d) for d in sorted(digests)}
        lost: list[str] = []
        for digest, manifest in manifests.items():
            statuses = pool.map(_version(digest, manifest), sides)
            cells = dict(zip(report.stores, statuses, strict=True))
            report.rows.append(Row("version", f"sha256:{digest}", cells))
            if set(cells.values()) == {MISSING} and _whole_nowhere(sides, digest, manifest):
                lost.append(
                    f"version sha256:{digest} is whole on no store: it is lost (restore its "
                    "objects from the buckets' versioning)"
                )
        if every:
            for key in sorted(events):
                report.rows.append(Row("event", key, _cells(pool, sides, key)))
            named = {m.pack.sha256 for m in manifests.values() if m is not None}
            for key in sorted(k for k in _union(sides, "pack") if k.rsplit("/", 1)[1] not in named):
                report.rows.append(Row("pack", key, _cells(pool, sides, key, held_only=True)))
        if grants:
            for key in sorted(_union(sides, "grant")):
                report.rows.append(Row("grant", key, _cells(pool, sides, key)))
            for side in sides:
                side.note_ahead(e for e in side.entries.values() if e.kind == "grant")
    for side in sides:
        if side.down is not None:
            report.problems.append(str(side.down))
        report.problems += side.problems
        report.warnings += side.unexpected
    report.problems += lost
    _conclude(report, sides, lost=bool(lost), tag=tag)
    return report


def _conclude(report: VerifyReport, sides: list[_Store], *, lost: bool, tag: str | None) -> None:
    """The status and exit code: the gravest thing found."""
    cells = {c for row in report.rows for c in row.cells.values()}
    codes = [s.down.exit_code for s in sides if s.down is not None]
    if CORRUPT in cells or lost:
        codes.append(ExitCode.INTEGRITY)
    if UNAVAILABLE in cells:
        codes.append(ExitCode.UNAVAILABLE)
    found = any(c not in (MISSING, ABSENT) for c in cells)
    if found and (cells & set(GAPS) or any(s.skewed for s in sides)):
        codes.append(ExitCode.GAPS)
    if not codes and not found:
        codes.append(ExitCode.NOT_FOUND)
        what = f"tag {tag!r} of {report.repo!r}" if tag else f"repository {report.repo!r}"
        report.problems.append(
            f"{what}: nothing on any store; check the repository name and the store URLs"
        )
    report.exit_code = gravest(codes)
    report.status = {
        ExitCode.OK: OK,
        ExitCode.GAPS: "gaps",
        ExitCode.INTEGRITY: CORRUPT,
        ExitCode.NOT_FOUND: "not-found",
    }.get(report.exit_code, UNAVAILABLE)


def _broken_tags(sides: list[_Store]) -> set[str]:
    return {name for s in sides for name in s.broken_tags}


def _tag_rows(
    report: VerifyReport, sides: list[_Store], heads: list[dict[str, Entry]], names: list[str]
) -> set[str]:
    """A row per tag: is each store's value the newest move any store has, and readable?
    Returns the digests the tags point at."""
    digests: set[str] = set()
    for name in names:
        newest = max((h[name].time_ns for h in heads if name in h), default=None)
        cells = {}
        for side, head in zip(sides, heads, strict=True):
            if side.down is not None:
                cells[side.url] = UNAVAILABLE
            elif name in side.broken_tags:
                cells[side.url] = side.broken_tags[name]
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


def _whole_nowhere(sides: list[_Store], digest: str, manifest: Manifest | None) -> bool:
    """Whether a version every store lacks is lost: no store holds its manifest intact, or
    none its pack, so sync has nothing to close the gap with."""
    if manifest is None:
        key = _manifest_key(sides[0], digest)
    else:
        key = layout.pack_key(sides[0].repo, manifest.pack.sha256)
        if any(side.check(key, manifest) == OK for side in sides):
            return False  # one store the pack, another the manifest: sync joins them
    return not held_by_any([side.store for side in sides], key)


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


def _cells(
    pool: ThreadPoolExecutor, sides: list[_Store], key: str, *, held_only: bool = False
) -> dict[str, str]:
    """Each store's status of one object; with ``held_only`` a store without it is ``-``, not
    a gap (a pack no manifest names is copied nowhere)."""

    def cell(side: _Store) -> str:
        if held_only and side.down is None and key not in side.entries:
            return ABSENT
        return side.check(key)

    return dict(zip((s.url for s in sides), pool.map(cell, sides), strict=True))
