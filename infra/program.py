"""The stack program: ``pulumi up -s ENV`` composes the components from stacks/Pulumi.ENV.yaml.

Config (namespace ``atlas-continuity``)::

    atlas-continuity:repo: app                 # the registry repository name in atlas.hcl
    atlas-continuity:aws:
      bucket: {create_kms_key: true}                         # S3BackupBucketArgs
      ci_writers:                # name -> AwsCiWriterRoleArgs + jobs: one per OIDC subject
        github-main: {provider: github, repository: acme/db, branch: main,
                      create_oidc_provider: true, jobs: [push, drill]}
        github-production: {provider: github, repository: acme/db,
                            environment: production, jobs: [deploy]}
      readers:                                               # name -> EksReaderRoleArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator, cluster_name: prod}

    atlas-continuity:gcp:
      bucket: {location: EU}                                 # GcsBackupBucketArgs
      ci_writers:                                            # name -> GcpCiWriterIdentityArgs
        github-main: {provider: github, repository: acme/db, branch: main,
                      create_workload_identity_pool: true, jobs: [push]}
      readers:                                               # name -> GkeReaderIdentityArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator}
    atlas-continuity:azure:
      container: {resource_group_name: atlas}                # AzureBackupContainerArgs
      ci_writers:                                            # name -> AzureCiWriterIdentityArgs
        github-main: {provider: github, repository: acme/db, branch: main,
                      resource_group_name: atlas, jobs: [push]}
      readers:                                               # name -> AksReaderIdentityArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator,
               oidc_issuer_url: "https://...", resource_group_name: atlas}

A stack may configure one, two or three clouds. The identities get the bucket's (container's)
name or ID, prefix and key from it; those cannot be set here. Each CI writer names the
``ci init`` jobs its identity serves (``jobs``); its branch or environment must be the one
those jobs' OIDC subject carries (``infra/ci_variables.py``). AWS writers of one issuer share
the one IAM OIDC provider the account may hold for it: the writer that sets
``create_oidc_provider`` creates it, the others trust it.

Exports what pipelines need (README, "The stack program"): ``store_url`` (the one URL for
push / pull and grant save / restore: the first cloud's), ``backup_urls`` (every cloud's store,
in the order aws, gcp, azure), an ``atlas.hcl`` ``repo`` block, the identities per cloud and
name, and ``ci_variables``: per CI provider and repository, every variable the ``ci init``
template reads, pipeline-wide and per environment, from every cloud's writers.
"""

from __future__ import annotations

import typing
from typing import Any

import pulumi

from atlas_continuity.runtime.config import repo_block

from .ci_variables import CiVariables

CONFIG_NAMESPACE = "atlas-continuity"
CLOUDS = ("aws", "gcp", "azure")
"""The order of ``backup_urls``: the first configured cloud's store is ``store_url``."""
_STORE_KEY = {"aws": "bucket", "gcp": "bucket", "azure": "container"}
_WIRED = {
    "aws": {"bucket_arn", "prefix", "kms_key_arn"},
    "gcp": {"bucket_name", "prefix"},
    "azure": {"container_id", "prefix"},
}


def main() -> None:
    config = pulumi.Config(CONFIG_NAMESPACE)
    repo = config.get("repo") or "app"
    urls: list[pulumi.Output[str]] = []
    exports: dict[str, Any] = {}

    ci = CiVariables()
    builders = {"aws": _aws, "gcp": _gcp, "azure": _azure}
    for cloud in CLOUDS:
        cloud_config = config.get_object(cloud)
        if cloud_config is None:
            continue
        cloud_config = _mapping(cloud, cloud_config)
        unknown = set(cloud_config) - {_STORE_KEY[cloud], "ci_writers", "readers"}
        if unknown:
            raise ValueError(f"atlas-continuity:{cloud}: unknown keys {sorted(unknown)}")
        url, cloud_exports = builders[cloud](cloud_config, ci)
        urls.append(url)
        exports.update(cloud_exports)
    # The grant goes to the first store, whichever cloud's writer a job uses.
    exports["ci_variables"] = ci.output({"ATLAS_GRANT_STORE": urls[0]} if urls else {})

    backup_urls = pulumi.Output.all(*urls)
    pulumi.export("backup_urls", backup_urls)
    pulumi.export("store_url", backup_urls.apply(lambda u: u[0] if u else None))
    pulumi.export("atlas_hcl_repo", backup_urls.apply(lambda u: repo_block(repo, u)))
    for key, value in exports.items():
        pulumi.export(key, value)


