"""A fault-injecting HTTP proxy for the test suite: a flaky cloud endpoint on demand.

``FaultProxy`` listens on 127.0.0.1, in front of one storage emulator, and relays each request
to it, unless a fault is injected: then it answers nothing, answers a made-up status, trickles,
truncates, resets or delays. A store adapter reaches it as its endpoint (S3: ``endpoint=``;
GCS: ``STORAGE_EMULATOR_HOST``; Azure: the connection string's ``BlobEndpoint``)::

    with FaultProxy(emulator.endpoint) as proxy:
        proxy.inject(truncate(after_body_bytes=5), where=r"^GET .*/blobs/", times=1)
        ...  # the first blob download through proxy.endpoint is cut after 5 bytes
        assert proxy.count("^GET ") == 3

One fault is in force at a time, for the requests its ``where`` selects, and can be switched
from any thread while requests flow; every request read is counted, faulted or not.

Limits, by design:
- plain HTTP/1.1 only: no TLS, no HTTP/2, no CONNECT; loopback only, on both sides;
- one request per client connection: every response says ``Connection: close`` and the
  upstream is asked to close too, so a response body ends where the upstream's connection does;
- request bodies are read whole into memory (test-sized objects), and relayed as framed
  (a chunked body stays chunked); ``Expect: 100-continue`` is answered by the proxy itself;
- ``where`` sees the method and the target: a GCS upload names its object in its body, so
  select GCS uploads by ``^POST /upload/``, not by key;
- URLs that the upstream puts in its answers (a resumable-upload session, a media link) name
  the upstream, so requests made to them bypass the proxy;
- an unreachable upstream resets the client's connection, as a dead endpoint would.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO, Literal
from urllib.parse import unquote, urlsplit

MAX_LINE = 64 * 1024
MAX_HEADERS = 200
# Hop-by-hop headers the proxy decides itself, in both directions.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "expect"}


@dataclass(frozen=True)
class Request:
    """One request as the proxy read it from a client."""

    method: str
    target: str
    """Path and query as sent, percent-encoded."""
    headers: tuple[tuple[str, str], ...]
    """All of them, as sent; the proxy forwards them less the hop-by-hop ones."""
    body: bytes
    """The body as framed on the wire (chunk sizes included when chunked)."""

    @property
    def line(self) -> str:
        """What ``where`` regexes search: the method and the percent-decoded target, such as
        ``GET /download/storage/v1/b/bucket/o/x/blobs/ab?alt=media`` (GCS encodes the ``/``
        of object names, so a decoded target lets one regex fit every store)."""
        return f"{self.method} {unquote(self.target)}"

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


FaultKind = Literal["pass", "blackhole", "reset", "status", "trickle", "truncate", "delay"]


@dataclass(frozen=True)
class Fault:
    """What the proxy does to a request; build one with the functions below."""

    kind: FaultKind
    code: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    bytes_per_second: float = 0.0
    body_only: bool = False
    after_body_bytes: int = 0
    seconds: float = 0.0


PASS = Fault("pass")
"""Relay the request and its response untouched."""


def blackhole() -> Fault:
    """Read the request, never answer; the connection stays open until the proxy closes."""
    return Fault("blackhole")


def reset() -> Fault:
    """Read the request, then close the client's connection with a TCP RST."""
    return Fault("reset")


