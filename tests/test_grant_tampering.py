"""A grant is never rolled back, and a cache cannot hide or corrupt it: snapshots re-filed under
other names, junk dated in the future, impossible file trees, links where folders belong."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from atlas_continuity.runtime import layout
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.grants import GrantFile, Snapshot
from atlas_continuity.runtime.manifest import sha256_hex

from .helpers import cli
from .test_grants import make_state, snapshot_files, tree

DAY_NS = 24 * 3600 * 10**9
PREFIX = layout.grants_prefix("default")


def file_as(cache: Path, snapshot: Snapshot, named_ns: int) -> Path:
    """Put ``snapshot`` in a cache folder under the name of another time, as an attacker with
    write access to the cache (or a copy gone wrong) would."""
    data = snapshot.encode()
    path = cache / layout.series_key(PREFIX, named_ns, sha256_hex(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def old_snapshot(content: bytes, age_ns: int) -> Snapshot:
    when = time.time_ns() - age_ns
    return Snapshot("default", "state-dir", (GrantFile("grant.json", content, when),), when)


def test_an_old_snapshot_refiled_under_a_future_name_is_never_restored_nor_kept(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), {"grant.json": b"current"})
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    refiled = file_as(
        cache, old_snapshot(b"30 days old", 30 * DAY_NS), time.time_ns() + 365 * DAY_NS
    )

    fresh = home()
    r = cli("grant", "restore", "--cache-dir", cache)
    assert r.code == 0, r.err
    assert tree(fresh / ".atlas") == {"grant.json": b"current"}
    assert "ahead of this machine's clock; ignored" in r.err
    # The next save's pruning does not take it for the newest: it goes.
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    assert not refiled.exists()


def test_six_junk_objects_dated_in_the_future_do_not_hide_the_genuine_snapshot(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), {"grant.json": b"genuine"})
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    for year in range(1, 7):
        junk = os.urandom(64)
        name = layout.series_key(PREFIX, time.time_ns() + year * 365 * DAY_NS, sha256_hex(junk))
        (cache / name).write_bytes(junk)
    assert len(snapshot_files(cache)) == 7

    fresh = home()
    r = cli("grant", "restore", "--cache-dir", cache)
    assert r.code == 0, r.err
    assert tree(fresh / ".atlas") == {"grant.json": b"genuine"}
    assert r.err.count("ahead of this machine's clock") == 6


def test_a_snapshot_refiled_under_a_later_plausible_name_is_corrupt(home, tmp_path):
    cache = tmp_path / "cache"
    genuine = old_snapshot(b"an hour old", 3600 * 10**9)
    file_as(cache, genuine, genuine.created_ns)
    # Older content, named a minute ago: it would sort first, and must not win.
    file_as(cache, old_snapshot(b"30 days old", 30 * DAY_NS), time.time_ns() - 60 * 10**9)

    fresh = home()
    r = cli("grant", "restore", "--cache-dir", cache)
    assert r.code == 0, r.err
    assert tree(fresh / ".atlas") == {"grant.json": b"an hour old"}
    assert "its name and its content disagree" in r.err


def test_restore_keeps_a_grant_in_place_newer_than_every_copy(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), {"grant.json": b"saved"}, mtime=time.time() - 3600)
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    state = make_state(home(), {"grant.json": b"refreshed since"})
    r = cli("grant", "restore", "--cache-dir", cache, "--json")
    assert r.code == 0, r.err
    assert tree(state) == {"grant.json": b"refreshed since"}
    assert r.json["kept"] == [str(state)] and r.json["applied"] == []


def test_a_snapshot_holding_a_and_a_slash_b_is_refused_and_the_next_cache_serves(
    home, make_store, tmp_path
):
    store = make_store("file")
    make_state(home(), {"grant.json": b"good"}, mtime=time.time() - 60)
    assert cli("grant", "save", "--store", store).code == 0
    now = time.time_ns()
    impossible = Snapshot(
        "default",
        "state-dir",
        (GrantFile("a", b"file", now), GrantFile("a/b", b"under it", now)),
        now,
    )
    cache = tmp_path / "cache"
    file_as(cache, impossible, now)

    fresh = home()
    r = cli("grant", "restore", "--cache-dir", cache, "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json["source"] == store
    assert tree(fresh / ".atlas") == {"grant.json": b"good"}
    assert "both as a file and as the folder of 'a/b'" in r.err


def test_a_cache_dir_that_is_a_symlink_is_refused(home, tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "cache").symlink_to(real)
    make_state(home())
    for action in ("save", "restore"):
        r = cli("grant", action, "--cache-dir", tmp_path / "cache")
        assert r.code == ExitCode.BAD_INPUT, r.err
        assert "symbolic link" in r.err
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("level", ["namespace", "resource"])
def test_a_link_under_the_data_root_is_neither_read_nor_written_through(level, home, tmp_path):
    outside = tmp_path / "outside"
    (outside / "res" / ".atlas").mkdir(parents=True)
    (outside / "res" / ".atlas" / "grant.json").write_text("not the cluster's")
    root = tmp_path / "data"
    (root / "good" / "res" / ".atlas").mkdir(parents=True)
    (root / "good" / "res" / ".atlas" / "grant.json").write_text("the cluster's")
    if level == "namespace":
        (root / "evil").symlink_to(outside)
    else:
        (root / "evil").mkdir()
        (root / "evil" / "res").symlink_to(outside / "res")
    cache = tmp_path / "cache"
    r = cli("grant", "save", "--data-root", root, "--cache-dir", cache)
    assert r.code == ExitCode.BAD_INPUT and "symbolic link under --data-root" in r.err, r.err

    # A snapshot naming evil/res restores nothing through the link.
    clean = tmp_path / "clean"
    (clean / "evil" / "res" / ".atlas").mkdir(parents=True)
    (clean / "evil" / "res" / ".atlas" / "grant.json").write_text("to restore")
    assert cli("grant", "save", "--data-root", clean, "--cache-dir", cache).code == 0
    before = tree(outside)
    r = cli("grant", "restore", "--data-root", root, "--cache-dir", cache, "--force")
    assert r.code == ExitCode.BAD_INPUT and "symbolic link under --data-root" in r.err, r.err
    assert tree(outside) == before
