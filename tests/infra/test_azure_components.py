"""The Azure components under mocks: every setting on the declared inputs, the identities'
roles and conditions (and nothing broader), and the refusals."""

from __future__ import annotations

import re

import pytest

from atlas_continuity.infra.azure import (
    AksReaderIdentity,
    AzureBackupContainer,
    AzureCiWriterIdentity,
    roles,
)
from tests.infra.harness import AZURE_SUBSCRIPTION, AZURE_TENANT, deploy

ACCOUNT = "azure-native:storage:StorageAccount"
SERVICE = "azure-native:storage:BlobServiceProperties"
CONTAINER = "azure-native:storage:BlobContainer"
IMMUTABILITY = "azure-native:storage:BlobContainerImmutabilityPolicy"
LIFECYCLE = "azure-native:storage:ManagementPolicy"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_DEF = "azure-native:authorization:RoleDefinition"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GROUP = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/atlas"
CONTAINER_ID = (
    f"{GROUP}/providers/Microsoft.Storage/storageAccounts/acmeatlas/blobServices/default/"
    "containers/atlas-backup"
)
SUBNET = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/v/subnets/ci"
AKS_ISSUER = "https://eastus.oic.prod-aks.azure.com/00000000-0000-4000-8000-0000000000a2/c1/"
GITHUB = {"provider": "github", "repository": "acme/app", "branch": "main"}
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def container(args: dict | None = None):
    d = deploy(
        lambda: {
            "c": AzureBackupContainer("backup", {"resource_group_name": "atlas", **(args or {})})
        }
    )
    return d, d.one(ACCOUNT).inputs


def writer(args: dict):
    full = {"resource_group_name": "atlas", "container_id": CONTAINER_ID, **args}
    return deploy(lambda: {"w": AzureCiWriterIdentity("ci", full)})


def reader(args: dict | None = None):
    full = {
        "namespace": "atlas",
        "service_account": "atlas-operator",
        "oidc_issuer_url": AKS_ISSUER,
        "resource_group_name": "atlas",
        "container_id": CONTAINER_ID,
        **(args or {}),
    }
    return deploy(lambda: {"r": AksReaderIdentity("op", full)})


# --- AzureBackupContainer -------------------------------------------------------------------


def test_container_defaults_are_the_secure_posture():
    d, a = container()
    assert a["enableHttpsTrafficOnly"] is True
    assert a["minimumTlsVersion"] == "TLS1_2"
    assert a["allowBlobPublicAccess"] is False
    assert a["allowSharedKeyAccess"] is False
    assert a["defaultToOAuthAuthentication"] is True
    assert a["allowCrossTenantReplication"] is False
    assert a["isHnsEnabled"] is False
    assert (a["kind"], a["sku"], a["accessTier"]) == ("StorageV2", {"name": "Standard_GRS"}, "Hot")
    assert a["encryption"] == {
        "keySource": "Microsoft.Storage",
        "requireInfrastructureEncryption": False,
    }
    assert a["networkRuleSet"] == {
        "defaultAction": "Allow",
        "bypass": "AzureServices",
        "ipRules": [],
        "virtualNetworkRules": [],
    }
    assert re.match(r"^backup[0-9a-f]{8}$", a["accountName"])
    service = d.one(SERVICE).inputs
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {
        "enabled": True,
        "days": 30,
        "allowPermanentDelete": False,
    }
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    box = d.one(CONTAINER).inputs
    assert (box["containerName"], box["publicAccess"]) == ("atlas-backup", "None")
    assert "immutableStorageWithVersioning" not in box
    d.none(IMMUTABILITY)
    (rule,) = d.one(LIFECYCLE).inputs["policy"]["rules"]
    assert rule["definition"]["actions"] == {
        "version": {"delete": {"daysAfterCreationGreaterThan": 365}}
    }
    # The account and the container survive a stack destroy: pulumi refuses to delete them.
    assert d.protected(ACCOUNT) and d.protected(CONTAINER)
    out = d.outputs["c"]
    assert out["store_url"] == f"azureblob://atlas-backup/atlas?storage_account={a['accountName']}"
    assert out["container_id"].endswith(
        f"/storageAccounts/{a['accountName']}/blobServices/default/containers/atlas-backup"
    )


