"""EksReaderRole: the IAM role a Kubernetes service account reads backups with."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from atlas_continuity.infra.args import check_when_plain, known_args, required_arg
from atlas_continuity.infra.aws import policies
from atlas_continuity.infra.aws.registry_role import registry_role, session_duration
from atlas_continuity.infra.ci_identity import (
    check_k8s_namespace,
    check_k8s_service_account,
    grant_service_account,
)
from atlas_continuity.infra.store import DEFAULT_PREFIX, grant_series

TYPE_TOKEN = "atlas-continuity:index:EksReaderRole"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


class EksIdentityMode(StrEnum):
    """How pods of the service account get the role's credentials."""

    POD_IDENTITY = "pod-identity"
    """EKS Pod Identity: an association binds the role to the service account; needs the EKS
    Pod Identity Agent add-on on the cluster."""
    IRSA = "irsa"
    """IAM Roles for Service Accounts: the role trusts the cluster's OIDC issuer and the service
    account carries the eks.amazonaws.com/role-arn annotation."""


class EksReaderRoleArgs(TypedDict, total=False):
    """Inputs of EksReaderRole."""

    mode: EksIdentityMode
    """pod-identity or irsa. Default: pod-identity."""
    namespace: Required[str]
    """The Kubernetes namespace of the service account (the Atlas operator's)."""
    service_account: Required[str]
    """The Kubernetes service account the role is bound to; no other can assume it."""
    cluster_name: pulumi.Input[str]
    """pod-identity: the EKS cluster's name (required there). The trust pins the cluster's
    ARN, built from it and the AWS provider's account, region and partition."""
    oidc_provider_arn: pulumi.Input[str]
    """irsa: the ARN of the IAM OIDC provider for the cluster's issuer (required there)."""
    bucket_arn: Required[pulumi.Input[str]]
    """The backup bucket's ARN (S3BackupBucket.bucket_arn)."""
    prefix: pulumi.Input[str]
    """The store's prefix the role may read under, e.g. S3BackupBucket.prefix.
    Default: "atlas"."""
    kms_key_arn: pulumi.Input[str]
    """The bucket's SSE-KMS key, if it has one: the role gets kms:Decrypt on it, through S3."""
    role_name: pulumi.Input[str]
    """The role's name. Default: the component name plus a random suffix."""
    max_session_duration: int
    """The longest session, in seconds (3600 to 43200). Default: 3600."""
    permissions_boundary: pulumi.Input[str]
    """The ARN of a managed policy to set as the role's permissions boundary. Default: none."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags for the roles and the pod identity associations."""
    grant_service_account: str
    """The Kubernetes service account (same namespace) of the Atlas operator's grant backup
    and restore jobs. It gets a role of its own, bound the same way, that may create, read and
    list the snapshots of one grant series, <prefix>/atlas-continuity/grants/<grant_name>/, and
    nothing else (never replace or delete one, never touch the registry). Default: none."""
    grant_name: str
    """The grant series the grant writer may write (grants/<grant_name>/): the AtlasOperator's
    grant_name. Default: "<project>.<stack>.<namespace>", as AtlasOperator derives it."""


