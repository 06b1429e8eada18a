"""ContinuityPlan: one environment's whole continuity plan, from one typed args object.

It composes, on each cloud configured (AWS, GCP, Azure): the backup store, the CI writer
identities (one per OIDC subject a pipeline uses) and the Kubernetes reader identities; and,
when asked, the Atlas operator on one cluster, with its reader and grant writer identities and
its grants backed up to that cloud's store. The stack program (program.py) builds one from the
stack's config; a platform repo can build one from code.

Every argument is checked before anything is declared, and a mistake is refused with its path:
``<name>:gcp.ci_writers.main.brnach: unknown keys``. Each cloud's components (and their SDK)
are imported only when that cloud is configured, the operator's only when it is: an AWS-only
plan needs the ``aws`` extra alone.
"""

import functools
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Required, TypedDict

import pulumi

from atlas_continuity.infra.args import check_typed
from atlas_continuity.infra.ci_variables import CiVariables
from atlas_continuity.runtime.config import repo_block
from atlas_continuity.runtime.layout import check_name

if TYPE_CHECKING:
    from atlas_continuity.infra.aws import S3BackupBucketArgs
    from atlas_continuity.infra.azure import AzureBackupContainerArgs
    from atlas_continuity.infra.gcp import GcsBackupBucketArgs
    from atlas_continuity.infra.kubernetes import AtlasOperatorArgs

TYPE_TOKEN = "atlas-continuity:index:ContinuityPlan"


class Cloud(StrEnum):
    """A cloud of the plan. ``backup_urls`` lists the stores in this order."""

    AWS = "aws"
    """Amazon S3, IAM roles for CI, EKS for the cluster."""
    GCP = "gcp"
    """Google Cloud Storage, Workload Identity Federation for CI, GKE for the cluster."""
    AZURE = "azure"
    """Azure Blob Storage, managed identities for CI, AKS for the cluster."""


class AwsPlanArgs(TypedDict, total=False):
    """The AWS part of a ContinuityPlan."""

    bucket: "S3BackupBucketArgs"
    """The backup bucket (S3BackupBucketArgs). Default: all defaults."""
    ci_writers: Mapping[str, Mapping[str, Any]]
    """Name -> AwsCiWriterRoleArgs (bucket_arn, prefix and kms_key_arn come from the bucket),
    plus jobs: the ci init jobs the role serves. Writers of one OIDC issuer share the
    account's one IAM OIDC provider: the one with create_oidc_provider creates it."""
    readers: Mapping[str, Mapping[str, Any]]
    """Name -> EksReaderRoleArgs (bucket_arn, prefix and kms_key_arn come from the bucket)."""


class GcpPlanArgs(TypedDict, total=False):
    """The GCP part of a ContinuityPlan."""

    bucket: Required["GcsBackupBucketArgs"]
    """The backup bucket (GcsBackupBucketArgs; location is required)."""
    ci_writers: Mapping[str, Mapping[str, Any]]
    """Name -> GcpCiWriterIdentityArgs (bucket_name and prefix come from the bucket), plus
    jobs: the ci init jobs the identity serves."""
    readers: Mapping[str, Mapping[str, Any]]
    """Name -> GkeReaderIdentityArgs (bucket_name and prefix come from the bucket)."""


class AzurePlanArgs(TypedDict, total=False):
    """The Azure part of a ContinuityPlan."""

    container: Required["AzureBackupContainerArgs"]
    """The storage account and container (AzureBackupContainerArgs; resource_group_name is
    required)."""
    ci_writers: Mapping[str, Mapping[str, Any]]
    """Name -> AzureCiWriterIdentityArgs (container_id and prefix come from the container),
    plus jobs: the ci init jobs the identity serves."""
    readers: Mapping[str, Mapping[str, Any]]
    """Name -> AksReaderIdentityArgs (container_id and prefix come from the container)."""


class ContinuityOperatorArgs(TypedDict, total=False):
    """The Atlas operator of a ContinuityPlan, on one cluster."""

    cloud: Required[Cloud]
    """The cloud of the cluster: its reader identity and its store serve the operator."""
    reader: Required[str]
    """The name of that cloud's reader (under readers) that is the operator's identity: its
    namespace and service account are the operator's, its grant_service_account the grant
    jobs'."""
    settings: "AtlasOperatorArgs"
    """AtlasOperatorArgs, less what the plan wires: namespace and service accounts (the
    reader's), their annotations and labels (the reader's outputs) and grant_store_url (the
    cloud's store). With runtime_image, the grants are backed up to the store."""


