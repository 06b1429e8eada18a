"""The CLI contract: exit codes, quiet success, --json, redaction, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from atlas_continuity.runtime.errors import BadInput, ExitCode
from atlas_continuity.runtime.redact import redact

from .helpers import cli, cli_process, read_tree, stores, write_dir


def test_help_imports_no_cloud_sdk_pulumi_or_progress_bar():
    code = (
        "import sys\n"
        "from atlas_continuity.runtime.cli import main\n"
        "try:\n    main(['push', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'google', 'azure', 'pulumi', 'requests', 'tqdm')]\n"
        "print(heavy, file=sys.stderr)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "atlas_continuity.runtime", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "push" in proc.stdout


def test_version_is_the_installed_distribution_s():
    from importlib.metadata import version

    r = cli("--version")
    assert (r.code, r.out) == (0, f"atlas-continuity {version('atlas-continuity')}\n")


def test_usage_error_exit_code():
    r = cli("push", "--no-such-flag")
    assert r.code == ExitCode.USAGE and "unrecognized arguments" in r.err


def test_quiet_success_prints_only_the_result(make_store, small_dir):
    url = make_store("file")
    r = cli("push", small_dir, *stores(url))
    assert r.code == 0
    assert r.err == ""
    assert r.out.startswith("sha256:") and len(r.out.strip()) == 71
    dry = cli("pull", "/tmp/unused-never-written", *stores(url), "--dry-run")
    assert (dry.code, dry.out) == (0, "")


def test_verbose_reports_each_store_on_stderr(make_store, small_dir):
    url = make_store("file")
    r = cli("-v", "push", small_dir, *stores(url))
    assert f"primary {url}: ok" in r.err


def test_errors_are_json_with_exit_code_under_json(tmp_path):
    r = cli("push", tmp_path / "missing", *stores("file:///tmp/x"), "--json")
    assert r.code == ExitCode.BAD_INPUT
    err = json.loads(r.out)["error"]
    assert err["exit_code"] == ExitCode.BAD_INPUT and "no such directory" in err["message"]


def test_a_local_file_system_error_is_json_too_under_json(make_store, tmp_path, monkeypatch):
    url = make_store("file")
    assert cli("push", write_dir(tmp_path / "src", {"1.sql": "x;\n"}), *stores(url)).code == 0
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))  # TMPDIR on a lost disk
    r = cli("drill", *stores(url), "--json")
    assert r.code == ExitCode.BAD_INPUT
    err = json.loads(r.out)["error"]
    assert err["exit_code"] == ExitCode.BAD_INPUT and "gone" in err["message"]


@pytest.mark.parametrize(
    "args",
    [["verify", "--tag", "latest", "--all"], ["verify", "--bogus"], ["drill", "--max-lag", "x"]],
)
def test_a_malformed_command_line_is_json_too_under_json(args):
    r = cli(*args, "--repo", "app", "--primary", "file:///tmp/x", "--json")
    assert r.code == ExitCode.USAGE and "usage:" in r.err
    err = json.loads(r.out)["error"]
    assert err["exit_code"] == ExitCode.USAGE and "error:" in err["message"]


def test_not_found_exit_code(make_store, tmp_path):
    r = cli("pull", tmp_path / "out", *stores(make_store("file")))
    assert r.code == ExitCode.NOT_FOUND and "tag 'latest' not found" in r.err


def test_invalid_tag_and_repo_names(make_store, small_dir):
    url = make_store("file")
    assert cli("push", small_dir, *stores(url), "--tag", "../x").code == ExitCode.BAD_INPUT
    assert cli("push", small_dir, *stores(url, repo="a/b")).code == ExitCode.BAD_INPUT
    assert cli("pull", "x", *stores(url), "--digest", "sha256:zz").code == ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--repo", "app\n"), ("--tag", "latest\n"), ("--digest", f"sha256:{'a' * 64}\n")],
)
def test_a_final_newline_makes_a_name_or_digest_invalid(flag, value, make_store, tmp_path):
    # A value read from a file or a mounted secret keeps its newline: "app\n" was accepted as
    # a repository of its own, with a newline in every key.
    r = cli("pull", tmp_path / "out", *stores(make_store("file")), flag, value)
    assert r.code == ExitCode.BAD_INPUT and "invalid" in r.err


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("https://acct.blob.core.windows.net/c?sv=2024&sig=abcDEF%2B123&se=x", "abcDEF%2B123"),
        ("AccountName=a;AccountKey=c2VjcmV0a2V5==;BlobEndpoint=x", "c2VjcmV0a2V5=="),
        ("s3://user:hunter2@bucket/x", "hunter2"),
        ("X-Amz-Security-Token=FQoGZXIvYXdz&X-Amz-Signature=deadbeef", "FQoGZXIvYXdz"),
        ("Authorization: Bearer eyJhbGciOi", "eyJhbGciOi"),
        # A URL inside a query is percent-encoded once, or twice by a careful hand.
        ("s3://b/pre?endpoint=http%3A%2F%2Fu%3Ahunter2%40127.0.0.1%3A1", "hunter2"),
        ("s3://b/pre?endpoint=http%253A%252F%252Fu%253Ahunter2%2540127.0.0.1", "hunter2"),
        ("azureblob://c/pre?endpoint=http://127.0.0.1:1/acct%3Fsig%3DSECRET7", "SECRET7"),
        ("azureblob://c/p?endpoint=http%3A%2F%2Fh%2Fa%3Fsv%3D1%26sig%3DSECRET7%26x", "SECRET7"),
        ("endpoint=http%253A%252F%252Fh%252Fa%253Fsig%253DSECRET7", "SECRET7"),
        ("http://u:pa%40ss%2Fword@host/x", "ss%2Fword"),
    ],
)
def test_secrets_are_redacted(text, secret):
    assert secret not in redact(text)
    assert secret not in str(BadInput(f"failed: {text}"))


def test_redaction_keeps_what_is_not_secret():
    text = "s3://b/x?region=us-east-1&monkey=banana key_id=7"
    assert redact(text) == text
    encoded = "s3://b/x?endpoint=https%3A%2F%2Fhost%3A443%2Fp%3Fmonkey%3D1 and https://h:1/a"
    assert redact(encoded) == encoded
    # A Pulumi type token names the module, not a header (the offline plan prints them).
    token = "azure-native:authorization:RoleAssignment  atlas-ci-access"
    assert redact(token) == token
    assert "s3cr3t" not in redact("{'Authorization': 's3cr3t'}")


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("azureblob://c/x?storage_account=a&sig=TOPSECRET", "TOPSECRET"),
        ("s3://b/pre?endpoint=http%3A%2F%2Fu%3Ahunter2%40127.0.0.1%3A1", "hunter2"),
        ("s3://b/pre?endpoint=http%253A%252F%252Fu%253Ahunter2%2540127.0.0.1", "hunter2"),
        ("azureblob://c/pre?endpoint=http://127.0.0.1:1/acct%3Fsig%3DSECRET7", "SECRET7"),
        ("s3://AKIDUSER:hunter2@b/pre", "hunter2"),
        ("s3://ghp_TOKENASUSER@b/pre", "ghp_TOKENASUSER"),
        ("file://u:hunter2@host/srv/store", "hunter2"),
    ],
)
def test_secret_in_a_store_url_never_reaches_the_output(
    url, secret, small_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # file://u:p@host/x was once a folder u:p@host below this one
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for args in (["push", small_dir, *stores(url)], ["grant", "status", "--store", url]):
        r = cli(*args, "--json")
        assert r.code == ExitCode.BAD_INPUT, r.err
        assert "credentials never go in a store URL" in r.err
        assert secret not in r.out + r.err
        assert not summary.exists() or secret not in summary.read_text()


def test_reference_docs_are_generated_from_the_code():
    from devtools.gen_docs import DOC, README, render_cli_doc, render_readme

    stale = "stale: run python -m devtools.gen_docs"
    assert DOC.read_text() == render_cli_doc(), f"docs/cli.md is {stale}"
    readme = README.read_text()
    assert readme == render_readme(readme), f"README.md's exit codes are {stale}"
    assert "| 8 | `REFUSED` |" in readme


def test_reference_docs_leave_hidden_flags_out():
    from devtools.gen_docs import render_cli_doc

    doc = render_cli_doc()
    assert "==SUPPRESS==" not in doc and "--newest" not in doc


def test_reference_docs_name_every_flags_value_as_its_usage_does():
    from devtools.gen_docs import render_cli_doc

    assert "| `--name` `NAME` |" in render_cli_doc()


def test_reference_docs_keep_a_commands_help_as_written():
    from devtools.gen_docs import render_cli_doc

    assert "\nCI pipeline files with grant caching" in render_cli_doc()


def test_a_failed_push_claims_no_digest(tmp_path, small_dir):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    r = cli("push", small_dir, *stores(not_a_folder.as_uri()))
    assert r.code == ExitCode.BAD_INPUT
    assert r.out == "" and "push failed" in r.err


def test_local_file_system_errors_are_clean_bad_input(make_store, small_dir):
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    r = cli("pull", "/proc/no-such/out", *stores(url))
    assert r.code == ExitCode.BAD_INPUT
    assert "/proc/no-such" in r.err and "Traceback" not in r.err


def test_push_refuses_names_pull_would_refuse(tmp_path, make_store):
    from .helpers import write_dir

    src = write_dir(tmp_path / "d", {"1_a.sql": "select 1;", "2_\tb.sql": "select 2;"})
    r = cli("push", src, *stores(make_store("file")))
    assert r.code == ExitCode.BAD_INPUT and "rename the file" in r.err


def test_an_sdk_refusing_the_url_is_a_config_error_not_a_fallback(make_store, tmp_path, small_dir):
    backup = make_store("file")
    assert cli("push", small_dir, *stores(None, backup)).code == 0
    r = cli("pull", tmp_path / "out", *stores("s3://b/x?region=us east 1", backup))
    assert r.code == ExitCode.BAD_INPUT
    assert not (tmp_path / "out").exists()


def test_debug_output_carries_no_session_token(make_store, monkeypatch, small_dir):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzSECRETSESSIONTOKEN")
    r = cli("-vv", "push", small_dir, *stores(make_store("s3")))
    assert r.code == 0, r.err
    assert "SECRETSESSIONTOKEN" not in r.err + r.out


@pytest.mark.parametrize(
    "flag", ["--connect-timeout", "--read-timeout", "--request-deadline", "--deadline"]
)
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e10"])
def test_time_bounds_must_be_positive_finite_and_at_most_a_day(flag, value, tmp_path, small_dir):
    r = cli("push", small_dir, *stores((tmp_path / "s").as_uri()), flag, value)
    assert r.code == ExitCode.BAD_INPUT
    assert f"{flag} must be a positive, finite number of seconds" in r.err
    assert not (tmp_path / "s").exists()  # refused before any store was touched


def test_a_command_past_its_deadline_stops_calling_stores(tmp_path, small_dir, monkeypatch):
    import time

    from atlas_continuity.runtime.stores import resilience

    real = resilience._within

    def slow(seconds, bound, fn, what):  # every store call costs a while
        time.sleep(0.2)
        return real(seconds, bound, fn, what)

    monkeypatch.setattr(resilience, "_within", slow)
    started = time.monotonic()
    r = cli("push", small_dir, *stores((tmp_path / "s").as_uri()), "--deadline", "0.5")
    assert time.monotonic() - started < 3
    assert r.code == ExitCode.UNAVAILABLE, r.err
    assert "--deadline passed" in r.err


def test_an_unwritable_job_summary_costs_one_warning_not_the_result(
    make_store, small_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "no-such-folder" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    url = make_store("file")
    warning = (
        f"job summary not written to {summary} ($GITHUB_STEP_SUMMARY): No such file or directory"
    )

    pushed = cli("push", small_dir, *stores(url))
    assert pushed.code == 0, pushed.err
    assert pushed.out.startswith("sha256:")
    pulled = cli("pull", tmp_path / "out", *stores(url))
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(small_dir)
    drilled = cli("drill", *stores(url))
    assert drilled.code == 0, drilled.err
    assert f"{url}: restores;" in drilled.out
    for r in (pushed, pulled, drilled):
        assert r.err.count(f"warning: {warning}") == 1, r.err
        assert r.err.count(f"::warning title=atlas-continuity::{warning}") == 1, r.err


def test_the_job_summary_warning_is_given_once(tmp_path, monkeypatch, caplog):
    from atlas_continuity.runtime.cli import Output

    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a folder: not a file to append to
    out = Output(as_json=False)
    out.summary("one")
    out.summary("two")
    assert [r.getMessage() for r in caplog.records] == [
        f"job summary not written to {tmp_path} ($GITHUB_STEP_SUMMARY): Is a directory"
    ]


FORGED = "a\nb\x1b[31mred\x1b]0;title\x07"
"""A name that would start a line of its own, recolour the terminal and retitle it."""


def _assert_escaped(err: str, name: str = FORGED) -> None:
    assert not any(c in err for c in "\x1b\x07\r"), err
    assert not any(line.startswith("b") for line in err.splitlines()), err
    assert name.encode("unicode_escape").decode().replace("\\n", "\\x0a") in err


def test_warnings_show_a_stores_key_names_escaped(make_store, small_dir, monkeypatch):
    from atlas_continuity.runtime import layout

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    planted = Path(url.removeprefix("file://")) / layout.repo_prefix("app") / FORGED
    planted.write_text("")
    r = cli("verify", *stores(url))
    assert "::warning title=atlas-continuity::" in r.err
    _assert_escaped(r.err)


def test_usage_errors_show_arguments_escaped():
    r = cli("tags", FORGED)
    assert r.code == ExitCode.USAGE
    _assert_escaped(r.err)


def test_log_lines_and_tracebacks_are_escaped_line_by_line():
    import logging

    from atlas_continuity.runtime.cli import _Formatter

    try:
        raise ValueError(f"boom {FORGED}")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "key %s", (FORGED,), exc_info)
    lines = _Formatter("%(levelname)s: %(message)s").format(record).splitlines()
    escaped = "a\\x0ab\\x1b[31mred\\x1b]0;title\\x07"
    assert lines[0] == f"error: key {escaped}"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == f"ValueError: boom {escaped}"


@pytest.mark.parametrize(
    "command",
    [["push", "DIR"], ["pull", "OUT"], ["tags"], ["show"], ["verify"], ["sync"], ["drill"]],
)
def test_one_store_given_twice_is_refused_by_every_command(command, tmp_path, small_dir):
    store = tmp_path / "store"
    store.mkdir()
    args = [{"DIR": small_dir, "OUT": tmp_path / "out"}.get(a, a) for a in command]
    r = cli(*args, *stores(store.as_uri(), f"{store.as_uri()}/"))
    assert r.code == ExitCode.BAD_INPUT, r.err
    assert f"{store.as_uri()} and {store.as_uri()}/ are the same store" in r.err
    assert list(store.iterdir()) == [] and not (tmp_path / "out").exists()


def test_one_store_given_twice_in_atlas_hcl_is_refused(tmp_path, small_dir):
    from atlas_continuity.runtime.config import repo_block

    primary = "s3://b/atlas?region=us-east-1"
    config = tmp_path / "atlas.hcl"
    block = repo_block("app", ["gs://c/atlas", "s3://b/atlas/"], url=primary)
    config.write_text('env "prod" {\n  migration {\n' + block + "  }\n}\n")
    r = cli("push", small_dir, "--config", f"file://{config}", "--env", "prod")
    assert r.code == ExitCode.BAD_INPUT
    assert f"{primary} and s3://b/atlas/ are the same store" in r.err


@pytest.mark.parametrize("action", ["save", "restore", "status"])
def test_one_grant_cache_given_twice_is_refused(action, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "grant").write_text("{}")
    grant = ["grant", action, "--state-dir", state]
    cache = (tmp_path / "cache").as_uri()
    r = cli(*grant, "--cache-dir", "cache", "--store", cache)
    assert r.code == ExitCode.BAD_INPUT, r.err
    assert f"--cache-dir cache and {cache} are the same store" in r.err
    r = cli(*grant, "--store", "gs://b/atlas", "--store", "gs://b/atlas/")
    assert r.code == ExitCode.BAD_INPUT and "are the same store" in r.err
    assert not (tmp_path / "cache").exists()


# What a missing folder is to each command, and a missing bucket: one and the same.
def _missing_bucket(emulators) -> str:
    return f"s3://no-such-bucket/atlas?region=us-east-1&endpoint={emulators['s3'].endpoint}"


MISSING_STORE_COMMANDS = [
    ["pull", "OUT"],
    ["pull", "OUT", "--dry-run"],
    ["tags"],
    ["show"],
    ["verify"],
    ["sync"],
    ["sync", "--dry-run"],
    ["drill"],
]


@pytest.mark.parametrize("command", MISSING_STORE_COMMANDS)
@pytest.mark.parametrize("role", ["primary", "backup"])
def test_a_missing_folder_is_met_as_a_missing_bucket(
    command, role, make_store, emulators, tmp_path, small_dir
):
    present = make_store("file")
    assert cli("push", small_dir, *stores(present)).code == 0
    missing_folder = tmp_path / "typo"
    results = []
    for missing in (missing_folder.as_uri(), _missing_bucket(emulators)):
        args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
        plan = stores(missing, present) if role == "primary" else stores(present, missing)
        r = cli(*args, *plan)
        results.append((r.code, "does not exist" in r.out + r.err))
    assert results[0] == results[1]
    assert not missing_folder.exists()


def test_a_missing_folder_alone_is_bad_input_and_stays_missing(tmp_path):
    missing = tmp_path / "typo"
    r = cli("pull", tmp_path / "out", *stores(missing.as_uri()))
    assert r.code == ExitCode.BAD_INPUT
    assert f"folder {str(missing)!r} does not exist" in r.err
    assert not missing.exists()


@pytest.mark.parametrize("action", ["restore", "status"])
def test_a_missing_grant_store_folder_is_met_as_a_missing_bucket(action, emulators, tmp_path, home):
    home.fresh()
    missing_folder = tmp_path / "typo"
    folder, bucket = (
        cli("grant", action, "--store", url)
        for url in (missing_folder.as_uri(), _missing_bucket(emulators))
    )
    assert folder.code == bucket.code
    for r in (folder, bucket):
        assert "does not exist" in r.err + r.out, r.err
    assert not missing_folder.exists()


def test_push_and_grant_save_start_a_new_folder_store_and_a_cache_folder_may_be_missing(
    tmp_path, small_dir, home
):
    new_store = tmp_path / "new" / "store"
    assert cli("push", small_dir, *stores(new_store.as_uri())).code == 0
    assert cli("pull", tmp_path / "out", *stores(new_store.as_uri())).code == 0

    state = home.fresh() / ".atlas"
    state.mkdir()
    (state / "grant").write_text("{}")
    grant_store, cache = (tmp_path / "grant-store").as_uri(), tmp_path / "cache"
    nothing_cached = cli("grant", "restore", "--cache-dir", cache)
    assert nothing_cached.code == ExitCode.NOT_FOUND, nothing_cached.err
    assert cli("grant", "save", "--cache-dir", cache, "--store", grant_store).code == 0
    assert cli("grant", "status", "--store", grant_store).code == 0
    assert cache.is_dir()


@pytest.mark.parametrize("command", ["pull", "show"])
def test_an_empty_tag_is_refused_not_read_as_latest(command, make_store, small_dir, tmp_path):
    # `--tag "$RELEASE"` with the variable unset must not deploy whatever latest is.
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    target = [tmp_path / "out"] if command == "pull" else []
    r = cli(command, *target, *stores(url), "--tag", "")
    assert r.code == ExitCode.BAD_INPUT and "invalid tag name ''" in r.err
    assert r.out == "" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_an_empty_directory_argument_is_refused_not_read_as_migrations(
    command, make_store, small_dir, tmp_path, monkeypatch
):
    # `pull "$DIR"` with the variable unset must not write into ./migrations.
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    monkeypatch.chdir(small_dir.parent)
    (small_dir.parent / "migrations").mkdir(exist_ok=True)
    r = cli(command, "", *stores(url), "--force")
    assert r.code == ExitCode.BAD_INPUT and "DIR is empty" in r.err
    assert list((small_dir.parent / "migrations").iterdir()) == []


def test_a_reader_that_goes_away_ends_the_command_quietly_as_sigpipe(make_store, small_dir):
    # `tags --history | head -1`: not bad input (3), and no error line.
    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    proc = cli_process("show", *stores(url))
    proc.stdout.close()  # before the command prints its result
    assert proc.wait(timeout=30) == 141
    assert proc.stderr.read() == ""


def test_an_empty_migration_dir_in_atlas_hcl_is_refused_not_read_as_here(
    make_store, small_dir, tmp_path, monkeypatch
):
    # dir = "file://" would make `pull --force` replace the whole working folder.
    from atlas_continuity.runtime.config import repo_block

    url = make_store("file")
    assert cli("push", small_dir, *stores(url)).code == 0
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "keep.txt").write_text("mine")
    config = work / "atlas.hcl"
    block = repo_block("app", [], url=url)
    config.write_text('env "prod" {\n  migration {\n    dir = "file://"\n' + block + "  }\n}\n")
    monkeypatch.chdir(work)
    r = cli("pull", "--config", f"file://{config}", "--env", "prod", "--force")
    assert r.code == ExitCode.BAD_INPUT and "names no folder" in r.err
    assert sorted(p.name for p in work.iterdir()) == ["atlas.hcl", "keep.txt"]