def test_container_options_on():
    cmk = {
        "key_vault_uri": "https://acme-kv.vault.azure.net/",
        "key_name": "atlas",
        "user_assigned_identity_id": (
            f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kv"
        ),
    }
    d, a = container(
        {
            "account_name": "acmeatlas",
            "container_name": "backups",
            "prefix": "teams/db",
            "location": "westeurope",
            "sku": "Standard_GZRS",
            "blob_soft_delete_days": 90,
            "container_soft_delete_days": 14,
            "noncurrent_version_expiration_days": None,
            "immutability_days": 30,
            "infrastructure_encryption": True,
            "customer_managed_key": cmk,
            "allowed_ip_ranges": ["203.0.113.0/24"],
            "allowed_subnet_ids": [SUBNET],
            "force_destroy": True,
            "tags": {"team": "platform"},
        }
    )
    assert (a["accountName"], a["location"], a["sku"]) == (
        "acmeatlas",
        "westeurope",
        {"name": "Standard_GZRS"},
    )
    assert a["encryption"] == {
        "keySource": "Microsoft.Keyvault",
        "requireInfrastructureEncryption": True,
        "keyVaultProperties": {"keyVaultUri": cmk["key_vault_uri"], "keyName": "atlas"},
        "encryptionIdentity": {"encryptionUserAssignedIdentity": cmk["user_assigned_identity_id"]},
    }
    assert a["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": [cmk["user_assigned_identity_id"]],
    }
    assert a["networkRuleSet"]["defaultAction"] == "Deny"
    assert a["networkRuleSet"]["bypass"] == "None"
    assert a["networkRuleSet"]["ipRules"] == [
        {"iPAddressOrRange": "203.0.113.0/24", "action": "Allow"}
    ]
    assert len(a["networkRuleSet"]["virtualNetworkRules"]) == 1
    assert a["tags"] == {"team": "platform"}
    service = d.one(SERVICE).inputs
    assert service["deleteRetentionPolicy"]["days"] == 90
    assert service["containerDeleteRetentionPolicy"]["days"] == 14
    assert d.one(CONTAINER).inputs["immutableStorageWithVersioning"] == {"enabled": True}
    policy = d.one(IMMUTABILITY).inputs
    assert policy["immutabilityPeriodSinceCreationInDays"] == 30
    assert policy["allowProtectedAppendWrites"] is False
    d.none(LIFECYCLE)
    assert not d.protected(ACCOUNT) and not d.protected(CONTAINER)
    assert d.outputs["c"]["store_url"] == "azureblob://backups/teams/db?storage_account=acmeatlas"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"resource_group_name": None}, "resource_group_name is required"),
        ({"resource_group_name": " "}, "resource_group_name is required"),
        ({"account_name": "Acme-Atlas"}, "account_name"),
        ({"account_name": "acmeatlas\n"}, "account_name"),
        ({"container_name": "a--b"}, "container_name"),
        ({"prefix": ""}, "a prefix is required"),
        ({"blob_soft_delete_days": 0}, "blob_soft_delete_days"),
        ({"container_soft_delete_days": 400}, "container_soft_delete_days"),
        ({"immutability_days": -1}, "immutability_days"),
        (
            {"customer_managed_key": {"key_name": "k"}},
            "customer_managed_key.key_vault_uri is required",
        ),
        ({"allowed_ip_ranges": ["*"]}, "allowed_ip_ranges"),
        ({"allowed_subnet_ids": SUBNET}, "allowed_subnet_ids must be a list"),
        ({"allowed_ip_ranges": ["999.0.0.1"]}, "not an IPv4 address or range"),
        ({"allowed_ip_ranges": ["203.0.113.7/32"]}, "no /31 or /32 range"),
        ({"allowed_ip_ranges": ["10.1.0.0/16"]}, "private range"),
        ({"sku": "Premium_LRS"}, "sku 'Premium_LRS' must be one of"),
        ({"force_destroy": 1}, "force_destroy must be true or false"),
    ],
)
def test_container_refusals_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        container(args)


