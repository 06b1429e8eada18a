"""The fault matrix: each row of docs/reliability.md, one test, against the three emulators.

A primary (S3) and two backups (GCS, Azure), each behind its own fault proxy. For every fault:
what the user sees (the exit code, the message), and that no version is lost or torn: every
version pushed is whole on some store and pulls intact, and verify finds nothing corrupt.
"""

from __future__ import annotations

import random
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from atlas_continuity.runtime.errors import ExitCode
from devtools.emulators import ROOT
from devtools.faultproxy import (
    FaultProxy,
    blackhole,
    reset,
    slow_down,
    status,
    trickle,
    truncate,
)

from .conftest import create_bucket, unique_bucket
from .helpers import Result, cli, cli_process, read_tree, store_url_at, stores, write_dir

KINDS = ("s3", "gcs", "azure")
FAST = ["--connect-timeout", "1", "--read-timeout", "2", "--request-deadline", "3"]
PACKS = r"/packs/|packs%2F"


@dataclass
class Matrix:
    proxies: dict[str, FaultProxy]
    urls: list[str]
    work: Path

    @property
    def primary(self) -> str:
        return self.urls[0]

    def version(self, n: int) -> Path:
        """Version n of the directory: migrations 1..n."""
        files = {f"{i}_m.sql": f"ALTER TABLE t ADD c{i} int;\n" for i in range(1, n + 1)}
        return write_dir(self.work / f"v{n}", {"0_init.sql": "CREATE TABLE t (id int);\n", **files})

    def push(self, n: int, *extra: str) -> Result:
        return cli("push", self.version(n), *stores(*self.urls), *FAST, "--json", *extra)

    def pull(self, *extra: str) -> Result:
        dest = self.work / f"out-{time.monotonic_ns()}"
        result = cli("pull", dest, *stores(*self.urls), *FAST, "--json", *extra)
        result.dest = dest
        return result

    def clear(self) -> None:
        for proxy in self.proxies.values():
            proxy.clear()

    def nothing_lost_or_torn(self, digests: list[str]) -> None:
        """Every version pushed pulls whole from the stores, and none is corrupt anywhere."""
        self.clear()
        verified = cli("verify", *stores(*self.urls), "--all", "--json")
        assert verified.code in (ExitCode.OK, ExitCode.GAPS), verified.out
        assert "corrupt" not in str(verified.json["rows"])
        for digest in digests:
            assert (
                cli("pull", self.work / digest[7:19], *stores(*self.urls), "--digest", digest).code
                == 0
            )


@pytest.fixture
def matrix(emulators, monkeypatch, tmp_path):
    proxies = {kind: FaultProxy(emulators[kind].endpoint) for kind in KINDS}
    try:
        urls = []
        for kind in KINDS:
            bucket = unique_bucket()
            create_bucket(kind, emulators, bucket)
            urls.append(store_url_at(kind, proxies[kind].endpoint, monkeypatch, bucket, "atlas"))
        yield Matrix(proxies, urls, tmp_path)
    finally:
        for proxy in proxies.values():
            proxy.close()


def test_primary_down(matrix):
    first = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(reset())
    pushed = matrix.push(2)
    assert pushed.code == 0 and pushed.json["status"] == "degraded"
    assert "primary store" in pushed.err and "push degraded: 2 of 3 stores" in pushed.err
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[1]
    assert read_tree(pulled.dest) == read_tree(matrix.version(2))
    matrix.clear()
    assert cli("verify", *stores(*matrix.urls)).code == ExitCode.GAPS
    assert cli("sync", *stores(*matrix.urls)).code == 0
    assert cli("verify", *stores(*matrix.urls), "--all").code == 0
    matrix.nothing_lost_or_torn([first, pushed.json["digest"]])


def test_one_backup_down(matrix):
    matrix.proxies["gcs"].inject(reset())
    pushed = matrix.push(1)
    assert pushed.code == 0 and pushed.json["status"] == "degraded"
    assert f"backup store {matrix.urls[1]} did not take the version" in pushed.err
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.primary
    assert pulled.err == ""  # the primary serves: nothing to say
    matrix.nothing_lost_or_torn([pushed.json["digest"]])


def test_all_stores_down(matrix):
    for proxy in matrix.proxies.values():
        proxy.inject(reset())
    pushed = cli("push", matrix.version(1), *stores(*matrix.urls), *FAST)
    assert pushed.code == ExitCode.UNAVAILABLE
    assert pushed.out == ""  # no digest claimed
    assert "push failed: no store took version" in pushed.err
    pulled = matrix.pull()
    assert pulled.code == ExitCode.UNAVAILABLE and "no store could serve it" in pulled.err
    for url in matrix.urls:  # each store named, once
        assert pulled.err.count(url.split("?")[0]) == 1, pulled.err
    matrix.clear()
    assert cli("tags", *stores(*matrix.urls)).code == ExitCode.NOT_FOUND  # nothing half-written


def test_blackholed_primary(matrix):
    digest = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(blackhole())
    started = time.monotonic()
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[1]
    assert time.monotonic() - started < 2 + 2  # one read timeout, then the backup
    # The read timeout, or under a loaded machine the request deadline just after it
    assert any(why in pulled.err for why in ("timed out", "no answer", "no complete answer"))
    matrix.nothing_lost_or_torn([digest])


