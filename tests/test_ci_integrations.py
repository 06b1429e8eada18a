"""CI integrations: every shipped or generated pipeline file validates against its provider's
schema, each pipeline brackets its Atlas steps with a grant restore and save (with the bucket's
credentials in the same shell), the shell of the GitLab component, the CircleCI orb and the
Bitbucket and Azure pipelines behaves as documented when run against stand-in commands, the
GitHub composite action installs the CLI and restores and saves a real grant when its steps
run, and `ci init` writes files without clobbering them.

Schemas are check-jsonschema's vendored ones, run as a subprocess exactly as a user or a
pre-commit hook would, with the network pointed at a dead proxy: they are bundled, not fetched.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from atlas_continuity.runtime.ci import PROVIDERS, default_path, render
from atlas_continuity.runtime.errors import BadInput, ExitCode
from devtools.emulators import ROOT

from .helpers import cli

BIN = Path(sys.executable).parent  # the venv's bin: atlas-continuity lives here
ACTION = ROOT / "action.yml"
GITLAB_COMPONENT = ROOT / "templates" / "atlas-grant.yml"
ORB = ROOT / "orb" / "orb.yml"
DOCS = ROOT / "docs" / "ci.md"

SCHEMAS = {
    "github": "vendor.github-workflows",
    "gitlab": "vendor.gitlab-ci",
    "circleci": "vendor.circle-ci",
    "bitbucket": "vendor.bitbucket-pipelines",
    "azure-pipelines": "vendor.azure-pipelines",
}
"""Provider -> vendored schema of its pipeline file. Jenkinsfiles are Groovy: no schema."""

EXTRA_FLAGS = {
    # GitLab's !reference tags and Azure's ${{ }} template syntax need check-jsonschema's
    # transforms; one pattern in the Azure schema is not valid under the default unicode regex
    # engine. These are the flags of check-jsonschema's own pre-commit hooks.
    "vendor.gitlab-ci": ["--data-transform", "gitlab-ci"],
    "vendor.azure-pipelines": [
        "--data-transform",
        "azure-pipelines",
        "--regex-variant",
        "nonunicode",
    ],
}


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess:
    dead = "http://127.0.0.1:9"  # discard port: any download attempt fails
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "NO_PROXY": ""}
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema]
        + EXTRA_FLAGS.get(schema, [])
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def assert_valid(schema: str, *paths: Path) -> None:
    proc = check_jsonschema(schema, *paths)
    assert proc.returncode == 0, f"{schema}: {proc.stdout}\n{proc.stderr}"


# -- (a) schemas ---------------------------------------------------------------------------


def test_check_jsonschema_rejects_an_invalid_file(tmp_path):
    """The validation below is not vacuous: a broken action fails, offline."""
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text() + "\nnot-an-action-key: 1\n")
    proc = check_jsonschema("vendor.github-actions", broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not-an-action-key" in proc.stdout


def test_github_composite_action_validates():
    assert_valid("vendor.github-actions", ACTION)


_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def gitlab_component(inputs: dict | None = None) -> dict:
    """The component's jobs as GitLab builds them, with these inputs (the defaults otherwise).
    As in GitLab, a value that is one `$[[ inputs.x ]]` block alone takes the input's typed
    value (a boolean stays a boolean); a block inside a longer string is text."""
    header, body = GITLAB_COMPONENT.read_text().split("\n---\n")
    spec = yaml.safe_load(header)["spec"]["inputs"]
    values = {name: s.get("default") for name, s in spec.items()} | (inputs or {})

    def fill(node):
        if isinstance(node, dict):
            return {fill(k): fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str):
            alone = _INPUT.fullmatch(node.strip())
            return values[alone[1]] if alone else _INPUT.sub(lambda m: str(values[m[1]]), node)
        return node

    return fill(yaml.safe_load(body))


def test_gitlab_component_validates(tmp_path):
    # A component is two YAML documents: the `spec:` header, `---`, then the jobs. GitLab reads
    # them as one file, but check-jsonschema loads one document per file and refuses a stream of
    # two ("expected a single document"). The vendored gitlab-ci schema has a `spec` property for
    # the header, so each document is validated on its own against the same schema.
    header, _ = GITLAB_COMPONENT.read_text().split("\n---\n")
    assert list(yaml.safe_load(header)) == ["spec"]
    (tmp_path / "spec.yml").write_text(header)
    # The schema skips hidden (dot) jobs, so the jobs are validated as GitLab builds them: inputs
    # filled in, and the hidden job's keys in visible jobs, as `extends` would merge them.
    jobs = gitlab_component()
    hidden = jobs[".atlas-grant"]
    jobs["migrate"] = {"extends": ".atlas-grant", "script": ["atlas migrate apply --env prod"]}
    jobs["migrate-expanded"] = {**hidden, "script": ["atlas migrate apply --env prod"]}
    (tmp_path / "jobs.yml").write_text(yaml.safe_dump(jobs, sort_keys=False))
    assert_valid("vendor.gitlab-ci", tmp_path / "spec.yml", tmp_path / "jobs.yml")
    # The schema accepts any scalar as a variable; GitLab refuses anything but a string or a
    # hash ("variable definition must be either a string or a hash").
    for name, value in hidden["variables"].items():
        assert isinstance(value, str), f"variables.{name} is a {type(value).__name__}: {value!r}"


def test_gitlab_component_inputs_are_strings_with_options():
    """true/false inputs are strings limited to "true" and "false": `type: boolean` would put a
    boolean into `variables:`, and the scripts compare the text."""
    header, _ = GITLAB_COMPONENT.read_text().split("\n---\n")
    spec = yaml.safe_load(header)["spec"]["inputs"]
    for name, s in spec.items():
        assert s.get("type", "string") == "string", name
        assert isinstance(s.get("default"), str), name
        if s["default"] in ("true", "false"):
            assert s.get("options") == ["true", "false"], name


def test_gitlab_component_interpolates_only_declared_inputs():
    header, body = GITLAB_COMPONENT.read_text().split("\n---\n")
    declared = set(yaml.safe_load(header)["spec"]["inputs"])
    used = set(re.findall(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", body))
    assert used == declared
    hidden = yaml.safe_load(body)[".atlas-grant"]
    assert "grant restore" in "\n".join(hidden["before_script"])
    assert "grant save" in "\n".join(hidden["after_script"])
    assert hidden["cache"][0]["when"] == "always"


def test_circleci_orb_validates():
    assert_valid("vendor.circle-ci", ORB)


@pytest.mark.parametrize("provider", sorted(SCHEMAS))
def test_ci_init_output_validates(provider, tmp_path):
    path = tmp_path / Path(default_path(provider)).name
    path.write_text(render(provider))
    assert_valid(SCHEMAS[provider], path)


def test_docs_snippets_validate(tmp_path):
    """Every YAML block in docs/ci.md that names its file in a first-line comment validates."""
    schema_by_file = {
        "action.yml": "vendor.github-actions",
        ".gitlab-ci.yml": "vendor.gitlab-ci",
        ".circleci/config.yml": "vendor.circle-ci",
        "bitbucket-pipelines.yml": "vendor.bitbucket-pipelines",
        "azure-pipelines.yml": "vendor.azure-pipelines",
    }
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", DOCS.read_text(), re.S)
    by_schema: dict[str, list[Path]] = {}
    for i, (name, text) in enumerate(blocks):
        schema = (
            "vendor.github-workflows"
            if name.startswith(".github/workflows/")
            else schema_by_file.get(name)
        )
        assert schema, f"docs/ci.md: no schema for a block named {name!r}"
        path = tmp_path / f"{i}-{Path(name).name}"
        path.write_text(text)
        by_schema.setdefault(schema, []).append(path)
    assert set(by_schema) >= {"vendor.github-workflows", "vendor.bitbucket-pipelines"}
    for schema, paths in by_schema.items():
        assert_valid(schema, *paths)


# -- every pipeline brackets its Atlas steps --------------------------------------------------

RESTORE, SAVE = "<restore grant>", "<save grant>"
NEW_SHELL = "<new shell>"  # what an earlier item exported is gone from here on


class _GitLabLoader(yaml.SafeLoader):
    pass


_GitLabLoader.add_constructor(
    "!reference", lambda loader, node: ("!reference", loader.construct_sequence(node))
)


def _github_jobs(text: str) -> dict[str, list[str]]:
    jobs = {}
    for name, job in yaml.safe_load(text)["jobs"].items():
        seq = []
        for step in job["steps"]:
            if step.get("uses", "").startswith("atlas-continuity/atlas-continuity@"):
                mode = step["with"]["mode"]
                assert mode == "restore" or step.get("if") == "always()", (name, step)
                seq.append(RESTORE if mode == "restore" else SAVE)
            elif "run" in step:
                seq.append(step["run"])
        jobs[name] = seq
    return jobs


def _gitlab_shells(text: str, grant: dict) -> dict[str, tuple[list, list, list]]:
    """Per visible job: its before_script, script and after_script as GitLab runs them, with
    `extends` and `!reference` resolved; `grant` stands for the included component's job."""
    doc = yaml.load(text, Loader=_GitLabLoader)  # a SafeLoader that knows !reference
    assert any(
        inc.get("component", "").endswith("/atlas-continuity/atlas-continuity/atlas-grant@v0")
        for inc in doc["include"]
    )
    jobs_by_name = {**doc, ".atlas-grant": grant}

    def extends_grant(job: dict) -> bool:
        parent = job.get("extends")
        return parent == ".atlas-grant" or (parent in doc and extends_grant(doc[parent]))

    def inherited(job: dict, key: str) -> list:
        """`extends` merges hashes but replaces lists: the nearest definition wins."""
        while key not in job and job.get("extends"):
            job = jobs_by_name[job["extends"]]
        return job.get(key, [])

    def expand(lines: list) -> list:
        out = []
        for line in lines:
            if isinstance(line, tuple):  # !reference [job, key]: that job's own key, raw
                ref_job, ref_key = line[1]
                out += expand(jobs_by_name[ref_job][ref_key])
            elif isinstance(line, list):  # GitLab flattens nested lists
                out += expand(line)
            else:
                out.append(line)
        return out

    shells = {}
    for name, job in doc.items():
        if isinstance(job, dict) and "stage" in job:
            assert extends_grant(job), name
            shells[name] = tuple(
                expand(inherited(job, key)) for key in ("before_script", "script", "after_script")
            )
    return shells


