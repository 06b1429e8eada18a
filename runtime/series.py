"""Append-only series of objects named by their time, newest first: tag events and grant
snapshots (layout.series_key). The newest is one LIST away, unless a clock lies."""

from __future__ import annotations

import time

from . import layout
from .stores.base import Store


def newest_keys(store: Store, prefix: str, limit: int) -> tuple[list[str], list[str]]:
    """Up to ``limit`` keys of the series under ``prefix``, newest first, leaving out those
    dated more than CLOCK_SKEW_NS ahead of this machine's clock; and the keys left out.

    An object dated in the future would sort first and shadow every later write until its time
    came: a misset clock, or a copy re-filed under a later name. The common case costs one
    LIST; one ahead of the clock costs a second, which starts after every such key.
    """
    latest = time.time_ns() + layout.CLOCK_SKEW_NS
    keys = store.list(prefix, limit=limit, start_after=layout.series_floor(prefix))
    ahead = [k for k in keys if _time(prefix, k) > latest]
    if not ahead:
        return keys, []
    return store.list(prefix, limit=limit, start_after=layout.series_start(prefix, latest)), ahead


def _time(prefix: str, key: str) -> int:
    parsed = layout.parse_series_name(key[len(prefix) :])
    return -1 if parsed is None else parsed[0]
