"""verify, sync and drill: the operations a continuity plan is audited on."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from atlas_continuity.runtime import drill, layout, ownership
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.progress import progress
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store
from devtools.faultproxy import FaultProxy, reset, status

from .conftest import create_bucket, unique_bucket
from .helpers import cli, cli_process, read_tree, store_url_at, stores, write_dir

BASE = {"1_init.sql": "CREATE TABLE t (id int);\n"}


def grow(src: Path, n: int) -> Path:
    """The next version: one migration more."""
    files = {p.name: p.read_text() for p in src.glob("*.sql")}
    return write_dir(src, {**files, f"{n}_m.sql": f"ALTER TABLE t ADD c{n} int;\n"})


def cells(report: dict, kind: str) -> list[dict[str, str]]:
    return [row["cells"] for row in report["rows"] if row["kind"] == kind]


def test_a_push_made_while_the_primary_was_down_is_a_gap_sync_closes(
    emulators, make_store, monkeypatch, tmp_path
):
    bucket = unique_bucket()
    create_bucket("s3", emulators, bucket)
    backups = [make_store("gcs"), make_store("azure")]
    src = write_dir(tmp_path / "src", BASE)
    with FaultProxy(emulators["s3"].endpoint) as proxy:
        primary = store_url_at("s3", proxy.endpoint, monkeypatch, bucket, "atlas")
        urls = [primary, *backups]
        assert cli("push", src, *stores(*urls)).code == 0
        proxy.inject(reset())  # the primary is down for the next push
        pushed = cli("push", grow(src, 2), *stores(*urls), "--json")
        assert pushed.code == 0 and pushed.json["status"] == "degraded"
        proxy.clear()

        before = cli("verify", *stores(*urls), "--json")
        assert before.code == ExitCode.GAPS, before.err
        assert before.json["status"] == "gaps"
        (tag,) = cells(before.json, "tag")
        assert tag == {primary: "behind", backups[0]: "ok", backups[1]: "ok"}
        new = f"sha256:{pushed.json['digest'][7:]}"
        (version,) = [r["cells"] for r in before.json["rows"] if r["name"] == new]
        assert version[primary] == "missing"

        synced = cli("sync", *stores(*urls), "--json")
        assert synced.code == 0, synced.err
        copied = {s["url"]: s["copied"] for s in synced.json["stores"]}
        assert copied == {
            primary: {"pack": 1, "manifest": 1, "tag": 1},
            **{url: {} for url in backups},
        }
        after = cli("verify", *stores(*urls), "--all", "--json")
        assert after.code == 0 and after.json["status"] == "ok", after.out
        pulled = cli("pull", tmp_path / "out", *stores(primary))
        assert pulled.code == 0 and read_tree(tmp_path / "out") == read_tree(src)


@contextmanager
def listed_but_unreadable(emulators, make_store, monkeypatch, tmp_path) -> Iterator[list[str]]:
    """An S3 store holding a version that lists it but answers 503 to every read of an
    object (an outage starting mid-run), and an empty store: their URLs."""
    bucket = unique_bucket()
    create_bucket("s3", emulators, bucket)
    with FaultProxy(emulators["s3"].endpoint) as proxy:
        down = store_url_at("s3", proxy.endpoint, monkeypatch, bucket, "atlas")
        assert cli("push", write_dir(tmp_path / "src", BASE), *stores(down)).code == 0
        proxy.inject(status(503), where=r"^GET /[^?]*/atlas-continuity/")
        yield [down, make_store("file")]


def test_verify_calls_a_tag_it_cannot_read_unavailable_not_absent(
    emulators, make_store, monkeypatch, tmp_path
):
    with listed_but_unreadable(emulators, make_store, monkeypatch, tmp_path) as urls:
        verified = cli("verify", *stores(*urls), "--attempts", "1", "--json")
    assert verified.code == ExitCode.UNAVAILABLE, verified.err
    assert cells(verified.json, "tag") == [{urls[0]: "unavailable", urls[1]: "missing"}]


def test_sync_from_a_store_that_cannot_serve_is_unavailable_not_corruption(
    emulators, make_store, monkeypatch, tmp_path
):
    with listed_but_unreadable(emulators, make_store, monkeypatch, tmp_path) as urls:
        synced = cli("sync", *stores(*urls), "--attempts", "1", "--json")
    assert synced.code == ExitCode.UNAVAILABLE, synced.err
    assert synced.json["problems"] == [] and "no store holds it intact" not in synced.err
    assert synced.json["stores"][0]["error"] and synced.json["stores"][1]["copied"] == {}


def test_drill_does_not_guess_the_lag_of_a_store_it_cannot_read(
    emulators, make_store, monkeypatch, tmp_path
):
    with listed_but_unreadable(emulators, make_store, monkeypatch, tmp_path) as urls:
        drilled = cli("drill", *stores(*urls), "--attempts", "1", "--json")
    assert drilled.code == ExitCode.UNAVAILABLE, drilled.err
    down = drilled.json["stores"][0]
    assert (down["restores"], down["problem"], down["lag"]) == (False, "unavailable", None)
    assert "503" in down["error"], down  # the reason, not "skipped: unavailable earlier"


def test_sync_is_no_alarm_when_a_push_lands_between_pages_of_its_listing(
    make_store, monkeypatch, tmp_path
):
    from atlas_continuity.runtime import sync as sync_module

    a, b = make_store("file"), make_store("file")
    assert cli("push", write_dir(tmp_path / "src", BASE), *stores(a)).code == 0
    listed = sync_module.list_entries

    def paged_before_the_push(store, repo, grants):  # pages in key order: tags/ comes last
        entries, unexpected = listed(store, repo, grants)
        return {k: e for k, e in entries.items() if e.kind == "tag"}, unexpected

    monkeypatch.setattr(sync_module, "list_entries", paged_before_the_push)
    raced = cli("sync", *stores(a, b))
    assert raced.code == 0, raced.err
    monkeypatch.undo()
    assert cli("sync", *stores(a, b)).code == 0
    assert cli("verify", *stores(a, b), "--all").code == 0


def test_sync_killed_anywhere_leaves_nothing_corrupt_and_a_rerun_completes(make_store, tmp_path):
    primary, backup = make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", BASE)
    assert cli("push", src, *stores(primary, backup)).code == 0
    for n in range(2, 22):  # twenty versions the primary missed
        assert cli("push", grow(src, n), *stores(backup)).code == 0
    rng = random.Random(14)
    for trial in range(10):
        proc = cli_process("sync", *stores(primary, backup))
        time.sleep(rng.uniform(0.1, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        verified = cli("verify", *stores(primary, backup), "--all", "--json")
        assert verified.code in (ExitCode.OK, ExitCode.GAPS), (trial, verified.out)
        assert "corrupt" not in json.dumps(verified.json["rows"]), trial
    assert cli("sync", *stores(primary, backup)).code == 0
    assert cli("verify", *stores(primary, backup), "--all").code == 0
    assert cli("pull", tmp_path / "out", *stores(primary)).code == 0
    assert read_tree(tmp_path / "out") == read_tree(src)


def test_drill_reports_a_lagging_store_and_a_corrupt_one_exactly(make_store, tmp_path, monkeypatch):
    fresh, lagging, rotten = make_store("file"), make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", BASE)
    assert cli("push", src, *stores(fresh, lagging, rotten)).code == 0
    for n in (2, 3):  # the lagging store misses the last two versions
        assert cli("push", grow(src, n), *stores(fresh, rotten)).code == 0
    digest = cli("show", *stores(fresh), "--json").json["digest"][7:]
    manifest = Registry(open_store(rotten), "app").get_manifest(digest)
    pack = Path(rotten.removeprefix("file://")) / layout.pack_key("app", manifest.pack.sha256)
    pack.chmod(0o600)
    pack.write_bytes(b"rot" + pack.read_bytes()[3:])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    r = cli("drill", *stores(fresh, lagging, rotten), "--json")
    assert r.code == ExitCode.INTEGRITY, r.err
    report = {s["url"]: s for s in r.json["stores"]}
    assert (report[fresh]["restores"], report[fresh]["lag"]) == (True, 0)
    assert report[fresh]["rto_seconds"] is not None
    assert (report[lagging]["restores"], report[lagging]["lag"]) == (True, 2)
    assert (report[rotten]["restores"], report[rotten]["lag"]) == (False, 0)
    assert report[rotten]["problem"] == "corrupt" and "corrupt" in report[rotten]["error"]
    table = summary.read_text()
    assert "| store | restores | versions behind | restore time |\n" in table
    assert f"| {fresh} | yes | 0 |" in table
    assert f"| {lagging} | yes | **2** |" in table
    assert f"| {rotten} | **no** (corrupt): " in table and "FAILED" in table
    assert f"drill failed: integrity ({lagging} behind; {rotten} corrupt)" in r.err


def test_drill_with_every_store_current_passes_and_restores_the_grant(
    make_store, tmp_path, monkeypatch
):
    urls = [make_store("file"), make_store("file")]
    assert cli("push", write_dir(tmp_path / "src", BASE), *stores(*urls)).code == 0
    (tmp_path / "home" / ".atlas").mkdir(parents=True)
    (tmp_path / "home" / ".atlas" / "grant.json").write_text("{}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    saved = cli("grant", "save", "--store", urls[0], "--store", urls[1])
    assert saved.code == 0, saved.err
    r = cli("drill", *stores(*urls), "--grant", "default", "--json")
    assert r.code == 0, r.err
    assert [(s["restores"], s["lag"], s["grant"]["restores"]) for s in r.json["stores"]] == [
        (True, 0, True)
    ] * 2


def test_what_a_killed_drill_left_in_the_temporary_folder_goes_at_the_next_drill(
    make_store, tmp_path, monkeypatch
):
    """A drill killed mid-restore leaves a restored grant (a license credential) behind."""
    url = make_store("file")
    assert cli("push", write_dir(tmp_path / "src", BASE), *stores(url)).code == 0
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ours = ownership.identity()
    dead = ours.rsplit(".", 2)[0] + ".4194304.1"  # this machine, a pid no process has
    left = scratch / ownership.temp_name(drill.SCRATCH, "tmp").replace(ours, dead)
    (left / ".atlas").mkdir(parents=True)
    (left / ".atlas" / "grant.json").write_text("{}")
    (scratch / f"{left.name}{ownership.MARKER_SUFFIX}").write_text(json.dumps({"owner": dead}))
    assert cli("drill", *stores(url)).code == 0
    assert list(scratch.iterdir()) == []


def test_verify_finds_a_corrupt_copy_and_sync_never_spreads_it(make_store, tmp_path):
    good, bad, empty = make_store("file"), make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", BASE)
    digest = cli("push", src, *stores(good, bad), "--json").json["digest"][7:]
    path = Path(bad.removeprefix("file://")) / layout.manifest_key("app", digest)
    path.chmod(0o600)
    path.write_bytes(path.read_bytes().replace(b'"dir_format"', b'"dir_Format"'))
    verified = cli("verify", *stores(bad, good, empty), "--json")
    assert verified.code == ExitCode.INTEGRITY
    assert any(f"{bad}: manifest" in p and "digest" in p for p in verified.json["problems"])
    synced = cli("sync", *stores(bad, empty, good))  # the corrupt store listed first
    assert synced.code == 0, synced.err  # the gap closed, from the intact copy
    (copied,) = [Path(empty.removeprefix("file://")) / layout.manifest_key("app", digest)]
    assert (
        copied.read_bytes()
        == (Path(good.removeprefix("file://")) / layout.manifest_key("app", digest)).read_bytes()
    )
    assert "not copied from here" in synced.err


@contextmanager
def terminal_stderr() -> Iterator[Callable[[], str]]:
    """stderr on a pseudo-terminal; ``read()`` returns what was drawn on it. Entered in the
    test's body: pytest puts its own capture back on sys.stderr after a fixture's setup."""
    controller, follower = pty.openpty()
    # 24 rows by 80 columns: a pseudo-terminal starts at 0 by 0, too narrow to draw on.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    terminal, saved = os.fdopen(follower, "w"), sys.stderr

    def read() -> str:
        terminal.flush()
        drawn = b""
        while select.select([controller], [], [], 0.1)[0]:
            drawn += os.read(controller, 65536)
        return drawn.decode(errors="replace")

    sys.stderr = terminal
    try:
        assert sys.stderr.isatty()
        yield read
    finally:
        sys.stderr = saved
        terminal.close()
        os.close(controller)


def test_progress_is_drawn_on_a_terminal_for_long_work_only():
    with terminal_stderr() as drawn:
        with progress("syncing", 3, True, unit="store") as tick:
            tick()
        assert drawn() == ""  # quick work: nothing drawn
        with progress("syncing", 3, True, unit="store") as tick:
            time.sleep(1.2)
            tick()
        bar = drawn()
        assert "syncing" in bar and "1/3" in bar
        with progress("syncing", 3, False, unit="store") as tick:  # -q or --json
            time.sleep(1.2)
            tick()
        assert drawn() == ""


def test_no_progress_off_a_terminal(capsys):
    with progress("verifying", None, True) as tick:
        time.sleep(1.2)
        tick()
    assert capsys.readouterr().err == ""
