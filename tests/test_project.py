"""The repository is a runnable Pulumi project and an installable distribution."""

from __future__ import annotations

import tomllib

import yaml

from devtools.emulators import ROOT


def test_pulumi_project_points_at_the_program_and_the_stacks_folder():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["stackConfigDir"] == "stacks" and (ROOT / "stacks").is_dir()
    assert (ROOT / project["main"] / "__main__.py").is_file()


def test_runtime_extras_do_not_pull_in_pulumi():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = extras["optional-dependencies"]
    assert extras["dependencies"] == []
    for name in ("s3", "gcs", "azureblob"):
        assert not any("pulumi" in dep for dep in optional[name]), name
