"""Who a CI writer or Kubernetes reader is, as every cloud's identity components see it.

Nothing here imports Pulumi or a cloud SDK. A CI pipeline is named by typed parts, never by a
free-form subject: a repository plus a branch or an environment (and, per CI provider, the IDs
its tokens carry). :func:`ci_identity` checks them and returns a :class:`CiIdentity`: the token's
issuer, its audience and its ``sub`` claim, pinned. Each cloud renders that model its own way
(an IAM trust condition in ``aws/policies.py``, a Workload Identity attribute condition in
``gcp/conditions.py``, a federated identity credential in ``azure/roles.py``). Anything that
would leave the subject unconstrained, or constrained only by a wildcard, raises
:class:`ValueError` before a resource is declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
CIRCLECI_ISSUER = "https://oidc.circleci.com/org/{org}"
BITBUCKET_ISSUER = (
    "https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
)
BITBUCKET_AUDIENCE = "ari:cloud:bitbucket::workspace/{uuid}"

CI_PROVIDERS = ("github", "gitlab", "circleci", "bitbucket")


class CiProvider(StrEnum):
    """The CI system whose OIDC tokens an identity trusts."""

    GITHUB = "github"
    """GitHub Actions (token.actions.githubusercontent.com)."""
    GITLAB = "gitlab"
    """GitLab CI (gitlab.com, or a self-managed instance with gitlab_url)."""
    CIRCLECI = "circleci"
    """CircleCI (oidc.circleci.com/org/ORG_ID), with $CIRCLE_OIDC_TOKEN_V2."""
    BITBUCKET = "bitbucket"
    """Bitbucket Pipelines (api.bitbucket.org/2.0/workspaces/WS/pipelines-config/identity/oidc)."""


_WILDCARDS = ("*", "?")
_UUID = re.compile(
    r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$"
)
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_GITLAB_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$")
_VCS_ORIGIN = re.compile(r"^[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[A-Za-z0-9_][A-Za-z0-9_.-]*){2,}$")
_BITBUCKET_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_K8S_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# --- validation ----------------------------------------------------------------------------


def refuse_wildcards(what: str, value: str) -> None:
    if any(w in value for w in _WILDCARDS):
        raise ValueError(
            f"{what} {value!r} contains a wildcard ('*' or '?'): the OIDC subject must name one "
            "repository and one branch or environment exactly; wildcard subjects are refused"
        )


def required(what: str, value: str | None) -> str:
    """A non-empty string without surrounding whitespace or wildcards."""
    if value is None or not str(value).strip():
        raise ValueError(f"{what} is required: an OIDC subject without it is unconstrained")
    value = str(value)
    if value != value.strip():
        raise ValueError(f"{what} {value!r} has leading or trailing whitespace")
    refuse_wildcards(what, value)
    return value


def check_uuid(what: str, value: str | None) -> str:
    """A UUID, with or without braces, returned bare and lower-cased."""
    value = required(what, value)
    match = _UUID.match(value)
    if not match:
        raise ValueError(f"{what} {value!r} is not a UUID")
    return match.group(1).lower()


def check_branch(branch: str | None) -> str:
    """A branch name as git allows it (``main``, ``release/1.x``), not a ref or a pattern."""
    branch = required("branch", branch)
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
    environment = required("environment", environment)
    if ":" in environment or any(ord(c) < 32 or ord(c) == 127 for c in environment):
        raise ValueError(f"environment {environment!r} contains ':' or a control character")
    return environment


def check_k8s_namespace(namespace: str | None) -> str:
    namespace = required("namespace", namespace)
    if len(namespace) > 63 or not _K8S_NAMESPACE.match(namespace):
        raise ValueError(f"namespace {namespace!r} is not a Kubernetes namespace name (RFC 1123)")
    return namespace


def check_k8s_service_account(service_account: str | None) -> str:
    service_account = required("service_account", service_account)
    if len(service_account) > 253 or not _K8S_NAME.match(service_account):
        raise ValueError(
            f"service_account {service_account!r} is not a Kubernetes object name (RFC 1123)"
        )
    return service_account


def kubernetes_subject(namespace: str | None, service_account: str | None) -> str:
    """``system:serviceaccount:NS:SA``: the ``sub`` of a cluster's service-account tokens."""
    return (
        f"system:serviceaccount:{check_k8s_namespace(namespace)}:"
        f"{check_k8s_service_account(service_account)}"
    )


