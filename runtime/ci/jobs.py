"""Which jobs of each ``ci init`` template ask the cloud for credentials by OIDC, and where
they read the variables naming their identity: the stack program fills those variables in from
the CI writers that cover each job (``infra/ci_variables.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CredentialJob:
    """A job of a ``ci init`` template that asks the cloud for credentials by OIDC."""

    name: str
    """The job's name in the template (a Bitbucket step's is the one it is known by here)."""
    branch: str
    """The branch it runs on."""
    environment: str | None = None
    """The deployment environment it declares (GitHub ``environment``, GitLab ``environment``,
    Bitbucket ``deployment``), if any."""
    environment_variables: bool = False
    """Whether it reads its identity's variables from that environment (GitHub environment
    variables, Bitbucket deployment variables) rather than the pipeline-wide ones."""


CREDENTIAL_JOBS: dict[str, tuple[CredentialJob, ...]] = {
    "github": (
        CredentialJob("push", "main"),
        CredentialJob("deploy", "main", "production", environment_variables=True),
        CredentialJob("drill", "main"),
    ),
    "gitlab": (
        CredentialJob("push", "main"),
        CredentialJob("deploy", "main", "production"),
    ),
    "circleci": (
        CredentialJob("push", "main"),
        CredentialJob("deploy", "main"),
    ),
    "bitbucket": (
        CredentialJob("push", "main", "registry", environment_variables=True),
        CredentialJob("deploy", "main", "production", environment_variables=True),
    ),
}
"""Per provider whose template federates by OIDC: the jobs that assume a cloud identity. Every
other job (lint on pull / merge requests) asks for none. Azure Pipelines and Jenkins templates
take the store's credentials from the agent or the variable group instead."""
