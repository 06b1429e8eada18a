"""Run the AWS components under the Pulumi SDK's mocks and record what they declare.

``deploy(build)`` runs ``build()`` (which constructs components) in a mocked Pulumi program and
returns a :class:`Deployment`: every resource registered (type token, name, inputs, the state
the mock cloud answered with, URN), the outputs each component registered, and the components'
output attributes, resolved. ``run_program(config)`` runs the stack program (infra/program.py)
the same way with a stack's config. Tests assert on those declared inputs, not on strings in
the source.
"""

from __future__ import annotations

import json
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

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@dataclass
class Declared:
    """One resource the program registered with the (mock) engine."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
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


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and fill in the computed outputs AWS would return."""

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
