"""``atlas-continuity plan --stack NAME``: the stack program run offline, read before a real
``pulumi preview``. It says plainly what it is, lists what would be declared, and refuses a
config mistake with BAD_INPUT and the key's path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atlas_continuity.infra.plan import plan_stack
from atlas_continuity.runtime.errors import ExitCode
from devtools.emulators import ROOT
from tests.helpers import cli

OFFLINE = "Nothing was sent to any cloud or cluster, and this is not a diff against deployed state"


def project(tmp_path: Path, config: dict) -> Path:
    """A Pulumi project like the repository's, with one stack ``t`` holding ``config``."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        "name: acme-atlas\nruntime: python\nmain: infra/\nstackConfigDir: stacks\n"
    )
    (tmp_path / "stacks" / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def test_the_dev_plan_says_what_it_is_and_lists_what_would_be_declared(monkeypatch):
    monkeypatch.chdir(ROOT / "stacks")  # the project is found above the current folder
    r = cli("plan", "--stack", "dev")
    assert r.code == 0, r.err
    flat = " ".join(r.out.split())
    assert flat.startswith("Offline plan of stack 'dev' (project atlas-continuity")
    assert OFFLINE in flat
    lines = r.out.splitlines()
    assert "atlas-continuity:index:ContinuityPlan  atlas-continuity" in lines
    # where 0.2 declared it; not the provider's own aliases of its renamed types
    assert (
        "├─ atlas-continuity:index:S3BackupBucket  aws-backup  [was aws-backup at the stack's top]"
        in lines
    )
    assert not [line for line in lines if "aws-backup-bucket" in line and "was" in line]
    assert any(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider" in line
        and "url=https://token.actions.githubusercontent.com" in line
        for line in lines
    )
    assert "  aws_reader_role_arns: {}" in lines
    assert any(
        line.startswith("  aws_ci_role_arns: {") and "(known after apply)" in line for line in lines
    )
    assert r.err == ""


def test_the_json_plan_holds_every_resource_and_marks_what_is_unknown():
    r = cli("plan", "--stack", "prod", "--project-dir", ROOT, "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["format_version"] == 1
    assert report["offline"] is True and OFFLINE in report["notice"]
    expected = plan_stack("prod", ROOT).deployment.counts()
    assert report["counts"] == expected
    assert len(report["resources"]) == sum(expected.values())
    assert (
        report["outputs"]["backup_urls"][0] == "s3://acme-atlas-prod-backup/atlas?region=us-east-1"
    )
    roles = report["outputs"]["aws_ci_role_arns"]
    assert roles == {"github-main": None, "github-production": None, "gitlab-main": None}
    assert "outputs.aws_ci_role_arns.github-main" in report["unknown"]
    (claim,) = [
        r for r in report["resources"] if r["type"] == "kubernetes:core/v1:PersistentVolumeClaim"
    ]
    assert claim["protect"] and claim["retain_on_delete"]


def test_the_json_plan_is_a_tree_whose_top_has_no_parent_as_documented():
    report = json.loads(cli("plan", "--stack", "dev", "--project-dir", ROOT, "--json").out)
    urns = {r["urn"] for r in report["resources"]}
    top = [r["name"] for r in report["resources"] if r["parent"] == ""]
    assert top == ["atlas-continuity"]  # the ContinuityPlan
    assert all(r["parent"] in urns for r in report["resources"] if r["parent"])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"atlas-continuity:aws": {"bucket": {"create_kms_keys": True}}},
            "atlas-continuity:aws.bucket: unknown keys ['create_kms_keys'] "
            "('create_kms_keys': did you mean 'create_kms_key'?)",
        ),
        (
            {"atlas-continuity:aws": {"bucket": {"noncurrent_version_expiration_days": "90"}}},
            "atlas-continuity:aws.bucket.noncurrent_version_expiration_days: expected a whole "
            "number, got a string '90'",
        ),
        (
            {"atlas-continuity:gcp": {"ci_writers": {}}},
            "atlas-continuity:gcp.bucket is required",
        ),
        ({"atlas-continuity:azur": {}}, "atlas-continuity:azur: unknown config key"),
    ],
    ids=["wrong-key", "wrong-type", "missing-key", "wrong-namespace-key"],
)
def test_a_config_mistake_exits_bad_input_naming_the_key(config, message, tmp_path):
    r = cli("plan", "--stack", "t", "--project-dir", project(tmp_path, config))
    assert r.code == ExitCode.BAD_INPUT
    assert message in r.err and r.out == ""
    as_json = cli("plan", "--stack", "t", "--project-dir", tmp_path, "--json")
    assert as_json.code == ExitCode.BAD_INPUT
    assert message in json.loads(as_json.out)["error"]["message"]


