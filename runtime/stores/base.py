"""The one store interface, the errors stores raise, and the settings every store honours.

A store is dumb: it moves opaque bytes under opaque keys. It never computes a digest,
never builds a registry path and never retries: integrity lives in ``registry.py``, key
names in ``layout.py`` and retries in ``resilience.py``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..errors import AuthRejected, BadInput, ContinuityError, IntegrityError, NotFound, Unavailable

T = TypeVar("T")


class ObjectExists(ContinuityError):
    """A create-only write found the key already taken."""


class ObjectNotFound(NotFound):
    """The key does not exist in the store."""


class StoreUnavailable(Unavailable):
    """The store did not answer usefully: refused, timed out, throttled, or failed (5xx).

    ``retry`` says whether the same call may succeed if repeated soon: a refused connection or
    a 503 may, a timeout is not retried so that a blackholed store costs one timeout, not many.
    """

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class StoreSkipped(StoreUnavailable):
    """Not called: the store already failed as unavailable earlier in this run."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry=False)


class StoreAuthRejected(AuthRejected):
    """The store rejected the credentials, or none could be found."""


class StoreConfigError(BadInput):
    """The store is misconfigured: the bucket or container does not exist, a bad endpoint."""


class DeadlineExceeded(StoreUnavailable):
    """The command's own deadline (``--deadline``) passed: no store is called any more."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry=False)


class ObjectTooLarge(IntegrityError):
    """An object is larger than anything the registry writes under its key: it is refused
    before it is read (the next store serves), so a store cannot exhaust memory or time."""


@dataclass(frozen=True)
class StoreSettings:
    """Time bounds every adapter applies to every call (the SDKs' own retries are turned off)."""

    connect_timeout: float = 3.0
    """Seconds to wait for a TCP + TLS connection."""
    read_timeout: float = 5.0
    """Seconds to wait for the next bytes of an answer; a blackholed store costs this once."""
    request_deadline: float = 30.0
    """Seconds one store call may take in all: connecting, sending, and the whole answer. A
    store that trickles its answer (every read within read_timeout, the whole never) costs
    this once, then counts as unavailable."""
    deadline_at: float | None = None
    """``time.monotonic()`` by which the whole command must be done (``--deadline``); no store
    is called after it. None: no command deadline."""
    attempts: int = 3
    """Calls per operation for retryable failures (refused connection, throttling, 5xx)."""
    backoff: float = 0.2
    """First pause between attempts, in seconds; doubled each time."""
    concurrency: int = 16
    """Parallel requests per store."""
    create_store: bool = False
    """A write may start a store that does not exist yet, where its kind allows: a local
    folder only, as buckets and containers are provisioned, never made by the runtime. push
    and grant save set it; to every other command a missing folder is what a missing bucket
    is, a StoreConfigError, so a mistyped path is reported instead of read as empty or
    filled as a new store."""


@runtime_checkable
class Store(Protocol):
    """Create-only object storage under one root (a bucket and prefix, a folder).

    Keys are relative to the root and use ``/`` as separator. Listing returns keys in
    byte order, which the registry relies on to find the newest tag event in one call.
    """

    url: str
    """The store's URL with any secret redacted: safe to print."""

    def put(self, key: str, data: bytes) -> None:
        """Create ``key`` holding ``data``; raise ObjectExists if the key is taken."""
        ...

    def get(self, key: str, limit: int | None = None) -> bytes:
        """Return the bytes under ``key``; raise ObjectNotFound if there are none, and
        ObjectTooLarge, having read at most about ``limit`` bytes, if it holds more."""
        ...

    def stat(self, key: str) -> int | None:
        """Return the size of ``key`` in bytes, or None if it does not exist."""
        ...

    def list(
        self, prefix: str, limit: int | None = None, start_after: str | None = None
    ) -> list[str]:
        """Return up to ``limit`` keys starting with ``prefix``, in byte order, only those
        after ``start_after`` when it is given."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


class Lazy(Generic[T]):
    """An SDK client made on first use, once, even when the store's threads race for it:
    opening a store costs nothing, and a store that is never called never imports its SDK."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value

    def close(self, closer: Callable[[T], None] | None = None) -> None:
        """Close the client, if it was made, with ``closer`` or its own close()."""
        if self._value is not None:
            (closer or (lambda v: v.close()))(self._value)


def check_size(url: str, key: str, size: int, limit: int | None) -> None:
    """Refuse an object of ``size`` bytes when ``limit`` is smaller, before reading it."""
    if limit is not None and size > limit:
        raise ObjectTooLarge(
            f"{url}: {key} holds {size} bytes, more than the {limit} such an object can have; "
            "refused unread"
        )


def network_reason(exc: BaseException) -> str:
    """The useful part of a transport error ("[Errno 111] Connection refused"), not the
    several lines of connection-pool repr that SDKs wrap it in."""
    match = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(exc))
    return match.group(0).strip() if match else type(exc).__name__


def widen_http_pool(session: Any, size: int) -> None:
    """Let ``size`` parallel requests of a requests.Session share keep-alive connections
    (its default pool of 10 discards the rest, with a warning each time)."""
    from requests.adapters import HTTPAdapter

    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(pool_connections=size, pool_maxsize=size))
