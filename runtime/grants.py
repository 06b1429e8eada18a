"""License grant caching: save Atlas's state folder to caches, restore it from the first intact one.

A save is one self-verifying *snapshot*: a JSON object holding every file of the state folder
with its SHA-256, stored create-only under ``grants/<name>/`` and named by its time (newest
first) and its own hash. Caches are CI cache folders in the workspace and store URLs; both
are stores, so a save never overwrites anything and a crash leaves the previous snapshot.
Restore verifies everything before it writes, refuses any path that could leave the target,
and swaps the folder in atomically with owner-only modes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout
from .atomic_dir import replace_dir
from .errors import BadInput, ContinuityError, IntegrityError, NotFound, Unavailable
from .fallback import AllStoresFailed, Attempt
from .manifest import canonical_json, is_safe_relpath, sha256_hex
from .stores import open_store
from .stores.base import Store, StoreSettings

log = logging.getLogger(__name__)

STATE_DIR = ".atlas"
SNAPSHOT_LIMIT = 64 * 1024 * 1024
KEEP_IN_FOLDER = 3
"""Snapshots kept in a CI cache folder after a save; remote caches keep every one."""
TRIES_PER_CACHE = 5
"""Newest snapshots tried per cache before moving to the next cache."""
DIR_MODE, FILE_MODE = 0o700, 0o600
STATE_LAYOUT, DATA_ROOT_LAYOUT = "state-dir", "data-root"


def default_state_dir() -> Path:
    """``$HOME/.atlas``: Atlas's own location, honouring HOME."""
    return Path(os.environ.get("HOME") or Path.home()) / STATE_DIR


@dataclass(frozen=True)
class GrantFile:
    path: str
    data: bytes
    mtime_ns: int


