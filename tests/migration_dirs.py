"""Migration directories the tests build, and the atlas.sum that Atlas writes for each.

The expected atlas.sum is worked out here with hashlib and base64, from Atlas's rule as the
``sql/migrate`` package of ariga/atlas applies it, and never with the runtime's ``atlas_sum``
module: a test that compares the two checks the runtime against a second, separate reading of
the rule. Where the real directories of ../shared/fixtures are present, test_shared_corpus.py
checks this reading against sums that Atlas itself wrote.

The cases cover what the real directories exercise, and what they lack (SOURCES.md there):
directives, ``atlas:sum ignore``, non-ASCII names, CRLF, files that are not migrations, the
golang-migrate and goose formats, and sums that went stale in three ways.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

SUM_FILE = "atlas.sum"


def summed_names(names: list[str], dir_format: str) -> list[str]:
    """The files Atlas hashes, in its order: ``*.sql`` (golang-migrate: ``*.up.sql`` only),
    sorted by the bytes of their UTF-8 names, as Go sorts strings."""
    suffix = ".up.sql" if dir_format == "golang-migrate" else ".sql"
    return sorted((n for n in names if n.endswith(suffix)), key=lambda n: n.encode("utf-8"))


def opts_out(content: bytes) -> bool:
    """Atlas reads directives from the run of printable ASCII that opens the file (up to the
    first newline, CR, tab or non-ASCII byte); the file opts out of the sum when that run ends
    in ``atlas:sum`` followed by spaces and ``ignore``."""
    leading = re.match(rb"[ -~]*", content)
    return re.fullmatch(rb"[ -~]*atlas:sum +ignore", leading.group(0)) is not None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def expected_sum(files: dict[str, bytes], dir_format: str = "atlas") -> str:
    """The atlas.sum text Atlas writes for these files.

    One running SHA-256 takes each summed file's name and then, unless the file opts out, its
    bytes; a file that does not opt out gets a line with the base64 of the running digest at
    that point. The first line is ``h1:`` and the base64 of SHA-256 over every listed name
    followed by its hash."""
    running = hashlib.sha256()
    listed: list[tuple[str, str]] = []
    for name in summed_names(list(files), dir_format):
        running.update(name.encode("utf-8"))
        if opts_out(files[name]):
            continue
        running.update(files[name])
        listed.append((name, b64(running.copy().digest())))
    total = hashlib.sha256("".join(name + digest for name, digest in listed).encode("utf-8"))
    return f"h1:{b64(total.digest())}\n" + "".join(f"{n} h1:{d}\n" for n, d in listed)


def crlf(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files as a Windows checkout with autocrlf writes them."""
    return {name: data.replace(b"\n", b"\r\n") for name, data in files.items()}


@dataclass(frozen=True)
class Case:
    files: dict[str, bytes]
    dir_format: str = "atlas"
    summed_over: dict[str, bytes] | None = None
    """The files the committed atlas.sum was computed over, when not these: a stale sum."""
    stale: str | None = None
    """What read_dir must name as the cause (a regex), for a stale sum."""

    @property
    def sum_text(self) -> str:
        over = self.files if self.summed_over is None else self.summed_over
        return expected_sum(over, self.dir_format)

    def write(self, dest: Path) -> Path:
        dest.mkdir(parents=True)
        for name, data in self.files.items():
            (dest / name).write_bytes(data)
        (dest / SUM_FILE).write_text(self.sum_text, encoding="utf-8", newline="")
        return dest


_DIRECTIVES = {
    "20240101000000_init.sql": b'-- Create "users" table\nCREATE TABLE "users" (\n'
    b'  "id" bigint NOT NULL,\n  "email" text NOT NULL,\n  PRIMARY KEY ("id")\n);\n',
    "20240102000000_index.sql": b"-- atlas:txmode none\n\n"
    b'CREATE INDEX CONCURRENTLY "users_email" ON "users" ("email");\n',
    "20240103000000_checkpoint.sql": b"-- atlas:checkpoint\n\n"
    b'CREATE TABLE "users" ("id" bigint NOT NULL, "email" text NOT NULL);\n',
    "20240104000000_orders.sql": b'CREATE TABLE "orders" ("id" bigint NOT NULL);\n'
    b'-- atlas:nolint DS103 BC102\nALTER TABLE "users" DROP COLUMN "email";',  # no final newline
    "20240105000000_txtar.sql": b"-- atlas:txtar\n\n-- checks.sql --\n"
    b'-- atlas:assert DS103\nSELECT NOT EXISTS (SELECT 1 FROM "orders");\n\n'
    b'-- migration.sql --\nDROP TABLE "orders";\n',
    "20240106000000_empty.sql": b"",
}

_EDITED = {
    "1_init.sql": b"CREATE TABLE t (id bigint);\n",
    "2_name.sql": b"ALTER TABLE t ADD COLUMN name text;\n",
    "3_weight.sql": b"ALTER TABLE t ADD COLUMN weight int;\n",
}

