"""atlas.sum against real migration directories (shared/fixtures/atlas-dirs)."""

from __future__ import annotations

import pytest

from atlas_continuity.runtime import atlas_sum
from atlas_continuity.runtime.errors import BadInput

from .conftest import ATLAS_DIRS

ALL_DIRS = sorted(p.name for p in ATLAS_DIRS.iterdir() if p.is_dir())
STALE = [n for n in ALL_DIRS if n.endswith("__stale")]
GOLANG_MIGRATE = [n for n in ALL_DIRS if n.endswith("__golang-migrate")]
VALID = [n for n in ALL_DIRS if n not in STALE and n not in GOLANG_MIGRATE]
GOOSE = [
    "autokitteh__autokitteh__migrations_sqlite",
    "kalbasit__ncps__migrations_mysql",
    "kalbasit__ncps__migrations_sqlite",
    "ItsNotGoodName__smtpbridge__migrations_sql",
]


def test_fixture_inventory_is_what_sources_md_describes():
    assert len(ALL_DIRS) == 15
    assert (len(VALID), len(STALE), len(GOLANG_MIGRATE)) == (11, 3, 1)


@pytest.mark.parametrize("name", VALID)
def test_valid_directory_verifies_and_recomputes_byte_for_byte(name):
    mdir = atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")
    assert atlas_sum.compute_sum(mdir.files, "atlas").to_text() == mdir.sum_text


@pytest.mark.parametrize("name", GOOSE)
def test_goose_directories_verify_under_the_goose_format(name):
    mdir = atlas_sum.read_dir(ATLAS_DIRS / name, "goose")
    assert atlas_sum.compute_sum(mdir.files, "goose").to_text() == mdir.sum_text


@pytest.mark.parametrize("name", GOLANG_MIGRATE)
def test_golang_migrate_directory_verifies_only_under_its_format(name):
    mdir = atlas_sum.read_dir(ATLAS_DIRS / name, "golang-migrate")
    assert atlas_sum.compute_sum(mdir.files, "golang-migrate").to_text() == mdir.sum_text
    assert any(n.endswith(".down.sql") for n in mdir.files)  # stored, though not summed
    with pytest.raises(BadInput, match="stale"):
        atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")


@pytest.mark.parametrize("name", STALE)
def test_stale_directory_is_reported_stale(name):
    with pytest.raises(BadInput, match=r"atlas\.sum is stale"):
        atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")


def test_stale_report_names_the_cause():
    with pytest.raises(BadInput, match=r"not in the sum: 20260316100000_m4_gateway_indexes\.sql"):
        atlas_sum.read_dir(ATLAS_DIRS / "Kaikei-e__DECREE__db_migrations__stale", "atlas")
    with pytest.raises(
        BadInput, match=r"first changed file: 20231017005257_add_origin_weight\.sql"
    ):
        atlas_sum.read_dir(
            ATLAS_DIRS / "infratographer__load-balancer-api__db_migrations__stale", "atlas"
        )


def test_crlf_conversion_is_detected(tmp_path):
    src = ATLAS_DIRS / "ariga__atlas-examples__cicd_bitbucket_versioned_migrations"
    mdir = atlas_sum.read_dir(src, "atlas")
    for name, data in mdir.files.items():
        (tmp_path / name).write_bytes(data.replace(b"\n", b"\r\n"))
    (tmp_path / "atlas.sum").write_text(mdir.sum_text)
    with pytest.raises(BadInput, match="stale"):
        atlas_sum.read_dir(tmp_path, "atlas")


def test_sum_ignore_directive_skips_the_bytes_but_not_the_name():
    plain = [("1.sql", b"create table a(id int);\n"), ("2.sql", b"select 1;\n")]
    ignored = [plain[0], ("2.sql", b"-- atlas:sum ignore\nselect 2;\n")]
    ignored_other = [plain[0], ("2.sql", b"-- atlas:sum ignore\nselect 3;\n")]
    a, b, c = (atlas_sum.SumFile.compute(x) for x in (plain, ignored, ignored_other))
    assert [n for n, _ in b.entries] == ["1.sql"]  # an ignored file gets no line
    assert b.sum == c.sum != a.sum  # its bytes do not count, its name does
    assert atlas_sum.ignores_sum(b"atlas:sum ignore")
    assert not atlas_sum.ignores_sum(b"\n-- atlas:sum ignore\n")  # first line only
    assert not atlas_sum.ignores_sum(b"-- atlas:sum ignore-not\n")


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


def test_sum_whose_first_line_disagrees_with_its_lines_is_rejected(tmp_path):
    src = ATLAS_DIRS / "ItsNotGoodName__smtpbridge__migrations_sql"
    mdir = atlas_sum.read_dir(src, "atlas")
    for name, data in mdir.files.items():
        (tmp_path / name).write_bytes(data)
    first, *rest = mdir.sum_text.splitlines(keepends=True)
    (tmp_path / "atlas.sum").write_text(first + "".join(r.replace("h1:", "h1:X") for r in rest))
    with pytest.raises(BadInput, match="malformed"):
        atlas_sum.read_dir(tmp_path, "atlas")
