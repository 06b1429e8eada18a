"""EksReaderRole: Pod Identity and IRSA trust bound to one service account, read-only access."""

from __future__ import annotations

import pytest

from atlas_continuity.infra.aws import EksIdentityMode, EksReaderRole
from tests.infra.harness import ACCOUNT, KEY_ARN, REGION, deploy

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
BUCKET_ARN = "arn:aws:s3:::acme-atlas-backup"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/5C9A1B2D3E4F5A6B7C8D9E0F1A2B3C4D"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"

POD_IDENTITY = {"namespace": "atlas", "service_account": "atlas-operator", "cluster_name": "prod"}
IRSA = {
    "mode": EksIdentityMode.IRSA,
    "namespace": "atlas",
    "service_account": "atlas-operator",
    "oidc_provider_arn": PROVIDER_ARN,
}


def reader(args: dict, name: str = "k8s"):
    full = {"bucket_arn": BUCKET_ARN, **args}
    return deploy(lambda: {"role": EksReaderRole(name, full)})


def trust(d) -> dict:
    (statement,) = d.one(ROLE).policy("assumeRolePolicy")["Statement"]
    return statement


def test_pod_identity_is_the_default_and_is_pinned_to_cluster_namespace_and_account():
    d = reader(POD_IDENTITY)
    statement = trust(d)
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": ACCOUNT,
            "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod",
            "aws:RequestTag/kubernetes-namespace": "atlas",
            "aws:RequestTag/kubernetes-service-account": "atlas-operator",
        }
    }


@pytest.mark.parametrize("cluster", ["prod/x", "-prod", "a" * 101, "pr*d"])
def test_a_cluster_name_that_is_no_eks_name_is_refused(cluster):
    with pytest.raises(ValueError, match="cluster"):
        reader({**POD_IDENTITY, "cluster_name": cluster})


def test_pod_identity_association_binds_the_role_to_the_service_account():
    d = reader({**POD_IDENTITY, "tags": {"team": "platform"}})
    association = d.one(ASSOCIATION).inputs
    out = d.outputs["role"]
    assert association == {
        "clusterName": "prod",
        "namespace": "atlas",
        "serviceAccount": "atlas-operator",
        "roleArn": out["role_arn"],
        "tags": {"team": "platform"},
    }
    assert out["association_id"] == "a-0123456789abcdef0"
    assert out["service_account_annotations"] == {}


def test_irsa_trusts_the_cluster_issuer_for_one_service_account():
    d = reader(IRSA)
    statement = trust(d)
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:aud": "sts.amazonaws.com",
            f"{ISSUER}:sub": "system:serviceaccount:atlas:atlas-operator",
        }
    }
    d.none(ASSOCIATION)
    d.none(OIDC)  # the cluster's provider exists already; the component never creates one


def test_irsa_outputs_the_service_account_annotation():
    out = reader(IRSA).outputs["role"]
    assert out["service_account_annotations"] == {"eks.amazonaws.com/role-arn": out["role_arn"]}
    assert out["association_id"] is None


@pytest.mark.parametrize("args", [POD_IDENTITY, IRSA], ids=["pod-identity", "irsa"])
def test_reader_may_read_and_list_under_the_prefix_only(args):
    d = reader(args)
    policy = d.one(ROLE_POLICY)
    assert policy.inputs["role"] == d.outputs["role"]["role_name"]
    assert policy.policy()["Statement"] == [
        {
            "Sid": "ListStorePrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
            "Condition": {"StringLike": {"s3:prefix": "atlas/*"}},
        },
        {
            "Sid": "ReadStoreObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET_ARN}/atlas/*",
        },
    ]


def test_reader_gets_decrypt_only_on_the_kms_key():
    d = reader({**POD_IDENTITY, "kms_key_arn": KEY_ARN, "prefix": "team/db"})
    statements = {s["Sid"]: s for s in d.one(ROLE_POLICY).policy()["Statement"]}
    assert statements["RegistryKeyThroughS3"] == {
        "Sid": "RegistryKeyThroughS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": KEY_ARN,
        "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
    }
    assert statements["ReadStoreObjects"]["Resource"] == f"{BUCKET_ARN}/team/db/*"