def _aws(config: dict[str, Any], ci: CiVariables) -> tuple[pulumi.Output[str], dict[str, Any]]:
    from .aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
    from .aws.ci_writer_role import oidc_issuer

    bucket = S3BackupBucket(
        "aws-backup", _args("aws.bucket", config.get("bucket", {}), S3BackupBucket)
    )
    wired = {
        "bucket_arn": bucket.bucket_arn,
        "prefix": bucket.prefix,
        "kms_key_arn": bucket.kms_key_arn,
    }
    writer_args = _writer_args("aws", config, AwsCiWriterRole)
    # The writers that create their issuer's OIDC provider come first: the others trust it.
    issuers: dict[str, pulumi.Output[str]] = {}
    writers = {}
    for name, (args, _) in sorted(
        writer_args.items(), key=lambda kv: not kv[1][0].get("create_oidc_provider")
    ):
        where = f"atlas-continuity:aws.ci_writers.{name}"
        issuer = oidc_issuer(where, args)
        if args.get("create_oidc_provider") and issuer in issuers:
            raise ValueError(
                f"{where}: another writer already creates the OIDC provider for {issuer} (an "
                "account holds one per issuer); remove create_oidc_provider here"
            )
        if issuer in issuers and not args.get("create_oidc_provider"):
            args = {"oidc_provider_arn": issuers[issuer], **args}
        writers[name] = AwsCiWriterRole(f"aws-ci-{name}", {**args, **wired})
        if args.get("create_oidc_provider"):
            issuers[issuer] = writers[name].oidc_provider_arn
    for name, (args, jobs) in writer_args.items():
        ci.cover(
            f"atlas-continuity:aws.ci_writers.{name}",
            "aws",
            args,
            jobs,
            pipeline={"AWS_REGION": bucket.region},
            identity={"AWS_ROLE_ARN": writers[name].role_arn},
        )
    readers = _each("aws", "readers", config, wired, EksReaderRole, "aws-reader")
    exports = {
        "aws_bucket": bucket.bucket_name,
        "aws_store_url": bucket.store_url,
        "aws_ci_role_arns": {name: writers[name].role_arn for name in writer_args},
        "aws_reader_role_arns": {name: role.role_arn for name, role in readers.items()},
        "aws_reader_service_account_annotations": {
            name: role.service_account_annotations for name, role in readers.items()
        },
    }
    return bucket.store_url, exports


def _gcp(config: dict[str, Any], ci: CiVariables) -> tuple[pulumi.Output[str], dict[str, Any]]:
    from .gcp import GcpCiWriterIdentity, GcsBackupBucket, GkeReaderIdentity

    bucket = GcsBackupBucket(
        "gcp-backup", _args("gcp.bucket", config.get("bucket", {}), GcsBackupBucket)
    )
    wired = {"bucket_name": bucket.bucket_name, "prefix": bucket.prefix}
    writers = _writers("gcp", config, wired, GcpCiWriterIdentity, "gcp-ci", ci, _gcp_variables)
    readers = _each("gcp", "readers", config, wired, GkeReaderIdentity, "gcp-reader")
    exports = {
        "gcp_bucket": bucket.bucket_name,
        "gcp_store_url": bucket.store_url,
        "gcp_ci_workload_identity_providers": {
            name: writer.workload_identity_provider for name, writer in writers.items()
        },
        "gcp_ci_service_accounts": {
            name: writer.service_account_email for name, writer in writers.items()
        },
        "gcp_reader_principals": {name: reader.principal for name, reader in readers.items()},
        "gcp_reader_service_account_annotations": {
            name: reader.service_account_annotations for name, reader in readers.items()
        },
    }
    return bucket.store_url, exports


