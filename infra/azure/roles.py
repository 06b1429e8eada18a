"""What the Azure identities may do, built by pure functions: no Pulumi, plain strings in and out.

- **Role definitions**: the CI writer's custom role holds exactly the blob data actions the
  runtime and Atlas use (read, write, add), never delete; the Kubernetes reader gets the
  built-in Storage Blob Data Reader.
- **Role-assignment conditions** (Azure ABAC, version 2.0) scope those data actions to the
  store's prefix: a blob's path for reads and writes, the request's ``prefix`` for listings.
- **Federated identity credentials**: the issuer, the exact subject and the audience
  ``api://AzureADTokenExchange`` a token must carry.

Azure has no create-only write: ``blobs/write`` also replaces a blob. Blob versioning and soft
delete (on by default in AzureBackupContainer) keep whatever a write replaces.
"""

from __future__ import annotations

import re

from atlas_continuity.infra.ci_identity import CiIdentity
from atlas_continuity.runtime import layout
from atlas_continuity.runtime.stores.url import check_prefix

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"

_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
READ = f"{_BLOBS}/read"
WRITE = f"{_BLOBS}/write"
ADD = f"{_BLOBS}/add/action"
WRITER_DATA_ACTIONS = (READ, WRITE, ADD)
"""Read and list, write, add (create) blobs: no delete, no version delete, no tags,
no immutability or permission changes."""

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
"""The built-in role's ID: actions containers/read and generateUserDelegationKey/action,
data action blobs/read."""

_PATH = f"@Resource[{_BLOBS}:path]"
_LIST_PREFIX = f"@Request[{_BLOBS}:prefix]"
_CONTAINER_ID = re.compile(
    r"^/subscriptions/([0-9a-fA-F-]{36})/resourceGroups/([^/]+)/providers/Microsoft\.Storage/"
    r"storageAccounts/([a-z0-9]{3,24})/blobServices/default/containers/([a-z0-9-]{3,63})\Z"
)
_FLEXIBLE_ONLY = {
    "circleci": "CircleCI's subject names the user who triggered the job",
    "bitbucket": "Bitbucket's subject names the pipeline step, new every run",
}


def federated_subject(identity: CiIdentity) -> str:
    """The exact subject of a federated identity credential, or a ValueError saying why a CI
    provider's tokens cannot be matched exactly and what to do instead."""
    if identity.subject_is_pattern:
        reason = _FLEXIBLE_ONLY.get(identity.provider, "its subject varies per run")
        raise ValueError(
            f"{identity.provider}: Azure federated credentials match the token's subject "
            f"exactly and refuse wildcards, but {reason}. Azure's flexible federated "
            "credentials (claims-matching expressions) accept only GitHub, GitLab and "
            "Terraform Cloud tokens, and pulumi-azure-native does not expose them. Push to "
            "the Azure store from a GitHub Actions or GitLab CI job, or give this pipeline an "
            "AWS or GCP writer (AwsCiWriterRole, GcpCiWriterIdentity), which pin its subject "
            "by pattern."
        )
    return identity.subject


def parse_container_id(container_id: str) -> tuple[str, str, str, str]:
    """A blob container's resource ID -> (subscription, resource group, account, container)."""
    match = _CONTAINER_ID.match(str(container_id))
    if not match:
        raise ValueError(
            f"container_id {container_id!r} is not a blob container's resource ID "
            "(/subscriptions/S/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/A"
            "/blobServices/default/containers/C): pass AzureBackupContainer.container_id"
        )
    return match.group(1), match.group(2), match.group(3), match.group(4)


def resource_group_id(container_id: str) -> str:
    subscription, group, _, _ = parse_container_id(container_id)
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def built_in_role_id(container_id: str, role: str) -> str:
    subscription, _, _, _ = parse_container_id(container_id)
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def _starts_with(attribute: str, prefixes: list[str]) -> str:
    return " OR ".join(f"{attribute} StringStartsWith '{p}'" for p in prefixes)


def _clause(action_test: str, allowed: str) -> str:
    return f"(\n (\n  !({action_test})\n )\n OR\n (\n  {allowed}\n )\n)"


def _read_clauses(keys: str) -> list[str]:
    """Reads of blobs, and listings, whose path (or the listing's prefix) starts with ``keys``."""
    return [
        _clause(
            f"ActionMatches{{'{READ}'}} AND NOT SubOperationMatches{{'Blob.List'}}",
            _starts_with(_PATH, [keys]),
        ),
        _clause(
            f"ActionMatches{{'{READ}'}} AND SubOperationMatches{{'Blob.List'}}",
            _starts_with(_LIST_PREFIX, [keys]),
        ),
    ]


def _write_clause(writable: list[str]) -> str:
    return _clause(
        f"ActionMatches{{'{WRITE}'}} OR ActionMatches{{'{ADD}'}}", _starts_with(_PATH, writable)
    )


def writer_condition(prefix: str, *, atlas_backup_writes: bool = True) -> str:
    """Read, list and write only under the store's prefix.

    With ``atlas_backup_writes`` (the default) blobs may be written anywhere under the prefix:
    the runtime's folder and Atlas's own ``repo.backup`` copies. Without it, only the runtime's
    registry and grants folders take writes. The runtime itself never replaces a blob (it sends
    ``If-None-Match: *``); Azure cannot enforce that on the identity.
    """
    prefix = check_prefix(prefix)
    if atlas_backup_writes:
        writable = [prefix + "/"]
    else:
        writable = [layout.object_name(prefix, subtree) for subtree in layout.SUBTREES]
    return "\nAND\n".join([*_read_clauses(prefix + "/"), _write_clause(writable)])


def reader_condition(prefix: str) -> str:
    """Read and list only under the store's prefix."""
    return "\nAND\n".join(_read_clauses(check_prefix(prefix) + "/"))


def grant_writer_condition(prefix: str, *, series: str) -> str:
    """Read, list and write only the snapshots of one grant series
    (``<prefix>/atlas-continuity/grants/<series>/``). The runtime creates each snapshot with
    ``If-None-Match: *``; Azure cannot hold the identity to that, and blob versioning keeps
    whatever a write would replace."""
    grants = layout.object_name(check_prefix(prefix), layout.grants_prefix(series))
    return "\nAND\n".join([*_read_clauses(grants), _write_clause([grants])])
