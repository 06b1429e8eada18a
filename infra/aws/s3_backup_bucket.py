"""S3BackupBucket: an S3 bucket a registry backup can trust (docs/infra-aws.md)."""

from collections.abc import Mapping
from enum import StrEnum
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from atlas_continuity.infra import store
from atlas_continuity.infra.args import flag, known_args, whole_number
from atlas_continuity.infra.aws import policies

TYPE_TOKEN = "atlas-continuity:index:S3BackupBucket"


class S3ObjectLockMode(StrEnum):
    """How strictly the default object-lock retention holds."""

    GOVERNANCE = "GOVERNANCE"
    """Users with s3:BypassGovernanceRetention can still delete a locked version early."""
    COMPLIANCE = "COMPLIANCE"
    """Nobody, not even the account root, can delete a locked version before it expires."""


class S3BackupBucketArgs(TypedDict, total=False):
    """Inputs of S3BackupBucket. Every default is the secure choice."""

    bucket_name: pulumi.Input[str]
    """The bucket's name. Default: the component name plus a random suffix (Pulumi autonaming)."""
    prefix: str
    """The store's prefix inside the bucket: the store URL points at it, the runtime keeps its
    registry and grants under ``<prefix>/atlas-continuity/``, Atlas's own ``repo.backup``
    copies go beside them, and the CI and Kubernetes identities are scoped to it. Letters,
    digits, '.', '_' and '-' in '/'-separated segments. Default: "atlas"."""
    region: str
    """The AWS region of the bucket and its children. Default: the AWS provider's region."""
    kms_key_arn: pulumi.Input[str]
    """Encrypt with SSE-KMS under this existing key (with an S3 bucket key). Default: none, so
    SSE-S3 (AES-256 under keys S3 manages), unless create_kms_key is set."""
    create_kms_key: bool
    """Create a customer-managed KMS key (rotation on, 30-day deletion window) for SSE-KMS with
    an S3 bucket key. Default: false. Not together with kms_key_arn."""
    noncurrent_version_expiration_days: int
    """Delete noncurrent object versions this many days after they were superseded. Default:
    none, so every version is kept: expiring them shortens how long a mistake can be undone."""
    abort_incomplete_multipart_upload_days: int
    """Abort multipart uploads still incomplete after this many days, so half-written uploads
    do not accumulate storage. Default: 7."""
    object_lock_retention_days: int
    """Turn on S3 Object Lock with a default retention of this many days: no object version
    can be deleted or overwritten before it expires. Default: none (object lock off)."""
    object_lock_mode: S3ObjectLockMode
    """The default retention's mode, with object_lock_retention_days. Default: GOVERNANCE.
    COMPLIANCE cannot be shortened or lifted by anyone, the account root included."""
    access_log_bucket: pulumi.Input[str]
    """Send S3 server access logs to this bucket (which must allow the logging service to
    write). Default: none (access logging off)."""
    access_log_prefix: pulumi.Input[str]
    """The key prefix of the access logs in access_log_bucket. Default: "<component name>/"."""
    force_destroy: bool
    """Let `pulumi destroy` delete the bucket with every object version in it. Default: false:
    turning it on means a stack destroy erases the backups, irrecoverably."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the bucket and the KMS key the component creates."""


