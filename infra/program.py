"""The stack program: ``pulumi up -s ENV`` composes the components from stacks/Pulumi.ENV.yaml.

Config (namespace ``atlas-continuity``)::

    atlas-continuity:repo: app                 # the registry repository name in atlas.hcl
    atlas-continuity:aws:
      bucket: {create_kms_key: true}                         # S3BackupBucketArgs
      ci_writers:                                            # name -> AwsCiWriterRoleArgs
        github-main: {provider: github, repository: acme/db, branch: main,
                      create_oidc_provider: true}
      readers:                                               # name -> EksReaderRoleArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator, cluster_name: prod}

    atlas-continuity:gcp:
      bucket: {location: EU}                                 # GcsBackupBucketArgs
      ci_writers:                                            # name -> GcpCiWriterIdentityArgs
        github-main: {provider: github, repository: acme/db, branch: main,
                      create_workload_identity_pool: true}
      readers:                                               # name -> GkeReaderIdentityArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator}
    atlas-continuity:azure:
      container: {resource_group_name: atlas}                # AzureBackupContainerArgs
      ci_writers:                                            # name -> AzureCiWriterIdentityArgs
        github-main: {provider: github, repository: acme/db, branch: main,
                      resource_group_name: atlas}
      readers:                                               # name -> AksReaderIdentityArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator,
               oidc_issuer_url: "https://...", resource_group_name: atlas}

A stack may configure one, two or three clouds. The identities get the bucket's (container's)
name or ID, prefix and key from it; those cannot be set here. Exports what pipelines need
(README, "The stack program"): ``store_url`` (the one URL for push / pull and grant save /
restore: the first cloud's), ``backup_urls`` (every cloud's store, in the order aws, gcp,
azure), an ``atlas.hcl`` ``repo`` block, the identities per cloud and name, and
``ci_variables``: per CI writer name, every variable the ``ci init`` templates ask for, merged
across the clouds that define a writer of that name.
"""

from __future__ import annotations

import typing
from typing import Any

import pulumi

from atlas_continuity.runtime.config import repo_block

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

    ci_variables: dict[str, list[pulumi.Output[dict]]] = {}
    builders = {"aws": _aws, "gcp": _gcp, "azure": _azure}
    for cloud in CLOUDS:
        cloud_config = config.get_object(cloud)
        if cloud_config is None:
            continue
        cloud_config = _mapping(cloud, cloud_config)
        unknown = set(cloud_config) - {_STORE_KEY[cloud], "ci_writers", "readers"}
        if unknown:
            raise ValueError(f"atlas-continuity:{cloud}: unknown keys {sorted(unknown)}")
        url, cloud_exports, variables = builders[cloud](cloud_config)
        urls.append(url)
        exports.update(cloud_exports)
        for name, values in variables.items():
            ci_variables.setdefault(name, []).append(pulumi.Output.from_input(values))
    if ci_variables:
        exports["ci_variables"] = {
            name: pulumi.Output.all(*parts).apply(_merge) for name, parts in ci_variables.items()
        }

    backup_urls = pulumi.Output.all(*urls)
    pulumi.export("backup_urls", backup_urls)
    pulumi.export("store_url", backup_urls.apply(lambda u: u[0] if u else None))
    pulumi.export("atlas_hcl_repo", backup_urls.apply(lambda u: repo_block(repo, u)))
    for key, value in exports.items():
        pulumi.export(key, value)


def _aws(config: dict[str, Any]) -> tuple[pulumi.Output[str], dict[str, Any], dict[str, Any]]:
    from .aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket

    bucket = S3BackupBucket(
        "aws-backup", _args("aws.bucket", config.get("bucket", {}), S3BackupBucket)
    )
    wired = {
        "bucket_arn": bucket.bucket_arn,
        "prefix": bucket.prefix,
        "kms_key_arn": bucket.kms_key_arn,
    }
    writers = _each("aws", "ci_writers", config, wired, AwsCiWriterRole, "aws-ci")
    readers = _each("aws", "readers", config, wired, EksReaderRole, "aws-reader")
    exports = {
        "aws_bucket": bucket.bucket_name,
        "aws_store_url": bucket.store_url,
        "aws_ci_role_arns": {name: role.role_arn for name, role in writers.items()},
        "aws_reader_role_arns": {name: role.role_arn for name, role in readers.items()},
        "aws_reader_service_account_annotations": {
            name: role.service_account_annotations for name, role in readers.items()
        },
    }
    variables = {
        name: {
            "ATLAS_GRANT_STORE": bucket.store_url,
            "AWS_ROLE_ARN": role.role_arn,
            "AWS_REGION": bucket.region,
        }
        for name, role in writers.items()
    }
    return bucket.store_url, exports, variables


def _gcp(config: dict[str, Any]) -> tuple[pulumi.Output[str], dict[str, Any], dict[str, Any]]:
    from .gcp import GcpCiWriterIdentity, GcsBackupBucket, GkeReaderIdentity

    bucket = GcsBackupBucket(
        "gcp-backup", _args("gcp.bucket", config.get("bucket", {}), GcsBackupBucket)
    )
    wired = {"bucket_name": bucket.bucket_name, "prefix": bucket.prefix}
    writers = _each("gcp", "ci_writers", config, wired, GcpCiWriterIdentity, "gcp-ci")
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
    variables = {
        name: pulumi.Output.all(
            bucket.store_url,
            writer.workload_identity_provider,
            writer.service_account_email,
            writer.audience,
        ).apply(
            lambda v: {
                "ATLAS_GRANT_STORE": v[0],
                "GCP_WORKLOAD_IDENTITY_PROVIDER": v[1],
                "GCP_WORKLOAD_IDENTITY_AUDIENCE": v[3],
                **({"GCP_SERVICE_ACCOUNT": v[2]} if v[2] else {}),
            }
        )
        for name, writer in writers.items()
    }
    return bucket.store_url, exports, variables


def _azure(config: dict[str, Any]) -> tuple[pulumi.Output[str], dict[str, Any], dict[str, Any]]:
    from .azure import AksReaderIdentity, AzureBackupContainer, AzureCiWriterIdentity

    container = AzureBackupContainer(
        "azure-backup", _args("azure.container", config.get("container", {}), AzureBackupContainer)
    )
    wired = {"container_id": container.container_id, "prefix": container.prefix}
    writers = _each("azure", "ci_writers", config, wired, AzureCiWriterIdentity, "azure-ci")
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
    variables = {
        name: {
            "ATLAS_GRANT_STORE": container.store_url,
            "AZURE_CLIENT_ID": writer.client_id,
            "AZURE_TENANT_ID": writer.tenant_id,
            "AZURE_SUBSCRIPTION_ID": writer.subscription_id,
        }
        for name, writer in writers.items()
    }
    return container.store_url, exports, variables


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


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One CI writer's variables across clouds; ATLAS_GRANT_STORE is the first cloud's."""
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update({k: v for k, v in part.items() if k not in merged})
    return merged


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
