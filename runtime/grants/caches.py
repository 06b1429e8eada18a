"""Where snapshots are kept: CI cache folders and stores, saved to and restored from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import layout, series
from ..errors import BadInput, ContinuityError, IntegrityError, NotFound, Unavailable
from ..fallback import AllStoresFailed, Attempt
from ..manifest import sha256_hex
from ..stores import open_store
from ..stores.base import Store, StoreSettings
from ..stores.url import distinct_stores
from . import folders
from .snapshot import DATA_ROOT_LAYOUT, MAX_SNAPSHOT_BYTES, STATE_DIR, STATE_LAYOUT, Snapshot

KEEP_IN_FOLDER = 3
"""Snapshots kept in a CI cache folder after a save; remote caches keep every one."""
READS_PER_CACHE = 64
"""Most snapshots read from one cache in search of an intact one: junk cannot make a restore
read without end. Objects dated ahead of the clock are skipped by name, unread."""


@dataclass
class Cache:
    label: str
    store: Store
    folder: Path | None = None
    """Set for a CI cache folder, which save prunes to the newest KEEP_IN_FOLDER snapshots."""


@contextmanager
def open_caches(
    cache_dirs: list[str], store_urls: list[str], settings: StoreSettings
) -> Iterator[list[Cache]]:
    """Caches in the order they are listed in reports: folders first, then stores, each once.

    A CI cache folder is missing whenever the CI has nothing cached yet: it reads as empty
    and a save makes it, for every command."""
    if not cache_dirs and not store_urls:
        raise BadInput("no caches: give --cache-dir DIR and/or --store URL")
    for folder in cache_dirs:
        if Path(folder).is_symlink():  # a save would write, and a prune delete, elsewhere
            raise BadInput(f"--cache-dir {folder}: a symbolic link; give the folder itself")
    paths = [Path(folder).absolute() for folder in cache_dirs]
    distinct_stores(
        [path.as_uri() for path in paths] + store_urls,
        [f"--cache-dir {folder}" for folder in cache_dirs] + store_urls,
    )
    folder_settings = replace(settings, create_store=True)
    caches: list[Cache] = []
    try:
        for folder, path in zip(cache_dirs, paths, strict=True):
            caches.append(Cache(str(folder), open_store(path.as_uri(), folder_settings), path))
        for url in store_urls:
            store = open_store(url, settings)
            caches.append(Cache(store.url, store))
        yield caches
    finally:
        for cache in caches:
            cache.store.close()


@dataclass
class CacheResult:
    cache: str
    status: str
    """saved, failed, or planned (dry run)."""
    key: str | None = None
    error: str | None = None
    exit_code: int | None = None
    """The exit code this cache's failure alone would give."""


def save(snapshot: Snapshot, caches: list[Cache], *, dry_run: bool = False) -> list[CacheResult]:
    data = snapshot.encode()
    key = layout.series_key(
        layout.grants_prefix(snapshot.name), snapshot.created_ns, sha256_hex(data)
    )
    results = []
    for cache in caches:
        if dry_run:
            results.append(CacheResult(cache.label, "planned", key))
            continue
        try:
            cache.store.put(key, data)
            results.append(CacheResult(cache.label, "saved", key))
        except ContinuityError as exc:
            results.append(CacheResult(cache.label, "failed", key, str(exc), int(exc.exit_code)))
            continue
        if cache.folder is not None:
            _prune_folder(cache, snapshot.name, key)
    return results


def _prune_folder(cache: Cache, name: str, written: str) -> None:
    """A workspace cache folder grows by one snapshot per run: keep the newest few (by the
    time in their names), never the one just written, and touch nothing else. A snapshot named
    for a time ahead of the clock is never the newest: it goes."""
    assert cache.folder is not None
    prefix = layout.grants_prefix(name)
    latest = time.time_ns() + layout.CLOCK_SKEW_NS
    snapshots = []
    for key in cache.store.list(prefix):
        rest = key[len(prefix) :]
        parsed = None if "/" in rest else layout.parse_series_name(rest)
        if parsed is not None:
            snapshots.append((parsed[0] if parsed[0] <= latest else -1, key))
    snapshots.sort(reverse=True)
    keep = {key for when, key in snapshots[:KEEP_IN_FOLDER] if when >= 0} | {written}
    for _, key in snapshots:
        if key not in keep:
            (cache.folder / key).unlink(missing_ok=True)


