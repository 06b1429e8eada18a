"""Benchmarks, each against a baseline measured in the same run: ./dev bench

On the three emulators (S3, GCS, Azure), with a realistic 2,000-file, ~20 MB directory of SQL:

1. Requests per store for a pull, 10 files and 2,000 files (counted at the store layer).
2. Pull of 2,000 files against `rclone copy` of the same files; bytes on the wire.
3. First push of 2,000 files to three stores against rclone copying to the same three.
4. Incremental push (one new file): objects written per store, and time against rclone's.
5. Peak memory of push and pull (the process's own high-water mark).
6. Failover: pull with a blackholed primary against a healthy one.
7. CLI start-up against a bare interpreter.

Every figure ends in a line per target, met or not. rclone (Debian: apt-get install rclone) is
the baseline a user would script by hand; without it, the ratios are reported as not measured.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from atlas_continuity.runtime import atlas_sum  # noqa: E402
from atlas_continuity.runtime.pull import pull  # noqa: E402
from atlas_continuity.runtime.stores.base import StoreSettings  # noqa: E402
from atlas_continuity.runtime.targets import StorePlan, open_targets  # noqa: E402
from devtools.emulators import AZURITE_KEY, Azurite, Blackhole, FakeGcs, Moto  # noqa: E402
from devtools.measure import counted, run_cli  # noqa: E402

SETTINGS = StoreSettings()
FILES = 2000


@dataclass
class Target:
    what: str
    value: str
    target: str
    met: bool | None
    """None: not measured."""


RESULTS: list[Target] = []


def record(what: str, value: str, target: str, met: bool | None) -> None:
    RESULTS.append(Target(what, value, target, met))
    verdict = {True: "met", False: "NOT MET", None: "not measured"}[met]
    print(f"  -> {what}: {value} (target {target}): {verdict}")


def sql_file(rng: random.Random, i: int, size: int) -> str:
    """A migration a team would write: DDL, then seed rows with varied values."""
    words = ["account", "invoice", "ledger", "user", "order", "item", "event", "tenant"]
    table = f"{rng.choice(words)}_{i}"
    lines = [
        f"-- migration {i}: {rng.choice(words)} {rng.choice(words)} changes",
        f"CREATE TABLE {table} (",
        "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,",
        f"  {rng.choice(words)}_id bigint NOT NULL REFERENCES {rng.choice(words)}s (id),",
        "  name text NOT NULL,",
        "  amount numeric(12, 2),",
        "  created_at timestamptz NOT NULL DEFAULT now()",
        ");",
        f"CREATE INDEX {table}_created ON {table} (created_at);",
    ]
    text = "\n".join(lines) + "\n"
    while len(text) < size:
        text += (
            f"INSERT INTO {table} (name, amount) VALUES "
            f"('{rng.choice(words)}-{rng.randrange(10**9):09d}', {rng.randrange(10**7) / 100});\n"
        )
    return text


def make_dir(path: Path, count: int, size: int = 10_000) -> Path:
    rng = random.Random(count)
    path.mkdir(parents=True)
    for i in range(count):
        (path / f"{20240101000000 + i}_m.sql").write_text(sql_file(rng, i, size))
    rehash(path)
    return path


def rehash(path: Path) -> None:
    files = {p.name: p.read_bytes() for p in path.iterdir() if p.name != "atlas.sum"}
    (path / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())


def raw_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.name != "atlas.sum")


def stores(urls: list[str]) -> list[str]:
    args = ["--repo", "bench", "--primary", urls[0]]
    for url in urls[1:]:
        args += ["--backup", url]
    return args


def cli(*args: object):
    run = run_cli(*args)
    if run.code != 0:
        raise SystemExit(f"atlas-continuity {' '.join(map(str, args))} failed:\n{run.err}")
    return run


# -- rclone, the baseline ----------------------------------------------------------------------


class Rclone:
    def __init__(self, moto: Moto, gcs: FakeGcs, azure: Azurite) -> None:
        self.exe = shutil.which("rclone")
        self.env = {
            **os.environ,
            "RCLONE_CONFIG_S3_TYPE": "s3",
            "RCLONE_CONFIG_S3_PROVIDER": "Other",
            "RCLONE_CONFIG_S3_ENDPOINT": moto.endpoint,
            "RCLONE_CONFIG_S3_ACCESS_KEY_ID": "bench",
            "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": "bench",
            "RCLONE_CONFIG_S3_REGION": "us-east-1",
            "RCLONE_CONFIG_GCS_TYPE": "google cloud storage",
            "RCLONE_CONFIG_GCS_ANONYMOUS": "true",
            "RCLONE_CONFIG_GCS_ENDPOINT": f"{gcs.endpoint}/storage/v1/",
            # rclone's azureblob builds https://ACCOUNT.ENDPOINT; a container SAS URL reaches
            # the emulator's plain-HTTP port instead.
            "RCLONE_CONFIG_AZ_TYPE": "azureblob",
            "RCLONE_CONFIG_AZ_SAS_URL": f"{azure.endpoint}/devstoreaccount1/bench?{_sas()}",
        }
        self.env.pop("AWS_CA_BUNDLE", None)  # rclone's S3 transport cannot take one

    def copy(self, src: str, dest: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            [self.exe, "copy", "--transfers", "16", src, dest],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def _sas() -> str:
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    permission = ContainerSasPermissions(read=True, write=True, list=True, create=True, add=True)
    return generate_container_sas(
        "devstoreaccount1",
        "bench",
        account_key=AZURITE_KEY,
        permission=permission,
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def ratio(ours: float, theirs: float | None, limit: float, what: str) -> None:
    if theirs is None:
        record(what, f"{ours:.2f} s, rclone not installed", f"<= {limit}x rclone", None)
        return
    record(
        what,
        f"{ours:.2f} s against rclone's {theirs:.2f} s = {ours / theirs:.2f}x",
        f"<= {limit}x",
        ours / theirs <= limit,
    )


# -- the benchmarks -----------------------------------------------------------------------------


def bench_requests(work: Path, urls: list[str]) -> None:
    print("\n[1] Requests per store for a pull, 10 files and 2,000 files")
    per_size = {}
    for count in (10, FILES):
        src = make_dir(work / f"req-{count}", count, size=200)
        scoped = [u.replace("/bench-base", f"/req-{count}") for u in urls]
        cli("push", src, *stores(scoped))
        counts = []
        for url in scoped:
            with open_targets(StorePlan(url, ()), SETTINGS) as targets:
                counting = counted(targets[0].store)
                pull(targets, "bench", work / f"req-{count}-out-{len(counts)}")
            counts.append(counting.requests)
            print(f"  {count:5d} files  {url.split('?')[0]:<28} {dict(counting.calls)}")
        per_size[count] = counts
    worst = max(max(c) for c in per_size.values())
    record(
        "requests per store for a pull (10 and 2,000 files)",
        f"{per_size[10]} and {per_size[FILES]}",
        "<= 4, the same for both",
        worst <= 4 and per_size[10] == per_size[FILES],
    )


def bench_push_pull(work: Path, urls: list[str], rclone: Rclone) -> None:
    print(f"\n[2-5] {FILES:,} files, ~20 MB: first push to 3 stores, pull, incremental push")
    src = make_dir(work / "src", FILES)
    raw = raw_bytes(src)
    print(f"  directory: {FILES} files, {raw / 1e6:.1f} MB")

    first = cli("push", src, *stores(urls), "--json")
    pulled = cli("pull", work / "out", *stores(urls[:1]), "--json")
    with open_targets(StorePlan(urls[0], ()), SETTINGS) as targets:
        counting = counted(targets[0].store)
        pull(targets, "bench", work / "out-counted")
    (src / "29990101000000_new.sql").write_text("ALTER TABLE account_1 ADD COLUMN c int;\n")
    rehash(src)
    incremental = cli("push", src, *stores(urls), "--json")
    import json

    written = [s["objects_written"] for s in json.loads(incremental.out)["stores"]]

    theirs: dict[str, float | None] = {"push": None, "pull": None, "incremental": None}
    if rclone.exe:
        (src / "29990101000000_new.sql").unlink()
        remotes = ["s3:bench/rclone", "gcs:bench/rclone", "az:bench/rclone"]
        theirs["push"] = sum(rclone.copy(str(src), r) for r in remotes)
        theirs["pull"] = rclone.copy(remotes[0], str(work / "rclone-out"))
        (src / "29990101000000_new.sql").write_text("ALTER TABLE account_1 ADD COLUMN c int;\n")
        theirs["incremental"] = sum(rclone.copy(str(src), r) for r in remotes)
    else:
        print("  rclone is not installed (apt-get install rclone): ratios not measured")

    print(f"  first push   {first.seconds:6.2f} s   peak {first.peak_rss_mib:5.0f} MiB")
    print(f"  pull         {pulled.seconds:6.2f} s   peak {pulled.peak_rss_mib:5.0f} MiB")
    print(f"  incremental  {incremental.seconds:6.2f} s   objects written per store {written}")
    ratio(pulled.seconds, theirs["pull"], 0.2, "pull of 2,000 files against rclone copy")
    ratio(first.seconds, theirs["push"], 0.3, "first push to 3 stores against rclone to 3")
    ratio(incremental.seconds, theirs["incremental"], 0.2, "incremental push against rclone")
    record(
        "incremental push, objects written per store",
        str(written),
        "<= 4",
        max(written) <= 4,
    )
    record(
        "bytes on the wire for a pull",
        f"{counting.bytes_read / 1e6:.2f} MB of {raw / 1e6:.1f} MB = "
        f"{counting.bytes_read / raw:.2f}x",
        "<= 0.5x the raw size",
        counting.bytes_read / raw <= 0.5,
    )
    peak = max(first.peak_rss_mib, pulled.peak_rss_mib, incremental.peak_rss_mib)
    record("peak memory of push and pull", f"{peak:.0f} MiB", "< 200 MiB", peak < 200)


def bench_failover(work: Path, healthy_url: str, backup: str) -> None:
    print("\n[6] Failover: pull with a blackholed primary")
    src = make_dir(work / "failover-src", 200, size=500)
    cli("push", src, *stores([healthy_url, backup]))
    healthy = cli("pull", work / "pull-healthy", *stores([healthy_url, backup]))
    hole = Blackhole()
    try:
        dead = f"s3://bench/x?region=us-east-1&endpoint={hole.endpoint}"
        failover = cli("pull", work / "pull-failover", *stores([dead, backup]))
    finally:
        hole.close()
    added = failover.seconds - healthy.seconds
    print(f"  healthy primary {healthy.seconds:6.2f} s, blackholed {failover.seconds:6.2f} s")
    record(
        "failover cost of a blackholed primary",
        f"+{added:.2f} s",
        f"<= one read timeout ({SETTINGS.read_timeout:.0f} s)",
        added <= SETTINGS.read_timeout + 1,
    )


def bench_cli_start() -> None:
    print("\n[7] CLI start")
    exe = Path(sys.executable).parent / "atlas-continuity"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "atlas_continuity.runtime"]

    def median(argv: list[str], runs: int = 15) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    bare = median([sys.executable, "-c", "pass"])
    start = median([*cmd, "--help"])
    print(f"  python -c pass {bare:.3f} s, atlas-continuity --help {start:.3f} s")
    record("CLI start (--help)", f"{start:.3f} s", "< 0.1 s", start < 0.1)


def main() -> None:
    servers = [Moto(), FakeGcs(), Azurite()]
    for s in servers:
        s.start()
    moto, gcs, azure = servers
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STORAGE_EMULATOR_HOST": gcs.endpoint,
            "GOOGLE_CLOUD_PROJECT": "bench",
            "AZURE_STORAGE_CONNECTION_STRING": azure.connection_string,
        }
    )
    import boto3
    from azure.storage.blob import BlobServiceClient
    from google.cloud import storage

    try:
        boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket="bench")
        storage.Client().create_bucket("bench")
        BlobServiceClient.from_connection_string(azure.connection_string).create_container("bench")
        urls = [
            f"s3://bench/bench-base?region=us-east-1&endpoint={moto.endpoint}",
            "gs://bench/bench-base",
            "azureblob://bench/bench-base?storage_account=devstoreaccount1",
        ]
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            bench_requests(work, urls)
            bench_push_pull(work, urls, Rclone(moto, gcs, azure))
            bench_failover(work, urls[0].replace("bench-base", "failover"), "gs://bench/failover")
        bench_cli_start()
    finally:
        for s in servers:
            s.stop()
    print("\nTargets")
    for r in RESULTS:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[r.met]
        print(f"  {verdict:<12} {r.what}: {r.value} (target {r.target})")


if __name__ == "__main__":
    main()