def test_role_options_are_passed_through():
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/platform-boundary"
    d = reader(
        {
            **IRSA,
            "role_name": "atlas-operator-reader",
            "max_session_duration": 43200,
            "permissions_boundary": boundary,
            "tags": {"team": "platform"},
        }
    )
    role = d.one(ROLE).inputs
    assert role["name"] == "atlas-operator-reader"
    assert role["maxSessionDuration"] == 43200
    assert role["permissionsBoundary"] == boundary
    assert role["tags"] == {"team": "platform"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({**POD_IDENTITY, "service_account": "*"}, "wildcard"),
        ({**POD_IDENTITY, "namespace": "*"}, "wildcard"),
        ({**IRSA, "service_account": "atlas-*"}, "wildcard"),
        ({**POD_IDENTITY, "namespace": None}, "namespace is required"),
        ({**IRSA, "service_account": ""}, "service_account is required"),
        ({**POD_IDENTITY, "namespace": "Atlas_NS"}, "RFC 1123"),
        ({**POD_IDENTITY, "service_account": "a:b"}, "RFC 1123"),
        ({**POD_IDENTITY, "cluster_name": None}, "pod-identity needs cluster_name"),
        ({**POD_IDENTITY, "oidc_provider_arn": PROVIDER_ARN}, "for irsa"),
        ({**IRSA, "oidc_provider_arn": None}, "irsa needs oidc_provider_arn"),
        ({**IRSA, "cluster_name": "prod"}, "for pod-identity"),
        ({**IRSA, "oidc_provider_arn": "oidc.eks.amazonaws.com/id/X"}, "not an IAM OIDC provider"),
        ({**POD_IDENTITY, "mode": "kiam"}, "pod-identity or irsa"),
        ({**POD_IDENTITY, "bucket_arn": None}, "bucket_arn is required"),
        ({**POD_IDENTITY, "prefix": "*"}, "prefix"),
        ({**POD_IDENTITY, "max_session_duration": 50000}, "between 3600 and 43200"),
        ({**POD_IDENTITY, "grant_service_account": "atlas-operator"}, "must differ"),
        ({**POD_IDENTITY, "grant_service_account": "grants*"}, "wildcard"),
        ({**IRSA, "grant_service_account": "grants", "role_name": "r"}, "leave role_name unset"),
    ],
)
def test_bad_arguments_are_refused_at_construction(args, message):
    with pytest.raises(ValueError, match=message):
        reader(args)


# --- the grant writer --------------------------------------------------------------------------

GRANT_WRITER = {"grant_service_account": "atlas-grants", "kms_key_arn": KEY_ARN}


def roles_by_name(d) -> dict:
    return {r.name: r for r in d.of_type(ROLE)}


def test_without_a_grant_service_account_there_is_one_role():
    d = reader(POD_IDENTITY)
    assert list(roles_by_name(d)) == ["k8s-role"]
    out = d.outputs["role"]
    assert (out["grant_writer_role_arn"], out["grant_writer_service_account_annotations"]) == (
        None,
        {},
    )


def test_the_grant_writer_has_its_own_pod_identity_role_for_its_own_service_account():
    d = reader({**POD_IDENTITY, **GRANT_WRITER})
    roles = roles_by_name(d)
    assert set(roles) == {"k8s-role", "k8s-grants-role"}
    (statement,) = roles["k8s-grants-role"].policy("assumeRolePolicy")["Statement"]
    tags = statement["Condition"]["StringEquals"]
    assert tags["aws:RequestTag/kubernetes-service-account"] == "atlas-grants"
    assert tags["aws:RequestTag/kubernetes-namespace"] == "atlas"
    associations = {a.inputs["serviceAccount"]: a.inputs for a in d.of_type(ASSOCIATION)}
    out = d.outputs["role"]
    assert associations["atlas-grants"]["roleArn"] == out["grant_writer_role_arn"]
    assert associations["atlas-operator"]["roleArn"] == out["role_arn"]
    assert out["grant_writer_service_account_annotations"] == {}


def test_the_grant_writer_creates_reads_and_lists_grant_snapshots_only():
    d = reader({**POD_IDENTITY, **GRANT_WRITER})
    policies = {r.name: r.policy() for r in d.of_type(ROLE_POLICY)}
    # One series: <project>.<stack>.<namespace> by default, as AtlasOperator's.
    grants = f"{BUCKET_ARN}/atlas/atlas-continuity/grants/atlas.test.atlas/"
    assert policies["k8s-grants-grant-write"]["Statement"] == [
        {
            "Sid": "ListStorePrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
            "Condition": {
                "StringLike": {"s3:prefix": "atlas/atlas-continuity/grants/atlas.test.atlas/*"}
            },
        },
        {
            "Sid": "ReadStoreObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{grants}*",
        },
        {
            "Sid": "CreateGrantSnapshots",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{grants}*",
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        {
            "Sid": "RegistryKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": KEY_ARN,
            "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        },
    ]
    # The operator's own role stays a reader.
    assert [s["Action"] for s in policies["k8s-registry-read"]["Statement"]] == [
        "s3:ListBucket",
        "s3:GetObject",
        ["kms:Decrypt"],
    ]


def test_under_irsa_the_grant_writer_trusts_its_service_account_and_is_annotated():
    d = reader({**IRSA, **GRANT_WRITER})
    roles = roles_by_name(d)
    (statement,) = roles["k8s-grants-role"].policy("assumeRolePolicy")["Statement"]
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:sub"] == (
        "system:serviceaccount:atlas:atlas-grants"
    )
    out = d.outputs["role"]
    assert out["grant_writer_service_account_annotations"] == {
        "eks.amazonaws.com/role-arn": out["grant_writer_role_arn"]
    }
    d.none(ASSOCIATION)
