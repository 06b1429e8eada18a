"""AzureBackupContainer: a storage account and blob container a backup can trust."""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_azure_native as azure_native

from atlas_continuity.infra import store
from atlas_continuity.infra.args import flag, known_args, required_arg, whole_number
from atlas_continuity.infra.naming import stable_id

TYPE_TOKEN = "atlas-continuity:index:AzureBackupContainer"
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}\Z")
_SKUS = (
    "Standard_LRS",
    "Standard_ZRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
)
_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")


class AzureCustomerManagedKey(TypedDict, total=False):
    """A Key Vault key the storage account encrypts with (CMK)."""

    key_vault_uri: Required[pulumi.Input[str]]
    """The vault's URI, https://NAME.vault.azure.net/."""
    key_name: Required[pulumi.Input[str]]
    """The key's name in the vault."""
    key_version: pulumi.Input[str]
    """A fixed key version. Default: none, so Azure follows the key's newest version."""
    user_assigned_identity_id: Required[pulumi.Input[str]]
    """The resource ID of a user-assigned managed identity that may wrap and unwrap with the key
    (Key Vault Crypto Service Encryption User): the account uses it to reach the vault."""


class AzureBackupContainerArgs(TypedDict, total=False):
    """Inputs of AzureBackupContainer. Every default is the secure choice."""

    resource_group_name: Required[pulumi.Input[str]]
    """The resource group the storage account goes in."""
    location: pulumi.Input[str]
    """The account's Azure region. Default: the resource group's."""
    account_name: str
    """The storage account's name, 3 to 24 lowercase letters and digits, unique across Azure.
    Default: derived from the component name, the Pulumi project and stack."""
    container_name: str
    """The blob container's name. Default: "atlas-backup"."""
    prefix: str
    """The store's prefix inside the container: the store URL points at it, the runtime keeps its
    registry and grants under ``<prefix>/atlas-continuity/``, Atlas's own ``repo.backup``
    copies go beside them, and the identities' conditions are scoped to it. Default: "atlas"."""
    sku: str
    """The account's redundancy: Standard_LRS, Standard_ZRS, Standard_GRS, Standard_RAGRS,
    Standard_GZRS or Standard_RAGZRS. Default: Standard_GRS (a second copy in the paired
    region)."""
    blob_soft_delete_days: int
    """How long a deleted blob or blob version stays restorable, 1 to 365 days. Default: 30."""
    container_soft_delete_days: int
    """How long a deleted container stays restorable, 1 to 365 days. Default: 30."""
    noncurrent_version_expiration_days: int | None
    """Delete previous blob versions this many days after they were created (a lifecycle
    management rule). Default: 365. None keeps every version forever."""
    immutability_days: int
    """Version-level immutability (WORM) on the container with a default time-based retention
    of this many days: no blob version can be deleted or modified before it is that old, and an
    overwrite still works, keeping the version it replaced. Default: none. The policy is
    created unlocked; locking it (irreversible) is a separate, deliberate step
    (az storage container immutability-policy lock)."""
    infrastructure_encryption: bool
    """Encrypt at the infrastructure layer too (a second, independent AES-256 layer). Only at
    account creation: changing it replaces the account. Default: false."""
    customer_managed_key: AzureCustomerManagedKey
    """Encrypt with a Key Vault key you manage (CMK). Default: none (Microsoft-managed keys)."""
    allowed_ip_ranges: Sequence[str]
    """Only these public IPv4 addresses or CIDR ranges (/30 or wider; not RFC 1918) may reach
    the account's data endpoints (with allowed_subnet_ids). Default: none, so the account
    takes requests from any network (authorization still applies), which hosted CI runners
    need."""
    allowed_subnet_ids: Sequence[pulumi.Input[str]]
    """Virtual network subnets (resource IDs, with a Microsoft.Storage service endpoint) that may
    reach the account. Giving either list denies every other network, trusted Azure services
    included."""
    force_destroy: bool
    """Let `pulumi destroy` delete the storage account and every blob in it. Default: false:
    the account and container are protected, so a stack destroy fails rather than erase the
    backups."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the storage account."""


