"""The stack program composes the components from a stack's config file (stacks/)."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from atlas_continuity.infra import program
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
    assert url.startswith("s3://") and url.endswith("/registry?region=us-east-1")
    assert (
        f'"{url}",' in exported["atlas_hcl_repo"] and 'name   = "app"' in exported["atlas_hcl_repo"]
    )
    assert set(exported["aws_ci_role_arns"]) == {"github-main"}
    assert set(exported["aws_reader_role_arns"]) == {"prod"}
    # The roles are scoped to the bucket's prefix and key, wired by the program.
    policies = [r.policy() for r in d.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert all(
        any("/registry/*" in str(s.get("Resource")) for s in p["Statement"]) for p in policies
    )


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
