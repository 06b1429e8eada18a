"""What the AtlasOperator tests share: the objects' types, a store and an image, the
component under mocks, and the chart's values as the tests carry them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from atlas_continuity.infra.aws import EksReaderRole, S3BackupBucket
from atlas_continuity.infra.kubernetes import AtlasOperator
from devtools.emulators import ROOT
from tests.infra.harness import deploy

NAMESPACE = "kubernetes:core/v1:Namespace"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SA = "kubernetes:core/v1:ServiceAccount"
CRON = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"
RELEASE = "kubernetes:helm.sh/v3:Release"
DATA = ROOT / "tests" / "data" / "atlas-operator"
STORE = "s3://acme-atlas-backup/atlas?region=us-east-1"
DIGEST = "sha256:" + "5e" * 32
IMAGE = f"ghcr.io/acme/atlas-continuity:0.2.0@{DIGEST}"
BACKED_UP = {"grant_store_url": STORE, "runtime_image": IMAGE}
SERIES = "atlas.test.atlas-operator"
"""The default grant series under the harness: <project>.<stack>.<namespace>."""
KUBERNETES = kubernetes_validate.latest_version()
KUBERNETES_READER = {
    "namespace": "atlas-operator",
    "service_account": "atlas-operator",
    "grant_service_account": "atlas-continuity-grants",
}
"""A reader component's Kubernetes side: the operator's defaults, and a grant writer."""
ON_AKS = {
    "oidc_issuer_url": "https://issuer.example/x/",
    "resource_group_name": "atlas",
    "container_id": (
        "/subscriptions/00000000-0000-4000-8000-0000000000a1/resourceGroups/atlas/providers/"
        "Microsoft.Storage/storageAccounts/acmeatlas/blobServices/default/containers/atlas-backup"
    ),
}
"""What AksReaderIdentity needs of the cluster and the container."""


def operator(args: dict[str, Any] | None = None, name: str = "atlas"):
    return deploy(lambda: {"op": AtlasOperator(name, args or {})})


def on_eks(bucket_args: dict[str, Any], reader_args: dict[str, Any]) -> dict[str, Any]:
    """A bucket, the EKS reader with its grant writer, and the operator backed up to the bucket
    under their identities: what a cluster on EKS gets."""
    bucket = S3BackupBucket("backup", bucket_args)
    reader = EksReaderRole(
        "eks",
        {
            **KUBERNETES_READER,
            "bucket_arn": bucket.bucket_arn,
            "prefix": bucket.prefix,
            **reader_args,
        },
    )
    op = AtlasOperator(
        "atlas",
        {
            "grant_store_url": bucket.store_url,
            "runtime_image": IMAGE,
            "service_account_annotations": reader.service_account_annotations,
            "grant_service_account_annotations": reader.grant_writer_service_account_annotations,
        },
    )
    return {"bucket": bucket, "reader": reader, "op": op}


def manifest(resource) -> dict[str, Any]:
    """A declared object's inputs: its manifest (whole numbers as ints, see offline.plain)."""
    return resource.inputs


def pod_of(resource) -> dict[str, Any]:
    """The pod template of a declared CronJob or Job."""
    spec = resource.inputs["spec"]
    return (spec.get("jobTemplate", {}).get("spec") or spec)["template"]


def chart_defaults(version: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"values-{version}.yaml").read_text())


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
