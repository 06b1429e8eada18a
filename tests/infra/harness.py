"""The components under the Pulumi SDK's mocks, with a fake cloud that answers what they ask.

The machinery is the package's own (``atlas_continuity.infra.offline``, which ``atlas-continuity
plan`` runs too); this module adds a cloud that fills in what AWS, GCP and Azure would compute
(ARNs, project numbers, client IDs) for a fixed account, so tests can assert on them.
``deploy(build)`` runs ``build()`` (which constructs components) and returns a
:class:`Deployment`: every resource registered (type token, name, inputs, the state the mock
cloud answered with, URN, parent), the outputs each component registered, and the components'
output attributes, resolved. ``run_program(config)`` runs the stack program (infra/program.py)
the same way with a stack's config. Tests assert on those declared inputs, not on strings in
the source.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pulumi

from atlas_continuity.infra import offline
from atlas_continuity.infra.offline import Declared, Deployment, Mocks

__all__ = ["Declared", "Deployment", "deploy", "run_program"]

with warnings.catch_warnings():
    # pulumi_aws.s3 warns, on import, about its own deprecated *V2 aliases, which the
    # components do not use (test_conventions checks the declared types).
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_aws

    pulumi_aws.s3.Bucket  # noqa: B018  (the SDK loads modules lazily: this loads s3)
    # pulumi_gcp.storage warns, on import, about a misspelt function of its own.
    import pulumi_gcp

    pulumi_gcp.storage.Bucket  # noqa: B018

ACCOUNT = "123456789012"
REGION = "us-east-1"
GCP_PROJECT = "atlas-test"
GCP_PROJECT_NUMBER = "210987654321"
GCS_AGENT = f"service-{GCP_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
AZURE_SUBSCRIPTION = "00000000-0000-4000-8000-0000000000a1"
AZURE_TENANT = "00000000-0000-4000-8000-0000000000a2"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


class RecordingMocks(Mocks):
    """The test suite's fake cloud: it fills in the computed outputs each cloud would return
    (names, ARNs, resource IDs, emails, client IDs) for the fixed account and projects above."""

    def answer(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str, dict]:
        region = args.inputs.get("region") or "us-east-1"
        if args.typ == "aws:s3/bucket:Bucket":
            bucket = args.inputs.get("bucket") or f"{args.name}-5d1e7a9"
            state.update(
                bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegion=region, region=region
            )
        elif args.typ == "aws:kms/key:Key":
            state["arn"] = KEY_ARN
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = args.inputs["url"].removeprefix("https://")
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
        elif args.typ == "aws:iam/role:Role":
            name = args.inputs.get("name") or f"{args.name}-9f8e7d6"
            state.update(name=name, arn=f"arn:aws:iam::{ACCOUNT}:role/{name}")
            return name, state
        elif args.typ == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            state["associationId"] = "a-0123456789abcdef0"
        elif args.typ.startswith("gcp:"):
            return self._gcp(args, state)
        elif args.typ.startswith("azure-native:"):
            return self._azure(args, state)
        return f"{args.name}-id", state

    def _gcp(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str, dict]:
        project = args.inputs.get("project") or GCP_PROJECT
        if args.typ == "gcp:storage/bucket:Bucket":
            name = args.inputs.get("name") or f"{args.name}-5d1e7a9"
            state.update(name=name, url=f"gs://{name}", project=project)
            return name, state
        if args.typ == "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
            pool = args.inputs["workloadIdentityPoolId"]
            name = f"projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{pool}"
            state.update(name=name)
            return name, state
        if args.typ == "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
            name = (
                f"projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
                f"{args.inputs['workloadIdentityPoolId']}/providers/"
                f"{args.inputs['workloadIdentityPoolProviderId']}"
            )
            state.update(name=name)
            return name, state
        if args.typ == "gcp:serviceaccount/account:Account":
            email = f"{args.inputs['accountId']}@{project}.iam.gserviceaccount.com"
            name = f"projects/{project}/serviceAccounts/{email}"
            state.update(email=email, name=name, member=f"serviceAccount:{email}")
            return name, state
        if args.typ == "gcp:projects/iAMCustomRole:IAMCustomRole":
            name = f"projects/{project}/roles/{args.inputs['roleId']}"
            state.update(name=name)
            return name, state
        return f"{args.name}-id", state

    def _azure(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str, dict]:
        group = args.inputs.get("resourceGroupName", "rg")
        base = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{group}/providers"
        if args.typ == "azure-native:storage:StorageAccount":
            account = args.inputs.get("accountName") or f"{args.name.replace('-', '')}5d1e7a9"
            rid = f"{base}/Microsoft.Storage/storageAccounts/{account}"
            state.update(name=account, id=rid)
            if "identity" in state:  # a list going in, a map by identity ID coming out
                ids = state["identity"].get("userAssignedIdentities") or []
                state["identity"] = {
                    **state["identity"],
                    "userAssignedIdentities": {i: {} for i in ids},
                }
            return rid, state
        if args.typ == "azure-native:storage:BlobContainer":
            container = args.inputs.get("containerName") or f"{args.name}-5d1e7a9"
            rid = (
                f"{base}/Microsoft.Storage/storageAccounts/{args.inputs['accountName']}"
                f"/blobServices/default/containers/{container}"
            )
            state.update(name=container, id=rid)
            return rid, state
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            identity = args.inputs.get("resourceName") or f"{args.name}-5d1e7a9"
            rid = f"{base}/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}"
            digest = hashlib.sha256(rid.encode()).hexdigest()
            state.update(
                name=identity,
                id=rid,
                clientId=str(uuid.UUID(digest[:32])),
                principalId=str(uuid.UUID(digest[32:])),
                tenantId=AZURE_TENANT,
            )
            return rid, state
        if args.typ == "azure-native:authorization:RoleDefinition":
            guid = args.inputs.get("roleDefinitionId") or str(
                uuid.UUID(hashlib.sha256(args.name.encode()).hexdigest()[:32])
            )
            rid = f"{args.inputs['scope']}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            state.update(id=rid, name=guid)
            return rid, state
        return f"{args.name}-id", state

    def invoke(self, args: pulumi.runtime.MockCallArgs) -> dict:
        """The provider invokes the components make, answered as AWS would for ACCOUNT."""
        return {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                "userId": "AIDAEXAMPLE",
                "id": ACCOUNT,
            },
            "aws:index/getRegion:getRegion": {"region": REGION, "name": REGION, "id": REGION},
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
            "gcp:organizations/getProject:getProject": {
                "projectId": args.args.get("projectId") or GCP_PROJECT,
                "number": GCP_PROJECT_NUMBER,
                "name": "atlas test",
                "id": f"projects/{args.args.get('projectId') or GCP_PROJECT}",
            },
            "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
                "emailAddress": GCS_AGENT,
                "member": f"serviceAccount:{GCS_AGENT}",
                "project": GCP_PROJECT,
                "id": GCP_PROJECT,
            },
            "azure-native:authorization:getClientConfig": {
                "clientId": "00000000-0000-4000-8000-0000000000c1",
                "objectId": "00000000-0000-4000-8000-0000000000c2",
                "subscriptionId": AZURE_SUBSCRIPTION,
                "tenantId": AZURE_TENANT,
            },
        }.get(args.token, {})


def deploy(build: Callable[[], dict[str, pulumi.Resource]]) -> Deployment:
    """Run ``build`` under the fake cloud; it returns the components to resolve, by label."""
    return offline.deploy(build, RecordingMocks())


def run_program(config: dict[str, Any], monkeypatch=None) -> tuple[Deployment, dict[str, Any]]:
    """Run the stack program under the fake cloud with ``config`` (as in a stack file); return
    what it declared and what it exported, resolved."""
    d = offline.run_program(config, RecordingMocks())
    return d, d.exports
