"""Each CI provider's own rules that the integrations rely on, beyond what its JSON schema
checks: GitLab's component header, GitHub's shells and actions/cache's outputs, pipefail
wherever a script pipes, Bitbucket's one step per deployment environment, the Atlas token in
every later step, and Atlas installed for the runner's own CPU.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from atlas_continuity.runtime.ci import render

from .conftest import ACTION, BASH, DOCS, GITLAB_COMPONENT, ORB, Stubs

# --- GitLab: the component header --------------------------------------------------------------

HEADER_KEYS = {"spec"}
SPEC_KEYS = {"inputs"}
"""GitLab's header takes `spec`, and `spec` takes `inputs`: any other key fails every pipeline
that includes the component (gitlab lib/gitlab/ci/config/header/root.rb and spec.rb; newer
versions add `spec:component`, which this component does not need and older ones refuse)."""
INPUT_KEYS = {"default", "description", "options", "regex", "type"}
INPUT_TYPES = {"string", "number", "boolean", "array"}
MAX_OPTIONS = 50


def gitlab_header_errors(text: str) -> list[str]:
    """What GitLab would refuse in a component's header (the document before `---`)."""
    header, sep, _ = text.partition("\n---\n")
    if not sep:
        return ["no header: a component starts with spec:inputs, then ---"]
    doc = yaml.safe_load(header)
    errors = [f"{key}: not a header key" for key in set(doc) - HEADER_KEYS]
    spec = doc.get("spec") or {}
    errors += [f"spec.{key}: spec takes only inputs" for key in set(spec) - SPEC_KEYS]
    for name, spec_input in (spec.get("inputs") or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            errors.append(f"spec.inputs.{name}: not alphanumeric")
        spec_input = spec_input or {}
        errors += [f"spec.inputs.{name}.{k}: unknown" for k in set(spec_input) - INPUT_KEYS]
        if spec_input.get("type", "string") not in INPUT_TYPES:
            errors.append(f"spec.inputs.{name}.type: one of {sorted(INPUT_TYPES)}")
        if len(spec_input.get("options", [])) > MAX_OPTIONS:
            errors.append(f"spec.inputs.{name}.options: at most {MAX_OPTIONS}")
    return errors


def test_gitlab_component_header_holds_only_inputs():
    assert gitlab_header_errors(GITLAB_COMPONENT.read_text()) == []


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("spec:\n  description: a component\n  inputs: {}\n", "spec.description"),
        ("spec:\n  inputs: {}\n  component: [name]\n", "spec.component"),
        ("spec:\n  inputs: {}\ndescription: x\n", "description: not a header key"),
        ("spec:\n  inputs:\n    x:\n      default: a\n      title: X\n", "spec.inputs.x.title"),
        ("spec:\n  inputs:\n    x:\n      type: bool\n", "spec.inputs.x.type"),
    ],
)
def test_the_header_rule_refuses_what_gitlab_refuses(header, error):
    errors = gitlab_header_errors(header + "---\njob:\n  script: [x]\n")
    assert any(e.startswith(error) for e in errors), errors


_COMPONENT_REF = re.compile(r"component:\s*\S+/atlas-grant@(\S+)")
_CATALOG_VERSION = re.compile(r"~latest|\d+(\.\d+){0,2}|[0-9a-f]{40}")


def test_gitlab_component_references_use_catalog_versions():
    """Catalog releases are semantic versions: `@0` is the newest 0.x.y, `@~latest` the newest
    release; `@v0` would need a ref literally named v0."""
    texts = [GITLAB_COMPONENT.read_text(), render("gitlab"), DOCS.read_text()]
    refs = [ref for text in texts for ref in _COMPONENT_REF.findall(text)]
    assert len(refs) >= 3
    for ref in refs:
        assert _CATALOG_VERSION.fullmatch(ref), ref


# --- GitHub: outputs, shells ---------------------------------------------------------------------

ACTIONS_CACHE_RESTORE_OUTPUTS = {"cache-hit", "cache-primary-key", "cache-matched-key"}
"""actions/cache/restore@v4's outputs; cache-hit is 'true' only for an exact key match."""


def test_outputs_named_like_actions_cache_keep_its_meaning():
    action = yaml.safe_load(ACTION.read_text())
    restores = {
        s.get("id")
        for s in action["runs"]["steps"]
        if s.get("uses", "").startswith("actions/cache/restore@")
    }
    for name, output in action["outputs"].items():
        if name not in ACTIONS_CACHE_RESTORE_OUTPUTS:
            continue
        match = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", output["value"])
        assert match and match[1] in restores and match[2] == name, (name, output["value"])
    assert "cache-matched-key" in action["outputs"]


def _github_run_steps() -> list[tuple[str, dict, dict]]:
    """(file, the file's defaults.run, step) for every run step of the action and workflow."""
    action = yaml.safe_load(ACTION.read_text())
    out = [("action.yml", {}, s) for s in action["runs"]["steps"] if "run" in s]
    workflow = yaml.safe_load(render("github"))
    defaults = workflow.get("defaults", {}).get("run", {})
    for job in workflow["jobs"].values():
        out += [("github.yml", defaults, s) for s in job["steps"] if "run" in s]
    return out


