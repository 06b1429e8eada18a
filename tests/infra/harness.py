"""Run the components (AWS, GCP, Azure) under the Pulumi SDK's mocks and record what they declare.

``deploy(build)`` runs ``build()`` (which constructs components) in a mocked Pulumi program and
returns a :class:`Deployment`: every resource registered (type token, name, inputs, the state
the mock cloud answered with, URN), the outputs each component registered, and the components'
output attributes, resolved. ``run_program(config)`` runs the stack program (infra/program.py)
the same way with a stack's config. Tests assert on those declared inputs, not on strings in
the source.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc, settings

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


@dataclass
class Declared:
    """One resource the program registered with the (mock) engine."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    protect: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    """What the mock cloud answered: the inputs plus computed outputs (an ARN, a name)."""

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A JSON policy input, parsed."""
        return json.loads(self.inputs[key])


@dataclass
class Deployment:
    resources: list[Declared] = field(default_factory=list)
    registered_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Declared:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def none(self, type_: str) -> None:
        assert not self.of_type(type_), f"unexpected {type_}"

    def protected(self, type_: str) -> bool:
        """Whether the one resource of ``type_`` was declared with ``protect``."""
        return self.one(type_).protect


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and fill in the computed outputs each cloud would
    return (names, ARNs, resource IDs, emails, client IDs)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        self.deployment.resources.append(
            Declared(args.typ, args.name, dict(args.inputs), state=state)
        )
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

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
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
    """Run ``build`` under mocks; it returns the components to resolve, by label."""
    deployment = Deployment()
    pulumi.runtime.set_mocks(
        RecordingMocks(deployment), project="atlas", stack="test", preview=False
    )
    monitor = settings.get_monitor()
    register_outputs = monitor.RegisterResourceOutputs

    def spy(request):
        outputs = rpc.deserialize_properties(request.outputs)
        deployment.registered_outputs[request.urn] = dict(outputs)
        return register_outputs(request)

    monitor.RegisterResourceOutputs = spy
    register_resource = monitor.RegisterResource
    protected: set[str] = set()

    def record_protect(request):
        if request.protect:
            protected.add(request.name)
        return register_resource(request)

    monitor.RegisterResource = record_protect

    @pulumi.runtime.test
    def program():
        components = build()
        resolved = {}
        for label, component in components.items():
            names = [n for n in type(component).__annotations__ if not n.startswith("_")]
            resolved[label] = pulumi.Output.all(
                **{n: getattr(component, n) for n in names}, urn=component.urn
            )
        return pulumi.Output.all(**resolved).apply(deployment.outputs.update)

    program()
    # The URN of each resource, from the mock engine's registrations (name -> URN).
    urns = {urn.rsplit("::", 1)[1]: urn for urn in monitor.resources}
    for resource in deployment.resources:
        resource.urn = urns.get(resource.name, "")
        resource.protect = resource.name in protected
    return deployment


def run_program(config: dict[str, Any], monkeypatch) -> tuple[Deployment, dict[str, Any]]:
    """Run the stack program under mocks with ``config`` (as in a stack file); return what it
    declared and what it exported, resolved."""
    from atlas_continuity.infra import program

    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    )
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))

    def build():
        program.main()
        return {}

    d = deploy(build)
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def collect():
        return pulumi.Output.all(**exported).apply(resolved.update)

    collect()
    return d, resolved
