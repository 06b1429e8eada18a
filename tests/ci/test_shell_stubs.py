"""The shell of the GitLab component, the CircleCI orb and the Bitbucket and Azure pipelines
behaves as documented when run against stand-in commands (conftest.Stubs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from atlas_continuity.runtime.ci import render

from .conftest import BASH, ORB, SH, GitLabLoader, Stubs, gitlab_component, gitlab_shells


@pytest.mark.parametrize("shell", [BASH, SH], ids=["bash", "sh"])
def test_gitlab_component_installs_into_a_virtualenv_on_path(stubs, shell):
    grant = gitlab_component({"store": "file:///bucket"})[".atlas-grant"]
    env = {k: str(v) for k, v in grant["variables"].items()}
    venv_cli = stubs.home / ".atlas-continuity-venv" / "bin" / "atlas-continuity"

    first = stubs.run([*grant["before_script"], "command -v atlas-continuity"], shell, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == str(venv_cli)  # the job's script finds it
    assert not (stubs.bin / "atlas-continuity").exists(), "pip-installed into the image's Python"
    assert stubs.calls("grant restore")[0].startswith(f"{venv_cli} grant restore")

    after = stubs.run(grant["after_script"], shell, **env)  # a new shell
    assert after.returncode == 0, after.stderr
    assert stubs.calls("grant save")[0].startswith(f"{venv_cli} grant save")


@pytest.mark.parametrize(
    ("fail_on_error", "restore_rc", "code"),
    [("false", 6, 0), ("true", 6, 6), ("true", 4, 0), ("false", 3, 3)],
)
def test_gitlab_component_fail_on_error(stubs, fail_on_error, restore_rc, code):
    grant = gitlab_component({"install": "false", "fail-on-error": fail_on_error})[".atlas-grant"]
    stubs.install_cli()
    env = {k: str(v) for k, v in grant["variables"].items()}
    run = stubs.run(grant["before_script"], BASH, STUB_RESTORE_RC=str(restore_rc), **env)
    assert run.returncode == code, run.stdout + run.stderr


@pytest.mark.parametrize("role", ["arn:aws:iam::123456789012:role/ci", ""])
def test_gitlab_jobs_give_the_web_identity_to_restore_and_save(stubs, role):
    grant = gitlab_component({"install": "false", "store": "s3://b/grants"})[".atlas-grant"]
    before, script, after = gitlab_shells(render("gitlab"), grant)["deploy"]
    stubs.install_cli()
    env = {
        **{k: str(v) for k, v in grant["variables"].items()},
        **yaml.load(render("gitlab"), Loader=GitLabLoader)["variables"],
        "AWS_ROLE_ARN": role,
        "AWS_WEB_IDENTITY_TOKEN": "header.payload.signature",  # id_tokens
        "CI_BUILDS_DIR": str(stubs.root),
        "CI_JOB_ID": "42",
        "ATLAS_TOKEN": "bot-token",
    }
    first = stubs.run([*before, *script], BASH, **env)
    assert first.returncode == 0, first.stderr
    second = stubs.run(after, BASH, **env)  # after_script: a new shell
    assert second.returncode == 0, second.stderr
    (restore,), (save,) = stubs.calls("grant restore"), stubs.calls("grant save")
    for call in (restore, save):
        token_file = call.split("AWS_WEB_IDENTITY_TOKEN_FILE=")[1]
        if role:
            assert Path(token_file).read_text() == "header.payload.signature", call
        else:  # a token file without a role makes the AWS SDK refuse every other credential
            assert token_file == "<unset>", call


@pytest.mark.parametrize("role", ["arn:aws:iam::123456789012:role/ci", ""])
def test_bitbucket_steps_give_the_web_identity_to_restore_and_save(stubs, role):
    pipelines = yaml.safe_load(render("bitbucket"))["pipelines"]
    step = pipelines["branches"]["main"][-1]["step"]
    env = {
        "AWS_ROLE_ARN": role,
        "BITBUCKET_STEP_OIDC_TOKEN": "header.payload.signature",
        "ATLAS_TOKEN": "bot-token",
        "ATLAS_GRANT_STORE": "s3://b/grants",
    }
    first = stubs.run(step["script"], BASH, **env)  # Bitbucket runs the lines in one shell
    assert first.returncode == 0, first.stderr
    second = stubs.run(step["after-script"], BASH, **env)
    assert second.returncode == 0, second.stderr
    (restore,), (save,) = stubs.calls("grant restore"), stubs.calls("grant save")
    assert " --newest " in restore
    for call in (restore, save):
        expected = "/tmp/aws-web-identity-token" if role else "<unset>"
        assert call.endswith(f"AWS_WEB_IDENTITY_TOKEN_FILE={expected}"), call


def orb_run(command: str, step_name: str, **params: object) -> tuple[str, dict[str, str]]:
    """A run step of one of the orb's commands: its script and environment as CircleCI renders
    them. A boolean parameter reaches `environment:` as 1 or 0, not true or false."""
    spec = yaml.safe_load(ORB.read_text())["commands"][command]
    values = {k: p.get("default") for k, p in spec.get("parameters", {}).items()} | params

    def render_value(value: object) -> str:
        def one(m: re.Match) -> str:
            v = values[m[1]]
            return str(int(v)) if isinstance(v, bool) else str(v)

        return re.sub(r"<<\s*parameters\.([\w-]+)\s*>>", one, str(value))

    (run,) = [
        s["run"]
        for s in spec["steps"]
        if isinstance(s, dict) and s.get("run", {}).get("name") == step_name
    ]
    return run["command"], {k: render_value(v) for k, v in run.get("environment", {}).items()}


def test_orb_install_puts_a_virtualenv_on_path_for_later_steps(stubs):
    script, env = orb_run("install", "Install atlas-continuity")
    bash_env = stubs.root / "bash_env"
    bash_env.write_text("")
    run = stubs.run([script], BASH, BASH_ENV=str(bash_env), **env)
    assert run.returncode == 0, run.stderr
    assert not (stubs.bin / "atlas-continuity").exists(), "pip-installed into the image's Python"
    # a later run step: a new bash, which sources $BASH_ENV as CircleCI's do
    later = stubs.run(["command -v atlas-continuity"], BASH, BASH_ENV=str(bash_env))
    venv_cli = stubs.home / ".atlas-continuity-venv" / "bin" / "atlas-continuity"
    assert later.returncode == 0 and later.stdout.strip() == str(venv_cli), later


@pytest.mark.parametrize(
    ("fail_on_error", "restore_rc", "code"),
    [(False, 6, 0), (True, 6, 6), (True, 4, 0), (False, 2, 2)],
)
def test_orb_restore_fail_on_error(stubs, fail_on_error, restore_rc, code):
    script, env = orb_run(
        "restore-grant", "Restore the Atlas grant", **{"fail-on-error": fail_on_error}
    )
    stubs.install_cli()
    run = stubs.run([script], BASH, STUB_RESTORE_RC=str(restore_rc), **env)
    assert run.returncode == code, run.stdout + run.stderr


def _azure_bash_steps() -> list[dict]:
    steps = []
    for stage in yaml.safe_load(render("azure-pipelines"))["stages"]:
        for job in stage["jobs"]:
            job_steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
            steps += [s for s in job_steps if "bash" in s]
    return steps


def _azure_run(stubs: Stubs, step: dict, defined: dict[str, str], **env: str):
    """A bash step as Azure runs it: `$(NAME)` macros expanded where NAME is defined and left as
    they are otherwise, secrets only through `env:`, bash without -e."""

    def macros(text: str) -> str:
        return re.sub(r"\$\(([\w.]+)\)", lambda m: defined.get(m[1], m[0]), text)

    mapped = {k: macros(str(v)) for k, v in step.get("env", {}).items()}
    pipeline_vars = {
        "GRANT_CACHE_DIR": str(stubs.root / ".atlas-grant-cache"),
        "ATLAS_CONTINUITY_VERSION": "0.1.0",
        "ATLAS_ENV": "prod",
        "DEPLOY_DIR": ".atlas-deploy/migrations",
        "SYSTEM_PULLREQUEST_TARGETBRANCHNAME": "main",
    }
    shell = ["bash", "--noprofile", "--norc"]
    return stubs.run([macros(step["bash"])], shell, **pipeline_vars, **mapped, **env)


def test_azure_bash_steps_stop_at_the_first_failure():
    for step in _azure_bash_steps():
        assert step["bash"].startswith("set -euo pipefail\n"), step.get("displayName")


@pytest.mark.parametrize(
    ("restore_rc", "pip_rc", "fails"),
    [(0, 0, False), (4, 0, False), (6, 0, False), (3, 0, True), (2, 0, True), (0, 1, True)],
)
def test_azure_restore_step(stubs, restore_rc, pip_rc, fails):
    (step, *_) = [s for s in _azure_bash_steps() if "grant restore" in s["bash"]]
    run = _azure_run(
        stubs,
        step,
        {"ATLAS_TOKEN": "bot-token"},
        STUB_RESTORE_RC=str(restore_rc),
        STUB_PIP_RC=str(pip_rc),
    )
    assert (run.returncode != 0) == fails, run.stdout + run.stderr
    # the login only runs when the restore went through
    assert bool(stubs.calls("atlas login")) != fails


@pytest.mark.parametrize(
    "defined",
    [{}, {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k"}],
    ids=["undefined", "defined"],
)
def test_azure_steps_drop_credentials_that_are_not_defined(stubs, defined):
    stubs.install_cli()
    steps = _azure_bash_steps()
    for step in steps:
        run = _azure_run(stubs, step, {"ATLAS_TOKEN": "t", "DATABASE_URL": "db", **defined})
        assert run.returncode == 0, (step.get("displayName"), run.stderr)
    calls = stubs.calls(str(stubs.bin / "atlas-continuity"))
    cli_steps = [s for s in steps if "atlas-continuity" in s["bash"]]
    assert len(calls) == len(cli_steps)
    for step, call in zip(cli_steps, calls, strict=True):
        # the lint stage maps no store credentials at all; the others drop undefined ones
        mapped = "AZURE_STORAGE_CONNECTION_STRING" in step.get("env", {})
        value = defined.get("AZURE_STORAGE_CONNECTION_STRING", "<unset>") if mapped else "<unset>"
        assert f"AZURE_STORAGE_CONNECTION_STRING={value} " in call, call
        assert "AWS_SECRET_ACCESS_KEY=<unset>" in call, call
    assert any("AZURE_STORAGE_CONNECTION_STRING" in s.get("env", {}) for s in cli_steps)
    for step in steps:  # AWS keys, which the header offers, are mapped wherever Azure's is
        if "AZURE_STORAGE_CONNECTION_STRING" in step.get("env", {}):
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(step["env"]), step


def _jenkins_shells() -> tuple[str, str]:
    """The Jenkinsfile's restore stage and its post-always save, as the sh steps run them."""
    text = render("jenkins")
    restore = re.search(r"stage\('Restore the Atlas grant'\).*?sh '''(.*?)'''", text, re.S)[1]
    save = re.search(r"always \{\s*sh '''(.*?)'''", text, re.S)[1]
    return restore, save


