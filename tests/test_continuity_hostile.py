"""verify, sync and drill against stores that hold what no push writes: rot under a version,
a tag that points at nothing, garbage keys, a store that cannot be listed. Each exits with
the code its help documents and says why."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from atlas_continuity.runtime import layout
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.manifest import TagEvent
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store

from .helpers import cli, stores, write_dir

V1 = {"1_init.sql": "CREATE TABLE t (id int);\n"}
V2 = {**V1, "2_more.sql": "ALTER TABLE t ADD c int;\n"}
V3 = {**V2, "3_most.sql": "ALTER TABLE t ADD d int;\n"}


@pytest.fixture
def store(tmp_path):
    """``store(name)``: the URL of an empty local store."""

    def make(name: str) -> str:
        (tmp_path / name).mkdir()
        return (tmp_path / name).as_uri()

    return make


def path_of(url: str, key: str) -> Path:
    return Path(url.removeprefix("file://")) / key


def push(tmp_path: Path, files: dict[str, str], *urls: str) -> str:
    pushed = cli("push", write_dir(tmp_path / "src", files), *stores(*urls), "--json")
    assert pushed.code == 0, pushed.err
    return pushed.json["digest"][7:]


def pack_of(url: str, digest: str) -> Path:
    manifest = Registry(open_store(url), "app").get_manifest(digest)
    return path_of(url, layout.pack_key("app", manifest.pack.sha256))


def rot(path: Path, data: bytes | None = None) -> None:
    path.chmod(0o600)
    path.write_bytes(path.read_bytes()[:20] if data is None else data)


def move_tag(url: str, digest: str, tag: str = "latest", *, ahead_s: int = 0) -> str:
    event = TagEvent("app", tag, digest, time.time_ns() + ahead_s * 10**9)
    return Registry(open_store(url), "app").put_tag_event(event)


def test_sync_does_not_build_on_a_corrupt_pack_the_store_already_holds(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    v2 = push(tmp_path, V2, a)
    # b holds v2's pack, rotted, and not yet its manifest or tag move.
    pack = pack_of(a, v2)
    held = path_of(b, pack.relative_to(Path(a.removeprefix("file://"))).as_posix())
    held.parent.mkdir(parents=True, exist_ok=True)
    held.write_bytes(pack.read_bytes()[:20])

    synced = cli("sync", *stores(a, b))
    assert synced.code == ExitCode.INTEGRITY, synced.err
    assert "pack is corrupt" in synced.err and "nothing is written on top of it" in synced.err
    assert not path_of(b, layout.manifest_key("app", v2)).exists()
    pulled = cli("pull", tmp_path / "out", *stores(b), "--json")
    assert pulled.code == 0 and pulled.json["digest"][7:] != v2  # b still serves v1, whole


def test_sync_exits_the_same_whichever_store_holds_the_corrupt_copy_first(store, tmp_path):
    a, b, c = store("a"), store("b"), store("c")
    v1 = push(tmp_path, V1, a, b)
    rot(path_of(b, layout.manifest_key("app", v1)), b"not json")
    for order in ((a, b, c), (b, a, c)):
        synced = cli("sync", *stores(*order))
        assert synced.code == 0, (order, synced.err)
    assert cli("verify", *stores(a, c)).code == 0
    assert cli("verify", *stores(a, b, c)).code == ExitCode.INTEGRITY


def test_a_corrupt_newest_tag_move_is_corrupt_in_verify_and_drill(store, tmp_path):
    a, b = store("a"), store("b")
    v1 = push(tmp_path, V1, a, b)
    key = move_tag(b, v1)
    rot(path_of(b, key), b"garbage")

    verified = cli("verify", *stores(a, b), "--json", "-q")
    assert verified.code == ExitCode.INTEGRITY, verified.out
    assert [r["cells"] for r in verified.json["rows"] if r["kind"] == "tag"] == [
        {a: "ok", b: "corrupt"}
    ]
    drilled = cli("drill", *stores(a, b), "--json")
    assert drilled.code == ExitCode.INTEGRITY
    lags = {s["url"]: (s["restores"], s["problem"], s["lag"]) for s in drilled.json["stores"]}
    assert lags == {a: (True, None, 0), b: (False, "corrupt", 0)}  # garbage is no newer move


def test_a_tag_that_points_at_a_version_no_store_holds_is_lost(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    move_tag(a, "f" * 64)

    verified = cli("verify", *stores(a, b), "--json")
    assert verified.code == ExitCode.INTEGRITY
    assert any("is whole on no store: it is lost" in p for p in verified.json["problems"])
    synced = cli("sync", *stores(a, b))
    assert synced.code == ExitCode.INTEGRITY and "which no store holds intact" in synced.err
    drilled = cli("drill", *stores(a, b))
    assert drilled.code == ExitCode.INTEGRITY and "it is lost" in drilled.err


def lose_the_pack(store, tmp_path) -> tuple[list[str], str]:
    """Two stores, one holding the latest version's manifest and tag move but not its pack
    (a lifecycle rule or a hand removed it), the other nothing: their URLs, and the digest."""
    a, b = store("a"), store("b")
    digest = push(tmp_path, V1, a)
    pack_of(a, digest).unlink()
    return [a, b], digest


def test_verify_calls_a_version_whose_pack_is_on_no_store_lost_not_a_gap(store, tmp_path):
    urls, digest = lose_the_pack(store, tmp_path)
    verified = cli("verify", *stores(*urls), "--json")
    assert verified.code == ExitCode.INTEGRITY, verified.out
    assert any(f"sha256:{digest} is whole on no store" in p for p in verified.json["problems"])


def test_sync_says_it_cannot_close_the_gap_of_a_pack_on_no_store(store, tmp_path):
    urls, digest = lose_the_pack(store, tmp_path)
    synced = cli("sync", *stores(*urls), "--json")
    assert synced.code == ExitCode.INTEGRITY, synced.out
    assert synced.json["problems"] == [
        f"version sha256:{digest}: its pack is on no store; the version is lost (restore the "
        "pack from the buckets' versioning)"
    ]


def test_drill_lists_a_version_whose_pack_is_on_no_store_as_lost(store, tmp_path):
    urls, digest = lose_the_pack(store, tmp_path)
    drilled = cli("drill", *stores(*urls), "--json")
    assert drilled.code == ExitCode.INTEGRITY, drilled.out
    assert drilled.json["lost"] == [f"sha256:{digest}"]


def test_nothing_to_verify_or_drill_is_not_found(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    typo = cli("verify", *stores(a, b, repo="apptypo"))
    assert typo.code == ExitCode.NOT_FOUND and "nothing on any store" in typo.err
    assert cli("verify", *stores(a, b), "--tag", "nope").code == ExitCode.NOT_FOUND
    assert cli("verify", *stores(a, b), "--tag", "bad name").code == ExitCode.BAD_INPUT
    assert cli("drill", *stores(a, b), "--tag", "nope").code == ExitCode.NOT_FOUND
    assert cli("drill", *stores(store("empty"))).code == ExitCode.NOT_FOUND


def test_keys_the_layout_does_not_name_are_warnings_not_gaps(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    stray = path_of(a, layout.tags_prefix("app", "latest") + "sub/y")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"x")
    verified = cli("verify", *stores(a, b), "--json")
    assert verified.code == 0, verified.out
    assert verified.json["warnings"] and "not an object of the layout" in verified.err
    assert cli("sync", *stores(a, b)).code == 0


def test_verify_all_reads_packs_no_manifest_names(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    orphan = path_of(a, layout.pack_key("app", "0" * 64))  # as a killed push may leave one
    orphan.write_bytes(b"whatever was written")
    verified = cli("verify", *stores(a, b), "--all", "--json")
    assert verified.code == ExitCode.INTEGRITY  # the bytes do not hash to their name
    (row,) = [r for r in verified.json["rows"] if r["kind"] == "pack"]
    assert row["cells"] == {a: "corrupt", b: "-"}


def test_drill_fails_on_a_corrupt_grant_and_on_none_at_all(store, tmp_path, monkeypatch):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    assert cli("drill", *stores(a, b), "--grant", "ci").code == ExitCode.NOT_FOUND
    (tmp_path / "home" / ".atlas").mkdir(parents=True)
    (tmp_path / "home" / ".atlas" / "grant.json").write_text("{}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli("grant", "save", "--store", a, "--name", "ci").code == 0

    kept_on_a = cli("drill", *stores(a, b), "--grant", "ci", "--json")
    assert kept_on_a.code == 0, kept_on_a.err  # b lacks it: listed, not failed
    grants = [s["grant"]["problem"] for s in kept_on_a.json["stores"]]
    assert grants == [None, "missing"]

    assert cli("sync", *stores(a, b), "--grants").code == 0
    (snapshot,) = Path(b.removeprefix("file://"), layout.GRANTS).rglob("*.json")
    rot(snapshot)
    rotten = cli("drill", *stores(a, b), "--grant", "ci", "--json")
    assert rotten.code == ExitCode.INTEGRITY
    assert rotten.json["stores"][1]["grant"]["problem"] == "corrupt"


def test_drill_says_why_a_store_could_not_be_listed(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    tags = path_of(b, layout.tags_prefix("app"))
    shutil.rmtree(tags)
    tags.write_bytes(b"a file where a folder should be")
    drilled = cli("drill", *stores(a, b), "--json")
    (listed,) = [s for s in drilled.json["stores"] if s["url"] == b]
    assert listed["restores"] is False and "skipped" not in listed["error"], listed


def test_sync_steps_around_a_move_dated_ahead_and_names_its_store(store, tmp_path):
    a, b = store("a"), store("b")
    v1 = push(tmp_path, V1, a, b)
    move_tag(a, v1, ahead_s=3600)
    synced = cli("sync", *stores(a, b))
    assert synced.code == 0, synced.err
    assert f"(on {a}): dated ahead of this machine's clock" in synced.err
    assert cli("verify", *stores(a, b)).code == ExitCode.GAPS


def test_verify_tag_judges_that_tag_alone(store, tmp_path):
    a, b = store("a"), store("b")
    v1 = push(tmp_path, V1, a, b)
    move_tag(a, v1, "other", ahead_s=3600)  # another tag's trouble is not this tag's
    verified = cli("verify", *stores(a, b), "--tag", "latest", "--json")
    assert verified.code == 0, verified.err
    assert verified.json["status"] == "ok" and verified.json["problems"] == []


def test_a_listed_key_that_looks_like_a_secret_keeps_json_valid(store, tmp_path):
    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    path_of(a, layout.tags_prefix("app", "latest") + 'x token=s"y.json').write_bytes(b"x")
    verified = cli("verify", *stores(a, b), "--json")
    assert verified.code == 0
    (warning,) = verified.json["warnings"]  # parses: the redaction left the JSON whole
    assert "token=REDACTED" in warning


def test_verify_names_a_grant_snapshot_dated_ahead_as_the_gap_sync_leaves(store, tmp_path):
    from atlas_continuity.runtime import grants

    a, b = store("a"), store("b")
    push(tmp_path, V1, a, b)
    files = (grants.GrantFile("grant.json", b"{}", 0),)
    ahead = grants.Snapshot("ci", grants.STATE_LAYOUT, files, time.time_ns() + 3600 * 10**9)
    (saved,) = grants.save(ahead, [grants.Cache(a, open_store(a))])
    assert cli("sync", *stores(a, b), "--grants").code == 0  # not copied: a warning
    verified = cli("verify", *stores(a, b), "--grants", "--json")
    assert verified.code == ExitCode.GAPS
    assert any(saved.key in p and "dated ahead" in p for p in verified.json["problems"])
