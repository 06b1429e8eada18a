"""AwsCiWriterRole: the trust (sub and aud per CI provider), its refusals, and the permissions."""

from __future__ import annotations

import re

import pytest

from atlas_continuity.infra.aws import AwsCiProvider, AwsCiWriterRole
from tests.infra.harness import ACCOUNT, KEY_ARN, deploy

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
BUCKET_ARN = "arn:aws:s3:::acme-atlas-backup"

ORG = "0a1b2c3d-0000-4000-8000-00000000000a"
PROJECT = "0a1b2c3d-0000-4000-8000-00000000000b"
WORKSPACE_UUID = "0a1b2c3d-0000-4000-8000-00000000000c"
REPO_UUID = "0a1b2c3d-0000-4000-8000-00000000000d"
ENV_UUID = "0a1b2c3d-0000-4000-8000-00000000000e"

PROVIDERS = {
    "github-branch": {"provider": "github", "repository": "acme/app", "branch": "main"},
    "github-environment": {
        "provider": AwsCiProvider.GITHUB,
        "repository": "acme/app",
        "environment": "production",
    },
    "gitlab": {"provider": "gitlab", "repository": "acme/platform/app", "branch": "main"},
    "circleci": {
        "provider": "circleci",
        "organization": ORG,
        "repository": PROJECT,
        "vcs_origin": "github.com/acme/app",
        "branch": "main",
    },
    "bitbucket": {
        "provider": "bitbucket",
        "organization": "acme",
        "workspace_uuid": "{" + WORKSPACE_UUID.upper() + "}",
        "repository": "{" + REPO_UUID + "}",
        "environment": ENV_UUID,
    },
}

# What each provider's tokens carry, and what the trust must therefore pin (see docs/infra-aws.md).
EXPECTED = {
    "github-branch": (
        "token.actions.githubusercontent.com",
        "sts.amazonaws.com",
        "StringEquals",
        "repo:acme/app:ref:refs/heads/main",
    ),
    "github-environment": (
        "token.actions.githubusercontent.com",
        "sts.amazonaws.com",
        "StringEquals",
        "repo:acme/app:environment:production",
    ),
    "gitlab": (
        "gitlab.com",
        "https://gitlab.com",
        "StringEquals",
        "project_path:acme/platform/app:ref_type:branch:ref:main",
    ),
    "circleci": (
        f"oidc.circleci.com/org/{ORG}",
        ORG,
        "StringLike",
        f"org/{ORG}/project/{PROJECT}/user/*/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main",
    ),
    "bitbucket": (
        "api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
        f"ari:cloud:bitbucket::workspace/{WORKSPACE_UUID}",
        "StringLike",
        f"{{{REPO_UUID}}}:{{{ENV_UUID}}}:*",
    ),
}


def writer(args: dict, name: str = "ci"):
    full = {"bucket_arn": BUCKET_ARN, **args}
    if "oidc_provider_arn" not in full:
        full.setdefault("create_oidc_provider", True)
    return deploy(lambda: {"role": AwsCiWriterRole(name, full)})


def trust_statement(d) -> dict:
    (statement,) = d.one(ROLE).policy("assumeRolePolicy")["Statement"]
    return statement


@pytest.mark.parametrize("case", sorted(PROVIDERS))
def test_trust_pins_audience_and_subject_per_provider(case):
    host, audience, operator, subject = EXPECTED[case]
    d = writer(PROVIDERS[case])
    statement = trust_statement(d)
    provider_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": provider_arn}
    condition = statement["Condition"]
    assert condition["StringEquals"][f"{host}:aud"] == audience
    assert condition[operator][f"{host}:sub"] == subject
    # The subject is pinned once, by the one operator, and nothing else is allowed.
    subs = [op for op, keys in condition.items() if f"{host}:sub" in keys and op != "StringNotLike"]
    assert subs == [operator]
    # The OIDC provider is created for the issuer, with the audience as its client ID.
    oidc = d.one(OIDC).inputs
    assert oidc["url"] == f"https://{host}"
    assert oidc["clientIdLists"] == [audience]
    out = d.outputs["role"]
    assert (out["audience"], out["subject"], out["oidc_provider_arn"]) == (
        audience,
        subject,
        provider_arn,
    )


def test_circleci_refuses_a_branch_name_smuggling_a_second_ref():
    d = writer(PROVIDERS["circleci"])
    host = f"oidc.circleci.com/org/{ORG}"
    # `*` matches '/', so a user part that repeats "/vcs-origin/.../vcs-ref/refs/heads/main"
    # would match the pattern; the StringNotLike guard refuses a second vcs-ref or vcs-origin.
    assert trust_statement(d)["Condition"]["StringNotLike"] == {
        f"{host}:sub": ["*/vcs-ref/*/vcs-ref/*", "*/vcs-origin/*/vcs-origin/*"]
    }


