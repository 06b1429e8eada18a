"""The example stacks (stacks/Pulumi.*.yaml), each planned as ``atlas-continuity plan`` plans
it: offline, under mocks that know only what the stack's config says.

Each stack's resources are counted per type, and the counts are built from what each
component declares, so a change in any component or stack shows up here by name.
"""

from __future__ import annotations

from collections import Counter

import pytest

from atlas_continuity.infra.offline import UNKNOWN
from atlas_continuity.infra.plan import plan_stack
from devtools.emulators import ROOT
from tests.helpers import env_with_repo_block

STACKS = sorted(
    p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
)
INDEX = "atlas-continuity:index:"

S3_BUCKET = Counter(
    {
        f"{INDEX}S3BackupBucket": 1,
        "aws:s3/bucket:Bucket": 1,
        "aws:kms/key:Key": 1,  # create_kms_key in every example
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketVersioning:BucketVersioning": 1,
    }
)
AWS_WRITER = Counter(
    {f"{INDEX}AwsCiWriterRole": 1, "aws:iam/role:Role": 1, "aws:iam/rolePolicy:RolePolicy": 1}
)
OIDC_PROVIDER = Counter({"aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1})
EKS_READER_WITH_GRANT_WRITER = Counter(
    {
        f"{INDEX}EksReaderRole": 1,
        "aws:iam/role:Role": 2,
        "aws:iam/rolePolicy:RolePolicy": 2,
        "aws:eks/podIdentityAssociation:PodIdentityAssociation": 2,
    }
)
GCS_BUCKET = Counter({f"{INDEX}GcsBackupBucket": 1, "gcp:storage/bucket:Bucket": 1})
GCP_WRITER_WITH_POOL = Counter(
    {
        f"{INDEX}GcpCiWriterIdentity": 1,
        "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": 1,
        "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": 1,
        # read, create, and replace (Atlas's own backups): a custom role and a binding each
        "gcp:projects/iAMCustomRole:IAMCustomRole": 3,
        "gcp:storage/bucketIAMMember:BucketIAMMember": 3,
    }
)
GKE_READER_WITH_GRANT_WRITER = Counter(
    {
        f"{INDEX}GkeReaderIdentity": 1,
        # the reader's read; the grant writer's read and create
        "gcp:projects/iAMCustomRole:IAMCustomRole": 3,
        "gcp:storage/bucketIAMMember:BucketIAMMember": 3,
    }
)
AZURE_CONTAINER = Counter(
    {
        f"{INDEX}AzureBackupContainer": 1,
        "azure-native:storage:StorageAccount": 1,
        "azure-native:storage:BlobServiceProperties": 1,
        "azure-native:storage:BlobContainer": 1,
        "azure-native:storage:ManagementPolicy": 1,
    }
)
AZURE_WRITER = Counter(
    {
        f"{INDEX}AzureCiWriterIdentity": 1,
        "azure-native:authorization:RoleDefinition": 1,
        "azure-native:managedidentity:UserAssignedIdentity": 1,
        "azure-native:managedidentity:FederatedIdentityCredential": 1,
        "azure-native:authorization:RoleAssignment": 1,
    }
)
OPERATOR_BACKED_UP = Counter(
    {
        f"{INDEX}AtlasOperator": 1,
        "kubernetes:core/v1:Namespace": 1,
        "kubernetes:core/v1:PersistentVolumeClaim": 1,
        "kubernetes:core/v1:ServiceAccount": 1,
        "kubernetes:batch/v1:CronJob": 1,
        "kubernetes:batch/v1:Job": 1,
        "kubernetes:helm.sh/v3:Release": 1,
    }
)
PLAN = Counter({f"{INDEX}ContinuityPlan": 1})


def times(n: int, counter: Counter) -> Counter:
    return Counter({k: v * n for k, v in counter.items()})


EXPECTED = {
    # one cloud: a bucket and the two GitHub subjects' roles, one sharing the other's provider
    "dev": PLAN + S3_BUCKET + times(2, AWS_WRITER) + OIDC_PROVIDER,
    "staging": PLAN
    # GitHub (two subjects) and GitLab (one): two issuers, two providers
    + S3_BUCKET
    + times(3, AWS_WRITER)
    + times(2, OIDC_PROVIDER)
    + GCS_BUCKET
    + GCP_WRITER_WITH_POOL
    + GKE_READER_WITH_GRANT_WRITER
    + AZURE_CONTAINER
    + AZURE_WRITER
    + OPERATOR_BACKED_UP,
    "prod": PLAN
    + S3_BUCKET
    + Counter({"aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": 1})
    + times(3, AWS_WRITER)
    + times(2, OIDC_PROVIDER)
    + EKS_READER_WITH_GRANT_WRITER
    + GCS_BUCKET
    + times(3, GCP_WRITER_WITH_POOL)
    + AZURE_CONTAINER
    + Counter({"azure-native:storage:BlobContainerImmutabilityPolicy": 1})
    + times(3, AZURE_WRITER)
    + OPERATOR_BACKED_UP,
}


@pytest.fixture(scope="module")
def plans():
    return {stack: plan_stack(stack, ROOT) for stack in STACKS}


def test_the_examples_are_dev_staging_and_prod():
    assert STACKS == ["dev", "prod", "staging"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_plans_with_the_resources_it_should(stack, plans):
    plan = plans[stack]
    assert plan.deployment.counts() == dict(sorted(EXPECTED[stack].items()))
    assert plan.deployment.warnings == []  # every job of every template has its identity


def test_dev_is_one_cloud_without_kubernetes(plans):
    types = {r.type for r in plans["dev"].deployment.resources}
    assert not [t for t in types if t.startswith(("gcp:", "azure-native:", "kubernetes:"))]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_use_three_clouds_two_ci_providers_and_the_operator(stack, plans):
    exports = plans[stack].deployment.exports
    assert {"aws_store_url", "gcp_store_url", "azure_store_url"} <= set(exports)
    assert {"github", "gitlab"} <= set(exports["ci_identities"])
    assert exports["operator_release"] == "atlas-operator"


def test_the_plan_components_keep_their_names_and_alias_where_they_were(plans):
    """Before ContinuityPlan, the program declared its components at the stack's top by these
    names: each is now the plan's child by the same name, aliased to its URN from then."""
    components = [r for r in plans["prod"].deployment.resources if r.is_component]
    (plan,) = [r for r in components if r.type == f"{INDEX}ContinuityPlan"]
    children = {r.name: r for r in components if r.parent == plan.urn}
    assert {"aws-backup", "gcp-ci-github-main", "azure-backup", "atlas-operator"} <= set(children)
    for name, child in children.items():
        if child.type == f"{INDEX}AtlasOperator":  # new in the plan: nothing to alias
            assert child.aliases == []
        else:
            assert child.aliases == [f"urn:pulumi:prod::atlas-continuity::{child.type}::{name}"]


def test_the_prod_operator_is_wired_to_the_eks_reader_and_the_s3_store(plans):
    d = plans["prod"].deployment
    (release,) = d.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["namespace"] == "atlas-operator"
    assert release.inputs["values"]["serviceAccount"]["name"] == "atlas-operator"
    (cron,) = d.of_type("kubernetes:batch/v1:CronJob")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "atlas-continuity-grants"
    command = pod["containers"][0]["command"]
    assert command[5] == d.exports["aws_store_url"]
    assert command[6] == "prod-eks"
    (claim,) = d.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claim.protect and claim.retain_on_delete
    # The EKS reader binds both service accounts the operator's side uses.
    associations = d.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert {a.inputs["serviceAccount"] for a in associations} == {
        "atlas-operator",
        "atlas-continuity-grants",
    }


def test_the_prod_atlas_hcl_block_loads_through_config_with_its_backup_list(plans, tmp_path):
    """prod pins its names, so the block is known before anything exists."""
    exports = plans["prod"].deployment.exports
    block = exports["atlas_hcl_repo"]
    assert block is not UNKNOWN
    env = env_with_repo_block(block, tmp_path)
    assert env.repo == "app"
    assert (
        list(env.backups)
        == exports["backup_urls"]
        == [
            "s3://acme-atlas-prod-backup/atlas?region=us-east-1",
            "gs://acme-atlas-prod-backup/atlas",
            "azureblob://atlas-backup/atlas?storage_account=acmeatlasprodbackup",
        ]
    )


def test_what_only_the_cloud_knows_stays_unknown_offline(plans):
    exports = plans["dev"].deployment.exports
    assert exports["aws_ci_role_arns"] == {"github-main": UNKNOWN, "github-production": UNKNOWN}
    assert exports["ci_variables"]["github"]["acme/db"]["variables"]["AWS_REGION"] == "us-east-1"
