"""AtlasOperator: the Atlas Kubernetes operator, its grants on a volume that outlives the
release, and the jobs that back them up to the store and bring them back
(docs/infra-kubernetes.md)."""

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from atlas_continuity.infra.args import flag
from atlas_continuity.infra.ci_identity import check_k8s_namespace, check_k8s_service_account
from atlas_continuity.infra.kubernetes import manifests
from atlas_continuity.runtime.layout import check_name

TYPE_TOKEN = "atlas-continuity:index:AtlasOperator"
CHART = "oci://ghcr.io/ariga/charts/atlas-operator"
CHART_VERSION = "0.7.37"
"""The pinned chart: every values key the component sets exists in its values.yaml."""
DEFAULT_SCHEDULE = "*/30 * * * *"
_SIZE = re.compile(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)$")
_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany")
_CRON_FIELD = re.compile(r"^[0-9*/,-]+$")


class GrantStorage(StrEnum):
    """Where the operator keeps its grants (DATA_DIR)."""

    VOLUME = "volume"
    """A volume claim the component owns, not the chart: it is retained when the component
    or the release is deleted, so an uninstall or a reinstall keeps the grants."""
    CHART = "chart"
    """The chart's own persistence (persistence.enabled): the claim belongs to the Helm
    release, and uninstalling the release deletes it and the grants."""


