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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pulumi
import pytest
import yaml

from atlas_continuity.runtime.ci import render
from atlas_continuity.runtime.ci.jobs import CREDENTIAL_JOBS
from tests.infra.harness import run_program
from tests.infra.iam import WebIdentity, decide_trust

from .conftest import GitLabLoader, _expression, _interpolate, gitlab_component, gitlab_shells

# --- the repositories and the CI systems' identifiers --------------------------------------

GITHUB_REPO = "acme/db"
GITLAB_PROJECT = "acme/platform/db"
CIRCLE_ORG = "0a1b2c3d-0000-4000-8000-00000000000a"
CIRCLE_PROJECT = "0a1b2c3d-0000-4000-8000-00000000000b"
CIRCLE_ORIGIN = "github.com/acme/db"
BB_WORKSPACE, BB_WORKSPACE_UUID = "acme", "0a1b2c3d-0000-4000-8000-00000000000c"
BB_REPO = "0a1b2c3d-0000-4000-8000-00000000000d"
BB_FORK = "0a1b2c3d-0000-4000-8000-0000000000f0"
BB_ENVIRONMENTS = {  # what the user's Bitbucket calls each deployment environment
    "registry": "0a1b2c3d-0000-4000-8000-00000000000e",
    "production": "0a1b2c3d-0000-4000-8000-00000000000f",
    "staging": "0a1b2c3d-0000-4000-8000-000000000010",
}
BB_STEP = "{0a1b2c3d-0000-4000-8000-0000000000aa}"  # a step's UUID: new every run

ISSUERS = {
    "github": "token.actions.githubusercontent.com",
    "gitlab": "gitlab.com",
    "circleci": f"oidc.circleci.com/org/{CIRCLE_ORG}",
    "bitbucket": f"api.bitbucket.org/2.0/workspaces/{BB_WORKSPACE}/pipelines-config/identity/oidc",
}

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


@dataclass(frozen=True)
class Run:
    """One job in one run of a pipeline, as the CI provider runs it."""

    provider: str
    event: str
    job: str
    asks: bool
    """The job asks the provider for an OIDC token (it means to assume a role)."""
    issued: bool
    """The provider issues one (it refuses a fork's pull request)."""
    subject: str
    """The token's subject: what the provider issues, or would for this job and event."""
    audience: str
    role_variable: str | None
    """The variable the job reads its role from, if it assumes one."""
    environment: str | None
    """The environment whose variables the job reads before the pipeline-wide ones."""
    ours: bool = True
    """The pipeline runs in our repository and reads our variables (not in a fork's)."""

    @property
    def token(self) -> WebIdentity:
        return WebIdentity(ISSUERS[self.provider], self.subject, self.audience)

    def __str__(self) -> str:
        return f"{self.provider} {self.job} on {self.event}: {self.subject}"


# --- GitHub Actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubEvent:
    label: str
    name: str
    ref: str
    fork: bool = False


GITHUB_EVENTS = [
    GitHubEvent("a pull request from a branch", "pull_request", "refs/pull/7/merge"),
    GitHubEvent("a pull request from a fork", "pull_request", "refs/pull/8/merge", fork=True),
    GitHubEvent("a push to main", "push", "refs/heads/main"),
    GitHubEvent("a push to another branch", "push", "refs/heads/feature"),
    GitHubEvent("a manual run on main", "workflow_dispatch", "refs/heads/main"),
    GitHubEvent("a manual run on another branch", "workflow_dispatch", "refs/heads/feature"),
    GitHubEvent("the nightly schedule", "schedule", "refs/heads/main"),
]


def github_triggers(workflow: dict) -> dict:
    """The workflow's `on:` (YAML 1.1, which PyYAML speaks, reads the bare key as true)."""
    return workflow.get("on", workflow.get(True))


