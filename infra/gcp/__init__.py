"""atlas-continuity on Google Cloud: the backup bucket and the identities that use it.

One component per module, re-exported here::

    from atlas_continuity.infra.gcp import GcpCiWriterIdentity, GcsBackupBucket, GkeReaderIdentity

Needs the ``gcp`` extra (``pip install 'atlas-continuity[gcp]'``): pulumi and pulumi-gcp only.
The CEL conditions the components declare are built by the pure functions in
:mod:`atlas_continuity.infra.gcp.conditions`. Usage: docs/infra-gcp.md.
"""

from atlas_continuity.infra.ci_identity import CiProvider
from atlas_continuity.infra.gcp import conditions
from atlas_continuity.infra.gcp.ci_writer_identity import (
    GcpCiWriterIdentity,
    GcpCiWriterIdentityArgs,
)
from atlas_continuity.infra.gcp.gcs_backup_bucket import GcsBackupBucket, GcsBackupBucketArgs
from atlas_continuity.infra.gcp.gke_reader_identity import (
    GkeIdentityMode,
    GkeReaderIdentity,
    GkeReaderIdentityArgs,
)

__all__ = [
    "CiProvider",
    "GcpCiWriterIdentity",
    "GcpCiWriterIdentityArgs",
    "GcsBackupBucket",
    "GcsBackupBucketArgs",
    "GkeIdentityMode",
    "GkeReaderIdentity",
    "GkeReaderIdentityArgs",
    "conditions",
]
