"""GcpCiWriterIdentity: what CI pipelines push to GCS with, by Workload Identity Federation."""

from typing import Required, TypedDict

import pulumi
import pulumi_gcp as gcp

from atlas_continuity.infra.args import check_when_plain, flag, known_args, required_arg
from atlas_continuity.infra.ci_identity import CiProvider, ci_identity_from_args
from atlas_continuity.infra.gcp import conditions
from atlas_continuity.infra.gcp.store_access import grant_store_access
from atlas_continuity.infra.naming import stable_id
from atlas_continuity.infra.store import DEFAULT_PREFIX

TYPE_TOKEN = "atlas-continuity:index:GcpCiWriterIdentity"


class GcpCiWriterIdentityArgs(TypedDict, total=False):
    """Inputs of GcpCiWriterIdentity. The subject is built from typed parts, never free-form."""

    provider: Required[CiProvider]
    """github, gitlab, circleci or bitbucket."""
    repository: Required[str]
    """What the subject names: "owner/repo" (GitHub), "group/project" (GitLab), the project
    ID (CircleCI) or the repository UUID (Bitbucket)."""
    branch: str
    """The branch whose pipelines may push (GitHub, GitLab, CircleCI): a name, not a pattern."""
    environment: str
    """The deployment environment whose jobs may push: a GitHub environment name, or a
    Bitbucket deployment environment UUID (required for Bitbucket)."""
    organization: str
    """CircleCI: the organization ID. Bitbucket: the workspace slug."""
    workspace_uuid: str
    """Bitbucket: the workspace UUID (the token's audience)."""
    vcs_origin: str
    """CircleCI: the repository the project builds, as the token's ``vcs-origin`` names it,
    e.g. "github.com/acme/db" (required: a fork's pull request carries the fork's origin)."""
    gitlab_url: str
    """GitLab: the instance's URL for self-managed GitLab. Default: https://gitlab.com."""
    audience: str
    """The token audience the provider accepts. Default: the provider's own resource name
    (what google-github-actions/auth requests) for GitHub and GitLab, the organization ID for
    CircleCI, the workspace's ARI for Bitbucket."""
    bucket_name: Required[pulumi.Input[str]]
    """The backup bucket's name (GcsBackupBucket.bucket_name)."""
    prefix: pulumi.Input[str]
    """The store's prefix the identity is scoped to, e.g. GcsBackupBucket.prefix.
    Default: "atlas"."""
    allow_atlas_backup_writes: bool
    """Let the identity write Atlas's own ``repo.backup`` copies under the prefix, replacing an
    object if Atlas does: GCS needs ``storage.objects.delete`` for that, so the identity gets
    it outside ``<prefix>/atlas-continuity/`` only, under an object-name condition (versioning
    and soft delete keep what it replaces or deletes). Everything under
    ``<prefix>/atlas-continuity/`` stays create-only either way. Default: true. Turn it off
    when only atlas-continuity writes the bucket: the identity can then create objects only in
    the runtime's registry and grants folders, and has no delete right at all."""
    workload_identity_pool: pulumi.Input[str]
    """An existing Workload Identity pool to add this identity's provider to, by resource name
    (projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL_ID). Give this or
    create_workload_identity_pool."""
    create_workload_identity_pool: bool
    """Create a pool for this identity. Default: false: say which you want."""
    pool_id: str
    """The ID of the pool to create. Default: derived from the component name, the Pulumi
    project and stack. A deleted pool's ID stays reserved for 30 days."""
    provider_id: str
    """The ID of the Workload Identity provider. Default: derived like pool_id."""
    project: pulumi.Input[str]
    """The GCP project of the pool, provider, custom roles and service account. Default: the
    GCP provider's project."""
    service_account: bool
    """Grant the bucket access to a Google service account that the pipeline impersonates,
    instead of to the federated identity directly. Needed by tools that cannot use federated
    credentials directly. Default: false."""
    service_account_id: str
    """The service account's ID (6 to 30 characters), with service_account. Default: derived
    from the component name."""


