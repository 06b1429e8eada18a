"""A bucket on each emulator, reached through a fault proxy: what the fault tests share."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest

from atlas_continuity.runtime.stores import open_store
from atlas_continuity.runtime.stores.base import Store, StoreSettings
from atlas_continuity.runtime.stores.resilience import ResilientStore
from devtools.emulators import AZURITE_ACCOUNT, AZURITE_KEY
from devtools.faultproxy import FaultProxy

from .conftest import CLOUD_KINDS, create_bucket, unique_bucket
from .helpers import store_url_at

SETTINGS = StoreSettings(connect_timeout=1.0, read_timeout=1.0, attempts=1)
PREFIX = "x"
KEY = "registry/app/blobs/sha256/ab"
BODY = bytes(range(48))


@dataclass(frozen=True)
class Proxied:
    """A bucket holding BODY under KEY, reached through a proxy."""

    kind: str
    proxy: FaultProxy
    store: Store
    path: str
    """Path and query that read KEY with a plain GET."""

    def get(self, timeout: float = 2.0) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=timeout)
        conn.request("GET", self.path)
        return conn.getresponse()

    def raw_get(self) -> list[tuple[float, bytes]]:
        """The whole response to a GET of KEY, as (arrival time, bytes) per socket read."""
        request = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        reads = []
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=5) as sock:
            sock.sendall(request.encode())
            while data := sock.recv(65536):
                reads.append((time.monotonic(), data))
        return reads


def object_path(kind: str, endpoint: str, bucket: str) -> str:
    """Path and query that read KEY with a plain GET, signed where the emulator wants it."""
    name = f"{PREFIX}/{KEY}"
    if kind == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        url = urlsplit(client.generate_presigned_url("get_object", {"Bucket": bucket, "Key": name}))
        return f"{url.path}?{url.query}"
    if kind == "gcs":
        return f"/download/storage/v1/b/{bucket}/o/{quote(name, safe='')}?alt=media"
    from azure.storage.blob import generate_blob_sas

    expiry = datetime.now(UTC) + timedelta(hours=1)
    sas = generate_blob_sas(
        AZURITE_ACCOUNT, bucket, name, account_key=AZURITE_KEY, permission="r", expiry=expiry
    )
    return f"/{AZURITE_ACCOUNT}/{bucket}/{name}?{sas}"


@pytest.fixture(scope="module", params=CLOUD_KINDS)
def proxied_bucket(request, emulators) -> Iterator[Proxied]:
    # One bucket, proxy and SDK client per kind for the whole module: making SDK clients is
    # what costs time here.
    kind = request.param
    bucket = unique_bucket()
    create_bucket(kind, emulators, bucket)
    with pytest.MonkeyPatch.context() as env, FaultProxy(emulators[kind].endpoint) as proxy:
        store = open_store(store_url_at(kind, proxy.endpoint, env, bucket, PREFIX), SETTINGS)
        store.put(KEY, BODY)
        yield Proxied(kind, proxy, store, object_path(kind, proxy.endpoint, bucket))
        store.close()


@pytest.fixture
def proxied(proxied_bucket) -> Iterator[Proxied]:
    """The kind's proxied bucket with no fault, counts at zero, and a store that has not been
    marked down by an earlier test."""
    proxy = proxied_bucket.proxy
    proxy.clear()
    proxy.reset_counts()
    yield replace(proxied_bucket, store=ResilientStore(proxied_bucket.store.inner, SETTINGS))
    proxy.clear()