def test_an_unknown_stack_exits_bad_input_naming_the_stacks_there():
    r = cli("plan", "--stack", "qa", "--project-dir", ROOT)
    assert r.code == ExitCode.BAD_INPUT
    assert "no stack 'qa'" in r.err and "stacks here: dev, prod, staging" in r.err


@pytest.mark.parametrize("stack", ["", "../stacks/Pulumi.dev", "d" * 101, "dev prod"])
def test_a_stack_name_pulumi_refuses_is_refused_before_any_file_is_read(stack):
    r = cli("plan", "--stack", stack, "--project-dir", ROOT, "--json")
    assert r.code == ExitCode.BAD_INPUT
    assert json.loads(r.out)["error"]["message"].startswith(f"invalid stack name {stack!r}: ")


def test_a_fully_qualified_stack_name_is_answered_with_its_short_name():
    r = cli("plan", "--stack", "acme/atlas-continuity/prod", "--project-dir", ROOT)
    assert r.code == ExitCode.BAD_INPUT
    assert "the stack file is named by the short name: 'prod'" in r.err


def test_a_folder_outside_any_project_exits_bad_input(tmp_path, monkeypatch):
    r = cli("plan", "--stack", "dev", "--project-dir", tmp_path)
    assert r.code == ExitCode.BAD_INPUT and "not a Pulumi project (no Pulumi.yaml there)" in r.err
    monkeypatch.chdir(tmp_path)
    r = cli("plan", "--stack", "dev")
    assert r.code == ExitCode.BAD_INPUT and "no Pulumi.yaml in" in r.err


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        # inside the project: searching upward would silently plan the project above
        (ROOT / "stacks", f"{ROOT / 'stacks'}: not a Pulumi project (no Pulumi.yaml there)"),
        (ROOT / "typo", f"{ROOT / 'typo'}: no such folder"),
    ],
    ids=["no-project-file", "no-folder"],
)
def test_a_project_dir_given_is_the_project_or_refused(folder, message):
    r = cli("plan", "--stack", "dev", "--project-dir", folder)
    assert (r.code, r.out) == (ExitCode.BAD_INPUT, "")
    assert message in r.err


def test_an_empty_project_dir_is_refused_not_searched_from_here(monkeypatch):
    monkeypatch.chdir(ROOT / "stacks")  # a project lies above: "" (a variable unset) is no path
    r = cli("plan", "--stack", "dev", "--project-dir", "")
    assert (r.code, r.out) == (ExitCode.BAD_INPUT, "")
    assert "--project-dir is empty" in r.err


