"""atlas-continuity on AWS: the backup bucket and the identities that use it.

One component per module, re-exported here::

    from atlas_continuity.infra.aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket

Needs the ``aws`` extra (``pip install 'atlas-continuity[aws]'``): pulumi and pulumi-aws only.
The policy documents the components declare are built by the pure functions in
:mod:`atlas_continuity.infra.aws.policies`. Usage: docs/infra-aws.md.
"""

from atlas_continuity.infra.aws import policies
from atlas_continuity.infra.aws.ci_writer_role import (
    AwsCiProvider,
    AwsCiWriterRole,
    AwsCiWriterRoleArgs,
)
from atlas_continuity.infra.aws.eks_reader_role import (
    EksIdentityMode,
    EksReaderRole,
    EksReaderRoleArgs,
)
from atlas_continuity.infra.aws.s3_backup_bucket import (
    S3BackupBucket,
    S3BackupBucketArgs,
    S3ObjectLockMode,
)

__all__ = [
    "AwsCiProvider",
    "AwsCiWriterRole",
    "AwsCiWriterRoleArgs",
    "EksIdentityMode",
    "EksReaderRole",
    "EksReaderRoleArgs",
    "S3BackupBucket",
    "S3BackupBucketArgs",
    "S3ObjectLockMode",
    "policies",
]
