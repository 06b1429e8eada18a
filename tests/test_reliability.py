"""What a hostile store, a failing network and a careless user meet at the command line: every
wait and read bounded, nothing touched that is not ours, no version taken from a clock ahead."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from atlas_continuity.runtime import layout, ownership, pack
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.manifest import FileEntry, Manifest, PackRef, TagEvent, sha256_hex
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store
from devtools.faultproxy import FaultProxy, trickle
from devtools.measure import run_cli

from .conftest import create_bucket, unique_bucket
from .helpers import cli, cli_process, read_tree, store_url_at, stores, write_dir

FILES = {"1_init.sql": "CREATE TABLE t (id int);\n", "2_more.sql": "ALTER TABLE t ADD c int;\n"}
# The read timeout outlasts the trickle's gaps: only the request deadline can stop it.
FAST = ["--request-deadline", "2", "--connect-timeout", "1", "--read-timeout", "3"]


# -- a store that answers too slowly -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_a_trickling_primary_costs_one_request_deadline_then_the_backup_serves(
    kind, emulators, make_store, monkeypatch, tmp_path
):
    bucket = unique_bucket()
    create_bucket(kind, emulators, bucket)
    src = write_dir(tmp_path / "src", FILES)
    backup = make_store("file")
    with FaultProxy(emulators[kind].endpoint) as proxy:
        primary = store_url_at(kind, proxy.endpoint, monkeypatch, bucket, "atlas")
        assert cli("push", src, *stores(primary, backup)).code == 0
        proxy.inject(trickle(1.0))  # one byte a second: every read in time, the whole never

        started = time.monotonic()
        pulled = cli("pull", tmp_path / "out", *stores(primary, backup), *FAST, "--json")
        assert time.monotonic() - started < 2 + 1
        assert pulled.code == 0, pulled.err
        assert pulled.json["manifest_from"] == backup
        assert "request deadline" in pulled.err
        assert read_tree(tmp_path / "out") == read_tree(src)

        (src / "3_new.sql").write_text("SELECT 1;\n")
        write_dir(src, {**FILES, "3_new.sql": "SELECT 1;\n"})
        started = time.monotonic()
        pushed = cli("push", src, *stores(primary, backup), *FAST, "--json")
        assert time.monotonic() - started < 2 + 1
        assert pushed.code == 0 and pushed.json["status"] == "degraded", pushed.err
        assert [s["status"] for s in pushed.json["stores"]] == ["failed", "ok"]


# -- objects larger than any honest writer makes ------------------------------------------------


def plant_manifest(url: str, write) -> None:
    """A tag pointing at a manifest object ``write(path)`` makes on a file:// store."""
    root = Path(url.removeprefix("file://"))
    digest = "f" * 64
    path = root / layout.manifest_key("app", digest)
    path.parent.mkdir(parents=True)
    write(path)
    Registry(open_store(url), "app").put_tag_event(
        TagEvent("app", "latest", digest, time.time_ns())
    )


@pytest.mark.parametrize("shape", ["sparse-4-GiB", "a-million-entries"])
def test_an_oversized_manifest_is_refused_unread_and_the_backup_serves(shape, make_store, tmp_path):
    primary, backup = make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", FILES)
    assert cli("push", src, *stores(backup)).code == 0

    def write(path: Path) -> None:
        with open(path, "wb") as f:
            if shape == "sparse-4-GiB":
                f.truncate(4 << 30)
            else:
                f.write(b'{"format":2,"kind":"manifest","files":[')
                entry = b'{"name":"%07d.sql","sha256":"' + b"0" * 64 + b'","size":1},'
                for i in range(1_000_000):
                    f.write(entry % i)
                f.write(b"{}]}")

    plant_manifest(primary, write)
    run = run_cli("pull", tmp_path / "out", *stores(primary, backup), "--json")
    assert run.code == 0, run.err
    assert "refused unread" in run.err
    assert run.seconds < 2 and run.peak_rss_mib < 100, (run.seconds, run.peak_rss_mib)
    assert read_tree(tmp_path / "out") == read_tree(src)


