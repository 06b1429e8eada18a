"""The GCP components under mocks: every setting on the declared inputs, the identities'
conditions and roles (and nothing broader), and the refusals."""

from __future__ import annotations

import re

import pytest

from atlas_continuity.infra.ci_identity import ci_identity
from atlas_continuity.infra.gcp import (
    GcpCiWriterIdentity,
    GcsBackupBucket,
    GkeReaderIdentity,
    conditions,
)
from tests.infra.harness import GCP_PROJECT, GCP_PROJECT_NUMBER, GCS_AGENT, deploy

BUCKET = "gcp:storage/bucket:Bucket"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA = "gcp:serviceaccount/account:Account"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
KEY = "projects/kms/locations/europe/keyRings/atlas/cryptoKeys/backup"
B = "acme-atlas-backup"
OBJECTS = f"projects/_/buckets/{B}/objects/"
POOL_NAME = f"projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/ci-pool"

ORG = "0a1b2c3d-0000-4000-8000-00000000000a"
PROJECT = "0a1b2c3d-0000-4000-8000-00000000000b"
WS = "0a1b2c3d-0000-4000-8000-00000000000c"
REPO = "0a1b2c3d-0000-4000-8000-00000000000d"
ENV = "0a1b2c3d-0000-4000-8000-00000000000e"

GITHUB = {"provider": "github", "repository": "acme/app", "branch": "main"}
CIRCLECI = {
    "provider": "circleci",
    "organization": ORG,
    "repository": PROJECT,
    "vcs_origin": "github.com/acme/app",
    "branch": "main",
}
BITBUCKET = {
    "provider": "bitbucket",
    "organization": "acme",
    "workspace_uuid": WS,
    "repository": REPO,
    "environment": ENV,
}


def bucket(args: dict | None = None):
    d = deploy(lambda: {"b": GcsBackupBucket("backup", {"location": "EU", **(args or {})})})
    return d, d.one(BUCKET).inputs


def writer(args: dict, name: str = "ci"):
    full = {"bucket_name": B, **args}
    if "workload_identity_pool" not in full:
        full.setdefault("create_workload_identity_pool", True)
    return deploy(lambda: {"w": GcpCiWriterIdentity(name, full)})


# --- GcsBackupBucket -----------------------------------------------------------------------


def test_bucket_defaults_are_the_secure_posture():
    d, b = bucket()
    assert b["location"] == "EU"
    assert b["uniformBucketLevelAccess"] is True
    assert b["publicAccessPrevention"] == "enforced"
    assert b["versioning"] == {"enabled": True}
    assert b["softDeletePolicy"] == {"retentionDurationSeconds": 30 * 86400}
    assert b["forceDestroy"] is False
    assert "retentionPolicy" not in b and "encryption" not in b
    assert b["lifecycleRules"] == [
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        {
            "action": {"type": "Delete"},
            "condition": {"daysSinceNoncurrentTime": 365, "withState": "ARCHIVED"},
        },
    ]
    d.none("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    out = d.outputs["b"]
    assert out["store_url"] == f"gs://{out['bucket_name']}/atlas"
    assert out["prefix"] == "atlas" and out["kms_key_name"] is None


def test_bucket_options_on():
    d, b = bucket(
        {
            "bucket_name": B,
            "project": "acme-backups",
            "prefix": "teams/db",
            "soft_delete_days": 90,
            "noncurrent_version_expiration_days": None,
            "abort_incomplete_multipart_upload_days": 2,
            "kms_key_name": KEY,
            "force_destroy": True,
            "labels": {"team": "platform"},
        }
    )
    assert b["name"] == B and b["project"] == "acme-backups"
    assert b["softDeletePolicy"] == {"retentionDurationSeconds": 90 * 86400}
    assert b["lifecycleRules"] == [
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 2}}
    ]
    assert b["encryption"] == {"defaultKmsKeyName": KEY}
    assert b["forceDestroy"] is True and b["labels"] == {"team": "platform"}
    # CMEK works only if the project's Cloud Storage service agent may use the key.
    grant = d.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember").inputs
    assert grant == {
        "cryptoKeyId": KEY,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:{GCS_AGENT}",
    }
    assert d.outputs["b"]["store_url"] == f"gs://{B}/teams/db"


