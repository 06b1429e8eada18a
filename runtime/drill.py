"""``drill``: restore from each store alone, as if it were the only one left.

Per store: does the tag's version restore (every byte verified, ``atlas.sum`` checked), how many
moves of the tag it lags behind the newest any store holds (its RPO, in versions), how long the
restore took (its RTO), and with a grant series named, whether the newest grant restores too.
Nothing is written outside a temporary folder.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import grants, layout
from .errors import ContinuityError, ExitCode, IntegrityError, Unavailable
from .pull import pull
from .targets import Target
from .text import markdown_table


@dataclass
class StoreDrill:
    url: str
    restores: bool = False
    digest: str | None = None
    lag: int | None = None
    """Moves of the tag newer than this store's value, on any store; None: not known."""
    rto_seconds: float | None = None
    grant: str | None = None
    """restores, or why not; None when no grant series was asked for."""
    error: str | None = None
    error_kind: str | None = None


@dataclass
class DrillReport:
    repo: str
    tag: str
    max_lag: int
    stores: list[StoreDrill] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        kinds = {s.error_kind for s in self.stores if s.error_kind}
        if "IntegrityError" in kinds:
            return ExitCode.INTEGRITY
        if kinds:
            return ExitCode.UNAVAILABLE
        if any(s.lag is None or s.lag > self.max_lag for s in self.stores):
            return ExitCode.GAPS
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "tag": self.tag,
            "max_lag": self.max_lag,
            "ok": self.exit_code == ExitCode.OK,
            "stores": [vars(s) for s in self.stores],
        }

    def markdown(self) -> str:
        """A table a reviewer reads at a glance (GitHub's job summary)."""
        verdict = "passed" if self.exit_code == ExitCode.OK else "FAILED"
        rows = []
        for s in self.stores:
            lag = "?" if s.lag is None else str(s.lag)
            if s.lag is None or s.lag > self.max_lag:
                lag = f"**{lag}**"
            rows.append(
                (
                    s.url,
                    "yes" if s.restores else f"**no**: {s.error}",
                    lag,
                    "-" if s.rto_seconds is None else f"{s.rto_seconds:.1f} s",
                    s.grant or "-",
                )
            )
        header = ("store", "restores", "versions behind", "restore time", "grant")
        return f"### Restore drill of `{self.repo}` `{self.tag}`: {verdict}\n\n" + markdown_table(
            header, rows
        )


def drill(
    targets: list[Target],
    repo: str,
    *,
    tag: str = "latest",
    grant: str | None = None,
    max_lag: int = 0,
    tick: Callable[[], None] = lambda: None,
) -> DrillReport:
    report = DrillReport(repo, layout.check_name("tag", tag), max_lag)
    moves = _moves(targets, repo, tag)
    everywhere: set[int] = set().union(*moves.values())
    with tempfile.TemporaryDirectory(prefix="atlas-continuity-drill-") as tmp:
        for i, target in enumerate(targets):
            result = StoreDrill(target.store.url)
            report.stores.append(result)
            mine = moves.get(target.store.url)
            if mine is not None:
                head = max(mine, default=-1)
                result.lag = sum(1 for t in everywhere if t > head)
            started = time.monotonic()
            alone = [Target("primary", target.store)]
            try:
                pulled = pull(alone, repo, Path(tmp) / f"dir-{i}", tag=tag)
                result.restores, result.digest = True, pulled.digest
                result.rto_seconds = round(time.monotonic() - started, 3)
            except ContinuityError as exc:
                result.error, result.error_kind = str(exc), _kind(exc)
            if grant is not None:
                result.grant = _grant(target, grant, Path(tmp) / f"grant-{i}")
            tick()
    return report


def _moves(targets: list[Target], repo: str, tag: str) -> dict[str, set[int]]:
    """The times of the tag's moves each store holds (by its listing; ahead-of-clock ones
    left out); a store that cannot be listed has none."""
    latest = time.time_ns() + layout.CLOCK_SKEW_NS
    moves: dict[str, set[int]] = {}
    for target in targets:
        try:
            keys = target.store.list(layout.tags_prefix(repo, tag))
        except ContinuityError:
            continue
        parsed = (layout.parse_tag_event_key(repo, k) for k in keys)
        moves[target.store.url] = {p[1] for p in parsed if p is not None and p[1] <= latest}
    return moves


def _kind(exc: ContinuityError) -> str:
    """IntegrityError when anything this store served was corrupt, whatever else failed."""
    if isinstance(exc, IntegrityError) or exc.exit_code == ExitCode.INTEGRITY:
        return "IntegrityError"
    return "Unavailable" if isinstance(exc, Unavailable) else type(exc).__name__


def _grant(target: Target, name: str, into: Path) -> str:
    """Whether the newest grant of series ``name`` restores from this store alone, in the
    layout it was saved in (a state folder, or an operator's data root)."""
    from .grants.caches import find_snapshot

    cache = grants.Cache(target.store.url, target.store)
    try:
        snapshot, *_ = find_snapshot([cache], name)
        if snapshot.layout == grants.DATA_ROOT_LAYOUT:
            grants.restore([cache], name, data_root=into / "data")
        else:
            grants.restore([cache], name, state_dir=into / ".atlas")
        return "restores"
    except ContinuityError as exc:
        return f"no: {exc}"