def grant_service_account(
    name: str, args: Mapping[str, Any], one_name: str | None = None
) -> str | None:
    """A reader component's ``grant_service_account``, checked: a Kubernetes name other than
    the reader's own ``service_account`` (each gets an identity), and not given with
    ``one_name``, the argument that names the reader's one identity if there is one (there
    would be two). ``grant_name`` (the grant writer's series) needs it."""
    account = args.get("grant_service_account")
    if account is None:
        if args.get("grant_name") is not None:
            raise ValueError(f"{name}: grant_name is the grant writer's: set grant_service_account")
        return None
    account = check_k8s_service_account(account)
    if account == args.get("service_account"):
        raise ValueError(
            f"{name}: grant_service_account must differ from service_account: each gets its "
            "own identity"
        )
    if one_name is not None and args.get(one_name) is not None:
        raise ValueError(
            f"{name}: {one_name} names one identity; with grant_service_account there are "
            f"two: leave {one_name} unset"
        )
    return account


def https_url(what: str, url: str) -> str:
    url = required(what, url).rstrip("/")
    if not re.match(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$", url):
        raise ValueError(f"{what} {url!r} must be an https:// URL without query or fragment")
    return url


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CiIdentity:
    """One CI pipeline identity: whose tokens, for which audience, with which subject.

    ``subject`` is exact unless ``subject_is_pattern`` is set: then ``*`` stands for the one
    per-run part of the claim that cannot be known in advance (a CircleCI user, a Bitbucket
    step) and matches any characters; ``subject_must_not_match`` lists patterns of the same
    kind that close the injection such a wildcard would otherwise allow. ``audience`` is None
    when the CI provider lets the cloud choose (GitHub, GitLab): each cloud applies its own
    convention.
    """

    provider: str
    issuer_url: str
    subject: str
    audience: str | None = None
    subject_is_pattern: bool = False
    subject_must_not_match: tuple[str, ...] = ()

    @property
    def issuer_host(self) -> str:
        """The issuer without its scheme."""
        return self.issuer_url.removeprefix("https://")

    @property
    def subject_regex(self) -> str:
        """``subject`` as an anchored RE2 regular expression (what CEL's ``matches`` takes)."""
        return glob_regex(self.subject)

    def subject_matches(self, sub: str) -> bool:
        """Whether a token whose ``sub`` is ``sub`` is this identity: the reference semantics
        every cloud's rendering must agree with."""
        if not self.subject_is_pattern:
            return sub == self.subject
        return bool(re.match(self.subject_regex, sub)) and not any(
            re.match(glob_regex(p), sub) for p in self.subject_must_not_match
        )


def glob_regex(pattern: str) -> str:
    """An anchored regular expression, valid in RE2 and Python, for a pattern whose only
    wildcard is ``*`` (any characters). Literal characters go in classes so that the result
    needs no backslash, and embeds in a quoted CEL string as it is."""
    parts = [".*" if c == "*" else (c if c.isalnum() or c in "/:_-" else f"[{c}]") for c in pattern]
    return "^" + "".join(parts) + "$"


def github_identity(
    repository: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> CiIdentity:
    """GitHub Actions: ``repo:OWNER/REPO:ref:refs/heads/BRANCH`` or ``...:environment:ENV``."""
    repository = required("repository", repository)
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
    return CiIdentity("github", GITHUB_ISSUER, subject, _audience(audience))


def gitlab_identity(
    project_path: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    gitlab_url: str | None = None,
    audience: str | None = None,
) -> CiIdentity:
    """GitLab CI: ``project_path:GROUP/PROJECT:ref_type:branch:ref:BRANCH``.

    GitLab's default ``sub`` claim carries no environment, so only a branch can pin it.
    """
    project_path = required("repository", project_path)
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
    issuer = https_url("gitlab_url", gitlab_url or GITLAB_ISSUER)
    subject = f"project_path:{project_path}:ref_type:branch:ref:{check_branch(branch)}"
    return CiIdentity("gitlab", issuer, subject, _audience(audience))


def circleci_identity(
    organization_id: str | None,
    project_id: str | None,
    *,
    vcs_origin: str | None = None,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> CiIdentity:
    """CircleCI, ``$CIRCLE_OIDC_TOKEN_V2``'s subject, pinned to one project, repository and
    branch.

    ``org/ORG/project/PROJECT/user/*/vcs-origin/ORIGIN/vcs-ref/refs/heads/BRANCH``.

    The user (whoever triggered the job) varies per run, so it is the only wildcard. The VCS
    origin is the repository the change came from: a build of a fork's pull request carries the
    fork's, and CircleCI gives it a token when "Pass secrets to builds from forked pull requests"
    is on, so the origin is pinned too. Because ``*`` also matches '/', a branch named to repeat
    ``/vcs-origin/.../vcs-ref/refs/heads/main`` would match the pattern: the guard refuses any
    subject with a second ``/vcs-ref/`` or ``/vcs-origin/``. The audience is the organization ID
    unless the job asks for another.
    """
    org = check_uuid("organization (CircleCI organization ID)", organization_id)
    project = check_uuid("repository (CircleCI project ID)", project_id)
    origin = required(
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
    return CiIdentity(
        "circleci",
        CIRCLECI_ISSUER.format(org=org),
        f"org/{org}/project/{project}/user/*/vcs-origin/{origin}/vcs-ref/{ref}",
        _audience(audience) or org,
        subject_is_pattern=True,
        subject_must_not_match=("*/vcs-ref/*/vcs-ref/*", "*/vcs-origin/*/vcs-origin/*"),
    )


def bitbucket_identity(
    workspace: str | None,
    workspace_uuid: str | None,
    repository_uuid: str | None,
    *,
    branch: str | None = None,
    environment: str | None = None,
    audience: str | None = None,
) -> CiIdentity:
    """Bitbucket Pipelines: ``{REPOSITORY_UUID}:{ENVIRONMENT_UUID}:{STEP_UUID}``.

    The step UUID changes every run, so it is the one wildcard. Bitbucket's ``sub`` carries no
    branch: a deployment environment (which Bitbucket can restrict to branches) is what pins it.
    """
    workspace = required("organization (Bitbucket workspace slug)", workspace)
    if not _BITBUCKET_WORKSPACE.match(workspace):
        raise ValueError(f"organization {workspace!r} is not a Bitbucket workspace slug")
    ws_uuid = check_uuid("workspace_uuid", workspace_uuid)
    repo = check_uuid("repository (Bitbucket repository UUID)", repository_uuid)
    if branch is not None:
        raise ValueError(
            "Bitbucket Pipelines: the sub claim has no branch; pin a deployment environment "
            "(restricted to your branch in Bitbucket) with environment=<its UUID>"
        )
    env = check_uuid("environment (Bitbucket deployment environment UUID)", environment)
    return CiIdentity(
        "bitbucket",
        BITBUCKET_ISSUER.format(workspace=workspace),
        f"{{{repo}}}:{{{env}}}:*",
        _audience(audience) or BITBUCKET_AUDIENCE.format(uuid=ws_uuid),
        subject_is_pattern=True,
    )


def ci_identity(
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
) -> CiIdentity:
    """The identity of one CI pipeline, from the typed arguments every CI writer takes."""
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
        return github_identity(
            repository, branch=branch, environment=environment, audience=audience
        )
    if provider == "gitlab":
        return gitlab_identity(
            repository,
            branch=branch,
            environment=environment,
            gitlab_url=gitlab_url,
            audience=audience,
        )
    if provider == "circleci":
        return circleci_identity(
            organization,
            repository,
            vcs_origin=vcs_origin,
            branch=branch,
            environment=environment,
            audience=audience,
        )
    return bitbucket_identity(
        organization,
        workspace_uuid,
        repository,
        branch=branch,
        environment=environment,
        audience=audience,
    )


def ci_identity_from_args(name: str, args: Mapping[str, Any]) -> CiIdentity:
    """The identity a CI writer component's typed arguments name (``provider``,
    ``repository``, ``branch``, ...), with the component's name on a bad provider."""
    provider = args.get("provider")
    provider = str(getattr(provider, "value", provider))
    if provider not in CI_PROVIDERS:
        raise ValueError(
            f"{name}: provider {provider!r} must be one of github, gitlab, circleci, bitbucket"
        )
    return ci_identity(
        provider,
        **{field: args.get(field) for field in _TYPED_FIELDS},
    )


_TYPED_FIELDS = (
    "repository",
    "branch",
    "environment",
    "organization",
    "workspace_uuid",
    "gitlab_url",
    "vcs_origin",
    "audience",
)


def _audience(audience: str | None) -> str | None:
    return None if audience is None else required("audience", audience)
