"""Each pipeline brackets its Atlas steps with a grant restore and save, with the bucket's
credentials in the same shell: every provider's jobs are walked as that provider runs them."""

from __future__ import annotations

import re

import pytest
import yaml

from atlas_continuity.runtime.ci import PROVIDERS, render

from .conftest import DOCS, ORB, gitlab_shells

RESTORE, SAVE = "<restore grant>", "<save grant>"
NEW_SHELL = "<new shell>"  # what an earlier item exported is gone from here on


def _runs_atlas(seq: list[str]) -> bool:
    """Whether a job runs the Atlas CLI (and so needs the license grant): the nightly drill
    runs atlas-continuity alone."""
    return any(re.search(r"\batlas (login|migrate|schema)\b", step) for step in seq)


def _github_jobs(text: str) -> dict[str, list[str]]:
    jobs = {}
    for name, job in yaml.safe_load(text)["jobs"].items():
        seq = []
        for step in job["steps"]:
            if step.get("uses", "").startswith("atlas-continuity/atlas-continuity@"):
                mode = step["with"]["mode"]
                # a save runs after a failed step too: always(), narrowed by nothing but the
                # repository's visibility (public repositories keep no grant in the cache)
                assert mode == "restore" or re.fullmatch(
                    r"always\(\)( && github\.event\.repository\.private)?", step.get("if", "")
                ), (name, step)
                seq.append(RESTORE if mode == "restore" else SAVE)
            elif "run" in step:
                seq.append(step["run"])
        jobs[name] = seq
    return jobs


def _gitlab_jobs(text: str) -> dict[str, list[str]]:
    # the included component, as these jobs see it: its before_script restores, its
    # after_script saves
    grant = {"before_script": [RESTORE], "after_script": [SAVE]}
    jobs = {}
    for name, (before, script, after) in gitlab_shells(text, grant).items():
        # a job's own before_script / after_script replaces the component's: it must reference
        # the component's, or the grant is never restored or saved
        assert RESTORE in before, (name, "before_script does not restore", before)
        assert after and after[-1] == SAVE, (name, "after_script does not save last", after)
        # before_script and script share a shell; after_script runs in a new one
        jobs[name] = [*before, *script, NEW_SHELL, *after]
    return jobs


def _circleci_jobs(text: str) -> dict[str, list[str]]:
    doc = yaml.safe_load(text)
    assert doc["orbs"]["atlas-continuity"].startswith("atlas-continuity/atlas-continuity@")
    # save-grant must run after a failed step too: every step of the orb's command says so
    for step in yaml.safe_load(ORB.read_text())["commands"]["save-grant"]["steps"]:
        assert next(iter(step.values())).get("when") == "always", step

    def expand(steps: list) -> list[str]:
        out = []
        for step in steps:
            name = step if isinstance(step, str) else next(iter(step))
            if name == "atlas-continuity/restore-grant":
                out.append(RESTORE)
            elif name == "atlas-continuity/save-grant":
                out.append(SAVE)
            elif name == "run":
                run = step["run"] if isinstance(step["run"], dict) else {"command": step["run"]}
                if "grant save" in run["command"]:
                    assert run.get("when") == "always", run
                out.append(run["command"])
            elif name in doc.get("commands", {}):
                out += expand(doc["commands"][name]["steps"])
        return out

    return {name: expand(job["steps"]) for name, job in doc["jobs"].items()}


def _bitbucket_jobs(text: str) -> dict[str, list[str]]:
    pipelines = yaml.safe_load(text)["pipelines"]
    jobs = {}
    for step in (s["step"] for group in pipelines.values() for p in group.values() for s in p):
        seq = []
        for line in step["script"]:
            at = line.find("grant restore")
            seq += [line[:at], RESTORE, line[at:]] if at >= 0 else [line]
        seq.append(NEW_SHELL)  # after-script runs whether the script failed or not, anew
        for line in step.get("after-script", []):
            at = line.find("grant save")
            seq += [line[:at], SAVE] if at >= 0 else [line]
        jobs[step["name"]] = seq
    return jobs


