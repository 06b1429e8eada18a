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

The roles get the bucket's ARN, prefix and key from the bucket; they cannot be set here.
Exports what pipelines need (README, "The stack program"): ``store_url`` (the one URL for
push / pull and grant save / restore), ``backup_urls``, an ``atlas.hcl`` ``repo`` block, the role
ARNs and service-account annotations per name, and ``ci_variables``: per CI writer, every
variable the ``ci init`` templates ask for.
"""

from __future__ import annotations

from typing import Any

import pulumi

from atlas_continuity.runtime.config import repo_block

CONFIG_NAMESPACE = "atlas-continuity"
_AWS_KEYS = {"bucket", "ci_writers", "readers"}
_WIRED = {"bucket_arn", "prefix", "kms_key_arn"}


def main() -> None:
    config = pulumi.Config(CONFIG_NAMESPACE)
    repo = config.get("repo") or "app"
    urls: list[pulumi.Output[str]] = []
    exports: dict[str, Any] = {}

    aws_config = config.get_object("aws")
    if aws_config is not None:
        url, aws_exports = _aws(_mapping("aws", aws_config))
        urls.append(url)
        exports.update(aws_exports)

    backup_urls = pulumi.Output.all(*urls)
    pulumi.export("backup_urls", backup_urls)
    pulumi.export("store_url", backup_urls.apply(lambda u: u[0] if u else None))
    pulumi.export("atlas_hcl_repo", backup_urls.apply(lambda u: repo_block(repo, u)))
    for key, value in exports.items():
        pulumi.export(key, value)


def _aws(config: dict[str, Any]) -> tuple[pulumi.Output[str], dict[str, Any]]:
    from .aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket

    unknown = set(config) - _AWS_KEYS
    if unknown:
        raise ValueError(f"atlas-continuity:aws: unknown keys {sorted(unknown)}")
    bucket_args = _mapping("aws.bucket", config.get("bucket", {}))
    bucket = S3BackupBucket("aws-backup", bucket_args)
    wired = {
        "bucket_arn": bucket.bucket_arn,
        "prefix": bucket.prefix,
        "kms_key_arn": bucket.kms_key_arn,
    }
    writers = {
        name: AwsCiWriterRole(f"aws-ci-{name}", {**_role_args("ci_writers", name, args), **wired})
        for name, args in _mapping("aws.ci_writers", config.get("ci_writers", {})).items()
    }
    readers = {
        name: EksReaderRole(f"aws-reader-{name}", {**_role_args("readers", name, args), **wired})
        for name, args in _mapping("aws.readers", config.get("readers", {})).items()
    }
    return bucket.store_url, {
        "aws_bucket": bucket.bucket_name,
        "aws_store_url": bucket.store_url,
        "aws_ci_role_arns": {name: role.role_arn for name, role in writers.items()},
        "ci_variables": {
            name: {
                "ATLAS_GRANT_STORE": bucket.store_url,
                "AWS_ROLE_ARN": role.role_arn,
                "AWS_REGION": bucket.region,
            }
            for name, role in writers.items()
        },
        "aws_reader_role_arns": {name: role.role_arn for name, role in readers.items()},
        "aws_reader_service_account_annotations": {
            name: role.service_account_annotations for name, role in readers.items()
        },
    }


def _role_args(kind: str, name: str, args: Any) -> dict[str, Any]:
    args = _mapping(f"aws.{kind}.{name}", args)
    clash = _WIRED & set(args)
    if clash:
        raise ValueError(
            f"atlas-continuity:aws.{kind}.{name}: {sorted(clash)} come from the bucket; remove them"
        )
    return args


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"atlas-continuity:{where} must be a mapping")
    return value
