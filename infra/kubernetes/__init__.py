"""atlas-continuity on Kubernetes: the Atlas operator, its grants and their backups.

One component per module, re-exported here::

    from atlas_continuity.infra.kubernetes import AtlasOperator

Needs the ``kubernetes`` extra (``pip install 'atlas-continuity[kubernetes]'``): pulumi and
pulumi-kubernetes only. What the component declares in the cluster is built by the pure
functions in :mod:`atlas_continuity.infra.kubernetes.manifests`; the chart versions it knows,
and the check of the values given to them, are in
:mod:`atlas_continuity.infra.kubernetes.chart`. Usage: docs/infra-kubernetes.md.
"""

from atlas_continuity.infra.kubernetes import chart, manifests
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
    "chart",
    "manifests",
]
