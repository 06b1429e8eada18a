"""Put a whole directory in place at once: build it beside the target, then rename.

Readers of the target see the old directory or the new one, never a mix. Every name is
checked before anything is written, and files are created with O_EXCL | O_NOFOLLOW, so a
hostile file list cannot write outside the temporary directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from . import ownership
from .errors import BadInput, Refused
from .paths import is_safe_relpath


def _make_durable(tmp: Path) -> None:
    """Put everything written below ``tmp`` on disk before it is renamed into place: one
    syncfs(2) of its file system where Linux offers it (a directory of thousands of files
    costs one call, not a fsync each), every file and folder fsynced otherwise."""
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
        if syncfs is not None and syncfs(fd) == 0:
            return
    except OSError:
        pass
    finally:
        os.close(fd)
    for dirpath, _, filenames in os.walk(tmp):
        for name in filenames:
            file_fd = os.open(os.path.join(dirpath, name), os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(file_fd)
            finally:
                os.close(file_fd)
        _fsync_dir(Path(dirpath))


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
    before_swap: Callable[[Path], None] | None = None,
    dir_mode: int | None = None,
    file_mode: int | None = None,
) -> None:
    """Make ``dest`` hold exactly ``files`` (relative paths; folders are made as needed);
    ``before_swap`` inspects or finishes the built copy before it goes in place.

    A non-empty ``dest`` is replaced only with ``force``; a failing ``before_swap`` leaves it
    untouched. Modes, when given, are set exactly (not filtered by the umask), for private data.
    """
    for name in files:
        if not is_safe_relpath(name):
            raise BadInput(f"refusing to write unsafe path {name!r}")
    dest = dest.absolute()
    if dest.is_symlink():  # replacing it would replace the link, not the folder it names
        raise BadInput(f"{dest}: a symbolic link; give the folder itself ({dest.resolve()})")
    if dest.exists() and not dest.is_dir():
        raise BadInput(f"{dest}: exists and is not a directory")
    if _holds_exactly(dest, files):  # already in place: nothing to change
        if before_swap is not None:
            before_swap(dest)
        return
    if os.path.ismount(dest):  # the new folder is built beside it and renamed over it
        raise BadInput(
            f"{dest}: a mount point, which cannot be replaced by a folder built beside it; "
            f"give a folder below it (for example {dest / 'migrations'})"
        )
    if dest.exists() and any(dest.iterdir()) and not force:
        raise Refused(f"{dest}: directory is not empty; pass --force to replace its contents")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # mkdir's own words name no cause
        raise BadInput(
            f"cannot make {dest.parent}: a file is in the way ({exc.filename})"
        ) from None
    with ownership.scratch_dir(dest.parent, f".{dest.name}") as tmp:
        _set_dir_mode(tmp, dir_mode)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        for name, data in files.items():
            path = tmp / name
            for parent in reversed(path.relative_to(tmp).parents[:-1]):
                if not (tmp / parent).is_dir():
                    (tmp / parent).mkdir()
                    _set_dir_mode(tmp / parent, dir_mode)
            fd = os.open(path, flags, 0o666 if file_mode is None else file_mode)
            if file_mode is not None:
                os.fchmod(fd, file_mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        _make_durable(tmp)
        if before_swap is not None:
            before_swap(tmp)
        _swap_into_place(tmp, dest)


def _set_dir_mode(path: Path, mode: int | None) -> None:
    """Apply ``mode`` exactly; without one, what mkdir would give under the umask
    (mkdtemp's private 0700 is right for a temp dir, not for the result)."""
    if mode is None:
        mode = 0o777 & ~_umask()
    os.chmod(path, mode)


def _umask() -> int:
    # Linux reports it without changing it; setting and restoring it races other threads.
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text()
        return int(next(ln for ln in status.splitlines() if ln.startswith("Umask:")).split()[1], 8)
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _holds_exactly(dest: Path, files: Mapping[str, bytes]) -> bool:
    if not dest.is_dir() or dest.is_symlink():
        return False
    found = {}
    for path in dest.rglob("*"):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            return False
        if path.is_file():
            found[path.relative_to(dest).as_posix()] = path
    return sorted(found) == sorted(files) and all(
        found[name].read_bytes() == data for name, data in files.items()
    )


def _swap_into_place(tmp: Path, dest: Path) -> None:
    if not dest.exists() or not any(dest.iterdir()):
        os.rename(tmp, dest)  # rename(2) replaces an empty directory atomically
    elif _exchange(tmp, dest):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old contents
    else:  # no atomic exchange here: two renames, with a moment where dest is absent
        old = ownership.make_dir(dest.parent, f".{dest.name}", "old")
        os.rmdir(old)
        os.rename(dest, old)
        try:
            os.rename(tmp, dest)
        except OSError:
            os.rename(old, dest)
            raise
        ownership.remove_dir(old)
    with contextlib.suppress(OSError):
        _fsync_dir(dest.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step with Linux's renameat2(RENAME_EXCHANGE);
    False where the kernel, the C library or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
