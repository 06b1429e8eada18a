"""The real third-party migration directories in ../shared/fixtures/atlas-dirs (SOURCES.md
there), with sums that Atlas itself wrote: an extra check on top of migration_dirs.py. They run
where that folder exists (developers, CI) and skip, "shared corpus not present", in a clone
that has nothing beside it."""

from __future__ import annotations

import pytest

from atlas_continuity.runtime import atlas_sum
from atlas_continuity.runtime.errors import BadInput

from .conftest import ATLAS_DIRS, shared_corpus
from .helpers import cli, read_tree, stores
from .migration_dirs import crlf, expected_sum

pytestmark = shared_corpus

GOOSE = "goose"
VERIFIES = {
    "hatchet-dev__hatchet__sql_migrations": "atlas",
    "chainloop-dev__chainloop__app_controlplane_pkg_data_ent_migrate_migrations": "atlas",
    "ariga__atlas-showcase__dirs_ecommerce_migrations": "atlas",
    "ariga__atlas-showcase__projects_estore_inventory_migrations": "atlas",
    "ariga__atlas__sql_migrate_testdata_partial-checkpoint": "atlas",
    "autokitteh__autokitteh__migrations_sqlite": GOOSE,
    "kalbasit__ncps__migrations_mysql": GOOSE,
    "kalbasit__ncps__migrations_sqlite": GOOSE,
    "theopenlane__core__db_migrations": "atlas",
    "ItsNotGoodName__smtpbridge__migrations_sql": GOOSE,
    "ariga__atlas-examples__cicd_bitbucket_versioned_migrations": "atlas",
    "openmeterio__openmeter__tools_migrate_migrations__golang-migrate": "golang-migrate",
}
"""Directory -> the format its atlas.sum verifies under."""

STALE = {
    "infratographer__load-balancer-api__db_migrations__stale": (
        r"first changed file: 20231017005257_add_origin_weight\.sql"
    ),
    "Kaikei-e__DECREE__db_migrations__stale": (
        r"not in the sum: 20260316100000_m4_gateway_indexes\.sql"
    ),
    "longgggwwww__hrm-ms-hr__ent_migrate_migrations__stale": r"first changed file: ",
}
"""Directory -> the cause the stale report must name."""


def files_of(name: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (ATLAS_DIRS / name).iterdir() if p.name != "atlas.sum"}


def committed_sum(name: str) -> str:
    return (ATLAS_DIRS / name / "atlas.sum").read_text(encoding="utf-8")


def test_inventory_is_what_sources_md_describes():
    assert ATLAS_DIRS.is_dir(), f"{ATLAS_DIRS} does not exist (see ATLAS_CONTINUITY_FIXTURES)"
    assert sorted(p.name for p in ATLAS_DIRS.iterdir() if p.is_dir()) == sorted([*VERIFIES, *STALE])


@pytest.mark.parametrize("name", sorted(VERIFIES))
def test_real_directory_verifies_and_both_readings_of_the_rule_rewrite_it(name):
    dir_format = VERIFIES[name]
    mdir = atlas_sum.read_dir(ATLAS_DIRS / name, dir_format)
    assert atlas_sum.compute_sum(mdir.files, dir_format).to_text() == mdir.sum_text
    assert expected_sum(mdir.files, dir_format) == mdir.sum_text  # migration_dirs.py's rule
    if dir_format == GOOSE:  # goose directories are summed as Atlas's own are
        atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")


def test_golang_migrate_directory_is_stale_under_the_atlas_format():
    name = "openmeterio__openmeter__tools_migrate_migrations__golang-migrate"
    assert any(n.endswith(".down.sql") for n in files_of(name))
    with pytest.raises(BadInput, match="stale"):
        atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")


@pytest.mark.parametrize("name", sorted(STALE))
def test_stale_directory_is_reported_with_its_cause(name):
    with pytest.raises(BadInput, match=r"atlas\.sum is stale: .*" + STALE[name]):
        atlas_sum.read_dir(ATLAS_DIRS / name, "atlas")


def test_how_each_real_sum_went_stale_is_what_migration_dirs_models():
    """The stale cases of migration_dirs.py copy these three histories; each is reproduced."""
    added = "Kaikei-e__DECREE__db_migrations__stale"
    files = files_of(added)
    del files["20260316100000_m4_gateway_indexes.sql"]
    assert expected_sum(files) == committed_sum(added)

    rehashed = "longgggwwww__hrm-ms-hr__ent_migrate_migrations__stale"
    files = files_of(rehashed)
    names = sorted(files)
    converted = crlf({n: files[n] for n in (names[0], names[1], names[2], names[4])})
    assert expected_sum({**files, **converted}) == committed_sum(rehashed)

    edited = "infratographer__load-balancer-api__db_migrations__stale"
    want = committed_sum(edited).splitlines()[1:]
    have = expected_sum(files_of(edited)).splitlines()[1:]
    assert want[:3] == have[:3] and want[3] != have[3]  # only the last file changed


@pytest.mark.parametrize("name", sorted(VERIFIES))
def test_real_directory_round_trips_through_push_and_pull(name, make_store, tmp_path):
    url = make_store("file")
    src = ATLAS_DIRS / name
    pushed = cli("push", src, *stores(url), "--dir-format", VERIFIES[name])
    assert pushed.code == 0, pushed.err
    pulled = cli("pull", tmp_path / "out", *stores(url))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(src)