def newest_intact(cache: Cache, name: str) -> tuple[Snapshot, str, list[str]]:
    """The newest snapshot of ``name`` in ``cache`` that verifies, and what was wrong above it.

    Its age is judged from its verified content, which must agree with its name: a snapshot
    re-filed under another time or series is corrupt, and the search goes on past it.
    """
    prefix = layout.grants_prefix(name)
    keys, ahead = series.newest_keys(cache.store, prefix, READS_PER_CACHE)
    problems = [
        f"{cache.label}: {key} is dated ahead of this machine's clock; ignored" for key in ahead
    ]
    for key in keys:
        rest = key[len(prefix) :]
        parsed = None if "/" in rest else layout.parse_series_name(rest)
        if parsed is None:
            problems.append(f"{cache.label}: unexpected object {key!r}; skipped")
            continue
        where = f"{cache.label}: {key}"
        try:
            data = cache.store.get(key, limit=MAX_SNAPSHOT_BYTES)
            snapshot = Snapshot.decode(data, parsed[1], where)
        except (IntegrityError, NotFound) as exc:
            problems.append(str(exc))
            continue
        if (snapshot.name, snapshot.created_ns) != (name, parsed[0]):
            problems.append(f"{where}: its name and its content disagree (re-filed?); skipped")
            continue
        return snapshot, key, problems
    if problems:
        raise IntegrityError("; ".join(problems))
    raise NotFound(f"{cache.label}: no grant snapshot named {name!r}")


@dataclass
class RestoreReport:
    source: str
    key: str
    created_ns: int
    applied: list[str]
    """Folders replaced with the snapshot's content."""
    kept: list[str]
    """Folders left alone: already identical, or newer than the snapshot (without --force)."""
    problems: list[str]


def find_snapshot(caches: list[Cache], name: str) -> tuple[Snapshot, Cache, str, list[str]]:
    """The newest intact snapshot of every cache: a CI cache that is refreshed rarely (a weekly
    Bitbucket cache, an idle Jenkins workspace) never rolls the grant back behind a store's
    newer copy. On equal times, the first cache in order serves."""
    failures: list[Attempt] = []
    errors: list[ContinuityError] = []
    problems: list[str] = []
    found: list[tuple[Snapshot, Cache, str]] = []
    for cache in caches:
        try:
            snapshot, key, skipped = newest_intact(cache, name)
        except (IntegrityError, NotFound, Unavailable) as exc:
            failures.append(Attempt(cache.label, str(exc), type(exc).__name__))
            errors.append(exc)
            problems.append(str(exc))
            continue
        problems += skipped
        found.append((snapshot, cache, key))
    if not found:
        raise AllStoresFailed(f"grant {name!r}", failures, errors)
    snapshot, cache, key = max(found, key=lambda f: f[0].created_ns)
    return snapshot, cache, key, problems


def restore(
    caches: list[Cache],
    name: str,
    *,
    state_dir: Path | None = None,
    data_root: Path | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> RestoreReport:
    snapshot, cache, key, problems = find_snapshot(caches, name)
    wanted = DATA_ROOT_LAYOUT if data_root is not None else STATE_LAYOUT
    if snapshot.layout != wanted:
        flag = "--data-root" if snapshot.layout == DATA_ROOT_LAYOUT else "--state-dir"
        raise BadInput(
            f"{cache.label}: snapshot {name!r} is a {snapshot.layout}; restore it with {flag}"
        )
    if data_root is not None:
        groups: dict[Path, list[folders.GrantFile]] = {}
        for f in snapshot.files:
            ns, res, _, rest = f.path.split("/", 3)
            folder = folders.check_no_links(data_root, f"{ns}/{res}/{STATE_DIR}")
            groups.setdefault(folder, []).append(folders.GrantFile(rest, f.data, f.mtime_ns))
    else:
        groups = {state_dir or folders.default_state_dir(): list(snapshot.files)}
    report = RestoreReport(cache.label, key, snapshot.created_ns, [], [], problems)
    # Decide for every folder first, so a folder that cannot be read stops the restore before
    # any folder has changed.
    decisions = {f: folders.should_apply(f, files, force) for f, files in groups.items()}
    for folder, files in groups.items():
        if decisions[folder] and not dry_run:
            folders.apply(folder, files)
        (report.applied if decisions[folder] else report.kept).append(str(folder))
    return report


def status(
    caches: list[Cache], name: str, state_dir: Path | None, data_root: Path | None
) -> dict[str, Any]:
    now = time.time_ns()
    where = data_root if data_root is not None else (state_dir or folders.default_state_dir())
    try:
        files = folders.read_local(state_dir, data_root)
    except ContinuityError:
        files = []
    newest = max((f.mtime_ns for f in files), default=None)
    out: dict[str, Any] = {
        "local": {
            "path": str(where),
            "present": bool(files),
            "files": len(files),
            "age_seconds": None if newest is None else round((now - newest) / 1e9),
        },
        "caches": [],
    }
    for cache in caches:
        entry: dict[str, Any] = {"cache": cache.label}
        try:
            snapshot, key, problems = newest_intact(cache, name)
            entry.update(
                intact=True,
                key=key,
                age_seconds=round((now - snapshot.created_ns) / 1e9),
                files=len(snapshot.files),
                problems=problems,
            )
        except ContinuityError as exc:
            entry.update(intact=False, error=str(exc))
        out["caches"].append(entry)
    return out
