"""License grant caching against real folders and the emulators."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas_continuity.runtime import layout
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.manifest import canonical_json, sha256_hex

from .conftest import CLOUD_KINDS
from .helpers import cli

GRANT = {
    "grant.json": b'{"token":"t0k3n","exp":"2027-01-01"}\n',
    "cache/state.bin": bytes(range(256)),
}


def make_state(home: Path, files: dict[str, bytes] = GRANT, mtime: float | None = None) -> Path:
    state = home / ".atlas"
    for rel, data in files.items():
        (state / rel).parent.mkdir(parents=True, exist_ok=True)
        (state / rel).write_bytes(data)
        if mtime is not None:
            os.utime(state / rel, (mtime, mtime))
    return state


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def modes(root: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def snapshot_files(folder: Path, name: str = "default") -> list[Path]:
    return sorted((folder / layout.grants_prefix(name)).glob("*.json"))


@pytest.mark.parametrize("kind", ["folder", *CLOUD_KINDS])
def test_round_trip_to_a_fresh_home_is_byte_identical_and_owner_only(
    kind, home, make_store, tmp_path
):
    target = (
        ["--cache-dir", tmp_path / "ci-cache"]
        if kind == "folder"
        else ["--store", make_store(kind)]
    )
    state = make_state(home())
    saved = cli("grant", "save", *target)
    assert saved.code == 0, saved.err
    assert saved.out == "" and saved.err == ""  # quiet on success

    new_home = home()
    restored = cli("grant", "restore", *target)
    assert restored.code == 0, restored.err
    assert tree(new_home / ".atlas") == tree(state)
    assert modes(new_home / ".atlas") == {0o700, 0o600}
    assert stat.S_IMODE((new_home / ".atlas" / "cache").stat().st_mode) == 0o700


def test_state_dir_flag_and_json_report(home, tmp_path):
    state = make_state(tmp_path / "elsewhere")
    r = cli("grant", "save", "--state-dir", state, "--cache-dir", tmp_path / "c", "--json")
    assert r.code == 0
    report = r.json
    assert report["files"] == 2 and report["caches"][0]["status"] == "saved"


def test_missing_first_source_falls_to_the_next_and_says_so(home, make_store, tmp_path):
    make_state(home())
    store = make_store("s3")
    assert cli("grant", "save", "--store", store).code == 0
    new_home = home()
    r = cli("grant", "restore", "--cache-dir", tmp_path / "empty-cache", "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json["source"] == store
    assert "no grant snapshot" in r.err
    assert tree(new_home / ".atlas") == GRANT


def test_corrupt_first_source_falls_to_the_next(home, make_store, tmp_path):
    make_state(home())
    cache, store = tmp_path / "cache", make_store("gcs")
    assert cli("grant", "save", "--cache-dir", cache, "--store", store).code == 0
    (snap,) = snapshot_files(cache)
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x01
    snap.chmod(0o600)
    snap.write_bytes(bytes(data))
    new_home = home()
    r = cli("grant", "restore", "--cache-dir", cache, "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json["source"] == store
    assert "corrupt" in r.err
    assert tree(new_home / ".atlas") == GRANT


def test_every_source_bad_exits_non_zero_and_changes_nothing(home, tmp_path):
    make_state(home())
    cache = tmp_path / "cache"
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    for snap in snapshot_files(cache):
        snap.write_bytes(b"{}")
    current = make_state(home(), {"grant.json": b"mine"})
    before = tree(current)
    r = cli("grant", "restore", "--cache-dir", cache, "--cache-dir", tmp_path / "none")
    assert r.code != 0
    assert tree(current) == before


def _plant(
    cache: Path, files: list[dict], name: str = "default", mtime_ns: int | None = None
) -> None:
    """Write a well-formed, correctly hashed snapshot whose content is hostile."""
    now = time.time_ns()
    body = canonical_json(
        {
            "format": layout.FORMAT_VERSION,
            "kind": "grant-snapshot",
            "name": name,
            "layout": "state-dir",
            "created_ns": now,
            "source": {},
            "files": [
                {
                    "path": f["path"],
                    "sha256": sha256_hex(f["data"]),
                    "size": len(f["data"]),
                    "mtime_ns": mtime_ns or now,
                    "data": base64.b64encode(f["data"]).decode(),
                }
                for f in files
            ],
        }
    )
    key = layout.series_key(layout.grants_prefix(name), now, sha256_hex(body))
    (cache / key).parent.mkdir(parents=True, exist_ok=True)
    (cache / key).write_bytes(body)


@pytest.mark.timeout(30)  # a FIFO that blocked the restore would hang here: fail instead
@pytest.mark.parametrize("hostile", ["symlink", "linked-folder", "dotdot", "absolute", "fifo"])
def test_hostile_caches_are_refused_and_write_nothing_outside(hostile, home, tmp_path):
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    cache = tmp_path / "cache"
    folder = cache / layout.grants_prefix("default")
    key_name = f"{9 * 10**18:019d}-{'0' * 64}.json"
    if hostile in ("symlink", "linked-folder"):
        # A valid snapshot outside the cache: following the link would restore it.
        make_state(home())
        elsewhere = tmp_path / "elsewhere"
        assert cli("grant", "save", "--cache-dir", elsewhere).code == 0
        (real,) = snapshot_files(elsewhere)
        if hostile == "symlink":
            folder.mkdir(parents=True)
            (folder / real.name).symlink_to(real)
        else:
            folder.parent.mkdir(parents=True)
            folder.symlink_to(real.parent)
    elif hostile == "fifo":
        folder.mkdir(parents=True)
        os.mkfifo(folder / key_name)
    elif hostile == "dotdot":
        folder.mkdir(parents=True)
        _plant(cache, [{"path": "../x", "data": b"pwned"}, {"path": "grant.json", "data": b"g"}])
    else:
        _plant(cache, [{"path": str(victim_dir / "abs"), "data": b"pwned"}])
    new_home = home()
    started = time.monotonic()
    r = cli("grant", "restore", "--cache-dir", cache)
    assert time.monotonic() - started < 10  # a FIFO must not block the restore
    assert r.code != 0
    assert "refused" in r.err or "unsafe" in r.err
    assert not (new_home / ".atlas").exists()
    assert not (new_home / "x").exists() and not (victim_dir / "abs").exists()
    assert list(victim_dir.iterdir()) == []


def test_a_newer_local_grant_is_kept_unless_forced(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), mtime=time.time() - 3600)
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    newer = make_state(home(), {"grant.json": b"fresh login"})
    r = cli("grant", "restore", "--cache-dir", cache)
    assert r.code == 0 and "newer grant" in r.err
    assert tree(newer) == {"grant.json": b"fresh login"}
    assert cli("grant", "restore", "--cache-dir", cache, "--force").code == 0
    assert tree(newer) == GRANT


def test_save_killed_midway_leaves_the_previous_snapshot_restorable(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), {"grant.json": b"v1"})
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    big = {"grant.json": b"v2", "blob.bin": os.urandom(24 * 1024 * 1024)}
    state = make_state(home(), big)
    killed_midway = 0
    for delay in (0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atlas_continuity.runtime",
                "grant",
                "save",
                "--state-dir",
                state,
                "--cache-dir",
                cache,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_midway += proc.returncode == -signal.SIGKILL
        check_home = home()
        r = cli("grant", "restore", "--cache-dir", cache)
        assert r.code == 0, r.err
        assert tree(check_home / ".atlas") in ({"grant.json": b"v1"}, big)
        # Atomic: no snapshot is ever visible half-written, whatever the moment of the kill.
        for snap in snapshot_files(cache):
            name = snap.name.removesuffix(".json")
            assert name.endswith(sha256_hex(snap.read_bytes())), f"partial snapshot {snap.name}"
    assert killed_midway, "no save was killed before it finished"


@pytest.mark.parametrize("exit_code", [0, 3, 130])
def test_exec_returns_the_commands_code_and_saves_in_every_case(exit_code, home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home(), {"grant.json": b"before"})
    script = f'printf after > "$HOME/.atlas/grant.json"; exit {exit_code}'
    r = cli("grant", "exec", "--cache-dir", cache, "--", "sh", "-c", script)
    assert r.code == exit_code
    fresh = home()
    assert cli("grant", "restore", "--cache-dir", cache).code == 0
    assert tree(fresh / ".atlas") == {"grant.json": b"after"}


def test_exec_on_a_first_run_with_nothing_cached_still_runs(home, tmp_path):
    h = home()
    script = 'mkdir -p "$HOME/.atlas" && printf new > "$HOME/.atlas/grant.json"'
    r = cli("grant", "exec", "--cache-dir", tmp_path / "cache", "--", "sh", "-c", script)
    assert r.code == 0
    assert "grant not restored" in r.err
    assert tree(h / ".atlas") == {"grant.json": b"new"}
    assert len(snapshot_files(tmp_path / "cache")) == 1


def test_exec_of_a_command_killed_by_a_signal_exits_128_plus_signal(home, tmp_path):
    make_state(home())
    r = cli("grant", "exec", "--cache-dir", tmp_path / "c", "--", "sh", "-c", "kill -TERM $$")
    assert r.code == 128 + signal.SIGTERM


def test_data_root_round_trip_through_s3(make_store, tmp_path):
    store = make_store("s3")
    root = tmp_path / "data"
    expected = {}
    for ns in ("default", "payments", "search"):
        for name in ("app-schema", "app-migrations"):
            files = {"grant.json": f"{ns}/{name}".encode(), "nested/token": os.urandom(64)}
            for rel, data in files.items():
                path = root / ns / name / ".atlas" / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                expected[f"{ns}/{name}/.atlas/{rel}"] = data
    (root / "default" / "app-schema" / "migrations.sql").write_text("not part of the grant")
    assert cli("grant", "save", "--data-root", root, "--store", store).code == 0

    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    r = cli("grant", "restore", "--data-root", rebuilt, "--store", store, "--json")
    assert r.code == 0, r.err
    assert len(r.json["applied"]) == 6
    assert tree(rebuilt) == expected
    for atlas in rebuilt.glob("*/*/.atlas"):
        assert modes(atlas) == {0o700, 0o600}


def test_a_data_root_snapshot_is_not_restored_as_a_state_dir(make_store, tmp_path, home):
    store = make_store("file")
    state = tmp_path / "root" / "ns" / "res" / ".atlas"
    state.mkdir(parents=True)
    (state / "g").write_text("x")
    assert cli("grant", "save", "--data-root", tmp_path / "root", "--store", store).code == 0
    home()
    r = cli("grant", "restore", "--store", store)
    assert r.code == ExitCode.BAD_INPUT and "--data-root" in r.err


def test_status_reports_local_grant_and_each_cache(home, tmp_path):
    make_state(home())
    good, bad = tmp_path / "good", tmp_path / "bad"
    assert cli("grant", "save", "--cache-dir", good).code == 0
    r = cli("grant", "status", "--cache-dir", good, "--cache-dir", bad, "--json")
    assert r.code == 0
    report = r.json
    assert report["local"]["present"] and report["local"]["files"] == 2
    assert [c["intact"] for c in report["caches"]] == [True, False]
    text = cli("grant", "status", "--cache-dir", good, "--cache-dir", bad).out
    assert "intact, 2 file(s)" in text and "NOT USABLE" in text


def test_cache_folder_keeps_only_the_newest_snapshots(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home())
    for i in range(5):
        make_state(home(), {"grant.json": f"v{i}".encode()})
        assert cli("grant", "save", "--cache-dir", cache).code == 0
    assert len(snapshot_files(cache)) == 3
    fresh = home()
    assert cli("grant", "restore", "--cache-dir", cache).code == 0
    assert tree(fresh / ".atlas") == {"grant.json": b"v4"}


def test_save_refuses_links_in_the_state_folder(home, tmp_path):
    state = make_state(home())
    (state / "link").symlink_to("/etc/passwd")
    r = cli("grant", "save", "--cache-dir", tmp_path / "c")
    assert r.code == ExitCode.BAD_INPUT and "not a regular file" in r.err
    assert not (tmp_path / "c").exists() or snapshot_files(tmp_path / "c") == []


def test_no_cache_given_is_bad_input(home):
    make_state(home())
    assert cli("grant", "save").code == ExitCode.BAD_INPUT


def test_snapshot_json_is_documented_format(home, tmp_path):
    make_state(home())
    assert cli("grant", "save", "--cache-dir", tmp_path / "c").code == 0
    (snap,) = snapshot_files(tmp_path / "c")
    obj = json.loads(snap.read_bytes())
    assert (obj["format"], obj["kind"], obj["layout"]) == (2, "grant-snapshot", "state-dir")
    assert snap.name.endswith(f"-{sha256_hex(snap.read_bytes())}.json")


def test_a_linked_cache_folder_never_receives_a_save_or_loses_files(home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in "abcde":
        (victim / name).write_text("keep me")
    cache = tmp_path / "cache"
    (cache / layout.GRANTS).mkdir(parents=True)
    (cache / layout.grants_prefix("default").rstrip("/")).symlink_to(victim)
    make_state(home())
    r = cli("grant", "save", "--cache-dir", cache)
    assert r.code != 0 and "symbolic link" in r.err
    assert sorted(p.name for p in victim.iterdir()) == list("abcde")


def test_save_keeps_its_snapshot_whatever_else_is_in_the_folder(home, tmp_path):
    cache = tmp_path / "cache"
    folder = cache / layout.grants_prefix("default")
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"0junk{i}").write_text("junk")
    make_state(home(), {"grant.json": b"new"})
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    assert len(snapshot_files(cache)) == 1
    assert sorted(p.name for p in folder.glob("0junk*")) == ["0junk0", "0junk1", "0junk2"]
    fresh = home()
    assert cli("grant", "restore", "--cache-dir", cache).code == 0
    assert tree(fresh / ".atlas") == {"grant.json": b"new"}


def _plant_raw(cache: Path, body: bytes, when_ns: int | None = None) -> Path:
    key = layout.series_key(
        layout.grants_prefix("default"), when_ns or time.time_ns(), sha256_hex(body)
    )
    (cache / key).parent.mkdir(parents=True, exist_ok=True)
    (cache / key).write_bytes(body)
    return cache / key


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"kind": "grant-snapshot", "format": 2, "files": "x"}', b"[" * 100_000],
    ids=["list", "wrong-types", "deep"],
)
def test_a_malformed_but_hashed_snapshot_falls_back_to_the_next_cache(body, home, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    make_state(home())
    assert cli("grant", "save", "--cache-dir", second).code == 0
    _plant_raw(first, body)
    fresh = home()
    r = cli("grant", "restore", "--cache-dir", first, "--cache-dir", second, "--json")
    assert r.code == 0, r.err
    assert r.json["source"] == str(second)
    assert tree(fresh / ".atlas") == GRANT


def test_exec_runs_the_command_whatever_the_restore_meets(home, tmp_path):
    cache = tmp_path / "cache"
    _plant_raw(cache, b"[]")
    h = home()
    script = 'mkdir -p "$HOME/.atlas" && printf ran > "$HOME/.atlas/grant.json"; exit 7'
    r = cli("grant", "exec", "--cache-dir", cache, "--", "sh", "-c", script)
    assert r.code == 7
    assert tree(h / ".atlas") == {"grant.json": b"ran"}


def test_an_empty_state_folder_is_not_saved(home, tmp_path):
    (home() / ".atlas").mkdir()
    r = cli("grant", "save", "--cache-dir", tmp_path / "c")
    assert r.code == ExitCode.NOT_FOUND and "no Atlas grant to save" in r.err


def test_empty_oversized_and_future_snapshots_are_skipped(home, tmp_path):
    cache = tmp_path / "cache"
    make_state(home())
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    _plant(cache, [])  # no files
    _plant(cache, [{"path": "grant.json", "data": b"from 2116"}], mtime_ns=2**62)
    newest = layout.series_key(layout.grants_prefix("default"), time.time_ns(), "f" * 64)
    with open(cache / newest, "wb") as f:
        f.truncate(1 << 30)  # sparse: 1 GiB that must not be read into memory
    assert len(snapshot_files(cache)) == 4
    fresh = home()
    r = cli("grant", "restore", "--cache-dir", cache)
    assert r.code == 0, r.err
    assert tree(fresh / ".atlas") == GRANT


def test_save_refuses_names_a_restore_would_refuse(home, tmp_path):
    make_state(home(), {"grant.json": b"g", "new\nline": b"x"})
    r = cli("grant", "save", "--cache-dir", tmp_path / "c")
    assert r.code == ExitCode.BAD_INPUT and "cannot be restored safely" in r.err


def test_sigterm_to_exec_reaches_the_command_and_the_grant_is_still_saved(home, tmp_path):
    h = home()
    make_state(h, {"grant.json": b"before"})
    cache = tmp_path / "cache"
    started = h / "started"
    script = (
        "trap 'kill $!; printf after > \"$HOME/.atlas/grant.json\"; exit 143' TERM; "
        f'sleep 60 >/dev/null 2>&1 & touch "{started}"; wait'
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atlas_continuity.runtime",
            "grant",
            "exec",
            "--cache-dir",
            cache,
            "--",
            "sh",
            "-c",
            script,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    fresh = home()
    assert cli("grant", "restore", "--cache-dir", cache).code == 0
    assert tree(fresh / ".atlas") == {"grant.json": b"after"}


def test_restore_takes_the_newest_copy_of_all_caches_not_the_first(home, make_store, tmp_path):
    cache, store = tmp_path / "cache", make_store("s3")
    make_state(home(), {"grant.json": b"old"}, mtime=time.time() - 7200)
    assert cli("grant", "save", "--cache-dir", cache, "--store", store).code == 0
    make_state(home(), {"grant.json": b"new"})
    assert cli("grant", "save", "--store", store).code == 0  # a weekly CI cache missed it

    newest = home()
    r = cli("grant", "restore", "--cache-dir", cache, "--store", store, "--json")
    assert r.code == 0, r.err
    assert r.json["source"] == store
    assert tree(newest / ".atlas") == {"grant.json": b"new"}
    assert r.err == ""  # the older first copy is no problem: it is simply not the newest


@pytest.mark.parametrize("flag", ["--cache-dir", "--state-dir", "--data-root"])
@pytest.mark.parametrize("action", ["save", "restore"])
def test_an_empty_folder_flag_is_refused_not_read_as_a_default(
    flag, action, home, tmp_path, monkeypatch
):
    # An unset variable must not put the grant in the workspace root, nor save or restore
    # ~/.atlas when the operator's data root was meant.
    make_state(home())
    monkeypatch.chdir(tmp_path)
    caches = [] if flag == "--cache-dir" else ["--cache-dir", tmp_path / "cache"]
    r = cli("grant", action, *caches, flag, "")
    assert r.code == ExitCode.BAD_INPUT and f"{flag} is empty" in r.err
    assert not (tmp_path / "cache").exists() and not (tmp_path / layout.ROOT).exists()


def test_save_refuses_a_grant_that_no_restore_would_accept(home, tmp_path):
    # A file dated days ahead (a skewed clock, an unpacked archive) made a snapshot every
    # restore refuses; three such saves pruned the last good snapshot out of the folder.
    cache = tmp_path / "cache"
    make_state(home())
    assert cli("grant", "save", "--cache-dir", cache).code == 0
    good = snapshot_files(cache)
    make_state(home(), mtime=time.time() + 3 * 86400)
    for _ in range(3):
        r = cli("grant", "save", "--cache-dir", cache)
        assert r.code == ExitCode.BAD_INPUT and "'grant.json' has a modification time" in r.err
    assert snapshot_files(cache) == good
