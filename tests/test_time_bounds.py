"""Every adapter honours the connect and read timeouts, whatever its SDK's defaults, and every
call its request deadline and the command's deadline."""

from __future__ import annotations

import time

import pytest

from atlas_continuity.runtime.stores import open_store
from atlas_continuity.runtime.stores.base import (
    DeadlineExceeded,
    StoreSettings,
    StoreSkipped,
    StoreUnavailable,
)
from atlas_continuity.runtime.stores.resilience import ResilientStore
from devtools.emulators import Blackhole

from .helpers import store_url_at

SETTINGS = StoreSettings(connect_timeout=1.0, read_timeout=1.0)


@pytest.fixture
def hole():
    h = Blackhole()
    yield h
    h.close()


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_blackholed_store_costs_one_read_timeout_then_is_skipped(kind, hole, monkeypatch):
    store = open_store(store_url_at(kind, hole.endpoint, monkeypatch), SETTINGS)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"timed out|no answer"):
        store.list("registry/")
    first = time.monotonic() - started
    assert first < 1.0 + 2.0, f"{kind}: {first:.1f}s for a 1 s read timeout"
    started = time.monotonic()
    with pytest.raises(StoreSkipped):
        store.get("registry/x")
    assert time.monotonic() - started < 0.1


def test_s3_access_denied_on_one_key_reads_as_missing_but_on_a_listing_as_auth(monkeypatch):
    """S3 answers 403 for a missing key when the reader may list only its prefix."""
    from botocore.stub import Stubber

    from atlas_continuity.runtime.stores.base import ObjectNotFound, StoreAuthRejected

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = open_store("s3://bucket/x?region=us-east-1", SETTINGS)
    with Stubber(store.inner.client) as stub:
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        stub.add_client_error("list_objects_v2", "AccessDenied", http_status_code=403)
        with pytest.raises(ObjectNotFound, match="or access denied"):
            store.get("registry/app/blobs/sha256/00")
        with pytest.raises(StoreAuthRejected):
            store.list("registry/")


class SlowStore:
    """An adapter whose every call takes ``seconds``: a store that answers, but too slowly."""

    url = "slow://store"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def _slow(self):
        self.calls += 1
        time.sleep(self.seconds)
        return b"late"

    def get(self, key, limit=None):
        return self._slow()

    def list(self, prefix, limit=None):
        return self._slow()

    def close(self):
        pass


def test_a_call_past_the_request_deadline_is_unavailable_and_the_store_is_skipped():
    store = ResilientStore(SlowStore(5.0), StoreSettings(request_deadline=0.3))
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"within 0\.3s \(the request deadline\)"):
        store.get("k")
    assert time.monotonic() - started < 1.0
    with pytest.raises(StoreSkipped):
        store.list("")
    assert store.inner.calls == 1  # the deadline is not retried: it costs a pipeline once


def test_a_call_within_the_request_deadline_returns_its_answer():
    store = ResilientStore(SlowStore(0.05), StoreSettings(request_deadline=2.0))
    assert store.get("k") == b"late"


def test_the_command_deadline_cuts_a_call_short_and_stops_every_later_one():
    settings = StoreSettings(request_deadline=30.0, deadline_at=time.monotonic() + 0.3)
    first, second = ResilientStore(SlowStore(5.0), settings), ResilientStore(SlowStore(0), settings)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"\(what was left of --deadline\)"):
        first.get("k")  # its budget was what was left of the command's, and it says so
    assert time.monotonic() - started < 1.0
    with pytest.raises(DeadlineExceeded, match="--deadline passed"):
        second.get("k")
    assert second.inner.calls == 0
