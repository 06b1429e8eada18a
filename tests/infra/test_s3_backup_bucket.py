"""S3BackupBucket: every setting, as declared to the engine, with defaults and with options on."""

from __future__ import annotations

import pytest

from atlas_continuity.infra.aws import S3BackupBucket, S3ObjectLockMode
from tests.infra.harness import KEY_ARN, deploy

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
KMS_KEY = "aws:kms/key:Key"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def bucket(args: dict | None = None, name: str = "backup"):
    return deploy(lambda: {"bucket": S3BackupBucket(name, args or {})})


@pytest.fixture(scope="module")
def defaults():
    return bucket()


@pytest.fixture(scope="module")
def everything_on():
    return bucket(
        {
            "bucket_name": "acme-atlas-backup",
            "prefix": "/atlas/registry/",
            "region": "eu-west-1",
            "create_kms_key": True,
            "noncurrent_version_expiration_days": 90,
            "abort_incomplete_multipart_upload_days": 3,
            "object_lock_retention_days": 30,
            "object_lock_mode": S3ObjectLockMode.COMPLIANCE,
            "access_log_bucket": "acme-access-logs",
            "access_log_prefix": "atlas-backup/",
            "force_destroy": True,
            "tags": {"team": "platform", "env": "prod"},
        }
    )


# --- defaults --------------------------------------------------------------------------------


def test_default_bucket_is_not_destroyable_with_its_objects(defaults):
    b = defaults.one(BUCKET)
    assert b.inputs["forceDestroy"] is False
    assert "objectLockEnabled" not in b.inputs
    assert "bucket" not in b.inputs  # autonamed from the component name


def test_versioning_is_on(defaults):
    versioning = defaults.one(VERSIONING)
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert versioning.inputs["bucket"] == defaults.outputs["bucket"]["bucket_name"]