def github_runs(text: str) -> Iterator[Run]:
    workflow = yaml.safe_load(text)
    triggers = github_triggers(workflow)
    for event in GITHUB_EVENTS:
        if event.name not in triggers:
            continue
        trigger = triggers[event.name]
        branches = trigger.get("branches") if isinstance(trigger, dict) else None
        if branches is not None and event.name == "push":
            assert all("*" not in b for b in branches), "patterns: extend the model"
            if event.ref.removeprefix("refs/heads/") not in branches:
                continue
        github = {
            "event_name": event.name,
            "ref": event.ref,
            "event": {"repository": {"private": True}},
        }
        ran: set[str] = set()
        for name, job in workflow["jobs"].items():  # needs: only earlier jobs, as here
            needs = job.get("needs", [])
            if not set([needs] if isinstance(needs, str) else needs) <= ran:
                continue
            if not _expression(str(job.get("if", "success()")), {"github": github}, True):
                continue
            ran.add(name)
            permissions = job.get("permissions", workflow.get("permissions", {}))
            credentials = [
                s
                for s in job["steps"]
                if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
            ]
            # id-token: write lets any step of the job ask for a token: that is asking
            asks = permissions.get("id-token") == "write"
            assert asks == bool(credentials), f"{name}: id-token and a credentials step go together"
            environment = job.get("environment")
            if environment:
                subject = f"repo:{GITHUB_REPO}:environment:{environment}"
            elif event.name == "pull_request":
                subject = f"repo:{GITHUB_REPO}:pull_request"
            else:
                subject = f"repo:{GITHUB_REPO}:ref:{event.ref}"
            role, audience = None, "sts.amazonaws.com"  # configure-aws-credentials' default
            if credentials:
                (step,) = credentials
                role = re.fullmatch(r"\$\{\{\s*vars\.(\w+)\s*\}\}", step["with"]["role-to-assume"])[
                    1
                ]
                audience = step["with"].get("audience", audience)
            # A fork's pull request gets read-only permissions: id-token: write is withdrawn.
            yield Run(
                "github",
                event.label,
                name,
                asks,
                asks and not event.fork,
                subject,
                audience,
                role,
                environment,
            )


# --- GitLab CI -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitLabPipeline:
    label: str
    project: str
    variables: dict[str, str]


