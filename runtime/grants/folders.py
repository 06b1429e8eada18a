"""The local side of grant caching: Atlas's state folder, or the operator's data root, read to be
saved and replaced by a restore."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from ..atomic_dir import replace_dir
from ..errors import BadInput, NotFound
from ..paths import is_safe_relpath
from .snapshot import SNAPSHOT_LIMIT, STATE_DIR, GrantFile

log = logging.getLogger(__name__)

DIR_MODE, FILE_MODE = 0o700, 0o600


def default_state_dir() -> Path:
    """``$HOME/.atlas``: Atlas's own location, honouring HOME."""
    return Path(os.environ.get("HOME") or Path.home()) / STATE_DIR


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


def check_no_links(data_root: Path, rel: str) -> Path:
    """``data_root / rel``, refusing a symbolic link at any step below the root: the operator's
    namespace and resource folders are the cluster's to create, and a link there would make a
    save read, or a restore write, outside the data root."""
    path = data_root
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            raise BadInput(f"{path}: a symbolic link under --data-root {data_root}; refused")
    return path


def resource_dirs(data_root: Path) -> list[Path]:
    """The operator's per-resource state folders: ``<root>/<namespace>/<name>/.atlas``."""
    found = []
    for state in sorted(data_root.glob(f"*/*/{STATE_DIR}")):
        rel = state.relative_to(data_root).as_posix()
        if check_no_links(data_root, rel).is_dir():
            found.append(state)
    return found


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


def read_local(state_dir: Path | None, data_root: Path | None) -> list[GrantFile]:
    """What a save would take: the data root's resources, or the state folder."""
    if data_root is not None:
        return read_data_root(data_root)
    return read_state_dir(state_dir or default_state_dir())


def should_apply(folder: Path, files: list[GrantFile], force: bool) -> bool:
    """Whether ``folder`` needs ``files``: not when it holds them, nor a newer grant."""
    local = _read_tree(folder, strict=False) if folder.is_dir() else []
    if {f.path: f.data for f in local} == {f.path: f.data for f in files}:
        return False
    newest_local = max((f.mtime_ns for f in local), default=0)
    if newest_local > max(f.mtime_ns for f in files) and not force:
        log.warning("%s: holds a newer grant than the cache; kept (--force to replace)", folder)
        return False
    return True


def apply(folder: Path, files: list[GrantFile]) -> None:
    """Swap ``folder`` for exactly ``files``, owner-only, with their saved times."""

    def keep_times(built: Path) -> None:  # saved times, so freshness compares across machines
        for f in files:
            os.utime(built / f.path, ns=(f.mtime_ns, f.mtime_ns), follow_symlinks=False)

    data = {f.path: f.data for f in files}
    replace_dir(
        folder, data, force=True, before_swap=keep_times, dir_mode=DIR_MODE, file_mode=FILE_MODE
    )
