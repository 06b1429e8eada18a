"""The stack program composes the components from a stack's config file (stacks/)."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from atlas_continuity.infra import program
from atlas_continuity.runtime.config import config_path, load_env
from devtools.emulators import ROOT
from tests.infra.harness import deploy

EXAMPLE = ROOT / "stacks" / "Pulumi.dev.yaml"


@pytest.fixture(autouse=True)
def _clean_config():
    yield
    pulumi.runtime.set_all_config({})  # config is process-wide in the SDK


def run(config: dict, monkeypatch) -> tuple:
    """Run the program under mocks with ``config`` (as in a stack file); return what it
    declared and what it exported, resolved."""
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )
    exported: dict = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))

    def build():
        program.main()
        return {}

    d = deploy(lambda: build())
    resolved: dict = {}

    @pulumi.runtime.test
    def collect():
        return pulumi.Output.all(**exported).apply(resolved.update)

    collect()
    return d, resolved


def test_the_example_stack_declares_bucket_writer_and_reader(monkeypatch):
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    d, exported = run(config, monkeypatch)
    types = [r.type for r in d.resources if r.type.startswith("atlas-continuity:index:")]
    assert sorted(types) == [
        "atlas-continuity:index:AwsCiWriterRole",
        "atlas-continuity:index:EksReaderRole",
        "atlas-continuity:index:S3BackupBucket",
    ]
    (url,) = exported["backup_urls"]
    bucket = exported["aws_bucket"]
    assert url == exported["store_url"] == f"s3://{bucket}/atlas?region=us-east-1"
    assert set(exported["aws_ci_role_arns"]) == {"github-main"}
    assert set(exported["aws_reader_role_arns"]) == {"prod"}
    # Everything a ci init template asks for, per CI writer, from the outputs alone.
    assert exported["ci_variables"] == {
        "github-main": {
            "ATLAS_GRANT_STORE": url,
            "AWS_ROLE_ARN": exported["aws_ci_role_arns"]["github-main"],
            "AWS_REGION": "us-east-1",
        }
    }
    # The roles are scoped to the bucket's prefix and key, wired by the program.
    policies = [r.policy() for r in d.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert all(
        any(f":::{bucket}/atlas/*" in str(s.get("Resource")) for s in p["Statement"])
        for p in policies
    )


def test_the_atlas_hcl_block_loads_through_config_with_the_backup_list(monkeypatch, tmp_path):
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    _, exported = run(config, monkeypatch)
    block = exported["atlas_hcl_repo"]
    atlas_hcl = tmp_path / "atlas.hcl"
    atlas_hcl.write_text(
        'env "prod" {\n  migration {\n'
        + "".join(f"    {line}\n" for line in block.splitlines())
        + "  }\n}\n"
    )
    env = load_env(config_path(f"file://{atlas_hcl}"), "prod", {})
    assert (env.repo, env.primary, list(env.backups)) == ("app", None, exported["backup_urls"])


def test_no_cloud_configured_declares_nothing(monkeypatch):
    d, exported = run({"atlas-continuity:repo": "svc"}, monkeypatch)
    assert d.resources == []
    assert exported["backup_urls"] == []


@pytest.mark.parametrize(
    ("aws", "message"),
    [
        ({"buckets": {}}, "unknown keys"),
        ({"ci_writers": {"x": {"bucket_arn": "arn:aws:s3:::other"}}}, "come from the bucket"),
        ({"readers": []}, "must be a mapping"),
    ],
)
def test_config_mistakes_are_refused_with_the_key(aws, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        run({"atlas-continuity:aws": aws}, monkeypatch)
