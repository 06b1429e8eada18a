"""Read from the first store that can serve, in order, moving on only when that is safe.

Fallback-eligible: the store is unreachable, timed out, throttled past retries, answered 5xx,
lacks the object, or served bytes that failed their hash. Not eligible: bad configuration
and rejected credentials, which must be fixed rather than papered over; the caller may opt
in to falling back on rejected credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .errors import AuthRejected, ContinuityError, IntegrityError, NotFound, Unavailable
from .registry import Registry

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Attempt:
    url: str
    error: str
    kind: str

    @property
    def is_news(self) -> bool:
        """False for a store skipped because it failed earlier: that failure was reported."""
        return self.kind != "StoreSkipped"


@dataclass
class FallbackResult(Generic[T]):
    value: T
    registry: Registry
    index: int
    failures: list[Attempt] = field(default_factory=list)


class AllStoresFailed(ContinuityError):
    """No store could serve; ``exit_code`` is the most telling of the failures."""

    def __init__(self, what: str, failures: list[Attempt], errors: list[ContinuityError]) -> None:
        # Most store errors name their store already; name it once.
        detail = "; ".join(
            a.error if a.error.startswith(a.url) else f"{a.url}: {a.error}" for a in failures
        )
        super().__init__(f"{what}: no store could serve it ({detail})")
        self.failures = failures
        # All stores lacked it -> not found; any corruption -> integrity; else unavailable.
        if all(isinstance(e, NotFound) for e in errors):
            self.exit_code = NotFound.exit_code
        elif any(isinstance(e, IntegrityError) for e in errors):
            self.exit_code = IntegrityError.exit_code
        elif all(isinstance(e, AuthRejected) for e in errors):
            self.exit_code = AuthRejected.exit_code
        else:
            self.exit_code = Unavailable.exit_code


def first_success(
    registries: Sequence[Registry],
    fn: Callable[[Registry], T],
    what: str,
    *,
    fallback_on_auth: bool = False,
) -> FallbackResult[T]:
    """Return ``fn`` of the first registry that serves, with the failures met on the way."""
    failures: list[Attempt] = []
    errors: list[ContinuityError] = []
    eligible: tuple[type[ContinuityError], ...] = (NotFound, Unavailable, IntegrityError)
    if fallback_on_auth:
        eligible += (AuthRejected,)
    for index, registry in enumerate(registries):
        try:
            return FallbackResult(fn(registry), registry, index, failures)
        except eligible as exc:
            log.debug("%s: %s; trying the next store", what, exc)
            failures.append(Attempt(registry.url, str(exc), type(exc).__name__))
            errors.append(exc)
    raise AllStoresFailed(what, failures, errors)
