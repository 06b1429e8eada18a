"""GkeReaderIdentity: what a Kubernetes service account on GKE reads backups with."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Required, TypedDict

import pulumi
import pulumi_gcp as gcp

from atlas_continuity.infra.args import check_when_plain, known_args, required_arg
from atlas_continuity.infra.ci_identity import (
    check_k8s_namespace,
    check_k8s_service_account,
    grant_service_account,
)
from atlas_continuity.infra.gcp import conditions
from atlas_continuity.infra.gcp.store_access import grant_store_access
from atlas_continuity.infra.naming import stable_id
from atlas_continuity.infra.store import DEFAULT_PREFIX, grant_series

TYPE_TOKEN = "atlas-continuity:index:GkeReaderIdentity"
GSA_ANNOTATION = "iam.gke.io/gcp-service-account"


class GkeIdentityMode(StrEnum):
    """How pods of the service account get Google credentials."""

    DIRECT = "direct"
    """Workload Identity Federation for GKE: the bucket grants the Kubernetes service account
    itself (a principal:// member); no annotation, no Google service account."""
    SERVICE_ACCOUNT = "service-account"
    """The Kubernetes service account impersonates a Google service account (roles/
    iam.workloadIdentityUser) and carries the iam.gke.io/gcp-service-account annotation."""


class GkeReaderIdentityArgs(TypedDict, total=False):
    """Inputs of GkeReaderIdentity."""

    namespace: Required[str]
    """The Kubernetes namespace of the service account (the Atlas operator's)."""
    service_account: Required[str]
    """The Kubernetes service account the identity is bound to; no other gets access."""
    mode: GkeIdentityMode
    """direct or service-account. Default: direct."""
    cluster_project: str
    """The project ID of the GKE cluster, whose workload identity pool
    (PROJECT_ID.svc.id.goog) names the service account. Default: the GCP provider's project."""
    bucket_name: Required[pulumi.Input[str]]
    """The backup bucket's name (GcsBackupBucket.bucket_name)."""
    prefix: pulumi.Input[str]
    """The store's prefix the identity may read under, e.g. GcsBackupBucket.prefix.
    Default: "atlas"."""
    project: pulumi.Input[str]
    """The GCP project of the custom role and the Google service account. Default: the GCP
    provider's project."""
    service_account_id: str
    """service-account: the Google service account's ID (6 to 30 characters). Default:
    derived from the component name."""
    grant_service_account: str
    """The Kubernetes service account (same namespace) of the Atlas operator's grant backup
    and restore jobs. It gets an identity of its own, bound the same way, that may create, read
    and list the snapshots of one grant series, <prefix>/atlas-continuity/grants/<grant_name>/,
    and nothing else (no delete, so never a replace; no registry access). Default: none."""
    grant_name: str
    """The grant series the grant writer may write (grants/<grant_name>/): the AtlasOperator's
    grant_name. Default: "<project>.<stack>.<namespace>", as AtlasOperator derives it."""


class GkeReaderIdentity(pulumi.ComponentResource):
    """Read and list on the store's prefix for one Kubernetes service account on GKE, through
    Workload Identity: it can pull the registry and restore grants, and cannot write."""

    principal: pulumi.Output[str]
    """The IAM member the bucket grants."""
    service_account_email: pulumi.Output[str | None]
    """The Google service account (service-account mode), or null."""
    service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the Kubernetes service account needs: iam.gke.io/gcp-service-account in
    service-account mode, none in direct mode."""
    grant_writer_principal: pulumi.Output[str | None]
    """The IAM member the grant writer's bindings name (null without grant_service_account)."""
    grant_writer_service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the grant service account needs (as service_account_annotations)."""

    def __init__(
        self,
        name: str,
        args: GkeReaderIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, GkeReaderIdentityArgs)
        try:
            mode = GkeIdentityMode(args.get("mode", GkeIdentityMode.DIRECT))
        except ValueError:
            raise ValueError(f"{name}: mode must be direct or service-account") from None
        namespace = check_k8s_namespace(args.get("namespace"))
        ksa = check_k8s_service_account(args.get("service_account"))
        grant_ksa = grant_service_account(name, args)  # its service account ID is derived
        series = None if grant_ksa is None else grant_series(name, args, namespace)
        bucket = required_arg(name, args, "bucket_name")
        prefix = args.get("prefix", DEFAULT_PREFIX)
        check_when_plain(lambda: conditions.reader_bindings(bucket, prefix), bucket, prefix)
        cluster_project = args.get("cluster_project")
        if cluster_project is not None:
            conditions.check_project("cluster_project", cluster_project)
        if "service_account_id" in args and mode is not GkeIdentityMode.SERVICE_ACCOUNT:
            raise ValueError(f"{name}: service_account_id is for mode service-account")
        account_id = conditions.check_service_account_id(
            args.get("service_account_id") or stable_id(f"{name}-sa", max_len=30)
        )

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args.get("project")
        cluster = gcp.organizations.get_project_output(
            project_id=cluster_project, opts=pulumi.InvokeOptions(parent=self)
        )

        def bound_member(
            label: str, service_account: str, gsa_id: str, bindings
        ) -> tuple[pulumi.Output[str], pulumi.Input[str | None], pulumi.Input[Mapping[str, str]]]:
            """The member ``service_account`` acts as, granted ``bindings`` on the bucket: the
            member, the Google service account's email (or None) and the annotations."""
            if mode is GkeIdentityMode.DIRECT:
                member = pulumi.Output.all(cluster.number, cluster.project_id).apply(
                    lambda v: conditions.gke_principal(v[0], v[1], namespace, service_account)
                )
                email: pulumi.Input[str | None] = None
                annotations: pulumi.Input[Mapping[str, str]] = {}
            else:
                account = gcp.serviceaccount.Account(
                    f"{label}-sa",
                    account_id=gsa_id,
                    display_name=f"atlas-continuity {label}"[:100],
                    description=f"Impersonated by Kubernetes {namespace}/{service_account}",
                    project=project,
                    opts=child,
                )
                gcp.serviceaccount.IAMMember(
                    f"{label}-impersonation",
                    service_account_id=account.name,
                    role=conditions.WORKLOAD_IDENTITY_USER,
                    member=cluster.project_id.apply(
                        lambda p: conditions.gke_service_account_member(
                            p, namespace, service_account
                        )
                    ),
                    opts=child,
                )
                email = account.email
                member = account.email.apply(lambda e: f"serviceAccount:{e}")
                annotations = account.email.apply(lambda e: {GSA_ANNOTATION: e})
            grant_store_access(
                label,
                bindings=bindings,
                bucket=bucket,
                prefix=prefix,
                member=member,
                project=project,
                opts=child,
            )
            return member, email, annotations

        member, email, annotations = bound_member(name, ksa, account_id, conditions.reader_bindings)
        grant_member: pulumi.Input[str | None] = None
        grant_annotations: pulumi.Input[Mapping[str, str]] = {}
        if grant_ksa is not None:
            grant_member, _, grant_annotations = bound_member(
                f"{name}-grants",
                grant_ksa,
                stable_id(f"{name}-grants-sa", max_len=30),
                lambda bucket, keys: conditions.grant_writer_bindings(bucket, keys, series=series),
            )

        self.principal = member
        self.service_account_email = pulumi.Output.from_input(email)
        self.service_account_annotations = pulumi.Output.from_input(annotations)
        self.grant_writer_principal = pulumi.Output.from_input(grant_member)
        self.grant_writer_service_account_annotations = pulumi.Output.from_input(grant_annotations)
        self.register_outputs(
            {
                "principal": self.principal,
                "service_account_email": self.service_account_email,
                "service_account_annotations": self.service_account_annotations,
                "grant_writer_principal": self.grant_writer_principal,
                "grant_writer_service_account_annotations": (
                    self.grant_writer_service_account_annotations
                ),
            }
        )