# --- AzureCiWriterIdentity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "issuer", "subject"),
    [
        (
            GITHUB,
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:ref:refs/heads/main",
        ),
        (
            {"provider": "github", "repository": "acme/app", "environment": "production"},
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:environment:production",
        ),
        (
            {
                "provider": "gitlab",
                "repository": "acme/app",
                "branch": "main",
                "gitlab_url": "https://gitlab.acme.example",
            },
            "https://gitlab.acme.example",
            "project_path:acme/app:ref_type:branch:ref:main",
        ),
    ],
    ids=["github-branch", "github-environment", "gitlab"],
)
def test_the_federated_credential_is_exact(args, issuer, subject):
    d = writer(args)
    fic = d.one(FEDERATION).inputs
    assert fic["issuer"] == issuer and fic["subject"] == subject
    assert fic["audiences"] == ["api://AzureADTokenExchange"]
    identity = d.one(IDENTITY)
    assert fic["resourceName"] == identity.inputs.get("resourceName", fic["resourceName"])
    out = d.outputs["w"]
    assert (out["issuer"], out["subject"], out["audience"]) == (
        issuer,
        subject,
        "api://AzureADTokenExchange",
    )
    assert out["tenant_id"] == AZURE_TENANT and out["subscription_id"] == AZURE_SUBSCRIPTION
    assert identity.inputs["resourceGroupName"] == "atlas"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {
                "provider": "circleci",
                "organization": "0a1b2c3d-0000-4000-8000-00000000000a",
                "repository": "0a1b2c3d-0000-4000-8000-00000000000b",
                "branch": "main",
            },
            "organization does not apply on Azure",
        ),
        (
            {
                "provider": "circleci",
                "repository": "0a1b2c3d-0000-4000-8000-00000000000b",
                "branch": "main",
            },
            "organization",
        ),
        ({"provider": "github", "repository": "acme/app"}, "exactly one of branch or environment"),
        ({"provider": "github", "repository": "acme/*", "branch": "main"}, "wildcard"),
        ({"provider": "gitlab", "repository": "acme/app", "branch": "rel*"}, "wildcard"),
        ({"provider": "gitlab", "repository": "acme/app"}, "branch is required"),
        ({**GITHUB, "container_id": "/subscriptions/x"}, "not a blob container's resource ID"),
        ({**GITHUB, "container_id": None}, "container_id is required"),
        ({**GITHUB, "resource_group_name": None}, "resource_group_name is required"),
        ({**GITHUB, "prefix": "x/*"}, "no wildcard"),
    ],
)
def test_writer_refusals_name_the_argument(args, message):
    declared = []

    def build():
        try:
            AzureCiWriterIdentity(
                "ci", {"resource_group_name": "atlas", "container_id": CONTAINER_ID, **args}
            )
        except ValueError as exc:
            declared.append(str(exc))
        return {}

    d = deploy(build)
    assert declared and re.search(message, declared[0]), declared
    assert d.resources == []


@pytest.mark.parametrize("provider", ["circleci", "bitbucket"])
def test_providers_whose_subject_varies_per_run_are_refused_with_what_to_do(provider):
    from atlas_continuity.infra.ci_identity import ci_identity

    args = {
        "circleci": {
            "organization": "0a1b2c3d-0000-4000-8000-00000000000a",
            "repository": "0a1b2c3d-0000-4000-8000-00000000000b",
            "vcs_origin": "github.com/acme/db",
            "branch": "main",
        },
        "bitbucket": {
            "organization": "acme",
            "workspace_uuid": "0a1b2c3d-0000-4000-8000-00000000000c",
            "repository": "0a1b2c3d-0000-4000-8000-00000000000d",
            "environment": "0a1b2c3d-0000-4000-8000-00000000000e",
        },
    }[provider]
    with pytest.raises(ValueError) as refused:
        roles.federated_subject(ci_identity(provider, **args))
    message = str(refused.value)
    assert "exactly" in message and "flexible" in message
    assert "GcpCiWriterIdentity" in message and "GitHub Actions or GitLab CI" in message


