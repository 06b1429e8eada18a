"""The store contract the runtime owns: URL parsing and formatting, the prefix rule, and the
atlas.hcl repo block; and every store URL the documentation shows obeys them."""

from __future__ import annotations

import re

import pytest

from atlas_continuity.infra.store import DEFAULT_PREFIX
from atlas_continuity.runtime.config import config_path, load_env, repo_block
from atlas_continuity.runtime.errors import BadInput
from atlas_continuity.runtime.stores.url import (
    check_prefix,
    distinct_stores,
    format_store_url,
    parse_store_url,
)
from devtools.emulators import ROOT

CANONICAL = [
    "s3://acme-atlas-backup/atlas?region=us-east-1",
    "s3://b/team/db?region=eu-west-1&endpoint=http://127.0.0.1:9000&profile=ci",
    "gs://acme-atlas-backup/atlas",
    "azureblob://atlas/atlas?storage_account=acmeatlas",
    "azureblob://c/a.b_c-d/e?endpoint=https://acct.blob.core.usgovcloudapi.net",
    "file:///var/lib/atlas%20mirror/store",
]


@pytest.mark.parametrize("url", CANONICAL)
def test_a_canonical_url_formats_back_to_itself(url):
    parsed = parse_store_url(url)
    assert parsed.format() == url
    assert format_store_url(parsed.scheme, parsed.bucket, parsed.prefix, parsed.params) == url


def test_formatting_is_the_inverse_of_parsing():
    url = format_store_url(
        "s3", "b", "/team/db/", {"region": "us-east-1", "endpoint": "http://h:1"}
    )
    parsed = parse_store_url(url)
    assert (parsed.scheme, parsed.bucket, parsed.prefix) == ("s3", "b", "team/db")
    assert parsed.params == {"region": "us-east-1", "endpoint": "http://h:1"}
    assert list(parsed.params) == ["region", "endpoint"]  # order kept: formats back identically


@pytest.mark.parametrize("prefix", ["atlas", "team/db", "a.b_c-d/0", "x" * 512])
def test_prefixes_that_keep_the_rule(prefix):
    assert check_prefix(prefix) == prefix
    assert check_prefix(f"/{prefix}/") == prefix


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("", "a prefix is required"),
        ("/", "a prefix is required"),
        (None, "a prefix is required"),
        ("a//b", "no empty"),
        ("a/../b", r"'\.\.'"),
        ("./a", r"'\.'"),
        ("team/*", "no wildcard"),
        ("it's", "letters, digits"),
        ("a b", "letters, digits"),
        ("atlas\n", "letters, digits"),  # a URL read from a file: "$" would let it in
        ("caf\u00e9", "letters, digits"),
        ("atlas\n", "letters, digits"),
        ("x" * 513, "longer than 512"),
        ("atlas/atlas-continuity", "inside a store's own atlas-continuity/"),
        (7, "must be a string"),
    ],
)
def test_prefixes_that_break_the_rule_are_refused_with_the_reason(prefix, reason):
    with pytest.raises(BadInput, match=reason):
        check_prefix(prefix)


@pytest.mark.parametrize("url", ["s3://b?region=us-east-1", "gs://b", "gs://b/", "gs://b/a b"])
def test_the_parser_applies_the_prefix_rule(url):
    with pytest.raises(BadInput, match="prefix"):
        parse_store_url(url)


def test_the_formatter_refuses_what_the_parser_would():
    for bucket, prefix in (("", "atlas"), ("a/b", "atlas"), ("b", "a b"), ("b", "")):
        with pytest.raises(BadInput):
            format_store_url("gs", bucket, prefix)


def test_the_repo_block_reads_back_to_the_same_values(tmp_path):
    backups = [
        "s3://b/atlas?region=us-east-1&endpoint=http://127.0.0.1:9000",
        "gs://b/atlas",
        'azureblob://c/atlas?storage_account=${not-interpolated}"quoted"%{x}\\',
    ]
    block = repo_block("app", backups, url="s3://primary/atlas?region=us-east-1")
    hcl = tmp_path / "atlas.hcl"
    hcl.write_text('env "prod" {\n  migration {\n' + block + "  }\n}\n")
    env = load_env(config_path(f"file://{hcl}"), "prod", {})
    assert (env.repo, env.primary, list(env.backups)) == (
        "app",
        "s3://primary/atlas?region=us-east-1",
        backups,
    )


def test_the_repo_block_refuses_a_repository_name_atlas_would_not_take():
    with pytest.raises(BadInput, match="repository"):
        repo_block("app name", [])


# --- the documentation ------------------------------------------------------------------------

DOCUMENTED = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "templates").glob("*")),
    *sorted((ROOT / "runtime" / "ci" / "templates").glob("*")),
    ROOT / "orb" / "orb.yml",
    ROOT / "action.yml",
    ROOT / "stacks" / "README.md",
]
URL = re.compile(r"\b(?:s3|gs|azureblob)://[^\s\"'`<>)\]]+")
# Generic forms in format tables name their parts instead of giving values.
PLACEHOLDER_PREFIXES = {"prefix", "PREFIX"}


def documented_urls() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTED:
        for url in URL.findall(path.read_text()):
            url = url.rstrip(".,;:")
            if url.endswith("://") or url.rstrip(",") != url:  # a scheme named in prose
                continue
            # ${...} is filled in by HCL or the CI provider; check the URL around it.
            found.append((path.relative_to(ROOT).as_posix(), re.sub(r"\$\{[^}]*\}", "x", url)))
    return found