# -- what is ours to clean up --------------------------------------------------------------------


def test_a_user_folder_named_like_a_temporary_one_survives_every_pull(make_store, tmp_path):
    url = make_store("file")
    src = write_dir(tmp_path / "src", FILES)
    assert cli("push", src, *stores(url)).code == 0
    work = tmp_path / "work"
    work.mkdir()
    lookalikes = [
        work / ".out.old-2023-backup",
        work / ".out.tmp-2023",
        work / ownership.temp_name(".out", "tmp").replace(ownership.identity(), "cafe.1.1"),
        work / ownership.temp_name(".out", "old"),  # names this live process, with a marker
        # a pull running in another container on this host: same boot, its own pid namespace,
        # a pid no process of ours has
        work
        / ownership.temp_name(".out", "tmp").replace(
            ownership.identity(), f"{ownership.identity().split('-')[0]}-1.4194304.1"
        ),
    ]
    for folder in lookalikes:
        folder.mkdir()
        (folder / "keep.txt").write_text("mine")
        os.utime(folder, (0, 0))  # old, as the hour-long wait once looked for
    for marked in lookalikes[3:]:
        owner = ownership.owner_of(marked.name)
        (work / f"{marked.name}{ownership.MARKER_SUFFIX}").write_text(json.dumps({"owner": owner}))
    for _ in range(2):
        assert cli("pull", work / "out", *stores(url), "--force").code == 0
    assert all((folder / "keep.txt").read_text() == "mine" for folder in lookalikes)


def test_our_process_identity_holds_our_pid_namespace():
    """Containers on one host share its boot: a pid is ours to judge only in our own pid
    namespace, or a pull in the next container would read as a dead run of ours."""
    namespace = "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    where = ownership.identity().split(".")[0]
    assert where.endswith(f"-{namespace}")
    assert not ownership.is_gone(f"{where.split('-')[0]}-1.4194304.1")
    assert ownership.is_gone(f"{where}.4194304.1")


def test_what_a_killed_pull_left_is_gone_after_the_next_pull(make_store, tmp_path):
    url = make_store("file")
    many = {f"{i:05d}_m.sql": f"-- {i}\n" for i in range(3000)}  # a fsync each: seconds to write
    src = write_dir(tmp_path / "src", many)
    assert cli("push", src, *stores(url)).code == 0
    work = tmp_path / "work"
    work.mkdir()
    proc = cli_process("pull", work / "out", *stores(url))
    deadline = time.monotonic() + 60
    while not list(work.glob(".out.atlas-continuity-tmp-*/*.sql")):
        assert time.monotonic() < deadline and proc.poll() is None, "the pull never got there"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    left = list(work.glob(".out.atlas-continuity-*"))
    assert left, "the pull finished before it was killed"

    assert cli("pull", work / "out", *stores(url)).code == 0
    assert sorted(p.name for p in work.iterdir()) == ["out"]
    assert read_tree(work / "out") == read_tree(src)


# -- what a store serves is not trusted ----------------------------------------------------------


def test_a_manifest_naming_an_unknown_directory_format_is_corrupt_and_the_backup_serves(
    make_store, tmp_path
):
    primary, backup = make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", FILES)
    assert cli("push", src, *stores(backup)).code == 0
    data = b"select 1;\n"
    packed = pack.build([("1.sql", data)])
    registry = Registry(open_store(primary), "app")
    registry.put_pack(sha256_hex(packed), packed)
    evil = Manifest(
        "app",
        "evil",
        (FileEntry("1.sql", sha256_hex(data), len(data)),),
        "h1:x\n",
        PackRef(sha256_hex(packed), len(packed)),
        "2026-01-01T00:00:00Z",
    )
    registry.put_manifest(evil)
    registry.put_tag_event(TagEvent("app", "latest", evil.digest, time.time_ns()))
    pulled = cli("pull", tmp_path / "out", *stores(primary, backup))
    assert pulled.code == 0, pulled.err
    assert "unknown directory format 'evil'" in pulled.err
    assert read_tree(tmp_path / "out") == read_tree(src)


