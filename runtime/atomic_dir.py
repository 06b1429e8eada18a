"""Put a whole directory in place at once: build it beside the target, then rename.

Readers of the target see the old directory or the new one, never a mix. Every name is
checked before anything is written, and files are created with O_EXCL | O_NOFOLLOW, so a
hostile file list cannot write outside the temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from .errors import BadInput, Refused
from .manifest import is_safe_file_name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir(
    dest: Path,
    files: Mapping[str, bytes],
    *,
    force: bool,
    check: Callable[[Path], None] | None = None,
    dir_mode: int = 0o755,
    file_mode: int = 0o644,
) -> None:
    """Make ``dest`` hold exactly ``files``; ``check`` inspects the built copy before the swap.

    A non-empty ``dest`` is replaced only with ``force``; a failed ``check`` leaves it untouched.
    """
    for name in files:
        if not (is_safe_file_name(name) or name == "atlas.sum"):
            raise BadInput(f"refusing to write unsafe file name {name!r}")
    dest = dest.absolute()
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BadInput(f"{dest}: exists and is not a directory")
    if _holds_exactly(dest, files):  # already in place: nothing to change
        if check is not None:
            check(dest)
        return
    if dest.exists() and any(dest.iterdir()) and not force:
        raise Refused(f"{dest}: directory is not empty; pass --force to replace its contents")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        os.chmod(tmp, dir_mode)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        for name, data in files.items():
            fd = os.open(tmp / name, flags, file_mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        if check is not None:
            check(tmp)
        _swap_into_place(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _holds_exactly(dest: Path, files: Mapping[str, bytes]) -> bool:
    if not dest.is_dir():
        return False
    entries = list(dest.iterdir())
    if sorted(e.name for e in entries) != sorted(files):
        return False
    return all(
        e.is_file() and not e.is_symlink() and e.read_bytes() == files[e.name] for e in entries
    )


def _swap_into_place(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
    elif not any(dest.iterdir()):
        os.rename(tmp, dest)  # rename(2) replaces an empty directory atomically
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.rmdir(old)
        os.rename(dest, old)
        try:
            os.rename(tmp, dest)
        except OSError:
            os.rename(old, dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(OSError):
        _fsync_dir(dest.parent)
