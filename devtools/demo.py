"""The whole product on one machine, no cloud account: python -m devtools.demo

Starts S3, GCS and Azure Blob emulators, pushes a real Atlas migration directory to a primary
and two backups, then takes the primary down, corrupts a backup, and shows that deploys keep
reading a verified directory; then caches a license grant and restores it on a new runner, and
plans the dev stack's infrastructure offline. Every step is checked; the demo exits non-zero if
one fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from azure.storage.blob import BlobServiceClient
from google.cloud import storage

from atlas_continuity.runtime import atlas_sum, layout
from atlas_continuity.runtime.config import repo_block
from devtools.emulators import ROOT, Azurite, FakeGcs, Moto

FIXTURES = Path(os.environ.get("ATLAS_CONTINUITY_FIXTURES", ROOT.parent / "shared" / "fixtures"))
SOURCE_DIR = FIXTURES / "atlas-dirs" / "hatchet-dev__hatchet__sql_migrations"
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def step(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def run(*args: str, expect: int = 0, env: dict[str, str] | None = None) -> str:
    shown = " ".join(a if len(a) < 70 else a[:67] + "..." for a in args)
    print(f"{DIM}$ atlas-continuity {shown}{RESET}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "atlas_continuity.runtime", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    for line in (proc.stdout + proc.stderr).splitlines()[:12]:
        print(f"  {line}")
    if proc.returncode != expect:
        raise SystemExit(f"demo failed: exit {proc.returncode}, expected {expect}")
    return proc.stdout


def migration_dir(work: Path) -> Path:
    """A copy of a real Atlas directory (shared/fixtures), or a small generated one."""
    dest = work / "migrations"
    if SOURCE_DIR.is_dir():
        shutil.copytree(SOURCE_DIR, dest)
        return dest
    dest.mkdir()
    for i in range(1, 6):
        (dest / f"2026010100000{i}_step.sql").write_text(f"CREATE TABLE t{i} (id int);\n")
    files = {p.name: p.read_bytes() for p in dest.iterdir()}
    (dest / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())
    return dest


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="atlas-continuity-demo-"))
    moto, gcs, azure = Moto(), FakeGcs(), Azurite()
    try:
        step("Starting local emulators: moto (S3), fake-gcs-server (GCS), Azurite (Azure Blob)")
        for server in (moto, gcs, azure):
            server.start()
            print(f"  {server.name} on {server.endpoint}")
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": "us-east-1",
                "STORAGE_EMULATOR_HOST": gcs.endpoint,
                "GOOGLE_CLOUD_PROJECT": "demo",
                "AZURE_STORAGE_CONNECTION_STRING": azure.connection_string,
            }
        )
        boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket="registry")
        storage.Client().create_bucket("atlas-backup")
        BlobServiceClient.from_connection_string(azure.connection_string).create_container(
            "atlas-backup"
        )
        primary = f"s3://registry/atlas?region=us-east-1&endpoint={moto.endpoint}"
        gcs_url = "gs://atlas-backup/atlas"
        azure_url = "azureblob://atlas-backup/atlas?storage_account=devstoreaccount1"
        config = work / "atlas.hcl"
        block = repo_block("app", [gcs_url, azure_url], url=primary)
        config.write_text(
            'env "prod" {\n  migration {\n    dir = "file://migrations"\n'
            + "".join(f"    {line}\n" for line in block.splitlines())
            + "  }\n}\n"
        )
        os.chdir(work)
        cfg = ["--config", "file://atlas.hcl", "--env", "prod"]
        src = migration_dir(work)
        print(f"  stores from atlas.hcl: primary S3, backups GCS and Azure; work dir {work}")

        step(f"Push a real Atlas directory ({len(list(src.glob('*.sql')))} migrations)")
        first = run("push", *cfg, "--tag", "latest", "--tag", "release-1").strip()

        step("Push the next version: a new pack, its manifest and a tag event: 3 objects per store")
        (src / "99990101000000_add_index.sql").write_text("CREATE INDEX idx ON t (id);\n")
        files = {p.name: p.read_bytes() for p in src.iterdir() if p.name != "atlas.sum"}
        (src / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())
        report = json.loads(run("push", *cfg, "--json"))
        for s in report["stores"]:
            print(f"  {s['role']:7} objects written: {s['objects_written']}")
            assert s["objects_written"] == 3, s

        step("Editing an applied migration is refused: history is append-only")
        applied = sorted(src.glob("*.sql"))[0]
        original = applied.read_bytes()
        applied.write_bytes(original + b"\n-- sneaky edit\n")
        files = {p.name: p.read_bytes() for p in src.iterdir() if p.name != "atlas.sum"}
        (src / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())
        run("push", *cfg, expect=8)
        applied.write_bytes(original)

        step("The primary (S3) goes down")
        moto.kill()
        run("pull", "deploy-1", *cfg, "-v")
        assert atlas_sum.read_dir(work / "deploy-1", "atlas")

        step("The first backup's (GCS) packs rot: the files come from Azure, verified")
        packs = f"atlas/{layout.packs_prefix('app')}"
        for blob in storage.Client().list_blobs("atlas-backup", prefix=packs):
            blob.upload_from_string(b"-- not what was pushed\n")
        run("pull", "deploy-2", *cfg, "-v")
        assert (work / "deploy-2").is_dir()

        step("A push during the outage still succeeds, degraded, on the backups")
        (src / "99990102000000_more.sql").write_text("ALTER TABLE t ADD COLUMN c int;\n")
        files = {p.name: p.read_bytes() for p in src.iterdir() if p.name != "atlas.sum"}
        (src / "atlas.sum").write_text(atlas_sum.compute_sum(files, "atlas").to_text())
        run("push", *cfg)

        step("The primary comes back empty (its bucket lost): verify finds every gap and the rot")
        moto.start()
        boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket="registry")
        run("verify", *cfg, expect=6)

        step("sync rebuilds the primary from the backups, copying only bytes that verify")
        # GCS's rotted packs are read past (a warning) and never copied: S3 gets Azure's.
        run("sync", *cfg, "--dry-run")
        run("sync", *cfg)
        run("verify", *cfg, "--tag", "latest")

        step("The restore drill: each store alone, as if it were the last one left")
        run("drill", *cfg)
        drilled = run("drill", "--tag", "release-1", *cfg, expect=6).splitlines()
        restores = {line.split(":")[0]: ": restores;" in line for line in drilled}
        assert restores == {"s3": True, "gs": False, "azureblob": True}, drilled

        step("License grant: saved to a CI cache folder and the GCS bucket")
        home = work / "ci-home"
        (home / ".atlas").mkdir(parents=True)
        (home / ".atlas" / "grant").write_text('{"demo": "grant"}\n')
        grant_env = {"HOME": str(home)}
        # One store URL serves the registry and the grant alike.
        caches = ["--cache-dir", ".atlas-cache", "--store", gcs_url]
        run("grant", "save", *caches, env=grant_env)

        step("A new runner with an empty HOME and a lost CI cache restores it from the bucket")
        shutil.rmtree(home / ".atlas")
        shutil.rmtree(work / ".atlas-cache")
        run("grant", "restore", *caches, "-v", env=grant_env)
        assert (home / ".atlas" / "grant").read_text() == '{"demo": "grant"}\n'
        run("grant", "status", *caches, env=grant_env)

        step("Tags and their audit log, read from the first store that answers")
        run("tags", *cfg, "--history")
        run("show", "--tag", "release-1", *cfg)

        step("The dev environment's buckets and identities, planned offline: no cloud account")
        planned = run("plan", "--stack", "dev", "--project-dir", str(ROOT))
        assert "not a diff against deployed" in " ".join(planned.split())
        assert "atlas-continuity:index:ContinuityPlan  atlas-continuity" in planned
        print(f"\n{BOLD}Demo passed.{RESET} release-1 is {first}")
    finally:
        for server in (moto, gcs, azure):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