def test_a_tag_event_dated_years_ahead_is_ignored_with_a_warning_naming_the_store(
    make_store, tmp_path
):
    url = make_store("file")
    old = write_dir(tmp_path / "old", {"1_init.sql": FILES["1_init.sql"]})
    old_digest = cli("push", old, *stores(url), "--json").json["digest"][7:]
    new = write_dir(tmp_path / "new", FILES)
    assert cli("push", new, *stores(url)).code == 0
    five_years = 5 * 365 * 24 * 3600 * 10**9
    Registry(open_store(url), "app").put_tag_event(
        TagEvent("app", "latest", old_digest, time.time_ns() + five_years)
    )
    pulled = cli("pull", tmp_path / "out", *stores(url))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(new)
    assert f"{url}: tag 'latest' has an event dated more than 15 minutes ahead" in pulled.err
    history = cli("tags", "--history", *stores(url)).out
    assert "(dated ahead of this machine's clock: ignored)" in history


def test_what_a_store_serves_is_printed_with_its_control_characters_escaped(
    make_store, tmp_path, monkeypatch
):
    url = make_store("file")
    monkeypatch.setenv("GITHUB_SHA", "\x1b]0;pwned\x07\nlatest\tsha256:forged")
    assert cli("push", write_dir(tmp_path / "src", FILES), *stores(url)).code == 0
    for command in (["tags"], ["tags", "--history"], ["show"]):
        out = cli(*command, *stores(url)).out
        assert "\x1b" not in out and "\x07" not in out
        assert "\\x1b]0;pwned\\x07\\x0al" in out  # tags shows the commit's first 12
        assert not any(line.startswith("latest\tsha256:forged") for line in out.splitlines())


def test_a_rotted_copy_a_push_would_reuse_is_reported_not_counted(make_store, tmp_path):
    primary, backup = make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", FILES)
    digest = cli("push", src, *stores(primary, backup), "--json").json["digest"][7:]
    manifest = Registry(open_store(backup), "app").get_manifest(digest)
    rotted = Path(backup.removeprefix("file://")) / layout.pack_key("app", manifest.pack.sha256)
    rotted.chmod(0o600)
    rotted.write_bytes(b"rot")

    again = cli("push", src, *stores(primary, backup), "--json")
    assert again.code == 0, again.err
    assert again.json["status"] == "degraded"
    assert [s["status"] for s in again.json["stores"]] == ["ok", "failed"]
    assert "has rotted" in again.json["stores"][1]["error"]


# -- input a careless user gives ------------------------------------------------------------------


def test_an_atlas_hcl_nested_five_thousand_deep_is_bad_input(tmp_path):
    hcl = tmp_path / "atlas.hcl"
    hcl.write_text('env "prod" {\n' + "a {\n" * 5000 + "}\n" * 5000 + "}\n")
    r = cli("pull", tmp_path / "out", "--config", f"file://{hcl}", "--env", "prod")
    assert r.code == ExitCode.BAD_INPUT
    assert "nested more than 64 deep" in r.err


@pytest.mark.parametrize("command", ["push", "pull"])
def test_a_memory_store_is_refused_where_a_user_names_a_store(command, tmp_path):
    src = write_dir(tmp_path / "src", FILES)
    target = src if command == "push" else tmp_path / "out"
    r = cli(command, target, "--repo", "app", "--primary", "mem://bucket/atlas")
    assert r.code == ExitCode.BAD_INPUT
    assert "unknown store URL scheme 'mem://'" in r.err
