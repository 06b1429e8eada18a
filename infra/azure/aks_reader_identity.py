"""AksReaderIdentity: what a Kubernetes service account on AKS reads backups with."""

from collections.abc import Mapping
from typing import Required, TypedDict

import pulumi

from atlas_continuity.infra.args import check_when_plain, known_args, required_arg
from atlas_continuity.infra.azure import roles
from atlas_continuity.infra.azure.federated_identity import blob_writer_role, federated_identity
from atlas_continuity.infra.ci_identity import (
    grant_service_account,
    https_url,
    kubernetes_subject,
)
from atlas_continuity.infra.store import DEFAULT_PREFIX, grant_series

TYPE_TOKEN = "atlas-continuity:index:AksReaderIdentity"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
USE_LABEL = "azure.workload.identity/use"


class AksReaderIdentityArgs(TypedDict, total=False):
    """Inputs of AksReaderIdentity."""

    namespace: Required[str]
    """The Kubernetes namespace of the service account (the Atlas operator's)."""
    service_account: Required[str]
    """The Kubernetes service account the identity is bound to; no other can sign in as it."""
    oidc_issuer_url: Required[pulumi.Input[str]]
    """The AKS cluster's OIDC issuer URL (ManagedCluster.oidc_issuer_profile.issuer_url; the
    cluster needs the OIDC issuer and workload identity enabled)."""
    resource_group_name: Required[pulumi.Input[str]]
    """The resource group the managed identity goes in."""
    location: pulumi.Input[str]
    """The identity's Azure region. Default: the resource group's."""
    identity_name: pulumi.Input[str]
    """The managed identity's name. Default: the component name plus a random suffix."""
    container_id: Required[pulumi.Input[str]]
    """The backup container's resource ID (AzureBackupContainer.container_id)."""
    prefix: pulumi.Input[str]
    """The store's prefix the identity may read under, e.g. AzureBackupContainer.prefix.
    Default: "atlas"."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the managed identities."""
    grant_service_account: str
    """The Kubernetes service account (same namespace) of the Atlas operator's grant backup
    and restore jobs. It gets a managed identity of its own, federated the same way, with a
    custom role (read, write and add blobs; no delete) limited to the snapshots of one grant
    series, <prefix>/atlas-continuity/grants/<grant_name>/. Default: none."""
    grant_name: str
    """The grant series the grant writer may write (grants/<grant_name>/): the AtlasOperator's
    grant_name. Default: "<project>.<stack>.<namespace>", as AtlasOperator derives it."""


class AksReaderIdentity(pulumi.ComponentResource):
    """A user-assigned managed identity for one Kubernetes service account on AKS (workload
    identity), with Storage Blob Data Reader on the backup container, its blob reads and
    listings limited by an ABAC condition to the store's prefix: it can pull and restore
    grants, and cannot write."""

    client_id: pulumi.Output[str]
    """The identity's client ID: the service account's azure.workload.identity/client-id."""
    tenant_id: pulumi.Output[str]
    """The Entra tenant."""
    principal_id: pulumi.Output[str]
    """The identity's service principal (object) ID."""
    subject: pulumi.Output[str]
    """The federated subject, system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT."""
    service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the Kubernetes service account needs (client and tenant ID)."""
    pod_labels: pulumi.Output[Mapping[str, str]]
    """Labels the pods need for the workload identity webhook to inject the token."""
    grant_writer_client_id: pulumi.Output[str | None]
    """The grant writer identity's client ID (null without grant_service_account)."""
    grant_writer_service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the grant service account needs (client and tenant ID), or none."""

    def __init__(
        self,
        name: str,
        args: AksReaderIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, AksReaderIdentityArgs)
        subject = kubernetes_subject(args.get("namespace"), args.get("service_account"))
        grant_account = grant_service_account(name, args, "identity_name")
        grant_subject = series = None
        if grant_account is not None:
            grant_subject = kubernetes_subject(args.get("namespace"), grant_account)
            series = grant_series(name, args, args["namespace"])
        issuer = required_arg(name, args, "oidc_issuer_url")
        check_when_plain(lambda: https_url("oidc_issuer_url", issuer), issuer)
        required_arg(name, args, "resource_group_name")
        container_id = required_arg(name, args, "container_id")
        check_when_plain(lambda: roles.parse_container_id(container_id), container_id)
        prefix = args.get("prefix", DEFAULT_PREFIX)
        check_when_plain(lambda: roles.reader_condition(prefix), prefix)

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        container = pulumi.Output.from_input(container_id)
        managed = federated_identity(
            name,
            args,
            # AKS issuer URLs end with '/', and the credential must match the token's iss exactly.
            issuer=issuer,
            subject=subject,
            container_id=container_id,
            role_definition_id=container.apply(
                lambda c: roles.built_in_role_id(c, roles.STORAGE_BLOB_DATA_READER)
            ),
            condition=pulumi.Output.from_input(prefix).apply(roles.reader_condition),
            description=f"atlas-continuity reader for {subject}",
            opts=child,
        )

        grant_client_id: pulumi.Input[str | None] = None
        grant_annotations: pulumi.Input[Mapping[str, str]] = {}
        if grant_subject is not None:
            label = f"{name}-grants"
            grants = federated_identity(
                label,
                args,
                issuer=issuer,
                subject=grant_subject,
                container_id=container_id,
                role_definition_id=blob_writer_role(label, container_id, "grant writer", child).id,
                condition=pulumi.Output.from_input(prefix).apply(
                    lambda keys: roles.grant_writer_condition(keys, series=series)
                ),
                description=f"atlas-continuity grant writer for {grant_subject}",
                opts=child,
            )
            grant_client_id = grants.client_id
            grant_annotations = _annotations(grants)

        self.client_id = managed.client_id
        self.tenant_id = managed.tenant_id
        self.principal_id = managed.principal_id
        self.subject = pulumi.Output.from_input(subject)
        self.service_account_annotations = _annotations(managed)
        self.pod_labels = pulumi.Output.from_input({USE_LABEL: "true"})
        self.grant_writer_client_id = pulumi.Output.from_input(grant_client_id)
        self.grant_writer_service_account_annotations = pulumi.Output.from_input(grant_annotations)
        self.register_outputs(
            {
                "client_id": self.client_id,
                "tenant_id": self.tenant_id,
                "principal_id": self.principal_id,
                "subject": self.subject,
                "service_account_annotations": self.service_account_annotations,
                "pod_labels": self.pod_labels,
                "grant_writer_client_id": self.grant_writer_client_id,
                "grant_writer_service_account_annotations": (
                    self.grant_writer_service_account_annotations
                ),
            }
        )


def _annotations(identity) -> pulumi.Output[Mapping[str, str]]:
    """The service account annotations that let the workload identity webhook sign a pod in as
    ``identity``."""
    return pulumi.Output.all(identity.client_id, identity.tenant_id).apply(
        lambda v: {CLIENT_ID_ANNOTATION: v[0], TENANT_ID_ANNOTATION: v[1]}
    )
