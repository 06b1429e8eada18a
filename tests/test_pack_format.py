"""Storage format 2: a version is a manifest and one pack, read in a constant number of requests
per store, verified byte for byte, and refused whole when hostile."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import pytest

from atlas_continuity.runtime import layout, pack
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.manifest import (
    FileEntry,
    Manifest,
    PackRef,
    TagEvent,
    canonical_json,
    sha256_hex,
)
from atlas_continuity.runtime.registry import Registry
from atlas_continuity.runtime.stores import open_store
from devtools.measure import counted

from .helpers import cli, read_tree, stores, write_dir


def many_files(count: int) -> dict[str, str]:
    return {
        f"{20240101000000 + i}_m.sql": f"-- migration {i}\nCREATE TABLE t{i} (id bigint);\n"
        for i in range(count)
    }


@pytest.mark.parametrize("count", [10, 2000])
def test_a_pull_costs_four_requests_per_store_whatever_the_size(count, make_store, tmp_path):
    url = make_store("s3")
    src = write_dir(tmp_path / "src", many_files(count))
    assert cli("push", src, *stores(url)).code == 0

    from atlas_continuity.runtime.pull import pull
    from atlas_continuity.runtime.targets import Target

    store = open_store(url)
    counting = counted(store)
    pull([Target("primary", store)], "app", tmp_path / "out")
    assert read_tree(tmp_path / "out") == read_tree(src)
    assert counting.calls == {"list": 1, "get": 3}  # tag event, manifest, pack


def test_a_push_writes_three_objects_per_store(make_store, tmp_path):
    urls = [make_store("file"), make_store("gcs")]
    src = write_dir(tmp_path / "src", many_files(2000))
    pushed = cli("push", src, *stores(*urls), "--json")
    assert pushed.code == 0, pushed.err
    assert [s["objects_written"] for s in pushed.json["stores"]] == [3, 3]
    again = cli("push", src, *stores(*urls), "--json")
    assert [s["objects_written"] for s in again.json["stores"]] == [0, 0]
    assert again.json["digest"] == pushed.json["digest"]


def test_a_missing_pack_on_the_primary_is_served_from_the_next_store(make_store, tmp_path):
    primary, backup = make_store("file"), make_store("file")
    src = write_dir(tmp_path / "src", many_files(3))
    digest = cli("push", src, *stores(primary, backup), "--json").json["digest"][7:]
    manifest = Registry(open_store(primary), "app").get_manifest(digest)
    (Path(primary.removeprefix("file://")) / layout.pack_key("app", manifest.pack.sha256)).unlink()

    pulled = cli("pull", tmp_path / "out", *stores(primary, backup), "--json")
    assert pulled.code == 0, pulled.err
    assert (pulled.json["manifest_from"], pulled.json["files_from"]) == (primary, backup)
    assert read_tree(tmp_path / "out") == read_tree(src)


# -- hostile versions: refused whole, nothing written -------------------------------------------


def plant(url: str, entries: list[FileEntry], packed: bytes, pack_size: int | None = None) -> None:
    """A version whose every hash is right, as a writer with access to the store could make."""
    registry = Registry(open_store(url), "app")
    registry.put_pack(sha256_hex(packed), packed)
    manifest = Manifest(
        "app",
        "atlas",
        tuple(entries),
        "h1:x\n",
        PackRef(sha256_hex(packed), len(packed) if pack_size is None else pack_size),
        "2026-01-01T00:00:00Z",
    )
    registry.put_manifest(manifest)
    registry.put_tag_event(TagEvent("app", "latest", manifest.digest, time.time_ns()))


def entry(name: str, data: bytes) -> FileEntry:
    return FileEntry(name, sha256_hex(data), len(data))


def pull_refused(url: str, tmp_path: Path, match: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    r = cli("pull", work / "out", *stores(url))
    assert r.code == ExitCode.INTEGRITY, r.err
    assert match in r.err
    assert list(work.iterdir()) == []  # nothing written, not even a temporary folder


def test_a_duplicate_name_is_refused(make_store, tmp_path):
    url = make_store("file")
    data = b"select 1;\n"
    plant(url, [entry("1.sql", data), entry("1.sql", data)], pack.build([("1", data)] * 2))
    pull_refused(url, tmp_path, "lists '1.sql' twice")


def test_bytes_no_manifest_entry_names_are_refused(make_store, tmp_path):
    url = make_store("file")
    data = b"select 1;\n"
    plant(url, [entry("1.sql", data)], pack.build([("1.sql", data), ("extra.sql", b"drop;")]))
    pull_refused(url, tmp_path, "bytes no manifest entry accounts for")


def test_a_pack_claiming_ten_gigabytes_is_refused_unread(make_store, tmp_path):
    url = make_store("file")
    data = b"select 1;\n"
    huge = FileEntry("1.sql", sha256_hex(data), 10 * 1024**3)
    plant(url, [huge], pack.build([("1.sql", data)]))
    started = time.monotonic()
    pull_refused(url, tmp_path, "more than the 536870912 a version may hold")
    assert time.monotonic() - started < 2


def test_a_decompression_bomb_stops_one_byte_past_what_the_manifest_claims(make_store, tmp_path):
    url = make_store("file")
    data = b"select 1;\n"
    bomb = zlib.compress(data + b"\0" * (256 * 1024 * 1024), 9)  # 256 MiB from ~250 KiB
    plant(url, [entry("1.sql", data)], bomb)
    started = time.monotonic()
    pull_refused(url, tmp_path, "bytes no manifest entry accounts for")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("tar-with-a-symlink", "the pack is not valid zlib"),
        ("not-compressed", "the pack is not valid zlib"),
        ("truncated", "the pack is cut short"),
    ],
)
def test_an_archive_that_is_not_a_pack_is_refused(kind, message, make_store, tmp_path):
    """A pack has no names, types or links: an archive that carries them (a tar with a symlink
    to /etc/passwd, say) is not a pack, whatever its manifest lists, and restores nothing."""
    import io
    import tarfile

    url = make_store("file")
    data = b"select 1;\n"
    if kind == "tar-with-a-symlink":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            link = tarfile.TarInfo("1.sql")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
        packed = buffer.getvalue()
    elif kind == "not-compressed":
        packed = data
    else:
        packed = pack.build([("1.sql", data)])[:-4]
    plant(url, [entry("1.sql", data)], packed)
    pull_refused(url, tmp_path, message)
    assert not (tmp_path / "work" / "out").is_symlink()


def test_a_pack_larger_than_its_manifest_says_is_refused_unread(make_store, tmp_path):
    url = make_store("file")
    data = b"select 1;\n"
    plant(url, [entry("1.sql", data)], pack.build([("1.sql", data)]), pack_size=4)
    pull_refused(url, tmp_path, "refused unread")


@pytest.mark.parametrize(
    ("version", "advice"),
    [(1, "written by an older atlas-continuity: push the directory again"), (3, "upgrade")],
)
def test_a_manifest_of_another_format_is_refused_with_what_to_do(
    version, advice, make_store, tmp_path
):
    url = make_store("file")
    body = canonical_json({"format": version, "kind": "manifest", "repo": "app"})
    digest = sha256_hex(body)
    store = open_store(url)
    store.put(layout.manifest_key("app", digest), body)
    Registry(store, "app").put_tag_event(TagEvent("app", "latest", digest, time.time_ns()))
    r = cli("pull", tmp_path / "out", *stores(url))
    assert r.code == ExitCode.INTEGRITY
    assert f"manifest format {version}, and this version reads format 2" in r.err
    assert advice in r.err


def test_packs_compress_sql_to_well_under_half(tmp_path):
    files = sorted(many_files(2000).items())
    raw = sum(len(text) for _, text in files)
    packed = pack.build([(name, text.encode()) for name, text in files])
    assert len(packed) < raw / 2
