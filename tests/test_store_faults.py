"""Every adapter calls a broken answer what it is: the store is unavailable, so the next store
serves. Never bad input (which stops a pull without fallback), never a silent empty result.

Each fault is injected through one fault proxy in front of each of the three emulators.
"""

from __future__ import annotations

import time

import pytest

from atlas_continuity.runtime.stores.base import (
    ObjectNotFound,
    StoreSettings,
    StoreUnavailable,
)
from atlas_continuity.runtime.stores.resilience import ResilientStore
from devtools.faultproxy import blackhole, reset, status, trickle, truncate

from .proxied import BODY, KEY

DEADLINE = StoreSettings(
    connect_timeout=1.0, read_timeout=1.0, request_deadline=2.0, attempts=1, backoff=0.01
)
FAULTS = {
    "truncated": truncate(after_body_bytes=3),
    "cut-before-the-body": truncate(after_body_bytes=0),
    "reset": reset(),
    "blackholed": blackhole(),
    "trickling": trickle(1.0),
    "trickling-body": trickle(1.0, body_only=True),
    "server-error": status(500, b"<Error><Code>InternalError</Code></Error>"),
    "throttled": status(429),
    "garbage": status(200, b"\x00\x01 not what any store sends"),
}
CALLS = {
    "get": lambda store: store.get(KEY),
    "list": lambda store: store.list("registry/"),
}


# A 200 answer to a GET whose bytes are wrong is the registry's to catch (every read is hashed):
# to the adapter it is an object.
CASES = [(f, c) for f in FAULTS for c in CALLS if (f, c) != ("garbage", "get")]


@pytest.mark.parametrize(("fault", "call"), CASES)
def test_a_broken_answer_is_unavailable_within_the_deadline(proxied, fault, call):
    store = ResilientStore(proxied.store.inner, DEADLINE)
    proxied.proxy.inject(FAULTS[fault])
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        CALLS[call](store)
    assert time.monotonic() - started < DEADLINE.request_deadline + 1.0


def test_a_missing_object_is_not_a_fault(proxied):
    store = ResilientStore(proxied.store.inner, DEADLINE)
    with pytest.raises(ObjectNotFound):
        store.get("registry/nothing-here")
    assert store.get(KEY) == BODY
