"""The atlas-operator chart versions AtlasOperator knows, and the walk that finds the values a
chart version does not take.

Helm ignores a value its templates never read: a misspelt key (``persistance``) or a value of
the wrong kind (a map where the chart renders a list) changes nothing and says nothing. So the
component walks every value it gives the chart, its own and the user's, against the values.yaml
of the chart version it installs, and refuses what that chart would drop.

Each known version is data read off the chart's own files (no template is copied): the keys
and defaults of its values.yaml, the maps its templates render whole (any key may go inside),
and the keys its templates read that values.yaml leaves out (mentioned only in a comment).
Nothing here imports Pulumi.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PLAIN = (str, int, float, bool, type(None), Mapping, list)


@dataclass(frozen=True)
class ChartValues:
    """What one chart version takes as values."""

    version: str
    defaults: Mapping[str, Any]
    """The chart's values.yaml: every key, with its default."""
    whole: frozenset[str]
    """The maps the templates render whole (toYaml), by path: any key goes inside them."""
    unlisted: Mapping[str, type]
    """Keys the templates read that values.yaml has only in a comment, by path, with the type
    of value they take."""

    @property
    def renders_init_containers(self) -> bool:
        """Whether the operator's pod takes init containers (initContainers) from the values."""
        return "initContainers" in self.defaults

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """The paths of ``values`` this chart does not take, each with why. A value known only
        later (a Pulumi Output) is not looked into."""
        return self._walk(values, self.defaults, "")

    def _walk(self, values: Mapping[str, Any], defaults: Any, path: str) -> list[str]:
        problems = []
        for key, value in values.items():
            where = f"{path}.{key}" if path else key
            if not isinstance(value, _PLAIN):
                continue
            if where in self.unlisted:
                kind = self.unlisted[where]
                if value is not None and not isinstance(value, kind):
                    problems.append(f"{where}: a {kind.__name__} in the chart")
                continue
            if not isinstance(defaults, Mapping) or key not in defaults:
                problems.append(f"{where}: not in the chart's values.yaml")
                continue
            default = defaults[key]
            if isinstance(default, Mapping):
                if not isinstance(value, Mapping):
                    problems.append(f"{where}: a map in the chart")
                elif where not in self.whole:
                    problems += self._walk(value, default, where)
            elif isinstance(default, list):
                if not isinstance(value, list):
                    problems.append(f"{where}: a list in the chart")
            elif default is not None and value is not None and type(default) is not type(value):
                problems.append(f"{where}: a {type(default).__name__} in the chart")
        return problems


V0_7_37 = ChartValues(
    version="0.7.37",
    defaults={
        "replicaCount": 1,
        "image": {"repository": "arigaio/atlas-operator", "pullPolicy": "IfNotPresent", "tag": ""},
        "rbac": {"create": True, "aggregateClusterRoles": False},
        "crds": {"create": True},
        "imagePullSecrets": [],
        "nameOverride": "",
        "fullnameOverride": "",
        "serviceAccount": {"create": True, "annotations": {}, "labels": {}, "name": ""},
        "podAnnotations": {},
        "podLabels": {},
        "podSecurityContext": {"runAsNonRoot": True},
        "containerSecurityContext": {
            "runAsUser": 65532,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {},
        "nodeSelector": {},
        "priorityClassName": "",
        "tolerations": [],
        "affinity": {},
        "prewarmDevDB": True,
        "allowCustomConfig": False,
        "labelSelector": [],
        "watchNamespaces": [],
        "extraEnvs": [],
        "persistence": {
            "enabled": False,
            "accessModes": ["ReadWriteOnce"],
            "size": "1Gi",
            "mountPath": "/data",
            "fsGroup": 65532,
            "annotations": {},
        },
        "extraVolumes": [],
        "extraVolumeMounts": [],
    },
    whole=frozenset(
        {
            "serviceAccount.annotations",
            "serviceAccount.labels",
            "podAnnotations",
            "podLabels",
            "podSecurityContext",
            "containerSecurityContext",
            "resources",
            "nodeSelector",
            "affinity",
            "persistence.annotations",
        }
    ),
    unlisted={"persistence.storageClassName": str, "revisionHistoryLimit": int},
)
"""Chart 0.7.37 (ariga/atlas-operator tag v0.7.37): its values.yaml and templates/."""

KNOWN: dict[str, ChartValues] = {V0_7_37.version: V0_7_37}
"""The chart versions whose values the component checks, by version."""