def test_a_retention_policy_replaces_versioning_and_can_be_locked():
    _, b = bucket({"retention_period_days": 30, "lock_retention_policy": True})
    assert b["retentionPolicy"] == {"retentionPeriod": str(30 * 86400), "isLocked": True}
    # GCS refuses Object Versioning on a bucket with a retention policy.
    assert b["versioning"] == {"enabled": False}
    assert [r["action"]["type"] for r in b["lifecycleRules"]] == ["AbortIncompleteMultipartUpload"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"location": None}, "location is required"),
        ({"location": ""}, "location is required"),
        ({"prefix": ""}, "a prefix is required"),
        ({"prefix": "a/*"}, "no wildcard"),
        ({"soft_delete_days": 3}, "soft_delete_days must be a whole number, 7 to 90"),
        ({"soft_delete_days": 0}, "soft_delete_days"),
        ({"lock_retention_policy": True}, "needs retention_period_days"),
        ({"kms_key_name": "my-key"}, "not a Cloud KMS key name"),
        ({"force_destroy": "no"}, "force_destroy must be true or false"),
        ({"bucket_name": "Atlas_Backup"}, "bucket_name 'Atlas_Backup' is not a GCS bucket name"),
        ({"bucket_name": "atlas-backup\n"}, "bucket_name .* is not a GCS bucket name"),
    ],
)
def test_bucket_refusals_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        bucket(args)


# --- GcpCiWriterIdentity: the trust --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "issuer", "audiences", "condition", "subject"),
    [
        (
            GITHUB,
            "https://token.actions.githubusercontent.com",
            None,
            'assertion.sub == "repo:acme/app:ref:refs/heads/main"',
            "assertion.sub",
        ),
        (
            {"provider": "gitlab", "repository": "acme/platform/app", "branch": "main"},
            "https://gitlab.com",
            None,
            'assertion.sub == "project_path:acme/platform/app:ref_type:branch:ref:main"',
            "assertion.sub",
        ),
        (
            CIRCLECI,
            f"https://oidc.circleci.com/org/{ORG}",
            [ORG],
            f'assertion.sub.matches("^org/{ORG}/project/{PROJECT}/user/.*/vcs-origin/'
            'github[.]com/acme/app/vcs-ref/refs/heads/main$")'
            ' && !assertion.sub.matches("^.*/vcs-ref/.*/vcs-ref/.*$")'
            ' && !assertion.sub.matches("^.*/vcs-origin/.*/vcs-origin/.*$")',
            "assertion['oidc.circleci.com/project-id']",
        ),
        (
            BITBUCKET,
            "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            [f"ari:cloud:bitbucket::workspace/{WS}"],
            f'assertion.sub.matches("^[{{]{REPO}[}}]:[{{]{ENV}[}}]:.*$")',
            "assertion.sub",
        ),
    ],
    ids=["github", "gitlab", "circleci", "bitbucket"],
)
def test_the_provider_pins_issuer_audience_and_subject(args, issuer, audiences, condition, subject):
    d = writer(args)
    provider = d.one(PROVIDER).inputs
    assert provider["oidc"] == {
        "issuerUri": issuer,
        **({"allowedAudiences": audiences} if audiences else {}),
    }
    assert provider["attributeCondition"] == condition
    provider_id = provider["workloadIdentityPoolProviderId"]
    assert provider["attributeMapping"] == {
        "google.subject": subject,
        "attribute.atlas_writer": f'"{provider_id}"',
    }
    out = d.outputs["w"]
    assert out["attribute_condition"] == condition
    assert out["workload_identity_provider"].endswith(f"/providers/{provider_id}")
    if audiences is None:  # the provider's own resource name, what google-github-actions asks for
        assert out["audience"] == f"https://iam.googleapis.com/{out['workload_identity_provider']}"
    else:
        assert out["audience"] == audiences[0]


