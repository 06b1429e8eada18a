"""The component conventions every later component follows, checked on the AWS ones.

(name, args, opts); type token atlas-continuity:index:<Name>; TypedDict args and annotated
outputs that Pulumi's component analyzer accepts, each documented; children named
f"{name}-..." and parented to the component; outputs registered. And the import path: the
package needs the ``aws`` extra only.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import typing

import pulumi
import pytest
from pulumi.provider.experimental.analyzer import Analyzer

from atlas_continuity.infra import aws as package
from atlas_continuity.infra import azure as azure_package
from atlas_continuity.infra import gcp as gcp_package
from atlas_continuity.infra import kubernetes as kubernetes_package
from atlas_continuity.infra.aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
from atlas_continuity.infra.azure import (
    AksReaderIdentity,
    AzureBackupContainer,
    AzureCiWriterIdentity,
)
from atlas_continuity.infra.continuity_plan import ContinuityPlan
from atlas_continuity.infra.gcp import GcpCiWriterIdentity, GcsBackupBucket, GkeReaderIdentity
from atlas_continuity.infra.kubernetes import AtlasOperator
from tests.infra.harness import ACCOUNT, deploy

AWS_COMPONENTS = [S3BackupBucket, AwsCiWriterRole, EksReaderRole]
GCP_COMPONENTS = [GcsBackupBucket, GcpCiWriterIdentity, GkeReaderIdentity]
AZURE_COMPONENTS = [AzureBackupContainer, AzureCiWriterIdentity, AksReaderIdentity]
KUBERNETES_COMPONENTS = [AtlasOperator]
COMPONENTS = AWS_COMPONENTS + GCP_COMPONENTS + AZURE_COMPONENTS + KUBERNETES_COMPONENTS
ALL_COMPONENTS = [*COMPONENTS, ContinuityPlan]
"""With the plan that composes them (tests/infra/test_stacks.py declares it)."""
BUCKET_ARN = "arn:aws:s3:::acme-atlas-backup"


@pytest.fixture(scope="module")
def everything():
    """One of each component, with every optional child present."""

    def build():
        bucket = S3BackupBucket(
            "backup",
            {"create_kms_key": True, "object_lock_retention_days": 1, "access_log_bucket": "logs"},
        )
        writer = AwsCiWriterRole(
            "ci",
            {
                "provider": "github",
                "repository": "a/b",
                "branch": "main",
                "create_oidc_provider": True,
                "bucket_arn": bucket.bucket_arn,
                "kms_key_arn": bucket.kms_key_arn,
            },
        )
        pod = EksReaderRole(
            "operator",
            {
                "namespace": "atlas",
                "service_account": "op",
                "cluster_name": "prod",
                "bucket_arn": bucket.bucket_arn,
            },
        )
        irsa = EksReaderRole(
            "irsa",
            {
                "mode": "irsa",
                "namespace": "atlas",
                "service_account": "op",
                "oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks/id/1",
                "bucket_arn": BUCKET_ARN,
            },
        )
        gcs = GcsBackupBucket(
            "gcs",
            {"location": "EU", "kms_key_name": "projects/p/locations/eu/keyRings/r/cryptoKeys/k"},
        )
        gcpci = GcpCiWriterIdentity(
            "gcpci",
            {
                "provider": "github",
                "repository": "a/b",
                "branch": "main",
                "create_workload_identity_pool": True,
                "service_account": True,
                "bucket_name": gcs.bucket_name,
                "prefix": gcs.prefix,
            },
        )
        gke = GkeReaderIdentity(
            "gke",
            {
                "namespace": "atlas",
                "service_account": "op",
                "mode": "service-account",
                "bucket_name": gcs.bucket_name,
            },
        )
        box = AzureBackupContainer("box", {"resource_group_name": "rg", "immutability_days": 1})
        azci = AzureCiWriterIdentity(
            "azci",
            {
                "provider": "gitlab",
                "repository": "a/b",
                "branch": "main",
                "resource_group_name": "rg",
                "container_id": box.container_id,
            },
        )
        aks = AksReaderIdentity(
            "aks",
            {
                "namespace": "atlas",
                "service_account": "op",
                "oidc_issuer_url": "https://issuer.example/x/",
                "resource_group_name": "rg",
                "container_id": box.container_id,
            },
        )
        k8s = AtlasOperator(
            "k8s",
            {
                "grant_store_url": bucket.store_url,
                "runtime_image": "ghcr.io/acme/atlas-continuity:0.2.0",
                "service_account_annotations": aks.service_account_annotations,
                "pod_labels": aks.pod_labels,
            },
        )
        return {
            "k8s": k8s,
            "backup": bucket,
            "ci": writer,
            "operator": pod,
            "irsa": irsa,
            "gcs": gcs,
            "gcpci": gcpci,
            "gke": gke,
            "box": box,
            "azci": azci,
            "aks": aks,
        }

    return deploy(build)


def test_components_are_exported_from_the_package():
    for pkg, components in (
        (package, AWS_COMPONENTS),
        (gcp_package, GCP_COMPONENTS),
        (azure_package, AZURE_COMPONENTS),
        (kubernetes_package, KUBERNETES_COMPONENTS),
    ):
        assert {c.__name__ for c in components} <= set(pkg.__all__)
    for component in COMPONENTS:
        assert issubclass(component, pulumi.ComponentResource)


@pytest.mark.parametrize("component", ALL_COMPONENTS, ids=lambda c: c.__name__)
def test_constructor_is_name_args_opts(component):
    parameters = list(inspect.signature(component.__init__).parameters)
    assert parameters == ["self", "name", "args", "opts"]
    hints = typing.get_type_hints(component.__init__)
    assert typing.is_typeddict(hints["args"])
    assert hints["args"].__name__ == f"{component.__name__}Args"


@pytest.mark.parametrize(
    "component", AWS_COMPONENTS + GCP_COMPONENTS + AZURE_COMPONENTS, ids=lambda c: c.__name__
)
def test_a_misspelt_argument_is_refused_naming_the_field_it_meant(component):
    """Ignored, it would leave the default in place unseen (allow_atlas_backup_writes: on)."""
    with pytest.raises(
        ValueError, match=r"^x: unknown keys \['prefx'\] \('prefx': did you mean 'prefix'\?\)$"
    ):
        deploy(lambda: {"x": component("x", {"prefx": "team/db"})})


def test_type_tokens_are_in_the_index_module(everything):
    for label, component in (
        ("backup", "S3BackupBucket"),
        ("ci", "AwsCiWriterRole"),
        ("operator", "EksReaderRole"),
        ("irsa", "EksReaderRole"),
        ("gcs", "GcsBackupBucket"),
        ("gcpci", "GcpCiWriterIdentity"),
        ("gke", "GkeReaderIdentity"),
        ("box", "AzureBackupContainer"),
        ("azci", "AzureCiWriterIdentity"),
        ("aks", "AksReaderIdentity"),
        ("k8s", "AtlasOperator"),
    ):
        urn = everything.outputs[label]["urn"]
        assert urn.endswith(f"$atlas-continuity:index:{component}::{label}"), urn


def test_children_are_parented_and_named_after_their_component(everything):
    components = {r.name: r.type for r in everything.resources if r.type.startswith("atlas-")}
    children = [r for r in everything.resources if not r.type.startswith("atlas-")]
    assert children
    for child in children:
        parent = child.name.split("-")[0]
        assert parent in components, child.name
        # The URN's type chain is <parent type>$<child type>: the child's parent is the component.
        assert f"::{components[parent]}${child.type}::{child.name}" in child.urn, child.urn


def test_outputs_are_registered(everything):
    for label, outputs in everything.outputs.items():
        registered = everything.registered_outputs[outputs["urn"]]
        expected = {k for k, v in outputs.items() if k != "urn" and v is not None}
        assert set(registered) == expected, label
        for key in expected:
            assert registered[key] == outputs[key], (label, key)


def test_no_deprecated_resource_type_is_declared(everything):
    types = {r.type for r in everything.resources}
    assert not [t for t in types if re.search(r"V2$", t)], types


def test_the_component_analyzer_accepts_them_and_every_field_is_documented():
    """What a later issue needs to publish the components to other languages unchanged."""
    result = Analyzer("atlas-continuity").analyze(ALL_COMPONENTS)
    definitions = result["component_definitions"]
    assert set(definitions) == {c.__name__ for c in ALL_COMPONENTS}
    for name, definition in definitions.items():
        assert definition.description, name
        for kind, properties in (("input", definition.inputs), ("output", definition.outputs)):
            assert properties, (name, kind)
            for prop, schema in properties.items():
                assert schema.description, f"{name} {kind} {prop} has no docstring"
    required = {
        n: {p for p, s in d.inputs.items() if not s.optional} for n, d in definitions.items()
    }
    assert required == {
        "S3BackupBucket": set(),
        "AwsCiWriterRole": {"provider", "repository", "bucketArn"},
        "EksReaderRole": {"namespace", "serviceAccount", "bucketArn"},
        "GcsBackupBucket": {"location"},
        "GcpCiWriterIdentity": {"provider", "repository", "bucketName"},
        "GkeReaderIdentity": {"namespace", "serviceAccount", "bucketName"},
        "AzureBackupContainer": {"resourceGroupName"},
        "AzureCiWriterIdentity": {"provider", "repository", "resourceGroupName", "containerId"},
        "AksReaderIdentity": {
            "namespace",
            "serviceAccount",
            "oidcIssuerUrl",
            "resourceGroupName",
            "containerId",
        },
        "AtlasOperator": set(),
        "ContinuityPlan": set(),
    }
    for definition in result["type_definitions"].values():
        if definition.enum:
            assert all(value.description for value in definition.enum), definition.name
        else:  # an object type (AzureCustomerManagedKey): every property documented
            assert all(p.description for p in definition.properties.values()), definition.name


# --- the import path --------------------------------------------------------------------------

PROBE = """
import json, sys
import atlas_continuity.infra.aws
from atlas_continuity.infra.aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
def real(m):  # a module from a file or a package dir, not one a C extension injects
    return getattr(m, "__file__", None) or getattr(m, "__path__", None)
top = {name.split(".")[0] for name, m in list(sys.modules.items()) if real(m)}
print(json.dumps(sorted(top - set(sys.stdlib_module_names))))
"""

OTHER_CLOUDS = ("pulumi_gcp", "pulumi_azure_native", "pulumi_azure", "pulumi_kubernetes")


@pytest.fixture(scope="module")
def imported() -> list[str]:
    """Top-level non-stdlib modules loaded by importing the package, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout)


def test_importing_the_package_loads_no_other_cloud_sdk(imported):
    assert "pulumi_aws" in imported
    assert not [m for m in imported if m in OTHER_CLOUDS]
