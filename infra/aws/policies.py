"""IAM policy documents for the AWS components, built by pure functions.

Nothing here imports Pulumi: every function takes plain strings and returns a plain ``dict`` (an
IAM JSON document) or an :class:`OidcTrust`, so the same documents the components declare can be
unit-tested, linted with parliament and loaded into a real IAM evaluator.

Identity (OIDC) trust is built from typed parts, never from a free-form subject: a repository
plus a branch or an environment. Anything that would leave the subject unconstrained, or
constrained only by a wildcard, raises :class:`ValueError` before a resource is declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atlas_continuity.runtime import layout
from atlas_continuity.runtime.stores.url import check_prefix

POLICY_VERSION = "2012-10-17"

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
GITLAB_ISSUER = "https://gitlab.com"
CIRCLECI_ISSUER = "https://oidc.circleci.com/org/{org}"
BITBUCKET_ISSUER = (
    "https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
)
BITBUCKET_AUDIENCE = "ari:cloud:bitbucket::workspace/{uuid}"
STS_AUDIENCE = "sts.amazonaws.com"

CI_PROVIDERS = ("github", "gitlab", "circleci", "bitbucket")

_WILDCARDS = ("*", "?")
_UUID = re.compile(
    r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$"
)
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_GITLAB_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_BITBUCKET_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_VCS_ORIGIN = re.compile(r"^[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[A-Za-z0-9_][A-Za-z0-9_.-]*){2,}$")
_K8S_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# --- validation ----------------------------------------------------------------------------


def _refuse_wildcards(what: str, value: str) -> None:
    if any(w in value for w in _WILDCARDS):
        raise ValueError(
            f"{what} {value!r} contains a wildcard ('*' or '?'): the OIDC subject must name one "
            "repository and one branch or environment exactly; wildcard subjects are refused"
        )


def _required(what: str, value: str | None) -> str:
    if value is None or not str(value).strip():
        raise ValueError(f"{what} is required: an OIDC subject without it is unconstrained")
    value = str(value)
    if value != value.strip():
        raise ValueError(f"{what} {value!r} has leading or trailing whitespace")
    _refuse_wildcards(what, value)
    return value


def _uuid(what: str, value: str | None) -> str:
    """A UUID, with or without braces, returned bare and lower-cased."""
    value = _required(what, value)
    match = _UUID.match(value)
    if not match:
        raise ValueError(f"{what} {value!r} is not a UUID")
    return match.group(1).lower()


def check_branch(branch: str | None) -> str:
    """A branch name as git allows it (``main``, ``release/1.x``), not a ref or a pattern."""
    branch = _required("branch", branch)
    if branch.startswith("refs/"):
        raise ValueError(f"branch {branch!r}: give the branch name (e.g. 'main'), not a ref")
    if (
        _BRANCH_FORBIDDEN.search(branch)
        or ".." in branch
        or "@{" in branch
        or "//" in branch
        or branch.startswith(("/", "-", "."))
        or branch.endswith(("/", ".", ".lock"))
    ):
        raise ValueError(f"branch {branch!r} is not a valid git branch name")
    return branch


def check_environment(environment: str | None) -> str:
    """A CI environment name: no wildcard, no ':' (the subject's separator), no control chars."""
    environment = _required("environment", environment)
    if ":" in environment or any(ord(c) < 32 or ord(c) == 127 for c in environment):
        raise ValueError(f"environment {environment!r} contains ':' or a control character")
    return environment


def check_k8s_namespace(namespace: str | None) -> str:
    namespace = _required("namespace", namespace)
    if len(namespace) > 63 or not _K8S_NAMESPACE.match(namespace):
        raise ValueError(f"namespace {namespace!r} is not a Kubernetes namespace name (RFC 1123)")
    return namespace


def check_k8s_service_account(service_account: str | None) -> str:
    service_account = _required("service_account", service_account)
    if len(service_account) > 253 or not _K8S_NAME.match(service_account):
        raise ValueError(
            f"service_account {service_account!r} is not a Kubernetes object name (RFC 1123)"
        )
    return service_account


# --- OIDC trust ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcTrust:
    """Who may assume a role through an OIDC identity provider, and how it is checked.

    ``subject`` is compared with ``StringEquals`` unless ``subject_is_pattern`` is set, in which
    case it is a ``StringLike`` pattern whose only wildcard is one the component put there for a
    per-run part of the claim (a CircleCI user, a Bitbucket step). ``subject_must_not_match``
    lists ``StringNotLike`` patterns that close the injection such a wildcard would otherwise
    allow.
    """

    provider: str
    issuer_url: str
    audience: str
    subject: str
    subject_is_pattern: bool = False
    subject_must_not_match: tuple[str, ...] = ()

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


def github_trust(
    repository: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> OidcTrust:
    """GitHub Actions: ``repo:OWNER/REPO:ref:refs/heads/BRANCH`` or ``...:environment:ENV``."""
    repository = _required("repository", repository)
    if not _GITHUB_REPO.match(repository):
        raise ValueError(f"repository {repository!r}: GitHub wants 'owner/repo'")
    if (branch is None) == (environment is None):
        raise ValueError(
            "GitHub Actions: give exactly one of branch or environment; a repository alone "
            "would let any branch or pull request of it assume the role"
        )
    if branch is not None:
        subject = f"repo:{repository}:ref:refs/heads/{check_branch(branch)}"
    else:
        subject = f"repo:{repository}:environment:{check_environment(environment)}"
    return OidcTrust("github", GITHUB_ISSUER, _audience(audience, GITHUB_AUDIENCE), subject)


def gitlab_trust(
    project_path: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    gitlab_url: str | None = None,
    audience: str | None = None,
) -> OidcTrust:
    """GitLab CI: ``project_path:GROUP/PROJECT:ref_type:branch:ref:BRANCH``.

    GitLab's default ``sub`` claim carries no environment, so only a branch can pin it.
    """
    project_path = _required("repository", project_path)
    if not _GITLAB_PATH.match(project_path):
        raise ValueError(
            f"repository {project_path!r}: GitLab wants 'group/project' (subgroups ok)"
        )
    if environment is not None:
        raise ValueError(
            "GitLab CI: the sub claim has no environment (project_path, ref_type, ref); "
            "pin a protected branch instead"
        )
    if branch is None:
        raise ValueError(
            "GitLab CI: branch is required; a project alone would let any branch or tag of it "
            "assume the role"
        )
    issuer = _https_url("gitlab_url", gitlab_url or GITLAB_ISSUER)
    subject = f"project_path:{project_path}:ref_type:branch:ref:{check_branch(branch)}"
    return OidcTrust("gitlab", issuer, _audience(audience, issuer), subject)


def circleci_trust(
    organization_id: str | None,
    project_id: str | None,
    *,
    vcs_origin: str | None = None,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> OidcTrust:
    """CircleCI, ``$CIRCLE_OIDC_TOKEN_V2``'s subject, pinned to one project, repository and branch.

    ``org/ORG/project/PROJECT/user/*/vcs-origin/ORIGIN/vcs-ref/refs/heads/BRANCH``.

    The user (whoever triggered the job) varies per run, so it is the only wildcard. The VCS
    origin is the repository the change came from: a build of a fork's pull request carries the
    fork's, and CircleCI gives it a token when "Pass secrets to builds from forked pull requests"
    is on, so the origin is pinned too. Because ``*`` also matches '/', a branch named to repeat
    ``/vcs-origin/.../vcs-ref/refs/heads/main`` would match the pattern: the ``StringNotLike``
    guard refuses any subject with a second ``/vcs-ref/`` or ``/vcs-origin/``.
    """
    org = _uuid("organization (CircleCI organization ID)", organization_id)
    project = _uuid("repository (CircleCI project ID)", project_id)
    origin = _required(
        "vcs_origin (the repository CircleCI builds, e.g. github.com/acme/db)", vcs_origin
    )
    if not _VCS_ORIGIN.match(origin):
        raise ValueError(
            f"vcs_origin {origin!r}: give the repository as CircleCI's token names it, "
            "host/owner/repo without a scheme (e.g. 'github.com/acme/db')"
        )
    if environment is not None:
        raise ValueError("CircleCI: the sub claim has no environment; pin a branch instead")
    if branch is None:
        raise ValueError(
            "CircleCI: branch is required; a project alone would let any branch assume the role"
        )
    ref = f"refs/heads/{check_branch(branch)}"
    subject = f"org/{org}/project/{project}/user/*/vcs-origin/{origin}/vcs-ref/{ref}"
    return OidcTrust(
        "circleci",
        CIRCLECI_ISSUER.format(org=org),
        _audience(audience, org),
        subject,
        subject_is_pattern=True,
        subject_must_not_match=("*/vcs-ref/*/vcs-ref/*", "*/vcs-origin/*/vcs-origin/*"),
    )


def bitbucket_trust(
    workspace: str | None,
    workspace_uuid: str | None,
    repository_uuid: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> OidcTrust:
    """Bitbucket Pipelines: ``{REPOSITORY_UUID}:{ENVIRONMENT_UUID}:{STEP_UUID}``.

    The step UUID changes every run, so it is the one wildcard. Bitbucket's ``sub`` carries no
    branch: a deployment environment (which Bitbucket can restrict to branches) is what pins it.
    """
    workspace = _required("organization (Bitbucket workspace slug)", workspace)
    if not _BITBUCKET_WORKSPACE.match(workspace):
        raise ValueError(f"organization {workspace!r} is not a Bitbucket workspace slug")
    ws_uuid = _uuid("workspace_uuid", workspace_uuid)
    repo = _uuid("repository (Bitbucket repository UUID)", repository_uuid)
    if branch is not None:
        raise ValueError(
            "Bitbucket Pipelines: the sub claim has no branch; pin a deployment environment "
            "(restricted to your branch in Bitbucket) with environment=<its UUID>"
        )
    env = _uuid("environment (Bitbucket deployment environment UUID)", environment)
    return OidcTrust(
        "bitbucket",
        BITBUCKET_ISSUER.format(workspace=workspace),
        _audience(audience, BITBUCKET_AUDIENCE.format(uuid=ws_uuid)),
        f"{{{repo}}}:{{{env}}}:*",
        subject_is_pattern=True,
    )


def ci_trust(
    provider: str,
    *,
    repository: str | None = None,
    branch: str | None = None,
    environment: str | None = None,
    organization: str | None = None,
    workspace_uuid: str | None = None,
    gitlab_url: str | None = None,
    vcs_origin: str | None = None,
    audience: str | None = None,
) -> OidcTrust:
    """The trust for one CI provider, from the typed arguments of :class:`AwsCiWriterRole`."""
    provider = str(getattr(provider, "value", provider))
    if provider not in CI_PROVIDERS:
        raise ValueError(f"provider {provider!r}: expected one of {', '.join(CI_PROVIDERS)}")
    unused = {
        "github": ("organization", "workspace_uuid", "gitlab_url", "vcs_origin"),
        "gitlab": ("organization", "workspace_uuid", "vcs_origin"),
        "circleci": ("workspace_uuid", "gitlab_url"),
        "bitbucket": ("gitlab_url", "vcs_origin"),
    }[provider]
    given = {
        "organization": organization,
        "workspace_uuid": workspace_uuid,
        "gitlab_url": gitlab_url,
        "vcs_origin": vcs_origin,
    }
    for name in unused:
        if given[name] is not None:
            raise ValueError(f"{provider}: {name} does not apply to this provider")
    if provider == "github":
        return github_trust(repository, branch=branch, environment=environment, audience=audience)
    if provider == "gitlab":
        return gitlab_trust(
            repository,
            branch=branch,
            environment=environment,
            gitlab_url=gitlab_url,
            audience=audience,
        )
    if provider == "circleci":
        return circleci_trust(
            organization,
            repository,
            vcs_origin=vcs_origin,
            branch=branch,
            environment=environment,
            audience=audience,
        )
    return bitbucket_trust(
        organization,
        workspace_uuid,
        repository,
        branch=branch,
        environment=environment,
        audience=audience,
    )


def irsa_trust(issuer_host: str, namespace: str, service_account: str) -> OidcTrust:
    """EKS IRSA: the cluster's issuer, pinned to ``system:serviceaccount:NS:SA``."""
    issuer_host = _required("oidc issuer", issuer_host).removeprefix("https://")
    subject = (
        f"system:serviceaccount:{check_k8s_namespace(namespace)}:"
        f"{check_k8s_service_account(service_account)}"
    )
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
    cluster_name = _required("cluster_name", cluster_name)
    if not re.match(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", cluster_name):
        raise ValueError(f"cluster_name {cluster_name!r} is not an EKS cluster name")
    return cluster_name


def eks_cluster_arn(partition: str, region: str, account_id: str, cluster_name: str) -> str:
    """The ARN of the EKS cluster ``cluster_name`` in ``account_id`` and ``region``."""
    cluster_name = check_eks_cluster_name(cluster_name)
    if not re.match(r"^\d{12}$", str(account_id)):
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
    if not re.match(r"^arn:[a-z-]+:eks:[a-z0-9-]+:\d{12}:cluster/.+$", str(cluster_arn)):
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


def _check_bucket_arn(bucket_arn: str) -> str:
    if not re.match(r"^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", str(bucket_arn)):
        raise ValueError(f"{bucket_arn!r} is not an S3 bucket ARN")
    return str(bucket_arn)


def _read_statements(bucket_arn: str, prefix: str) -> list[dict[str, Any]]:
    """List and read everything under the store's prefix: the runtime's objects and Atlas's
    own backups. ``s3:GetObject`` also covers HEAD."""
    bucket_arn = _check_bucket_arn(bucket_arn)
    prefix = check_prefix(prefix)
    return [
        {
            "Sid": "ListStorePrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": f"{prefix}/*"}},
        },
        {
            "Sid": "ReadStoreObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{prefix}/*",
        },
    ]


def _kms_statement(kms_key_arn: str, actions: list[str]) -> dict[str, Any]:
    # A key ARN, not an alias: in a policy's Resource an alias ARN names the alias, and would
    # grant nothing on the key S3 uses.
    match = re.match(r"^arn:([a-z-]+):kms:[a-z0-9-]+:\d{12}:key/.+$", str(kms_key_arn))
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
        {
            "Sid": "CreateRuntimeObjects",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [
                f"{bucket_arn}/{layout.object_name(prefix, subtree)}*"
                for subtree in layout.SUBTREES
            ],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        }
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
        statements.append(
            _kms_statement(kms_key_arn, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


def reader_policy(bucket_arn: str, prefix: str, kms_key_arn: str | None = None) -> dict[str, Any]:
    """Read and list under the store's prefix; nothing else."""
    statements = _read_statements(bucket_arn, prefix)
    if kms_key_arn:
        statements.append(_kms_statement(kms_key_arn, ["kms:Decrypt"]))
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


# --- helpers -------------------------------------------------------------------------------


def check_when_plain(build: Callable[[], object], *inputs: object) -> None:
    """Run ``build`` now when every input is a plain string (or None), so that a component
    refuses bad arguments at construction; with Pulumi outputs it runs when they resolve."""
    if all(value is None or isinstance(value, str) for value in inputs):
        build()


def _audience(audience: str | None, default: str) -> str:
    if audience is None:
        return default
    return _required("audience", audience)


def _https_url(what: str, url: str) -> str:
    url = _required(what, url).rstrip("/")
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$", url):
        raise ValueError(f"{what} {url!r} must be an https:// URL without query or fragment")
    return url
