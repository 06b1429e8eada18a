"""Push and pull meeting bad input, through the CLI: a clear message, its exit code, and
nothing written or replaced. One behaviour per test."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from atlas_continuity.runtime import atlas_sum, pack
from atlas_continuity.runtime.errors import BadInput, ExitCode
from atlas_continuity.runtime.manifest import (
    MAX_FILES,
    FileEntry,
    Manifest,
    PackRef,
    TagEvent,
    sha256_hex,
)
from atlas_continuity.runtime.push import build_version
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store

from .conftest import unique_bucket
from .helpers import cli, keys, read_tree, stores
from .migration_dirs import STALE

# -- bad input: a clear message, its exit code, and nothing written ------------------------


@pytest.fixture
def target(make_store):
    url = make_store("file")
    yield url
    assert keys(url) == [], "bad input must write nothing"


def test_bad_input_missing_directory(target, tmp_path):
    r = cli("push", tmp_path / "nope", *stores(target))
    assert (r.code, "no such directory" in r.err) == (ExitCode.BAD_INPUT, True)


def test_bad_input_no_atlas_sum(target, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.sql").write_text("select 1;")
    r = cli("push", tmp_path / "d", *stores(target))
    assert (r.code, "no atlas.sum" in r.err) == (ExitCode.BAD_INPUT, True)


@pytest.mark.parametrize("case", STALE)
def test_bad_input_stale_atlas_sum(target, migration_dir, case):
    r = cli("push", migration_dir(case), *stores(target))
    assert (r.code, "atlas.sum is stale" in r.err) == (ExitCode.BAD_INPUT, True)


def test_bad_input_unknown_scheme(target, small_dir):
    r = cli("push", small_dir, *stores(target, "ftp://host/x"))
    assert (r.code, "unknown store URL scheme 'ftp://'" in r.err) == (ExitCode.BAD_INPUT, True)


@pytest.mark.parametrize(
    "bad",
    [
        "s3://",
        "s3:/bucket",
        "gs://bucket/../x",
        "s3://bucket?region=us-east-1",
        "gs://bucket/a b",
        "s3://bucket/x?region=us-east-1&colour=blue",
        "azureblob://user:secret@acct/x",
        "s3://bucket/x?endpoint=ftp://host",
    ],
)
def test_bad_input_malformed_url(target, bad, small_dir):
    r = cli("push", small_dir, *stores(target, bad))
    assert r.code == ExitCode.BAD_INPUT
    assert "secret" not in r.err
    assert "store URL" in r.err or "parameter" in r.err or "endpoint must be" in r.err


def test_bad_input_unknown_env(target, tmp_path, small_dir):
    cfg = tmp_path / "atlas.hcl"
    cfg.write_text(
        f'env "prod" {{\n  migration {{\n    repo {{\n      name = "app"\n'
        f'      url = "{target}"\n    }}\n  }}\n}}\n'
    )
    r = cli("push", small_dir, "--config", f"file://{cfg}", "--env", "staging")
    assert r.code == ExitCode.BAD_INPUT
    assert "env 'staging' not defined" in r.err and "(defined: prod)" in r.err


@pytest.mark.parametrize("evil", ["../escape.sql", "/tmp/abs.sql", "sub/dir.sql", "..", "~x.sql"])
def test_pull_refuses_a_crafted_manifest_with_unsafe_names(make_store, tmp_path, evil):
    url = make_store("file")
    registry = Registry(open_store(url), "app")
    data = b"select 1;\n"
    packed = pack.build([(evil, data)])
    registry.put_pack(sha256_hex(packed), packed)
    manifest = Manifest(
        "app",
        "atlas",
        (FileEntry(evil, sha256_hex(data), len(data)),),
        "h1:x\n",
        PackRef(sha256_hex(packed), len(packed)),
        "2026-01-01T00:00:00Z",
    )
    registry.put_manifest(manifest)
    registry.put_tag_event(TagEvent("app", "latest", manifest.digest, time.time_ns()))
    work = tmp_path / "work"
    work.mkdir()
    r = cli("pull", work / "out", *stores(url))
    assert r.code == ExitCode.INTEGRITY
    assert "unsafe file name" in r.err
    assert list(work.iterdir()) == []
    assert not (tmp_path / "escape.sql").exists()


def test_pull_into_a_non_empty_directory_needs_force(make_store, tmp_path, small_dir):
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "local.txt").write_text("mine")
    r = cli("pull", dest, *stores(url))
    assert r.code == ExitCode.REFUSED and (dest / "local.txt").exists()
    assert cli("pull", dest, *stores(url), "--force").code == 0
    assert read_tree(dest) == read_tree(small_dir)
    assert cli("pull", dest, *stores(url)).code == 0  # already up to date: nothing to replace


def test_pull_into_a_link_says_it_is_a_link_and_leaves_it(make_store, tmp_path, small_dir):
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    r = cli("pull", tmp_path / "link", *stores(url), "--force")
    assert r.code == ExitCode.BAD_INPUT and "a symbolic link; give the folder itself" in r.err
    assert (tmp_path / "link").is_symlink() and list((tmp_path / "real").iterdir()) == []


def test_pull_into_a_mount_point_says_to_give_a_folder_below_it(
    make_store, tmp_path, small_dir, monkeypatch
):
    """A volume's mount point (Kubernetes, Docker) cannot be renamed over: say what to do
    instead of 'Device or resource busy', and touch nothing."""
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "other.txt").write_text("mine")
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == volume)
    r = cli("pull", volume, *stores(url), "--force")
    assert r.code == ExitCode.BAD_INPUT, r.err
    assert "a mount point" in r.err and str(volume / "migrations") in r.err
    assert read_tree(volume) == {"other.txt": b"mine"}
    assert not list(tmp_path.glob(".volume.*"))  # nothing built beside it


@pytest.mark.parametrize("name", ["m" * 255, "é" * 127])
def test_pull_into_a_folder_with_the_longest_name_a_file_system_takes(
    name, make_store, tmp_path, small_dir
):
    """Our temporary names beside it are cut short, not the user's name refused."""
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    work = tmp_path / "work"
    work.mkdir()
    r = cli("pull", work / name, *stores(url))
    assert r.code == 0, r.err
    assert read_tree(work / name) == read_tree(small_dir)
    assert [p.name for p in work.iterdir()] == [name]


