"""IAM policy documents for the AWS components, built by pure functions.

Nothing here imports Pulumi: every function takes plain strings and returns a plain ``dict`` (an
IAM JSON document) or an :class:`OidcTrust`, so the same documents the components declare can be
unit-tested, linted with parliament and loaded into a real IAM evaluator.

Who a CI pipeline or a service account is comes from the cloud-neutral model in
:mod:`atlas_continuity.infra.ci_identity` (typed parts, checked there); this module renders it
as IAM trust conditions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from atlas_continuity.infra.ci_identity import (
    CiIdentity,
    check_k8s_namespace,
    check_k8s_service_account,
    ci_identity,
    kubernetes_subject,
    required,
)
from atlas_continuity.runtime import layout
from atlas_continuity.runtime.stores.url import check_prefix

POLICY_VERSION = "2012-10-17"

STS_AUDIENCE = "sts.amazonaws.com"


# --- OIDC trust ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcTrust:
    """Who may assume a role through an OIDC identity provider, and how IAM checks it.

    ``subject`` is compared with ``StringEquals`` unless ``subject_is_pattern`` is set, in which
    case it is a ``StringLike`` pattern whose only wildcard is one the component put there for a
    per-run part of the claim (a CircleCI user, a Bitbucket step). ``subject_must_not_match``
    lists ``StringNotLike`` patterns that close the injection such a wildcard would otherwise
    allow. (IAM's ``*`` matches any characters, as the cloud-neutral model's does.)
    """

    provider: str
    issuer_url: str
    audience: str
    subject: str
    subject_is_pattern: bool = False
    subject_must_not_match: tuple[str, ...] = ()

    @classmethod
    def of(cls, identity: CiIdentity) -> OidcTrust:
        """The IAM trust of a CI identity, with AWS's default audience where the CI provider
        leaves it to the cloud: ``sts.amazonaws.com`` for GitHub, the instance URL for GitLab."""
        default = identity.issuer_url if identity.provider == "gitlab" else STS_AUDIENCE
        return cls(
            identity.provider,
            identity.issuer_url,
            identity.audience or default,
            identity.subject,
            identity.subject_is_pattern,
            identity.subject_must_not_match,
        )

    @property
    def issuer_host(self) -> str:
        """The issuer without its scheme: IAM's provider name and condition-key prefix."""
        return self.issuer_url.removeprefix("https://")

    def condition(self) -> dict[str, dict[str, str | list[str]]]:
        """The trust statement's ``Condition``: audience and subject always pinned."""
        host = self.issuer_host
        equals: dict[str, str | list[str]] = {f"{host}:aud": self.audience}
        condition = {"StringEquals": equals}
        if self.subject_is_pattern:
            condition["StringLike"] = {f"{host}:sub": self.subject}
        else:
            equals[f"{host}:sub"] = self.subject
        if self.subject_must_not_match:
            condition["StringNotLike"] = {f"{host}:sub": list(self.subject_must_not_match)}
        return condition


def ci_trust(provider: str, **typed: str | None) -> OidcTrust:
    """The trust for one CI provider, from the typed arguments of :class:`AwsCiWriterRole`
    (see :func:`atlas_continuity.infra.ci_identity.ci_identity`)."""
    return OidcTrust.of(ci_identity(provider, **typed))


def irsa_trust(issuer_host: str, namespace: str, service_account: str) -> OidcTrust:
    """EKS IRSA: the cluster's issuer, pinned to ``system:serviceaccount:NS:SA``."""
    issuer_host = required("oidc issuer", issuer_host).removeprefix("https://")
    subject = kubernetes_subject(namespace, service_account)
    return OidcTrust("eks", f"https://{issuer_host}", STS_AUDIENCE, subject)


def issuer_host_from_provider_arn(provider_arn: str) -> str:
    """``arn:aws:iam::123456789012:oidc-provider/HOST/PATH`` -> ``HOST/PATH``."""
    _, sep, host = str(provider_arn).partition(":oidc-provider/")
    if not sep or not str(provider_arn).startswith("arn:") or not host:
        raise ValueError(f"{provider_arn!r} is not an IAM OIDC provider ARN")
    return host


