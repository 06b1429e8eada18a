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
from .manifest import canonical_json, sha256_hex
from .paths import is_safe_relpath
from .stores import open_store
from .stores.base import Store, StoreSettings

log = logging.getLogger(__name__)

STATE_DIR = ".atlas"
SNAPSHOT_LIMIT = 64 * 1024 * 1024
"""Most bytes of grant files in one snapshot; its JSON (base64) is at most 4/3 of that, plus
a little per file."""
FILE_LIMIT = 10_000
CLOCK_SKEW_NS = 24 * 3600 * 10**9
"""How far in the future a snapshot's times may be before it is taken for tampering."""
_MAX_SNAPSHOT_BYTES = SNAPSHOT_LIMIT * 4 // 3 + FILE_LIMIT * 1024
"""Larger objects are not read at all: a cache must not be able to exhaust memory."""
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
            if not isinstance(obj, dict) or (obj.get("kind"), obj.get("format")) != (
                "grant-snapshot",
                layout.FORMAT_VERSION,
            ):
                raise IntegrityError(f"{where}: not a grant snapshot of format 1")
            entries = obj["files"]
            if not isinstance(entries, list) or len(entries) > FILE_LIMIT:
                raise IntegrityError(f"{where}: snapshot file list is malformed or too long")
            files = []
            for f in entries:
                content = base64.b64decode(_typed(f["data"], str), validate=True)
                if sha256_hex(content) != f["sha256"] or len(content) != f["size"]:
                    raise IntegrityError(f"{where}: a file does not match its hash")
                files.append(GrantFile(_typed(f["path"], str), content, _typed(f["mtime_ns"], int)))
            snapshot = cls(
                name=_typed(obj["name"], str),
                layout=_typed(obj["layout"], str),
                files=tuple(files),
                created_ns=_typed(obj["created_ns"], int),
                source={str(k): str(v) for k, v in _typed(obj.get("source", {}), dict).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise IntegrityError(f"{where}: snapshot is malformed ({type(exc).__name__})") from None
        snapshot.check(where)
        return snapshot

    def check(self, where: str) -> None:
        """Refuse what no honest save produces: no files, too much, times in the future,
        paths that could leave the state folder."""
        if not self.files:
            raise IntegrityError(f"{where}: snapshot holds no files")
        if sum(len(f.data) for f in self.files) > SNAPSHOT_LIMIT:
            raise IntegrityError(f"{where}: snapshot is larger than a grant folder can be")
        latest = time.time_ns() + CLOCK_SKEW_NS
        if not all(0 <= t <= latest for t in (self.created_ns, *(f.mtime_ns for f in self.files))):
            raise IntegrityError(f"{where}: snapshot has times outside any plausible range")
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


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}")
    return value


# -- reading what to save ------------------------------------------------------------------


def _read_tree(root: Path, prefix: str = "", *, strict: bool = True) -> list[GrantFile]:
    """Every regular file below ``root``. Strict (to save): anything else, or a name a restore
    would refuse, is an error. Lenient (the local side of a restore): such entries are skipped,
    since the folder is about to be replaced whole."""
    files: list[GrantFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISDIR(st.st_mode):
                continue
            rel = path.relative_to(root).as_posix()
            problem = None
            if not stat.S_ISREG(st.st_mode):
                problem = "not a regular file (a link or device)"
            elif not is_safe_relpath(rel) or not _encodable(rel):
                problem = "a name that cannot be restored safely (control characters, not UTF-8)"
            if problem and strict:
                raise BadInput(f"{path!r}: {problem}; refusing to save")
            if problem:
                continue
            total += st.st_size
            if total > SNAPSHOT_LIMIT:
                raise BadInput(f"{root}: more than {SNAPSHOT_LIMIT >> 20} MiB; not a grant folder")
            files.append(GrantFile(prefix + rel, path.read_bytes(), st.st_mtime_ns))
    return files


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def read_state_dir(state_dir: Path) -> list[GrantFile]:
    files = _read_tree(state_dir) if state_dir.is_dir() else []
    if not files:
        raise NotFound(f"{state_dir}: no Atlas grant to save (run 'atlas login' first)")
    return files


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
    time in their names), never the one just written, and touch nothing else."""
    prefix = layout.grants_prefix(name)
    snapshots = []
    for key in cache.store.list(prefix):
        rest = key[len(prefix) :]
        parsed = None if "/" in rest else layout.parse_series_name(rest)
        if parsed is not None:
            snapshots.append((parsed[0], key))
    snapshots.sort(reverse=True)
    keep = {key for _, key in snapshots[:KEEP_IN_FOLDER]} | {written}
    for _, key in snapshots:
        if key not in keep:
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
            size = cache.store.stat(key)
            if size is not None and size > _MAX_SNAPSHOT_BYTES:
                raise IntegrityError(f"{cache.label}: {key} is {size} bytes; not a grant snapshot")
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


def find_snapshot(
    caches: list[Cache], name: str, *, newest: bool = False
) -> tuple[Snapshot, Cache, str, list[str]]:
    """Try caches in order and take the newest intact snapshot of the first that has one; with
    ``newest``, ask every cache and take the newest intact snapshot of all (for CI caches that
    are refreshed rarely, such as Bitbucket's weekly one)."""
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
        if not newest:
            break
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
    newest: bool = False,
) -> RestoreReport:
    snapshot, cache, key, problems = find_snapshot(caches, name, newest=newest)
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
    # Decide for every folder first, so a folder that cannot be read stops the restore before
    # any folder has changed.
    decisions = {folder: _should_apply(folder, files, force) for folder, files in groups.items()}
    for folder, files in groups.items():
        if decisions[folder] and not dry_run:
            _apply(folder, files)
        (report.applied if decisions[folder] else report.kept).append(str(folder))
    return report


def _should_apply(folder: Path, files: list[GrantFile], force: bool) -> bool:
    """Whether ``folder`` needs ``files``: not when it holds them, nor a newer grant."""
    local = _read_tree(folder, strict=False) if folder.is_dir() else []
    if {f.path: f.data for f in local} == {f.path: f.data for f in files}:
        return False
    newest_local = max((f.mtime_ns for f in local), default=0)
    if newest_local > max(f.mtime_ns for f in files) and not force:
        log.warning("%s: holds a newer grant than the cache; kept (--force to replace)", folder)
        return False
    return True


def _apply(folder: Path, files: list[GrantFile]) -> None:
    def keep_times(built: Path) -> None:  # saved times, so freshness compares across machines
        for f in files:
            os.utime(built / f.path, ns=(f.mtime_ns, f.mtime_ns), follow_symlinks=False)

    data = {f.path: f.data for f in files}
    replace_dir(
        folder, data, force=True, before_swap=keep_times, dir_mode=DIR_MODE, file_mode=FILE_MODE
    )


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