class GcpCiWriterIdentity(pulumi.ComponentResource):
    """A Workload Identity provider that admits one CI repository and branch (or environment),
    with read and list on the store's prefix, create-only writes in the runtime's folders, and
    (by default) replace rights for Atlas's own backups beside them, each under an IAM
    condition on the object name: no bucket administration, no long-lived keys.
    """

    workload_identity_provider: pulumi.Output[str]
    """The provider's resource name: google-github-actions/auth's workload_identity_provider,
    or the audience path of a credential configuration file."""
    audience: pulumi.Output[str]
    """The audience the pipeline must request its token for."""
    subject: pulumi.Output[str]
    """The pinned subject (a pattern for CircleCI and Bitbucket, `*` marking the per-run part)."""
    attribute_condition: pulumi.Output[str]
    """The provider's attribute condition (CEL): only the pinned subject gets through."""
    principal: pulumi.Output[str]
    """The IAM member the bucket grants: the provider's principal set, or the service account."""
    service_account_email: pulumi.Output[str | None]
    """The service account the pipeline impersonates, or null when access is direct."""

    def __init__(
        self,
        name: str,
        args: GcpCiWriterIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, GcpCiWriterIdentityArgs)
        identity = ci_identity_from_args(name, args)
        bucket = required_arg(name, args, "bucket_name")
        prefix = args.get("prefix", DEFAULT_PREFIX)
        atlas_writes = flag(name, args, "allow_atlas_backup_writes", True)

        def bindings(bucket: str, prefix: str) -> list[conditions.Binding]:
            return conditions.writer_bindings(bucket, prefix, atlas_backup_writes=atlas_writes)

        check_when_plain(lambda: bindings(bucket, prefix), bucket, prefix)
        existing = args.get("workload_identity_pool")
        create_pool = flag(name, args, "create_workload_identity_pool", False)
        if (existing is None) == (not create_pool):
            raise ValueError(
                f"{name}: give workload_identity_pool (an existing pool's resource name) or "
                "create_workload_identity_pool=True, exactly one"
            )
        if isinstance(existing, str):
            conditions.parse_pool_name(existing)
        if existing is not None and "pool_id" in args:
            raise ValueError(f"{name}: pool_id is for create_workload_identity_pool")
        pool_id = conditions.check_id(
            "pool_id", args.get("pool_id") or stable_id(f"atlas-{name}-pool", max_len=32)
        )
        provider_id = conditions.check_id(
            "provider_id", args.get("provider_id") or stable_id(f"atlas-{name}", max_len=32)
        )
        mapping = conditions.attribute_mapping(identity, provider_id)
        condition = conditions.attribute_condition(identity)
        via_account = flag(name, args, "service_account", False)
        if "service_account_id" in args and not via_account:
            raise ValueError(f"{name}: service_account_id needs service_account=True")
        account_id = args.get("service_account_id") or stable_id(f"{name}-sa", max_len=30)
        if via_account:
            conditions.check_service_account_id(account_id)

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = args.get("project")

        if create_pool:
            pool = gcp.iam.WorkloadIdentityPool(
                f"{name}-pool",
                workload_identity_pool_id=pool_id,
                display_name=f"atlas-continuity {name}"[:32],
                description="CI pipelines that push atlas-continuity registry backups",
                project=project,
                opts=child,
            )
            pool_name: pulumi.Input[str] = pool.name
            pool_ref: pulumi.Input[str] = pool.workload_identity_pool_id
        else:
            pool_name = pulumi.Output.from_input(existing)
            pool_ref = pulumi.Output.from_input(existing).apply(
                lambda n: conditions.parse_pool_name(n)[1]
            )

        oidc = gcp.iam.WorkloadIdentityPoolProviderOidcArgs(
            issuer_uri=identity.issuer_url,
            allowed_audiences=[identity.audience] if identity.audience else None,
        )
        wip = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            workload_identity_pool_id=pool_ref,
            workload_identity_pool_provider_id=provider_id,
            display_name=f"{identity.provider} {name}"[:32],
            description=f"{identity.provider}: {identity.subject}"[:256],
            attribute_mapping=mapping,
            attribute_condition=condition,
            oidc=oidc,
            project=project,
            opts=child,
        )
        principal_set = pulumi.Output.from_input(pool_name).apply(
            lambda n: conditions.provider_principal_set(n, provider_id)
        )
        member: pulumi.Output[str] = principal_set
        email: pulumi.Input[str | None] = None
        if via_account:
            account = gcp.serviceaccount.Account(
                f"{name}-sa",
                account_id=account_id,
                display_name=f"atlas-continuity {name}"[:100],
                description=f"Impersonated by {identity.provider}: {identity.subject}"[:256],
                project=project,
                opts=child,
            )
            gcp.serviceaccount.IAMMember(
                f"{name}-impersonation",
                service_account_id=account.name,
                role=conditions.WORKLOAD_IDENTITY_USER,
                member=principal_set,
                opts=child,
            )
            email = account.email
            member = account.email.apply(lambda e: f"serviceAccount:{e}")

        grant_store_access(
            name,
            bindings=bindings,
            bucket=bucket,
            prefix=prefix,
            member=member,
            project=project,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[wip]),
        )

        self.workload_identity_provider = wip.name
        self.audience = (
            pulumi.Output.from_input(identity.audience)
            if identity.audience
            else wip.name.apply(lambda n: f"https://iam.googleapis.com/{n}")
        )
        self.subject = pulumi.Output.from_input(identity.subject)
        self.attribute_condition = pulumi.Output.from_input(condition)
        self.principal = member
        self.service_account_email = pulumi.Output.from_input(email)
        self.register_outputs(
            {
                "workload_identity_provider": self.workload_identity_provider,
                "audience": self.audience,
                "subject": self.subject,
                "attribute_condition": self.attribute_condition,
                "principal": self.principal,
                "service_account_email": self.service_account_email,
            }
        )
