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


THREE_CLOUDS = {
    "atlas-continuity:repo": "app",
    "atlas-continuity:aws": {
        "bucket": {},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "create_oidc_provider": True,
            }
        },
    },
    "atlas-continuity:gcp": {
        "bucket": {"location": "EU"},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "create_workload_identity_pool": True,
            }
        },
        "readers": {"prod": {"namespace": "atlas", "service_account": "op"}},
    },
    "atlas-continuity:azure": {
        "container": {"resource_group_name": "atlas"},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "resource_group_name": "atlas",
            }
        },
        "readers": {
            "prod": {
                "namespace": "atlas",
                "service_account": "op",
                "oidc_issuer_url": "https://issuer.example/x/",
                "resource_group_name": "atlas",
            }
        },
    },
}


def test_three_clouds_list_their_stores_in_order_and_merge_the_ci_variables(monkeypatch):
    d, exported = run(THREE_CLOUDS, monkeypatch)
    urls = exported["backup_urls"]
    assert urls == [
        exported["aws_store_url"],
        exported["gcp_store_url"],
        exported["azure_store_url"],
    ]
    assert [u.split("://")[0] for u in urls] == ["s3", "gs", "azureblob"]
    assert exported["store_url"] == urls[0]
    variables = exported["ci_variables"]["main"]
    assert variables["ATLAS_GRANT_STORE"] == urls[0]
    assert variables["AWS_ROLE_ARN"] == exported["aws_ci_role_arns"]["main"]
    assert (
        variables["GCP_WORKLOAD_IDENTITY_PROVIDER"]
        == exported["gcp_ci_workload_identity_providers"]["main"]
    )
    assert variables["GCP_WORKLOAD_IDENTITY_AUDIENCE"].startswith(
        "https://iam.googleapis.com/projects/"
    )
    assert variables["AZURE_CLIENT_ID"] == exported["azure_ci_client_ids"]["main"]
    assert {"AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"} <= set(variables)
    # Each identity is wired to its own cloud's store.
    gcp_members = [r for r in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")]
    assert {m.inputs["bucket"] for m in gcp_members} == {exported["gcp_bucket"]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"atlas-continuity:gcp": {"bucket": {"location": "EU"}, "writers": {}}},
            r"gcp: unknown keys \['writers'\]",
        ),
        (
            {"atlas-continuity:gcp": {"bucket": {"locaton": "EU"}}},
            r"gcp.bucket: unknown keys \['locaton'\]",
        ),
        (
            {
                "atlas-continuity:azure": {
                    "container": {"resource_group_name": "a"},
                    "readers": {"x": {"container_id": "y"}},
                }
            },
            "come from the container",
        ),
        (
            {
                "atlas-continuity:gcp": {
                    "bucket": {"location": "EU"},
                    "ci_writers": {"x": {"provider": "github", "brnach": "main"}},
                }
            },
            r"gcp.ci_writers.x: unknown keys \['brnach'\]",
        ),
    ],
)
def test_gcp_and_azure_config_mistakes_are_refused_with_the_key(config, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        run(config, monkeypatch)
