"""The wrapper every opened store wears: deadlines, bounded retries, a circuit breaker, safe
errors.

Adapters classify SDK errors and make single attempts; this wrapper decides what to try
again. Every call has a total deadline: the SDKs' timeouts bound each socket read, not a whole
answer, so a store that trickles one byte at a time would otherwise hold a pipeline forever.
Once a store has failed as unavailable, later calls in the same run fail at once, so an
unreachable store costs a pipeline one timeout, not one per object.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import ContinuityError
from .base import (
    DeadlineExceeded,
    Store,
    StoreConfigError,
    StoreSettings,
    StoreSkipped,
    StoreUnavailable,
)

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

    def _budget(self, what: str) -> tuple[float, str]:
        """Seconds the next attempt may take, and which bound that is: the request deadline,
        or what is left of the command's."""
        budget = self.settings.request_deadline
        if self.settings.deadline_at is not None:
            left = self.settings.deadline_at - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"{self.url}: {what}: not called: the --deadline passed")
            if left < budget:
                return left, "what was left of --deadline"
        return budget, "the request deadline"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        if self._down is not None:
            raise StoreSkipped(f"{self.url}: skipped: unavailable earlier in this run")
        delay = self.settings.backoff
        for attempt in range(1, self.settings.attempts + 1):
            try:
                return _within(*self._budget(what), fn, f"{self.url}: {what}")
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
            pause = delay * (0.5 + random.random())
            if self.settings.deadline_at is not None:
                pause = min(pause, max(0.0, self.settings.deadline_at - time.monotonic()))
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")

    def put(self, key: str, data: bytes) -> None:
        self._call(f"put {key}", lambda: self.inner.put(key, data))

    def get(self, key: str, limit: int | None = None) -> bytes:
        return self._call(f"get {key}", lambda: self.inner.get(key, limit))

    def stat(self, key: str) -> int | None:
        return self._call(f"stat {key}", lambda: self.inner.stat(key))

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        return self._call(f"list {prefix}", lambda: self.inner.list(prefix, limit, start_after))

    def close(self) -> None:
        self.inner.close()


def _within(seconds: float, bound: str, fn: Callable[[], T], what: str) -> T:
    """``fn()``, or StoreUnavailable if it has not returned after ``seconds`` (``bound`` says
    which limit those are).

    The call runs on a daemon thread of its own: an SDK blocked in a socket read cannot be
    interrupted, so it is left to finish (or fail) on its own while the run moves on, and it
    cannot keep the process alive at exit.
    """
    outcome: list = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # handed over to the caller's thread
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name="store-call", daemon=True).start()
    if not done.wait(seconds):
        raise StoreUnavailable(
            f"{what}: no complete answer within {seconds:.3g}s ({bound}); "
            "a store this slow counts as unavailable",
            retry=False,
        )
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