class AtlasOperatorArgs(TypedDict, total=False):
    """Inputs of AtlasOperator."""

    namespace: str
    """The namespace of the operator and the grant jobs. Default: "atlas-operator"."""
    create_namespace: bool
    """Create the namespace, with Pod Security admission (baseline enforced, restricted warned
    and audited). Default: true. Turned off, the namespace must exist."""
    service_account: str
    """The operator's service account, which the chart creates: the one the cloud reader
    identity (EksReaderRole, GkeReaderIdentity, AksReaderIdentity) is bound to.
    Default: "atlas-operator"."""
    service_account_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Annotations for the operator's service account: the reader identity's
    service_account_annotations (IRSA role ARN, GKE service account, AKS client ID)."""
    pod_labels: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Labels for the operator's and the grant jobs' pods: the reader's pod_labels on AKS
    (azure.workload.identity/use)."""
    release_name: str
    """The Helm release's name; the chart names its objects after it. Default:
    "atlas-operator"."""
    chart: str
    """The chart. Default: oci://ghcr.io/ariga/charts/atlas-operator."""
    chart_version: str
    """The chart version. Default: 0.7.37, the version whose values.yaml the component's keys
    are checked against; another version must have the same keys."""
    values: pulumi.Input[Mapping[str, Any]]
    """More chart values, merged over the component's: maps key by key, lists appended to
    (extraVolumes, extraEnvs, ...), anything else replaced."""
    grant_storage: GrantStorage
    """volume (the component's claim, kept across uninstalls) or chart (the release's).
    Default: volume."""
    volume_size: str
    """The grant volume's size. Default: "1Gi"."""
    storage_class_name: str
    """The grant volume's storage class (volume storage only). Default: the cluster's."""
    access_modes: Sequence[str]
    """The grant volume's access modes. Default: ["ReadWriteOnce"]: then the operator's pods
    and the backup job are kept on the node that mounts the volume."""
    protect_volume: bool
    """Protect the grant volume claim: Pulumi refuses to delete it until this is turned off.
    Default: false (it is retained on delete either way)."""
    grant_store_url: pulumi.Input[str]
    """The store the grants are backed up to and restored from: a backup bucket component's
    store_url. Default: none, and no grant jobs."""
    grant_name: str
    """The grant series in the store (grant save --name): one per cluster when several share
    a store. Default: "atlas-operator"."""
    runtime_image: str
    """The image the grant jobs run: atlas-continuity with the store's extra (the repository's
    Dockerfile), pinned by digest. Required with grant_store_url."""
    grant_service_account: str
    """The grant jobs' service account, created here: the one the reader component's grant
    writer identity is bound to. Default: "atlas-continuity-grants"."""
    grant_service_account_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Annotations for the grant jobs' service account: the reader's
    grant_writer_service_account_annotations."""
    backup_schedule: str
    """When to save the grants (cron, the cluster's time zone). Default: every 30 minutes."""
    restore_with_init_container: bool
    """Restore in an init container of the operator pod (the chart's initContainers, which
    charts newer than 0.7.37 have), under the operator's own identity, instead of a Job that
    runs before the release. Default: false."""


class AtlasOperator(pulumi.ComponentResource):
    """The Atlas Kubernetes operator (Helm chart), with its grant state on a volume claim the
    component owns, backed up to a store by a CronJob and restored onto a fresh volume before
    the operator starts."""

    namespace: pulumi.Output[str]
    """The operator's namespace."""
    release_name: pulumi.Output[str]
    """The Helm release's name."""
    chart_version: pulumi.Output[str]
    """The chart version installed."""
    service_account: pulumi.Output[str]
    """The operator's service account."""
    data_dir: pulumi.Output[str]
    """The operator's DATA_DIR, where the grant volume is mounted."""
    grant_volume_claim: pulumi.Output[str]
    """The grant volume's claim name."""
    grant_backup_schedule: pulumi.Output[str | None]
    """When the grants are saved (null without grant_store_url)."""

    def __init__(
        self,
        name: str,
        args: AtlasOperatorArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        namespace = check_k8s_namespace(args.get("namespace", "atlas-operator"))
        operator_sa = check_k8s_service_account(args.get("service_account", "atlas-operator"))
        release = _dns_label(name, "release_name", args.get("release_name", "atlas-operator"))
        storage = _choice(name, "grant_storage", args.get("grant_storage", "volume"), GrantStorage)
        chart_persistence = storage is GrantStorage.CHART
        size = args.get("volume_size", "1Gi")
        if not isinstance(size, str) or not _SIZE.match(size):
            raise ValueError(f"{name}: volume_size {size!r}: a quantity such as 1Gi or 500Mi")
        access_modes = tuple(args.get("access_modes", ("ReadWriteOnce",)))
        if not access_modes or any(m not in _ACCESS_MODES for m in access_modes):
            raise ValueError(f"{name}: access_modes must be among {', '.join(_ACCESS_MODES)}")
        storage_class = args.get("storage_class_name")
        if storage_class is not None and chart_persistence:
            raise ValueError(
                f"{name}: storage_class_name is for grant_storage volume; the pinned chart's "
                "values.yaml has no persistence.storageClassName"
            )
        create_namespace = flag(name, args, "create_namespace", True)
        protect_volume = flag(name, args, "protect_volume", False)
        in_init_container = flag(name, args, "restore_with_init_container", False)
        store_url = args.get("grant_store_url")
        jobs: manifests.GrantJobs | None = None
        grant_sa = check_k8s_service_account(
            args.get("grant_service_account", "atlas-continuity-grants")
        )
        schedule = args.get("backup_schedule", DEFAULT_SCHEDULE)
        if store_url is not None:
            image = args.get("runtime_image")
            if not isinstance(image, str) or not image.strip():
                raise ValueError(
                    f"{name}: runtime_image is required with grant_store_url: the image the "
                    "grant jobs run (the repository's Dockerfile)"
                )
            if grant_sa == operator_sa:
                raise ValueError(
                    f"{name}: grant_service_account must differ from service_account: the "
                    "grant jobs write, the operator only reads"
                )
            _check_schedule(name, schedule)
            if chart_persistence and not in_init_container:
                raise ValueError(
                    f"{name}: with grant_storage chart the release creates the volume, so no "
                    "Job can restore into it before the operator starts: use grant_storage "
                    "volume, or restore_with_init_container with a chart that has "
                    "initContainers"
                )
            grant_name = check_name("grant cache", args.get("grant_name", "atlas-operator"))
            claim = release if chart_persistence else f"{release}-grants"
            jobs = manifests.GrantJobs(image, "", grant_name, grant_sa, claim)
        elif in_init_container:
            raise ValueError(f"{name}: restore_with_init_container needs grant_store_url")

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/part-of": "atlas-operator",
            "app.kubernetes.io/managed-by": "atlas-continuity",
        }
        claim_name = release if chart_persistence else f"{release}-grants"

        ready: list[pulumi.Resource] = []
        if create_namespace:
            ns = k8s.core.v1.Namespace(
                f"{name}-namespace", **_fields(manifests.namespace(namespace, labels)), opts=child
            )
            ready.append(ns)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=list(ready))

        if not chart_persistence:
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-grants",
                **_fields(
                    manifests.volume_claim(
                        claim_name, namespace, size, access_modes, storage_class, labels
                    )
                ),
                opts=pulumi.ResourceOptions.merge(
                    after_namespace,
                    pulumi.ResourceOptions(retain_on_delete=True, protect=protect_volume),
                ),
            )
            ready.append(claim)

        pod_labels = pulumi.Output.from_input(args.get("pod_labels") or {})
        release_deps = list(ready)
        restore_jobs = None
        if jobs is not None:
            account = k8s.core.v1.ServiceAccount(
                f"{name}-grant-writer",
                **_fields(
                    manifests.service_account(grant_sa, namespace, {}, labels),
                    annotations=args.get("grant_service_account_annotations") or {},
                ),
                opts=after_namespace,
            )
            resolved = pulumi.Output.all(store_url, pod_labels).apply(
                lambda v: manifests.GrantJobs(
                    jobs.image, v[0], jobs.name, jobs.service_account, jobs.claim, v[1]
                )
            )
            grant_deps = pulumi.ResourceOptions(parent=self, depends_on=[*ready, account])
            k8s.batch.v1.CronJob(
                f"{name}-grant-backup",
                **_output_fields(
                    resolved.apply(
                        lambda j: manifests.backup_cron_job(
                            f"{release}-grant-backup", namespace, j, schedule, labels
                        )
                    )
                ),
                opts=grant_deps,
            )
            if in_init_container:
                restore_jobs = resolved
            else:
                # The release waits for the restore: the operator starts with the grants.
                restore = k8s.batch.v1.Job(
                    f"{name}-grant-restore",
                    **_output_fields(
                        resolved.apply(
                            lambda j: manifests.restore_job(
                                f"{release}-grant-restore", namespace, j, labels
                            )
                        )
                    ),
                    opts=grant_deps,
                )
                release_deps.append(restore)

        chart_version = args.get("chart_version", CHART_VERSION)
        values = pulumi.Output.all(
            args.get("service_account_annotations") or {},
            pod_labels,
            args.get("values") or {},
            restore_jobs,
        ).apply(
            lambda v: manifests.chart_values(
                manifests.ChartSettings(
                    release=release,
                    service_account=operator_sa,
                    service_account_annotations=v[0],
                    pod_labels=v[1],
                    claim=claim_name,
                    chart_persistence=chart_persistence,
                    size=size,
                    access_modes=access_modes,
                    restore=v[3],
                ),
                v[2],
            )
        )
        helm = k8s.helm.v3.Release(
            f"{name}-release",
            name=release,
            chart=args.get("chart", CHART),
            version=chart_version,
            namespace=namespace,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=release_deps),
        )

        self.namespace = pulumi.Output.from_input(namespace)
        self.release_name = helm.name
        self.chart_version = pulumi.Output.from_input(chart_version)
        self.service_account = pulumi.Output.from_input(operator_sa)
        self.data_dir = pulumi.Output.from_input(manifests.DATA_DIR)
        self.grant_volume_claim = pulumi.Output.from_input(claim_name)
        self.grant_backup_schedule = pulumi.Output.from_input(schedule if jobs else None)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "release_name": self.release_name,
                "chart_version": self.chart_version,
                "service_account": self.service_account,
                "data_dir": self.data_dir,
                "grant_volume_claim": self.grant_volume_claim,
                "grant_backup_schedule": self.grant_backup_schedule,
            }
        )


def _fields(manifest: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    """A manifest as a typed resource's arguments (apiVersion and kind are the type's own);
    ``metadata`` adds fields that may be Pulumi inputs."""
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    if metadata:
        fields["metadata"] = {**fields["metadata"], **metadata}
    return fields


def _output_fields(manifest: pulumi.Output[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": manifest.apply(lambda m: m["metadata"]),
        "spec": manifest.apply(lambda m: m["spec"]),
    }


def _dns_label(name: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", value):
        raise ValueError(
            f"{name}: {field} {value!r}: up to 40 lowercase letters, digits and '-' (Kubernetes "
            "object names are derived from it)"
        )
    return value


def _choice(name: str, field: str, value: object, enum: type[StrEnum]) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(
            f"{name}: {field} must be one of {', '.join(e.value for e in enum)}"
        ) from None


def _check_schedule(name: str, schedule: object) -> None:
    fields = schedule.split() if isinstance(schedule, str) else []
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            f"{name}: backup_schedule {schedule!r}: five cron fields (minute hour day month "
            "weekday) of digits, '*', '/', ',' and '-'"
        )