def test_every_github_run_step_runs_in_bash():
    """A composite action's run steps must name their shell; `shell: bash` (not GitHub's
    default `bash -e {0}`) is what runs them with -o pipefail."""
    for file, defaults, step in _github_run_steps():
        if file == "action.yml":
            assert step.get("shell") == "bash", step.get("name")
        else:
            assert step.get("shell", defaults.get("shell")) == "bash", step.get("name")


def test_github_jobs_set_up_python_before_installing_the_cli():
    workflow = yaml.safe_load(render("github"))
    for name, job in workflow["jobs"].items():
        steps = job["steps"]
        installs = [
            i
            for i, s in enumerate(steps)
            if s.get("uses", "").startswith("atlas-continuity/atlas-continuity@")
            or ("pip install" in s.get("run", "") and "atlas-continuity" in s.get("run", ""))
        ]
        python = [
            i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/setup-python@")
        ]
        assert installs and python and python[0] < installs[0], name


# --- pipefail wherever a script pipes --------------------------------------------------------


def pipes(script: str) -> bool:
    """Whether the shell script has a pipeline (`a | b`), not counting `||`, case patterns
    (`2|3)`), quoted text or comments."""
    text = re.sub(r"'[^']*'|\"(?:\\.|[^\"\\])*\"", "''", script)
    text = re.sub(r"(?m)(^|\s)#.*$", "", text)
    text = text.replace("||", " ")
    text = re.sub(r"[\w*.-]+(\|[\w*.-]+)+\)", " ", text)
    return "|" in text


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("curl -sSf https://atlasgo.sh | sh", True),
        ("a || b", False),
        ("case $? in 2|3) false ;; esac", False),
        ("echo 'a | b'", False),
        ('printf "%s|%s" a b', False),
        ("# a comment on `curl | sh`\ntrue", False),
    ],
)
def test_the_pipe_detector(script, expected):
    assert pipes(script) is expected


def test_bitbucket_steps_that_pipe_set_pipefail_first():
    """Bitbucket runs a step's script as one bash with -e and without pipefail: a failed
    download in `curl | sh` hands sh nothing and the step goes on."""
    checked = 0
    for group in yaml.safe_load(render("bitbucket"))["pipelines"].values():
        for steps in group.values():
            for item in steps:
                step = item["step"]
                for key in ("script", "after-script"):
                    lines = step.get(key, [])
                    for i, line in enumerate(lines):
                        if pipes(line):
                            checked += 1
                            assert "set -o pipefail" in "\n".join(lines[:i]), (step["name"], line)
    assert checked


def test_scripts_whose_shell_lacks_pipefail_do_not_pipe():
    """GitLab runs sh or bash (the image decides) and Jenkins' sh steps run /bin/sh -e: no
    pipefail to rely on, so no pipes."""
    gitlab = yaml.safe_load(render("gitlab").replace("!reference", ""))
    component = yaml.safe_load(GITLAB_COMPONENT.read_text().split("\n---\n")[1])
    for doc in (gitlab, component):
        for name, job in doc.items():
            for key in ("before_script", "script", "after_script"):
                for line in job.get(key, []) if isinstance(job, dict) else []:
                    assert not pipes(str(line)), (name, line)
    for script in re.findall(r"sh '''(.*?)'''|sh '([^']*)'", render("jenkins"), re.S):
        assert not pipes(script[0] or script[1]), script


def test_azure_and_circleci_scripts_that_pipe_run_with_pipefail():
    """Azure's bash steps set it themselves; CircleCI's default shell is bash -eo pipefail, so a
    run step that pipes must not replace it."""
    for stage in yaml.safe_load(render("azure-pipelines"))["stages"]:
        for job in stage["jobs"]:
            steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
            for step in steps:
                if pipes(step.get("bash", "")):
                    assert step["bash"].startswith("set -euo pipefail\n"), step["displayName"]
    for doc in (yaml.safe_load(render("circleci")), yaml.safe_load(ORB.read_text())):
        for part in (doc.get("commands", {}), doc.get("jobs", {})):
            for name, spec in part.items():
                for step in spec.get("steps", []):
                    run = step.get("run") if isinstance(step, dict) else None
                    if isinstance(run, dict) and pipes(run["command"]):
                        assert "shell" not in run, (name, run["name"])


# --- Bitbucket: deployment environments ------------------------------------------------------


def test_bitbucket_uses_each_deployment_environment_once_per_pipeline():
    """Bitbucket refuses a pipeline whose steps share a deployment environment (outside a
    stage): push and deploy each have their own, and with it their own OIDC subject."""
    for group in yaml.safe_load(render("bitbucket"))["pipelines"].values():
        for steps in group.values():
            used = [i["step"]["deployment"] for i in steps if "deployment" in i["step"]]
            assert len(used) == len(set(used)), used


