"""Benchmarks, each against a baseline measured in the same run: ./dev bench

1. Failover: pull with a blackholed primary against pull with a healthy primary, same data.
2. Incremental push: one new file in a 2,000-file directory, pushed to S3, GCS and Azure,
   against the first full push: objects written per store and seconds.
3. CLI start: wall time of `atlas-continuity --help` against a bare interpreter start.
"""

from __future__ import annotations

import os
import shutil
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
from devtools.emulators import AZURITE_KEY, Azurite, Blackhole, FakeGcs, Moto  # noqa: E402

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


def bench_incremental(work: Path, urls: list[str]) -> tuple[float, float]:
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
    return full, incr


def bench_rclone_baseline(
    work: Path, moto: Moto, gcs: FakeGcs, azure: Azurite, ours: tuple[float, float]
) -> None:
    """What a user would script by hand: rclone copy of the same directory to each store."""
    print("\n[2b] Baseline: rclone copy of the same 2,000-file directory, store by store")
    rclone = shutil.which("rclone")
    if rclone is None:
        print("  rclone is not installed (apt-get install rclone): baseline not measured")
        return
    env = {
        **os.environ,
        "RCLONE_CONFIG_S3_TYPE": "s3",
        "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENDPOINT": moto.endpoint,
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": "bench",
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": "bench",
        "RCLONE_CONFIG_GCS_TYPE": "google cloud storage",
        "RCLONE_CONFIG_GCS_ANONYMOUS": "true",
        "RCLONE_CONFIG_GCS_ENDPOINT": f"{gcs.endpoint}/storage/v1/",
        # rclone's azureblob builds https://ACCOUNT.ENDPOINT; a container SAS URL reaches
        # the emulator's plain-HTTP port instead.
        "RCLONE_CONFIG_AZ_TYPE": "azureblob",
        "RCLONE_CONFIG_AZ_SAS_URL": f"{azure.endpoint}/devstoreaccount1/bench?{_azurite_sas()}",
        "RCLONE_CONFIG_S3_REGION": "us-east-1",
    }
    env.pop("AWS_CA_BUNDLE", None)  # rclone's S3 transport cannot take a custom CA bundle
    remotes = ["s3:bench/rclone", "gcs:bench/rclone", "az:bench/rclone"]
    src = work / "incr-src"

    def copy_all() -> float:
        started = time.perf_counter()
        for remote in remotes:
            subprocess.run(
                [rclone, "copy", "--transfers", "16", str(src), remote],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return time.perf_counter() - started

    full = copy_all()
    (src / "29990102000000_rclone.sql").write_text("ALTER TABLE t2 ADD COLUMN c int;\n")
    rehash(src)
    incr = copy_all()
    print(f"  rclone full copy {full:6.2f} s, incremental {incr:5.2f} s")
    print(
        f"  atlas-continuity against rclone: full push {full / ours[0]:.1f}x faster, "
        f"incremental {incr / ours[1]:.1f}x faster (and rclone checks no atlas.sum, keeps no "
        "history and overwrites atlas.sum in place)"
    )


def _azurite_sas() -> str:
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
            ours = bench_incremental(Path(tmp), urls)
            bench_rclone_baseline(Path(tmp), moto, gcs, azure, ours)
        bench_cli_start()
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
