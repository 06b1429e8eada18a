"""Every adapter honours the connect and read timeouts, whatever its SDK's defaults."""

from __future__ import annotations

import time

import pytest

from atlas_continuity.runtime.stores import open_store
from atlas_continuity.runtime.stores.base import StoreSettings, StoreSkipped, StoreUnavailable
from devtools.emulators import AZURITE_ACCOUNT, AZURITE_KEY, Blackhole

SETTINGS = StoreSettings(connect_timeout=1.0, read_timeout=1.0)


@pytest.fixture
def hole():
    h = Blackhole()
    yield h
    h.close()


def blackholed_url(kind: str, hole: Blackhole, monkeypatch) -> str:
    if kind == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        return f"s3://bucket/x?region=us-east-1&endpoint={hole.endpoint}"
    if kind == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", hole.endpoint)
        return "gs://bucket/x"
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={hole.endpoint}/{AZURITE_ACCOUNT};",
    )
    return f"azureblob://bucket/x?storage_account={AZURITE_ACCOUNT}"


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_blackholed_store_costs_one_read_timeout_then_is_skipped(kind, hole, monkeypatch):
    store = open_store(blackholed_url(kind, hole, monkeypatch), SETTINGS)
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