def web_identity_trust_policy(provider_arn: str, trust: OidcTrust) -> dict[str, Any]:
    """The assume-role policy that lets exactly ``trust``'s subject in through ``provider_arn``."""
    arn_host = issuer_host_from_provider_arn(provider_arn)
    if arn_host != trust.issuer_host:
        raise ValueError(
            f"OIDC provider {provider_arn!r} is for {arn_host!r}, "
            f"but {trust.provider} tokens are issued by {trust.issuer_host!r}"
        )
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "AssumeFromPinnedOidcSubject",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": trust.condition(),
            }
        ],
    }


def check_eks_cluster_name(cluster_name: str | None) -> str:
    cluster_name = required("cluster_name", cluster_name)
    if not re.match(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", cluster_name):
        raise ValueError(f"cluster_name {cluster_name!r} is not an EKS cluster name")
    return cluster_name


def eks_cluster_arn(partition: str, region: str, account_id: str, cluster_name: str) -> str:
    """The ARN of the EKS cluster ``cluster_name`` in ``account_id`` and ``region``."""
    cluster_name = check_eks_cluster_name(cluster_name)
    if not re.match(r"^\d{12}\Z", str(account_id)):
        raise ValueError(f"{account_id!r} is not an AWS account ID")
    return f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}"


def pod_identity_trust_policy(
    cluster_arn: str, account_id: str, namespace: str, service_account: str
) -> dict[str, Any]:
    """EKS Pod Identity: the EKS service, pinned to one cluster (by ARN), account, namespace
    and service account.

    Pod Identity tags each session with the cluster's ARN, the namespace and the service
    account; without these conditions any Pod Identity association in the account could use
    the role. ``aws:SourceAccount`` keeps the service from assuming it for another account.
    """
    if not re.match(r"^arn:[a-z-]+:eks:[a-z0-9-]+:\d{12}:cluster/.+\Z", str(cluster_arn)):
        raise ValueError(f"{cluster_arn!r} is not an EKS cluster ARN")
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "AssumeFromPinnedPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": str(account_id),
                        "aws:RequestTag/eks-cluster-arn": cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": check_k8s_namespace(namespace),
                        "aws:RequestTag/kubernetes-service-account": check_k8s_service_account(
                            service_account
                        ),
                    }
                },
            }
        ],
    }


# --- permissions ---------------------------------------------------------------------------


_S3_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


def check_bucket_name(bucket: str, where: str = "bucket_name") -> str:
    """An S3 bucket name (general purpose): what the bucket's ARN and policies embed."""
    if not isinstance(bucket, str) or not re.fullmatch(_S3_BUCKET, bucket) or ".." in bucket:
        raise ValueError(
            f"{where} {bucket!r} is not an S3 bucket name (3 to 63 lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or digit)"
        )
    return bucket


def _check_bucket_arn(bucket_arn: str) -> str:
    if not re.fullmatch(rf"arn:[a-z-]+:s3:::{_S3_BUCKET}", str(bucket_arn)):
        raise ValueError(f"{bucket_arn!r} is not an S3 bucket ARN")
    return str(bucket_arn)


def _read_statements(bucket_arn: str, prefix: str, subtree: str = "") -> list[dict[str, Any]]:
    """List and read everything under the store's prefix (or only its ``subtree``, a key prefix
    of ``layout``): the runtime's objects and Atlas's own backups. ``s3:GetObject`` also covers
    HEAD."""
    bucket_arn = _check_bucket_arn(bucket_arn)
    keys = layout.object_name(check_prefix(prefix), subtree).rstrip("/")
    return [
        {
            "Sid": "ListStorePrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": f"{keys}/*"}},
        },
        {
            "Sid": "ReadStoreObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{keys}/*",
        },
    ]


def _kms_statement(kms_key_arn: str, actions: list[str]) -> dict[str, Any]:
    # A key ARN, not an alias: in a policy's Resource an alias ARN names the alias, and would
    # grant nothing on the key S3 uses.
    match = re.match(r"^arn:([a-z-]+):kms:[a-z0-9-]+:\d{12}:key/.+\Z", str(kms_key_arn))
    if not match:
        raise ValueError(
            f"{kms_key_arn!r} is not a KMS key ARN (arn:...:kms:REGION:ACCOUNT:key/ID)"
        )
    domain = "amazonaws.com.cn" if match.group(1) == "aws-cn" else "amazonaws.com"
    return {
        "Sid": "RegistryKeyThroughS3",
        "Effect": "Allow",
        "Action": actions,
        "Resource": kms_key_arn,
        "Condition": {"StringLike": {"kms:ViaService": f"s3.*.{domain}"}},
    }