def _azure_jobs(text: str) -> dict[str, list[str]]:
    jobs = {}
    for stage in yaml.safe_load(text)["stages"]:
        for job in stage["jobs"]:
            steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
            seq = []
            for step in steps:
                script = step.get("bash", "")
                if "grant restore" in script:
                    seq.append(RESTORE)
                seq.append(script)
                if "grant save" in script and step.get("condition") == "always()":
                    seq.append(SAVE)
            jobs[job.get("job") or job["deployment"]] = [s for s in seq if s]
    return jobs


def _jenkins_jobs(text: str) -> dict[str, list[str]]:
    body, _, post = text.partition("\n  post {")
    assert re.search(r"always \{\s*sh '''[^']*atlas-continuity grant save", post)
    seq = []
    for command in re.findall(r"sh '''(.*?)'''|sh '([^']*)'", body, re.S):
        script = command[0] or command[1]
        if "grant restore" in script:
            seq.append(RESTORE)
        seq.append(script)
    return {"pipeline": [*seq, SAVE]}


JOBS = {
    "github": _github_jobs,
    "gitlab": _gitlab_jobs,
    "circleci": _circleci_jobs,
    "bitbucket": _bitbucket_jobs,
    "azure-pipelines": _azure_jobs,
    "jenkins": _jenkins_jobs,
}


def test_every_provider_has_a_pipeline():
    assert set(JOBS) == set(PROVIDERS)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_pipeline_restores_first_saves_last_pulls_before_deploy(provider):
    text = render(provider)
    assert "@ATLAS_CONTINUITY_VERSION@" not in text
    jobs = {n: seq for n, seq in JOBS[provider](text).items() if _runs_atlas(seq)}
    assert jobs
    everything = []
    for name, seq in jobs.items():  # a job that runs Atlas needs its grant, and keeps it
        assert RESTORE in seq and seq[-1] == SAVE, (name, seq)
        first_atlas = next(
            i for i, s in enumerate(seq) if "atlas migrate" in s or "atlas-continuity p" in s
        )
        assert seq.index(RESTORE) < first_atlas, (name, seq)
        everything.append("\n".join(seq))
        if "atlas migrate apply" in "\n".join(seq):
            joined = "\n".join(seq)
            assert joined.index("atlas-continuity pull") < joined.index("atlas migrate apply")
    text = "\n".join(everything)
    assert "atlas-continuity push --config file://atlas.hcl" in text
    assert "atlas migrate lint" in text and "atlas login --token" in text


@pytest.mark.parametrize("provider", ["gitlab", "bitbucket", "circleci"])
def test_web_identity_token_is_exported_in_the_shell_of_every_restore_and_save(provider):
    """GitLab's after_script and Bitbucket's after-script are new shells: the OIDC token file
    exported for the restore is gone by the save unless exported there again. (Jobs that ask
    for no credentials export none: test_subjects.)"""
    text = render(provider)
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in text
    jobs = JOBS[provider](text)
    credentialed = {n: seq for n, seq in jobs.items() if "AWS_WEB_IDENTITY_TOKEN_FILE" in str(seq)}
    assert 0 < len(credentialed) < len(jobs), "lint asks for no credentials, push and deploy do"
    for name, seq in credentialed.items():
        exported = False
        for item in seq:
            if item == NEW_SHELL:
                exported = False
            elif item in (RESTORE, SAVE):
                assert exported, (name, item, seq)
            elif "export AWS_WEB_IDENTITY_TOKEN_FILE" in item:
                exported = True


def _restore_commands(text: str) -> list[str]:
    return [line for line in text.splitlines() if "atlas-continuity grant restore" in line]


@pytest.mark.parametrize("provider", ["bitbucket", "jenkins"])
def test_rarely_refreshed_caches_restore_the_newest_copy(provider):
    """Bitbucket's cache is written once a week and a Jenkins workspace outlives many builds on
    other agents: the first cache's copy may be older than the store's."""
    restores = _restore_commands(render(provider))
    assert restores and all("--newest" in line for line in restores), restores


def test_docs_restore_the_newest_copy_where_the_cache_is_refreshed_rarely():
    docs = DOCS.read_text()

    def section(title: str) -> str:
        return docs.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]

    assert "`--newest`" in section("How the copies work")
    for title in ("Bitbucket Pipelines", "Jenkins"):
        restores = _restore_commands(section(title))
        assert restores and all("--newest" in line for line in restores), (title, restores)
        assert "--newest" in section(title).split("```")[0] + section(title).split("```")[-1]
