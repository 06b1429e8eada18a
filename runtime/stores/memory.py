"""``mem://name``: an in-process store, shared by name, for unit tests and dry runs."""

from __future__ import annotations

import bisect
import threading
from typing import ClassVar

from .base import ObjectExists, ObjectNotFound, StoreSettings


class MemoryStore:
    """A sorted in-memory key space; instances opened with the same name share their objects."""

    _spaces: ClassVar[dict[str, dict[str, bytes]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str, url: str) -> None:
        self.url = url
        with self._lock:
            self.objects = self._spaces.setdefault(name, {})

    @classmethod
    def from_url(cls, url, settings: StoreSettings) -> MemoryStore:
        url.check_params(set())
        return cls(f"{url.bucket}/{url.prefix}", url.display)

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls._spaces.clear()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            if key in self.objects:
                raise ObjectExists(f"{self.url}: {key} exists")
            self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self.objects[key]
            except KeyError:
                raise ObjectNotFound(f"{self.url}: {key} not found") from None

    def stat(self, key: str) -> int | None:
        with self._lock:
            data = self.objects.get(key)
        return None if data is None else len(data)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        with self._lock:
            keys = sorted(self.objects)
        start = bisect.bisect_left(keys, prefix)
        out = []
        for key in keys[start:]:
            if not key.startswith(prefix) or (limit is not None and len(out) >= limit):
                break
            out.append(key)
        return out

    def close(self) -> None:
        pass