def raw_project(tmp_path: Path, stack: bytes, manifest: bytes | None = None) -> Path:
    """A project whose Pulumi.yaml and stack file ``t`` hold exactly these bytes."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_bytes(
        manifest or b"name: acme-atlas\nruntime: python\nstackConfigDir: stacks\n"
    )
    (tmp_path / "stacks" / "Pulumi.t.yaml").write_bytes(stack)
    return tmp_path


GOOD_STACK = b"config:\n  atlas-continuity:aws: {bucket: {}}\n"

LAUGHS = (
    b"config:\n  atlas-continuity:aws:\n    bucket:\n      tags:\n        a0: &a0 [x, x]\n"
    + b"".join(
        b"        a%d: &a%d [%s]\n" % (i, i, b", ".join([b"*a%d" % (i - 1)] * 10))
        for i in range(1, 10)
    )
)
"""Ten aliases of ten aliases, nine deep: a few hundred bytes that expand to 2e9 values."""


@pytest.mark.parametrize(
    ("manifest", "stack", "message"),
    [
        (b"name: [acme\n", GOOD_STACK, "Pulumi.yaml:2:1: not valid YAML: expected ',' or ']'"),
        (b"- name: acme\n", GOOD_STACK, "Pulumi.yaml: expected a mapping, not list"),
        (b"name: acme\xff\n", GOOD_STACK, "Pulumi.yaml: not UTF-8 text (byte 10)"),
        (b"name: acme\nstackConfigDir: [a]\n", GOOD_STACK, "stackConfigDir must be a folder"),
        (b"runtime: python\n", GOOD_STACK, "Pulumi.yaml: name must be the project's name"),
        (b"name: acme:atlas\n", GOOD_STACK, "Pulumi.yaml: name 'acme:atlas': up to 100 letters"),
        (None, b"config: {a: [\n", "Pulumi.t.yaml:2:1: not valid YAML: expected the node"),
        (None, b"- config\n", "Pulumi.t.yaml: expected a mapping, not list"),
        (None, b"config:\n  a: \xe9\n", "Pulumi.t.yaml: not UTF-8 text (byte 13)"),
        (None, b"config: [1]\n", "Pulumi.t.yaml: config must be a mapping"),
        (
            None,
            b"config:\n  atlas-continuity:repo: " + b"9" * 5000 + b"\n",
            "Pulumi.t.yaml: a number has more than 4300 digits",
        ),
        (
            None,
            b"config:\n  atlas-continuity:aws: &x\n    bucket: *x\n",
            "Pulumi.t.yaml: atlas-continuity:aws: the value contains itself (a YAML alias "
            "inside its own anchor)",
        ),
        (
            None,
            b"config:\n  repo: a\n  acme-atlas:repo: b\n",
            "Pulumi.t.yaml: acme-atlas:repo and acme-atlas:repo are one key, given twice",
        ),
        (None, LAUGHS, "Pulumi.t.yaml: more than 100000 values once its YAML aliases are"),
        (
            None,
            b"config:\n  atlas-continuity:aws: {bucket: {tags: {a: [1, .nan]}}}\n",
            "Pulumi.t.yaml: atlas-continuity:aws.bucket.tags.a[1]: nan: Pulumi passes config to",
        ),
        (
            None,
            b"config:\n  atlas-continuity:aws: {bucket: {tags: {a: !!binary aGk=}}}\n",
            "Pulumi.t.yaml: atlas-continuity:aws.bucket.tags.a: a bytes, from an explicit YAML",
        ),
        (None, b"# " + b"x" * 2**20 + b"\nconfig: {}\n", "Pulumi.t.yaml: larger than 1 MiB"),
        # PyYAML keeps the last of two; Pulumi refuses the file, so the plan must too
        (
            None,
            b"config:\n  atlas-continuity:repo: a\n  atlas-continuity:repo: b\n",
            "Pulumi.t.yaml:3:3: not valid YAML: the key 'atlas-continuity:repo' is given twice",
        ),
        # Pulumi reads a key without a namespace as the project's: not the program's here
        (
            None,
            b"config:\n  aws: {bucket: {}}\n",
            "acme-atlas:aws: a key of the project's namespace (acme-atlas), which the program "
            "does not read: write atlas-continuity:<key>",
        ),
    ],
    ids=[
        "project-not-yaml",
        "project-a-list",
        "project-not-utf8",
        "project-config-dir-a-list",
        "project-without-name",
        "project-name-pulumi-refuses",
        "stack-not-yaml",
        "stack-a-list",
        "stack-not-utf8",
        "stack-config-a-list",
        "stack-number-too-long",
        "stack-value-contains-itself",
        "stack-key-twice",
        "stack-aliases-expand-to-billions",
        "stack-value-not-a-number",
        "stack-value-of-an-explicit-yaml-tag",
        "stack-larger-than-a-mebibyte",
        "stack-key-twice-in-one-mapping",
        "stack-key-of-the-project",
    ],
)
def test_a_broken_project_or_stack_file_exits_bad_input_naming_it(
    manifest, stack, message, tmp_path
):
    r = cli("plan", "--stack", "t", "--project-dir", raw_project(tmp_path, stack, manifest))
    assert (r.code, r.out) == (ExitCode.BAD_INPUT, ""), r.err
    assert message in r.err
    assert len(r.err.splitlines()) == 1, r.err  # one line, no traceback


def test_a_file_the_system_cannot_open_is_an_error_object_with_json(tmp_path):
    folder = "s" * 300  # longer than a file name may be
    manifest = b"name: acme-atlas\nruntime: python\nstackConfigDir: %s\n" % folder.encode()
    r = cli(
        "plan",
        "--stack",
        "t",
        "--project-dir",
        raw_project(tmp_path, GOOD_STACK, manifest),
        "--json",
    )
    assert r.code == ExitCode.BAD_INPUT
    error = json.loads(r.out)["error"]
    assert error["message"] == f"{tmp_path / folder / 'Pulumi.t.yaml'}: File name too long"
    assert error["exit_code"] == ExitCode.BAD_INPUT


def planned(tmp_path: Path, stack: bytes, manifest: bytes | None = None) -> dict:
    r = cli(
        "plan", "--stack", "t", "--project-dir", raw_project(tmp_path, stack, manifest), "--json"
    )
    assert r.code == 0, r.err
    return json.loads(r.out)


def bucket_tags(report: dict) -> dict:
    (bucket,) = [r for r in report["resources"] if r["type"] == "aws:s3/bucket:Bucket"]
    return bucket["inputs"]["tags"]


def test_a_value_that_looks_like_a_date_is_a_string_as_pulumi_reads_it(tmp_path):
    report = planned(
        tmp_path,
        b"config:\n  aws:region: eu-west-1\n  atlas-continuity:repo: 2024-05-01\n"
        b"  atlas-continuity:aws:\n"
        b"    bucket: {bucket_name: acme-backup, tags: {created: 2024-05-01}}\n",
    )
    assert bucket_tags(report) == {"created": "2024-05-01"}
    assert 'name   = "2024-05-01"' in report["outputs"]["atlas_hcl_repo"]


def test_a_repository_named_like_a_number_is_a_name(tmp_path):
    report = planned(
        tmp_path,
        b'config:\n  aws:region: eu-west-1\n  atlas-continuity:repo: "2024"\n'
        b"  atlas-continuity:aws: {bucket: {bucket_name: acme-backup}}\n",
    )
    assert 'name   = "2024"' in report["outputs"]["atlas_hcl_repo"]


def test_a_secret_at_any_depth_stands_as_secret(tmp_path):
    report = planned(
        tmp_path,
        b"config:\n  atlas-continuity:aws:\n    bucket:\n"
        b"      tags: {token: {secure: v1:AAAABBBB}}\n",
    )
    assert bucket_tags(report) == {"token": "[secret]"}


def test_a_secret_the_program_checks_is_said_to_be_unreadable_offline(tmp_path):
    stack = b"config:\n  atlas-continuity:aws:\n    bucket: {bucket_name: {secure: v1:AAAA}}\n"
    r = cli("plan", "--stack", "t", "--project-dir", raw_project(tmp_path, stack))
    assert r.code == ExitCode.BAD_INPUT
    assert "bucket_name '[secret]' is not an S3 bucket name" in r.err
    assert "([secret] stands for a secure: value, which an offline plan cannot decrypt" in r.err


def test_keys_without_a_namespace_are_the_project_s_as_pulumi_reads_them(tmp_path):
    """In a project named atlas-continuity (this repository), ``repo`` is
    atlas-continuity:repo: pulumi up would deploy it, and so the plan shows it."""
    report = planned(
        tmp_path,
        b"config:\n  repo: svc\n  aws: {bucket: {bucket_name: acme-backup}}\n"
        b"  aws:region: eu-west-1\n",
        b"name: atlas-continuity\nruntime: python\nstackConfigDir: stacks\n",
    )
    assert report["counts"]["aws:s3/bucket:Bucket"] == 1
    assert 'name   = "svc"' in report["outputs"]["atlas_hcl_repo"]


def test_the_shell_s_pulumi_config_does_not_leak_into_the_plan(monkeypatch, tmp_path):
    """pulumi up passes config in PULUMI_CONFIG variables; a plan of a stack file reads the
    file alone, and leaves the variables as they were."""
    leaked = {"atlas-continuity:gcp": json.dumps({"bucket": {"location": "EU"}})}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(leaked))
    monkeypatch.setenv("PULUMI_CONFIG_ATLAS_CONTINUITY_REPO", "leaked")
    report = planned(
        tmp_path,
        b"config:\n  aws:region: eu-west-1\n"
        b"  atlas-continuity:aws: {bucket: {bucket_name: acme-backup}}\n",
    )
    assert not [t for t in report["counts"] if t.startswith("gcp:")]
    assert 'name   = "app"' in report["outputs"]["atlas_hcl_repo"]
    assert os.environ["PULUMI_CONFIG_ATLAS_CONTINUITY_REPO"] == "leaked"
    assert json.loads(os.environ["PULUMI_CONFIG"]) == leaked


def test_a_failed_plan_leaves_no_event_loop_to_complain_at_exit(tmp_path):
    """A component that refuses its args leaves registrations pending: their loops are
    closed, so the process prints its one error line and nothing at exit."""
    project = raw_project(
        tmp_path,
        b"config:\n  atlas-continuity:aws:\n"
        b"    readers: {prod: {namespace: Bad_NS, service_account: op}}\n",
    )
    command = ["plan", "--stack", "t", "--project-dir", str(project)]
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "always::ResourceWarning",
            "-m",
            "atlas_continuity.runtime",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == ExitCode.BAD_INPUT
    assert proc.stderr.splitlines() == [
        "atlas-continuity: error: atlas-continuity:aws.readers.prod: namespace 'Bad_NS' is not "
        "a Kubernetes namespace name (RFC 1123)"
    ]


def test_an_internal_error_is_one_line_and_json_with_json(monkeypatch):
    from atlas_continuity.infra import plan

    def broken(*args, **kwargs):
        raise KeyError("a-config-value")

    monkeypatch.setattr(plan, "run_program", broken)
    r = cli("plan", "--stack", "dev", "--project-dir", ROOT, "--json")
    assert r.code == ExitCode.INTERNAL
    assert json.loads(r.out) == {
        "error": {
            "message": "internal error while planning: KeyError (please report it; -vv shows "
            "the traceback)",
            "kind": "PlanFailed",
            "exit_code": 1,
        }
    }
    assert "a-config-value" not in r.out + r.err


def test_the_json_shape_is_versioned_and_documented():
    """Every field of the JSON plan, and of each of its resources, is in the docs' tables."""
    report = json.loads(cli("plan", "--stack", "dev", "--project-dir", ROOT, "--json").out)
    assert report["format_version"] == 1
    text = (ROOT / "docs" / "infra-plan.md").read_text()
    section = text[text.index("## The offline plan as JSON") :]
    plan_table, resource_table = section.split("Each resource:", 1)

    def fields(table: str) -> set[str]:
        rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
        return {name for row in rows for name in re.findall(r"`(\w+)`", row)}

    assert fields(plan_table) == set(report)
    assert fields(resource_table) == set(report["resources"][0])