@dataclass(frozen=True)
class Snapshot:
    name: str
    layout: str
    files: tuple[GrantFile, ...]
    created_ns: int
    source: dict[str, str] = field(default_factory=dict)

    @property
    def newest_mtime_ns(self) -> int:
        return max((f.mtime_ns for f in self.files), default=0)

    def encode(self) -> bytes:
        return canonical_json(
            {
                "format": layout.FORMAT_VERSION,
                "kind": "grant-snapshot",
                "name": self.name,
                "layout": self.layout,
                "created_ns": self.created_ns,
                "source": self.source,
                "files": [
                    {
                        "path": f.path,
                        "sha256": sha256_hex(f.data),
                        "size": len(f.data),
                        "mtime_ns": f.mtime_ns,
                        "data": base64.b64encode(f.data).decode(),
                    }
                    for f in self.files
                ],
            }
        )

    @classmethod
    def decode(cls, data: bytes, sha256: str, where: str) -> Snapshot:
        """Parse snapshot bytes that must hash to ``sha256``; check every file and path."""
        if sha256_hex(data) != sha256:
            raise IntegrityError(f"{where}: snapshot is corrupt (hash mismatch)")
        try:
            obj = json.loads(data)
            if obj.get("kind") != "grant-snapshot" or obj.get("format") != layout.FORMAT_VERSION:
                raise IntegrityError(f"{where}: not a grant snapshot of format 1")
            files = []
            for f in obj["files"]:
                content = base64.b64decode(f["data"], validate=True)
                if sha256_hex(content) != f["sha256"] or len(content) != f["size"]:
                    raise IntegrityError(f"{where}: {f['path']!r} does not match its hash")
                files.append(GrantFile(f["path"], content, int(f["mtime_ns"])))
            snapshot = cls(
                name=str(obj["name"]),
                layout=str(obj["layout"]),
                files=tuple(files),
                created_ns=int(obj["created_ns"]),
                source={str(k): str(v) for k, v in dict(obj.get("source", {})).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{where}: snapshot is malformed ({exc})") from None
        snapshot.check_paths(where)
        return snapshot

    def check_paths(self, where: str) -> None:
        seen: set[str] = set()
        for f in self.files:
            ok = is_safe_relpath(f.path) and f.path not in seen
            if ok and self.layout == DATA_ROOT_LAYOUT:
                parts = f.path.split("/")
                ok = len(parts) >= 4 and parts[2] == STATE_DIR
            elif self.layout != STATE_LAYOUT:
                ok = False
            if not ok:
                raise IntegrityError(f"{where}: snapshot holds unsafe path {f.path!r}; refused")
            seen.add(f.path)


# -- reading what to save ------------------------------------------------------------------


def _read_tree(root: Path, prefix: str = "") -> list[GrantFile]:
    """Every regular file below ``root``; anything else (a link, a device) is an error."""
    files: list[GrantFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise BadInput(f"{path}: not a regular file (a link or device); refusing to save")
            total += st.st_size
            if total > SNAPSHOT_LIMIT:
                raise BadInput(f"{root}: more than {SNAPSHOT_LIMIT >> 20} MiB; not a grant folder")
            rel = path.relative_to(root).as_posix()
            files.append(GrantFile(prefix + rel, path.read_bytes(), st.st_mtime_ns))
    return files


def read_state_dir(state_dir: Path) -> list[GrantFile]:
    if not state_dir.is_dir():
        raise NotFound(f"{state_dir}: no Atlas state folder to save (run 'atlas login' first)")
    return _read_tree(state_dir)


def resource_dirs(data_root: Path) -> list[Path]:
    """The operator's per-resource state folders: ``<root>/<namespace>/<name>/.atlas``."""
    return sorted(
        p for p in data_root.glob(f"*/*/{STATE_DIR}") if p.is_dir() and not p.is_symlink()
    )


def read_data_root(data_root: Path) -> list[GrantFile]:
    if not data_root.is_dir():
        raise BadInput(f"{data_root}: no such data root")
    files: list[GrantFile] = []
    for state in resource_dirs(data_root):
        rel = state.relative_to(data_root).as_posix()
        files.extend(_read_tree(state, prefix=f"{rel}/"))
    if not files:
        raise NotFound(f"{data_root}: no <namespace>/<name>/{STATE_DIR} folders to save")
    return files


# -- caches --------------------------------------------------------------------------------


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
    """Caches in the order they are tried on restore: folders first, then stores."""
    if not cache_dirs and not store_urls:
        raise BadInput("no caches: give --cache-dir DIR and/or --store URL")
    caches: list[Cache] = []
    try:
        for folder in cache_dirs:
            path = Path(folder).absolute()
            caches.append(Cache(str(folder), open_store(path.as_uri(), settings), path))
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
    """saved, restored, failed, skipped, or planned (dry run)."""
    key: str | None = None
    error: str | None = None


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
            results.append(CacheResult(cache.label, "failed", key, str(exc)))
            continue
        if cache.folder is not None:
            _prune_folder(cache, snapshot.name)
    return results


def _prune_folder(cache: Cache, name: str) -> None:
    # A workspace cache folder is ours alone and grows by one object per run: keep a few.
    for key in cache.store.list(layout.grants_prefix(name))[KEEP_IN_FOLDER:]:
        (cache.folder / key).unlink(missing_ok=True)


def newest_intact(cache: Cache, name: str) -> tuple[Snapshot, str, list[str]]:
    """The newest snapshot of ``name`` in ``cache`` that verifies, and what was wrong above it."""
    problems: list[str] = []
    keys = cache.store.list(layout.grants_prefix(name), limit=TRIES_PER_CACHE)
    for key in keys:
        parsed = layout.parse_series_name(key.rsplit("/", 1)[-1])
        if parsed is None:
            problems.append(f"{cache.label}: unexpected object {key!r}; skipped")
            continue
        try:
            snapshot = Snapshot.decode(cache.store.get(key), parsed[1], f"{cache.label}: {key}")
        except (IntegrityError, NotFound) as exc:
            problems.append(str(exc))
            continue
        if snapshot.name != name:
            problems.append(f"{cache.label}: {key} belongs to {snapshot.name!r}; skipped")
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
    """Try caches in order; take the newest intact snapshot of the first that has one."""
    failures: list[Attempt] = []
    errors: list[ContinuityError] = []
    problems: list[str] = []
    for cache in caches:
        try:
            snapshot, key, skipped = newest_intact(cache, name)
        except (IntegrityError, NotFound, Unavailable) as exc:
            failures.append(Attempt(cache.label, str(exc), type(exc).__name__))
            errors.append(exc)
            problems.append(str(exc))
            continue
        return snapshot, cache, key, problems + skipped
    raise AllStoresFailed(f"grant {name!r}", failures, errors)


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
        groups: dict[Path, list[GrantFile]] = {}
        for f in snapshot.files:
            ns, res, _, rest = f.path.split("/", 3)
            groups.setdefault(data_root / ns / res / STATE_DIR, []).append(
                GrantFile(rest, f.data, f.mtime_ns)
            )
    else:
        groups = {state_dir or default_state_dir(): list(snapshot.files)}
    report = RestoreReport(cache.label, key, snapshot.created_ns, [], [], problems)
    for folder, files in groups.items():
        (report.applied if _apply(folder, files, force, dry_run) else report.kept).append(
            str(folder)
        )
    return report


def _apply(folder: Path, files: list[GrantFile], force: bool, dry_run: bool) -> bool:
    """Put ``files`` in ``folder`` unless it already holds them or holds a newer grant."""
    local = _read_tree(folder) if folder.is_dir() else []
    if {f.path: f.data for f in local} == {f.path: f.data for f in files}:
        return False
    newest_local = max((f.mtime_ns for f in local), default=0)
    if newest_local > max(f.mtime_ns for f in files) and not force:
        log.warning("%s: holds a newer grant than the cache; kept (--force to replace)", folder)
        return False
    if dry_run:
        return True
    replace_dir(
        folder, {f.path: f.data for f in files}, force=True, dir_mode=DIR_MODE, file_mode=FILE_MODE
    )
    for f in files:  # keep the saved times, so freshness compares across machines
        os.utime(folder / f.path, ns=(f.mtime_ns, f.mtime_ns), follow_symlinks=False)
    return True


def make_snapshot(
    name: str, files: list[GrantFile], layout_name: str, source: dict[str, str]
) -> Snapshot:
    return Snapshot(name, layout_name, tuple(files), time.time_ns(), source)


def status(
    caches: list[Cache], name: str, state_dir: Path | None, data_root: Path | None
) -> dict[str, Any]:
    now = time.time_ns()
    where = data_root if data_root is not None else (state_dir or default_state_dir())
    try:
        files = read_data_root(where) if data_root is not None else read_state_dir(where)
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
