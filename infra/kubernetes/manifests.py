"""What AtlasOperator declares in the cluster, built by pure functions: plain dicts in and out.

Each function returns a Kubernetes object (or the chart's values) as the API server takes it,
so the tests validate exactly what the component declares against the Kubernetes schemas, and
walk the chart values against the chart's own ``values.yaml``. Nothing here imports Pulumi: a
value that only another resource can tell (the store's URL, the reader's annotations) comes in
as an opaque leaf and is placed as it is, so that all the rest is known in a preview.

The grant jobs run ``atlas-continuity grant save|restore --data-root`` over the operator's
data root (``<DATA_DIR>/<namespace>/<name>/.atlas``) through ``/bin/sh``, which only decides
whether there is anything to do; every value reaches the script as a positional parameter,
never spliced into its text.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from atlas_continuity.runtime.errors import ExitCode

RUNTIME_UID = 65532
"""The chart's operator user (containerSecurityContext.runAsUser, persistence.fsGroup): the
grant jobs run as it too, so the files each side writes are the other's."""
DATA_DIR = "/data"
"""Where the grant volume is mounted, in the operator and in the jobs (the chart's own
persistence.mountPath)."""
VOLUME = "atlas-grants"
"""The grant volume's name in the pod specs."""
CHART_VOLUME = "data"
"""The volume name the chart gives its own persistence (persistence.enabled)."""
SCRATCH = "scratch"
"""An emptyDir at /tmp: the jobs' root file system is read-only."""
VOLUME_LABEL = "atlas-continuity/grant-volume"
"""A label on every pod that mounts the grant volume, naming its claim: what the backup job's
and the operator's own affinity select, so that a ReadWriteOnce volume is mounted on one node."""
HOSTNAME = "kubernetes.io/hostname"

SAVE_SCRIPT = """set -u
root="$1" store="$2" name="$3"
for state in "$root"/*/*/.atlas; do
  if [ -d "$state" ]; then
    exec atlas-continuity grant save --data-root "$root" --store "$store" --name "$name"
  fi
done
echo "no grant under $root yet: nothing to save"
"""
"""Save the data root, unless no resource has a grant yet (a save of nothing would fail)."""

RESTORE_SCRIPT = f"""set -u
root="$1" store="$2" name="$3"
for state in "$root"/*/*/.atlas; do
  if [ -d "$state" ]; then
    echo "$root holds grants already: kept"
    exit 0
  fi
done
atlas-continuity grant restore --data-root "$root" --store "$store" --name "$name" && exit 0
code=$?
if [ "$code" -eq {int(ExitCode.NOT_FOUND)} ]; then
  echo "no grant saved in $store yet: the operator starts without one"
  exit 0
fi
exit "$code"
"""
"""Restore onto a fresh volume only: a volume that holds grants is the newest copy there is.
Nothing saved yet (a first install) is no failure; anything else (the store refused, a corrupt
snapshot) fails the step, loudly."""


def grant_command(script: str, data_dir: str, store_url: str, name: str) -> list[str]:
    """The container command: ``/bin/sh -c SCRIPT sh DATA_DIR STORE_URL NAME``."""
    return ["/bin/sh", "-c", script, "sh", data_dir, store_url, name]


@dataclass(frozen=True)
class GrantJobs:
    """What the grant jobs need to know. ``store_url`` and ``pod_labels`` may be values known
    only later (Pulumi Outputs, from other resources): they are placed as they are, never
    looked into, so that everything else in the jobs' specs is known in a preview."""

    image: str
    store_url: Any
    """The store (a string, or a value that becomes one)."""
    name: str
    """The grant series (``--name``)."""
    service_account: str
    claim: str
    """The grant volume's claim."""
    pod_labels: Any = field(default_factory=dict)
    """Labels for the jobs' pods (a map, or a value that becomes one)."""
    scheduling: Mapping[str, Any] = field(default_factory=dict)
    """Where the operator's pod may run (:func:`operator_scheduling`): the jobs go there too."""


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def grant_container(
    name: str, jobs: GrantJobs, script: str, volume: str, *, read_only: bool
) -> dict[str, Any]:
    """One container that runs ``script`` over the grant volume mounted at DATA_DIR."""
    return {
        "name": name,
        "image": jobs.image,
        "command": grant_command(script, DATA_DIR, jobs.store_url, jobs.name),
        "env": [{"name": "HOME", "value": "/tmp"}],
        "securityContext": _container_security(),
        "resources": {
            # Local disk: the scratch volume and the container's logs.
            "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
            "limits": {"memory": "256Mi", "ephemeral-storage": "128Mi"},
        },
        "volumeMounts": [
            {"name": volume, "mountPath": DATA_DIR, "readOnly": read_only},
            {"name": SCRATCH, "mountPath": "/tmp"},
        ],
    }