def _gitlab_jobs(text: str) -> dict[str, list[str]]:
    # the included component, as these jobs see it: its before_script restores, its
    # after_script saves
    grant = {"before_script": [RESTORE], "after_script": [SAVE]}
    jobs = {}
    for name, (before, script, after) in _gitlab_shells(text, grant).items():
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
    assert re.search(r"always \{\s*sh '''\s*atlas-continuity grant save", post)
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
    assert set(JOBS) == set(PROVIDERS) and set(SCHEMAS) == set(PROVIDERS) - {"jenkins"}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_pipeline_restores_first_saves_last_pulls_before_deploy(provider):
    text = render(provider)
    assert "@ATLAS_CONTINUITY_VERSION@" not in text
    jobs = JOBS[provider](text)
    assert jobs
    everything = []
    for name, seq in jobs.items():
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
    exported for the restore is gone by the save unless exported there again."""
    text = render(provider)
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in text
    for name, seq in JOBS[provider](text).items():
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


# -- the shell of each integration, run against stand-in commands ----------------------------

_STUBS = {
    # the CLI: logs how it was called and the credentials it saw; exit codes from STUB_*_RC
    ".atlas-continuity": """\
echo "$0 $* | AZURE_STORAGE_CONNECTION_STRING=${AZURE_STORAGE_CONNECTION_STRING-<unset>}\
 AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY-<unset>}\
 AWS_WEB_IDENTITY_TOKEN_FILE=${AWS_WEB_IDENTITY_TOKEN_FILE-<unset>}" >> "$STUB_LOG"
