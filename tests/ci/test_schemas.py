"""Every shipped or generated pipeline file validates against its provider's schema.

Schemas are check-jsonschema's vendored ones, run as a subprocess exactly as a user or a
pre-commit hook would, with the network pointed at a dead proxy: they are bundled, not fetched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atlas_continuity.runtime.ci import PROVIDERS, default_path, render

from .conftest import ACTION, DOCS, GITLAB_COMPONENT, ORB, gitlab_component

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


def test_every_provider_but_jenkins_has_a_schema():
    assert set(SCHEMAS) == set(PROVIDERS) - {"jenkins"}  # Jenkinsfiles are Groovy
