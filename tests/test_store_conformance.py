"""One behaviour suite for every store adapter: the same calls, the same answers."""

from __future__ import annotations

import threading

import pytest

from atlas_continuity.runtime.errors import IntegrityError
from atlas_continuity.runtime.manifest import PackRef, sha256_hex
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store
from atlas_continuity.runtime.stores.base import (
    ObjectExists,
    ObjectNotFound,
    ObjectTooLarge,
    Store,
    StoreSettings,
)
from atlas_continuity.runtime.stores.memory import MemoryStore
from atlas_continuity.runtime.stores.resilience import ResilientStore

from .conftest import ALL_KINDS


@pytest.fixture(params=[*ALL_KINDS, "memory"])
def store(request, make_store) -> Store:
    # The in-memory test double passes the same suite, so tests may trust it as a store.
    if request.param == "memory":
        s = ResilientStore(MemoryStore(), StoreSettings())
    else:
        s = open_store(make_store(request.param))
    yield s
    s.close()


def test_put_then_get_returns_the_same_bytes(store):
    data = bytes(range(256)) * 41
    store.put("a/b/c.bin", data)
    assert store.get("a/b/c.bin") == data
    assert store.stat("a/b/c.bin") == len(data)


def test_empty_object_round_trips(store):
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.stat("empty") == 0


def test_put_is_create_only(store):
    store.put("k", b"first")
    with pytest.raises(ObjectExists):
        store.put("k", b"second")
    assert store.get("k") == b"first"


def test_missing_key(store):
    with pytest.raises(ObjectNotFound):
        store.get("nope")
    assert store.stat("nope") is None


def test_list_is_byte_ordered_prefix_filtered_and_limited(store):
    for key in ["t/b", "t/a", "t/c/d", "u/a", "ta"]:
        store.put(key, b"x")
    assert store.list("t/") == ["t/a", "t/b", "t/c/d"]
    assert store.list("t/", limit=1) == ["t/a"]
    assert store.list("t") == ["t/a", "t/b", "t/c/d", "ta"]
    assert store.list("zzz/") == []


def test_list_starts_after_a_key(store):
    for key in ["s/1", "s/2", "s/3", "s/3x", "t/1"]:
        store.put(key, b"x")
    assert store.list("s/", start_after="s/2") == ["s/3", "s/3x"]
    assert store.list("s/", start_after="s/2", limit=1) == ["s/3"]
    assert store.list("s/", start_after="s/3") == ["s/3x"]  # exclusive, a prefix of a later key
    assert store.list("s/", start_after="s/") == ["s/1", "s/2", "s/3", "s/3x"]
    assert store.list("s/", start_after="s/9") == []
    assert store.list("s/", start_after="a") == ["s/1", "s/2", "s/3", "s/3x"]


def test_list_pages_past_one_response(store):
    keys = [f"p/{i:05d}" for i in range(1100)]
    for key in keys:
        store.put(key, b"")
    assert store.list("p/") == keys
    assert store.list("p/", limit=1005) == keys[:1005]


def test_concurrent_create_only_writers_one_wins(store):
    results: list[str] = []

    def write(i: int) -> None:
        try:
            store.put("race", f"writer-{i}".encode())
            results.append("ok")
        except ObjectExists:
            results.append("exists")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    assert store.get("race").startswith(b"writer-")


class CorruptingStore:
    """A store that flips one bit of every object it returns: a bad disk, a buggy proxy."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.url = inner, inner.url

    def put(self, key, data):
        self.inner.put(key, data)

    def get(self, key, limit=None):
        data = bytearray(self.inner.get(key, limit))
        if data:
            data[len(data) // 2] ^= 0x01
        return bytes(data)

    def stat(self, key):
        return self.inner.stat(key)

    def list(self, prefix, limit=None, start_after=None):
        return self.inner.list(prefix, limit, start_after)

    def close(self):
        self.inner.close()


def test_corrupted_reads_are_detected_by_the_registry(store):
    ref = PackRef(sha256_hex(b"hello"), 5)
    Registry(store, "app").put_pack(ref.sha256, b"hello")
    assert Registry(store, "app").get_pack(ref) == b"hello"
    with pytest.raises(IntegrityError, match="corrupt"):
        Registry(CorruptingStore(store), "app").get_pack(ref)


def test_a_read_with_a_limit_refuses_a_larger_object_unread(store):
    store.put("big", b"x" * 1000)
    store.put("fits", b"y" * 10)
    store.put("empty", b"")
    with pytest.raises(ObjectTooLarge, match="1000 bytes"):
        store.get("big", limit=999)
    assert store.get("big", limit=1000) == b"x" * 1000
    assert store.get("fits", limit=10) == b"y" * 10
    assert store.get("empty", limit=10) == b""
    assert store.get("empty", limit=0) == b""
    with pytest.raises(ObjectNotFound):
        store.get("missing", limit=10)
