"""AtlasOperator: the Atlas Kubernetes operator, its grants on a volume that outlives the
release, and the jobs that back them up to the store and bring them back
(docs/infra-kubernetes.md)."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from atlas_continuity.infra.args import flag, known_args
from atlas_continuity.infra.ci_identity import check_k8s_namespace, check_k8s_service_account
from atlas_continuity.infra.kubernetes import chart, manifests
from atlas_continuity.infra.store import grant_series

TYPE_TOKEN = "atlas-continuity:index:AtlasOperator"
CHART = "oci://ghcr.io/ariga/charts/atlas-operator"
CHART_VERSION = chart.V0_7_37.version
"""The pinned chart: every value the component and the user set is checked against its
values.yaml (chart.KNOWN)."""
DEFAULT_SCHEDULE = "*/30 * * * *"
CRON_JOB_NAME_MAX = 52
"""Kubernetes refuses longer CronJob names (it appends 11 characters to name each Job)."""
BACKUP_SUFFIX = "-grant-backup"
RELEASE_NAME_MAX = CRON_JOB_NAME_MAX - len(BACKUP_SUFFIX)
# Patterns end with \Z: '$' also matches before a final newline, which Kubernetes and Helm
# refuse at apply.
_SIZE = re.compile(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)\Z")
_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteMany")
_CRON_FIELD = re.compile(r"^[0-9*/,-]+\Z")
_DOMAIN_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?\Z"
)
"""An image reference: [registry[:port]/]path[:tag][@sha256:digest]."""

_SET_BY_ARGUMENT = {
    "fullnameOverride": "release_name",
    "serviceAccount.name": "service_account",
    "serviceAccount.create": None,
    "persistence.enabled": "grant_storage",
    "persistence.size": "volume_size",
    "persistence.accessModes": "access_modes",
    "persistence.storageClassName": "storage_class_name",
    "persistence.mountPath": None,
    "persistence.fsGroup": None,
}
"""Values the component sets from its arguments (or must set itself): what a user value may
not replace, and the argument that sets each instead."""


class GrantStorage(StrEnum):
    """Where the operator keeps its grants (DATA_DIR)."""

    VOLUME = "volume"
    """A volume claim the component owns, not the chart: it is retained when the component
    or the release is deleted, so an uninstall or a reinstall keeps the grants."""
    CHART = "chart"
    """The chart's own persistence (persistence.enabled): the claim belongs to the Helm
    release, which is asked to keep it on uninstall (helm.sh/resource-policy: keep); a
    reinstall under the same release name and namespace adopts it again."""


class AtlasOperatorArgs(TypedDict, total=False):
    """Inputs of AtlasOperator."""

    namespace: str
    """The namespace of the operator and the grant jobs. Default: "atlas-operator"."""
    create_namespace: bool
    """Create the namespace, with Pod Security admission (baseline enforced, restricted warned
    and audited). Default: true. Turned off, the namespace must exist. A namespace created
    here is retained on delete (deleting it would delete the grant volume in it), and
    protected with protect_volume."""
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
    """The Helm release's name; the chart names its objects after it, and the backup CronJob
    is <release_name>-grant-backup. Up to 39 characters. Default: "atlas-operator"."""
    chart: str
    """The chart. Default: oci://ghcr.io/ariga/charts/atlas-operator."""
    chart_version: str
    """The chart version. Default: 0.7.37, whose values.yaml the component checks every value
    against. Another version's values are checked against 0.7.37's, and what it lacks is only
    warned about."""
    values: Mapping[str, Any]
    """More chart values (a plain map), merged over the component's: maps key by key, lists
    appended to (extraVolumes, extraEnvs, ...). A value the component sets is not replaced
    (each such value names the argument that sets it), and every path must exist in the
    chart's values.yaml."""
    grant_storage: GrantStorage
    """volume (the component's claim, kept across uninstalls) or chart (the release's).
    Default: volume."""
    volume_size: str
    """The grant volume's size. Default: "1Gi"."""
    storage_class_name: str
    """The grant volume's storage class; one with reclaimPolicy Retain keeps the disk even if
    the claim is deleted. Default: the cluster's."""
    access_modes: Sequence[str]
    """The grant volume's access modes: ReadWriteOnce or ReadWriteMany. Default:
    ["ReadWriteOnce"]: then the operator's pods and the backup job are kept on the node that
    mounts the volume. ReadWriteOncePod is refused: the backup could never mount the volume,
    and a rolling update would wait forever for it."""
    protect_volume: bool
    """Protect the grant volume claim (and the namespace, when created here): Pulumi refuses
    to delete them until this is turned off. Default: false (they are retained on delete
    either way)."""
    grant_store_url: pulumi.Input[str]
    """The store the grants are backed up to and restored from: a backup bucket component's
    store_url. Default: none, and no grant jobs."""
    grant_name: str
    """The grant series in the store (grant save --name; grants/<grant_name>/). It must be the
    one the reader component's grant writer may write (its grant_name). Default:
    "<project>.<stack>.<namespace>", as the reader components derive it."""
    runtime_image: str
    """The image the grant jobs run: atlas-continuity with the store's extra (the repository's
    Dockerfile), pinned by digest (name@sha256:...; a tag alone is warned about). Required
    with grant_store_url."""
    grant_service_account: str
    """The grant jobs' service account, created here: the one the reader component's grant
    writer identity is bound to. Default: "atlas-continuity-grants"."""
    grant_service_account_annotations: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Annotations for the grant jobs' service account: the reader's
    grant_writer_service_account_annotations."""
    backup_schedule: str
    """When to save the grants (cron, the cluster's time zone). Default: every 30 minutes."""
    restore_with_init_container: bool
    """Restore in an init container of the operator pod (the chart's initContainers), under
    the operator's own identity, instead of a Job that runs before the release. Only with a
    chart version known to take initContainers: 0.7.37 does not. Default: false."""


@dataclass(frozen=True)
class _Names:
    """The names of the objects the component declares, all derived from the release's."""

    claim: str
    backup: str
    restore: str

    @classmethod
    def of(cls, release: str, chart_persistence: bool) -> "_Names":
        # The chart names its own claim after the release (fullnameOverride).
        claim = release if chart_persistence else f"{release}-grants"
        return cls(claim, f"{release}{BACKUP_SUFFIX}", f"{release}-grant-restore")


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
        known_args(name, args, AtlasOperatorArgs)
        namespace = check_k8s_namespace(args.get("namespace", "atlas-operator"))
        operator_sa = check_k8s_service_account(args.get("service_account", "atlas-operator"))
        release = _release_name(name, args.get("release_name", "atlas-operator"))
        storage = _choice(name, "grant_storage", args.get("grant_storage", "volume"), GrantStorage)
        chart_persistence = storage is GrantStorage.CHART
        names = _Names.of(release, chart_persistence)
        size = args.get("volume_size", "1Gi")
        if not isinstance(size, str) or not _SIZE.match(size):
            raise ValueError(f"{name}: volume_size {size!r}: a quantity such as 1Gi or 500Mi")
        access_modes = _access_modes(name, args.get("access_modes", ("ReadWriteOnce",)))
        storage_class = args.get("storage_class_name")
        create_namespace = flag(name, args, "create_namespace", True)
        protect_volume = flag(name, args, "protect_volume", False)
        in_init_container = flag(name, args, "restore_with_init_container", False)
        chart_version = args.get("chart_version", CHART_VERSION)
        known_chart = chart.KNOWN.get(chart_version)
        extra = args.get("values") or {}
        if not isinstance(extra, Mapping):
            raise ValueError(
                f"{name}: values must be a plain map (its leaves may be outputs): the "
                "component checks it against the chart before it declares anything"
            )
        _refuse_data_dir_env(name, extra)
        _check_scheduling(name, extra)
        if not chart_persistence and "persistence" in extra:
            raise ValueError(
                f"{name}: values.persistence is the chart's own volume, unused with "
                "grant_storage volume: the grant volume takes volume_size, storage_class_name "
                "and access_modes"
            )
        store_url = args.get("grant_store_url")
        grant_sa = check_k8s_service_account(
            args.get("grant_service_account", "atlas-continuity-grants")
        )
        schedule = args.get("backup_schedule", DEFAULT_SCHEDULE)
        warnings: list[str] = []
        jobs: manifests.GrantJobs | None = None
        pod_labels = args.get("pod_labels") or {}
        if store_url is None and "backup_schedule" in args:
            raise ValueError(
                f"{name}: backup_schedule without grant_store_url: no backup runs, on that "
                "schedule or any (set grant_store_url and runtime_image to back the grants up)"
            )
        if store_url is not None:
            image = args.get("runtime_image")
            if not _image_pinned(name, image):
                warnings.append(
                    f"runtime_image {image!r} is not pinned by digest (name@sha256:...): the "
                    "grant jobs, which may write to the store, run whatever the tag points to "
                    "when they start"
                )
            if grant_sa == operator_sa:
                raise ValueError(
                    f"{name}: grant_service_account must differ from service_account: the "
                    "grant jobs write, the operator only reads"
                )
            _check_schedule(name, schedule)
            if in_init_container and not (known_chart and known_chart.renders_init_containers):
                raise ValueError(
                    f"{name}: restore_with_init_container: chart {chart_version} is not one "
                    "known to take initContainers (the pod would start without the restore): "
                    "leave it off, and a Job restores before the release"
                )
            if chart_persistence and not in_init_container:
                raise ValueError(
                    f"{name}: with grant_storage chart the release creates the volume, so no "
                    "Job can restore into it before the operator starts: use grant_storage "
                    "volume (or restore_with_init_container, with a chart that takes "
                    "initContainers)"
                )
            jobs = manifests.GrantJobs(
                image=image,
                store_url=store_url,
                name=grant_series(name, args, namespace),
                service_account=grant_sa,
                claim=names.claim,
                pod_labels=pod_labels,
                scheduling=manifests.operator_scheduling(extra),
            )
        elif in_init_container:
            raise ValueError(f"{name}: restore_with_init_container needs grant_store_url")

        values = _merge(
            name,
            manifests.chart_values(
                manifests.ChartSettings(
                    release=release,
                    service_account=operator_sa,
                    service_account_annotations=args.get("service_account_annotations") or {},
                    pod_labels=_with(pod_labels, {manifests.VOLUME_LABEL: names.claim}),
                    claim=names.claim,
                    chart_persistence=chart_persistence,
                    size=size,
                    access_modes=access_modes,
                    storage_class=storage_class,
                    restore=jobs if in_init_container else None,
                )
            ),
            extra,
        )
        problems = (known_chart or chart.V0_7_37).problems(values)
        if known_chart is None:
            warnings.append(
                f"chart_version {chart_version}: the component knows the values of chart "
                f"{CHART_VERSION} only; check that this version takes every value given"
                + (f" ({CHART_VERSION} does not take: {'; '.join(problems)})" if problems else "")
            )
        elif problems:
            raise ValueError(
                f"{name}: values chart {chart_version} would ignore: {'; '.join(problems)}"
            )

        super().__init__(TYPE_TOKEN, name, {}, opts)
        for warning in warnings:
            pulumi.log.warn(f"{name}: {warning}", resource=self)
        labels = {
            "app.kubernetes.io/part-of": "atlas-operator",
            "app.kubernetes.io/managed-by": "atlas-continuity",
        }
        # Deleting a namespace deletes everything in it, the retained grant volume too.
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True, protect=protect_volume)

        ready: list[pulumi.Resource] = []
        if create_namespace:
            ns = k8s.core.v1.Namespace(
                f"{name}-namespace", **_fields(manifests.namespace(namespace, labels)), opts=kept
            )
            ready.append(ns)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=list(ready))

        if not chart_persistence:
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-grants",
                **_fields(
                    manifests.volume_claim(
                        names.claim, namespace, size, access_modes, storage_class, labels
                    )
                ),
                opts=pulumi.ResourceOptions.merge(
                    kept, pulumi.ResourceOptions(depends_on=list(ready))
                ),
            )
            ready.append(claim)

        release_deps = list(ready)
        if jobs is not None:
            account = k8s.core.v1.ServiceAccount(
                f"{name}-grant-writer",
                **_fields(
                    manifests.service_account(grant_sa, namespace, {}, labels),
                    annotations=args.get("grant_service_account_annotations") or {},
                ),
                opts=after_namespace,
            )
            grant_deps = pulumi.ResourceOptions(parent=self, depends_on=[*ready, account])
            k8s.batch.v1.CronJob(
                f"{name}-grant-backup",
                **_fields(
                    manifests.backup_cron_job(names.backup, namespace, jobs, schedule, labels)
                ),
                opts=grant_deps,
            )
            if not in_init_container:
                # The release waits for the restore: the operator starts with the grants.
                restore = k8s.batch.v1.Job(
                    f"{name}-grant-restore",
                    **_fields(manifests.restore_job(names.restore, namespace, jobs, labels)),
                    opts=grant_deps,
                )
                release_deps.append(restore)

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
        self.grant_volume_claim = pulumi.Output.from_input(names.claim)
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