GITLAB_PIPELINES = [
    GitLabPipeline(
        "a merge request from a branch",
        GITLAB_PROJECT,
        {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_REF_NAME": "feature"},
    ),
    GitLabPipeline(  # a fork's merge request runs in the fork's project by default
        "a merge request from a fork",
        "forker/db",
        {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_REF_NAME": "main"},
    ),
    GitLabPipeline(
        "a push to main",
        GITLAB_PROJECT,
        {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
    ),
    GitLabPipeline(
        "a push to another branch",
        GITLAB_PROJECT,
        {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_BRANCH": "feature",
            "CI_COMMIT_REF_NAME": "feature",
        },
    ),
    GitLabPipeline(
        "a push to a fork's main",
        "forker/db",
        {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
    ),
]
_GITLAB_CLAUSE = re.compile(r'\s*(\$\w+|"[^"]*")\s*(==|!=)\s*(\$\w+|"[^"]*")\s*')


def _gitlab_if(expression: str, variables: dict[str, str]) -> bool:
    def value(term: str) -> str | None:
        return variables.get(term[1:]) if term.startswith("$") else term[1:-1]

    result = True
    for clause in expression.split("&&"):
        match = _GITLAB_CLAUSE.fullmatch(clause)
        assert match, f"unsupported rules:if {expression!r}: extend the model"
        left, op, right = value(match[1]), match[2], value(match[3])
        result = result and ((left == right) == (op == "=="))
    return result


def _gitlab_resolved(doc: dict, name: str) -> dict:
    """The job as `extends` builds it: hashes merged key by key, anything else replaced."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merge(out[key], value) if both else value
        return out

    job = doc[name]
    parent = job.get("extends")
    base = _gitlab_resolved(doc, parent) if parent else {}
    return merge(base, {k: v for k, v in job.items() if k != "extends"})


def gitlab_runs(text: str) -> Iterator[Run]:
    doc = {
        **yaml.load(text, Loader=GitLabLoader),
        ".atlas-grant": gitlab_component()[".atlas-grant"],
    }
    shells = gitlab_shells(text, gitlab_component()[".atlas-grant"])
    for pipeline in GITLAB_PIPELINES:
        variables = {"CI_DEFAULT_BRANCH": "main", **pipeline.variables}
        for name in shells:
            job = _gitlab_resolved(doc, name)
            if not any(_gitlab_if(rule["if"], variables) for rule in job["rules"]):
                continue
            tokens = job.get("id_tokens", {})
            assert len(tokens) <= 1, name
            audience = ""
            for token in tokens.values():
                audience = token["aud"].replace("$CI_SERVER_URL", "https://gitlab.com")
            script = "\n".join(str(line) for part in shells[name] for line in part)
            roles = set(re.findall(r"\$\{?(AWS_ROLE_ARN)\b", script))
            assert bool(roles) == bool(tokens), f"{name}: a role without a token or the reverse"
            ref = variables["CI_COMMIT_REF_NAME"]
            yield Run(
                "gitlab",
                pipeline.label,
                name,
                bool(tokens),
                bool(tokens),
                f"project_path:{pipeline.project}:ref_type:branch:ref:{ref}",
                audience or "https://gitlab.com",
                next(iter(roles), None),
                job.get("environment"),
                ours=pipeline.project == GITLAB_PROJECT,
            )


# --- CircleCI --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CircleBuild:
    label: str
    branch: str
    origin: str
    fork: bool = False


CIRCLE_BUILDS = [
    CircleBuild("a push to another branch", "feature", CIRCLE_ORIGIN),
    CircleBuild("a push to main", "main", CIRCLE_ORIGIN),
    # A fork's pull request builds as branch pull/N, from the fork's origin.
    CircleBuild("a pull request from a fork", "pull/8", "github.com/forker/db", fork=True),
]
CIRCLE_STACK_CONTEXT = "atlas"  # the context that holds the stack's pipeline-wide variables


def _circle_filter(filters: dict, branch: str) -> bool:
    branches = filters.get("branches", {})
    only, ignore = branches.get("only"), branches.get("ignore")
    as_list = lambda v: [v] if isinstance(v, str) else list(v or [])  # noqa: E731
    if only is not None and branch not in as_list(only):
        return False
    return branch not in as_list(ignore)


def circleci_runs(text: str) -> Iterator[Run]:
    config = yaml.safe_load(text)

    def commands(steps: list) -> list[str]:
        out = []
        for step in steps:
            name = step if isinstance(step, str) else next(iter(step))
            if name == "run":
                run = step["run"]
                out.append(run["command"] if isinstance(run, dict) else run)
            elif name in config.get("commands", {}):
                out += commands(config["commands"][name]["steps"])
        return out

    (workflow,) = config["workflows"].values()
    for build in CIRCLE_BUILDS:
        ran: set[str] = set()
        for entry in workflow["jobs"]:
            name, spec = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            if not _circle_filter(spec.get("filters", {}), build.branch):
                continue
            if not set(spec.get("requires", [])) <= ran:
                continue
            ran.add(name)
            script = "\n".join(commands(config["jobs"][name]["steps"]))
            asks = "CIRCLE_OIDC_TOKEN_V2" in script
            role = "AWS_ROLE_ARN" if asks and re.search(r"\$\{?AWS_ROLE_ARN\b", script) else None
            # The stack's variables live in one context; a job with another reads none of them.
            if spec.get("context") != CIRCLE_STACK_CONTEXT:
                role = None
            yield Run(
                "circleci",
                build.label,
                name,
                asks,
                asks and not build.fork,  # no token for a fork unless secrets pass to forks
                f"org/{CIRCLE_ORG}/project/{CIRCLE_PROJECT}/user/"
                "0a1b2c3d-0000-4000-8000-0000000000bb/"
                f"vcs-origin/{build.origin}/vcs-ref/refs/heads/{build.branch}",
                CIRCLE_ORG,
                role,
                None,
            )


# --- Bitbucket Pipelines ---------------------------------------------------------------------


BITBUCKET_EVENTS = [
    ("a pull request from a branch", "pull-requests", "feature"),
    ("a push to main", "branches", "main"),
    ("a push to another branch", "branches", "feature"),
]


def bitbucket_runs(text: str) -> Iterator[Run]:
    pipelines = yaml.safe_load(text)["pipelines"]
    for label, kind, branch in BITBUCKET_EVENTS:
        group = pipelines.get(kind, {})
        pattern = next((p for p in group if p == branch or p == "**"), None)
        if pattern is None:
            assert "default" not in pipelines, "a default pipeline: extend the model"
            continue
        for item in group[pattern]:
            step = item["step"]
            deployment = step.get("deployment")
            asks = bool(step.get("oidc"))
            script = "\n".join(step["script"] + step.get("after-script", []))
            role = "AWS_ROLE_ARN" if re.search(r"\$\{?AWS_ROLE_ARN\b", script) else None
            assert bool(role) == asks, f"{step['name']}: a role without a token or the reverse"
            env = f"{{{BB_ENVIRONMENTS[deployment]}}}:" if deployment else ""
            yield Run(
                "bitbucket",
                label,
                CREDENTIAL_JOB_BY_DEPLOYMENT.get(deployment, step["name"]),
                asks,
                asks,
                f"{{{BB_REPO}}}:{env}{BB_STEP}",
                f"ari:cloud:bitbucket::workspace/{BB_WORKSPACE_UUID}",
                role,
                deployment,
            )


CREDENTIAL_JOB_BY_DEPLOYMENT = {
    job.environment: job.name for job in CREDENTIAL_JOBS["bitbucket"] if job.environment
}

# --- subjects no job of ours carries, which must get in nowhere ------------------------------

OTHER_SUBJECTS: dict[str, list[str]] = {
    "github": [
        f"repo:{GITHUB_REPO}:ref:refs/heads/main-2",
        f"repo:{GITHUB_REPO}:ref:refs/tags/main",
        f"repo:{GITHUB_REPO}:environment:staging",
        "repo:forker/db:ref:refs/heads/main",
        "repo:forker/db:environment:production",
        "repo:acme/db-2:ref:refs/heads/main",
    ],
    "gitlab": [
        f"project_path:{GITLAB_PROJECT}:ref_type:tag:ref:main",
        f"project_path:{GITLAB_PROJECT}-2:ref_type:branch:ref:main",
        f"project_path:{GITLAB_PROJECT}:ref_type:branch:ref:main-2",
    ],
    "circleci": [
        f"org/{CIRCLE_ORG}/project/{CIRCLE_PROJECT}/user/u/vcs-origin/github.com/forker/db"
        "/vcs-ref/refs/heads/main",
        f"org/{CIRCLE_ORG}/project/0a1b2c3d-0000-4000-8000-0000000000cc/user/u/vcs-origin/"
        f"{CIRCLE_ORIGIN}/vcs-ref/refs/heads/main",
        # a fork whose branch name repeats our origin and ref after its own
        f"org/{CIRCLE_ORG}/project/{CIRCLE_PROJECT}/user/u/vcs-origin/github.com/forker/db"
        f"/vcs-ref/refs/heads/x/vcs-origin/{CIRCLE_ORIGIN}/vcs-ref/refs/heads/main",
    ],
    "bitbucket": [
        f"{{{BB_FORK}}}:{{{BB_ENVIRONMENTS['production']}}}:{BB_STEP}",
        f"{{{BB_REPO}}}:{{{BB_ENVIRONMENTS['staging']}}}:{BB_STEP}",
        f"{{{BB_REPO}}}:{BB_STEP}",
    ],
}

RUNS: dict[str, Callable[[str], Iterator[Run]]] = {
    "github": github_runs,
    "gitlab": gitlab_runs,
    "circleci": circleci_runs,
    "bitbucket": bitbucket_runs,
}


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
    lint = _gitlab_resolved(doc, "lint")
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
