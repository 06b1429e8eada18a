"""atlas.sum, checked against the directories of migration_dirs.py: each one's expected sum is
worked out there from Atlas's rule, without the runtime. The real third-party directories are
test_shared_corpus.py's."""

from __future__ import annotations

import hashlib

import pytest

from atlas_continuity.runtime import atlas_sum
from atlas_continuity.runtime.errors import BadInput

from .migration_dirs import CASES, STALE, VALID, Case, b64, crlf, expected_sum, opts_out


@pytest.mark.parametrize("name", VALID)
def test_valid_directory_verifies_and_the_runtime_writes_the_same_sum(name, migration_dir):
    case = CASES[name]
    mdir = atlas_sum.read_dir(migration_dir(name), case.dir_format)
    assert mdir.files == case.files  # every regular file is kept, summed or not
    assert mdir.sum_text == case.sum_text
    assert atlas_sum.compute_sum(mdir.files, case.dir_format).to_text() == case.sum_text


@pytest.mark.parametrize("name", STALE)
def test_stale_sum_is_refused_naming_the_cause(name, migration_dir):
    case = CASES[name]
    with pytest.raises(BadInput, match=r"atlas\.sum is stale") as caught:
        atlas_sum.read_dir(migration_dir(name), case.dir_format)
    assert caught.match(case.stale)
    assert "run 'atlas migrate hash'" in str(caught.value)


def test_an_empty_sum_is_the_digest_of_nothing():
    """A check of the reference itself: SHA-256 of no bytes is a published constant."""
    assert expected_sum({}) == "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert atlas_sum.compute_sum({}, "atlas").to_text() == expected_sum({})


def test_one_file_hashes_its_name_then_its_bytes():
    running = b64(hashlib.sha256(b"1_a.sqlselect 1;\n").digest())
    total = b64(hashlib.sha256(f"1_a.sql{running}".encode()).digest())
    expected = f"h1:{total}\n1_a.sql h1:{running}\n"
    assert expected_sum({"1_a.sql": b"select 1;\n"}) == expected
    assert atlas_sum.compute_sum({"1_a.sql": b"select 1;\n"}, "atlas").to_text() == expected


def test_names_sort_by_their_utf8_bytes(migration_dir):
    mdir = atlas_sum.read_dir(migration_dir("non-ascii"), "atlas")
    listed = [line.split(" h1:")[0] for line in mdir.sum_text.splitlines()[1:]]
    assert listed == [
        "1_init.sql",
        "2_Zebra.sql",
        "2_apple.sql",
        "3_caff.sql",
        "3_café.sql",
        "4_\uff5a.sql",
        "4_\U0001f600.sql",
    ]


def test_sum_ignore_drops_the_line_and_the_bytes_but_not_the_name(migration_dir):
    src = migration_dir("sum-ignore")
    listed = [line.split(" h1:")[0] for line in (src / "atlas.sum").read_text().splitlines()[1:]]
    assert listed == ["1_init.sql", "4_late.sql", "5_tab.sql", "6_last.sql"]
    (src / "2_seed.sql").write_bytes(b"-- atlas:sum ignore\nINSERT INTO t VALUES (42);\n")
    atlas_sum.read_dir(src, "atlas")  # an ignored file may change freely
    (src / "2_seed.sql").rename(src / "2_seeds.sql")
    with pytest.raises(BadInput, match="stale"):  # but its name is in the running hash
        atlas_sum.read_dir(src, "atlas")


@pytest.mark.parametrize(
    ("head", "ignored"),
    [
        (b"-- atlas:sum ignore\n", True),
        (b"atlas:sum ignore\n", True),
        (b"# atlas:sum ignore\n", True),
        (b"-- atlas:sum   ignore\n", True),
        (b"-- atlas:sum ignore\r\n", True),  # a CR ends the directive like a newline
        (b"-- atlas:txmode none atlas:sum ignore\n", True),  # the last directive counts
        (b"-- atlas:sum ignore atlas:txmode none\n", False),
        (b"-- atlas:sum ignore \n", False),
        (b"-- atlas:sum ignored\n", False),
        (b"-- atlas:summary ignore\n", False),
        (b"-- atlas:sum\n", False),
        (b"--\tatlas:sum ignore\n", False),
        (b"\n-- atlas:sum ignore\n", False),
        ("-- é atlas:sum ignore\n".encode(), False),
    ],
)
def test_sum_ignore_directive_is_read_as_atlas_reads_it(head, ignored):
    content = head + b"SELECT 1;\n"
    assert opts_out(content) is ignored
    assert atlas_sum.ignores_sum(content) is ignored


def test_golang_migrate_sums_only_up_files_and_keeps_the_down_files(migration_dir):
    src = migration_dir("golang-migrate")
    mdir = atlas_sum.read_dir(src, "golang-migrate")
    assert sum(n.endswith(".down.sql") for n in mdir.files) == 3  # stored, though not summed
    assert ".down.sql" not in mdir.sum_text
    with pytest.raises(BadInput, match=r"stale: .*not in the sum: 000001_init\.down\.sql"):
        atlas_sum.read_dir(src, "atlas")


def test_goose_directory_verifies_under_goose_and_atlas(migration_dir):
    src = migration_dir("goose")
    assert atlas_sum.read_dir(src, "goose").sum_text == atlas_sum.read_dir(src, "atlas").sum_text


def test_line_endings_are_hashed_as_they_are(migration_dir, tmp_path):
    lf = CASES["directives"].files
    converted = Case(crlf(lf), summed_over=lf).write(tmp_path / "converted")
    with pytest.raises(BadInput, match="stale"):  # an autocrlf checkout of an LF directory
        atlas_sum.read_dir(converted, "atlas")
    atlas_sum.read_dir(migration_dir("crlf"), "atlas")  # CRLF hashed as CRLF: valid


def test_subdirectories_are_refused_not_skipped(migration_dir):
    src = migration_dir("directives")
    (src / "seeds").mkdir()
    (src / "seeds" / "1_users.sql").write_text("INSERT INTO users VALUES (1);\n")
    with pytest.raises(BadInput, match="migration directories are flat"):
        atlas_sum.read_dir(src, "atlas")


def test_missing_sum_and_bad_paths(tmp_path):
    (tmp_path / "1.sql").write_text("select 1;")
    with pytest.raises(BadInput, match=r"no atlas\.sum"):
        atlas_sum.read_dir(tmp_path, "atlas")
    with pytest.raises(BadInput, match="no such directory"):
        atlas_sum.read_dir(tmp_path / "missing", "atlas")
    with pytest.raises(BadInput, match="unknown migration directory format"):
        atlas_sum.read_dir(tmp_path, "sqitch")


def test_malformed_sum_file(tmp_path):
    (tmp_path / "1.sql").write_text("select 1;")
    (tmp_path / "atlas.sum").write_text("not a sum\n")
    with pytest.raises(BadInput, match="malformed"):
        atlas_sum.read_dir(tmp_path, "atlas")


def test_sum_whose_first_line_disagrees_with_its_lines_is_rejected(migration_dir):
    src = migration_dir("directives")
    first, *rest = (src / "atlas.sum").read_text().splitlines(keepends=True)
    (src / "atlas.sum").write_text(first + "".join(r.replace("h1:", "h1:X") for r in rest))
    with pytest.raises(BadInput, match="malformed"):
        atlas_sum.read_dir(src, "atlas")
