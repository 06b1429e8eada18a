"""CI integrations: every shipped or generated pipeline file validates against its provider's
schema, each pipeline brackets its Atlas steps with a grant restore and save, the GitHub
composite action restores and saves a real grant when its steps run, and `ci init` writes files
without clobbering them.

Schemas are check-jsonschema's vendored ones, run as a subprocess exactly as a user or a
pre-commit hook would, with the network pointed at a dead proxy: they are bundled, not fetched.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
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


def test_gitlab_component_validates(tmp_path):
    # A component is two YAML documents: the `spec:` header, `---`, then the jobs. GitLab reads
    # them as one file, but check-jsonschema loads one document per file and refuses a stream of
    # two ("expected a single document"). The vendored gitlab-ci schema has a `spec` property for
    # the header, so each document is validated on its own against the same schema.
    header, body = GITLAB_COMPONENT.read_text().split("\n---\n")
    assert list(yaml.safe_load(header)) == ["spec"]
    (tmp_path / "spec.yml").write_text(header)
    (tmp_path / "jobs.yml").write_text(body)
    assert_valid("vendor.gitlab-ci", tmp_path / "spec.yml", tmp_path / "jobs.yml")


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


def _gitlab_jobs(text: str) -> dict[str, list[str]]:
    doc = yaml.load(text, Loader=_GitLabLoader)  # a SafeLoader that knows !reference
    assert any(
        inc.get("component", "").endswith("/atlas-continuity/atlas-continuity/atlas-grant@v0")
        for inc in doc["include"]
    )

    def extends_grant(job: dict) -> bool:
        parent = job.get("extends")
        return parent == ".atlas-grant" or (parent in doc and extends_grant(doc[parent]))

    def script(job: dict) -> list[str]:
        out = []
        for line in job["script"]:
            if isinstance(line, tuple):  # !reference [job, key]
                out += doc[line[1][0]][line[1][1]]
            else:
                out.append(line)
        return out

    jobs = {}
    for name, job in doc.items():
        if isinstance(job, dict) and "stage" in job:
            assert extends_grant(job), name  # before_script restores, after_script saves
            jobs[name] = [RESTORE, *script(job), SAVE]
    return jobs


def _circleci_jobs(text: str) -> dict[str, list[str]]:
    doc = yaml.safe_load(text)
    assert doc["orbs"]["atlas-continuity"].startswith("atlas-continuity/atlas-continuity@")

    def expand(steps: list) -> list[str]:
        out = []
        for step in steps:
            name = step if isinstance(step, str) else next(iter(step))
            if name == "atlas-continuity/restore-grant":
                out.append(RESTORE)
            elif name == "atlas-continuity/save-grant":
                out.append(SAVE)
            elif name == "run":
                out.append(step["run"]["command"])
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
            seq += [RESTORE, line] if "grant restore" in line else [line]
        if any("grant save" in line for line in step.get("after-script", [])):
            seq.append(SAVE)  # after-script runs whether the script failed or not
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
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    else:  # the CLI must come from the action's own install step
        env["PATH"] = os.pathsep.join(
            p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN and p
        )
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


def test_action_install_step_puts_the_cli_on_path(gh):
    """install: true reuses the job's virtualenv and exports its bin through GITHUB_PATH."""
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
