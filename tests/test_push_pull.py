"""Push and pull end to end, through the CLI against the emulators: one behaviour per test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from atlas_continuity.runtime import atlas_sum, layout
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.manifest import (
    TagEvent,
)
from atlas_continuity.runtime.push import build_version
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store
from atlas_continuity.runtime.stores.base import StoreSettings
from atlas_continuity.runtime.stores.memory import MemoryStore
from atlas_continuity.runtime.stores.resilience import ResilientStore
from devtools.emulators import Azurite, Blackhole, FakeGcs, Moto

from .conftest import unique_bucket
from .helpers import cli, cli_process, keys, read_tree, rehash, stores, write_dir
from .migration_dirs import CASES, VALID


@pytest.fixture
def clouds(make_store):
    """A primary and two backups, each on a different cloud."""
    return make_store("s3"), make_store("gcs"), make_store("azure")


@pytest.fixture
def own_moto(emulators):
    """A moto server of this test's own, which the test may kill or lock down."""
    server = Moto().start()
    yield server
    server.stop()


def moto_bucket(server: Moto) -> str:
    name = unique_bucket()
    boto3.client("s3", endpoint_url=server.endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/atlas-backup?region=us-east-1&endpoint={server.endpoint}"


def test_round_trip_primary_and_two_backups_on_three_clouds(clouds, tmp_path, migration_dir):
    src = migration_dir("long-history")
    pushed = cli("push", src, *stores(*clouds), "--json")
    assert pushed.code == 0, pushed.err
    assert pushed.json["status"] == "ok"
    assert [s["status"] for s in pushed.json["stores"]] == ["ok", "ok", "ok"]
    for i, url in enumerate(clouds):
        dest = tmp_path / f"pulled-{i}"
        pulled = cli("pull", dest, *stores(url), "--json")
        assert pulled.code == 0, pulled.err
        assert pulled.json["manifest_from"] == url
        assert read_tree(dest) == read_tree(src)
        atlas_sum.read_dir(dest, "atlas")  # Atlas's own check passes on the result


@pytest.mark.parametrize("case", VALID)
def test_every_kind_of_directory_comes_back_byte_for_byte(
    case, make_store, migration_dir, tmp_path
):
    """Non-ASCII names, CRLF, files Atlas does not sum, down files: all stored, all restored."""
    url, src = make_store("file"), migration_dir(case)
    pushed = cli("push", src, *stores(url), "--dir-format", CASES[case].dir_format)
    assert pushed.code == 0, pushed.err
    pulled = cli("pull", tmp_path / "out", *stores(url))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(src)


def test_primary_killed_push_degrades_and_pull_falls_back_in_order(
    own_moto, clouds, tmp_path, monkeypatch, small_dir
):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _, gcs, azure = clouds
    primary = moto_bucket(own_moto)
    own_moto.kill()

    pushed = cli("push", small_dir, *stores(primary, gcs, azure), "--json")
    assert pushed.code == 0, pushed.err
    assert pushed.json["status"] == "degraded"
    assert [s["status"] for s in pushed.json["stores"]] == ["failed", "ok", "ok"]
    assert "primary store" in pushed.err and "degraded" in pushed.err
    assert "::warning title=atlas-continuity::" in pushed.err

    pulled = cli("pull", tmp_path / "out", *stores(primary, gcs, azure), "--json")
    assert pulled.code == 0, pulled.err
    assert pulled.json["manifest_from"] == gcs  # the first healthy backup, not the second
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_pull_skips_a_backup_that_lacks_the_version(own_moto, make_store, tmp_path, small_dir):
    primary = moto_bucket(own_moto)
    empty_backup, full_backup = make_store("gcs"), make_store("azure")
    assert cli("push", small_dir, *stores(None, full_backup)).code == 0
    own_moto.kill()
    pulled = cli("pull", tmp_path / "out", *stores(primary, empty_backup, full_backup), "--json")
    assert pulled.code == 0, pulled.err
    assert pulled.json["manifest_from"] == full_backup
    assert len(pulled.json["problems"]) == 2  # the dead primary, the backup without the tag


def test_all_stores_down_push_fails_and_says_so_for_each(own_moto, tmp_path, small_dir):
    gcs, azure = FakeGcs().start(), Azurite().start()
    try:
        gcs_url = f"gs://{unique_bucket()}/x"
        azure_url = f"azureblob://{unique_bucket()}/x?storage_account=devstoreaccount1"
        s3_url = moto_bucket(own_moto)
        for server in (own_moto, gcs, azure):
            server.kill()
        env = {
            "STORAGE_EMULATOR_HOST": gcs.endpoint,
            "AZURE_STORAGE_CONNECTION_STRING": azure.connection_string,
        }
        proc = cli_process(
            "push", small_dir, *stores(s3_url, gcs_url, azure_url), "--json", env=env
        )
        out, err = proc.communicate(timeout=120)
    finally:
        gcs.stop()
        azure.stop()
    assert proc.returncode == ExitCode.UNAVAILABLE, err
    report = json.loads(out)
    assert report["status"] == "failed"
    assert [s["status"] for s in report["stores"]] == ["failed"] * 3
    assert all(s["error"] and s["tags_moved"] == [] for s in report["stores"])
    assert err.count("did not take the version") == 3
    assert "push failed" in err and "degraded" not in err


def test_a_corrupt_pack_on_the_primary_is_served_from_a_backup(clouds, tmp_path, small_dir):
    s3, gcs, _ = clouds
    pushed = cli("push", small_dir, *stores(s3, gcs), "--json")
    assert pushed.code == 0, pushed.err
    manifest = Registry(open_store(s3), "app").get_manifest(pushed.json["digest"][7:])
    key = f"atlas-backup/{layout.pack_key('app', manifest.pack.sha256)}"
    bucket, endpoint = s3.split("/")[2], s3.split("endpoint=")[1]
    s3_client = boto3.client("s3", endpoint_url=endpoint)
    packed = bytearray(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    packed[len(packed) // 2] ^= 0x20
    s3_client.put_object(Bucket=bucket, Key=key, Body=bytes(packed))  # an admin's overwrite, rot

    pulled = cli("pull", tmp_path / "out", *stores(s3, gcs), "--json")
    assert pulled.code == 0, pulled.err
    assert (pulled.json["manifest_from"], pulled.json["files_from"]) == (s3, gcs)
    assert any("corrupt" in p for p in pulled.json["problems"])
    assert "corrupt" in pulled.err
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_rejected_credentials_fail_loudly_unless_opted_in(
    own_moto, make_store, tmp_path, small_dir
):
    backup = make_store("gcs")
    primary = moto_bucket(own_moto)
    assert cli("push", small_dir, *stores(primary, backup)).code == 0
    own_moto.post("/moto-api/reset-auth", b"0")  # enforce IAM: our keys are now unknown

    refused = cli("pull", tmp_path / "out", *stores(primary, backup))
    assert refused.code == ExitCode.AUTH
    assert "access denied" in refused.err
    assert not (tmp_path / "out").exists()

    opted = cli(
        "pull", tmp_path / "out", *stores(primary, backup), "--fallback-on-auth-error", "--json"
    )
    assert opted.code == 0, opted.err
    assert opted.json["manifest_from"] == backup


def test_blackholed_primary_costs_one_read_timeout(make_store, tmp_path, small_dir):
    backup = make_store("gcs")
    assert cli("push", small_dir, *stores(None, backup)).code == 0
    hole = Blackhole()
    try:
        primary = f"s3://bucket/x?region=us-east-1&endpoint={hole.endpoint}"
        started = time.monotonic()
        pulled = cli("pull", tmp_path / "out", *stores(primary, backup), "--json")
        elapsed = time.monotonic() - started
    finally:
        hole.close()
    assert pulled.code == 0, pulled.err
    assert pulled.json["manifest_from"] == backup
    assert "timed out" in pulled.err
    budget = StoreSettings().read_timeout + StoreSettings().connect_timeout
    assert elapsed < budget, f"failover took {elapsed:.1f}s, budget {budget}s"


def test_incremental_push_writes_one_pack_one_manifest_one_event(clouds, migration_dir):
    src = migration_dir("long-history")
    assert cli("push", src, *stores(*clouds)).code == 0
    before = {url: set(keys(url)) for url in clouds}

    (src / "99999999999999_new.sql").write_text("ALTER TABLE t ADD COLUMN c int;\n")
    rehash(src)
    pushed = cli("push", src, *stores(*clouds), "--json")
    assert pushed.code == 0, pushed.err
    for report in pushed.json["stores"]:
        assert (report["pack_written"], report["manifest_written"], report["tags_moved"]) == (
            True,
            True,
            ["latest"],
        )
    for url in clouds:
        added = set(keys(url)) - before[url]
        assert len(added) == 3, added
        assert sorted(k.removeprefix(layout.REGISTRY).split("/")[1] for k in added) == [
            "manifests",
            "packs",
            "tags",
        ]


def test_eight_concurrent_pushes_all_land_intact(clouds, tmp_path, small_dir):
    base = {p.name: p.read_bytes() for p in small_dir.glob("*.sql")}
    dirs = [
        write_dir(tmp_path / f"v{i}", {**base, f"9000000000000{i}_v.sql": f"-- v{i}\n"})
        for i in range(8)
    ]
    # --force: each version lacks the others' new file, which would otherwise be refused.
    procs = [cli_process("push", d, *stores(*clouds), "--force", "--json") for d in dirs]
    digests = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        report = json.loads(out)
        assert report["status"] == "ok", report
        digests.append(report["digest"])
    latest = {cli("show", *stores(url), "--json").json["digest"] for url in clouds}
    assert len(latest) == 1 and latest <= set(digests)  # every store agrees on latest
    for url in clouds:
        for i, digest in enumerate(digests):
            dest = tmp_path / "pulled" / f"{url.split(':')[0]}-{i}"
            pulled = cli("pull", dest, "--digest", digest, *stores(url))
            assert pulled.code == 0, pulled.err
            assert read_tree(dest) == read_tree(dirs[i])


def test_a_push_cut_off_after_its_pack_leaves_latest_on_the_previous_version(clouds, tmp_path):
    s3 = clouds[0]
    v1 = write_dir(tmp_path / "v1", {"1_init.sql": "CREATE TABLE t (id int);\n"})
    assert cli("push", v1, *stores(s3)).code == 0
    v2 = write_dir(tmp_path / "v2", {"1_init.sql": "CREATE TABLE t (id int);\n", "2_m.sql": "--\n"})
    # What a push killed between its first and its second object leaves: the pack alone.
    manifest, packed = build_version(atlas_sum.read_dir(v2, "atlas"), "app", {})
    registry = Registry(open_store(s3), "app")
    assert registry.put_pack(manifest.pack.sha256, packed)

    pulled = cli("pull", tmp_path / "after-kill", *stores(s3))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "after-kill") == read_tree(v1)

    resumed = cli("push", v2, *stores(s3), "--json")
    assert resumed.code == 0, resumed.err
    store = resumed.json["stores"][0]
    assert (store["pack_written"], store["manifest_written"]) == (False, True)  # checked, kept
    assert cli("pull", tmp_path / "after-resume", *stores(s3)).code == 0
    assert read_tree(tmp_path / "after-resume") == read_tree(v2)


def test_history_rewrite_is_refused_without_force(make_store, tmp_path):
    url = make_store("s3")
    src = write_dir(
        tmp_path / "src",
        {"1_a.sql": "CREATE TABLE a (id int);\n", "2_b.sql": "CREATE TABLE b (id int);\n"},
    )
    assert cli("push", src, *stores(url)).code == 0
    before = keys(url)
    (src / "1_a.sql").write_text("CREATE TABLE a (id bigint);\n")
    rehash(src)
    refused = cli("push", src, *stores(url))
    assert refused.code == ExitCode.REFUSED
    assert "1_a.sql (edited)" in refused.err and "--force" in refused.err
    assert keys(url) == before  # nothing written

    forced = cli("push", src, *stores(url), "--force")
    assert forced.code == 0, forced.err
    assert "rewrites history" in forced.err
    shown = cli("show", *stores(url), "--json")
    assert shown.json["digest"] == forced.out.strip()


def test_out_of_order_migration_is_pushed_with_a_warning(make_store, tmp_path):
    url = make_store("file")
    src = write_dir(tmp_path / "src", {"1_a.sql": "select 1;\n", "3_c.sql": "select 3;\n"})
    assert cli("push", src, *stores(url)).code == 0
    (src / "2_b.sql").write_text("select 2;\n")
    rehash(src)
    pushed = cli("push", src, *stores(url))
    assert pushed.code == 0
    assert "out-of-order migration(s) 2_b.sql sort before 3_c.sql" in pushed.err


def test_tags_lists_versions_with_digest_time_and_source(
    make_store, tmp_path, monkeypatch, small_dir
):
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/db")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    url = make_store("azure")
    first = cli("push", small_dir, *stores(url), "--tag", "latest", "--tag", "v1").out.strip()
    src = write_dir(
        tmp_path / "v2",
        {**{p.name: p.read_bytes() for p in small_dir.glob("*.sql")}, "9_z.sql": "select 9;\n"},
    )
    second = cli("push", src, *stores(url)).out.strip()
    listed = cli("tags", *stores(url), "--json").json["tags"]
    assert {t["tag"]: t["digest"] for t in listed} == {"latest": second, "v1": first}
    latest = next(t for t in listed if t["tag"] == "latest")
    assert latest["previous"] == first
    assert latest["source"]["git_commit"] == "0123456789abcdef"
    assert latest["source"]["ci_run_url"] == "https://github.com/acme/db/actions/runs/42"
    assert latest["time"].endswith("Z")
    history = cli("tags", *stores(url), "--history", "--json").json["tags"]
    assert [t["digest"] for t in history if t["tag"] == "latest"] == [second, first]
    text = cli("tags", *stores(url)).out
    assert f"latest\t{second}" in text


def test_a_corrupt_tag_event_is_named_by_its_key(make_store, small_dir):
    # One rotted event among thousands: the error says which object to look at.
    url = make_store("file")
    assert cli("push", small_dir, *stores(url), "--tag", "v1").code == 0
    (event,) = [k for k in keys(url) if "/tags/v1/" in k]
    path = Path(url.removeprefix("file://")) / event
    path.write_bytes(b"X" + path.read_bytes()[1:])
    r = cli("tags", *stores(url))
    assert r.code == ExitCode.INTEGRITY and f"{event}: tag event does not match its hash" in r.err


def test_a_tag_given_twice_is_moved_once(make_store, small_dir):
    url = make_store("file")
    r = cli("push", small_dir, *stores(url), "--tag", "latest", "--tag", "latest", "--json")
    assert r.code == 0, r.err
    (store,) = r.json["stores"]
    assert store["tags_moved"] == ["latest"] and store["objects_written"] == 3
    assert len([k for k in keys(url) if "/tags/" in k]) == 1


@pytest.mark.parametrize(("kind", "stray"), [("s3", ""), ("file", ".DS_Store")])
def test_a_stray_object_in_a_tags_folder_does_not_hide_the_tag(
    kind, stray, make_store, small_dir, tmp_path
):
    # An S3 console's "Create folder" marker, a Finder copy's .DS_Store: both sort before
    # every event, and the one-key LIST for the newest returned them instead.
    url = make_store(kind)
    assert cli("push", small_dir, *stores(url)).code == 0
    store = open_store(url)
    store.put(layout.tags_prefix("app", "latest") + stray, b"")
    store.close()
    r = cli("pull", tmp_path / "out", *stores(url))
    assert r.code == 0, r.err
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_show_prints_the_manifest(make_store, small_dir):
    url = make_store("file")
    digest = cli("push", small_dir, *stores(url)).out.strip()
    shown = cli("show", "--digest", digest, *stores(url), "--json").json
    assert shown["digest"] == digest
    assert [f["name"] for f in shown["files"]] == sorted(p.name for p in small_dir.glob("*.sql"))
    assert shown["atlas_sum"] == (small_dir / "atlas.sum").read_text()
    text = cli("show", "--digest", digest, *stores(url)).out
    assert f"files:      {len(list(small_dir.glob('*.sql')))}\n" in text


def test_tag_resolution_costs_two_requests_however_long_the_history():
    store = ResilientStore(MemoryStore(), StoreSettings())
    registry = Registry(store, "app")
    digest = "a" * 64
    for i in range(2000):
        when = time.time_ns() - (2000 - i) * 10**9
        registry.put_tag_event(TagEvent("app", "latest", digest if i == 1999 else "b" * 64, when))
    calls = []
    inner = store.inner
    for name in ("get", "list"):
        original = getattr(inner, name)
        setattr(
            inner, name, lambda *a, _o=original, _n=name, **k: (calls.append(_n), _o(*a, **k))[1]
        )
    assert registry.resolve_tag("latest").event.digest == digest
    assert calls == ["list", "get"]


def test_pushing_an_unchanged_directory_again_writes_nothing(make_store, small_dir):
    url = make_store("azure")
    first = cli("push", small_dir, *stores(url))
    before = keys(url)
    again = cli("push", small_dir, *stores(url), "--json")
    assert again.code == 0
    assert again.json["digest"] == first.out.strip()
    assert again.json["stores"][0]["objects_written"] == 0
    assert keys(url) == before


def test_golang_migrate_directory_round_trips_under_its_format(make_store, tmp_path, migration_dir):
    src = migration_dir("golang-migrate")
    url = make_store("s3")
    refused = cli("push", src, *stores(url))
    assert refused.code == ExitCode.BAD_INPUT and "stale" in refused.err
    assert cli("push", src, *stores(url), "--dir-format", "golang-migrate").code == 0
    pulled = cli("pull", tmp_path / "out", *stores(url))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(src)  # .down.sql files travel too
    assert cli("show", *stores(url), "--json").json["dir_format"] == "golang-migrate"


def test_atlas_cloud_primary_works_on_the_backups_and_says_so(make_store, tmp_path, small_dir):
    gcs, azure = make_store("gcs"), make_store("azure")
    cfg = tmp_path / "atlas.hcl"
    cfg.write_text(
        'env "prod" {\n  migration {\n    dir = "atlas://app"\n    repo {\n      name = "app"\n'
        f'      backup = ["{gcs}", "{azure}"]\n    }}\n  }}\n}}\n'
    )
    args = ["--config", f"file://{cfg}", "--env", "prod"]
    pushed = cli("push", small_dir, *args, "--json")
    assert pushed.code == 0, pushed.err
    assert pushed.json["primary"].startswith("Atlas Cloud")
    assert [s["role"] for s in pushed.json["stores"]] == ["backup", "backup"]
    pulled = cli("-v", "pull", tmp_path / "out", *args, "--json")
    assert pulled.code == 0, pulled.err
    assert pulled.json["primary"].startswith("Atlas Cloud")
    assert "read from the backups only" in pulled.err
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_pull_by_digest_falls_back_when_the_primary_lacks_it(make_store, tmp_path, small_dir):
    primary, backup = make_store("s3"), make_store("gcs")
    digest = cli("push", small_dir, *stores(None, backup)).out.strip()
    pulled = cli("pull", tmp_path / "out", "--digest", digest, *stores(primary, backup), "--json")
    assert pulled.code == 0, pulled.err
    assert pulled.json["manifest_from"] == backup
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_azure_rejecting_the_key_is_an_auth_failure(emulators, make_store, monkeypatch, tmp_path):
    url = make_store("azure")
    wrong = emulators["azure"].connection_string.replace("AccountKey=Eby8", "AccountKey=AAAA")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    r = cli("pull", tmp_path / "out", *stores(url))
    assert r.code == ExitCode.AUTH, r.err
    assert "access denied" in r.err and "AccountKey=AAAA" not in r.err


def test_azure_refuses_a_connection_string_for_another_account(make_store, small_dir):
    # It would connect with the string's account, silently: prod's URL writing to dev.
    dev = make_store("azure")
    prod = dev.replace("storage_account=devstoreaccount1", "storage_account=prodaccount")
    r = cli("push", small_dir, *stores(prod))
    assert r.code == ExitCode.BAD_INPUT and "is for account 'devstoreaccount1'" in r.err
    assert keys(dev) == []
