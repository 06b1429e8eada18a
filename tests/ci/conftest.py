"""Machinery the CI suites share: where the integrations live, the GitLab component as GitLab
builds it, a bin folder of stand-in commands to run pipeline shell in, and a runner for the
GitHub composite action's steps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from devtools.emulators import ROOT

BIN = Path(sys.executable).parent  # the venv's bin: atlas-continuity lives here
ACTION = ROOT / "action.yml"
GITLAB_COMPONENT = ROOT / "templates" / "atlas-grant.yml"
ORB = ROOT / "orb" / "orb.yml"
DOCS = ROOT / "docs" / "ci.md"


# -- the GitLab component and pipelines, as GitLab builds them ------------------------------

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


class GitLabLoader(yaml.SafeLoader):
    """Reads GitLab's `!reference [job, key]` tags as ("!reference", [job, key])."""


GitLabLoader.add_constructor(
    "!reference", lambda loader, node: ("!reference", loader.construct_sequence(node))
)


def gitlab_shells(text: str, grant: dict) -> dict[str, tuple[list, list, list]]:
    """Per visible job: its before_script, script and after_script as GitLab runs them, with
    `extends` and `!reference` resolved; `grant` stands for the included component's job."""
    doc = yaml.load(text, Loader=GitLabLoader)
    component = "$CI_SERVER_FQDN/atlas-continuity/atlas-continuity/atlas-grant@"
    assert any(inc.get("component", "").startswith(component) for inc in doc["include"])
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
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python"
             printf '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n' > "$3/bin/pip"
             chmod +x "$3/bin/pip" ;;
  "-m pip") [ "${STUB_PIP_RC:-0}" = 0 ] || exit "$STUB_PIP_RC"
            cp "$STUB_BIN/.atlas-continuity" "$(dirname "$0")/atlas-continuity" ;;
esac
""",
    # `curl URL | sh` runs `true`; `curl -o FILE URL` saves an installer that, given
    # `-o PATH`, puts the atlas stand-in there (as atlasgo.sh --no-install -o PATH does)
    "curl": """\
echo "curl $*" >> "$STUB_LOG"
out=""
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
[ -n "$out" ] || { echo true; exit 0; }
cat > "$out" <<'INSTALLER'
while [ $# -gt 0 ]; do [ "$1" = -o ] && cp "$STUB_BIN/atlas" "$2"; shift; done
INSTALLER
""",
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

    def run(
        self, lines: list[str], shell: list[str], cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess:
        script = self.root / f"script-{len(list(self.root.glob('script-*')))}.sh"
        script.write_text("\n".join(lines) + "\n")
        base = {
            "PATH": os.pathsep.join([str(self.bin), "/usr/bin", "/bin"]),
            "HOME": str(self.home),
            "STUB_BIN": str(self.bin),
            "STUB_LOG": str(self.root / "calls.log"),
            "TMPDIR": str(self.root),
        }
        return subprocess.run(
            [*shell, str(script)],
            cwd=cwd or self.root,
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


# -- the GitHub composite action, run as a runner runs it ----------------------------------


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


@pytest.fixture
def gh(tmp_path):
    """Fresh HOME / workspace / RUNNER_TEMP per run; two file:// stores in one bucket dir."""
    counter = iter(range(100))

    def fresh(kind: str) -> Path:
        return tmp_path / f"{kind}-{next(counter)}"

    stores = [tmp_path / "bucket" / "primary", tmp_path / "bucket" / "second"]
    for store in stores:  # provisioned, as a bucket is before any pipeline runs
        store.mkdir(parents=True)
    return fresh, [s.as_uri() for s in stores], stores