def _scratch_volume() -> dict[str, Any]:
    return {"name": SCRATCH, "emptyDir": {"sizeLimit": "64Mi"}}


def _co_scheduled(claim: str) -> dict[str, Any]:
    return {
        "labelSelector": {"matchLabels": {VOLUME_LABEL: claim}},
        "topologyKey": HOSTNAME,
    }


def operator_scheduling(values: Mapping[str, Any]) -> dict[str, Any]:
    """The node constraints of the chart's ``values`` (nodeSelector, tolerations, node
    affinity), as pod spec fields: the grant jobs take them too, so that they can run where the
    operator runs (a tainted node) and a restore binds a new volume where the operator can
    mount it (a zone)."""
    scheduling: dict[str, Any] = {}
    if isinstance(values.get("nodeSelector"), Mapping) and values["nodeSelector"]:
        scheduling["nodeSelector"] = copy.deepcopy(dict(values["nodeSelector"]))
    if isinstance(values.get("tolerations"), list) and values["tolerations"]:
        scheduling["tolerations"] = copy.deepcopy(values["tolerations"])
    affinity = values.get("affinity")
    if isinstance(affinity, Mapping) and affinity.get("nodeAffinity"):
        scheduling["affinity"] = {"nodeAffinity": copy.deepcopy(affinity["nodeAffinity"])}
    return scheduling


def _plain_copy(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _pod_spec(
    jobs: GrantJobs, container: dict[str, Any], *, read_only: bool, affinity: dict[str, Any]
) -> dict[str, Any]:
    scheduling = dict(jobs.scheduling)
    return {
        "metadata": {"labels": _plain_copy(jobs.pod_labels)},
        "spec": {
            "serviceAccountName": jobs.service_account,
            # The jobs never call the Kubernetes API. The cloud identities need no API token
            # either: EKS (Pod Identity, IRSA) and AKS webhooks project a token of their own
            # audience into the pod, and GKE's metadata server answers for the pod.
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUNTIME_UID,
                "runAsGroup": RUNTIME_UID,
                "fsGroup": RUNTIME_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            **scheduling,
            "affinity": {**scheduling.get("affinity", {}), **affinity},
            "containers": [container],
            "volumes": [
                {
                    "name": VOLUME,
                    "persistentVolumeClaim": {"claimName": jobs.claim, "readOnly": read_only},
                },
                _scratch_volume(),
            ],
        },
    }


def backup_cron_job(
    name: str, namespace: str, jobs: GrantJobs, schedule: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The CronJob that saves the data root to the store. It must run on the operator pod's
    node (a ReadWriteOnce volume is mounted by one node at a time), and mounts the volume
    read-only. A run that cannot be placed (the operator is down) gives up after ten minutes."""
    container = grant_container("grant-save", jobs, SAVE_SCRIPT, VOLUME, read_only=True)
    affinity = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [_co_scheduled(jobs.claim)]
        }
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 600,
                    "template": _pod_spec(jobs, container, read_only=True, affinity=affinity),
                }
            },
        },
    }


def restore_job(
    name: str, namespace: str, jobs: GrantJobs, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The Job that restores the newest saved grants onto a fresh volume, before the release
    starts the operator. Should it run again later (its spec changed), it prefers the
    operator's node, where the volume is mounted, and finds the volume's grants in place."""
    container = grant_container("grant-restore", jobs, RESTORE_SCRIPT, VOLUME, read_only=False)
    affinity = {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": _co_scheduled(jobs.claim)}
            ]
        }
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 600,
            "template": _pod_spec(jobs, container, read_only=False, affinity=affinity),
        },
    }