CASES: dict[str, Case] = {
    # What `atlas migrate diff` writes: txmode, checkpoint, nolint and txtar directives, a file
    # without a final newline and an empty one. Only atlas:sum ignore changes the sum.
    "directives": Case(_DIRECTIVES),
    "sum-ignore": Case(
        {
            "1_init.sql": b"CREATE TABLE t (id int);\n",
            "2_seed.sql": b"-- atlas:sum ignore\nINSERT INTO t VALUES (1);\n",
            "3_local.sql": b"-- local-only atlas:sum  ignore\nINSERT INTO t VALUES (2);\n",
            "4_late.sql": b"-- a directive on the second line is not one\n-- atlas:sum ignore\n",
            "5_tab.sql": b"--\tatlas:sum ignore\nSELECT 1;\n",  # a tab ends the directive run
            "6_last.sql": b"ALTER TABLE t ADD COLUMN c int;\n",
        }
    ),
    # Sorted by UTF-8 bytes: upper before lower case, "caff" before "café", and U+FF5A before
    # U+1F600 (UTF-16 order, as Java and JavaScript sort, would put the emoji first).
    "non-ascii": Case(
        {
            "1_init.sql": "-- Schéma initial — «clients»\nCREATE TABLE c (id int);\n".encode(),
            "2_apple.sql": "-- 苹果 → table\nCREATE TABLE apple (id int);\n".encode(),
            "2_Zebra.sql": b"CREATE TABLE zebra (id int);\n",
            "3_café.sql": "CREATE TABLE café (id int);\n".encode(),
            "3_caff.sql": b"CREATE TABLE caff (id int);\n",
            "4_\uff5a.sql": "-- ↔ fullwidth z\nSELECT 1;\n".encode(),
            "4_\U0001f600.sql": "SELECT '😀';\n".encode(),
        }
    ),
    # Committed with CRLF line endings and hashed as committed: valid.
    "crlf": Case(
        crlf(
            {
                "1_init.sql": b"-- atlas:sum ignore\nCREATE TABLE t (id int);\n",
                "2_add.sql": b"ALTER TABLE t\n  ADD COLUMN c int;\n",
                "3_index.sql": b"CREATE INDEX i ON t (c);\n",
            }
        )
    ),
    # Files beside the migrations that Atlas does not hash: stored and pulled all the same.
    "non-migrations": Case(
        {
            "1_init.sql": b"CREATE TABLE t (id int);\n",
            "2_add.sql": b"ALTER TABLE t ADD COLUMN c int;\n",
            "README.md": b"# Migrations\n\nGenerated by atlas migrate diff.\n",
            "schema.hcl": b'table "t" {\n  schema = schema.public\n}\n',
            "2_add.sql.orig": b"ALTER TABLE t ADD COLUMN d int;\n",
            "3_upper.SQL": b"SELECT 1;\n",
            ".keep": b"",
        }
    ),
    "golang-migrate": Case(
        {
            "000001_init.up.sql": b"CREATE TABLE t (id int);\n",
            "000001_init.down.sql": b"DROP TABLE t;\n",
            "000002_name.up.sql": b"-- atlas:nolint MF101\nALTER TABLE t ADD COLUMN name text;\n",
            "000002_name.down.sql": b"ALTER TABLE t DROP COLUMN name;\n",
            "000003_index.up.sql": "-- name → lookup\nCREATE INDEX i ON t (name);".encode(),
            "000003_index.down.sql": b"DROP INDEX i;\n",
        },
        dir_format="golang-migrate",
    ),
    "goose": Case(
        {
            "20240101000000_init.sql": b"-- +goose Up\nCREATE TABLE t (id int);\n\n"
            b"-- +goose Down\nDROP TABLE t;\n",
            "20240102000000_func.sql": b"-- +goose Up\n-- +goose StatementBegin\n"
            b"CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql;\n"
            b"-- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION f;\n",
        },
        dir_format="goose",
    ),
    "stale-edited": Case(
        {**_EDITED, "3_weight.sql": b"ALTER TABLE t ADD COLUMN weight bigint;\n"},
        summed_over=_EDITED,
        stale=r"first changed file: 3_weight\.sql",
    ),
    "stale-added": Case(
        {**_EDITED, "4_index.sql": b"CREATE INDEX i ON t (name);\n"},
        summed_over=_EDITED,
        stale=r"not in the sum: 4_index\.sql",
    ),
    # Re-hashed on a checkout that converts line endings; the committed files are LF.
    "stale-crlf": Case(
        _EDITED,
        summed_over={**crlf(_EDITED), "3_weight.sql": _EDITED["3_weight.sql"]},
        stale=r"first changed file: 1_init\.sql",
    ),
    "stale-removed": Case(
        {k: v for k, v in _EDITED.items() if k != "2_name.sql"},
        summed_over=_EDITED,
        stale=r"missing from the directory: 2_name\.sql",
    ),
    # A long history, for pushes that should move only what changed.
    "long-history": Case(
        {
            f"2024{i // 28 + 1:02d}{i % 28 + 1:02d}120000_step.sql": (
                f"ALTER TABLE t ADD COLUMN c{i} int;" + ("\n" if i % 5 else "")
            ).encode()
            for i in range(80)
        }
    ),
}

VALID = sorted(name for name, case in CASES.items() if case.stale is None)
STALE = sorted(name for name, case in CASES.items() if case.stale is not None)
