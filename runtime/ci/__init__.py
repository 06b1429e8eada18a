"""Ready-to-use pipeline files for each CI provider (``atlas-continuity ci init``).

Each file is a complete pipeline: restore the grant, log in to Atlas (the cached grant covers an
Atlas Cloud outage), lint on branches, push the migration directory to every store after a
merge to main, pull the verified directory before deploying it, then save the grant. The
templates live in ``templates/`` as plain files; the only substitution is the version of
atlas-continuity that rendered them, so a pipeline installs the CLI it was written for.

``jobs.py`` says which jobs of each template ask the cloud for credentials by OIDC. This module
is imported to build the command line, so it stays small.
"""

from __future__ import annotations

from .. import __version__
from ..errors import BadInput

PROVIDERS: dict[str, tuple[str, str]] = {
    "github": ("github.yml", ".github/workflows/atlas.yml"),
    "gitlab": ("gitlab.yml", ".gitlab-ci.yml"),
    "circleci": ("circleci.yml", ".circleci/config.yml"),
    "bitbucket": ("bitbucket.yml", "bitbucket-pipelines.yml"),
    "azure-pipelines": ("azure-pipelines.yml", "azure-pipelines.yml"),
    "jenkins": ("Jenkinsfile", "Jenkinsfile"),
}
"""Provider -> (template file, the path the provider reads the pipeline from)."""

VERSION_MARKER = "@ATLAS_CONTINUITY_VERSION@"


def default_path(provider: str) -> str:
    """Where ``provider`` looks for its pipeline file, relative to the repository root."""
    return _lookup(provider)[1]


def render(provider: str) -> str:
    """The pipeline file for ``provider``, ready to commit at ``default_path(provider)``."""
    from importlib import resources

    template = _lookup(provider)[0]
    text = (resources.files(__package__) / "templates" / template).read_text("utf-8")
    return text.replace(VERSION_MARKER, __version__)


def _lookup(provider: str) -> tuple[str, str]:
    try:
        return PROVIDERS[provider]
    except KeyError:
        raise BadInput(
            f"unknown CI provider {provider!r}; choose one of {', '.join(PROVIDERS)}"
        ) from None
