"""``drill``: restore from each store alone, as if it were the only one left.

Per store: does the tag's version restore (every byte verified, ``atlas.sum`` checked), how many
moves of the tag it lags behind the newest any store holds (its RPO, in versions), how long the
restore took (its RTO), and with a grant series named, whether the newest grant restores too.
Nothing is written outside a temporary folder, and each store's copy is gone before the next.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import grants, layout, ownership
from .errors import TROUBLE, ContinuityError, ExitCode, IntegrityError, NotFound, gravest, trouble
from .inventory import Entry, held_by_any, read_verified
from .manifest import TagEvent
from .pull import pull
from .registry import Registry
from .stores.base import Store
from .targets import Target
from .text import markdown_table

_CODES = {word: code for code, word in TROUBLE.items()}
SCRATCH = ".atlas-continuity-drill"
"""Where in the system's temporary folder a drill restores (ownership.scratch_dir)."""


@dataclass
class Restore:
    """One thing restored from one store alone: the tag's version, or the newest grant."""

    restores: bool = False
    problem: str | None = None
    """corrupt, missing, credentials rejected, misconfigured or unavailable; None if it restores."""
    error: str | None = None

    def failed(self, exc: ContinuityError) -> None:
        self.problem, self.error = trouble(exc), str(exc)


@dataclass
class StoreDrill(Restore):
    url: str = ""
    digest: str | None = None
    lag: int | None = None
    """Moves of the tag newer than this store's value, on any store; None: not known."""
    rto_seconds: float | None = None
    grant: Restore | None = None
    """None when no grant series was asked for."""


@dataclass
class DrillReport:
    repo: str
    tag: str
    max_lag: int
    grant: str | None = None
    stores: list[StoreDrill] = field(default_factory=list)
    tag_exists: bool = False
    """Some store holds a move of the tag that verifies."""
    lost: list[str] = field(default_factory=list)
    """Versions the tag points at on some store that no store holds."""

    @property
    def exit_code(self) -> ExitCode:
        tag_missing = ExitCode.GAPS if self.tag_exists else ExitCode.NOT_FOUND
        codes = [_code(s, tag_missing) for s in self.stores]
        # A grant is kept where `grant save --store` put it: a store without it is listed, not
        # failed, as long as one store restores it.
        restored = any(s.grant and s.grant.restores for s in self.stores)
        grant_missing = ExitCode.OK if restored else ExitCode.NOT_FOUND
        codes += [_code(s.grant, grant_missing) for s in self.stores if s.grant]
        if self.lost:
            codes.append(ExitCode.INTEGRITY)
        lagging = any(self.behind(s) for s in self.stores if s.restores)
        return gravest(codes + [ExitCode.GAPS] * lagging)

    def behind(self, store: StoreDrill) -> bool:
        """Whether ``store`` lags more tag moves than allowed, or by an unknown number."""
        return store.lag is None or store.lag > self.max_lag

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "tag": self.tag,
            "max_lag": self.max_lag,
            "grant": self.grant,
            "ok": self.exit_code == ExitCode.OK,
            "lost": self.lost,
            "exit_code": int(self.exit_code),
            "stores": [asdict(s) for s in self.stores],
        }

    def markdown(self) -> str:
        """A table a reviewer reads at a glance (GitHub's job summary)."""
        verdict = "passed" if self.exit_code == ExitCode.OK else "FAILED"
        rows = []
        for s in self.stores:
            lag = "?" if s.lag is None else str(s.lag)
            if self.behind(s):
                lag = f"**{lag}**"
            row = [s.url, _cell(s), lag, "-" if s.rto_seconds is None else f"{s.rto_seconds:.2f} s"]
            rows.append(row + ([_cell(s.grant)] if s.grant else []))
        header = ["store", "restores", "versions behind", "restore time"]
        header += [f"grant `{self.grant}`"] if self.grant else []
        title = f"### Restore drill of `{self.repo}` `{self.tag}`: {verdict}\n\n"
        return title + markdown_table(header, rows)


def _cell(r: Restore) -> str:
    return "yes" if r.restores else f"**no** ({r.problem}): {r.error}"


def _code(r: Restore, missing: ExitCode) -> ExitCode:
    """What one failed restore means for the drill; ``missing``: what a store that lacks it
    means (a gap when another store holds it, not found when none does)."""
    if r.problem is None:
        return ExitCode.OK
    return missing if r.problem == "missing" else _CODES.get(r.problem, ExitCode.UNAVAILABLE)


def drill(
    targets: list[Target],
    repo: str,
    *,
    tag: str = "latest",
    grant: str | None = None,
    max_lag: int = 0,
    tick: Callable[[], None] = lambda: None,
) -> DrillReport:
    report = DrillReport(repo, layout.check_name("tag", tag), max_lag, grant)
    moves = _Moves(targets, repo, tag)
    report.tag_exists = any(head is not None for head in moves.heads.values())
    for target in targets:
        url = target.store.url
        result = StoreDrill(url=url, lag=moves.lag(url))
        report.stores.append(result)
        if url in moves.errors:  # the store could not even be listed: say why, not "skipped"
            result.failed(moves.errors[url])
        else:
            _restore(target, repo, tag, result)
        if grant is not None:
            result.grant = _grant(target, grant)
        tick()
    report.lost = _lost(targets, repo, moves, report.stores)
    return report