def test_a_subject_beyond_the_basic_plane_is_written_as_itself_in_the_condition():
    """CEL's \\u escape names a code point: a UTF-16 surrogate pair is no CEL string."""
    d = writer({**GITHUB, "branch": "release/\U0001f680"})
    assert (
        d.one(PROVIDER).inputs["attributeCondition"]
        == 'assertion.sub == "repo:acme/app:ref:refs/heads/release/\U0001f680"'
    )


@pytest.mark.parametrize("case", ["circleci", "bitbucket", "github"])
def test_the_condition_admits_the_pinned_subject_and_nothing_else(case):
    """The CEL regex (RE2 syntax, Python-compatible as built) against real subjects."""
    args, good, bad = {
        "circleci": (
            CIRCLECI,
            [
                f"org/{ORG}/project/{PROJECT}/user/{WS}/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main"
            ],
            [
                f"org/{ORG}/project/{PROJECT}/user/{WS}/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/dev",
                f"org/{ORG}/project/{PROJECT}/user/{WS}/vcs-origin/x/vcs-ref/refs/heads/evil/vcs-ref/refs/heads/main",
                f"org/{ORG}/project/{REPO}/user/{WS}/vcs-origin/x/vcs-ref/refs/heads/main",
                # a fork's pull request, on the same project and branch name
                f"org/{ORG}/project/{PROJECT}/user/{WS}/vcs-origin/github.com/fork/app/vcs-ref/refs/heads/main",
            ],
        ),
        "bitbucket": (
            BITBUCKET,
            [f"{{{REPO}}}:{{{ENV}}}:{{{WS}}}"],
            [f"{{{REPO}}}:{{{WS}}}:{{{ENV}}}", f"x{{{REPO}}}:{{{ENV}}}:{{{WS}}}"],
        ),
        "github": (
            GITHUB,
            ["repo:acme/app:ref:refs/heads/main"],
            ["repo:acme/app:ref:refs/heads/main2", "repo:acme/app:pull_request"],
        ),
    }[case]
    identity = ci_identity(**args)
    condition = conditions.attribute_condition(identity)
    for sub in good + bad:
        expected = sub in good
        assert identity.subject_matches(sub) is expected, sub
        assert _cel_sub(condition, sub) is expected, (condition, sub)


def _cel_sub(condition: str, sub: str) -> bool:
    """Evaluate the attribute conditions this module builds (== and matches over
    assertion.sub, joined by &&, with !) for one subject."""
    result = True
    for term in condition.split(" && "):
        negate = term.startswith("!")
        term = term.removeprefix("!")
        if term.startswith("assertion.sub == "):
            value = sub == term.removeprefix("assertion.sub == ").strip('"')
        else:
            match = re.fullmatch(r'assertion\.sub\.matches\("(.*)"\)', term)
            assert match, term
            value = re.search(match.group(1), sub) is not None
        result = result and (value != negate)
    return result


def test_an_existing_pool_gets_the_provider_and_none_is_created():
    d = writer({**GITHUB, "workload_identity_pool": POOL_NAME})
    d.none(POOL)
    provider = d.one(PROVIDER).inputs
    assert provider["workloadIdentityPoolId"] == "ci-pool"
    assert d.outputs["w"]["principal"] == (
        f"principalSet://iam.googleapis.com/{POOL_NAME}/attribute.atlas_writer/"
        f"{provider['workloadIdentityPoolProviderId']}"
    )


def test_ids_are_stable_and_valid_and_can_be_given():
    d = writer({**GITHUB, "pool_id": "atlas-ci", "provider_id": "github-main", "project": "acme"})
    assert d.one(POOL).inputs == {
        "workloadIdentityPoolId": "atlas-ci",
        "displayName": "atlas-continuity ci",
        "description": "CI pipelines that push atlas-continuity registry backups",
        "project": "acme",
    }
    assert d.one(PROVIDER).inputs["workloadIdentityPoolProviderId"] == "github-main"
    first = writer(GITHUB).one(PROVIDER).inputs["workloadIdentityPoolProviderId"]
    assert first == writer(GITHUB).one(PROVIDER).inputs["workloadIdentityPoolProviderId"]
    assert re.match(r"^atlas-ci-[0-9a-f]{6}$", first)