class ContinuityPlanArgs(TypedDict, total=False):
    """Inputs of ContinuityPlan: each cloud's part, and the operator. Configure one, two or
    three clouds."""

    repo: str
    """The registry repository name in the atlas.hcl block. Default: "app"."""
    aws: AwsPlanArgs
    """The AWS store and identities."""
    gcp: GcpPlanArgs
    """The GCP store and identities."""
    azure: AzurePlanArgs
    """The Azure store and identities."""
    operator: ContinuityOperatorArgs
    """The Atlas operator on one cluster. Default: none."""


@dataclass
class _CloudParts:
    """How one cloud's part is built: its components, what the store wires into the
    identities, and what each identity puts in ci_variables and the stack outputs."""

    store_key: str
    store: type
    writer: type
    writer_args: type
    reader: type
    reader_args: type
    wiring: Callable[[Any], dict[str, Any]]
    pipeline: Callable[[Any], dict[str, pulumi.Input[str]]]
    """Pipeline-wide variables every job of a writer of this cloud reads (AWS_REGION)."""
    identity: Callable[[Any], dict[str, pulumi.Input[str]]]
    """The variables a job served by a writer reads."""
    exports: Callable[[Any, dict[str, Any], dict[str, Any]], dict[str, Any]]
    """(store, writers, readers) -> stack outputs."""


def _aws_exports(bucket, writers, readers) -> dict[str, Any]:
    return {
        "aws_bucket": bucket.bucket_name,
        "aws_store_url": bucket.store_url,
        "aws_ci_role_arns": {name: w.role_arn for name, w in writers.items()},
        "aws_reader_role_arns": {name: r.role_arn for name, r in readers.items()},
        "aws_reader_service_account_annotations": {
            name: r.service_account_annotations for name, r in readers.items()
        },
    }


def _gcp_exports(bucket, writers, readers) -> dict[str, Any]:
    return {
        "gcp_bucket": bucket.bucket_name,
        "gcp_store_url": bucket.store_url,
        "gcp_ci_workload_identity_providers": {
            name: w.workload_identity_provider for name, w in writers.items()
        },
        "gcp_ci_service_accounts": {name: w.service_account_email for name, w in writers.items()},
        "gcp_reader_principals": {name: r.principal for name, r in readers.items()},
        "gcp_reader_service_account_annotations": {
            name: r.service_account_annotations for name, r in readers.items()
        },
    }


def _azure_exports(container, writers, readers) -> dict[str, Any]:
    return {
        "azure_storage_account": container.account_name,
        "azure_container": container.container_name,
        "azure_store_url": container.store_url,
        "azure_ci_client_ids": {name: w.client_id for name, w in writers.items()},
        "azure_reader_client_ids": {name: r.client_id for name, r in readers.items()},
        "azure_reader_service_account_annotations": {
            name: r.service_account_annotations for name, r in readers.items()
        },
    }


def _aws() -> _CloudParts:
    from atlas_continuity.infra import aws

    return _CloudParts(
        store_key="bucket",
        store=aws.S3BackupBucket,
        writer=aws.AwsCiWriterRole,
        writer_args=aws.AwsCiWriterRoleArgs,
        reader=aws.EksReaderRole,
        reader_args=aws.EksReaderRoleArgs,
        wiring=lambda b: {
            "bucket_arn": b.bucket_arn,
            "prefix": b.prefix,
            "kms_key_arn": b.kms_key_arn,
        },
        pipeline=lambda b: {"AWS_REGION": b.region},
        identity=lambda w: {"AWS_ROLE_ARN": w.role_arn},
        exports=_aws_exports,
    )


def _gcp() -> _CloudParts:
    from atlas_continuity.infra import gcp

    return _CloudParts(
        store_key="bucket",
        store=gcp.GcsBackupBucket,
        writer=gcp.GcpCiWriterIdentity,
        writer_args=gcp.GcpCiWriterIdentityArgs,
        reader=gcp.GkeReaderIdentity,
        reader_args=gcp.GkeReaderIdentityArgs,
        wiring=lambda b: {"bucket_name": b.bucket_name, "prefix": b.prefix},
        pipeline=lambda b: {},
        identity=lambda w: {
            "GCP_WORKLOAD_IDENTITY_PROVIDER": w.workload_identity_provider,
            "GCP_WORKLOAD_IDENTITY_AUDIENCE": w.audience,
            "GCP_SERVICE_ACCOUNT": w.service_account_email.apply(lambda e: e or ""),
        },
        exports=_gcp_exports,
    )


