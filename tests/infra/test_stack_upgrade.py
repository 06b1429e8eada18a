"""A stack deployed with the 0.2 program (components at the stack's top) upgrades to
ContinuityPlan in place: same URNs through aliases, same physical names."""

from __future__ import annotations

import pytest

from tests.infra.harness import Deployment, deploy
from tests.infra.harness import run_program as run
from tests.infra.test_stack_program import THREE_CLOUDS

pytestmark = pytest.mark.usefixtures("clean_pulumi_config")

PHYSICAL_NAMES = {
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": "workloadIdentityPoolId",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": (
        "workloadIdentityPoolProviderId"
    ),
    "gcp:serviceaccount/account:Account": "accountId",
    "gcp:projects/iAMCustomRole:IAMCustomRole": "roleId",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:authorization:RoleDefinition": "roleName",
}
"""The names of the resources whose ID the component derives from its own name (Pulumi
cannot autoname them): a change replaces the resource."""

UPGRADED = {
    "atlas-continuity:aws": THREE_CLOUDS["atlas-continuity:aws"],
    "atlas-continuity:gcp": {
        "bucket": {"location": "EU"},
        "ci_writers": {
            "github-main": {
                **THREE_CLOUDS["atlas-continuity:gcp"]["ci_writers"]["main"],
                "service_account": True,
            }
        },
        "readers": {
            "prod": {
                "namespace": "atlas",
                "service_account": "op",
                "mode": "service-account",
                "grant_service_account": "grants",
            }
        },
    },
    "atlas-continuity:azure": {
        **THREE_CLOUDS["atlas-continuity:azure"],
        "readers": {
            "prod": {
                **THREE_CLOUDS["atlas-continuity:azure"]["readers"]["prod"],
                "grant_service_account": "grants",
            }
        },
    },
}


def as_declared_by_the_0_2_program(config: dict) -> Deployment:
    """What the stack program of 0.2 (before ContinuityPlan) declared for ``config``: each
    cloud's components at the stack's top, named ``<cloud>-backup``, ``<cloud>-ci-<writer>``
    and ``<cloud>-reader-<reader>``, the identities wired to the store."""
    from atlas_continuity.infra import aws, azure, gcp

    clouds = {
        "aws": (aws.S3BackupBucket, "bucket", aws.AwsCiWriterRole, aws.EksReaderRole),
        "gcp": (gcp.GcsBackupBucket, "bucket", gcp.GcpCiWriterIdentity, gcp.GkeReaderIdentity),
        "azure": (
            azure.AzureBackupContainer,
            "container",
            azure.AzureCiWriterIdentity,
            azure.AksReaderIdentity,
        ),
    }
    wiring = {
        "aws": lambda b: {"bucket_arn": b.bucket_arn, "prefix": b.prefix, "kms_key_arn": None},
        "gcp": lambda b: {"bucket_name": b.bucket_name, "prefix": b.prefix},
        "azure": lambda c: {"container_id": c.container_id, "prefix": c.prefix},
    }

    def build():
        for cloud, (store, key, writer, reader) in clouds.items():
            part = config[f"atlas-continuity:{cloud}"]
            wired = wiring[cloud](store(f"{cloud}-backup", part[key]))
            for name, args in part.get("ci_writers", {}).items():
                args = {k: v for k, v in args.items() if k != "jobs"}
                writer(f"{cloud}-ci-{name}", {**args, **wired})
            for name, args in part.get("readers", {}).items():
                reader(f"{cloud}-reader-{name}", {**args, **wired})
        return {}

    return deploy(build)


def test_a_stack_of_the_0_2_program_upgrades_without_replacing_anything(monkeypatch):
    before = as_declared_by_the_0_2_program(UPGRADED)
    after, _ = run(UPGRADED, monkeypatch)

    def physical(d: Deployment) -> dict[tuple[str, str], str]:
        return {
            (r.type, r.name): r.inputs[PHYSICAL_NAMES[r.type]]
            for r in d.resources
            if r.type in PHYSICAL_NAMES
        }

    names = physical(before)
    assert {type_ for type_, _ in names} == set(PHYSICAL_NAMES)  # every kind is compared
    assert physical(after) == names
    # Readable: the name says what it is, once (not atlas-atlas-continuity-gc-<hash>).
    pools = [v for (t, _), v in names.items() if t.endswith("WorkloadIdentityPool")]
    assert [p.rsplit("-", 1)[0] for p in pools] == ["atlas-gcp-ci-github-main"]
    assert not [v for v in names.values() if "continuity-atlas" in v or "atlas-atlas" in v]
    # Not a name only: every resource is declared as before, input for input.
    resources = {(r.type, r.name): r.inputs for r in before.resources if not r.is_component}
    assert {(r.type, r.name): r.inputs for r in after.resources if not r.is_component} == resources
    # Each component is the plan's child by its old name, aliased to its URN from then.
    for old in (r for r in before.resources if r.is_component):
        (moved,) = [r for r in after.resources if (r.type, r.name) == (old.type, old.name)]
        assert moved.aliases == [f"urn:pulumi:test::atlas::{old.type}::{old.name}"]