def status(code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Fault:
    """Answer ``code`` with ``body`` and ``headers``, without contacting the upstream: a
    request that writes never lands. Content-Length is the body's unless ``headers`` sets one
    (a lie, to test what a client believes); Connection is always ``close``."""
    return Fault("status", code=code, body=body, headers=tuple((headers or {}).items()))


def slow_down() -> Fault:
    """S3's throttling answer: 503 with a ``SlowDown`` XML error."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        b"<Message>Injected throttling</Message><RequestId>faultproxy</RequestId></Error>"
    )
    return status(503, body, {"Content-Type": "application/xml"})


def trickle(bytes_per_second: float, body_only: bool = False) -> Fault:
    """Relay the response one byte at a time at this rate: all of it, or the head at once and
    then the body (``body_only``), as a degraded link that never quite stalls."""
    if not bytes_per_second > 0:
        raise ValueError(f"trickle needs a positive rate, not {bytes_per_second!r}")
    return Fault("trickle", bytes_per_second=bytes_per_second, body_only=body_only)


def truncate(after_body_bytes: int) -> Fault:
    """Relay the response head and the first ``after_body_bytes`` bytes of its body as sent on
    the wire (chunk framing counts), then close the connection."""
    if after_body_bytes < 0:
        raise ValueError(f"truncate needs a byte count >= 0, not {after_body_bytes!r}")
    return Fault("truncate", after_body_bytes=after_body_bytes)


def delay(seconds: float) -> Fault:
    """Wait ``seconds`` after reading the request, then relay it and its response."""
    if not seconds >= 0:
        raise ValueError(f"delay needs seconds >= 0, not {seconds!r}")
    return Fault("delay", seconds=seconds)


Where = str | re.Pattern[str] | Callable[[Request], bool] | None


def matcher(where: Where) -> Callable[[Request], bool]:
    """A predicate from ``where``: None matches all, a regex is searched in ``Request.line``."""
    if where is None:
        return lambda request: True
    if callable(where):
        return where
    pattern = re.compile(where)
    return lambda request: pattern.search(request.line) is not None


@dataclass
class _Rule:
    fault: Fault
    applies: Callable[[Request], bool]
    left: int | None
    applied: int = 0


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` (``http://127.0.0.1:PORT``).

    It relays until told otherwise with ``inject``; it counts every request it reads.
    ``close`` (or leaving the ``with`` block) closes every socket it holds and ends its threads.
    """

    def __init__(self, upstream: str, io_timeout: float = 30.0) -> None:
        url = urlsplit(upstream)
        host = url.hostname or ""
        if url.scheme != "http" or not url.port:
            raise ValueError(f"{upstream!r}: the upstream must be http://HOST:PORT")
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"{upstream!r}: the fault proxy only talks to loopback addresses")
        self.upstream = (host, url.port)
        self.io_timeout = io_timeout
        """Seconds any one socket operation may wait, so no thread outlives a stuck peer."""
        self._lock = threading.Lock()
        self._rule = _Rule(PASS, matcher(None), None)
        self._seen: list[str] = []
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._closed = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept, name=f"faultproxy-{self.port}", daemon=True
        )
        self._acceptor.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, fault: Fault, where: Where = None, times: int | None = None) -> None:
        """From now on, apply ``fault`` to requests that ``where`` matches (a regex searched in
        ``Request.line``, or a predicate), to the first ``times`` of them if given; every
        other request passes. Replaces the fault injected before."""
        with self._lock:
            self._rule = _Rule(fault, matcher(where), times)

    def clear(self) -> None:
        """Relay everything again."""
        self.inject(PASS)

    @property
    def faulted(self) -> int:
        """How many requests the current fault was applied to."""
        with self._lock:
            return self._rule.applied if self._rule.fault is not PASS else 0

    def count(self, where: str | re.Pattern[str] | None = None) -> int:
        """How many requests the proxy read (since the last ``reset_counts``), all or those
        whose ``Request.line`` the regex ``where`` matches."""
        pattern = re.compile(where) if where is not None else None
        with self._lock:
            return sum(1 for line in self._seen if pattern is None or pattern.search(line))

    def by_method(self) -> dict[str, int]:
        """Requests read per HTTP method."""
        with self._lock:
            return dict(Counter(line.split(" ", 1)[0] for line in self._seen))

    def reset_counts(self) -> None:
        with self._lock:
            self._seen.clear()

    def close(self) -> None:
        self._closed.set()
        self._acceptor.join(2)
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
            self._sockets.clear()
        for sock in sockets:
            _shut(sock)
        for thread in threads:
            thread.join(2)
        self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The connection side: one thread per client connection, one request each.

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # the 0.2 s poll, or the listener closed
                continue
            thread = threading.Thread(
                target=self._serve, args=(client,), name=f"faultproxy-{self.port}-conn", daemon=True
            )
            # Started under the lock, so close() never sees a thread it cannot join.
            with self._lock:
                if self._own(client):
                    self._threads.add(thread)
                    thread.start()

    def _own(self, sock: socket.socket) -> bool:
        """Track ``sock`` so close() can close it; refuse (and close it) after close().
        The caller holds the lock."""
        sock.settimeout(self.io_timeout)
        if self._closed.is_set():
            _shut(sock)
            return False
        self._sockets.add(sock)
        return True

    def _drop(self, sock: socket.socket, rst: bool = False) -> None:
        """Close ``sock``: with a FIN, or with a RST (no FIN first, so the peer sees a reset)."""
        with self._lock:
            self._sockets.discard(sock)
        if rst:
            with contextlib.suppress(OSError):  # already closed by close()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        else:
            _shut(sock)

    def _serve(self, client: socket.socket) -> None:
        ending = "close"  # or "hold" (blackhole), or "reset"
        try:
            request = _read_request(client)
            with self._lock:
                self._seen.append(request.line)
                rule, fault = self._rule, PASS
                if rule.applies(request) and (rule.left is None or rule.left > 0):
                    fault = rule.fault
                    rule.applied += 1
                    rule.left = None if rule.left is None else rule.left - 1
            if fault.kind == "blackhole":
                ending = "hold"
            elif fault.kind == "reset":
                ending = "reset"
            elif fault.kind == "status":
                client.sendall(_synthesized(fault, request.method))
            elif self._closed.wait(fault.seconds):  # 0 s unless a delay
                pass
            elif not self._relay(client, request, fault):
                ending = "reset"
        except (OSError, ValueError):  # a peer went away or spoke garbage: drop the connection
            pass
        finally:
            if ending != "hold":
                self._drop(client, rst=ending == "reset")
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _relay(self, client: socket.socket, request: Request, fault: Fault) -> bool:
        """Relay ``request`` and its response, shaped by ``fault``; False if the upstream
        cannot be reached."""
        upstream = socket.socket()
        with self._lock:
            if not self._own(upstream):
                return True
        try:
            try:
                upstream.connect(self.upstream)
            except OSError:
                return False
            upstream.sendall(_head(f"{request.method} {request.target} HTTP/1.1", request.headers))
            upstream.sendall(request.body)
            with upstream.makefile("rb") as answer:
                status_line, headers = _read_head(answer)
                rate = fault.bytes_per_second if fault.kind == "trickle" else 0.0
                self._send(client, _head(status_line, headers), 0.0 if fault.body_only else rate)
                left = fault.after_body_bytes if fault.kind == "truncate" else None
                while left != 0:
                    chunk = answer.read1(65536)
                    if not chunk:
                        break
                    if left is not None:
                        chunk = chunk[:left]
                        left -= len(chunk)
                    self._send(client, chunk, rate)
            return True
        finally:
            self._drop(upstream)

    def _send(self, sock: socket.socket, data: bytes, bytes_per_second: float) -> None:
        """Send ``data``, one byte every 1/rate seconds if a rate is given; stop on close()."""
        if not bytes_per_second:
            sock.sendall(data)
            return
        for i in range(len(data)):
            sock.sendall(data[i : i + 1])
            if self._closed.wait(1 / bytes_per_second):
                raise ConnectionAbortedError("fault proxy closed")