def _azure() -> _CloudParts:
    from atlas_continuity.infra import azure

    return _CloudParts(
        store_key="container",
        store=azure.AzureBackupContainer,
        writer=azure.AzureCiWriterIdentity,
        writer_args=azure.AzureCiWriterIdentityArgs,
        reader=azure.AksReaderIdentity,
        reader_args=azure.AksReaderIdentityArgs,
        wiring=lambda c: {"container_id": c.container_id, "prefix": c.prefix},
        pipeline=lambda c: {},
        identity=lambda w: {
            "AZURE_CLIENT_ID": w.client_id,
            "AZURE_TENANT_ID": w.tenant_id,
            "AZURE_SUBSCRIPTION_ID": w.subscription_id,
        },
        exports=_azure_exports,
    )


_PARTS: dict[Cloud, Callable[[], _CloudParts]] = {
    Cloud.AWS: _aws,
    Cloud.GCP: _gcp,
    Cloud.AZURE: _azure,
}
_LAZY_TYPES = {
    "S3BackupBucketArgs": "aws",
    "GcsBackupBucketArgs": "gcp",
    "AzureBackupContainerArgs": "azure",
    "AtlasOperatorArgs": "kubernetes",
}
"""The args types the plan's own args name (as strings), by the extra that brings them."""


def _import(extra: str, where: str) -> Any:
    """``atlas_continuity.infra.<extra>``, or an ImportError that says what to install."""
    try:
        return importlib.import_module(f"atlas_continuity.infra.{extra}")
    except ImportError as exc:
        raise ImportError(
            f"{where} needs the {extra} components, and {exc.name} is not installed: "
            f"pip install 'atlas-continuity[{extra}]'",
            name=exc.name,
        ) from None


@functools.cache
def _cloud_parts(cloud: Cloud) -> _CloudParts:
    return _PARTS[cloud]()


_EXTRAS = {"aws": "aws", "gcp": "gcp", "azure": "azure", "operator": "kubernetes"}
"""Each part of ContinuityPlanArgs that needs an extra, and that extra."""


def _import_extras(name: str, args: object) -> None:
    """Import the components of every part ``args`` configures, and only those: a missing
    extra is named with the part that needs it."""
    if isinstance(args, Mapping):
        for key, extra in _EXTRAS.items():
            if args.get(key) is not None:
                _import(extra, f"{name}:{key}")


