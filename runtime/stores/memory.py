"""An in-process store for the test suite. No URL opens it: data kept in a process's memory is
gone when the process exits, so a user never names it as a store."""

from __future__ import annotations

import bisect
import threading

from .base import ObjectExists, ObjectNotFound, check_size


class MemoryStore:
    """A sorted in-memory key space."""

    def __init__(self, url: str = "memory (tests only)") -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            if key in self.objects:
                raise ObjectExists(f"{self.url}: {key} exists")
            self.objects[key] = bytes(data)

    def get(self, key: str, limit: int | None = None) -> bytes:
        with self._lock:
            data = self.objects.get(key)
        if data is None:
            raise ObjectNotFound(f"{self.url}: {key} not found")
        check_size(self.url, key, len(data), limit)
        return data

    def stat(self, key: str) -> int | None:
        with self._lock:
            data = self.objects.get(key)
        return None if data is None else len(data)

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        with self._lock:
            keys = sorted(self.objects)
        start = bisect.bisect_left(keys, prefix)
        if start_after is not None:
            start = max(start, bisect.bisect_right(keys, start_after))
        out = []
        for key in keys[start:]:
            if not key.startswith(prefix) or (limit is not None and len(out) >= limit):
                break
            out.append(key)
        return out

    def close(self) -> None:
        pass