def test_custom_audience_and_self_managed_gitlab():
    d = writer(
        {
            **PROVIDERS["gitlab"],
            "gitlab_url": "https://gitlab.acme.example/",
            "audience": "atlas-continuity",
        }
    )
    condition = trust_statement(d)["Condition"]["StringEquals"]
    assert condition["gitlab.acme.example:aud"] == "atlas-continuity"
    assert d.one(OIDC).inputs["url"] == "https://gitlab.acme.example"


def test_existing_oidc_provider_is_trusted_and_none_is_created():
    existing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    d = writer({**PROVIDERS["github-branch"], "oidc_provider_arn": existing})
    d.none(OIDC)
    assert trust_statement(d)["Principal"] == {"Federated": existing}
    assert d.outputs["role"]["oidc_provider_arn"] == existing


def test_existing_oidc_provider_for_another_issuer_is_refused():
    other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"
    with pytest.raises(ValueError, match=re.escape("token.actions.githubusercontent.com")):
        writer({**PROVIDERS["github-branch"], "oidc_provider_arn": other})


# --- refusals: unconstrained or wildcard subjects ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Wildcard-only or wildcard-bearing subjects.
        ({"provider": "github", "repository": "*", "branch": "main"}, "wildcard"),
        ({"provider": "github", "repository": "acme/*", "branch": "main"}, "wildcard"),
        ({"provider": "github", "repository": "acme/app", "branch": "*"}, "wildcard"),
        ({"provider": "github", "repository": "acme/app", "branch": "release/*"}, "wildcard"),
        ({"provider": "github", "repository": "acme/app", "environment": "prod?"}, "wildcard"),
        ({"provider": "gitlab", "repository": "acme/app", "branch": "*"}, "wildcard"),
        (
            {**PROVIDERS["circleci"], "repository": "*"},
            "wildcard",
        ),
        (
            {**PROVIDERS["circleci"], "branch": "*"},
            "wildcard",
        ),
        (
            {**PROVIDERS["circleci"], "vcs_origin": "github.com/acme/*"},
            "wildcard",
        ),
        (
            {
                "provider": "bitbucket",
                "organization": "acme",
                "workspace_uuid": WORKSPACE_UUID,
                "repository": "*",
                "environment": ENV_UUID,
            },
            "wildcard",
        ),
        (
            {
                "provider": "bitbucket",
                "organization": "acme",
                "workspace_uuid": WORKSPACE_UUID,
                "repository": REPO_UUID,
                "environment": "*",
            },
            "wildcard",
        ),
        # Unconstrained: a repository alone, or nothing at all.
        ({"provider": "github", "repository": "acme/app"}, "exactly one of branch or environment"),
        ({"provider": "github", "branch": "main"}, "repository is required"),
        ({"provider": "github", "repository": " ", "branch": "main"}, "repository is required"),
        ({"provider": "gitlab", "repository": "acme/app"}, "branch is required"),
        (
            {k: v for k, v in PROVIDERS["circleci"].items() if k != "branch"},
            "branch is required",
        ),
        (
            {k: v for k, v in PROVIDERS["circleci"].items() if k != "vcs_origin"},
            r"vcs_origin .* is required",
        ),
        ({**PROVIDERS["circleci"], "vcs_origin": "https://github.com/a/b"}, "without a scheme"),
        ({**PROVIDERS["circleci"], "vcs_origin": "github.com/acme"}, "host/owner/repo"),
        ({**PROVIDERS["github-branch"], "vcs_origin": "github.com/a/b"}, "does not apply"),
        (
            {
                "provider": "bitbucket",
                "organization": "acme",
                "workspace_uuid": WORKSPACE_UUID,
                "repository": REPO_UUID,
            },
            r"environment \(Bitbucket deployment environment UUID\) is required",
        ),
        # Claims a provider's subject does not carry.
        (
            {"provider": "github", "repository": "a/b", "branch": "main", "environment": "prod"},
            "exactly one",
        ),
        ({"provider": "gitlab", "repository": "a/b", "environment": "prod"}, "no environment"),
        (
            {**PROVIDERS["circleci"], "branch": None, "environment": "prod"},
            "no environment",
        ),
        (
            {
                "provider": "bitbucket",
                "organization": "acme",
                "workspace_uuid": WORKSPACE_UUID,
                "repository": REPO_UUID,
                "branch": "main",
            },
            "no branch",
        ),
        # Malformed parts.
        ({"provider": "github", "repository": "acme", "branch": "main"}, "owner/repo"),
        ({"provider": "github", "repository": "a/b", "branch": "refs/heads/main"}, "not a ref"),
        ({"provider": "github", "repository": "a/b", "branch": "a..b"}, "not a valid git branch"),
        ({"provider": "github", "repository": "a/b", "branch": "a:b"}, "not a valid git branch"),
        ({"provider": "github", "repository": "a/b", "environment": "a:b"}, "':'"),
        (
            {**PROVIDERS["circleci"], "organization": "acme"},
            "not a UUID",
        ),
        (
            {"provider": "gitlab", "repository": "a/b", "branch": "m", "organization": "x"},
            "does not apply",
        ),
        ({"provider": "jenkins", "repository": "a/b", "branch": "main"}, "must be one of"),
        (
            {
                "provider": "gitlab",
                "repository": "a/b",
                "branch": "m",
                "gitlab_url": "http://gitlab.example",
            },
            "https://",
        ),
    ],
)
def test_unconstrained_or_wildcard_subjects_are_refused_at_construction(args, message):
    with pytest.raises(ValueError, match=message):
        writer(args)