def _lost(targets: list[Target], repo: str, moves: _Moves, results: list[StoreDrill]) -> list[str]:
    """The versions a store's tag points at that it lacks, and that no store holds either."""
    lacking = {moves.digests[r.url] for r in results if r.problem == "missing"} - {None}
    lacking -= {r.digest for r in results if r.restores}
    stores = [t.store for t in targets]
    return [f"sha256:{d}" for d in sorted(lacking) if not _whole_somewhere(stores, repo, d)]


def _whole_somewhere(stores: list[Store], repo: str, digest: str) -> bool:
    """Whether some store holds the version's manifest and some its pack, so sync can make it
    whole again; a store that cannot say may hold them."""
    if not held_by_any(stores, layout.manifest_key(repo, digest)):
        return False
    for store in stores:
        try:
            manifest = Registry(store, repo).get_manifest(digest)
        except ContinuityError:
            continue
        return held_by_any(stores, layout.pack_key(repo, manifest.pack.sha256))
    return True  # no store serves the manifest intact: each store's restore says why


def _restore(target: Target, repo: str, tag: str, result: StoreDrill) -> None:
    started = time.monotonic()
    with ownership.scratch_dir(Path(tempfile.gettempdir()), SCRATCH) as tmp:
        try:
            pulled = pull([Target("primary", target.store)], repo, tmp / "dir", tag=tag)
            result.restores, result.digest = True, pulled.digest
            result.rto_seconds = round(time.monotonic() - started, 3)
        except ContinuityError as exc:
            result.failed(exc)


class _Moves:
    """The tag's moves on each store, as far as the drill needs them verified: each store's
    newest move that verifies (its value), and every move newer than the oldest such value."""

    def __init__(self, targets: list[Target], repo: str, tag: str) -> None:
        self.repo = repo
        self.errors: dict[str, ContinuityError] = {}
        self.decoded: dict[str, TagEvent] = {}
        self.listed: dict[str, list[Entry]] = {}
        self.heads: dict[str, int | None] = {}
        self.digests: dict[str, str | None] = {}
        """The version each store's value points at."""
        stores = {t.store.url: t.store for t in targets}
        for url, store in stores.items():
            try:
                self.listed[url] = _events(store.list(layout.tags_prefix(repo, tag)), repo)
            except ContinuityError as exc:
                self.errors[url] = exc
                continue
            head = next((e for e in self.listed[url] if self._verifies(url, store, e)), None)
            if url in self.errors:  # it could not be read: how far behind it is is not known
                continue
            self.heads[url] = head and head.time_ns
            self.digests[url] = head and self.decoded[head.key].digest
        known = [h for h in self.heads.values() if h is not None]
        oldest = min(known, default=None)
        self.newer: set[int] = set()
        for url, events in self.listed.items():
            for e in events:
                if oldest is None or e.time_ns <= oldest or e.time_ns in self.newer:
                    continue
                if self._verifies(url, stores[url], e):
                    self.newer.add(e.time_ns)
        self.history = {e.time_ns for events in self.listed.values() for e in events}

    def _verifies(self, url: str, store: Store, entry: Entry) -> bool:
        """Whether the event verifies; a store that cannot serve it is recorded as failed."""
        try:
            _, self.decoded[entry.key] = read_verified(store, self.repo, entry)
            return True
        except (IntegrityError, NotFound):
            return False
        except ContinuityError as exc:
            self.errors.setdefault(url, exc)
            return False

    def lag(self, url: str) -> int | None:
        if url not in self.heads:
            return None
        head = self.heads[url]
        if head is None:  # the store lacks the tag: it lags every move
            return len(self.history)
        return sum(1 for t in self.newer if t > head)


def _events(keys: list[str], repo: str) -> list[Entry]:
    """A tag's events from their keys, newest first; those dated ahead of the clock left out,
    as readers leave them out."""
    entries = []
    for key in keys:
        parsed = layout.parse_tag_event_key(repo, key)
        if parsed is not None:
            entries.append(Entry("tag", key, parsed[0], parsed[1], parsed[2]))
    return sorted((e for e in entries if not e.ahead_of_clock), key=lambda e: -e.time_ns)


def _grant(target: Target, name: str) -> Restore:
    """Whether the newest grant of series ``name`` restores from this store alone, in the
    layout it was saved in (a state folder, or an operator's data root)."""
    from .grants.caches import find_snapshot

    cache = grants.Cache(target.store.url, target.store)
    result = Restore()
    with ownership.scratch_dir(Path(tempfile.gettempdir()), SCRATCH) as tmp:
        try:
            snapshot, *_ = find_snapshot([cache], name)
            if snapshot.layout == grants.DATA_ROOT_LAYOUT:
                grants.restore([cache], name, data_root=tmp / "data")
            else:
                grants.restore([cache], name, state_dir=tmp / ".atlas")
            result.restores = True
        except ContinuityError as exc:
            result.failed(exc)
    return result
