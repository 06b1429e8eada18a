"""The stack program composes the components from a stack's config file (stacks/)."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from devtools.emulators import ROOT
from tests.helpers import env_with_repo_block
from tests.infra.harness import Deployment
from tests.infra.harness import run_program as run

EXAMPLE = ROOT / "stacks" / "Pulumi.dev.yaml"


pytestmark = pytest.mark.usefixtures("clean_pulumi_config")


def test_the_dev_stack_declares_a_bucket_and_its_writers(monkeypatch):
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    d, exported = run(config, monkeypatch)
    types = [r.type for r in d.resources if r.type.startswith("atlas-continuity:index:")]
    assert sorted(types) == [
        "atlas-continuity:index:AwsCiWriterRole",
        "atlas-continuity:index:AwsCiWriterRole",
        "atlas-continuity:index:ContinuityPlan",
        "atlas-continuity:index:S3BackupBucket",
    ]
    (url,) = exported["backup_urls"]
    bucket = exported["aws_bucket"]
    assert url == exported["store_url"] == f"s3://{bucket}/atlas?region=us-east-1"
    roles = exported["aws_ci_role_arns"]
    assert set(roles) == {"github-main", "github-production"}
    assert exported["aws_reader_role_arns"] == {}  # dev has no cluster
    # Everything the ci init github template reads, from the outputs alone: the push job's role
    # among the repository's variables, the deploy job's in the production environment's.
    assert exported["ci_variables"] == {
        "github": {
            "acme/db": {
                "variables": {
                    "ATLAS_GRANT_STORE": url,
                    "AWS_REGION": "us-east-1",
                    "AWS_ROLE_ARN": roles["github-main"],
                },
                "environments": {"production": {"AWS_ROLE_ARN": roles["github-production"]}},
            }
        }
    }
    # One IAM OIDC provider for GitHub's issuer (an account holds one), trusted by both roles.
    (provider,) = d.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    trusts = [r.policy("assumeRolePolicy") for r in d.of_type("aws:iam/role:Role")]
    federated = {
        s["Principal"]["Federated"] for t in trusts for s in t["Statement"] if "Federated" in str(s)
    }
    assert federated == {provider.state["arn"]}
    # The roles are scoped to the bucket's prefix and key, wired by the program.
    policies = [r.policy() for r in d.of_type("aws:iam/rolePolicy:RolePolicy")]
    assert all(
        any(f":::{bucket}/atlas/*" in str(s.get("Resource")) for s in p["Statement"])
        for p in policies
    )


def test_the_atlas_hcl_block_loads_through_config_with_the_backup_list(monkeypatch, tmp_path):
    config = yaml.safe_load(EXAMPLE.read_text())["config"]
    _, exported = run(config, monkeypatch)
    env = env_with_repo_block(exported["atlas_hcl_repo"], tmp_path)
    assert (env.repo, env.primary, list(env.backups)) == ("app", None, exported["backup_urls"])


GITHUB = {"provider": "github", "repository": "acme/db", "create_oidc_provider": True}


@pytest.mark.parametrize(
    ("aws", "message"),
    [
        ({"buckets": {}}, "unknown keys"),
        ({"ci_writers": {"x": {"bucket_arn": "arn:aws:s3:::other"}}}, "come from the bucket"),
        ({"readers": []}, "must be a mapping"),
        # A writer names the jobs it serves, and they must be jobs that ask for credentials.
        ({"ci_writers": {"x": {**GITHUB, "branch": "main"}}}, r"ci_writers\.x\.jobs: name"),
        ({"ci_writers": {"x": {**GITHUB, "branch": "main", "jobs": "push"}}}, "as a list"),
        ({"ci_writers": {"x": {**GITHUB, "branch": "main", "jobs": ["lint"]}}}, "asks for none"),
        ({"ci_writers": {"x": {**GITHUB, "branch": "main", "jobs": ["build"]}}}, "no job 'build'"),
        # Its pinned branch or environment must be the one the job's subject carries.
        (
            {"ci_writers": {"x": {**GITHUB, "branch": "main", "jobs": ["deploy"]}}},
            r"'deploy' carries the OIDC subject of environment 'production'",
        ),
        (
            {"ci_writers": {"x": {**GITHUB, "environment": "staging", "jobs": ["deploy"]}}},
            r"pins environment 'staging'",
        ),
        (
            {"ci_writers": {"x": {**GITHUB, "branch": "develop", "jobs": ["push"]}}},
            r"pins branch 'develop'",
        ),
        # One identity per job; jobs that read one place share one identity.
        (
            {
                "ci_writers": {
                    "x": {**GITHUB, "branch": "main", "jobs": ["push"]},
                    "y": {
                        **GITHUB,
                        "create_oidc_provider": False,
                        "branch": "main",
                        "jobs": ["push"],
                    },
                }
            },
            r"ci_writers\.y\.jobs: github job 'push' of acme/db is already served by "
            r"atlas-continuity:aws\.ci_writers\.x",
        ),
        (
            {
                "ci_writers": {
                    "x": {
                        "provider": "gitlab",
                        "repository": "acme/db",
                        "branch": "main",
                        "create_oidc_provider": True,
                        "jobs": ["push"],
                    },
                    "y": {
                        "provider": "gitlab",
                        "repository": "acme/db",
                        "branch": "main",
                        "jobs": ["deploy"],
                    },
                }
            },
            r"ci_writers\.y: the gitlab job 'deploy' reads AWS_ROLE_ARN from the pipeline-wide",
        ),
        # The account holds one OIDC provider per issuer.
        (
            {
                "ci_writers": {
                    "x": {**GITHUB, "branch": "main", "jobs": ["push"]},
                    "y": {**GITHUB, "environment": "production", "jobs": ["deploy"]},
                }
            },
            "already creates the OIDC provider for https://token.actions.githubusercontent.com",
        ),
    ],
)
def test_config_mistakes_are_refused_with_the_key(aws, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        run({"atlas-continuity:aws": aws}, monkeypatch)


THREE_CLOUDS = {
    "atlas-continuity:repo": "app",
    "atlas-continuity:aws": {
        "bucket": {},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "create_oidc_provider": True,
                "jobs": ["push"],
            }
        },
    },
    "atlas-continuity:gcp": {
        "bucket": {"location": "EU"},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "create_workload_identity_pool": True,
                "jobs": ["push"],
            }
        },
        "readers": {"prod": {"namespace": "atlas", "service_account": "op"}},
    },
    "atlas-continuity:azure": {
        "container": {"resource_group_name": "atlas"},
        "ci_writers": {
            "main": {
                "provider": "github",
                "repository": "acme/db",
                "branch": "main",
                "resource_group_name": "atlas",
                "jobs": ["push"],
            }
        },
        "readers": {
            "prod": {
                "namespace": "atlas",
                "service_account": "op",
                "oidc_issuer_url": "https://issuer.example/x/",
                "resource_group_name": "atlas",
            }
        },
    },
}


def test_three_clouds_list_their_stores_in_order_and_merge_the_ci_variables(monkeypatch):
    """One job, served by a writer on each cloud: it finds every cloud's identity, and the
    grant store of the first."""
    d, exported = run(THREE_CLOUDS, monkeypatch)
    urls = exported["backup_urls"]
    assert urls == [
        exported["aws_store_url"],
        exported["gcp_store_url"],
        exported["azure_store_url"],
    ]
    assert [u.split("://")[0] for u in urls] == ["s3", "gs", "azureblob"]
    assert exported["store_url"] == urls[0]
    variables = exported["ci_variables"]["github"]["acme/db"]["variables"]
    assert variables["ATLAS_GRANT_STORE"] == urls[0]
    assert variables["AWS_ROLE_ARN"] == exported["aws_ci_role_arns"]["main"]
    assert (
        variables["GCP_WORKLOAD_IDENTITY_PROVIDER"]
        == exported["gcp_ci_workload_identity_providers"]["main"]
    )
    assert variables["GCP_WORKLOAD_IDENTITY_AUDIENCE"].startswith(
        "https://iam.googleapis.com/projects/"
    )
    assert variables["AZURE_CLIENT_ID"] == exported["azure_ci_client_ids"]["main"]
    assert {"AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"} <= set(variables)
    # Each identity is wired to its own cloud's store.
    gcp_members = [r for r in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")]
    assert {m.inputs["bucket"] for m in gcp_members} == {exported["gcp_bucket"]}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"atlas-continuity:gcp": {"bucket": {"location": "EU"}, "writers": {}}},
            r"gcp: unknown keys \['writers'\]",
        ),
        (
            {"atlas-continuity:gcp": {"bucket": {"locaton": "EU"}}},
            r"gcp.bucket: unknown keys \['locaton'\]",
        ),
        (
            {
                "atlas-continuity:azure": {
                    "container": {"resource_group_name": "a"},
                    "readers": {"x": {"container_id": "y"}},
                }
            },
            "come from the container",
        ),
        (
            {
                "atlas-continuity:gcp": {
                    "bucket": {"location": "EU"},
                    "ci_writers": {"x": {"provider": "github", "brnach": "main"}},
                }
            },
            r"gcp.ci_writers.x: unknown keys \['brnach'\]",
        ),
    ],
)
def test_gcp_and_azure_config_mistakes_are_refused_with_the_key(config, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        run(config, monkeypatch)


def test_a_job_no_writer_serves_is_reported(monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))
    config = {
        "atlas-continuity:aws": {
            "ci_writers": {"x": {**GITHUB, "branch": "main", "jobs": ["push"]}}
        }
    }
    _, exported = run(config, monkeypatch)
    assert exported["ci_variables"]["github"]["acme/db"]["environments"] == {}
    assert warnings == [
        "ci_variables: no CI writer serves the github job(s) deploy, drill of acme/db; "
        "add one per OIDC subject"
    ]


def test_writers_of_one_issuer_share_its_provider_whatever_their_order(monkeypatch):
    """The writer that trusts the provider may be listed before the one that creates it."""
    writers = {
        "production": {
            "provider": "github",
            "repository": "acme/db",
            "environment": "production",
            "jobs": ["deploy"],
        },
        "main": {**GITHUB, "branch": "main", "jobs": ["push"]},
    }
    d, exported = run({"atlas-continuity:aws": {"ci_writers": writers}}, monkeypatch)
    (provider,) = d.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    for role in d.of_type("aws:iam/role:Role"):
        (statement,) = role.policy("assumeRolePolicy")["Statement"]
        assert statement["Principal"] == {"Federated": provider.state["arn"]}
    assert list(exported["aws_ci_role_arns"]) == ["production", "main"]  # config order


# --- config errors name the key and its path ---------------------------------------------------

OPERATOR_STACK = {
    "atlas-continuity:gcp": {
        "bucket": {"location": "EU"},
        "readers": {
            "gke": {
                "namespace": "atlas",
                "service_account": "op",
                "grant_service_account": "grants",
            }
        },
    },
    "atlas-continuity:operator": {
        "cloud": "gcp",
        "reader": "gke",
        "settings": {"runtime_image": "ghcr.io/acme/atlas-continuity:0.2.0"},
    },
}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # a wrong key, at every depth
        ({"atlas-continuity:gpc": {}}, r"^atlas-continuity:gpc: unknown config key"),
        (
            {"atlas-continuity:aws": {"bucket": {"create_kms_keys": True}}},
            r"^atlas-continuity:aws\.bucket: unknown keys \['create_kms_keys'\] "
            r"\('create_kms_keys': did you mean 'create_kms_key'\?\)",
        ),
        (
            {
                **OPERATOR_STACK,
                "atlas-continuity:operator": {
                    "cloud": "gcp",
                    "reader": "gke",
                    "settings": {"chart_versoin": "1"},
                },
            },
            r"^atlas-continuity:operator\.settings: unknown keys \['chart_versoin'\]",
        ),
        # a wrong type
        (
            {"atlas-continuity:aws": {"bucket": {"create_kms_key": "yes"}}},
            r"^atlas-continuity:aws\.bucket\.create_kms_key: expected true or false, "
            r"got a string 'yes'",
        ),
        (
            {"atlas-continuity:gcp": {"bucket": {"location": "EU", "labels": {"team": 7}}}},
            r"^atlas-continuity:gcp\.bucket\.labels\.team: expected a string, got a number 7",
        ),
        (
            {"atlas-continuity:repo": ["app"]},
            r"^atlas-continuity:repo: expected a string, got a list",
        ),
        (
            {
                "atlas-continuity:aws": {
                    "ci_writers": {"main": {**GITHUB, "branch": ["main"], "jobs": ["push"]}}
                }
            },
            r"^atlas-continuity:aws\.ci_writers\.main\.branch: expected a string, got a list",
        ),
        # a value a component refuses, said at its path, not the component's name
        (
            {
                "atlas-continuity:aws": {
                    "readers": {"prod": {"namespace": "Bad_NS", "service_account": "op"}}
                }
            },
            r"^atlas-continuity:aws\.readers\.prod: namespace 'Bad_NS' is not a Kubernetes",
        ),
        (
            {
                "atlas-continuity:aws": {
                    "ci_writers": {"main": {**GITHUB, "repository": "not a repo", "branch": "main"}}
                }
            },
            r"^atlas-continuity:aws\.ci_writers\.main: repository 'not a repo': GitHub wants",
        ),
        (
            {"atlas-continuity:azure": {"container": {"resource_group_name": "a", "sku": 7}}},
            r"^atlas-continuity:azure\.container\.sku: expected a string, got a number 7",
        ),
        (
            {
                "atlas-continuity:azure": {
                    "container": {"resource_group_name": "a", "account_name": "A"}
                }
            },
            r"^atlas-continuity:azure\.container: account_name 'A' must be 3 to 24",
        ),
        (
            {
                **OPERATOR_STACK,
                "atlas-continuity:operator": {
                    "cloud": "gcp",
                    "reader": "gke",
                    "settings": {
                        "runtime_image": "ghcr.io/acme/atlas-continuity:0.2.0",
                        "backup_schedule": "hourly",
                    },
                },
            },
            r"^atlas-continuity:operator\.settings: backup_schedule 'hourly': five cron fields",
        ),
        (
            {
                **OPERATOR_STACK,
                "atlas-continuity:operator": {
                    "cloud": "gcp",
                    "reader": "gke",
                    "settings": {"grant_name": "../prod"},
                },
            },
            r"^atlas-continuity:operator\.settings\.grant_name: invalid grant series name "
            r"'\.\./prod'",
        ),
        # days beyond a century, and beyond what a float holds
        *(
            (
                {"atlas-continuity:aws": {"bucket": {"noncurrent_version_expiration_days": days}}},
                r"^atlas-continuity:aws\.bucket: noncurrent_version_expiration_days must be a "
                r"whole number, at least 1 and at most 36500 \(a century\)",
            )
            for days in (10**23, 10**400)
        ),
        # a plan of no cloud
        (
            {"atlas-continuity:repo": "svc"},
            r"^atlas-continuity: no cloud configured: give atlas-continuity:aws, "
            r"atlas-continuity:gcp or atlas-continuity:azure",
        ),
        # IAM (and Azure) refuse a role named after it at apply, after the buckets exist
        *(
            (
                {"atlas-continuity:aws": {"bucket": {}, "readers": {entry: {}}}},
                rf"^atlas-continuity:aws\.readers: name '{entry}': up to 40 letters, digits",
            )
            for entry in ("prod eks", "p" * 41)
        ),
        # checked when the stores' URLs are known, it failed after apply, or not in a plan
        (
            {"atlas-continuity:repo": "bad name", "atlas-continuity:aws": {"bucket": {}}},
            r"^atlas-continuity:repo: invalid repository name 'bad name'",
        ),
        # a missing required key
        (
            {"atlas-continuity:gcp": {"bucket": {}}},
            r"^atlas-continuity:gcp\.bucket\.location is required",
        ),
        ({"atlas-continuity:azure": {}}, r"^atlas-continuity:azure\.container is required"),
        (
            {"atlas-continuity:aws": {"readers": {"prod": {"namespace": "atlas"}}}},
            r"^atlas-continuity:aws\.readers\.prod\.service_account is required",
        ),
        (
            {**OPERATOR_STACK, "atlas-continuity:operator": {"cloud": "gcp"}},
            r"^atlas-continuity:operator\.reader is required",
        ),
        # the operator's references
        (
            {**OPERATOR_STACK, "atlas-continuity:operator": {"cloud": "aws", "reader": "gke"}},
            r"^atlas-continuity:operator\.cloud: aws is not configured",
        ),
        (
            {**OPERATOR_STACK, "atlas-continuity:operator": {"cloud": "gcp", "reader": "eks"}},
            r"^atlas-continuity:operator\.reader: no reader 'eks' under "
            r"atlas-continuity:gcp\.readers",
        ),
        (
            {
                **OPERATOR_STACK,
                "atlas-continuity:operator": {
                    "cloud": "gcp",
                    "reader": "gke",
                    "settings": {"namespace": "elsewhere"},
                },
            },
            r"^atlas-continuity:operator\.settings: \['namespace'\] come from the reader",
        ),
        (
            {
                **OPERATOR_STACK,
                "atlas-continuity:gcp": {
                    "bucket": {"location": "EU"},
                    "readers": {"gke": {"namespace": "atlas", "service_account": "op"}},
                },
            },
            r"^atlas-continuity:gcp\.readers\.gke\.grant_service_account is required: the "
            r"operator's grant jobs",
        ),
    ],
)
def test_a_config_mistake_is_refused_naming_its_key(config, message, monkeypatch):
    with pytest.raises(ValueError, match=message):
        run(config, monkeypatch)


def test_the_operator_gets_the_reader_s_service_accounts_and_the_cloud_s_store(monkeypatch):
    d, exported = run(OPERATOR_STACK, monkeypatch)
    (release,) = d.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["namespace"] == "atlas"
    assert release.inputs["values"]["serviceAccount"]["name"] == "op"
    (cron,) = d.of_type("kubernetes:batch/v1:CronJob")
    pod = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "grants"
    assert pod["containers"][0]["command"][5] == exported["gcp_store_url"]
    members = {m.inputs["member"] for m in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert any(m.endswith("/ns/atlas/sa/grants") for m in members)
    assert exported["operator_grant_backup_schedule"] == "*/30 * * * *"


def test_the_operator_waits_for_every_resource_of_its_reader_identity(monkeypatch):
    """In GKE direct mode nothing in the operator's inputs refers to the reader (its service
    account needs no annotation): without an explicit dependency a pod could start before its
    IAM bindings exist, and stay without credentials until it restarts."""
    d, _ = run(OPERATOR_STACK, monkeypatch)
    operator = d.one("atlas-continuity:index:AtlasOperator")
    reader = d.one("atlas-continuity:index:GkeReaderIdentity")
    identity = {r.urn for r in d.resources if r.parent == reader.urn}
    # a custom role and its binding each: the reader's read, the grant writer's read and create
    assert len(identity) == 6
    assert identity <= set(operator.depends_on)


def _grant_series(d: Deployment) -> tuple[str, set[str]]:
    """The series the backup CronJob saves to, and the prefixes the grant writer may create in."""
    (cron,) = d.of_type("kubernetes:batch/v1:CronJob")
    saved = cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    creatable = {
        m.inputs["condition"]["description"].rsplit("/atlas-continuity/grants/", 1)[1]
        for m in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if m.inputs["condition"]["title"] == "atlas-continuity: create grant snapshots"
    }
    return saved["command"][-1], creatable


@pytest.mark.parametrize("where", ["operator", "reader"])
def test_a_grant_series_set_once_is_the_one_the_jobs_save_and_the_writer_may_write(
    where, monkeypatch
):
    config = yaml.safe_load(yaml.safe_dump(OPERATOR_STACK))
    if where == "operator":
        config["atlas-continuity:operator"]["settings"]["grant_name"] = "prod-gke"
    else:
        config["atlas-continuity:gcp"]["readers"]["gke"]["grant_name"] = "prod-gke"
    d, _ = run(config, monkeypatch)
    assert _grant_series(d) == ("prod-gke", {"prod-gke/"})


def test_the_default_grant_series_is_the_same_for_the_jobs_and_the_writer(monkeypatch):
    d, _ = run(OPERATOR_STACK, monkeypatch)
    saved, creatable = _grant_series(d)
    assert creatable == {f"{saved}/"}


def test_two_grant_series_for_one_operator_are_refused(monkeypatch):
    config = yaml.safe_load(yaml.safe_dump(OPERATOR_STACK))
    config["atlas-continuity:operator"]["settings"]["grant_name"] = "prod-gke"
    config["atlas-continuity:gcp"]["readers"]["gke"]["grant_name"] = "prod"
    with pytest.raises(
        ValueError,
        match=r"^atlas-continuity:operator\.settings\.grant_name 'prod-gke' differs from "
        r"atlas-continuity:gcp\.readers\.gke\.grant_name 'prod'",
    ):
        run(config, monkeypatch)
