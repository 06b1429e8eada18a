"""Every policy document the AWS components declare passes parliament, or the finding that
remains is listed below with the reason it is not a defect. A finding not listed fails."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from parliament import analyze_policy_string

from atlas_continuity.infra.aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
from tests.infra.harness import ACCOUNT, deploy

UUID = "0a1b2c3d-0000-4000-8000-00000000000c"
EKS_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/0A1B2C3D"


@dataclass(frozen=True)
class Accepted:
    """A parliament finding we keep, the documents it may appear on, and why."""

    issue: str
    detail: str  # a regular expression over the finding's detail
    documents: str  # a regular expression over the document's label
    reason: str


ACCEPTED = [
    Accepted(
        "MALFORMED",
        r"^Statement contains neither Resource nor NotResource$",
        r"trust$",
        "parliament lints every document as an identity policy; a role's trust (assume-role) "
        "policy has no Resource element in IAM's grammar: the role itself is the resource.",
    ),
    Accepted(
        "UNKNOWN_FEDERATION_SOURCE",
        rf"^arn:aws:iam::{ACCOUNT}:oidc-provider/[^*?]+$",
        r"(ci-.*|irsa) trust$",
        "parliament knows SAML providers and four legacy web-identity hosts only; "
        "arn:aws:iam::ACCOUNT:oidc-provider/HOST is how IAM names an OIDC provider (GitHub, "
        "GitLab, CircleCI, Bitbucket, an EKS cluster), the principal AWS documents for them.",
    ),
    Accepted(
        "MISMATCHED_TYPE",
        r"^Type mismatch: s3:TlsVersion requires a value of type Numeric but given \['1\.2'\]$",
        r"^bucket policy$",
        "parliament's Numeric pattern is ^\\d+$, so it rejects any decimal (and crashes on a "
        "JSON number); AWS documents NumericLessThan s3:TlsVersion 1.2 for exactly this deny.",
    ),
    Accepted(
        "UNKNOWN_CONDITION_FOR_ACTION",
        r"^Unknown condition s3:TlsVersion for action "
        r"s3:(InitiateReplication|PutAccessPointPublicAccessBlock)$",
        r"^bucket policy$",
        "the TLS deny covers s3:* on purpose (a deny must not miss an action); parliament's "
        "action table lacks s3:TlsVersion for these two actions, which never carry this "
        "bucket's data. Where a request has no TlsVersion the deny is moot, never weaker.",
    ),
]


def declared_documents() -> dict[str, str]:
    """Every policy document the three components declare, across their variants."""
    documents: dict[str, str] = {}
    for kms in (False, True):

        def build(kms=kms):
            bucket = S3BackupBucket("backup", {"create_kms_key": kms})
            common = {"bucket_arn": bucket.bucket_arn, "kms_key_arn": bucket.kms_key_arn}
            ci = {
                "github-branch": {"provider": "github", "repository": "a/b", "branch": "main"},
                "github-env": {"provider": "github", "repository": "a/b", "environment": "prod"},
                "gitlab": {"provider": "gitlab", "repository": "a/b", "branch": "main"},
                "circleci": {
                    "provider": "circleci",
                    "organization": UUID,
                    "repository": UUID,
                    "vcs_origin": "github.com/a/b",
                    "branch": "main",
                },
                "bitbucket": {
                    "provider": "bitbucket",
                    "organization": "acme",
                    "workspace_uuid": UUID,
                    "repository": UUID,
                    "environment": UUID,
                },
            }
            out = {"bucket": bucket}
            for label, args in ci.items():
                out[label] = AwsCiWriterRole(
                    f"ci-{label}", {**args, **common, "create_oidc_provider": True}
                )
            out["pod"] = EksReaderRole(
                "pod-identity",
                {"namespace": "atlas", "service_account": "op", "cluster_name": "c", **common},
            )
            out["irsa"] = EksReaderRole(
                "irsa",
                {
                    "mode": "irsa",
                    "namespace": "atlas",
                    "service_account": "op",
                    "oidc_provider_arn": EKS_PROVIDER,
                    **common,
                },
            )
            return out

        d = deploy(build)
        suffix = " (kms)" if kms else ""
        documents["bucket policy"] = d.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]
        for role in d.of_type("aws:iam/role:Role"):
            documents[f"{role.name.removesuffix('-role')} trust"] = role.inputs["assumeRolePolicy"]
        for policy in d.of_type("aws:iam/rolePolicy:RolePolicy"):
            documents[f"{policy.name}{suffix}"] = policy.inputs["policy"]
    return documents


DOCUMENTS = declared_documents()


def test_every_kind_of_document_is_linted():
    labels = set(DOCUMENTS)
    assert "bucket policy" in labels
    for ci in ("github-branch", "github-env", "gitlab", "circleci", "bitbucket"):
        assert f"ci-{ci} trust" in labels
        assert {f"ci-{ci}-registry-write", f"ci-{ci}-registry-write (kms)"} <= labels
    assert {"pod-identity trust", "irsa trust"} <= labels
    assert {
        "irsa-registry-read",
        "irsa-registry-read (kms)",
        "pod-identity-registry-read",
    } <= labels


def accepted(label: str, issue: str, detail: str) -> Accepted | None:
    for entry in ACCEPTED:
        if (
            entry.issue == issue
            and re.search(entry.detail, detail)
            and re.search(entry.documents, label)
        ):
            return entry
    return None


@pytest.mark.parametrize("label", sorted(DOCUMENTS))
def test_parliament_has_no_unexplained_finding(label):
    policy = analyze_policy_string(DOCUMENTS[label], include_community_auditors=True)
    unexplained = [
        (f.issue, f.detail)
        for f in policy.findings
        if accepted(label, f.issue, str(f.detail)) is None
    ]
    assert unexplained == []


@pytest.mark.parametrize("label", [label for label in sorted(DOCUMENTS) if "registry-" in label])
def test_permission_policies_are_entirely_clean(label):
    policy = analyze_policy_string(DOCUMENTS[label], include_community_auditors=True)
    assert [(f.issue, f.detail) for f in policy.findings] == []


def test_every_accepted_finding_still_occurs():
    """The list above stays true: an entry parliament no longer raises is removed."""
    seen = set()
    for label, document in DOCUMENTS.items():
        for finding in analyze_policy_string(document, include_community_auditors=True).findings:
            entry = accepted(label, finding.issue, str(finding.detail))
            if entry is not None:
                seen.add(entry.issue)
    assert seen == {entry.issue for entry in ACCEPTED}