def test_writer_role_reads_writes_and_adds_blobs_under_the_prefix_and_never_deletes():
    d = writer(GITHUB)
    role = d.one(ROLE_DEF).inputs
    assert role["permissions"] == [
        {"actions": [], "dataActions": [f"{BLOBS}/read", f"{BLOBS}/write", f"{BLOBS}/add/action"]}
    ]
    assert role["assignableScopes"] == [GROUP] and role["scope"] == GROUP
    assert role["roleType"] == "CustomRole" and role["roleName"].startswith(
        "atlas-continuity blob writer "
    )
    assignment = d.one(ASSIGNMENT).inputs
    assert assignment["scope"] == CONTAINER_ID
    assert assignment["roleDefinitionId"] == d.outputs["w"]["role_definition_id"]
    assert assignment["principalId"] == d.outputs["w"]["principal_id"]
    assert assignment["principalType"] == "ServicePrincipal"
    assert assignment["conditionVersion"] == "2.0"
    assert assignment["condition"] == roles.writer_condition("atlas")
    assert _clauses(assignment["condition"]) == [
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND NOT SubOperationMatches{{'Blob.List'}}",
            [f"@Resource[{BLOBS}:path] StringStartsWith 'atlas/'"],
        ),
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND SubOperationMatches{{'Blob.List'}}",
            [f"@Request[{BLOBS}:prefix] StringStartsWith 'atlas/'"],
        ),
        (
            f"ActionMatches{{'{BLOBS}/write'}} OR ActionMatches{{'{BLOBS}/add/action'}}",
            [f"@Resource[{BLOBS}:path] StringStartsWith 'atlas/'"],
        ),
    ]


def test_without_atlas_backup_writes_only_the_runtime_folders_take_writes():
    d = writer({**GITHUB, "allow_atlas_backup_writes": False, "prefix": "teams/db"})
    write = _clauses(d.one(ASSIGNMENT).inputs["condition"])[2]
    assert write[1] == [
        f"@Resource[{BLOBS}:path] StringStartsWith 'teams/db/atlas-continuity/registry/'",
        f"@Resource[{BLOBS}:path] StringStartsWith 'teams/db/atlas-continuity/grants/'",
    ]


def _clauses(condition: str) -> list[tuple[str, list[str]]]:
    """(the actions a clause governs, the alternatives it allows them under)."""
    found = re.findall(r"!\((.*?)\)\n \)\n OR\n \(\n  (.*?)\n \)", condition, flags=re.S)
    return [(actions, allowed.split(" OR ")) for actions, allowed in found]


# --- AksReaderIdentity ----------------------------------------------------------------------


def test_reader_federates_the_service_account_and_reads_under_the_prefix():
    d = reader({"prefix": "teams/db"})
    fic = d.one(FEDERATION).inputs
    assert fic == {
        "resourceGroupName": "atlas",
        "resourceName": fic["resourceName"],
        "issuer": AKS_ISSUER,
        "subject": "system:serviceaccount:atlas:atlas-operator",
        "audiences": ["api://AzureADTokenExchange"],
    }
    d.none(ROLE_DEF)
    assignment = d.one(ASSIGNMENT).inputs
    assert assignment["roleDefinitionId"] == (
        f"/subscriptions/{AZURE_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    )
    assert assignment["scope"] == CONTAINER_ID
    assert _clauses(assignment["condition"]) == [
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND NOT SubOperationMatches{{'Blob.List'}}",
            [f"@Resource[{BLOBS}:path] StringStartsWith 'teams/db/'"],
        ),
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND SubOperationMatches{{'Blob.List'}}",
            [f"@Request[{BLOBS}:prefix] StringStartsWith 'teams/db/'"],
        ),
    ]
    out = d.outputs["r"]
    assert out["service_account_annotations"] == {
        "azure.workload.identity/client-id": out["client_id"],
        "azure.workload.identity/tenant-id": AZURE_TENANT,
    }
    assert out["pod_labels"] == {"azure.workload.identity/use": "true"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"namespace": "Atlas"}, "not a Kubernetes namespace"),
        ({"service_account": None}, "service_account is required"),
        ({"oidc_issuer_url": "http://issuer"}, "https://"),
        ({"oidc_issuer_url": None}, "oidc_issuer_url is required"),
        ({"container_id": "acmeatlas/atlas-backup"}, "not a blob container's resource ID"),
        ({"grant_service_account": "atlas-operator"}, "must differ"),
        ({"grant_service_account": "g*"}, "wildcard"),
        ({"grant_service_account": "g", "identity_name": "x"}, "leave identity_name unset"),
    ],
)
def test_reader_refusals_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        reader(args)