# --- permissions: every role, every permission, every condition -------------------------------


def grants(d) -> dict[str, tuple[list[str], str, str]]:
    """member binding name -> (permissions of its role, member, condition expression)."""
    roles = {f"projects/{GCP_PROJECT}/roles/{r.inputs['roleId']}": r for r in d.of_type(ROLE)}
    out = {}
    for m in d.of_type(MEMBER):
        assert m.inputs["bucket"] == B
        role = roles[m.inputs["role"]]
        out[m.name] = (
            role.inputs["permissions"],
            m.inputs["member"],
            m.inputs["condition"]["expression"],
        )
    return out


READ_CONDITION = (
    f'resource.name.startsWith("{OBJECTS}atlas/") || '
    '(resource.type == "storage.googleapis.com/Bucket" && '
    f'resource.name == "projects/_/buckets/{B}" '
    '&& api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("atlas/"))'
)


def test_writer_grants_exactly_read_create_and_the_atlas_replace_right():
    d = writer(GITHUB)
    principal = d.outputs["w"]["principal"]
    assert principal.startswith("principalSet://iam.googleapis.com/projects/")
    assert grants(d) == {
        "ci-read": (["storage.objects.get", "storage.objects.list"], principal, READ_CONDITION),
        "ci-create": (
            ["storage.objects.create"],
            principal,
            f'resource.name.startsWith("{OBJECTS}atlas/")',
        ),
        # The only delete: replacing Atlas's own backups, never inside atlas-continuity/.
        "ci-replace": (
            ["storage.objects.delete"],
            principal,
            f'resource.name.startsWith("{OBJECTS}atlas/") && '
            f'!resource.name.startsWith("{OBJECTS}atlas/atlas-continuity/")',
        ),
    }
    d.none(SA)


def test_without_atlas_backup_writes_the_writer_creates_only_in_the_runtime_folders():
    d = writer({**GITHUB, "allow_atlas_backup_writes": False, "prefix": "teams/db"})
    got = grants(d)
    assert set(got) == {"ci-read", "ci-create"}
    assert got["ci-create"][2] == (
        f'resource.name.startsWith("{OBJECTS}teams/db/atlas-continuity/registry/") || '
        f'resource.name.startsWith("{OBJECTS}teams/db/atlas-continuity/grants/")'
    )


def test_through_a_service_account_the_bucket_grants_the_account_and_the_pool_may_impersonate_it():
    d = writer({**GITHUB, "service_account": True, "service_account_id": "atlas-ci-writer"})
    email = f"atlas-ci-writer@{GCP_PROJECT}.iam.gserviceaccount.com"
    out = d.outputs["w"]
    assert out["service_account_email"] == email
    assert out["principal"] == f"serviceAccount:{email}"
    assert {m for _, m, _ in grants(d).values()} == {f"serviceAccount:{email}"}
    impersonation = d.one(SA_MEMBER).inputs
    assert impersonation["role"] == "roles/iam.workloadIdentityUser"
    assert impersonation["member"].startswith("principalSet://iam.googleapis.com/projects/")
    assert impersonation["serviceAccountId"].endswith(f"/serviceAccounts/{email}")


