"""How each CI provider runs the `ci init` pipelines, for test_subjects.py: for each event that
starts a pipeline (a pull request from a branch and from a fork, a push to main and to another
branch, a manual run), the jobs the provider runs, and for each job the OIDC token it would issue
(subject and audience, or none) and the variable the job reads its role from; and the subjects
no job of ours carries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import yaml

from atlas_continuity.runtime.ci.jobs import CREDENTIAL_JOBS
from tests.infra.iam import WebIdentity

from .conftest import GitLabLoader, _expression, gitlab_component, gitlab_shells

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


def gitlab_resolved(doc: dict, name: str) -> dict:
    """The job as `extends` builds it: hashes merged key by key, anything else replaced."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merge(out[key], value) if both else value
        return out

    job = doc[name]
    parent = job.get("extends")
    base = gitlab_resolved(doc, parent) if parent else {}
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
            job = gitlab_resolved(doc, name)
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