@pytest.mark.parametrize("change_id", ["", "42"], ids=["branch", "change-request"])
def test_jenkins_installs_atlas_with_its_installer_and_keeps_change_requests_off_the_store(
    stubs, change_id
):
    restore, save = _jenkins_shells()
    workspace = stubs.root / "ws"
    workspace.mkdir()
    venv = workspace / ".atlas-continuity-venv"
    env = {
        "WORKSPACE": str(workspace),
        "VENV": str(venv),
        "PATH": f"{venv}/bin:{workspace}/.atlas-bin:{stubs.bin}:/usr/bin:/bin",
        "GRANT_CACHE_DIR": ".atlas-grant-cache",
        "ATLAS_CONTINUITY_VERSION": "0.1.0",
        "ATLAS_GRANT_STORE": "s3://b/atlas?region=us-east-1",
        "ATLAS_TOKEN": "bot-token",
        "CHANGE_ID": change_id,
    }
    first = stubs.run([restore], ["sh", "-xe"], **env)  # Jenkins' sh step
    assert first.returncode == 0, first.stderr
    assert (workspace / ".atlas-bin" / "atlas").is_file()  # from atlasgo.sh, for this CPU
    assert stubs.calls("curl -sSfL -o") and not stubs.calls("release.ariga.io")
    assert stubs.calls("atlas login --token bot-token")
    second = stubs.run([save], ["sh", "-xe"], **env)
    assert second.returncode == 0, second.stderr
    (restored,), (saved,) = stubs.calls("grant restore"), stubs.calls("grant save")
    for call in (restored, saved):
        assert ("--store s3://b/atlas?region=us-east-1" in call) == (not change_id), call