def test_pull_below_a_file_says_the_file_is_in_the_way(make_store, tmp_path, small_dir):
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    (tmp_path / "afile").write_text("mine")
    r = cli("pull", tmp_path / "afile" / "out", *stores(url))
    assert r.code == ExitCode.BAD_INPUT and "a file is in the way" in r.err
    assert (tmp_path / "afile").read_text() == "mine"


def test_dry_run_push_writes_nothing(make_store, small_dir):
    url = make_store("gcs")
    r = cli("push", small_dir, *stores(url), "--dry-run", "--json")
    assert r.code == 0
    assert r.json["stores"][0]["status"] == "planned"
    assert r.json["stores"][0]["objects_written"] == 3  # pack, manifest, tag event
    assert keys(url) == []


def test_missing_bucket_is_a_configuration_error_not_a_fallback(
    emulators, make_store, tmp_path, small_dir
):
    backup = make_store("s3")
    assert cli("push", small_dir, *stores(None, backup)).code == 0
    missing = f"gs://{unique_bucket()}/x"
    r = cli("pull", tmp_path / "out", *stores(missing, backup))
    assert r.code == ExitCode.BAD_INPUT
    assert "does not exist" in r.err


def _directory_of(names: list[str]) -> atlas_sum.MigrationDir:
    files = dict.fromkeys(names, b"")
    sum_text = atlas_sum.compute_sum(files, "atlas").to_text()
    return atlas_sum.MigrationDir(Path("huge"), "atlas", files, sum_text)


def test_push_refuses_more_files_than_a_reader_accepts():
    # Pushed, it would move latest to a version every pull refuses (docs/FORMAT.md, Limits).
    mdir = _directory_of([f"{i:07d}_m.sql" for i in range(MAX_FILES + 1)])
    with pytest.raises(BadInput, match="more than a version may hold"):
        build_version(mdir, "app", {})


def test_push_refuses_a_manifest_larger_than_a_reader_accepts():
    mdir = _directory_of([f"{i:07d}_{'m' * 240}.sql" for i in range(50_000)])
    with pytest.raises(BadInput, match="its manifest would exceed"):
        build_version(mdir, "app", {})