def _azure(config: dict[str, Any], ci: CiVariables) -> tuple[pulumi.Output[str], dict[str, Any]]:
    from .azure import AksReaderIdentity, AzureBackupContainer, AzureCiWriterIdentity

    container = AzureBackupContainer(
        "azure-backup", _args("azure.container", config.get("container", {}), AzureBackupContainer)
    )
    wired = {"container_id": container.container_id, "prefix": container.prefix}
    writers = _writers(
        "azure", config, wired, AzureCiWriterIdentity, "azure-ci", ci, _azure_variables
    )
    readers = _each("azure", "readers", config, wired, AksReaderIdentity, "azure-reader")
    exports = {
        "azure_storage_account": container.account_name,
        "azure_container": container.container_name,
        "azure_store_url": container.store_url,
        "azure_ci_client_ids": {name: writer.client_id for name, writer in writers.items()},
        "azure_reader_client_ids": {name: reader.client_id for name, reader in readers.items()},
        "azure_reader_service_account_annotations": {
            name: reader.service_account_annotations for name, reader in readers.items()
        },
    }
    return container.store_url, exports


def _each(
    cloud: str, kind: str, config: dict[str, Any], wired: dict[str, Any], component, label: str
) -> dict[str, Any]:
    """One ``component`` per entry of ``config[kind]``, named ``<label>-<name>``, wired to the
    cloud's store."""
    return {
        name: component(
            f"{label}-{name}", {**_role_args(cloud, kind, name, args, component), **wired}
        )
        for name, args in _mapping(f"{cloud}.{kind}", config.get(kind, {})).items()
    }


def _writer_args(cloud: str, config: dict[str, Any], component) -> dict[str, tuple[dict, Any]]:
    """Each CI writer's component arguments, and the ``ci init`` jobs it serves."""
    out = {}
    for name, args in _mapping(f"{cloud}.ci_writers", config.get("ci_writers", {})).items():
        args = dict(_mapping(f"{cloud}.ci_writers.{name}", args))
        jobs = args.pop("jobs", None)
        out[name] = (_role_args(cloud, "ci_writers", name, args, component), jobs)
    return out


def _writers(
    cloud: str,
    config: dict[str, Any],
    wired: dict[str, Any],
    component,
    label: str,
    ci: CiVariables,
    variables,
) -> dict[str, Any]:
    """One CI writer ``component`` per entry of ``config["ci_writers"]``, wired to the cloud's
    store; ``variables(writer)`` are what a job served by it reads."""
    writers = {}
    for name, (args, jobs) in _writer_args(cloud, config, component).items():
        writers[name] = component(f"{label}-{name}", {**args, **wired})
        ci.cover(
            f"atlas-continuity:{cloud}.ci_writers.{name}",
            cloud,
            args,
            jobs,
            pipeline={},
            identity=variables(writers[name]),
        )
    return writers


def _gcp_variables(writer) -> dict[str, pulumi.Input[str]]:
    return {
        "GCP_WORKLOAD_IDENTITY_PROVIDER": writer.workload_identity_provider,
        "GCP_WORKLOAD_IDENTITY_AUDIENCE": writer.audience,
        "GCP_SERVICE_ACCOUNT": writer.service_account_email.apply(lambda e: e or ""),
    }


def _azure_variables(writer) -> dict[str, pulumi.Input[str]]:
    return {
        "AZURE_CLIENT_ID": writer.client_id,
        "AZURE_TENANT_ID": writer.tenant_id,
        "AZURE_SUBSCRIPTION_ID": writer.subscription_id,
    }


def _role_args(cloud: str, kind: str, name: str, args: Any, component) -> dict[str, Any]:
    args = _args(f"{cloud}.{kind}.{name}", args, component)
    clash = _WIRED[cloud] & set(args)
    if clash:
        store = "container" if cloud == "azure" else "bucket"
        raise ValueError(
            f"atlas-continuity:{cloud}.{kind}.{name}: {sorted(clash)} come from the {store}; "
            "remove them"
        )
    return args


def _args(where: str, value: Any, component) -> dict[str, Any]:
    """A component's arguments from config: a mapping whose keys its Args TypedDict knows."""
    value = _mapping(where, value)
    known = typing.get_type_hints(component.__init__)["args"].__annotations__
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(
            f"atlas-continuity:{where}: unknown keys {unknown} "
            f"(see {component.__name__}Args in docs/infra-*.md)"
        )
    return value


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"atlas-continuity:{where} must be a mapping")
    return value