def __getattr__(name: str) -> Any:
    # The args types of each cloud's part, resolved when first asked for (by check_typed, or
    # by the schema inference of the component provider), so that importing this module
    # imports no cloud's SDK.
    if name in _LAZY_TYPES:
        extra = _LAZY_TYPES[name]
        return getattr(_import(extra, f"{__name__}.{name}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_WIRED_KEYS = {
    Cloud.AWS: ("bucket_arn", "prefix", "kms_key_arn"),
    Cloud.GCP: ("bucket_name", "prefix"),
    Cloud.AZURE: ("container_id", "prefix"),
}
_OPERATOR_WIRED = {
    "namespace": "reader",
    "service_account": "reader",
    "grant_service_account": "reader",
    "service_account_annotations": "reader",
    "pod_labels": "reader",
    "grant_service_account_annotations": "reader",
    "grant_store_url": "cloud's store",
}


@dataclass
class _Built:
    store: Any
    writers: dict[str, Any] = field(default_factory=dict)
    readers: dict[str, Any] = field(default_factory=dict)
    reader_args: dict[str, dict[str, Any]] = field(default_factory=dict)


class ContinuityPlan(pulumi.ComponentResource):
    """An environment's continuity plan: backup stores on one to three clouds, the CI writer
    and Kubernetes reader identities that use them, and the Atlas operator with its grants
    backed up. Its outputs are what pipelines and atlas.hcl need."""

    backup_urls: pulumi.Output[list[str]]
    """Every store's URL, in the order aws, gcp, azure: atlas.hcl's repo.backup list."""
    store_url: pulumi.Output[str | None]
    """The first store's URL: where the CI templates keep the grant."""
    atlas_hcl_repo: pulumi.Output[str]
    """An atlas.hcl ``repo { ... }`` block naming the repository and the backup list."""
    ci_identities: pulumi.Output[Mapping[str, Any]]
    """Per CI provider, cloud and writer name, the identity's references (role ARN, workload
    identity provider and service account, client, tenant and subscription IDs)."""
    ci_variables: pulumi.Output[Mapping[str, Any]]
    """Per CI provider and repository, every variable the ci init template reads: the
    pipeline-wide ones ("variables") and each environment's ("environments")."""

    def __init__(
        self,
        name: str,
        args: ContinuityPlanArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _import_extras(name, args)
        check_typed(name, args, ContinuityPlanArgs, joiner=":")
        configured = [cloud for cloud in Cloud if args.get(cloud.value) is not None]
        if not configured:
            raise ValueError(
                f"{name}: no cloud configured: give {name}:aws, {name}:gcp or {name}:azure "
                "(one, two or three of them)"
            )
        entries = {cloud: _entries(name, cloud, args[cloud.value]) for cloud in configured}
        if Cloud.AWS in entries:
            _check_oidc_providers(name, entries[Cloud.AWS][0])
        operator = args.get("operator")
        if operator is not None:
            _check_operator(name, operator, entries)
        repo = args.get("repo")
        repo = "app" if repo is None else repo
        try:
            check_name("repository", repo)
        except ValueError as exc:  # said before anything is declared, naming the key
            raise ValueError(f"{name}:repo: {exc}") from None

        super().__init__(TYPE_TOKEN, name, {}, opts)
        ci = CiVariables()
        identities: dict[str, dict[str, dict[str, Any]]] = {}
        built: dict[Cloud, _Built] = {}
        exports: dict[str, Any] = {}
        for cloud in configured:
            built[cloud] = self._cloud(name, cloud, args[cloud.value], entries[cloud], ci)
            parts = _cloud_parts(cloud)
            b = built[cloud]
            exports.update(parts.exports(b.store, b.writers, b.readers))
            for writer_name, (writer_args, _) in entries[cloud][0].items():
                provider = str(getattr(writer_args["provider"], "value", writer_args["provider"]))
                identities.setdefault(provider, {}).setdefault(cloud.value, {})[writer_name] = (
                    parts.identity(b.writers[writer_name])
                )

        urls = [built[cloud].store.store_url for cloud in configured]
        backup_urls = pulumi.Output.all(*urls)
        # The grant goes to the first store, whichever cloud's writer a job uses.
        ci_variables = ci.output({"ATLAS_GRANT_STORE": urls[0]})

        if operator is not None:
            exports.update(self._operator(name, operator, built))

        self.backup_urls = backup_urls
        self.store_url = backup_urls.apply(lambda u: u[0] if u else None)
        self.atlas_hcl_repo = backup_urls.apply(lambda u: repo_block(repo, u))
        self.ci_identities = pulumi.Output.from_input(identities)
        self.ci_variables = pulumi.Output.from_input(ci_variables)
        # What the stack program exports, leaf by leaf (an offline plan then shows each value
        # it can know, even where a neighbour is known only after apply).
        self.stack_outputs = {
            "backup_urls": self.backup_urls,
            "store_url": self.store_url,
            "atlas_hcl_repo": self.atlas_hcl_repo,
            **exports,
            "ci_identities": identities,
            "ci_variables": ci_variables,
        }
        self.register_outputs(
            {
                "backup_urls": self.backup_urls,
                "store_url": self.store_url,
                "atlas_hcl_repo": self.atlas_hcl_repo,
                "ci_identities": self.ci_identities,
                "ci_variables": self.ci_variables,
            }
        )

    def _child(self, label: str) -> pulumi.ResourceOptions:
        """Options for the component the plan declares as ``label``: parented to the plan, and
        aliased to the stack's top, where the stack program of 0.2 declared it by the same
        name. The name stays the label, not ``<plan>-<label>``: every name a component derives
        from its own (a GCP pool or service account ID, an Azure storage account) then stays
        what 0.2 created, and a stack upgrades without replacing anything."""
        return pulumi.ResourceOptions(
            parent=self, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
        )

    def _cloud(
        self,
        name: str,
        cloud: Cloud,
        config: Mapping[str, Any],
        entries: tuple[dict[str, tuple[dict, list]], dict[str, dict]],
        ci: CiVariables,
    ) -> _Built:
        parts = _cloud_parts(cloud)
        where = f"{name}:{cloud.value}"
        writer_entries, reader_entries = entries
        label = f"{cloud.value}-backup"
        with _said_at(f"{where}.{parts.store_key}", label):
            store = parts.store(label, dict(config.get(parts.store_key) or {}), self._child(label))
        wired = parts.wiring(store)
        b = _Built(store)
        # An AWS account holds one IAM OIDC provider per issuer: the writer that creates it
        # comes first, and the writers of the same issuer trust it.
        ordered = sorted(
            writer_entries.items(), key=lambda kv: not kv[1][0].get("create_oidc_provider")
        )
        providers: dict[str, pulumi.Output[str]] = {}
        for writer_name, (writer_args, _) in ordered:
            label = f"{cloud.value}-ci-{writer_name}"
            writer_args = dict(writer_args)
            issuer = None
            if cloud is Cloud.AWS:
                issuer = _aws_issuer(f"{where}.ci_writers.{writer_name}", writer_args)
                if issuer in providers and not writer_args.get("create_oidc_provider"):
                    writer_args.setdefault("oidc_provider_arn", providers[issuer])
            with _said_at(f"{where}.ci_writers.{writer_name}", label):
                b.writers[writer_name] = parts.writer(
                    label, {**writer_args, **wired}, self._child(label)
                )
            if issuer is not None and writer_args.get("create_oidc_provider"):
                providers[issuer] = b.writers[writer_name].oidc_provider_arn
        for writer_name, (writer_args, jobs) in writer_entries.items():
            ci.cover(
                f"{where}.ci_writers.{writer_name}",
                cloud.value,
                writer_args,
                jobs,
                pipeline=parts.pipeline(store),
                identity=parts.identity(b.writers[writer_name]),
            )
        # config order, as written (the AWS loop above may create some writers first)
        b.writers = {w: b.writers[w] for w in writer_entries}
        for reader_name, reader_args in reader_entries.items():
            label = f"{cloud.value}-reader-{reader_name}"
            with _said_at(f"{where}.readers.{reader_name}", label):
                b.readers[reader_name] = parts.reader(
                    label, {**reader_args, **wired}, self._child(label)
                )
            b.reader_args[reader_name] = reader_args
        return b

    def _operator(
        self, name: str, operator: Mapping[str, Any], built: dict[Cloud, _Built]
    ) -> dict[str, Any]:
        from atlas_continuity.infra.kubernetes import AtlasOperator

        cloud = Cloud(operator["cloud"])
        b = built[cloud]
        reader = b.readers[operator["reader"]]
        reader_args = b.reader_args[operator["reader"]]
        settings = dict(operator.get("settings") or {})
        if reader_args.get("grant_name") is not None:
            settings.setdefault("grant_name", reader_args["grant_name"])
        wired: dict[str, Any] = {
            "namespace": reader_args["namespace"],
            "service_account": reader_args["service_account"],
            "service_account_annotations": reader.service_account_annotations,
        }
        if cloud is Cloud.AZURE:
            wired["pod_labels"] = reader.pod_labels
        if settings.get("runtime_image") is not None:
            wired.update(
                grant_store_url=b.store.store_url,
                grant_service_account=reader_args["grant_service_account"],
                grant_service_account_annotations=(reader.grant_writer_service_account_annotations),
            )
        label = "atlas-operator"
        with _said_at(f"{name}:operator.settings", label):
            deployed = AtlasOperator(
                label,
                {**settings, **wired},  # type: ignore[typeddict-item]
                # The reader's identity (an EKS Pod Identity association, a GKE IAM binding, an
                # AKS federated credential) must exist before a pod of the operator or its grant
                # jobs starts: a pod that starts first has no credentials until it restarts, and
                # nothing else ties them when the service account needs no annotation.
                pulumi.ResourceOptions(parent=self, depends_on=[reader]),
            )
        return {
            "operator_namespace": deployed.namespace,
            "operator_release": deployed.release_name,
            "operator_chart_version": deployed.chart_version,
            "operator_grant_volume_claim": deployed.grant_volume_claim,
            "operator_grant_backup_schedule": deployed.grant_backup_schedule,
        }


@contextmanager
def _said_at(where: str, component: str) -> Iterator[None]:
    """A component's ValueError, said at the config path of its args: the component names
    itself (``aws-backup: ...``) or nothing (``namespace 'Bad_NS' ...``); the user wrote
    ``<plan>:aws.bucket``."""
    try:
        yield
    except ValueError as exc:
        raise ValueError(f"{where}: {str(exc).removeprefix(f'{component}: ')}") from exc


def _aws_issuer(where: str, args: Mapping[str, Any]) -> str:
    """The OIDC issuer of the AWS writer configured at ``where``."""
    from atlas_continuity.infra.aws.ci_writer_role import oidc_issuer

    with _said_at(where, where):
        return oidc_issuer(where, args)


def _entries(
    name: str, cloud: Cloud, config: Mapping[str, Any]
) -> tuple[dict[str, tuple[dict, Any]], dict[str, dict]]:
    """The cloud's writers (args, jobs) and readers (args), each checked against its
    component's Args, less what the store wires in."""
    parts = _cloud_parts(cloud)
    where = f"{name}:{cloud.value}"
    wired = dict.fromkeys(_WIRED_KEYS[cloud], "container" if cloud is Cloud.AZURE else "bucket")
    writers = {}
    for writer_name, writer_args in (config.get("ci_writers") or {}).items():
        _check_entry_name(f"{where}.ci_writers", writer_name)
        args = dict(writer_args)
        jobs = args.pop("jobs", None)
        check_typed(f"{where}.ci_writers.{writer_name}", args, parts.writer_args, wired=wired)
        writers[writer_name] = (args, jobs)
    readers = {}
    for reader_name, reader_args in (config.get("readers") or {}).items():
        _check_entry_name(f"{where}.readers", reader_name)
        check_typed(f"{where}.readers.{reader_name}", reader_args, parts.reader_args, wired=wired)
        readers[reader_name] = dict(reader_args)
    return writers, readers


_ENTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z")
"""A writer's or reader's name: its resources are named after it, and the clouds autoname
some from theirs (an IAM role: "aws-reader-<name>-role-<7 random>", at most 64 characters of
letters, digits and "_+=,.@-"; an Azure identity: no space either)."""


def _check_entry_name(where: str, entry: object) -> None:
    if not isinstance(entry, str) or not _ENTRY_NAME.match(entry):
        raise ValueError(
            f"{where}: name {entry!r}: up to 40 letters, digits, '-' and '_', starting with a "
            "letter or digit (the clouds name its roles and identities after it)"
        )


def _check_oidc_providers(name: str, writers: dict[str, tuple[dict, Any]]) -> None:
    """At most one AWS writer per issuer creates the account's IAM OIDC provider."""
    creators: set[str] = set()
    for writer_name, (args, _) in writers.items():
        if args.get("create_oidc_provider"):
            where = f"{name}:aws.ci_writers.{writer_name}"
            issuer = _aws_issuer(where, args)
            if issuer in creators:
                raise ValueError(
                    f"{where}: another writer already creates the OIDC provider for {issuer} "
                    "(an account holds one per issuer); remove create_oidc_provider here"
                )
            creators.add(issuer)


def _check_operator(name: str, operator: Mapping[str, Any], entries: dict) -> None:
    """Check the operator's config against the plan's clouds and readers, and hand a grant
    series given on the operator to its reader's entry: from there both the reader's grant
    writer and the operator (:meth:`ContinuityPlan._operator`) take it."""
    where = f"{name}:operator"
    cloud = Cloud(operator["cloud"])
    if cloud not in entries:
        raise ValueError(f"{where}.cloud: {cloud.value} is not configured in this plan")
    readers = entries[cloud][1]
    reader = operator["reader"]
    if reader not in readers:
        known = ", ".join(readers) or "none"
        raise ValueError(
            f"{where}.reader: no reader {reader!r} under {name}:{cloud.value}.readers "
            f"(readers there: {known})"
        )
    from atlas_continuity.infra.kubernetes import AtlasOperatorArgs
    from atlas_continuity.runtime.layout import check_name

    settings = operator.get("settings") or {}
    check_typed(f"{where}.settings", settings, AtlasOperatorArgs, wired=_OPERATOR_WIRED)
    series = settings.get("grant_name")
    if series is not None:
        try:
            check_name("grant series", series)
        except ValueError as exc:
            raise ValueError(f"{where}.settings.grant_name: {exc}") from None
        reader_series = readers[reader].get("grant_name")
        if reader_series is not None and reader_series != series:
            raise ValueError(
                f"{where}.settings.grant_name {series!r} differs from "
                f"{name}:{cloud.value}.readers.{reader}.grant_name {reader_series!r}: the grant "
                "jobs would save to a series their identity may not write; set it in one place"
            )
        # One series, said once: the reader's grant writer may write what the jobs save.
        if readers[reader].get("grant_service_account"):
            readers[reader]["grant_name"] = series
    if settings.get("runtime_image") is not None and not readers[reader].get(
        "grant_service_account"
    ):
        raise ValueError(
            f"{name}:{cloud.value}.readers.{reader}.grant_service_account is required: the "
            "operator's grant jobs (settings.runtime_image) need an identity of their own"
        )
