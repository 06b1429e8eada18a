"""Measure the runtime: the CLI as its own process (wall time, peak resident memory), and a
store's requests and bytes (CountingStore), for the benchmarks and the tests alike.

The peak is the process's own high-water mark (``VmHWM`` in /proc/self/status, read as it
exits). ``ru_maxrss`` from wait4 would not do: it counts the memory of the forking parent, a
test runner or a benchmark, for the instant before the child's exec.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass

_RUNNER = """
import atexit, sys

def report():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\npeak-rss-kib {kib}\\n")

atexit.register(report)
from atlas_continuity.runtime.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Measured:
    code: int
    out: str
    err: str
    seconds: float
    peak_rss_mib: float


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 600) -> Measured:
    """``atlas-continuity ARGS`` in a child process, measured."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    err, _, peak = done.stderr.rpartition("\npeak-rss-kib ")
    return Measured(done.returncode, done.stdout, err, seconds, int(peak) / 1024)


class CountingStore:
    """Wraps a store adapter and counts what goes over the wire: one request per call (a
    listing with a limit of one key is one page), and the bytes read and written."""

    def __init__(self, inner) -> None:
        self.inner, self.url = inner, inner.url
        self.calls: Counter[str] = Counter()
        self.bytes_read = self.bytes_written = 0

    def put(self, key: str, data: bytes) -> None:
        self.calls["put"] += 1
        self.bytes_written += len(data)
        self.inner.put(key, data)

    def get(self, key: str, limit: int | None = None) -> bytes:
        self.calls["get"] += 1
        data = self.inner.get(key, limit)
        self.bytes_read += len(data)
        return data

    def stat(self, key: str) -> int | None:
        self.calls["stat"] += 1
        return self.inner.stat(key)

    def list(self, prefix: str, limit: int | None = None, start_after: str | None = None):
        self.calls["list"] += 1
        return self.inner.list(prefix, limit, start_after)

    def close(self) -> None:
        self.inner.close()

    @property
    def requests(self) -> int:
        return sum(self.calls.values())


def counted(store) -> CountingStore:
    """Count the requests of an opened (resilient) store from now on."""
    store.inner = CountingStore(store.inner)
    return store.inner