def test_no_identity_gets_admin_delete_in_the_runtime_folder_or_anything_outside_the_bucket():
    """Every role and permission the GCP identities hold, listed."""

    def build():
        return {
            "w": GcpCiWriterIdentity(
                "ci",
                {
                    **GITHUB,
                    "bucket_name": B,
                    "create_workload_identity_pool": True,
                    "service_account": True,
                },
            ),
            "r": GkeReaderIdentity(
                "op",
                {
                    "namespace": "atlas",
                    "service_account": "op",
                    "grant_service_account": "grants",
                    "bucket_name": B,
                    "mode": "service-account",
                },
            ),
        }

    d = deploy(build)
    permissions = {p for r in d.of_type(ROLE) for p in r.inputs["permissions"]}
    assert permissions == {
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.create",
        "storage.objects.delete",
    }
    # Every grant is a conditional binding on this bucket, under the prefix.
    for name, (perms, _, expression) in grants(d).items():
        assert (
            f"/buckets/{B}" in expression and '"atlas/' in expression
        ) or f"{OBJECTS}atlas/" in expression
        if "storage.objects.delete" in perms:
            assert name == "ci-replace"
            assert f'!resource.name.startsWith("{OBJECTS}atlas/atlas-continuity/")' in expression
    # Project-level: only impersonation of the identity's own service accounts.
    assert {m.inputs["role"] for m in d.of_type(SA_MEMBER)} == {"roles/iam.workloadIdentityUser"}
    assert not [r for r in d.resources if r.type.startswith("gcp:projects/iAMMember")]
    assert not [r for r in d.resources if "admin" in str(r.inputs.get("role", "")).lower()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"provider": "github", "repository": "acme/app"}, "exactly one of branch or environment"),
        ({"provider": "github", "repository": "*", "branch": "main"}, "wildcard"),
        ({"provider": "github", "repository": "acme/app", "branch": "*"}, "wildcard"),
        ({"provider": "gitlab", "repository": "acme/app"}, "branch is required"),
        ({**CIRCLECI, "branch": None}, "branch is required"),
        (
            {**BITBUCKET, "environment": None},
            r"environment \(Bitbucket deployment environment UUID\) is required",
        ),
        ({**BITBUCKET, "environment": "*"}, "wildcard"),
        ({"provider": "jenkins", "repository": "a/b", "branch": "m"}, "must be one of"),
        ({**GITHUB, "bucket_name": None}, "bucket_name is required"),
        ({**GITHUB, "bucket_name": "Bad_Bucket"}, "not a GCS bucket name"),
        ({**GITHUB, "prefix": ""}, "a prefix is required"),
        (
            {**GITHUB, "create_workload_identity_pool": False},
            "workload_identity_pool .* or create_workload_identity_pool",
        ),
        (
            {**GITHUB, "workload_identity_pool": "my-pool", "create_workload_identity_pool": False},
            "give the pool's resource name",
        ),
        ({**GITHUB, "pool_id": "gcp-pool"}, "pool_id"),
        ({**GITHUB, "pool_id": "atlas-pool\n"}, "pool_id"),
        ({**GITHUB, "provider_id": "X"}, "provider_id"),
        ({**GITHUB, "service_account_id": "x"}, "service_account_id needs service_account"),
        ({**GITHUB, "repository": "acme/" + "r" * 90, "branch": "b" * 40}, "127 bytes"),
        (
            {**GITHUB, "allow_atlas_backup_writes": "yes"},
            "allow_atlas_backup_writes must be true or false",
        ),
    ],
)
def test_writer_refusals_name_the_argument(args, message):
    declared = []

    def build():
        try:
            GcpCiWriterIdentity(
                "ci", {"bucket_name": B, "create_workload_identity_pool": True, **args}
            )
        except ValueError as exc:
            declared.append(str(exc))
        return {}

    d = deploy(build)
    assert declared and re.search(message, declared[0]), declared
    assert d.resources == []


# --- GkeReaderIdentity ----------------------------------------------------------------------


def test_reader_direct_grants_the_kubernetes_service_account_read_and_list_only():
    d = deploy(
        lambda: {
            "r": GkeReaderIdentity(
                "op",
                {
                    "namespace": "atlas",
                    "service_account": "atlas-operator",
                    "bucket_name": B,
                    "cluster_project": "acme-prod",
                },
            )
        }
    )
    principal = (
        f"principal://iam.googleapis.com/projects/{GCP_PROJECT_NUMBER}/locations/global/"
        "workloadIdentityPools/acme-prod.svc.id.goog/subject/ns/atlas/sa/atlas-operator"
    )
    assert grants(d) == {
        "op-read": (["storage.objects.get", "storage.objects.list"], principal, READ_CONDITION)
    }
    assert d.outputs["r"]["service_account_annotations"] == {}
    d.none(SA)