class AzureBackupContainer(pulumi.ComponentResource):
    """A storage account and blob container for registry backups: HTTPS and TLS 1.2 only, no
    public access, no shared keys (Entra ID only), blob versioning, blob and container soft
    delete, previous versions expired after a year, optional immutability and CMK; protected
    from a stack destroy unless force_destroy is set.
    """

    account_name: pulumi.Output[str]
    """The storage account's name."""
    account_id: pulumi.Output[str]
    """The storage account's resource ID."""
    container_name: pulumi.Output[str]
    """The blob container's name."""
    container_id: pulumi.Output[str]
    """The container's resource ID, for the identities (AzureCiWriterIdentity,
    AksReaderIdentity)."""
    prefix: pulumi.Output[str]
    """The store's prefix inside the container."""
    store_url: pulumi.Output[str]
    """The store URL, azureblob://CONTAINER/PREFIX?storage_account=ACCOUNT: one URL for
    atlas.hcl's repo.backup, push / pull and grant save / restore."""

    def __init__(
        self,
        name: str,
        args: AzureBackupContainerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, AzureBackupContainerArgs)
        settings = _Settings(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        group = args["resource_group_name"]
        kept = pulumi.ResourceOptions(parent=self, protect=not settings.force_destroy)
        child = pulumi.ResourceOptions(parent=self)

        encryption = azure_native.storage.EncryptionArgs(
            key_source="Microsoft.Storage",
            require_infrastructure_encryption=settings.infrastructure_encryption,
        )
        identity = None
        cmk = args.get("customer_managed_key")
        if cmk is not None:
            encryption = azure_native.storage.EncryptionArgs(
                key_source="Microsoft.Keyvault",
                require_infrastructure_encryption=settings.infrastructure_encryption,
                key_vault_properties=azure_native.storage.KeyVaultPropertiesArgs(
                    key_vault_uri=cmk["key_vault_uri"],
                    key_name=cmk["key_name"],
                    key_version=cmk.get("key_version"),
                ),
                encryption_identity=azure_native.storage.EncryptionIdentityArgs(
                    encryption_user_assigned_identity=cmk["user_assigned_identity_id"]
                ),
            )
            identity = azure_native.storage.IdentityArgs(
                type="UserAssigned", user_assigned_identities=[cmk["user_assigned_identity_id"]]
            )

        ips = list(args.get("allowed_ip_ranges") or [])
        subnets = list(args.get("allowed_subnet_ids") or [])
        restricted = bool(ips or subnets)
        network = azure_native.storage.NetworkRuleSetArgs(
            default_action="Deny" if restricted else "Allow",
            bypass="None" if restricted else "AzureServices",
            ip_rules=[
                azure_native.storage.IPRuleArgs(i_p_address_or_range=ip, action="Allow")
                for ip in ips
            ],
            virtual_network_rules=[
                azure_native.storage.VirtualNetworkRuleArgs(
                    virtual_network_resource_id=subnet, action="Allow"
                )
                for subnet in subnets
            ],
        )

        account = azure_native.storage.StorageAccount(
            f"{name}-account",
            account_name=settings.account_name,
            resource_group_name=group,
            location=args.get("location"),
            kind="StorageV2",
            sku=azure_native.storage.SkuArgs(name=settings.sku),
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            is_hns_enabled=False,
            encryption=encryption,
            identity=identity,
            network_rule_set=network,
            tags=args.get("tags"),
            opts=kept,
        )
        service = azure_native.storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=account.name,
            resource_group_name=group,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(
                enabled=True, days=settings.blob_days, allow_permanent_delete=False
            ),
            container_delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(
                enabled=True, days=settings.container_days
            ),
            opts=child,
        )
        container = azure_native.storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=group,
            container_name=settings.container_name,
            public_access="None",
            immutable_storage_with_versioning=azure_native.storage.ImmutableStorageWithVersioningArgs(
                enabled=True
            )
            if settings.immutability_days
            else None,
            # Version-level immutability needs versioning on first.
            opts=pulumi.ResourceOptions(
                parent=self, protect=not settings.force_destroy, depends_on=[service]
            ),
        )
        if settings.immutability_days:
            azure_native.storage.BlobContainerImmutabilityPolicy(
                f"{name}-immutability",
                account_name=account.name,
                resource_group_name=group,
                container_name=container.name,
                immutability_policy_name="default",
                immutability_period_since_creation_in_days=settings.immutability_days,
                allow_protected_append_writes=False,
                opts=child,
            )
        if settings.noncurrent_days:
            azure_native.storage.ManagementPolicy(
                f"{name}-lifecycle",
                account_name=account.name,
                resource_group_name=group,
                management_policy_name="default",
                policy=azure_native.storage.ManagementPolicySchemaArgs(
                    rules=[
                        azure_native.storage.ManagementPolicyRuleArgs(
                            name="expire-previous-versions",
                            enabled=True,
                            type="Lifecycle",
                            definition=azure_native.storage.ManagementPolicyDefinitionArgs(
                                filters=azure_native.storage.ManagementPolicyFilterArgs(
                                    blob_types=["blockBlob"]
                                ),
                                actions=azure_native.storage.ManagementPolicyActionArgs(
                                    version=azure_native.storage.ManagementPolicyVersionArgs(
                                        delete=azure_native.storage.DateAfterCreationArgs(
                                            days_after_creation_greater_than=settings.noncurrent_days
                                        )
                                    )
                                ),
                            ),
                        )
                    ]
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
            )

        self.account_name = account.name
        self.account_id = account.id
        self.container_name = container.name
        self.container_id = container.id
        self.prefix = pulumi.Output.from_input(settings.prefix)
        self.store_url = store.store_url(
            "azureblob", container.name, settings.prefix, {"storage_account": account.name}
        )
        self.register_outputs(
            {
                "account_name": self.account_name,
                "account_id": self.account_id,
                "container_name": self.container_name,
                "container_id": self.container_id,
                "prefix": self.prefix,
                "store_url": self.store_url,
            }
        )


class _Settings:
    """The plain arguments, validated before any resource is declared."""

    def __init__(self, name: str, args: AzureBackupContainerArgs) -> None:
        required_arg(name, args, "resource_group_name")
        self.prefix = store.store_prefix(name, args)
        self.account_name = args.get("account_name") or stable_id(
            name, max_len=24, allowed="a-z0-9", sep="", hash_len=8
        )
        if not isinstance(self.account_name, str) or not _ACCOUNT.match(self.account_name):
            raise ValueError(
                f"{name}: account_name {self.account_name!r} must be 3 to 24 lowercase letters "
                "and digits"
            )
        self.container_name = args.get("container_name", "atlas-backup")
        if not isinstance(self.container_name, str) or not _CONTAINER.match(self.container_name):
            raise ValueError(
                f"{name}: container_name {self.container_name!r} must be 3 to 63 lowercase "
                "letters, digits and single hyphens, starting and ending with a letter or digit"
            )
        self.sku = args.get("sku", "Standard_GRS")
        if self.sku not in _SKUS:
            raise ValueError(
                f"{name}: sku {self.sku!r} must be one of {', '.join(_SKUS)} (a general-purpose "
                "v2 account: premium ones hold no block blobs in it)"
            )
        self.blob_days = whole_number(
            name, "blob_soft_delete_days", args.get("blob_soft_delete_days", 30), maximum=365
        )
        self.container_days = whole_number(
            name,
            "container_soft_delete_days",
            args.get("container_soft_delete_days", 30),
            maximum=365,
        )
        self.noncurrent_days = whole_number(
            name,
            "noncurrent_version_expiration_days",
            args.get("noncurrent_version_expiration_days", 365),
        )
        self.immutability_days = whole_number(
            name, "immutability_days", args.get("immutability_days"), maximum=146000
        )
        self.infrastructure_encryption = flag(name, args, "infrastructure_encryption", False)
        self.force_destroy = flag(name, args, "force_destroy", False)
        cmk = args.get("customer_managed_key")
        if cmk is not None:
            for field in ("key_vault_uri", "key_name", "user_assigned_identity_id"):
                if not isinstance(cmk, Mapping) or cmk.get(field) is None:
                    raise ValueError(f"{name}: customer_managed_key.{field} is required")
        for field in ("allowed_ip_ranges", "allowed_subnet_ids"):
            # A string is a sequence too: each of its characters would become a rule.
            if not isinstance(args.get(field) or [], list | tuple):
                raise ValueError(f"{name}: {field} must be a list, not {args[field]!r}")
        for ip in args.get("allowed_ip_ranges") or []:
            _check_ip_rule(name, ip)


def _check_ip_rule(name: str, ip: object) -> None:
    """One of allowed_ip_ranges, as Azure's IP network rules take it: a public IPv4 address,
    or a range of at least four addresses (Azure refuses /31 and /32 ranges and private ones,
    but only at apply)."""
    try:
        network = ipaddress.IPv4Network(ip if isinstance(ip, str) else "", strict=True)
    except ValueError:
        raise ValueError(
            f"{name}: allowed_ip_ranges: {ip!r} is not an IPv4 address or range"
        ) from None
    if "/" in ip and network.prefixlen > 30:  # type: ignore[operator]
        raise ValueError(
            f"{name}: allowed_ip_ranges: {ip!r}: Azure takes no /31 or /32 range; give each "
            "address on its own"
        )
    if any(network.subnet_of(private) for private in _RFC1918):
        raise ValueError(
            f"{name}: allowed_ip_ranges: {ip!r} is a private range (RFC 1918), which Azure's IP "
            "rules do not take: reach the account from a virtual network with allowed_subnet_ids"
        )