def _with(labels: pulumi.Input[Mapping[str, Any]], more: Mapping[str, Any]) -> Any:
    """``labels`` with ``more``: a plain map if ``labels`` is one, else an output of one."""
    if isinstance(labels, pulumi.Output):
        return labels.apply(lambda known: {**known, **more})
    return {**labels, **more}


def _merge(name: str, base: Mapping[str, Any], extra: Mapping[str, Any], path: str = "") -> Any:
    """The user's ``extra`` values over the component's ``base``: maps merge key by key (an
    output map when it resolves), lists are appended to, and a value the component sets is
    never replaced: the grants depend on it."""
    out = dict(base)
    for key, value in extra.items():
        where = f"{path}.{key}" if path else key
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if isinstance(mine, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(name, mine, value, where)
        elif isinstance(mine, pulumi.Output) and isinstance(value, Mapping):
            out[key] = mine.apply(lambda known, v=value, w=where: _merge(name, known, v, w))
        elif isinstance(mine, list) and isinstance(value, list) and where not in _SET_BY_ARGUMENT:
            out[key] = [*mine, *value]
        else:
            argument = _SET_BY_ARGUMENT.get(where)
            raise ValueError(
                f"{name}: values.{where} is set by the component"
                + (f": use its argument {argument}" if argument else ", and cannot be changed")
            )
    return out


def _refuse_data_dir_env(name: str, extra: Mapping[str, Any]) -> None:
    envs = extra.get("extraEnvs")
    if isinstance(envs, list) and any(
        isinstance(e, Mapping) and e.get("name") == "DATA_DIR" for e in envs
    ):
        raise ValueError(
            f"{name}: values.extraEnvs: DATA_DIR is set by the component (the grant volume's "
            f"mount path, {manifests.DATA_DIR}): the grants would go elsewhere"
        )


def _check_scheduling(name: str, extra: Mapping[str, Any]) -> None:
    """The node constraints the grant jobs copy from ``values`` into their typed pod specs: a
    shape the chart would only render wrong fails their declaration there (a bug's message),
    or the cluster at apply."""
    selector = extra.get("nodeSelector")
    for key, value in selector.items() if isinstance(selector, Mapping) else ():
        if not isinstance(value, str):
            raise ValueError(f"{name}: values.nodeSelector.{key}: a node label's value, a string")
    tolerations = extra.get("tolerations")
    for i, toleration in enumerate(tolerations if isinstance(tolerations, list) else ()):
        if not isinstance(toleration, Mapping):
            raise ValueError(f"{name}: values.tolerations[{i}]: a toleration, a map")
    affinity = extra.get("affinity")
    if isinstance(affinity, Mapping) and not isinstance(affinity.get("nodeAffinity", {}), Mapping):
        raise ValueError(f"{name}: values.affinity.nodeAffinity: a map")


def _release_name(name: str, value: object) -> str:
    if not isinstance(value, str) or not re.match(
        rf"^[a-z0-9]([-a-z0-9]{{0,{RELEASE_NAME_MAX - 2}}}[a-z0-9])?\Z", value
    ):
        raise ValueError(
            f"{name}: release_name {value!r}: up to {RELEASE_NAME_MAX} lowercase letters, digits "
            f"and '-' (the backup CronJob is <release_name>{BACKUP_SUFFIX}, and Kubernetes "
            f"takes CronJob names of up to {CRON_JOB_NAME_MAX} characters)"
        )
    return value


def _access_modes(name: str, value: object) -> tuple[str, ...]:
    modes = tuple(value) if isinstance(value, list | tuple) else ()
    if "ReadWriteOncePod" in modes:
        raise ValueError(
            f"{name}: access_modes ReadWriteOncePod: only one pod may mount such a volume, so "
            "the backup could never read it while the operator runs, and a rolling update "
            "would wait forever for it: use ReadWriteOnce"
        )
    if not modes or any(m not in _ACCESS_MODES for m in modes):
        raise ValueError(f"{name}: access_modes must be among {', '.join(_ACCESS_MODES)}")
    return modes


def _image_pinned(name: str, image: object) -> bool:
    """Whether ``image``, a valid image reference, is pinned by digest."""
    if image is None:
        raise ValueError(
            f"{name}: runtime_image is required with grant_store_url: the image the grant "
            "jobs run (the repository's Dockerfile)"
        )
    match = _IMAGE.match(image) if isinstance(image, str) and len(image) <= 512 else None
    if match is None:
        raise ValueError(
            f"{name}: runtime_image {image!r} is not an image reference: "
            "[registry[:port]/]name[:tag]@sha256:<64 hex digits>"
        )
    return match.group("digest") is not None


def _choice(name: str, field: str, value: object, enum: type[StrEnum]) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(
            f"{name}: {field} must be one of {', '.join(e.value for e in enum)}"
        ) from None


_CRON_RANGES = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)


def _check_schedule(name: str, schedule: object) -> None:
    fields = schedule.split() if isinstance(schedule, str) else []
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            f"{name}: backup_schedule {schedule!r}: five cron fields (minute hour day month "
            "weekday) of digits, '*', '/', ',' and '-'"
        )
    # Kubernetes refuses the CronJob at apply time otherwise: say so before anything deploys.
    for field, (what, low, high) in zip(fields, _CRON_RANGES, strict=True):
        for part in field.split(","):
            span, _, step = part.partition("/")
            bounds = [] if span == "*" else span.split("-")
            numbers = [int(b) for b in bounds if b.isdigit()]
            if (
                len(bounds) > 2
                or len(numbers) != len(bounds)
                or any(not low <= n <= high for n in numbers)
                or (len(numbers) == 2 and numbers[0] > numbers[1])
                or (step and (not step.isdigit() or int(step) == 0))
            ):
                raise ValueError(
                    f"{name}: backup_schedule {schedule!r}: {what} field {field!r} is not "
                    f"'*', a number from {low} to {high}, a range of them, or either with a step"
                )