def test_bitbucket_lint_fetches_the_target_branch_into_a_single_branch_clone(
    stubs, tmp_path_factory
):
    # Bitbucket clones the branch it builds alone (git clone --branch B --depth 50): origin
    # tracks B only, so fetching the target by name leaves no origin/<target> for lint.
    def git(*args: str, cwd: Path) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
        ).stdout.strip()

    origin = tmp_path_factory.mktemp("origin")
    git("init", "-q", "-b", "main", cwd=origin)
    for branch in ("main", "feature"):
        git("checkout", "-q", "-B", branch, cwd=origin)
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
            "-m", branch, cwd=origin)  # fmt: skip
    clone = tmp_path_factory.mktemp("clone") / "repo"
    git("clone", "-q", "--branch=feature", "--depth=50", origin.as_uri(), str(clone), cwd=origin)
    (stubs.bin / "git").unlink()  # the real git, on a real clone

    step = yaml.safe_load(render("bitbucket"))["pipelines"]["pull-requests"]["**"][0]["step"]
    run = stubs.run(step["script"], BASH, cwd=clone, BITBUCKET_PR_DESTINATION_BRANCH="main")
    assert run.returncode == 0, run.stderr
    assert git("rev-parse", "origin/main", cwd=clone) == git("rev-parse", "main", cwd=origin)
    (lint,) = stubs.calls("atlas migrate lint")
    assert "--git-base origin/main" in lint


def test_jenkins_installs_the_pinned_version_over_an_earlier_build_s(stubs):
    # A Jenkins workspace outlives its builds: the virtualenv an earlier Jenkinsfile filled
    # must not keep serving after the pin moves.
    restore, _ = _jenkins_shells()
    workspace = stubs.root / "ws"
    venv = workspace / ".atlas-continuity-venv"
    earlier = stubs.run([f"python3 -m venv {venv}", f"{venv}/bin/pip install atlas-continuity"], SH)
    assert earlier.returncode == 0 and (venv / "bin" / "atlas-continuity").exists(), earlier
    env = {
        "WORKSPACE": str(workspace),
        "VENV": str(venv),
        "PATH": f"{venv}/bin:{workspace}/.atlas-bin:{stubs.bin}:/usr/bin:/bin",
        "GRANT_CACHE_DIR": ".atlas-grant-cache",
        "ATLAS_CONTINUITY_VERSION": "0.3.0",
    }
    run = stubs.run([restore], ["sh", "-xe"], **env)
    assert run.returncode == 0, run.stderr
    assert any("atlas-continuity[stores]==0.3.0" in c for c in stubs.calls("-m pip install"))