def test_the_documentation_shows_store_urls():
    assert len(documented_urls()) > 10


@pytest.mark.parametrize(("where", "url"), documented_urls())
def test_every_documented_store_url_keeps_the_contract(where, url):
    parsed = parse_store_url(url)
    assert parsed.format() == url, f"{where}: {url} is not in canonical form"
    assert parsed.prefix in PLACEHOLDER_PREFIXES | {DEFAULT_PREFIX}, (
        f"{where}: {url} uses prefix {parsed.prefix!r}, not the components' {DEFAULT_PREFIX!r}: "
        "a grant or registry URL outside what the components provision"
    )


# --- credentials and identity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        ("s3://AKIDUSER:hunter2@b/pre", "hunter2", "a user name or password"),
        ("s3://ghp_TOKENASUSER@b/pre", "ghp_TOKENASUSER", "a user name or password"),
        ("s3://t0k3n%40b/pre", "t0k3n", "a user name or password"),
        ("file://u:hunter2@host/srv/store", "hunter2", "a user name or password"),
        ("azureblob://c/pre?storage_account=a&sig=SECRET7", "SECRET7", "'sig' is a credential"),
        ("s3://b/pre?X-Amz-Signature=SECRET7", "SECRET7", "'X-Amz-Signature' is a credential"),
        (
            "s3://b/pre?endpoint=http://u:hunter2@127.0.0.1:1",
            "hunter2",
            "'endpoint' carries a user name or password",
        ),
        (
            "s3://b/pre?endpoint=http%3A%2F%2Fu%3Ahunter2%40127.0.0.1%3A1",
            "hunter2",
            "'endpoint' carries a user name or password",
        ),
        (
            "s3://b/pre?endpoint=http%253A%252F%252Fu%253Ahunter2%2540127.0.0.1",
            "hunter2",
            "'endpoint' carries a user name or password",
        ),
        (
            "azureblob://c/pre?endpoint=http://127.0.0.1:1/acct%3Fsig%3DSECRET7",
            "SECRET7",
            "'endpoint' carries the secret parameter 'sig'",
        ),
        (
            "azureblob://c/pre?endpoint=http://127.0.0.1:1/acct%253Fsv%253D1%2526sig%253DSECRET7",
            "SECRET7",
            "'endpoint' carries the secret parameter 'sig'",
        ),
    ],
)
def test_a_store_url_carrying_credentials_is_refused_without_quoting_them(url, secret, reason):
    with pytest.raises(BadInput, match="credentials never go in a store URL") as refused:
        parse_store_url(url)
    message = str(refused.value)
    assert reason in message
    assert secret not in message
    assert "SDK finds them in its own chain" in message


@pytest.mark.parametrize(
    "url",
    [
        "s3://b/pre?endpoint=http://127.0.0.1:9000/path%3Fregion%3Dx",
        "azureblob://c/p?endpoint=https://acct.blob.core.windows.net/?comp=list",
        "file:///srv/mirror@2024/store",
    ],
)
def test_urls_without_credentials_are_not_mistaken_for_some(url):
    parse_store_url(url)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("file:///x/a", "file:///x/a/"),
        ("file:///x/a", "file:///x//a"),
        ("s3://b/pre?region=us-east-1", "s3://b/pre/"),
        ("s3://b/pre", "s3://b//pre/?profile=ci&region=eu-west-1"),
        (
            "s3://b/pre?region=us-east-1&endpoint=http://h:9000",
            "s3://b/pre/?endpoint=HTTP://H:9000/&region=us-east-1",
        ),
        (
            "azureblob://c/p?storage_account=a&endpoint=https://a.blob.core.windows.net",
            "azureblob://c/p?endpoint=https://a.blob.core.windows.net:443/&storage_account=a",
        ),
        ("gs://b/pre", "gs://b/pre/"),
    ],
)
def test_one_store_spelled_two_ways_has_one_identity(a, b):
    assert parse_store_url(a).identity == parse_store_url(b).identity
    with pytest.raises(BadInput, match="are the same store: give each store once"):
        distinct_stores([a, b])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("file:///x/a", "file:///x/a/b"),
        ("s3://b/pre", "s3://b/pre2"),
        ("s3://b/pre", "gs://b/pre"),
        ("s3://b/pre", "s3://c/pre"),
        ("s3://b/pre?endpoint=http://h:9000", "s3://b/pre?endpoint=http://h:9001"),
        ("s3://b/pre", "s3://b/pre?endpoint=http://h:9000"),
        ("azureblob://c/p?storage_account=a", "azureblob://c/p?storage_account=b"),
    ],
)
def test_different_stores_have_different_identities(a, b):
    assert parse_store_url(a).identity != parse_store_url(b).identity
    assert [u.display for u in distinct_stores([a, b])] == [a, b]


def test_a_folder_and_a_link_to_it_are_one_store(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "store")
    with pytest.raises(BadInput, match="same store"):
        distinct_stores([(tmp_path / "store").as_uri(), (tmp_path / "link").as_uri()])


def test_the_same_url_twice_is_named_once():
    with pytest.raises(BadInput, match=r"^gs://b/pre is given twice: give each store once$"):
        distinct_stores(["gs://b/pre", "gs://b/pre"])


def test_a_folder_path_with_a_nul_byte_is_bad_input():
    with pytest.raises(BadInput, match="NUL byte"):
        parse_store_url("file:///tmp/a%00b")
