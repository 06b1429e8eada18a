"""atlas-continuity on Kubernetes: the Atlas operator, its grants and their backups.

One component per module, re-exported here::

    from atlas_continuity.infra.kubernetes import AtlasOperator

Needs the ``kubernetes`` extra (``pip install 'atlas-continuity[kubernetes]'``): pulumi and
pulumi-kubernetes only. What the component declares in the cluster is built by the pure
functions in :mod:`atlas_continuity.infra.kubernetes.manifests`. Usage:
docs/infra-kubernetes.md.
"""

from atlas_continuity.infra.kubernetes import manifests
from atlas_continuity.infra.kubernetes.atlas_operator import (
    CHART,
    CHART_VERSION,
    AtlasOperator,
    AtlasOperatorArgs,
    GrantStorage,
)

__all__ = [
    "CHART",
    "CHART_VERSION",
    "AtlasOperator",
    "AtlasOperatorArgs",
    "GrantStorage",
    "manifests",
]
