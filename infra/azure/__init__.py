"""atlas-continuity on Azure: the backup container and the identities that use it.

One component per module, re-exported here::

    from atlas_continuity.infra.azure import (
        AksReaderIdentity, AzureBackupContainer, AzureCiWriterIdentity,
    )

Needs the ``azure`` extra (``pip install 'atlas-continuity[azure]'``): pulumi and
pulumi-azure-native only. The role conditions the components declare are built by the pure
functions in :mod:`atlas_continuity.infra.azure.roles`. Usage: docs/infra-azure.md.
"""

from atlas_continuity.infra.azure import roles
from atlas_continuity.infra.azure.aks_reader_identity import (
    AksReaderIdentity,
    AksReaderIdentityArgs,
)
from atlas_continuity.infra.azure.azure_backup_container import (
    AzureBackupContainer,
    AzureBackupContainerArgs,
    AzureCustomerManagedKey,
)
from atlas_continuity.infra.azure.ci_writer_identity import (
    AzureCiWriterIdentity,
    AzureCiWriterIdentityArgs,
)
from atlas_continuity.infra.ci_identity import CiProvider

__all__ = [
    "AksReaderIdentity",
    "AksReaderIdentityArgs",
    "AzureBackupContainer",
    "AzureBackupContainerArgs",
    "AzureCiWriterIdentity",
    "AzureCiWriterIdentityArgs",
    "AzureCustomerManagedKey",
    "CiProvider",
    "roles",
]