def _read_request(client: socket.socket) -> Request:
    with client.makefile("rb") as rfile:
        request_line, headers = _read_head(rfile)
        method, target, _version = request_line.split(" ", 2)
        fields = {k.lower(): v for k, v in headers}
        if fields.get("expect", "").lower() == "100-continue":
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = _read_chunked(rfile)
        else:
            body = _read_exact(rfile, int(fields.get("content-length", "0")))
    return Request(method, target, tuple(headers), body)


def _read_head(rfile: BinaryIO) -> tuple[str, list[tuple[str, str]]]:
    """The start line and the headers of a request or response."""
    start = _read_line(rfile).decode("latin-1").rstrip("\r\n")
    if not start:
        raise ValueError("no HTTP message")
    headers: list[tuple[str, str]] = []
    while line := _read_line(rfile).decode("latin-1").rstrip("\r\n"):
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
        if len(headers) > MAX_HEADERS:
            raise ValueError("too many headers")
    return start, headers


def _read_line(rfile: BinaryIO) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ValueError("header line too long")
    return line


def _read_exact(rfile: BinaryIO, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) != size:
        raise ConnectionError("the client closed before sending its whole body")
    return data


def _read_chunked(rfile: BinaryIO) -> bytes:
    raw = bytearray()
    while True:
        size_line = _read_line(rfile)
        raw += size_line
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        raw += _read_exact(rfile, size + 2)  # the chunk and its CRLF
    while (trailer := _read_line(rfile)) not in (b"\r\n", b"\n", b""):
        raw += trailer
    return bytes(raw + b"\r\n")


def _head(start_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """A message head with the proxy's own hop-by-hop headers in place of the sender's."""
    kept = (f"{k}: {v}" for k, v in headers if k.lower() not in HOP_BY_HOP)
    lines = [start_line, *kept, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _synthesized(fault: Fault, method: str) -> bytes:
    try:
        reason = HTTPStatus(fault.code).phrase
    except ValueError:
        reason = "Injected"
    headers = list(fault.headers)
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.insert(0, ("Content-Length", str(len(fault.body))))
    body = b"" if method == "HEAD" else fault.body
    return _head(f"HTTP/1.1 {fault.code} {reason}", headers) + body


def _shut(sock: socket.socket) -> None:
    """Close ``sock`` now, waking any thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
