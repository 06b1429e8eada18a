"""AzureCiWriterIdentity: what CI pipelines push to Azure Blob with, by workload identity
federation into a user-assigned managed identity (docs/infra-azure.md)."""

from collections.abc import Mapping
from typing import Required, TypedDict

import pulumi

from atlas_continuity.infra.args import check_when_plain, flag, known_args, required_arg
from atlas_continuity.infra.azure import roles
from atlas_continuity.infra.azure.federated_identity import blob_writer_role, federated_identity
from atlas_continuity.infra.ci_identity import CiProvider, ci_identity_from_args
from atlas_continuity.infra.store import DEFAULT_PREFIX

TYPE_TOKEN = "atlas-continuity:index:AzureCiWriterIdentity"


class AzureCiWriterIdentityArgs(TypedDict, total=False):
    """Inputs of AzureCiWriterIdentity. The subject is built from typed parts, never free-form."""

    provider: Required[CiProvider]
    """github or gitlab. circleci and bitbucket are refused: their subjects vary per run, and
    Azure's federated credentials match exactly (docs/infra-azure.md)."""
    repository: Required[str]
    """What the subject names: "owner/repo" (GitHub), "group/project" (GitLab)."""
    branch: str
    """The branch whose pipelines may push: a name, not a pattern."""
    environment: str
    """GitHub: the deployment environment whose jobs may push (instead of a branch)."""
    gitlab_url: str
    """GitLab: the instance's URL for self-managed GitLab. Default: https://gitlab.com."""
    resource_group_name: Required[pulumi.Input[str]]
    """The resource group the managed identity goes in."""
    location: pulumi.Input[str]
    """The identity's Azure region. Default: the resource group's."""
    identity_name: pulumi.Input[str]
    """The managed identity's name. Default: the component name plus a random suffix."""
    container_id: Required[pulumi.Input[str]]
    """The backup container's resource ID (AzureBackupContainer.container_id): the role is
    assigned there, and the custom role definition in its resource group."""
    prefix: pulumi.Input[str]
    """The store's prefix the identity is scoped to, e.g. AzureBackupContainer.prefix.
    Default: "atlas"."""
    allow_atlas_backup_writes: bool
    """Let the identity write Atlas's own ``repo.backup`` copies anywhere under the prefix.
    Azure has no create-only write, so a write may replace a blob; blob versioning and soft
    delete keep the version it replaced. Default: true. Turned off, writes are allowed only in
    the runtime's registry and grants folders."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the managed identity."""


class AzureCiWriterIdentity(pulumi.ComponentResource):
    """A user-assigned managed identity that one CI repository and branch (or environment) signs
    in as, with a custom role on the backup container (read, write and add blobs, no delete)
    limited by an ABAC condition to the store's prefix: no account administration, no keys.
    """

    client_id: pulumi.Output[str]
    """The identity's client ID: azure/login's client-id, AZURE_CLIENT_ID."""
    tenant_id: pulumi.Output[str]
    """The Entra tenant: azure/login's tenant-id, AZURE_TENANT_ID."""
    subscription_id: pulumi.Output[str]
    """The container's subscription: azure/login's subscription-id, AZURE_SUBSCRIPTION_ID."""
    principal_id: pulumi.Output[str]
    """The identity's service principal (object) ID."""
    issuer: pulumi.Output[str]
    """The token issuer the federated credential trusts."""
    subject: pulumi.Output[str]
    """The exact subject the federated credential accepts."""
    audience: pulumi.Output[str]
    """The audience the pipeline must request its token for: api://AzureADTokenExchange."""
    role_definition_id: pulumi.Output[str]
    """The custom role's resource ID."""

    def __init__(
        self,
        name: str,
        args: AzureCiWriterIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        for field in ("organization", "workspace_uuid", "audience"):
            if field in args:
                raise ValueError(
                    f"{name}: {field} does not apply on Azure (GitHub and GitLab only; the "
                    "audience is always api://AzureADTokenExchange)"
                )
        known_args(name, args, AzureCiWriterIdentityArgs)
        identity = ci_identity_from_args(name, args)
        subject = roles.federated_subject(identity)
        required_arg(name, args, "resource_group_name")
        container_id = required_arg(name, args, "container_id")
        prefix = args.get("prefix", DEFAULT_PREFIX)
        atlas_writes = flag(name, args, "allow_atlas_backup_writes", True)

        def condition(prefix: str) -> str:
            return roles.writer_condition(prefix, atlas_backup_writes=atlas_writes)

        check_when_plain(lambda: condition(prefix), prefix)
        check_when_plain(lambda: roles.parse_container_id(container_id), container_id)

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        container = pulumi.Output.from_input(container_id)

        role = blob_writer_role(name, container_id, "CI writer", child)
        managed = federated_identity(
            name,
            args,
            issuer=identity.issuer_url,
            subject=subject,
            container_id=container_id,
            role_definition_id=role.id,
            condition=pulumi.Output.from_input(prefix).apply(condition),
            description=f"atlas-continuity CI writer for {identity.provider}: {subject}"[:1024],
            opts=child,
        )

        self.client_id = managed.client_id
        self.tenant_id = managed.tenant_id
        self.subscription_id = container.apply(lambda c: roles.parse_container_id(c)[0])
        self.principal_id = managed.principal_id
        self.issuer = pulumi.Output.from_input(identity.issuer_url)
        self.subject = pulumi.Output.from_input(subject)
        self.audience = pulumi.Output.from_input(roles.TOKEN_EXCHANGE_AUDIENCE)
        self.role_definition_id = role.id
        self.register_outputs(
            {
                "client_id": self.client_id,
                "tenant_id": self.tenant_id,
                "subscription_id": self.subscription_id,
                "principal_id": self.principal_id,
                "issuer": self.issuer,
                "subject": self.subject,
                "audience": self.audience,
                "role_definition_id": self.role_definition_id,
            }
        )