def test_no_identity_gets_delete_admin_or_anything_outside_its_container():
    """Every role and permission the Azure identities hold, listed."""

    def build():
        return {
            "w": AzureCiWriterIdentity(
                "ci", {**GITHUB, "resource_group_name": "atlas", "container_id": CONTAINER_ID}
            ),
            "r": AksReaderIdentity(
                "op",
                {
                    "namespace": "atlas",
                    "service_account": "op",
                    "grant_service_account": "grants",
                    "oidc_issuer_url": AKS_ISSUER,
                    "resource_group_name": "atlas",
                    "container_id": CONTAINER_ID,
                },
            ),
        }

    d = deploy(build)
    custom = d.of_type(ROLE_DEF)  # the CI writer's and the grant writer's
    assert len(custom) == 2
    for role in custom:
        assert role.inputs["permissions"] == [
            {"actions": [], "dataActions": list(roles.WRITER_DATA_ACTIONS)}
        ]
    assert not [a for a in roles.WRITER_DATA_ACTIONS if "delete" in a.lower()]
    assignments = d.of_type(ASSIGNMENT)
    assert len(assignments) == 3
    built_in = f"/roleDefinitions/{roles.STORAGE_BLOB_DATA_READER}"
    for a in assignments:
        # Scoped to the one container, with a prefix condition on every data action.
        assert a.inputs["scope"] == CONTAINER_ID
        assert a.inputs["conditionVersion"] == "2.0"
        assert len(re.findall(r"StringStartsWith 'atlas/", a.inputs["condition"])) >= 2
        assert a.inputs["roleDefinitionId"].endswith(built_in) or a.inputs["roleDefinitionId"] in {
            r.state["id"] for r in custom
        }
    # Storage Blob Data Reader brings two control-plane actions at container scope (read the
    # container's properties; a user delegation key, which needs the blob service's scope and
    # so is unusable here) and blobs/read, which the condition scopes.


def test_the_grant_writer_is_its_own_identity_writing_grant_snapshots_only():
    d = reader({"grant_service_account": "atlas-grants", "prefix": "teams/db"})
    federations = {f.inputs["subject"]: f for f in d.of_type(FEDERATION)}
    assert set(federations) == {
        "system:serviceaccount:atlas:atlas-operator",
        "system:serviceaccount:atlas:atlas-grants",
    }
    (custom,) = d.of_type(ROLE_DEF)
    assignments = {a.name: a.inputs for a in d.of_type(ASSIGNMENT)}
    grants = assignments["op-grants-access"]
    assert grants["roleDefinitionId"] == custom.state["id"]
    assert grants["scope"] == CONTAINER_ID
    # One series: <project>.<stack>.<namespace> by default, as AtlasOperator's.
    where = "teams/db/atlas-continuity/grants/atlas.test.atlas/"
    assert _clauses(grants["condition"]) == [
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND NOT SubOperationMatches{{'Blob.List'}}",
            [f"@Resource[{BLOBS}:path] StringStartsWith '{where}'"],
        ),
        (
            f"ActionMatches{{'{BLOBS}/read'}} AND SubOperationMatches{{'Blob.List'}}",
            [f"@Request[{BLOBS}:prefix] StringStartsWith '{where}'"],
        ),
        (
            f"ActionMatches{{'{BLOBS}/write'}} OR ActionMatches{{'{BLOBS}/add/action'}}",
            [f"@Resource[{BLOBS}:path] StringStartsWith '{where}'"],
        ),
    ]
    out = d.outputs["r"]
    assert out["grant_writer_client_id"] != out["client_id"]
    assert out["grant_writer_service_account_annotations"] == {
        "azure.workload.identity/client-id": out["grant_writer_client_id"],
        "azure.workload.identity/tenant-id": AZURE_TENANT,
    }