def test_default_encryption_is_sse_s3(defaults):
    (rule,) = defaults.one(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    defaults.none(KMS_KEY)
    assert defaults.outputs["bucket"]["kms_key_arn"] is None


def test_all_four_public_access_block_flags_are_on(defaults):
    pab = defaults.one(PUBLIC_ACCESS).inputs
    for flag in PAB_FLAGS:
        assert pab[flag] is True, flag


def test_acls_are_disabled(defaults):
    assert defaults.one(OWNERSHIP).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_plain_http_and_tls_below_1_2(defaults):
    arn = defaults.outputs["bucket"]["bucket_arn"]
    policy = defaults.one(POLICY).policy()
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"DenyInsecureTransport", "DenyOutdatedTls"}
    for statement in by_sid.values():
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "s3:*"
        assert statement["Resource"] == [arn, f"{arn}/*"]
    assert by_sid["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert by_sid["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_lifecycle_aborts_incomplete_uploads_and_keeps_every_version(defaults):
    (rule,) = defaults.one(LIFECYCLE).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert "noncurrentVersionExpiration" not in rule


def test_no_object_lock_and_no_access_logging_by_default(defaults):
    defaults.none(OBJECT_LOCK)
    defaults.none(LOGGING)


def test_outputs_name_arn_region_and_store_url(defaults):
    out = defaults.outputs["bucket"]
    name = defaults.one(BUCKET).name
    assert name == "backup-bucket"
    assert out["bucket_name"].startswith("backup-bucket")
    assert out["bucket_arn"] == f"arn:aws:s3:::{out['bucket_name']}"
    assert out["region"] == "us-east-1"
    assert out["prefix"] == "atlas"
    assert out["store_url"] == f"s3://{out['bucket_name']}/atlas?region=us-east-1"


def test_every_child_is_named_after_the_component_and_targets_the_bucket(defaults):
    name = defaults.outputs["bucket"]["bucket_name"]
    for resource in defaults.resources[1:]:
        assert resource.name.startswith("backup-"), resource.name
        if resource.type != BUCKET:
            assert resource.inputs["bucket"] == name, resource.type


# --- everything on ---------------------------------------------------------------------------


def test_given_name_region_tags_and_force_destroy_are_passed_through(everything_on):
    b = everything_on.one(BUCKET).inputs
    assert b["bucket"] == "acme-atlas-backup"
    assert b["forceDestroy"] is True
    assert b["tags"] == {"team": "platform", "env": "prod"}
    assert b["region"] == "eu-west-1"
    for resource in everything_on.resources[1:]:
        assert resource.inputs.get("region") == "eu-west-1", resource.type


def test_created_kms_key_rotates_and_encrypts_with_a_bucket_key(everything_on):
    key = everything_on.one(KMS_KEY).inputs
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    assert key["tags"] == {"team": "platform", "env": "prod"}
    (rule,) = everything_on.one(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KEY_ARN,
    }
    assert rule["bucketKeyEnabled"] is True
    assert everything_on.outputs["bucket"]["kms_key_arn"] == KEY_ARN


def test_given_kms_key_is_used_and_none_is_created():
    given = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    d = bucket({"kms_key_arn": given})
    d.none(KMS_KEY)
    (rule,) = d.one(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == given
    assert rule["bucketKeyEnabled"] is True
    assert d.outputs["bucket"]["kms_key_arn"] == given


def test_noncurrent_versions_expire_when_asked(everything_on):
    rules = {r["id"]: r for r in everything_on.one(LIFECYCLE).inputs["rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 3
    }
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 90
    }
    assert rules["expire-noncurrent-versions"]["status"] == "Enabled"


def test_object_lock_with_default_retention(everything_on):
    # Not on the bucket: that flag forces a replacement when the option is turned on later.
    assert "objectLockEnabled" not in everything_on.one(BUCKET).inputs
    lock = everything_on.one(OBJECT_LOCK).inputs
    assert lock["objectLockEnabled"] == "Enabled"
    assert lock["rule"] == {"defaultRetention": {"mode": "COMPLIANCE", "days": 30}}


def test_object_lock_defaults_to_governance_mode():
    lock = bucket({"object_lock_retention_days": 7}).one(OBJECT_LOCK).inputs
    assert lock["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 7}}


def test_access_logging_to_the_given_bucket(everything_on):
    logging = everything_on.one(LOGGING).inputs
    assert logging["targetBucket"] == "acme-access-logs"
    assert logging["targetPrefix"] == "atlas-backup/"


def test_access_log_prefix_defaults_to_the_component_name():
    logging = bucket({"access_log_bucket": "logs"}).one(LOGGING).inputs
    assert logging["targetPrefix"] == "backup/"


def test_prefix_is_normalized_into_the_store_url(everything_on):
    out = everything_on.outputs["bucket"]
    assert out["prefix"] == "atlas/registry"
    assert out["store_url"] == "s3://acme-atlas-backup/atlas/registry?region=eu-west-1"
    assert out["region"] == "eu-west-1"


def test_secure_settings_stay_on_when_options_are_on(everything_on):
    assert everything_on.one(VERSIONING).inputs["versioningConfiguration"]["status"] == "Enabled"
    assert all(everything_on.one(PUBLIC_ACCESS).inputs[f] is True for f in PAB_FLAGS)
    assert everything_on.one(OWNERSHIP).inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    sids = [s["Sid"] for s in everything_on.one(POLICY).policy()["Statement"]]
    assert sids == ["DenyInsecureTransport", "DenyOutdatedTls"]


# --- refused arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"kms_key_arn": KEY_ARN, "create_kms_key": True}, "not both"),
        ({"prefix": ""}, "a prefix is required"),
        ({"prefix": "/"}, "a prefix is required"),
        ({"prefix": "it's"}, "prefix"),
        ({"prefix": "registry/*"}, "prefix"),
        ({"prefix": "a/../b"}, "prefix"),
        ({"noncurrent_version_expiration_days": 0}, "at least 1"),
        ({"abort_incomplete_multipart_upload_days": -1}, "at least 1"),
        ({"object_lock_retention_days": True}, "whole number"),
        ({"object_lock_mode": "COMPLIANCE"}, "needs object_lock_retention_days"),
        ({"object_lock_retention_days": 1, "object_lock_mode": "STRICT"}, "GOVERNANCE or"),
        ({"access_log_prefix": "x/"}, "needs access_log_bucket"),
        ({"force_destroy": "false"}, "force_destroy must be true or false"),
        ({"create_kms_key": "false"}, "create_kms_key must be true or false"),
        ({"bucket_name": "Atlas_Backup"}, "bucket_name 'Atlas_Backup' is not an S3 bucket name"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_declared(args, message):
    with pytest.raises(ValueError, match=message):
        bucket(args)
