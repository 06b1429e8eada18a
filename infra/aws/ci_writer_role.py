"""AwsCiWriterRole: the IAM role CI pipelines assume by OIDC to push (docs/infra-aws.md)."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from atlas_continuity.infra.args import check_when_plain, flag, known_args, required_arg
from atlas_continuity.infra.aws import policies
from atlas_continuity.infra.aws.registry_role import registry_role, session_duration
from atlas_continuity.infra.ci_identity import ci_identity_from_args
from atlas_continuity.infra.store import DEFAULT_PREFIX

TYPE_TOKEN = "atlas-continuity:index:AwsCiWriterRole"


class AwsCiProvider(StrEnum):
    """The CI system whose OIDC tokens the role trusts."""

    GITHUB = "github"
    """GitHub Actions (token.actions.githubusercontent.com)."""
    GITLAB = "gitlab"
    """GitLab CI (gitlab.com, or a self-managed instance with gitlab_url)."""
    CIRCLECI = "circleci"
    """CircleCI (oidc.circleci.com/org/ORG_ID), with $CIRCLE_OIDC_TOKEN_V2."""
    BITBUCKET = "bitbucket"
    """Bitbucket Pipelines (api.bitbucket.org/2.0/workspaces/WS/pipelines-config/identity/oidc)."""


class AwsCiWriterRoleArgs(TypedDict, total=False):
    """Inputs of AwsCiWriterRole. The OIDC subject is always built from these typed parts."""

    provider: Required[AwsCiProvider]
    """The CI system: github, gitlab, circleci or bitbucket."""
    repository: Required[str]
    """What the pipeline runs in. GitHub: "owner/repo". GitLab: "group/project" (subgroups
    allowed). CircleCI: the project ID (a UUID). Bitbucket: the repository UUID."""
    branch: str
    """The one branch allowed to assume the role (GitHub, GitLab, CircleCI), e.g. "main"; a
    name, not a ref or a pattern. GitHub takes a branch or an environment, not both."""
    environment: str
    """The one deployment environment allowed to assume the role. GitHub: the environment's
    name (any branch whose job declares it gets its subject: give the environment a
    deployment-branch rule). Bitbucket: the deployment environment's UUID (required:
    Bitbucket's subject has no branch; restrict the environment to your branch there)."""
    organization: str
    """CircleCI: the organization ID (a UUID). Bitbucket: the workspace slug, as in the
    identity provider URL. Not used by GitHub or GitLab."""
    workspace_uuid: str
    """Bitbucket: the workspace UUID, which the token's audience names."""
    vcs_origin: str
    """CircleCI: the repository the project builds, as the token's ``vcs-origin`` names it,
    e.g. "github.com/acme/db" (required: a fork's pull request carries the fork's origin)."""
    gitlab_url: str
    """GitLab: the instance URL. Default: "https://gitlab.com"."""
    audience: str
    """The audience the pipeline requests its token for. Default: "sts.amazonaws.com"
    (GitHub), the instance URL (GitLab), the organization ID (CircleCI),
    "ari:cloud:bitbucket::workspace/UUID" (Bitbucket)."""
    oidc_provider_arn: pulumi.Input[str]
    """The account's IAM OIDC provider for the CI system's issuer, e.g. from
    ``aws.iam.get_open_id_connect_provider(url=...)``. Give this or create_oidc_provider."""
    create_oidc_provider: bool
    """Create the IAM OIDC provider for the issuer. Default: false: an account holds one
    provider per issuer URL (many already have GitHub's), and a second would fail to create;
    create it in one place and pass its ARN to every other role."""
    bucket_arn: Required[pulumi.Input[str]]
    """The backup bucket's ARN (S3BackupBucket.bucket_arn)."""
    prefix: pulumi.Input[str]
    """The store's prefix the role is scoped to, e.g. S3BackupBucket.prefix. Default: "atlas"."""
    allow_atlas_backup_writes: bool
    """Let the role write Atlas's own ``repo.backup`` copies (``atlas migrate push``) under the
    prefix: plain PUTs, which may replace an object (the bucket's versioning keeps the replaced
    version). Everything under ``<prefix>/atlas-continuity/`` stays create-only either way.
    Default: true. Turn it off when only atlas-continuity writes the bucket: the role can then
    create objects only in the runtime's registry and grants folders."""
    kms_key_arn: pulumi.Input[str]
    """The bucket's SSE-KMS key (S3BackupBucket.kms_key_arn), if it has one: the role gets the
    data-key actions on it, through S3 only."""
    role_name: pulumi.Input[str]
    """The role's name. Default: the component name plus a random suffix."""
    max_session_duration: int
    """The longest session a pipeline can get, in seconds (3600 to 43200). Default: 3600."""
    permissions_boundary: pulumi.Input[str]
    """The ARN of a managed policy to set as the role's permissions boundary. Default: none."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the role and the OIDC provider the component creates."""


