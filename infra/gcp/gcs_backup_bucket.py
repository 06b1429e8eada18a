"""GcsBackupBucket: a Cloud Storage bucket a registry backup can trust (docs/infra-gcp.md)."""

import re
from collections.abc import Mapping
from typing import Required, TypedDict

import pulumi
import pulumi_gcp as gcp

from atlas_continuity.infra import store
from atlas_continuity.infra.args import flag, known_args, required_arg, whole_number
from atlas_continuity.infra.gcp import conditions

TYPE_TOKEN = "atlas-continuity:index:GcsBackupBucket"
DAY = 86400
_KMS_KEY = r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$"


class GcsBackupBucketArgs(TypedDict, total=False):
    """Inputs of GcsBackupBucket. Every default is the secure choice."""

    location: Required[pulumi.Input[str]]
    """The bucket's location: a region (europe-west1), a dual-region (EUR4) or a multi-region
    (EU, US). Pick one outside the failure domain of your primary store."""
    bucket_name: pulumi.Input[str]
    """The bucket's name. Default: the component name plus a random suffix (Pulumi autonaming)."""
    project: pulumi.Input[str]
    """The GCP project of the bucket. Default: the GCP provider's project."""
    prefix: str
    """The store's prefix inside the bucket: the store URL points at it, the runtime keeps its
    registry and grants under ``<prefix>/atlas-continuity/``, Atlas's own ``repo.backup``
    copies go beside them, and the CI and Kubernetes identities are scoped to it. Letters,
    digits, '.', '_' and '-' in '/'-separated segments. Default: "atlas"."""
    soft_delete_days: int
    """How long a deleted or replaced object version stays restorable (soft delete), 7 to 90
    days. Default: 30. Soft delete is what makes the CI writers' replace right for Atlas's own
    backups recoverable even when a noncurrent version is deleted outright; it cannot be
    turned off here."""
    noncurrent_version_expiration_days: int | None
    """Delete noncurrent object versions this many days after they were superseded. Default:
    365. None keeps every version forever (storage grows with every overwrite); a shorter
    window shortens how long a mistake can be undone."""
    abort_incomplete_multipart_upload_days: int
    """Abort XML-API multipart uploads still incomplete after this many days, so half-written
    uploads do not accumulate storage. Default: 7."""
    retention_period_days: int
    """A bucket retention policy (Bucket Lock): no object can be deleted or replaced before it
    is this many days old, by anyone. Default: none. GCS does not allow Object Versioning
    together with a retention policy, so setting it turns versioning off: objects are then
    protected by age instead of by history, and a replace of Atlas's own backups fails until
    the object is old enough."""
    lock_retention_policy: bool
    """Lock the retention policy: it can then never be shortened or removed, and the bucket can
    only be deleted once every object has aged out. Irreversible. Default: false. Needs
    retention_period_days."""
    kms_key_name: pulumi.Input[str]
    """Encrypt new objects with this Cloud KMS key (CMEK),
    projects/P/locations/L/keyRings/R/cryptoKeys/K, in the bucket's location. The component
    grants the project's Cloud Storage service agent encrypt/decrypt on the key. Default: none
    (Google-managed encryption)."""
    force_destroy: bool
    """Let `pulumi destroy` delete the bucket with every object version in it. Default: false:
    turning it on means a stack destroy erases the backups, irrecoverably."""
    labels: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Labels for the bucket."""


class GcsBackupBucket(pulumi.ComponentResource):
    """A Cloud Storage bucket for registry backups: versioned, soft-deleting, private.

    Uniform bucket-level access (no ACLs), public access prevention enforced, Object Versioning
    on, soft delete (30 days), noncurrent versions expired after a year, incomplete uploads
    aborted, optional retention policy and CMEK; it survives a stack destroy unless
    force_destroy is set.
    """

    bucket_name: pulumi.Output[str]
    """The bucket's name, for the identities' bindings (GcpCiWriterIdentity, GkeReaderIdentity)."""
    prefix: pulumi.Output[str]
    """The store's prefix inside the bucket."""
    store_url: pulumi.Output[str]
    """The store URL, gs://BUCKET/PREFIX: one URL for atlas.hcl's repo.backup, push / pull and
    grant save / restore."""
    kms_key_name: pulumi.Output[str | None]
    """The CMEK key's name, or null under Google-managed encryption."""

    def __init__(
        self,
        name: str,
        args: GcsBackupBucketArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, GcsBackupBucketArgs)
        settings = _Settings(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args.get("project")
        key = args.get("kms_key_name")

        depends_on: list[pulumi.Resource] = []
        if key is not None:
            agent = gcp.storage.get_project_service_account_output(
                project=project, opts=pulumi.InvokeOptions(parent=self)
            )
            depends_on.append(
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-cmek-agent",
                    crypto_key_id=key,
                    role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    member=agent.email_address.apply(lambda email: f"serviceAccount:{email}"),
                    opts=child,
                )
            )

        rules = [
            gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(
                    type="AbortIncompleteMultipartUpload"
                ),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=settings.abort_days),
            )
        ]
        if settings.noncurrent_days and settings.versioning:
            rules.append(
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=settings.noncurrent_days,
                        with_state="ARCHIVED",
                    ),
                )
            )
        retention = None
        if settings.retention_days:
            retention = gcp.storage.BucketRetentionPolicyArgs(
                retention_period=str(settings.retention_days * DAY),
                is_locked=settings.lock,
            )

        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=args.get("bucket_name"),
            location=args["location"],
            project=project,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=settings.versioning),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=settings.soft_delete_days * DAY
            ),
            lifecycle_rules=rules,
            retention_policy=retention,
            encryption=gcp.storage.BucketEncryptionArgs(default_kms_key_name=key)
            if key is not None
            else None,
            force_destroy=settings.force_destroy,
            labels=args.get("labels"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

        self.bucket_name = bucket.name
        self.prefix = pulumi.Output.from_input(settings.prefix)
        self.store_url = store.store_url("gs", bucket.name, settings.prefix)
        self.kms_key_name = pulumi.Output.from_input(key)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "prefix": self.prefix,
                "store_url": self.store_url,
                "kms_key_name": self.kms_key_name,
            }
        )