def refusal_at_construction(args: dict) -> str:
    """The ValueError AwsCiWriterRole(args) raises, asserting nothing was declared first."""
    refusals = []

    def build():
        try:
            AwsCiWriterRole("ci", args)
        except ValueError as exc:
            refusals.append(str(exc))
        return {}

    d = deploy(build)
    assert refusals, "not refused"
    assert d.resources == []
    return refusals[0]


def test_refusal_happens_before_any_resource_is_declared():
    args = {"provider": "github", "repository": "*", "bucket_arn": BUCKET_ARN}
    assert "wildcard" in refusal_at_construction(args)


def test_a_prefix_of_the_wrong_type_is_refused_before_any_resource_is_declared():
    args = {
        **PROVIDERS["github-branch"],
        "create_oidc_provider": True,
        "bucket_arn": BUCKET_ARN,
        "prefix": 5,
    }
    assert "prefix must be a string, not int" in refusal_at_construction(args)


# --- permissions -------------------------------------------------------------------------------


RUNTIME = f"{BUCKET_ARN}/atlas/atlas-continuity"


def test_writer_reads_the_prefix_creates_runtime_objects_and_writes_atlas_backups():
    d = writer(PROVIDERS["github-branch"])
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
        # The runtime's registry and grants: create-only (a PUT must carry If-None-Match).
        {
            "Sid": "CreateRuntimeObjects",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{RUNTIME}/registry/*", f"{RUNTIME}/grants/*"],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        # Atlas's own repo.backup copies: plain PUTs anywhere under the prefix...
        {
            "Sid": "WriteAtlasBackups",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{BUCKET_ARN}/atlas/*",
        },
        # ...except in the runtime's folder, where a PUT without If-None-Match is denied.
        {
            "Sid": "RuntimeObjectsAreCreateOnly",
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": f"{RUNTIME}/*",
            "Condition": {"Null": {"s3:if-none-match": "true"}},
        },
    ]


def test_without_atlas_backup_writes_the_writer_creates_only_in_the_runtime_folders():
    d = writer({**PROVIDERS["github-branch"], "allow_atlas_backup_writes": False})
    statements = d.one(ROLE_POLICY).policy()["Statement"]
    puts = [s for s in statements if s["Action"] == "s3:PutObject" and s["Effect"] == "Allow"]
    assert puts == [
        {
            "Sid": "CreateRuntimeObjects",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [f"{RUNTIME}/registry/*", f"{RUNTIME}/grants/*"],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        }
    ]
    assert "RuntimeObjectsAreCreateOnly" in {s["Sid"] for s in statements}


def test_atlas_backup_writes_must_be_a_boolean():
    with pytest.raises(ValueError, match="allow_atlas_backup_writes"):
        writer({**PROVIDERS["github-branch"], "allow_atlas_backup_writes": "no"})


def test_writer_gets_the_data_key_actions_through_s3_when_the_bucket_uses_kms():
    d = writer({**PROVIDERS["gitlab"], "kms_key_arn": KEY_ARN, "prefix": "team/db/"})
    statements = {s["Sid"]: s for s in d.one(ROLE_POLICY).policy()["Statement"]}
    assert statements["RegistryKeyThroughS3"] == {
        "Sid": "RegistryKeyThroughS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY_ARN,
        "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
    }
    assert statements["ReadStoreObjects"]["Resource"] == f"{BUCKET_ARN}/team/db/*"
    assert statements["CreateRuntimeObjects"]["Resource"] == [
        f"{BUCKET_ARN}/team/db/atlas-continuity/registry/*",
        f"{BUCKET_ARN}/team/db/atlas-continuity/grants/*",
    ]
    assert statements["ListStorePrefix"]["Condition"] == {"StringLike": {"s3:prefix": "team/db/*"}}


def test_no_delete_and_no_bucket_administration_anywhere():
    d = writer({**PROVIDERS["github-branch"], "kms_key_arn": KEY_ARN})
    actions = set()
    for statement in d.one(ROLE_POLICY).policy()["Statement"]:
        if statement["Effect"] == "Deny":  # a Deny only takes away
            continue
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }


def test_role_options_are_passed_through():
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/platform-boundary"
    d = writer(
        {
            **PROVIDERS["github-branch"],
            "role_name": "atlas-ci-writer",
            "max_session_duration": 7200,
            "permissions_boundary": boundary,
            "tags": {"team": "platform"},
        }
    )
    role = d.one(ROLE).inputs
    assert role["name"] == "atlas-ci-writer"
    assert role["maxSessionDuration"] == 7200
    assert role["permissionsBoundary"] == boundary
    assert role["tags"] == {"team": "platform"}
    assert d.one(OIDC).inputs["tags"] == {"team": "platform"}
    assert d.outputs["role"]["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/atlas-ci-writer"


def test_role_defaults():
    role = writer(PROVIDERS["github-branch"]).one(ROLE).inputs
    assert role["maxSessionDuration"] == 3600
    assert "name" not in role and "permissionsBoundary" not in role


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"bucket_arn": None}, "bucket_arn is required"),
        ({"bucket_arn": "acme-atlas-backup"}, "not an S3 bucket ARN"),
        ({"kms_key_arn": "alias-of-something"}, "not a KMS key ARN"),
        ({"kms_key_arn": f"{KEY_ARN}\n"}, "not a KMS key ARN"),
        ({"prefix": ""}, "a prefix is required"),
        ({"prefix": "team/*"}, "no wildcard"),
        ({"max_session_duration": 60}, "between 3600 and 43200"),
        ({"create_oidc_provider": "false"}, "create_oidc_provider must be true or false"),
    ],
)
def test_bad_permission_arguments_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        deploy(
            lambda: {
                "role": AwsCiWriterRole(
                    "ci",
                    {
                        "bucket_arn": BUCKET_ARN,
                        "create_oidc_provider": True,
                        **PROVIDERS["github-branch"],
                        **args,
                    },
                )
            }
        )


def test_kms_alias_arns_are_refused_and_partitions_get_their_s3_domain():
    from atlas_continuity.infra.aws import policies

    alias = "arn:aws:kms:us-east-1:123456789012:alias/atlas"
    with pytest.raises(ValueError, match="not a KMS key ARN"):
        policies.writer_policy(BUCKET_ARN, "registry", alias)
    china = policies.reader_policy(
        "arn:aws-cn:s3:::bucket-cn", "registry", "arn:aws-cn:kms:cn-north-1:123456789012:key/k"
    )
    (kms,) = [s for s in china["Statement"] if s["Sid"] == "RegistryKeyThroughS3"]
    assert kms["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com.cn"}}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "create_oidc_provider": True,
            "oidc_provider_arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/x",
        },
    ],
    ids=["neither", "both"],
)
def test_the_oidc_provider_is_either_given_or_created_explicitly(extra):
    args = {"bucket_arn": BUCKET_ARN, **PROVIDERS["github-branch"], **extra}
    with pytest.raises(ValueError, match=r"oidc_provider_arn .* or create_oidc_provider"):
        deploy(lambda: {"role": AwsCiWriterRole("ci", args)})


def test_the_prefix_can_come_from_the_bucket_output():
    from atlas_continuity.infra.aws import S3BackupBucket

    def build():
        backup = S3BackupBucket("b", {"prefix": "teams/db"})
        role = AwsCiWriterRole(
            "ci",
            {
                **PROVIDERS["github-branch"],
                "create_oidc_provider": True,
                "bucket_arn": backup.bucket_arn,
                "prefix": backup.prefix,
            },
        )
        return {"role": role}

    d = deploy(build)
    statements = {s["Sid"]: s for s in d.one(ROLE_POLICY).policy()["Statement"]}
    assert statements["WriteAtlasBackups"]["Resource"].endswith(":::b-bucket-5d1e7a9/teams/db/*")
