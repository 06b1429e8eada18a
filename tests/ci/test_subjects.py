"""Every job of the GitHub, GitLab, CircleCI and Bitbucket pipelines gets a cloud identity whose
trust admits the OIDC subject that provider issues for it, and no other subject gets in.

For each provider the test runs its `ci init` pipeline through the events that start it (a
pull request from a branch and from a fork, a push to main and to another branch, a manual
run), the way the provider decides which jobs run. For each job it computes the token the
provider would issue (subject and audience, or none), and the role the job would assume: the
variable its template reads, looked up where the job reads it in the stack program's
`ci_variables` output. The stack program runs under mocks with a CI writer per subject, and each
role's declared trust policy decides, through a real IAM evaluator (tests/infra/iam.py), every
token: a role lets in exactly the jobs it serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pytest
import yaml

from atlas_continuity.runtime.ci import render
from atlas_continuity.runtime.ci.jobs import CREDENTIAL_JOBS
from tests.infra.harness import run_program
from tests.infra.iam import WebIdentity, decide_trust

from .conftest import GitLabLoader, _interpolate, gitlab_component
from .provider_runs import (
    BB_ENVIRONMENTS,
    BB_REPO,
    BB_WORKSPACE,
    BB_WORKSPACE_UUID,
    CIRCLE_ORG,
    CIRCLE_ORIGIN,
    CIRCLE_PROJECT,
    CIRCLE_STACK_CONTEXT,
    GITHUB_REPO,
    GITLAB_PROJECT,
    ISSUERS,
    OTHER_SUBJECTS,
    RUNS,
    Run,
    github_triggers,
    gitlab_resolved,
)

# One CI writer per OIDC subject the pipelines use, each naming the jobs it serves.
STACK = {
    "atlas-continuity:aws": {
        "ci_writers": {
            "github-main": {
                "provider": "github",
                "repository": GITHUB_REPO,
                "branch": "main",
                "create_oidc_provider": True,
                "jobs": ["push", "drill"],
            },
            "github-production": {
                "provider": "github",
                "repository": GITHUB_REPO,
                "environment": "production",
                "jobs": ["deploy"],
            },
            "gitlab-main": {
                "provider": "gitlab",
                "repository": GITLAB_PROJECT,
                "branch": "main",
                "create_oidc_provider": True,
                "jobs": ["push", "deploy"],
            },
            "circleci-main": {
                "provider": "circleci",
                "organization": CIRCLE_ORG,
                "repository": CIRCLE_PROJECT,
                "vcs_origin": CIRCLE_ORIGIN,
                "branch": "main",
                "create_oidc_provider": True,
                "jobs": ["push", "deploy"],
            },
            "bitbucket-registry": {
                "provider": "bitbucket",
                "organization": BB_WORKSPACE,
                "workspace_uuid": BB_WORKSPACE_UUID,
                "repository": BB_REPO,
                "environment": BB_ENVIRONMENTS["registry"],
                "create_oidc_provider": True,
                "jobs": ["push"],
            },
            "bitbucket-production": {
                "provider": "bitbucket",
                "organization": BB_WORKSPACE,
                "workspace_uuid": BB_WORKSPACE_UUID,
                "repository": BB_REPO,
                "environment": BB_ENVIRONMENTS["production"],
                "jobs": ["deploy"],
            },
        }
    }
}
REPOSITORY = {"github": GITHUB_REPO, "gitlab": GITLAB_PROJECT, "circleci": CIRCLE_PROJECT}
REPOSITORY["bitbucket"] = BB_REPO


# --- the stack, under mocks ------------------------------------------------------------------


@dataclass
class Stack:
    variables: dict
    trusts: dict[str, dict]
    """Role ARN -> its declared trust policy."""

    def role_of(self, run: Run) -> str | None:
        """The role ARN the job finds in its variable, where the provider looks it up."""
        if run.role_variable is None:
            return None
        scopes = self.variables[run.provider][REPOSITORY[run.provider]]
        environment = scopes["environments"].get(run.environment or "", {})
        return environment.get(run.role_variable, scopes["variables"].get(run.role_variable))


@pytest.fixture(scope="module")
def stack() -> Stack:
    with pytest.MonkeyPatch.context() as monkeypatch:
        d, exported = run_program(STACK, monkeypatch)
    pulumi.runtime.set_all_config({})  # config is process-wide in the SDK
    trusts = {r.state["arn"]: r.policy("assumeRolePolicy") for r in d.of_type("aws:iam/role:Role")}
    assert len(trusts) == len(STACK["atlas-continuity:aws"]["ci_writers"])
    return Stack(exported["ci_variables"], trusts)


@pytest.fixture(scope="module", params=sorted(RUNS))
def provider_runs(request) -> tuple[str, list[Run]]:
    runs = list(RUNS[request.param](render(request.param)))
    assert runs
    return request.param, runs


def test_every_job_that_assumes_a_role_is_admitted_by_its_trust(stack, provider_runs):
    provider, runs = provider_runs
    assuming = [r for r in runs if r.issued and r.ours]
    catalogue = {job.name: job for job in CREDENTIAL_JOBS[provider]}
    assert {r.job for r in assuming} == set(catalogue)
    for run in assuming:
        # the stack program places each job's role by what the runtime says of the template
        assert run.environment == catalogue[run.job].environment, str(run)
        role = stack.role_of(run)
        assert role in stack.trusts, f"{run}: its role variable is not in ci_variables"
        assert decide_trust(role, stack.trusts[role], [run.token]) == ["Allowed"], str(run)


def test_no_other_subject_gets_in(stack, provider_runs):
    """Each role admits the tokens of the jobs it serves and nothing else: not lint's, not
    another job's, branch's or environment's, not a fork's."""
    provider, runs = provider_runs
    tokens = {r.token: set() for r in runs}
    for run in runs:
        if run.issued and run.ours:
            tokens[run.token].add(stack.role_of(run))
    for subject in OTHER_SUBJECTS[provider]:
        tokens.setdefault(WebIdentity(ISSUERS[provider], subject, runs[0].audience), set())
    audiences = {r.audience for r in runs if r.asks}
    for token in list(tokens):  # the right subject with another audience gets in nowhere
        tokens.setdefault(WebIdentity(token.issuer, token.subject, "https://example.com"), set())
    assert len(audiences) == 1
    for role, trust in stack.trusts.items():
        decisions = decide_trust(role, trust, list(tokens))
        for (token, admitted_by), decision in zip(tokens.items(), decisions, strict=True):
            expected = "Allowed" if role in admitted_by else "ImplicitlyDenied"
            assert decision == expected, (role, token)


def test_jobs_that_need_no_credentials_ask_for_none(provider_runs):
    """Lint, on pull / merge requests, asks for no token and names no role; a fork's pull
    request gets no token whatever its jobs ask."""
    provider, runs = provider_runs
    served = {j.name for j in CREDENTIAL_JOBS[provider]}
    for run in runs:
        assert run.asks == (run.job in served), str(run)
        assert (run.role_variable is not None) == run.asks, str(run)
        if run.event == "a pull request from a fork":
            assert not run.issued, str(run)


def test_the_fork_and_pull_request_cases_are_exercised(provider_runs):
    """The model runs each provider through the events that matter here."""
    _, runs = provider_runs
    events = {r.event for r in runs}
    assert any("main" in e for e in events)
    assert any("pull request" in e or "merge request" in e for e in events)


def test_github_pipeline_has_no_trigger_that_runs_fork_code_with_base_permissions():
    """pull_request_target and workflow_run run with the base repository's permissions and
    secrets; pull_request_target's token even carries the base branch's subject."""
    triggers = github_triggers(yaml.safe_load(render("github")))
    assert not {"pull_request_target", "workflow_run"} & set(triggers)


def test_github_role_variables_are_set_where_each_job_reads_them(stack):
    """`vars.X` in a job with an environment reads the environment's X first, then the
    repository's: every variable the workflow reads is in ci_variables, and each job's
    role-to-assume resolves to a role the stack declared."""
    text = render("github")
    scopes = stack.variables["github"][GITHUB_REPO]
    for job in yaml.safe_load(text)["jobs"].values():
        seen = {**scopes["variables"], **scopes["environments"].get(job.get("environment"), {})}
        for name in re.findall(r"vars\.(\w+)", yaml.safe_dump(job)):
            assert name in seen, name
        for step in job["steps"]:
            if "role-to-assume" in step.get("with", {}):
                role = _interpolate(step["with"]["role-to-assume"], {"vars": seen})
                assert role in stack.trusts


def test_jobs_without_an_identity_name_no_store():
    """A job that assumes no role would only fail to authenticate to the store: it keeps the
    grant in the provider's cache alone."""
    github = yaml.safe_load(render("github"))["jobs"]["lint"]
    for step in github["steps"]:
        if step.get("uses", "").startswith("atlas-continuity/atlas-continuity@"):
            assert not step["with"].get("store"), step

    doc = {**yaml.load(render("gitlab"), Loader=GitLabLoader)}
    doc[".atlas-grant"] = gitlab_component({"store": "$ATLAS_GRANT_STORE"})[".atlas-grant"]
    lint = gitlab_resolved(doc, "lint")
    assert "id_tokens" not in lint and lint["variables"]["ATLAS_CONTINUITY_STORE"] == ""

    circle = yaml.safe_load(render("circleci"))
    (workflow,) = circle["workflows"].values()
    contexts = {next(iter(j)): j[next(iter(j))]["context"] for j in workflow["jobs"]}
    assert contexts["lint"] != CIRCLE_STACK_CONTEXT
    assert {contexts[j.name] for j in CREDENTIAL_JOBS["circleci"]} == {CIRCLE_STACK_CONTEXT}

    bitbucket = yaml.safe_load(render("bitbucket"))["pipelines"]["pull-requests"]["**"]
    for item in bitbucket:
        step = item["step"]
        assert "ATLAS_GRANT_STORE" not in str(step) and not step.get("oidc"), step["name"]


@pytest.mark.parametrize("provider", sorted(RUNS))
def test_the_stack_outputs_fill_in_every_variable_the_template_reads(stack, provider):
    """Everything but the secrets (ATLAS_TOKEN, DATABASE_URL) comes from ci_variables, at the
    level the template's jobs read it from."""
    text = render(provider)
    scopes = stack.variables[provider][REPOSITORY[provider]]
    provided = set(scopes["variables"]).union(*scopes["environments"].values())
    read = set(re.findall(r"\b(ATLAS_GRANT_STORE|AWS_REGION|AWS_ROLE_ARN)\b", text))
    assert read and read <= provided, read - provided