class _Settings:
    """The plain arguments, validated before any resource is declared."""

    def __init__(self, name: str, args: GcsBackupBucketArgs) -> None:
        required_arg(name, args, "location")
        if isinstance(args.get("bucket_name"), str):
            conditions.check_bucket(args["bucket_name"], f"{name}: bucket_name")
        self.prefix = store.store_prefix(name, args)
        self.force_destroy = flag(name, args, "force_destroy", False)
        self.soft_delete_days = whole_number(
            name, "soft_delete_days", args.get("soft_delete_days", 30), minimum=7, maximum=90
        )
        self.noncurrent_days = whole_number(
            name,
            "noncurrent_version_expiration_days",
            args.get("noncurrent_version_expiration_days", 365),
        )
        self.abort_days = whole_number(
            name,
            "abort_incomplete_multipart_upload_days",
            args.get("abort_incomplete_multipart_upload_days", 7),
        )
        self.retention_days = whole_number(
            name, "retention_period_days", args.get("retention_period_days"), maximum=36500
        )
        self.lock = flag(name, args, "lock_retention_policy", False)
        if self.lock and not self.retention_days:
            raise ValueError(f"{name}: lock_retention_policy needs retention_period_days")
        self.versioning = not self.retention_days
        key = args.get("kms_key_name")
        if isinstance(key, str) and not re.match(_KMS_KEY, key):
            raise ValueError(
                f"{name}: kms_key_name {key!r} is not a Cloud KMS key name "
                "(projects/P/locations/L/keyRings/R/cryptoKeys/K)"
            )