case "$2" in
  restore) exit "${STUB_RESTORE_RC:-0}" ;;
  save) exit "${STUB_SAVE_RC:-0}" ;;
esac
""",
    # python: `-m venv DIR` makes DIR/bin/python; `-m pip install` puts the CLI next to itself
    "python3": """\
echo "python $*" >> "$STUB_LOG"
case "$1 $2" in
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip") [ "${STUB_PIP_RC:-0}" = 0 ] || exit "$STUB_PIP_RC"
            cp "$STUB_BIN/.atlas-continuity" "$(dirname "$0")/atlas-continuity" ;;
esac
""",
    "curl": 'echo "curl $*" >> "$STUB_LOG"; echo true\n',  # `curl ... | sh` runs `true`
    "atlas": 'echo "atlas $*" >> "$STUB_LOG"\n',
    "git": 'echo "git $*" >> "$STUB_LOG"\n',
}


@dataclass
class Stubs:
    """A bin folder of stand-ins, ahead of /usr/bin and /bin only: no real CLI, Python or
    network. `run` runs a script the way a CI provider does, in a new process each time."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def install_cli(self) -> Path:
        cli_path = self.bin / "atlas-continuity"
        shutil.copy(self.bin / ".atlas-continuity", cli_path)
        return cli_path

    def run(self, lines: list[str], shell: list[str], **env: str) -> subprocess.CompletedProcess:
        script = self.root / f"script-{len(list(self.root.glob('script-*')))}.sh"
        script.write_text("\n".join(lines) + "\n")
        base = {
            "PATH": os.pathsep.join([str(self.bin), "/usr/bin", "/bin"]),
            "HOME": str(self.home),
            "STUB_BIN": str(self.bin),
            "STUB_LOG": str(self.root / "calls.log"),
        }
        return subprocess.run(
            [*shell, str(script)],
            cwd=self.root,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def calls(self, what: str = "") -> list[str]:
        log = self.root / "calls.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if what in line]


@pytest.fixture
def stubs(tmp_path) -> Stubs:
    s = Stubs(tmp_path)
    s.bin.mkdir()
    s.home.mkdir()
    for name, body in _STUBS.items():
        (s.bin / name).write_text("#!/bin/sh\n" + body)
        (s.bin / name).chmod(0o755)
    shutil.copy(s.bin / "python3", s.bin / "python")
    return s


BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitLab, CircleCI
SH = ["sh", "-e"]  # GitLab on an image without bash


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
    before, script, after = _gitlab_shells(render("gitlab"), grant)["deploy"]
    stubs.install_cli()
    env = {
        **{k: str(v) for k, v in grant["variables"].items()},
        **yaml.load(render("gitlab"), Loader=_GitLabLoader)["variables"],
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
    assert len(calls) == sum("atlas-continuity" in s["bash"] for s in steps)
    value = defined.get("AZURE_STORAGE_CONNECTION_STRING", "<unset>")
    for call in calls:
        assert f"AZURE_STORAGE_CONNECTION_STRING={value} " in call, call
        assert "AWS_SECRET_ACCESS_KEY=<unset>" in call, call
    for step in steps:  # AWS keys, which the header offers, are mapped wherever Azure's is
        if "AZURE_STORAGE_CONNECTION_STRING" in step.get("env", {}):
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(step["env"]), step


# -- (b) the GitHub composite action, run --------------------------------------------------


@dataclass
class ActionRun:
    code: int
    outputs: dict[str, str]
    log: str
    ran: list[str] = field(default_factory=list)
    skipped_uses: list[str] = field(default_factory=list)


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<call>(?:always|success|failure|cancelled)\(\))|(?P<ref>[A-Za-z_][\w.-]*))"
)