_WRITE_THROUGH_KEY = ["kms:Decrypt", "kms:GenerateDataKey"]
"""What S3 asks KMS for when a role writes an SSE-KMS object (and reads it back): a data key
(or the bucket key's) to write, Decrypt to read. S3 never calls kms:Encrypt for it."""


def _create_only(sid: str, resource: str | list[str]) -> dict[str, Any]:
    """PUTs to ``resource`` that carry ``If-None-Match``: S3 answers 412 where the key exists,
    so nothing is replaced."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": resource,
        "Condition": {"Null": {"s3:if-none-match": "false"}},
    }


def writer_policy(
    bucket_arn: str,
    prefix: str,
    kms_key_arn: str | None = None,
    *,
    atlas_backup_writes: bool = True,
) -> dict[str, Any]:
    """Read and list the store's prefix; create the runtime's objects; never delete.

    - The runtime's registry and grants (``<prefix>/atlas-continuity/registry/`` and
      ``.../grants/``) may be created, never replaced: a PUT must carry ``If-None-Match``, which
      S3 answers with 412 when the key exists. An explicit Deny keeps everything under
      ``<prefix>/atlas-continuity/`` create-only, whatever else is allowed.
    - With ``atlas_backup_writes`` (the default), the rest of the prefix takes plain PUTs, as
      ``atlas migrate push`` writes its ``repo.backup`` copies: such a PUT may replace an
      object, and the bucket's versioning keeps the version it replaced.
    - No delete, no bucket administration. With SSE-KMS, the key's data-key actions are granted
      only when S3 calls KMS for the role.
    """
    statements = _read_statements(bucket_arn, prefix)
    prefix = check_prefix(prefix)
    statements.append(
        _create_only(
            "CreateRuntimeObjects",
            [f"{bucket_arn}/{layout.object_name(prefix, subtree)}*" for subtree in layout.SUBTREES],
        )
    )
    if atlas_backup_writes:
        statements.append(
            {
                "Sid": "WriteAtlasBackups",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{prefix}/*",
            }
        )
    statements.append(
        {
            "Sid": "RuntimeObjectsAreCreateOnly",
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{layout.object_name(prefix, layout.ROOT)}*",
            "Condition": {"Null": {"s3:if-none-match": "true"}},
        }
    )
    if kms_key_arn:
        statements.append(_kms_statement(kms_key_arn, _WRITE_THROUGH_KEY))
    return {"Version": POLICY_VERSION, "Statement": statements}


def reader_policy(bucket_arn: str, prefix: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """Read and list under the store's prefix; nothing else."""
    statements = _read_statements(bucket_arn, prefix)
    if kms_key_arn:
        statements.append(_kms_statement(kms_key_arn, ["kms:Decrypt"]))
    return {"Version": POLICY_VERSION, "Statement": statements}


def grant_writer_policy(
    bucket_arn: str, prefix: str, kms_key_arn: str | None = None, *, series: str
) -> dict[str, Any]:
    """Create, read and list the snapshots of one grant series
    (``<prefix>/atlas-continuity/grants/<series>/``), nothing else: what one Atlas operator's
    grant backup and restore jobs need. A PUT must carry ``If-None-Match``, so no snapshot is
    ever replaced; no other series, no registry access, no delete."""
    statements = _read_statements(bucket_arn, prefix, layout.grants_prefix(series))
    grants = layout.object_name(check_prefix(prefix), layout.grants_prefix(series))
    statements.append(_create_only("CreateGrantSnapshots", f"{bucket_arn}/{grants}*"))
    if kms_key_arn:
        statements.append(_kms_statement(kms_key_arn, _WRITE_THROUGH_KEY))
    return {"Version": POLICY_VERSION, "Statement": statements}


def tls_only_bucket_policy(bucket_arn: str, minimum_tls_version: str = "1.2") -> dict[str, Any]:
    """Deny every request to the bucket that is not over TLS, or is over TLS below 1.2."""
    bucket_arn = _check_bucket_arn(bucket_arn)
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": minimum_tls_version}},
            },
        ],
    }


def to_json(document: dict[str, Any]) -> str:
    """The document as IAM receives it (stable key order, compact)."""
    return json.dumps(document, separators=(",", ":"))