class S3BackupBucket(pulumi.ComponentResource):
    """An S3 bucket for registry backups: versioned, encrypted, private, TLS-only.

    Public access is blocked (all four flags), ACLs are disabled (BucketOwnerEnforced), every
    request not over TLS 1.2 or later is denied, versioning is on, incomplete multipart uploads
    are aborted, and the bucket survives a stack destroy unless force_destroy is set.
    """

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    bucket_arn: pulumi.Output[str]
    """The bucket's ARN, for the identities' policies (AwsCiWriterRole, EksReaderRole)."""
    region: pulumi.Output[str]
    """The bucket's region."""
    prefix: pulumi.Output[str]
    """The store's prefix inside the bucket."""
    store_url: pulumi.Output[str]
    """The store URL, s3://BUCKET/PREFIX?region=REGION: one URL for atlas.hcl's repo.backup,
    push / pull and grant save / restore."""
    kms_key_arn: pulumi.Output[str | None]
    """The SSE-KMS key's ARN, or null under SSE-S3."""

    def __init__(
        self,
        name: str,
        args: S3BackupBucketArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, S3BackupBucketArgs)
        settings = _Settings(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = args.get("region")
        tags = args.get("tags")

        key_arn: pulumi.Input[str] | None = args.get("kms_key_arn")
        if settings.create_kms_key:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"SSE-KMS key of the {name} registry backup bucket",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                region=region,
                tags=tags,
                opts=child,
            )
            key_arn = key.arn

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.get("bucket_name"),
            force_destroy=settings.force_destroy,
            region=region,
            tags=tags,
            opts=child,
        )
        bucket_id = bucket.bucket

        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            region=region,
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            region=region,
            opts=child,
        )
        by_default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
        )
        if key_arn is not None:
            rule = aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default(
                    sse_algorithm="aws:kms", kms_master_key_id=key_arn
                ),
                bucket_key_enabled=True,
            )
        else:
            rule = aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default(sse_algorithm="AES256")
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket_id, rules=[rule], region=region, opts=child
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket_id,
            policy=bucket.arn.apply(
                lambda arn: policies.to_json(policies.tls_only_bucket_policy(arn))
            ),
            region=region,
            # S3 rejects concurrent bucket-configuration writes; the policy goes last.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access, ownership]),
        )

        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=settings.abort_days
                ),
            )
        ]
        if settings.noncurrent_days:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=settings.noncurrent_days
                    ),
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=rules,
            region=region,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        # Object lock is turned on by its configuration, not by the bucket's own flag: that
        # flag forces a new bucket, so turning the option on later would replace the backups.
        if settings.lock_days:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock",
                bucket=bucket_id,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=settings.lock_mode, days=settings.lock_days
                    )
                ),
                region=region,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            )

        log_bucket = args.get("access_log_bucket")
        if log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logs",
                bucket=bucket_id,
                target_bucket=log_bucket,
                target_prefix=args.get("access_log_prefix") or f"{name}/",
                region=region,
                opts=child,
            )

        prefix = settings.prefix
        self.bucket_name = bucket_id
        self.bucket_arn = bucket.arn
        self.region = bucket.bucket_region
        self.prefix = pulumi.Output.from_input(prefix)
        self.store_url = store.store_url("s3", bucket_id, prefix, {"region": bucket.bucket_region})
        self.kms_key_arn = pulumi.Output.from_input(key_arn)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "region": self.region,
                "prefix": self.prefix,
                "store_url": self.store_url,
                "kms_key_arn": self.kms_key_arn,
            }
        )


class _Settings:
    """The plain arguments, validated before any resource is declared."""

    def __init__(self, name: str, args: S3BackupBucketArgs) -> None:
        if isinstance(args.get("bucket_name"), str):
            policies.check_bucket_name(args["bucket_name"], f"{name}: bucket_name")
        self.prefix = store.store_prefix(name, args)
        self.create_kms_key = flag(name, args, "create_kms_key", False)
        if self.create_kms_key and args.get("kms_key_arn") is not None:
            raise ValueError(f"{name}: give kms_key_arn or create_kms_key, not both")
        self.force_destroy = flag(name, args, "force_destroy", False)
        self.noncurrent_days = whole_number(
            name,
            "noncurrent_version_expiration_days",
            args.get("noncurrent_version_expiration_days"),
        )
        self.abort_days = whole_number(
            name,
            "abort_incomplete_multipart_upload_days",
            args.get("abort_incomplete_multipart_upload_days", 7),
        )
        self.lock_days = whole_number(
            name, "object_lock_retention_days", args.get("object_lock_retention_days")
        )
        mode = args.get("object_lock_mode")
        if mode is not None and not self.lock_days:
            raise ValueError(f"{name}: object_lock_mode needs object_lock_retention_days")
        try:
            self.lock_mode = S3ObjectLockMode(mode or S3ObjectLockMode.GOVERNANCE).value
        except ValueError:
            raise ValueError(f"{name}: object_lock_mode must be GOVERNANCE or COMPLIANCE") from None
        if args.get("access_log_prefix") is not None and args.get("access_log_bucket") is None:
            raise ValueError(f"{name}: access_log_prefix needs access_log_bucket")