def _expression(expr: str, ctx: dict, status_ok: bool) -> object:
    """Evaluate the subset of GitHub expressions action.yml uses, failing loudly on the rest."""
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        assert m, f"unsupported expression {expr!r} at {pos}"
        pos = m.end()
        if m["str"] is not None:
            out.append(repr(m["str"][1:-1].replace("''", "'")))
        elif m["op"]:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        elif m["call"]:
            fn = m["call"][:-2]
            out.append(repr(fn == "always" or (fn == "success") == status_ok))
        else:
            assert m["ref"].split(".")[0] in ctx, f"unsupported context in {expr!r}"
            value: object = ctx
            for part in m["ref"].split("."):  # a missing property is '', as on GitHub
                value = value.get(part, "") if isinstance(value, dict) else ""
            out.append(repr(value))
    return eval("".join(out), {"__builtins__": {}})  # only the tokens matched above


def _interpolate(text: str, ctx: dict) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(_expression(m[1], ctx, True)), str(text))


def _read_kv_file(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT / GITHUB_ENV file: NAME=value lines and NAME<<DELIM heredocs."""
    values, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body = []
            for nxt in lines:
                if nxt == delim:
                    break
                body.append(nxt)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def run_action(
    inputs: dict[str, str],
    *,
    workspace: Path,
    home: Path,
    runner_temp: Path,
    path_prefix: str | None = str(BIN),
) -> ActionRun:
    """Run action.yml's steps as the runner would: bash, GITHUB_* files, `if:` conditions."""
    action = yaml.safe_load(ACTION.read_text())
    values = {k: str(spec.get("default", "")) for k, spec in action["inputs"].items()}
    for name, spec in action["inputs"].items():
        assert not spec.get("required") or name in inputs, f"input {name} is required"
    assert set(inputs) <= set(values), set(inputs) - set(values)
    values.update(inputs)
    workspace.mkdir(parents=True, exist_ok=True)
    runner_temp.mkdir(parents=True, exist_ok=True)
    github = {
        "run_id": "4242",
        "run_attempt": "1",
        "job": "deploy",
        "workspace": str(workspace),
        "repository": "acme/app",
        "sha": "0" * 40,
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "ACTIONS_"))
    }
    env.update(
        HOME=str(home),
        CI="true",
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_RUN_ID=github["run_id"],
        GITHUB_RUN_ATTEMPT=github["run_attempt"],
        GITHUB_JOB=github["job"],
        GITHUB_REPOSITORY=github["repository"],
        GITHUB_SHA=github["sha"],
        RUNNER_TEMP=str(runner_temp),
        RUNNER_OS="Linux",
    )
    path = [p for p in env["PATH"].split(os.pathsep) if p]
    if path_prefix != str(BIN):  # the CLI must come from the action's own install step
        path = [p for p in path if Path(p) != BIN]
    env["PATH"] = os.pathsep.join([path_prefix, *path] if path_prefix else path)
    steps: dict[str, dict] = {}
    ctx = {"inputs": values, "github": github, "steps": steps, "runner": {"temp": str(runner_temp)}}
    run = ActionRun(0, {}, "")
    for i, step in enumerate(action["runs"]["steps"]):
        condition = str(step.get("if", "success()"))
        if not re.search(r"\b(always|success|failure|cancelled)\(\)", condition):
            condition = f"success() && ({condition})"
        if not _expression(condition, ctx, run.code == 0):
            continue
        if "uses" in step:
            run.skipped_uses.append(step["uses"])
            continue
        assert step.get("shell") == "bash", step.get("name")
        assert "${{" not in step["run"], f"{step.get('name')}: expressions in the script text"
        files = {}
        for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
            files[name] = runner_temp / f"{name.lower()}-{i}"
            files[name].write_text("")
        script = runner_temp / f"step-{i}.sh"
        script.write_text(step["run"])
        step_env = {
            **env,
            **{k: str(v) for k, v in files.items()},
            **{k: _interpolate(v, ctx) for k, v in step.get("env", {}).items()},
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        run.ran.append(step["name"])
        run.log += f"## {step['name']} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}"
        if "id" in step:
            steps[step["id"]] = {"outputs": _read_kv_file(files["GITHUB_OUTPUT"])}
        env.update(_read_kv_file(files["GITHUB_ENV"]))
        for entry in reversed(files["GITHUB_PATH"].read_text().splitlines()):
            env["PATH"] = f"{entry}{os.pathsep}{env['PATH']}"
        if proc.returncode and not step.get("continue-on-error"):
            run.code = run.code or proc.returncode
    for name, spec in action["outputs"].items():
        run.outputs[name] = _interpolate(spec["value"], ctx)
    return run


GRANT = {
    "credentials.json": b'{"token": "grant-\x00\xff-bytes"}\n',
    "cache/license.grant": os.urandom(4096),
    "cache/nested/deeper/state": b"",
}


def write_grant(home: Path) -> Path:
    state = home / ".atlas"
    for rel, data in GRANT.items():
        (state / rel).parent.mkdir(parents=True, exist_ok=True)
        (state / rel).write_bytes(data)
    os.chmod(state / "credentials.json", 0o644)  # restore must tighten this
    return state


def assert_restored(home: Path) -> None:
    state = home / ".atlas"
    files = {p.relative_to(state).as_posix() for p in state.rglob("*") if p.is_file()}
    assert files == set(GRANT)
    for rel, data in GRANT.items():
        assert (state / rel).read_bytes() == data, rel
    for p in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


@pytest.fixture
def gh(tmp_path):
    """Fresh HOME / workspace / RUNNER_TEMP per run; two file:// stores in one bucket dir."""
    counter = iter(range(100))

    def fresh(kind: str) -> Path:
        return tmp_path / f"{kind}-{next(counter)}"

    stores = [tmp_path / "bucket" / "primary", tmp_path / "bucket" / "second"]
    return fresh, [s.as_uri() for s in stores], stores


def test_action_run_steps_read_inputs_only_through_env():
    action = yaml.safe_load(ACTION.read_text())
    runs = [s for s in action["runs"]["steps"] if "run" in s]
    assert runs
    for step in runs:
        assert step["shell"] == "bash" and "${{" not in step["run"], step["name"]
    uses = {s["uses"] for s in action["runs"]["steps"] if "uses" in s}
    assert uses == {"actions/cache/restore@v4", "actions/cache/save@v4"}
    for s in action["runs"]["steps"]:
        if s.get("uses") == "actions/cache/restore@v4":
            assert s["with"]["restore-keys"].strip().endswith("-")
            assert "github.run_id" in s["with"]["key"]
        if s.get("uses") == "actions/cache/save@v4":
            assert "github.run_id" in s["with"]["key"] and "github.run_attempt" in s["with"]["key"]


def test_action_save_then_restore_on_fresh_home(gh):
    fresh, urls, stores = gh
    workspace, home = fresh("workspace"), fresh("home")
    write_grant(home)
    common = {"install": "false", "store": f"{urls[0]}\n{urls[1]}"}

    saved = run_action(
        {"mode": "save", **common}, workspace=workspace, home=home, runner_temp=fresh("tmp")
    )
    assert saved.code == 0, saved.log
    assert saved.outputs["saved"] == "true"
    assert saved.skipped_uses == ["actions/cache/save@v4"]  # its folder is the one below
    assert list((workspace / ".atlas-grant-cache").rglob("*.json"))
    for store in stores:  # newline-separated store URLs: each one took the snapshot
        assert list(store.rglob("*.json")), store

    new_home = fresh("home")
    restored = run_action(
        {"mode": "restore", **common}, workspace=workspace, home=new_home, runner_temp=fresh("tmp")
    )
    assert restored.code == 0, restored.log
    assert restored.outputs["restored"] == "true"
    assert restored.skipped_uses == ["actions/cache/restore@v4"]
    assert_restored(new_home)


def test_action_restore_falls_back_to_the_store_on_a_cache_miss(gh):
    fresh, urls, _ = gh
    home = fresh("home")
    write_grant(home)
    args = {"install": "false", "store": f"{urls[0]} {urls[1]}"}  # space-separated works too
    assert (
        run_action(
            {"mode": "save", **args}, workspace=fresh("ws"), home=home, runner_temp=fresh("tmp")
        ).outputs["saved"]
        == "true"
    )

    # a new runner: the Actions cache missed (empty workspace) and the first store is gone
    shutil.rmtree(urls[0].removeprefix("file://"))
    new_home = fresh("home")
    run = run_action(
        {"mode": "restore", **args}, workspace=fresh("ws"), home=new_home, runner_temp=fresh("tmp")
    )
    assert run.code == 0 and run.outputs["restored"] == "true", run.log
    assert f"grant restored from {urls[1]}, not the first cache" in run.log
    assert_restored(new_home)


def test_action_first_run_restores_nothing_and_succeeds(gh):
    fresh, urls, _ = gh
    home = fresh("home")
    run = run_action(
        {"mode": "restore", "install": "false", "store": urls[0]},
        workspace=fresh("ws"),
        home=home,
        runner_temp=fresh("tmp"),
    )
    assert run.code == 0, run.log
    assert run.outputs["restored"] == "false"
    assert "::notice title=atlas-continuity::no grant cached yet" in run.log
    assert not (home / ".atlas").exists()


def test_action_save_without_a_grant_warns_or_fails_when_asked(gh):
    fresh, urls, _ = gh
    args = {"mode": "save", "install": "false", "store": urls[0]}
    run = run_action(args, workspace=fresh("ws"), home=fresh("home"), runner_temp=fresh("tmp"))
    assert run.code == 0, run.log
    assert run.outputs["saved"] == "false" and run.skipped_uses == []  # no empty cache entry
    assert "::warning title=atlas-continuity::no Atlas state folder to save" in run.log

    run = run_action(
        {**args, "fail-on-error": "true"},
        workspace=fresh("ws"),
        home=fresh("home"),
        runner_temp=fresh("tmp"),
    )
    assert run.code == ExitCode.NOT_FOUND, run.log


def test_action_restore_of_a_corrupt_cache_warns_and_goes_on(gh):
    fresh, urls, stores = gh
    home, workspace = fresh("home"), fresh("ws")
    write_grant(home)
    args = {"install": "false", "cache-dir": "", "store": urls[0]}  # the store alone
    run_action({"mode": "save", **args}, workspace=workspace, home=home, runner_temp=fresh("tmp"))
    (snapshot,) = stores[0].rglob("*.json")
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 1
    snapshot.write_bytes(bytes(data))

    new_home = fresh("home")
    run = run_action(
        {"mode": "restore", **args}, workspace=workspace, home=new_home, runner_temp=fresh("tmp")
    )
    assert run.code == 0 and run.outputs["restored"] == "false", run.log
    assert f"::warning title=atlas-continuity::grant not restored (exit {ExitCode.INTEGRITY})" in (
        run.log
    )
    assert not (new_home / ".atlas").exists()
    assert run.skipped_uses == []  # cache-dir '' skips the Actions cache entirely


@pytest.mark.parametrize(
    ("inputs", "code", "message"),
    [
        ({"mode": "backup"}, 2, "::error title=atlas-continuity::mode must be restore or save"),
        ({"mode": "restore", "store": "bogus://x"}, 3, "unknown store URL scheme"),
    ],
)
def test_action_fails_on_misconfiguration(gh, inputs, code, message):
    fresh, _, _ = gh
    run = run_action(
        {"install": "false", **inputs},
        workspace=fresh("ws"),
        home=fresh("home"),
        runner_temp=fresh("tmp"),
    )
    assert run.code == code and message in run.log, run.log


def _wheel(dest: Path) -> Path:
    """A wheel of this checkout's CLI, zipped by hand: installing it needs no build backend, no
    index and no network (without extras the package has no dependencies)."""
    from atlas_continuity.runtime import __version__

    dist = f"atlas_continuity-{__version__}.dist-info"
    files = {}
    for path in sorted((ROOT / "runtime").rglob("*")):
        if path.is_file() and (path.suffix == ".py" or path.parent.name == "templates"):
            rel = path.relative_to(ROOT / "runtime").as_posix()
            files[f"atlas_continuity/runtime/{rel}"] = path.read_bytes()
    files[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: atlas-continuity\nVersion: {__version__}\n"
        "Requires-Python: >=3.11\n"
    ).encode()
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{dist}/entry_points.txt"] = (
        b"[console_scripts]\natlas-continuity = atlas_continuity.runtime.cli:main\n"
    )

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip(
            "="
        )

    record = "".join(f"{name},{digest(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    wheel = dest / f"atlas_continuity-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def test_action_install_step_installs_the_cli_into_a_virtualenv(gh, tmp_path, monkeypatch):
    """install: true creates a virtualenv under RUNNER_TEMP, pip-installs `package` into it and
    exports its bin through GITHUB_PATH, and the save step runs the CLI from there. `package` is
    a wheel of this checkout, and pip is kept off the network."""
    fresh, urls, _ = gh
    wheel = _wheel(tmp_path)
    python_dir = tmp_path / "python"  # a Python 3.11+ on PATH, as on an ubuntu-24.04 runner
    python_dir.mkdir()
    (python_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    stripped = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    assert shutil.which("atlas-continuity", path=stripped) is None  # only the install brings it
    runner_temp, home = fresh("tmp"), fresh("home")
    write_grant(home)
    run = run_action(
        {"mode": "save", "store": urls[0], "package": str(wheel)},
        workspace=fresh("ws"),
        home=home,
        runner_temp=runner_temp,
        path_prefix=str(python_dir),
    )
    assert run.code == 0 and run.outputs["saved"] == "true", run.log
    assert run.ran[:2] == ["Check inputs", "Install atlas-continuity"]
    venv_cli = runner_temp / "atlas-continuity" / "bin" / "atlas-continuity"
    proc = subprocess.run(
        [str(venv_cli), "grant", "restore", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--newest" in proc.stdout, proc.stderr
    installed = subprocess.run(
        [
            str(venv_cli.with_name("python")),
            "-c",
            "import atlas_continuity.runtime as r; print(r.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert Path(installed.stdout.strip()).is_relative_to(runner_temp), installed  # not ROOT's


def test_action_install_step_reuses_the_jobs_virtualenv(gh):
    """A second call in the same job finds the virtualenv and only puts it on PATH again."""
    fresh, urls, _ = gh
    runner_temp = fresh("tmp")
    venv_bin = runner_temp / "atlas-continuity" / "bin"
    venv_bin.mkdir(parents=True)
    shim = venv_bin / "atlas-continuity"
    shim.write_text(f'#!/bin/sh\nexec "{BIN / "atlas-continuity"}" "$@"\n')
    shim.chmod(0o755)
    home = fresh("home")
    write_grant(home)
    run = run_action(
        {"mode": "save", "store": urls[0]},
        workspace=fresh("ws"),
        home=home,
        runner_temp=runner_temp,
        path_prefix=None,
    )
    assert run.code == 0 and run.outputs["saved"] == "true", run.log
    assert run.ran[:2] == ["Check inputs", "Install atlas-continuity"]


# -- (c) ci init -------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_ci_init_writes_and_refuses_to_overwrite(provider, tmp_path):
    target = tmp_path / "repo" / default_path(provider)
    r = cli("ci", "init", provider, "-o", target)
    assert r.code == 0 and r.out == "" and r.err == "", r
    assert target.read_text() == render(provider)

    target.write_text("# mine\n")
    r = cli("ci", "init", provider, "-o", target)
    assert r.code == ExitCode.REFUSED and "--force" in r.err
    assert target.read_text() == "# mine\n"

    r = cli("ci", "init", provider, "-o", target, "--force")
    assert r.code == 0 and target.read_text() == render(provider)

    r = cli("ci", "init", provider)
    assert r.code == 0 and r.out == render(provider)


def test_ci_init_from_the_installed_command(tmp_path):
    proc = subprocess.run(
        [str(BIN / "atlas-continuity"), "ci", "init", "github"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "uses: atlas-continuity/atlas-continuity@v0" in proc.stdout


def test_ci_init_unknown_provider():
    assert cli("ci", "init", "travis").code == ExitCode.USAGE
    with pytest.raises(BadInput):
        render("travis")
