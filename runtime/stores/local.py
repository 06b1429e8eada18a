"""``file:///abs/path``: a folder, for tests, air-gapped mirrors and mounted volumes."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .. import ownership
from ..errors import IntegrityError
from .base import (
    ObjectExists,
    ObjectNotFound,
    StoreConfigError,
    StoreSettings,
    StoreUnavailable,
    check_size,
)

_TMP_PREFIX = f".{ownership.TAG}-"


class LocalStore:
    """Objects are files below ``root``; writes are create-only and atomic (temp file + link)."""

    def __init__(self, root: Path, url: str, create: bool = False) -> None:
        self.root = root
        self.url = url
        self.create = create
        """The folder may be missing: it reads as empty and the first write makes it."""
        self._swept: set[Path] = set()
        self._root_found = False

    @classmethod
    def from_url(cls, url, settings: StoreSettings) -> LocalStore:
        url.check_params(set())
        root = Path(url.prefix).expanduser().absolute()
        return cls(root, url.display, create=settings.create_store)

    def _check_root(self) -> None:
        """The folder must be one, and exist unless this store may create it: a missing
        folder is met as a missing bucket is (see StoreSettings.create_store)."""
        if self._root_found:
            return
        try:
            info = self.root.stat()
        except FileNotFoundError:
            if self.create:
                return
            raise StoreConfigError(
                f"{self.url}: folder {str(self.root)!r} does not exist (only push and grant "
                "save start a new store; create the folder first to use it otherwise)"
            ) from None
        except OSError as exc:
            raise self._classify(exc, "") from None
        if not stat.S_ISDIR(info.st_mode):
            raise StoreConfigError(f"{self.url}: not a directory")
        self._root_found = True

    def _path(self, key: str) -> Path:
        """The file for ``key``; refuses a key or a folder on its way that could lead elsewhere
        (a cache folder is anyone's to tamper with: O_NOFOLLOW guards only the last step)."""
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
            raise IntegrityError(f"{self.url}: unsafe key {key!r}; refused")
        path = self.root
        for part in parts[:-1]:
            path = path / part
            if path.is_symlink():
                raise IntegrityError(f"{self.url}: {path} is a symbolic link; refused")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        self._check_root()
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / ownership.temp_name("", "tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                # link() fails if the name exists: create-only, and never a half-written file.
                os.link(tmp, path)
            finally:
                os.unlink(tmp)
            if path.parent not in self._swept:
                # Killed writers leave copies no reader sees (in a CI cache folder, whole
                # grants that would travel with every cache): remove those of dead runs.
                ownership.sweep_files(path.parent, "")
                self._swept.add(path.parent)
        except FileExistsError:
            raise ObjectExists(f"{self.url}: {key} exists") from None
        except OSError as exc:
            raise self._classify(exc, key) from None

    def get(self, key: str, limit: int | None = None) -> bytes:
        # A folder may be a CI cache anyone could have written: never follow a link, never
        # block on a FIFO, never read a device.
        self._check_root()
        try:
            fd = os.open(self._path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"{self.url}: {key} not found") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise IntegrityError(f"{self.url}: {key} is a symbolic link; refused") from None
            raise self._classify(exc, key) from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise IntegrityError(f"{self.url}: {key} is not a regular file; refused")
            check_size(self.url, key, info.st_size, limit)
            data = f.read() if limit is None else f.read(limit + 1)
        check_size(self.url, key, len(data), limit)
        return data

    def stat(self, key: str) -> int | None:
        self._check_root()
        try:
            return self._path(key).lstat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._classify(exc, key) from None

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        # Walk only the deepest folder the prefix names, then filter by the rest of it.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._path(f"{base}/x").parent if base else self.root
        self._check_root()
        keys: list[str] = []

        def fail(exc: OSError) -> None:
            if not isinstance(exc, FileNotFoundError):  # a folder not made yet lists as empty
                raise exc

        try:
            for dirpath, dirnames, filenames in os.walk(start, onerror=fail):
                dirnames[:] = [d for d in dirnames if not d.startswith(_TMP_PREFIX)]
                rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
                rel = "" if rel == "." else rel + "/"
                keys.extend(
                    rel + name
                    for name in filenames
                    if not name.startswith(_TMP_PREFIX) and (rel + name).startswith(prefix)
                )
        except OSError as exc:
            raise self._classify(exc, prefix) from None
        keys = sorted(k for k in keys if start_after is None or k > start_after)
        return keys if limit is None else keys[:limit]

    def close(self) -> None:
        pass

    def _classify(self, exc: OSError, key: str) -> Exception:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return StoreConfigError(f"{self.url}: {key}: {exc.strerror}")
        return StoreUnavailable(f"{self.url}: {key}: {exc.strerror or exc}", retry=False)
