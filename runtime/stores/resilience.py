"""The wrapper every opened store wears: bounded retries, a circuit breaker, safe errors.

Adapters classify SDK errors and make single attempts; this wrapper decides what to try
again. Once a store has failed as unavailable, later calls in the same run fail at once, so
an unreachable store costs a pipeline one timeout, not one per object.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import ContinuityError
from .base import Store, StoreConfigError, StoreSettings, StoreSkipped, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class ResilientStore:
    """A Store that retries retryable failures and stops calling a store that is down."""

    def __init__(self, inner: Store, settings: StoreSettings) -> None:
        self.inner = inner
        self.url = inner.url
        self.settings = settings
        self._down: StoreUnavailable | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> StoreUnavailable | None:
        """The failure that took this store out of the run, if any."""
        return self._down

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        if self._down is not None:
            raise StoreSkipped(f"{self.url}: skipped: unavailable earlier in this run")
        delay = self.settings.backoff
        for attempt in range(1, self.settings.attempts + 1):
            try:
                return fn()
            except StoreUnavailable as exc:
                if not exc.retry or attempt == self.settings.attempts:
                    with self._lock:
                        self._down = self._down or exc
                    raise
                log.debug(
                    "%s: %s failed (%s); attempt %d of %d in %.1fs",
                    self.url,
                    what,
                    exc,
                    attempt + 1,
                    self.settings.attempts,
                    delay,
                )
            except ContinuityError:
                raise
            except ImportError as exc:
                raise StoreConfigError(
                    f"{self.url}: the SDK for this store is not installed ({exc}); install "
                    "atlas-continuity with the store's extra: [s3], [gcs] or [azureblob]"
                ) from None
            except (ValueError, TypeError) as exc:  # the SDK refused what the URL gave it
                raise StoreConfigError(f"{self.url}: {what}: {exc}") from None
            except Exception as exc:  # transport trouble no adapter classified
                log.debug("%s: unclassified error in %s", self.url, what, exc_info=True)
                err = StoreUnavailable(f"{self.url}: {what} failed: {exc!r}", retry=False)
                with self._lock:
                    self._down = self._down or err
                raise err from None
            time.sleep(delay * (0.5 + random.random()))
            delay *= 2
        raise AssertionError("unreachable")

    def put(self, key: str, data: bytes) -> None:
        self._call(f"put {key}", lambda: self.inner.put(key, data))

    def get(self, key: str) -> bytes:
        return self._call(f"get {key}", lambda: self.inner.get(key))

    def stat(self, key: str) -> int | None:
        return self._call(f"stat {key}", lambda: self.inner.stat(key))

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        return self._call(f"list {prefix}", lambda: self.inner.list(prefix, limit))

    def close(self) -> None:
        self.inner.close()