def test_server_errors(matrix):
    matrix.proxies["s3"].inject(status(500, b"<Error><Code>InternalError</Code></Error>"))
    pushed = matrix.push(1)
    assert pushed.code == 0 and pushed.json["status"] == "degraded"
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[1]
    assert "InternalError" in pulled.err or "500" in pulled.err
    # Retried before giving up: three attempts by default, a refused store is not hammered.
    assert matrix.proxies["s3"].faulted >= 3
    matrix.nothing_lost_or_torn([pushed.json["digest"]])


def test_throttling(matrix):
    digest = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(slow_down())
    matrix.proxies["gcs"].inject(status(429))
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[2]
    assert "SlowDown" in pulled.err and "429" in pulled.err
    matrix.nothing_lost_or_torn([digest])


def test_truncated_bodies(matrix):
    digest = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(truncate(after_body_bytes=10), where=r"^GET ")
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[1]
    assert read_tree(pulled.dest) == read_tree(matrix.version(1))
    matrix.nothing_lost_or_torn([digest])


def test_trickling_store(matrix):
    digest = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(trickle(1.0))
    started = time.monotonic()
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["manifest_from"] == matrix.urls[1]
    assert time.monotonic() - started < 3 + 2  # one request deadline, then the backup
    assert "request deadline" in pulled.err
    matrix.nothing_lost_or_torn([digest])


def test_corrupt_object(matrix):
    digest = matrix.push(1).json["digest"]
    matrix.proxies["s3"].inject(status(200, b"not the pack at all"), where=PACKS)
    pulled = matrix.pull()
    assert pulled.code == 0 and pulled.json["files_from"] == matrix.urls[1]
    assert "corrupt" in pulled.err
    verified = cli("verify", *stores(*matrix.urls), "--json")
    assert verified.code == ExitCode.INTEGRITY and verified.json["status"] == "corrupt"
    matrix.nothing_lost_or_torn([digest])


def test_sigkill_mid_push_at_ten_random_points(matrix):
    digests = [matrix.push(1).json["digest"]]
    rng = random.Random(12)
    for trial in range(2, 12):
        src = matrix.version(trial)
        proc = cli_process("push", src, *stores(*matrix.urls), "--json")
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        pulled = matrix.pull()  # latest is the version before or this one, whole
        assert pulled.code == 0, (trial, pulled.err)
        assert read_tree(pulled.dest) in (read_tree(matrix.version(trial - 1)), read_tree(src))
        finished = matrix.push(trial)  # a rerun completes what the killed one began
        assert finished.code == 0 and finished.json["status"] == "ok", finished.err
        digests.append(finished.json["digest"])
    matrix.nothing_lost_or_torn(digests)


def test_eight_concurrent_pushers_with_a_sync_running(matrix):
    matrix.push(1)
    pushers = [
        cli_process("push", matrix.version(1 + n), *stores(*matrix.urls), "--force", "--json")
        for n in range(1, 9)
    ]
    syncer = cli_process("sync", *stores(*matrix.urls))
    digests = []
    for proc in pushers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        digests.append(Result(0, out, err).json["digest"])
    assert syncer.wait(300) == 0, syncer.stderr.read()  # beside pushes: no false alarm
    assert cli("sync", *stores(*matrix.urls)).code == 0
    assert cli("verify", *stores(*matrix.urls), "--all").code == 0
    latest = {cli("show", *stores(url), "--json").json["digest"] for url in matrix.urls}
    assert len(latest) == 1 and latest <= set(digests)  # every store agrees on latest
    matrix.nothing_lost_or_torn(digests)


def test_a_pusher_clock_an_hour_ahead(matrix, monkeypatch):
    first = matrix.push(1).json["digest"]
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 3600 * 10**9)
    skewed = matrix.push(2)  # from a machine whose clock runs an hour ahead
    monkeypatch.setattr(time, "time_ns", real)
    assert skewed.code == 0
    pulled = matrix.pull()
    assert pulled.code == 0 and read_tree(pulled.dest) == read_tree(matrix.version(1))
    assert "has an event dated more than 15 minutes ahead" in pulled.err
    assert matrix.primary in pulled.err
    verified = cli("verify", *stores(*matrix.urls), "--json")
    assert verified.code == ExitCode.GAPS
    assert any("dated ahead of this machine's clock" in p for p in verified.json["problems"])
    fixed = matrix.push(3)  # the clock fixed, the next push moves latest as it should
    assert read_tree(matrix.pull().dest) == read_tree(matrix.version(3))
    matrix.nothing_lost_or_torn([first, skewed.json["digest"], fixed.json["digest"]])


# -- the document and the tests agree ----------------------------------------------------------


def documented_rows() -> list[tuple[str, str]]:
    """(fault, test) for each row of the matrix in docs/reliability.md."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    return re.findall(r"^\| ([^|]+?) \|.*\| `(tests/[\w/]+\.py::test_\w+)` \|$", text, re.M)


def test_every_row_of_the_document_has_its_test_and_every_test_its_row():
    rows = documented_rows()
    assert len(rows) >= 13
    for fault, test in rows:
        path, name = test.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), (fault, test)
    here = set(re.findall(r"^def (test_\w+)\(", Path(__file__).read_text(), re.M))
    here.discard("test_every_row_of_the_document_has_its_test_and_every_test_its_row")
    assert here <= {test.split("::")[1] for _, test in rows}