# --- the Atlas token reaches every later step --------------------------------------------------


def test_github_login_exports_the_token_to_later_steps(stubs: Stubs, tmp_path: Path):
    """As ariga/setup-atlas does: later Atlas commands read ATLAS_TOKEN from the environment."""
    workflow = yaml.safe_load(render("github"))
    atlas_jobs = {
        name: job
        for name, job in workflow["jobs"].items()
        if any("atlas login" in s.get("run", "") for s in job["steps"])
    }
    assert set(atlas_jobs) == {"lint", "push", "deploy"}  # the drill runs no Atlas
    for name, job in atlas_jobs.items():
        steps = job["steps"]
        (login,) = [s for s in steps if "atlas login" in s.get("run", "")]
        github_env = tmp_path / f"{name}.env"
        github_env.write_text("")
        run = stubs.run([login["run"]], BASH, ATLAS_TOKEN="bot-token", GITHUB_ENV=str(github_env))
        assert run.returncode == 0, run.stderr
        assert "ATLAS_TOKEN=bot-token" in github_env.read_text().splitlines(), name
        assert stubs.calls("atlas login --token bot-token --grant-only")


def test_azure_steps_after_the_login_map_the_token():
    """Azure hands a secret to no step unless that step maps it: every step after the login
    that runs Atlas maps ATLAS_TOKEN."""
    for stage in yaml.safe_load(render("azure-pipelines"))["stages"]:
        for job in stage["jobs"]:
            steps = job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
            bash = [s for s in steps if "bash" in s]
            login = next(i for i, s in enumerate(bash) if "atlas login" in s["bash"])
            for step in bash[login:]:
                if re.search(
                    r"\batlas (migrate|schema)\b|atlas-continuity (push|pull)", step["bash"]
                ):
                    assert step["env"].get("ATLAS_TOKEN") == "$(ATLAS_TOKEN)", step["displayName"]


# --- Atlas for the runner's own CPU -----------------------------------------------------------


@pytest.mark.parametrize("provider", ["gitlab", "bitbucket", "azure-pipelines", "jenkins"])
def test_atlas_comes_from_its_official_installer(provider):
    """atlasgo.sh picks the build for the runner's OS and CPU; a fixed binary URL runs on one."""
    text = render(provider)
    assert "https://atlasgo.sh" in text
    assert not re.search(r"atlas-(linux|darwin)-(amd64|arm64)", text)


# --- the guide states each limit next to the step it affects -----------------------------------

LIMITS = [
    # (section, the step, the limit), each pair in one paragraph or list item of that section
    ("How the copies work", "cache", "a fork's pull request reads the base branch's caches"),
    ("GitHub Actions", "cache-dir", "readable through pull requests"),
    ("GitHub Actions", "setup-python", "virtualenv"),
    ("GitHub Actions", "$GITHUB_ENV", "every later step"),
    ("GitHub Actions", "cache-matched-key", "no `cache-hit`"),
    ("GitHub Actions", "shell: bash", "pipefail"),
    ("GitLab CI", "spec:inputs", "refuses any other key"),
    ("GitLab CI", "`@0`", "semantic versions"),
    ("GitLab CI", "after_script", "times out"),
    ("GitLab CI", "aud", "$CI_SERVER_URL"),
    ("CircleCI", "vcs_origin", "fork's pull request"),
    ("Bitbucket Pipelines", "after-script", "only when the step succeeded"),
    ("Bitbucket Pipelines", "curl -sSf https://atlasgo.sh | sh", "pipefail"),
    ("Bitbucket Pipelines", "deployment environment", "one step per pipeline"),
    ("Azure Pipelines", "`pr:`", "branch policy"),
    ("Azure Pipelines", "ATLAS_TOKEN: $(ATLAS_TOKEN)", "every later step"),
    ("Azure Pipelines", "AZURE_STORAGE_CONNECTION_STRING", "delete included"),
    ("Jenkins", "https://atlasgo.sh", "CPU"),
    ("Cloud identities per job", "Lint asks for no credentials", "no role trusts"),
]


def _paragraphs(section: str) -> list[str]:
    """The section's prose, split into paragraphs and list items (code blocks left out)."""
    prose = re.sub(r"```.*?```", "\n\n", section, flags=re.S)
    parts = re.split(r"\n\s*\n|\n(?=- )", prose)
    return [" ".join(p.split()) for p in parts]


@pytest.mark.parametrize(
    ("title", "step", "limit"), LIMITS, ids=[f"{t}: {s}" for t, s, _ in LIMITS]
)
def test_the_guide_states_each_limit_next_to_the_step_it_affects(title, step, limit):
    docs = DOCS.read_text()
    section = docs.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    assert any(
        step.lower() in p.lower() and limit.lower() in p.lower() for p in _paragraphs(section)
    ), (title, step, limit)
