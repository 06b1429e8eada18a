"""The fault proxy in front of each emulator: every adapter call passes through it untouched,
and every fault it injects shows on the wire, where a plain HTTP client sees it."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from atlas_continuity.runtime.stores.base import (
    ObjectExists,
    ObjectNotFound,
    StoreUnavailable,
)
from devtools.emulators import free_port
from devtools.faultproxy import (
    PASS,
    FaultProxy,
    blackhole,
    delay,
    reset,
    slow_down,
    status,
    trickle,
    truncate,
)

from .conftest import create_bucket, unique_bucket
from .proxied import BODY, KEY


@pytest.fixture
def gcs_proxy(emulators, monkeypatch):
    """A proxy before fake-gcs-server and a bucket in it: GCS needs no signing, so raw
    requests stay short."""
    bucket = unique_bucket()
    create_bucket("gcs", emulators, bucket)
    with FaultProxy(emulators["gcs"].endpoint) as proxy:
        yield proxy, bucket


def test_pass_through_serves_every_adapter_call(proxied):
    store, proxy = proxied.store, proxied.proxy
    big = bytes(range(256)) * 4096  # 1 MiB: more than one socket read each way
    store.put("pass/big", big)
    store.put("pass/small", b"small")
    assert store.get("pass/big") == big
    assert store.stat("pass/small") == len(b"small")
    assert store.stat("pass/missing") is None
    with pytest.raises(ObjectNotFound):
        store.get("pass/missing")
    assert store.list("pass/") == ["pass/big", "pass/small"]
    with pytest.raises(ObjectExists):
        store.put("pass/small", b"other")
    # Every call went through the proxy (GCS names an upload in its body, not its URL).
    assert proxy.count(r"^(PUT|POST) ") == 3
    assert proxy.count(r"^(GET|HEAD) .*/pass/(big|small|missing)\b") == 4
    assert proxy.count(r"\bprefix=x/pass/") == 1
    assert sum(proxy.by_method().values()) == proxy.count() >= 8


def test_pass_relays_the_object_and_closes_the_connection(proxied):
    response = proxied.get()
    assert (response.status, response.read()) == (200, BODY)
    assert response.getheader("Connection") == "close"


def test_status_answers_without_the_upstream(proxied):
    proxied.proxy.inject(status(200, b"forged bytes"))
    response = proxied.get()
    assert (response.status, response.read()) == (200, b"forged bytes")
    # A write the proxy answered never reached the store.
    proxied.proxy.inject(status(503), where=r"^(PUT|POST) ")
    with pytest.raises(StoreUnavailable, match="503"):
        proxied.store.put("status/never", b"data")
    proxied.proxy.clear()
    # Asked of the adapter itself: the wrapper skips a store once it failed as unavailable.
    assert proxied.store.inner.stat("status/never") is None


def test_status_may_announce_more_bytes_than_it_sends(gcs_proxy):
    proxy, _ = gcs_proxy
    proxy.inject(status(200, b"short", {"Content-Length": "100"}))
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
    conn.request("GET", "/anything")
    with pytest.raises(http.client.IncompleteRead) as cut:
        conn.getresponse().read()
    assert (cut.value.partial, cut.value.expected) == (b"short", 95)


def test_slow_down_is_throttling_to_the_adapter(proxied):
    proxied.proxy.inject(slow_down())
    assert proxied.get().status == 503
    with pytest.raises(StoreUnavailable, match="SlowDown" if proxied.kind == "s3" else "503"):
        proxied.store.get(KEY)


def test_truncate_delivers_fewer_bytes_than_announced(proxied):
    proxied.proxy.inject(truncate(after_body_bytes=5))
    response = proxied.get()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert cut.value.partial == BODY[:5]
    assert cut.value.expected == len(BODY) - 5


def test_trickle_body_only_sends_the_head_at_once_then_the_body_byte_by_byte(proxied):
    rate = 200.0
    proxied.proxy.inject(trickle(rate, body_only=True))
    reads = proxied.raw_get()
    assert b"".join(data for _, data in reads).endswith(BODY)
    head_done = next(t for t, received in accumulated(reads) if b"\r\n\r\n" in received)
    assert head_done - reads[0][0] < (len(BODY) - 1) / rate
    assert reads[-1][0] - head_done >= (len(BODY) - 1) / rate * 0.9


def accumulated(reads: list[tuple[float, bytes]]) -> Iterator[tuple[float, bytes]]:
    """(arrival time, everything received so far) after each read."""
    received = b""
    for arrived, data in reads:
        received += data
        yield arrived, received


def test_trickle_paces_the_whole_response(proxied):
    rate = 2000.0
    proxied.proxy.inject(trickle(rate))
    reads = proxied.raw_get()
    response = b"".join(data for _, data in reads)
    assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(BODY)
    assert reads[-1][0] - reads[0][0] >= (len(response) - 1) / rate * 0.9


def test_reset_resets_the_connection(proxied):
    proxied.proxy.inject(reset())
    with pytest.raises(ConnectionResetError):
        proxied.get()


def test_blackhole_never_answers(proxied):
    proxied.proxy.inject(blackhole())
    with pytest.raises(TimeoutError):
        proxied.get(timeout=0.3)
    assert proxied.proxy.faulted == 1
    proxied.proxy.clear()
    assert proxied.get().status == 200  # the held connection blocks nobody else


def test_delay_answers_late_but_whole(proxied):
    proxied.proxy.inject(delay(0.4))
    started = time.monotonic()
    response = proxied.get()
    assert (response.status, response.read()) == (200, BODY)
    assert time.monotonic() - started >= 0.4


# Which requests a fault applies to; counting; the HTTP details.


def test_a_fault_limited_to_the_first_requests_then_passes(proxied):
    proxied.proxy.inject(status(500), times=2)
    assert [proxied.get().status for _ in range(3)] == [500, 500, 200]
    assert proxied.proxy.faulted == 2


def test_a_fault_applies_only_where_its_regex_or_predicate_matches(proxied):
    proxied.proxy.inject(reset(), where=r"^(PUT|POST) ")
    assert proxied.store.get(KEY) == BODY
    with pytest.raises(StoreUnavailable):
        proxied.store.put("registry/other", b"data")
    proxied.proxy.inject(status(503), where=lambda request: request.header("Range") is not None)
    assert proxied.get().status == 200
    assert proxied.proxy.faulted == 0
    conn = http.client.HTTPConnection("127.0.0.1", proxied.proxy.port, timeout=2)
    conn.request("GET", proxied.path, headers={"Range": "bytes=0-3"})
    assert conn.getresponse().status == 503
    assert proxied.proxy.faulted == 1


@pytest.mark.parametrize("fault", [PASS, status(404)])
def test_counts_every_request_per_method_until_reset(gcs_proxy, fault):
    proxy, bucket = gcs_proxy
    proxy.inject(fault)
    for method in ("GET", "GET", "HEAD"):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
        conn.request(method, f"/storage/v1/b/{bucket}/o/nothing%2Fhere")
        conn.getresponse().read()
    assert proxy.by_method() == {"GET": 2, "HEAD": 1}
    assert proxy.count("^GET /storage/v1/b/.*/o/nothing/here$") == 2
    proxy.reset_counts()
    assert (proxy.count(), proxy.by_method()) == (0, {})


def test_expect_100_continue_is_answered_by_the_proxy(gcs_proxy):
    proxy, bucket = gcs_proxy
    body = b"sent after 100 Continue"
    head = (
        f"POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=expect HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock:
        sock.sendall(head.encode())
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert download(proxy, bucket, "expect") == body


def test_a_chunked_request_body_reaches_the_upstream_whole(gcs_proxy):
    proxy, bucket = gcs_proxy
    parts = [b"first chunk, ", b"second, ", b"and the last"]
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
    conn.request(
        "POST",
        f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name=chunked",
        body=iter(parts),
        encode_chunked=True,
    )
    assert conn.getresponse().status == 200
    assert download(proxy, bucket, "chunked") == b"".join(parts)


def download(proxy: FaultProxy, bucket: str, name: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
    conn.request("GET", f"/download/storage/v1/b/{bucket}/o/{name}?alt=media")
    return conn.getresponse().read()


# Bounds: the proxy ends what it started and talks only to loopback.


def test_close_ends_every_thread_and_connection(gcs_proxy):
    proxy, bucket = gcs_proxy
    proxy.inject(blackhole())
    held = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    held.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_for(lambda: proxy.faulted == 1)
    proxy.inject(trickle(1.0))
    slow = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    slow.sendall(f"GET /storage/v1/b/{bucket} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert slow.recv(1) == b"H"  # the trickle has started
    started = time.monotonic()
    proxy.close()
    assert time.monotonic() - started < 1.5
    assert [t for t in threading.enumerate() if t.name.startswith(f"faultproxy-{proxy.port}")] == []
    for sock in (held, slow):
        with sock:
            assert sock.recv(65536) in (b"", b"T")  # at most one more trickled byte, then EOF


def wait_for(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_an_unreachable_upstream_resets_the_client():
    with FaultProxy(f"http://127.0.0.1:{free_port()}") as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=2)
        conn.request("GET", "/")
        with pytest.raises(ConnectionResetError):
            conn.getresponse()


@pytest.mark.parametrize(
    "upstream", ["http://10.0.0.1:80", "https://127.0.0.1:443", "http://127.0.0.1"]
)
def test_only_a_plain_http_loopback_upstream_is_accepted(upstream):
    with pytest.raises(ValueError, match=r"upstream|loopback"):
        FaultProxy(upstream)