def test_reader_through_a_google_service_account_needs_the_annotation():
    d = deploy(
        lambda: {
            "r": GkeReaderIdentity(
                "op",
                {
                    "namespace": "atlas",
                    "service_account": "atlas-operator",
                    "bucket_name": B,
                    "mode": "service-account",
                    "service_account_id": "atlas-reader",
                },
            )
        }
    )
    email = f"atlas-reader@{GCP_PROJECT}.iam.gserviceaccount.com"
    assert d.outputs["r"]["service_account_annotations"] == {
        "iam.gke.io/gcp-service-account": email
    }
    assert (
        d.one(SA_MEMBER).inputs["member"]
        == f"serviceAccount:{GCP_PROJECT}.svc.id.goog[atlas/atlas-operator]"
    )
    assert [m for _, m, _ in grants(d).values()] == [f"serviceAccount:{email}"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"namespace": None}, "namespace is required"),
        ({"service_account": "Op*"}, "wildcard"),
        ({"mode": "keys"}, "mode must be direct or service-account"),
        ({"service_account_id": "atlas-reader"}, "service_account_id is for mode service-account"),
        ({"cluster_project": "X"}, "not a GCP project ID"),
        ({"prefix": "a/../b"}, "prefix"),
        ({"grant_service_account": "op"}, "must differ"),
        ({"grant_service_account": "g*"}, "wildcard"),
        ({"grant_service_account": "grants", "grant_name": "cluster-a\n"}, "grant_name"),
    ],
)
def test_reader_refusals_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        deploy(
            lambda: {
                "r": GkeReaderIdentity(
                    "op", {"namespace": "atlas", "service_account": "op", "bucket_name": B, **args}
                )
            }
        )


SERIES = "atlas-continuity/grants/atlas.test.atlas/"
"""One grant series: <project>.<stack>.<namespace> by default, as AtlasOperator's."""
GRANTS = f"{OBJECTS}atlas/{SERIES}"
GRANT_READ = (
    f'resource.name.startsWith("{GRANTS}") || '
    '(resource.type == "storage.googleapis.com/Bucket" && '
    f'resource.name == "projects/_/buckets/{B}" && api.getAttribute('
    f'"storage.googleapis.com/objectListPrefix", "").startsWith("atlas/{SERIES}"))'
)


@pytest.mark.parametrize("mode", ["direct", "service-account"])
def test_the_grant_writer_creates_reads_and_lists_grant_snapshots_only(mode):
    args = {
        "namespace": "atlas",
        "service_account": "atlas-operator",
        "grant_service_account": "atlas-grants",
        "bucket_name": B,
        "mode": mode,
    }
    d = deploy(lambda: {"r": GkeReaderIdentity("op", args)})
    out = d.outputs["r"]
    member = out["grant_writer_principal"]
    bindings = grants(d)
    assert {k: v for k, v in bindings.items() if k.startswith("op-grants-")} == {
        "op-grants-read": (["storage.objects.get", "storage.objects.list"], member, GRANT_READ),
        "op-grants-create": (
            ["storage.objects.create"],
            member,
            f'resource.name.startsWith("{GRANTS}")',
        ),
    }
    assert bindings["op-read"][1] == out["principal"] != member
    if mode == "direct":
        assert member.endswith("/subject/ns/atlas/sa/atlas-grants")
        assert out["grant_writer_service_account_annotations"] == {}
    else:
        email = member.removeprefix("serviceAccount:")
        assert out["grant_writer_service_account_annotations"] == {
            "iam.gke.io/gcp-service-account": email
        }
        impersonation = {m.name: m.inputs["member"] for m in d.of_type(SA_MEMBER)}
        assert impersonation["op-grants-impersonation"].endswith("[atlas/atlas-grants]")