class AwsCiWriterRole(pulumi.ComponentResource):
    """An IAM role that one CI repository and branch (or environment) assume by OIDC, with
    read and list on the store's prefix, create-only writes in the runtime's folders, and
    (by default) plain writes for Atlas's own backups beside them: no delete, no bucket
    administration, no long-lived keys. With the bucket's versioning, nothing it writes can
    erase history.
    """

    role_arn: pulumi.Output[str]
    """The role's ARN: what the pipeline assumes (e.g. role-to-assume in GitHub Actions)."""
    role_name: pulumi.Output[str]
    """The role's name."""
    oidc_provider_arn: pulumi.Output[str]
    """The IAM OIDC provider the role trusts."""
    audience: pulumi.Output[str]
    """The audience the pipeline must request its token for."""
    subject: pulumi.Output[str]
    """The pinned subject (a StringLike pattern for CircleCI and Bitbucket)."""

    def __init__(
        self,
        name: str,
        args: AwsCiWriterRoleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, AwsCiWriterRoleArgs)
        trust = policies.OidcTrust.of(ci_identity_from_args(name, args))
        prefix = args.get("prefix", DEFAULT_PREFIX)
        bucket_arn = required_arg(name, args, "bucket_arn")
        kms_key_arn = args.get("kms_key_arn")
        atlas_writes = flag(name, args, "allow_atlas_backup_writes", True)

        def policy(bucket: str, prefix: str, key: str | None) -> dict:
            return policies.writer_policy(bucket, prefix, key, atlas_backup_writes=atlas_writes)

        check_when_plain(
            lambda: policy(bucket_arn, prefix, kms_key_arn),
            bucket_arn,
            prefix,
            kms_key_arn,
        )
        existing = args.get("oidc_provider_arn")
        create_provider = flag(name, args, "create_oidc_provider", False)
        if (existing is None) == (not create_provider):
            raise ValueError(
                f"{name}: give oidc_provider_arn (the account's provider for {trust.issuer_url}) "
                "or create_oidc_provider=True, exactly one"
            )
        if isinstance(existing, str):
            policies.web_identity_trust_policy(existing, trust)
        session_duration(name, args)

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.get("tags")

        if create_provider:
            oidc = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                url=trust.issuer_url,
                client_id_lists=[trust.audience],
                tags=tags,
                opts=child,
            )
            provider_arn = oidc.arn
        else:
            provider_arn = pulumi.Output.from_input(existing)

        role = registry_role(
            name,
            args,
            description=f"atlas-continuity registry writer, assumed from {trust.provider} by OIDC",
            trust=provider_arn.apply(
                lambda arn: policies.to_json(policies.web_identity_trust_policy(arn, trust))
            ),
            policy_name="registry-write",
            policy=pulumi.Output.all(bucket_arn, prefix, kms_key_arn).apply(
                lambda v: policies.to_json(policy(*v))
            ),
            opts=child,
        )

        self.role_arn = role.arn
        self.role_name = role.name
        self.oidc_provider_arn = provider_arn
        self.audience = pulumi.Output.from_input(trust.audience)
        self.subject = pulumi.Output.from_input(trust.subject)
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "oidc_provider_arn": self.oidc_provider_arn,
                "audience": self.audience,
                "subject": self.subject,
            }
        )


def oidc_issuer(name: str, args: Mapping) -> str:
    """The issuer URL of the tokens the role ``name`` with ``args`` trusts: the IAM OIDC
    provider it needs (an account holds one per issuer). ValueError as the component raises."""
    return ci_identity_from_args(name, args).issuer_url
