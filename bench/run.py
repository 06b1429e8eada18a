"""Benchmarks, each against a baseline measured in the same run: ./dev bench

1. Failover: pull with a blackholed primary against pull with a healthy primary, same data.
2. Incremental push: one new file in a 2,000-file directory, pushed to S3, GCS and Azure,
   against the first full push: objects written per store and seconds.
3. CLI start: wall time of `atlas-continuity --help` against a bare interpreter start.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from atlas_continuity.runtime import atlas_sum  # noqa: E402
from atlas_continuity.runtime.provenance import collect  # noqa: E402
from atlas_continuity.runtime.pull import pull  # noqa: E402
from atlas_continuity.runtime.push import push  # noqa: E402
from atlas_continuity.runtime.stores.base import StoreSettings  # noqa: E402
from atlas_continuity.runtime.targets import StorePlan, open_targets  # noqa: E402
from devtools.emulators import Azurite, Blackhole, FakeGcs, Moto  # noqa: E402

SETTINGS = StoreSettings()


def make_dir(path: Path, count: int) -> Path:
    path.mkdir(parents=True)
    for i in range(count):
        (path / f"{20240101000000 + i}_m.sql").write_text(
            f"-- migration {i}\nCREATE TABLE t{i} (id bigint PRIMARY KEY, note text);\n"
        )
    rehash(path)
    return path


def rehash(path: Path) -> None:
    files = {p.name: p.read_bytes() for p in path.iterdir() if p.name != "atlas.sum"}
    (path / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())


def timed_push(directory: Path, plan: StorePlan):
    mdir = atlas_sum.read_dir(directory, "atlas")
    started = time.perf_counter()
    with open_targets(plan, SETTINGS) as targets:
        report = push(
            mdir,
            targets,
            "bench",
            ["latest"],
            source=collect(directory),
            primary_label=plan.primary_label,
            force=True,
        )
    return time.perf_counter() - started, report


def timed_pull(plan: StorePlan, dest: Path):
    started = time.perf_counter()
    with open_targets(plan, SETTINGS) as targets:
        report = pull(targets, "bench", dest, force=True)
    return time.perf_counter() - started, report


def bench_failover(work: Path, s3: str, gcs: str) -> None:
    print("\n[1] Failover: pull of a 200-file directory")
    src = make_dir(work / "failover-src", 200)
    timed_push(src, StorePlan(s3, (gcs,)))
    healthy, _ = timed_pull(StorePlan(s3, (gcs,)), work / "pull-healthy")
    hole = Blackhole()
    try:
        dead = f"s3://bench/x?region=us-east-1&endpoint={hole.endpoint}"
        failover, report = timed_pull(StorePlan(dead, (gcs,)), work / "pull-failover")
    finally:
        hole.close()
    assert report.manifest_from == gcs
    added = failover - healthy
    print(f"  healthy primary      {healthy:7.2f} s")
    print(f"  blackholed primary   {failover:7.2f} s  (served by the backup)")
    print(
        f"  failover adds        {added:7.2f} s  budget: read timeout {SETTINGS.read_timeout:.0f} s"
        f"  -> {'OK' if added <= SETTINGS.read_timeout + 1 else 'OVER'}"
    )
    legacy = 5 * 60
    print(
        f"  boto3 defaults would wait up to {legacy} s (60 s read timeout x 5 attempts): "
        f"{legacy / max(failover, 0.01):.0f}x longer"
    )


def bench_incremental(work: Path, urls: list[str]) -> None:
    print("\n[2] Incremental push: 2,000-file directory to S3 + GCS + Azure")
    plan = StorePlan(urls[0], tuple(urls[1:]))
    src = make_dir(work / "incr-src", 2000)
    full, full_report = timed_push(src, plan)
    (src / "29990101000000_new.sql").write_text("ALTER TABLE t1 ADD COLUMN c int;\n")
    rehash(src)
    incr, incr_report = timed_push(src, plan)
    for f, i in zip(full_report.stores, incr_report.stores, strict=True):
        print(
            f"  {f.url.split('?')[0]:<34} full: {f.objects_written:5d} objects   "
            f"incremental: {i.objects_written} objects"
            f"  -> {'OK' if i.objects_written <= 4 else 'OVER'}"
        )
    ratio = incr / full
    print(
        f"  full push {full:6.2f} s, incremental {incr:5.2f} s: {ratio:.1%} of the full push"
        f"  -> {'OK' if ratio < 0.10 else 'OVER'} (target < 10%)"
    )


def bench_cli_start() -> None:
    print("\n[3] CLI start")
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
    cli = median([*cmd, "--help"])
    print(f"  python -c pass            {bare:6.3f} s")
    print(
        f"  atlas-continuity --help   {cli:6.3f} s  ({cli / bare:.1f}x a bare interpreter)"
        f"  -> {'OK' if cli < 0.3 else 'OVER'} (target < 0.3 s)"
    )


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
            f"s3://bench/r?region=us-east-1&endpoint={moto.endpoint}",
            "gs://bench/r",
            "azureblob://bench/r?storage_account=devstoreaccount1",
        ]
        with tempfile.TemporaryDirectory() as tmp:
            bench_failover(Path(tmp), urls[0].replace("/r?", "/failover?"), "gs://bench/failover")
            bench_incremental(Path(tmp), urls)
        bench_cli_start()
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
