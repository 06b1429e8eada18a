"""Where a push came from: git commit, CI run URL, host. Recorded in manifests and tag events."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


def _ci_run_url(env: dict[str, str]) -> str | None:
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("BITBUCKET_BUILD_NUMBER") and env.get("BITBUCKET_REPO_FULL_NAME"):
        return (
            f"https://bitbucket.org/{env['BITBUCKET_REPO_FULL_NAME']}/pipelines/results/"
            f"{env['BITBUCKET_BUILD_NUMBER']}"
        )
    for var in ("CI_JOB_URL", "CIRCLE_BUILD_URL", "BUILD_URL"):
        if env.get(var):
            return env[var]
    return None


def _git_commit(directory: Path, env: dict[str, str]) -> str | None:
    for var in (
        "GITHUB_SHA",
        "CI_COMMIT_SHA",
        "CIRCLE_SHA1",
        "BITBUCKET_COMMIT",
        "GIT_COMMIT",
        "BUILD_SOURCEVERSION",
    ):
        if env.get(var):
            return env[var]
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def collect(directory: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ) if env is None else env
    source = {"host": socket.gethostname()}
    if commit := _git_commit(directory, env):
        source["git_commit"] = commit
    if url := _ci_run_url(env):
        source["ci_run_url"] = url
    return source
