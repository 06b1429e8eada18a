"""The part both Azure identities share: a user-assigned managed identity that one token
subject federates into, with one role on the backup container under a prefix condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from atlas_continuity.infra.azure import roles
from atlas_continuity.infra.naming import stable_id


def blob_writer_role(
    name: str, container_id: pulumi.Input[str], purpose: str, opts: pulumi.ResourceOptions
) -> azure_native.authorization.RoleDefinition:
    """``<name>-role``: a custom role in the container's resource group holding exactly the
    blob data actions of ``roles.WRITER_DATA_ACTIONS`` (read, write, add; no delete)."""
    group = pulumi.Output.from_input(container_id).apply(roles.resource_group_id)
    return azure_native.authorization.RoleDefinition(
        f"{name}-role",
        scope=group,
        role_name=f"atlas-continuity blob writer {stable_id(name, max_len=40)}",
        description=(
            f"atlas-continuity {purpose}: read, write and add blobs of one backup container; "
            "no delete"
        ),
        role_type="CustomRole",
        permissions=[
            azure_native.authorization.PermissionArgs(
                actions=[], data_actions=list(roles.WRITER_DATA_ACTIONS)
            )
        ],
        assignable_scopes=[group],
        opts=opts,
    )


def federated_identity(
    name: str,
    args: Mapping[str, Any],
    *,
    issuer: str,
    subject: str,
    container_id: pulumi.Input[str],
    role_definition_id: pulumi.Input[str],
    condition: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
) -> azure_native.managedidentity.UserAssignedIdentity:
    """Declare ``<name>-identity``, its ``<name>-federation`` credential for exactly ``subject``
    from ``issuer`` (audience api://AzureADTokenExchange), and ``<name>-access``: the role on
    the container, limited by ``condition``."""
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_group_name=args["resource_group_name"],
        resource_name_=args.get("identity_name"),
        location=args.get("location"),
        tags=args.get("tags"),
        opts=opts,
    )
    azure_native.managedidentity.FederatedIdentityCredential(
        f"{name}-federation",
        resource_group_name=args["resource_group_name"],
        resource_name_=identity.name,
        issuer=issuer,
        subject=subject,
        audiences=[roles.TOKEN_EXCHANGE_AUDIENCE],
        opts=opts,
    )
    azure_native.authorization.RoleAssignment(
        f"{name}-access",
        scope=container_id,
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition_id,
        condition=condition,
        condition_version="2.0",
        description=description,
        opts=opts,
    )
    return identity