def namespace(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The namespace, with Pod Security admission: ``baseline`` enforced (the chart's operator
    pod meets it), ``restricted`` warned and audited (the grant jobs meet it)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                **labels,
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }


def volume_claim(
    name: str,
    namespace: str,
    size: str,
    access_modes: Sequence[str],
    storage_class: str | None,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": list(access_modes),
        "resources": {"requests": {"storage": size}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def service_account(
    name: str, namespace: str, annotations: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
        },
    }


# --- the chart's values ----------------------------------------------------------------------


KEEP_ON_UNINSTALL = {"helm.sh/resource-policy": "keep"}
"""What makes Helm leave an object in place when it uninstalls the release."""


@dataclass(frozen=True)
class ChartSettings:
    release: str
    service_account: str
    service_account_annotations: Any
    """A map, or a value that becomes one (a Pulumi Output): placed as it is."""
    pod_labels: Any
    """The operator pod's labels, the volume's label among them (a map, or a value that
    becomes one): placed as it is."""
    claim: str
    """The grant volume's claim: the component's, or the chart's (named after the release)."""
    chart_persistence: bool
    """The chart's own persistence (persistence.enabled) instead of the component's volume."""
    size: str = "1Gi"
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    storage_class: str | None = None
    restore: GrantJobs | None = None
    """Restore in an init container of the operator pod (the chart's initContainers)."""


def pod_security() -> dict[str, Any]:
    """The operator pod's securityContext (the chart's podSecurityContext): non-root, the
    runtime default seccomp profile, and the volume's group so that the operator can write."""
    return {
        "runAsNonRoot": True,
        "fsGroup": RUNTIME_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def chart_values(settings: ChartSettings) -> dict[str, Any]:
    """The values the component gives the chart. Every path exists in the chart's values.yaml
    (:mod:`atlas_continuity.infra.kubernetes.chart` checks them with the user's)."""
    volume = CHART_VOLUME if settings.chart_persistence else VOLUME
    values: dict[str, Any] = {
        # The chart names its objects (and its own volume claim) after the release.
        "fullnameOverride": settings.release,
        "serviceAccount": {
            "create": True,
            "name": settings.service_account,
            "annotations": _plain_copy(settings.service_account_annotations),
        },
        "podLabels": _plain_copy(settings.pod_labels),
        # The chart renders persistence.fsGroup as the pod's whole securityContext when it is
        # set (truthy), and podSecurityContext only when it is not: 0 turns that branch off
        # (null cannot be sent: the Pulumi SDK drops null map values), and the pod keeps
        # runAsNonRoot and seccomp next to the fsGroup.
        "podSecurityContext": pod_security(),
        "persistence": {"enabled": settings.chart_persistence, "fsGroup": 0},
        "extraVolumes": [],
        "extraVolumeMounts": [],
        "extraEnvs": [],
    }
    if settings.chart_persistence:
        values["persistence"].update(
            size=settings.size,
            accessModes=list(settings.access_modes),
            mountPath=DATA_DIR,
            # The claim is the release's: an uninstall would delete it, and the grants.
            annotations=dict(KEEP_ON_UNINSTALL),
        )
        if settings.storage_class is not None:
            values["persistence"]["storageClassName"] = settings.storage_class
    else:
        values["extraVolumes"].append(
            {"name": VOLUME, "persistentVolumeClaim": {"claimName": settings.claim}}
        )
        values["extraVolumeMounts"].append({"name": VOLUME, "mountPath": DATA_DIR})
        values["extraEnvs"].append({"name": "DATA_DIR", "value": DATA_DIR})
    if "ReadWriteOnce" in settings.access_modes:
        # A rolling update's new pod lands where the old one holds the volume (the first pod,
        # matching its own term, may go anywhere).
        values["affinity"] = {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [_co_scheduled(settings.claim)]
            }
        }
    if settings.restore is not None:
        values["initContainers"] = [
            grant_container(
                "grant-restore", settings.restore, RESTORE_SCRIPT, volume, read_only=False
            )
        ]
        values["extraVolumes"].append(_scratch_volume())
    return values