@pytest.mark.parametrize(
    ("stack", "code", "message"),
    [
        ("dev", ExitCode.OK, ""),  # AWS alone: nothing of GCP, Azure or Kubernetes imported
        (
            "staging",
            ExitCode.BAD_INPUT,
            "atlas-continuity:gcp needs the gcp components, and pulumi_gcp is not installed: "
            "pip install 'atlas-continuity[gcp]'",
        ),
    ],
)
def test_a_plan_needs_the_extras_of_the_clouds_it_configures_only(stack, code, message):
    program = (
        "import sys\n"
        "for sdk in ('pulumi_gcp', 'pulumi_azure_native', 'pulumi_kubernetes'):\n"
        "    sys.modules[sdk] = None  # as if only the aws extra were installed\n"
        "from atlas_continuity.runtime.cli import main\n"
        f"sys.exit(main(['plan', '--stack', {stack!r}, '--project-dir', {str(ROOT)!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr


def test_without_pulumi_the_command_names_the_extra_to_install():
    code = (
        "import sys\n"
        "sys.modules['pulumi'] = None  # as if the infra extras were not installed\n"
        "from atlas_continuity.runtime.cli import main\n"
        f"sys.exit(main(['plan', '--stack', 'dev', '--project-dir', {str(ROOT)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stderr
    assert "pip install 'atlas-continuity[all]'" in proc.stderr
    assert "pulumi is not installed" in proc.stderr


def test_help_imports_nothing_but_the_runtime_s_command_line():
    """What keeps --help fast, asserted on what it imports (a time limit fails under load):
    outside the standard library, the runtime's command line modules only; no Pulumi, no
    YAML, no cloud SDK, nothing of infra."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "from atlas_continuity.runtime.cli import main\n"
        "try:\n    main(['plan', '--help'])\nexcept SystemExit:\n    pass\n"
        "new = set(sys.modules) - before\n"
        "print(json.dumps(sorted(m for m in new if m.split('.')[0] not in "
        "sys.stdlib_module_names)), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    imported = json.loads(r.stderr)
    assert "atlas_continuity.runtime.cli.plan" in imported
    assert [m for m in imported if not m.startswith("atlas_continuity.runtime")] == [
        "atlas_continuity"
    ]
    assert "not a diff against deployed state" in " ".join(r.stdout.split())


def test_the_plan_sends_nothing_anywhere(monkeypatch):
    """No name is looked up and no socket connects while the plan runs: each attempt is
    recorded, and refused."""
    import socket

    attempts: list[tuple] = []

    def refuse(what: str):
        def spy(*args, **kwargs):
            attempts.append((what, args))
            raise OSError(f"the plan tried {what}")

        return spy

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    r = cli("plan", "--stack", "staging", "--project-dir", ROOT)
    assert r.code == 0, r.err
    assert attempts == []
