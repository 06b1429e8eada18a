"""The stack program: ``pulumi up -s ENV`` composes the components from stacks/Pulumi.ENV.yaml.

Config (namespace ``atlas-continuity``)::

    atlas-continuity:repo: app                 # the registry repository name in atlas.hcl
    atlas-continuity:aws:
      bucket: {create_kms_key: true}                         # S3BackupBucketArgs
      ci_writers:                # name -> AwsCiWriterRoleArgs + jobs: one per OIDC subject
        github-main: {provider: github, repository: acme/db, branch: main,
                      create_oidc_provider: true, jobs: [push]}
        github-production: {provider: github, repository: acme/db,
                            environment: production, jobs: [deploy]}
      readers:                                               # name -> EksReaderRoleArgs
        prod: {namespace: atlas-operator, service_account: atlas-operator, cluster_name: prod}

The roles get the bucket's ARN, prefix and key from the bucket; they cannot be set here. Each CI
writer names the ``ci init`` jobs its role serves (``jobs``); its branch or environment must be
the one those jobs' OIDC subject carries (``infra/ci_variables.py``). Writers of one issuer
share the one IAM OIDC provider the account may hold for it: the writer that sets
``create_oidc_provider`` creates it, the others trust it.

Exports what pipelines need (README, "The stack program"): ``store_url`` (the one URL for
push / pull and grant save / restore), ``backup_urls``, an ``atlas.hcl`` ``repo`` block, the role
ARNs and service-account annotations per name, and ``ci_variables``: per CI provider and
repository, every variable the ``ci init`` template reads, pipeline-wide and per environment.
"""

from __future__ import annotations

from typing import Any

import pulumi

from atlas_continuity.runtime.config import repo_block

from .ci_variables import CiVariables

CONFIG_NAMESPACE = "atlas-continuity"
_AWS_KEYS = {"bucket", "ci_writers", "readers"}
_WIRED = {"bucket_arn", "prefix", "kms_key_arn"}


def main() -> None:
    config = pulumi.Config(CONFIG_NAMESPACE)
    repo = config.get("repo") or "app"
    urls: list[pulumi.Output[str]] = []
    exports: dict[str, Any] = {}
    ci = CiVariables()

    aws_config = config.get_object("aws")
    if aws_config is not None:
        url, aws_exports = _aws(_mapping("aws", aws_config), ci)
        urls.append(url)
        exports.update(aws_exports)
    exports["ci_variables"] = ci.output()

    backup_urls = pulumi.Output.all(*urls)
    pulumi.export("backup_urls", backup_urls)
    pulumi.export("store_url", backup_urls.apply(lambda u: u[0] if u else None))
    pulumi.export("atlas_hcl_repo", backup_urls.apply(lambda u: repo_block(repo, u)))
    for key, value in exports.items():
        pulumi.export(key, value)


def _aws(config: dict[str, Any], ci: CiVariables) -> tuple[pulumi.Output[str], dict[str, Any]]:
    from .aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
    from .aws.ci_writer_role import oidc_issuer

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
    writer_args = {
        name: _role_args("ci_writers", name, args)
        for name, args in _mapping("aws.ci_writers", config.get("ci_writers", {})).items()
    }
    jobs = {name: args.pop("jobs", None) for name, args in writer_args.items()}
    # The writers that create their issuer's OIDC provider come first: the others trust it.
    issuers: dict[str, pulumi.Output[str]] = {}
    writers = {}
    for name, args in sorted(
        writer_args.items(), key=lambda kv: not kv[1].get("create_oidc_provider")
    ):
        issuer = oidc_issuer(f"atlas-continuity:aws.ci_writers.{name}", args)
        if args.get("create_oidc_provider") and issuer in issuers:
            raise ValueError(
                f"atlas-continuity:aws.ci_writers.{name}: another writer already creates the "
                f"OIDC provider for {issuer} (an account holds one per issuer); remove "
                "create_oidc_provider here"
            )
        shared = issuers.get(issuer)
        if shared is not None and not args.get("create_oidc_provider"):
            args = {"oidc_provider_arn": shared, **args}
        writers[name] = AwsCiWriterRole(f"aws-ci-{name}", {**args, **wired})
        if args.get("create_oidc_provider"):
            issuers[issuer] = writers[name].oidc_provider_arn
    for name, args in writer_args.items():
        ci.cover(
            f"atlas-continuity:aws.ci_writers.{name}",
            args,
            jobs[name],
            pipeline={"ATLAS_GRANT_STORE": bucket.store_url, "AWS_REGION": bucket.region},
            identity={"AWS_ROLE_ARN": writers[name].role_arn},
        )
    readers = {
        name: EksReaderRole(f"aws-reader-{name}", {**_role_args("readers", name, args), **wired})
        for name, args in _mapping("aws.readers", config.get("readers", {})).items()
    }
    return bucket.store_url, {
        "aws_bucket": bucket.bucket_name,
        "aws_store_url": bucket.store_url,
        "aws_ci_role_arns": {name: writers[name].role_arn for name in writer_args},
        "aws_reader_role_arns": {name: role.role_arn for name, role in readers.items()},
        "aws_reader_service_account_annotations": {
            name: role.service_account_annotations for name, role in readers.items()
        },
    }


def _role_args(kind: str, name: str, args: Any) -> dict[str, Any]:
    args = dict(_mapping(f"aws.{kind}.{name}", args))
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
