"""The variables each ``ci init`` pipeline reads, filled in from the CI writers that cover its jobs.

A CI writer identity admits exactly one OIDC subject, and each job of a template carries the
subject its branch and environment give it (``atlas_continuity.runtime.ci.jobs.CREDENTIAL_JOBS``):
on GitHub a job that declares an environment gets the environment's subject, not the branch's.
So a pipeline needs one identity per distinct subject, and each job must find the right one.

A writer's stack config names the jobs it covers (``jobs: [push]``). :class:`CiVariables`
checks that the branch or environment the writer pins is the one those jobs carry, and puts the
identity's variables where each job reads them: pipeline-wide (GitHub repository variables,
GitLab project variables, the CircleCI context) or in the job's environment (GitHub environment
variables, Bitbucket deployment variables). Nothing here is specific to a cloud: every cloud's
writers add their identity's variables the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from atlas_continuity.runtime.ci.jobs import CREDENTIAL_JOBS, CredentialJob

PIPELINE = "variables"
"""The key of the pipeline-wide variables in the ``ci_variables`` output."""
ENVIRONMENTS = "environments"
"""The key of the per-environment variables in the ``ci_variables`` output."""

_ANY = object()  # a pin whose value the template cannot know (a Bitbucket environment's UUID)

_PINS: dict[str, Callable[[CredentialJob], dict[str, object]]] = {
    # GitHub: a job that declares an environment gets repo:R:environment:E, others the branch.
    "github": lambda job: (
        {"environment": job.environment} if job.environment else {"branch": job.branch}
    ),
    # GitLab's and CircleCI's subjects carry the branch and never the environment.
    "gitlab": lambda job: {"branch": job.branch},
    "circleci": lambda job: {"branch": job.branch},
    # Bitbucket's carries the deployment environment's UUID, which only Bitbucket knows.
    "bitbucket": lambda job: {"environment": _ANY},
}
"""Per provider, what a job's OIDC subject pins, and so what its writer must pin."""


class CiVariables:
    """The ``ci_variables`` output, built up writer by writer."""

    def __init__(self) -> None:
        # (provider, repository) -> scope (None: pipeline-wide) -> variable -> (writer, value)
        self._values: dict[tuple[str, str], dict[str | None, dict[str, tuple[str, Any]]]] = {}
        # (cloud, provider, repository, job) -> the writer that serves it
        self._covered: dict[tuple[str, str, str, str], str] = {}

    def cover(
        self,
        where: str,
        cloud: str,
        args: Mapping[str, Any],
        jobs: object,
        *,
        pipeline: Mapping[str, pulumi.Input[str]],
        identity: Mapping[str, pulumi.Input[str]],
    ) -> None:
        """Record that the writer configured at ``where`` (its config path, for messages) with
        ``args`` (provider, repository, branch or environment) serves ``jobs`` on ``cloud``:
        its ``identity`` variables go where each job reads them, ``pipeline`` ones
        pipeline-wide. A job has one identity per cloud. Raises ValueError, naming ``where``,
        for a job it cannot serve."""
        provider = str(getattr(args.get("provider"), "value", args.get("provider")))
        if provider not in CREDENTIAL_JOBS:
            raise ValueError(f"{where}: no ci init template federates {provider!r} by OIDC")
        known = {job.name: job for job in CREDENTIAL_JOBS[provider]}
        if not isinstance(jobs, list) or not jobs or not all(isinstance(j, str) for j in jobs):
            raise ValueError(
                f"{where}.jobs: name the ci init {provider} jobs this identity serves, as a "
                f"list: {', '.join(known)}"
            )
        repository = str(args.get("repository"))
        for name in jobs:
            job = known.get(name)
            if job is None:
                raise ValueError(
                    f"{where}.jobs: {provider} has no job {name!r} that asks for credentials "
                    f"(those that do: {', '.join(known)}; lint on pull requests asks for none)"
                )
            self._check_pins(where, provider, args, job)
            key = (cloud, provider, repository, name)
            if key in self._covered:
                raise ValueError(
                    f"{where}.jobs: {provider} job {name!r} of {repository} is already served "
                    f"by {self._covered[key]}; one identity per job and cloud"
                )
            self._covered[key] = where
            scope = job.environment if job.environment_variables else None
            self._set(where, provider, repository, scope, identity, job)
            self._set(where, provider, repository, None, pipeline, job)

    def output(
        self, shared: Mapping[str, pulumi.Input[str]]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """``{provider: {repository: {"variables": {...}, "environments": {env: {...}}}}}``,
        with the ``shared`` variables (the grant's store) in every pipeline's.

        Warns about a template job no writer serves: it would fall back to another job's
        identity (or none) and be refused by that identity's trust."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        served = {(p, r, j) for (_, p, r, j) in self._covered}
        for (provider, repository), scopes in self._values.items():
            missing = [
                job.name
                for job in CREDENTIAL_JOBS[provider]
                if (provider, repository, job.name) not in served
            ]
            if missing:
                pulumi.log.warn(
                    f"ci_variables: no CI writer serves the {provider} job(s) "
                    f"{', '.join(missing)} of {repository}; add one per OIDC subject"
                )
            out.setdefault(provider, {})[repository] = {
                PIPELINE: {**shared, **{k: v for k, (_, v) in scopes.get(None, {}).items()}},
                ENVIRONMENTS: {
                    env: {k: v for k, (_, v) in values.items()}
                    for env, values in scopes.items()
                    if env is not None
                },
            }
        return out

    @staticmethod
    def _check_pins(where: str, provider: str, args: Mapping[str, Any], job: CredentialJob):
        for part in ("branch", "environment"):
            want = _PINS[provider](job).get(part)
            have = args.get(part)
            if want is None and have is None:
                continue
            if want is _ANY and have is not None:
                continue
            if want != have:
                carried = ", ".join(
                    f"{k} {'(its UUID)' if v is _ANY else repr(v)}"
                    for k, v in _PINS[provider](job).items()
                )
                raise ValueError(
                    f"{where}: the {provider} job {job.name!r} carries the OIDC subject of "
                    f"{carried}; this writer pins {part} {have!r}, so its trust would refuse "
                    "that job"
                )

    def _set(
        self,
        where: str,
        provider: str,
        repository: str,
        scope: str | None,
        values: Mapping[str, pulumi.Input[str]],
        job: CredentialJob,
    ) -> None:
        target = self._values.setdefault((provider, repository), {}).setdefault(scope, {})
        for variable, value in values.items():
            owner = target.get(variable)
            if owner is not None and owner[0] != where and owner[1] is not value:
                place = f"environment {scope!r}" if scope else "the pipeline-wide variables"
                raise ValueError(
                    f"{where}: the {provider} job {job.name!r} reads {variable} from {place}, "
                    f"where {owner[0]} already sets another value; jobs that read one place "
                    "share one identity (list them all in that writer's jobs)"
                )
            target[variable] = (where, value)
