"""The ordered list of stores an operation works on: the primary first, then the backups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .stores import open_store
from .stores.base import Store, StoreSettings
from .stores.url import distinct_stores

ATLAS_CLOUD = "Atlas Cloud (written and read by the Atlas CLI, not by this runtime)"


@dataclass(frozen=True)
class Target:
    role: str
    """primary or backup."""
    store: Store


@dataclass(frozen=True)
class StorePlan:
    """Which stores to use, before any is opened."""

    primary: str | None
    """The primary store's URL, or None when the primary is Atlas Cloud."""
    backups: tuple[str, ...]

    @property
    def primary_label(self) -> str:
        return self.primary if self.primary else ATLAS_CLOUD

    def check(self) -> None:
        """Parse every URL and refuse one store given twice, so a typo fails before anything
        is read or written."""
        distinct_stores(self.urls())

    def urls(self) -> list[str]:
        return ([self.primary] if self.primary else []) + list(self.backups)


@contextmanager
def open_targets(plan: StorePlan, settings: StoreSettings) -> Iterator[list[Target]]:
    plan.check()
    targets: list[Target] = []
    try:
        if plan.primary:
            targets.append(Target("primary", open_store(plan.primary, settings)))
        targets.extend(Target("backup", open_store(url, settings)) for url in plan.backups)
        yield targets
    finally:
        for t in targets:
            t.store.close()