class EksReaderRole(pulumi.ComponentResource):
    """An IAM role for one Kubernetes service account on EKS, by Pod Identity or IRSA, with read
    and list on the store's prefix only."""

    role_arn: pulumi.Output[str]
    """The role's ARN."""
    role_name: pulumi.Output[str]
    """The role's name."""
    service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the service account needs: eks.amazonaws.com/role-arn under IRSA, none
    under Pod Identity (the association does the binding)."""
    association_id: pulumi.Output[str | None]
    """The pod identity association's ID (null under IRSA)."""
    grant_writer_role_arn: pulumi.Output[str | None]
    """The grant writer's role ARN (null without grant_service_account)."""
    grant_writer_service_account_annotations: pulumi.Output[Mapping[str, str]]
    """Annotations the grant service account needs (as service_account_annotations)."""

    def __init__(
        self,
        name: str,
        args: EksReaderRoleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        known_args(name, args, EksReaderRoleArgs)
        try:
            mode = EksIdentityMode(args.get("mode", EksIdentityMode.POD_IDENTITY))
        except ValueError:
            raise ValueError(f"{name}: mode must be pod-identity or irsa") from None
        namespace = check_k8s_namespace(args.get("namespace"))
        service_account = check_k8s_service_account(args.get("service_account"))
        grant_account = grant_service_account(name, args, "role_name")
        series = None if grant_account is None else grant_series(name, args, namespace)
        prefix = args.get("prefix", DEFAULT_PREFIX)
        bucket_arn = required_arg(name, args, "bucket_arn")
        kms_key_arn = args.get("kms_key_arn")
        check_when_plain(
            lambda: policies.reader_policy(bucket_arn, prefix, kms_key_arn),
            bucket_arn,
            prefix,
            kms_key_arn,
        )
        cluster_name = args.get("cluster_name")
        provider_arn = args.get("oidc_provider_arn")
        if mode is EksIdentityMode.POD_IDENTITY:
            if cluster_name is None:
                raise ValueError(f"{name}: pod-identity needs cluster_name")
            check_when_plain(lambda: policies.check_eks_cluster_name(cluster_name), cluster_name)
            if provider_arn is not None:
                raise ValueError(f"{name}: oidc_provider_arn is for irsa, not pod-identity")
        else:
            if provider_arn is None:
                raise ValueError(f"{name}: irsa needs oidc_provider_arn (the cluster's issuer)")
            if cluster_name is not None:
                raise ValueError(f"{name}: cluster_name is for pod-identity, not irsa")
            check_when_plain(
                lambda: _irsa_trust(provider_arn, namespace, service_account), provider_arn
            )
        session_duration(name, args)

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        if mode is EksIdentityMode.POD_IDENTITY:
            invoke = pulumi.InvokeOptions(parent=self)
            account = aws.get_caller_identity_output(opts=invoke).account_id
            region = aws.get_region_output(opts=invoke).region
            partition = aws.get_partition_output(opts=invoke).partition

            def trust_for(account_name: str) -> pulumi.Output[str]:
                def pod_identity_trust(v: list[str]) -> str:
                    cluster, account_id, region_name, partition_name = v
                    arn = policies.eks_cluster_arn(partition_name, region_name, account_id, cluster)
                    return policies.to_json(
                        policies.pod_identity_trust_policy(arn, account_id, namespace, account_name)
                    )

                return pulumi.Output.all(cluster_name, account, region, partition).apply(
                    pod_identity_trust
                )
        else:

            def trust_for(account_name: str) -> pulumi.Output[str]:
                return pulumi.Output.from_input(provider_arn).apply(
                    lambda arn: policies.to_json(_irsa_trust(arn, namespace, account_name))
                )

        def bound_role(
            label: str, account_name: str, purpose: str, policy_name: str, policy
        ) -> tuple[aws.iam.Role, pulumi.Input[str | None], pulumi.Input[Mapping[str, str]]]:
            """A role for ``account_name``, bound by the mode, with ``policy``: the role, the
            association's ID and the annotations the service account needs."""
            role = registry_role(
                label,
                args,
                description=(
                    f"atlas-continuity {purpose} for {namespace}/{account_name} ({mode.value})"
                ),
                trust=trust_for(account_name),
                policy_name=policy_name,
                policy=pulumi.Output.all(bucket_arn, prefix, kms_key_arn).apply(
                    lambda v: policies.to_json(policy(*v))
                ),
                opts=child,
            )
            if mode is EksIdentityMode.IRSA:
                return role, None, role.arn.apply(lambda arn: {IRSA_ANNOTATION: arn})
            association = aws.eks.PodIdentityAssociation(
                f"{label}-association",
                cluster_name=cluster_name,
                namespace=namespace,
                service_account=account_name,
                role_arn=role.arn,
                tags=args.get("tags"),
                opts=child,
            )
            return role, association.association_id, {}

        role, association_id, annotations = bound_role(
            name, service_account, "registry reader", "registry-read", policies.reader_policy
        )
        grant_role_arn: pulumi.Input[str | None] = None
        grant_annotations: pulumi.Input[Mapping[str, str]] = {}
        if grant_account is not None:
            grant_role, _, grant_annotations = bound_role(
                f"{name}-grants",
                grant_account,
                "grant writer",
                "grant-write",
                lambda bucket, keys, key: policies.grant_writer_policy(
                    bucket, keys, key, series=series
                ),
            )
            grant_role_arn = grant_role.arn

        self.role_arn = role.arn
        self.role_name = role.name
        self.service_account_annotations = pulumi.Output.from_input(annotations)
        self.association_id = pulumi.Output.from_input(association_id)
        self.grant_writer_role_arn = pulumi.Output.from_input(grant_role_arn)
        self.grant_writer_service_account_annotations = pulumi.Output.from_input(grant_annotations)
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "service_account_annotations": self.service_account_annotations,
                "association_id": self.association_id,
                "grant_writer_role_arn": self.grant_writer_role_arn,
                "grant_writer_service_account_annotations": (
                    self.grant_writer_service_account_annotations
                ),
            }
        )


def _irsa_trust(provider_arn: str, namespace: str, service_account: str) -> dict:
    trust = policies.irsa_trust(
        policies.issuer_host_from_provider_arn(provider_arn), namespace, service_account
    )
    return policies.web_identity_trust_policy(provider_arn, trust)
