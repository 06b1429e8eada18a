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


def test_pulumi_install_finds_the_program_s_requirements_in_its_folder():
    """Pulumi's pip toolchain reads requirements.txt in the program's folder (main) and runs
    pip there; one at the root only would leave .venv without Pulumi or the components."""
    folder = ROOT / yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["main"]
    lines = (folder / "requirements.txt").read_text().splitlines()
    (requirement,) = [line for line in lines if line and not line.startswith("#")]
    flag, path = requirement.split()
    assert flag == "-e" and path.endswith("[all]")
    assert (folder / path.removesuffix("[all]")).resolve() == ROOT.resolve()


def test_runtime_extras_do_not_pull_in_pulumi():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = extras["optional-dependencies"]
    # The runtime's one dependency is pure Python and small: progress bars on a terminal.
    assert extras["dependencies"] == ["tqdm>=4.66"]
    for name in ("s3", "gcs", "azureblob", "stores"):
        assert not any("pulumi" in dep for dep in optional[name]), name


def test_every_package_folder_is_in_the_distribution():
    """A subpackage missing from pyproject's list works in an editable install and is absent
    from the wheel users install."""
    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(["atlas_continuity", top, *init.parent.relative_to(ROOT / top).parts])
        for top in ("runtime", "infra")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == declared


def test_modules_stay_a_size_one_reader_holds_in_mind():
    """The limits issue 8 set when it split the CLI and the CI tests: a file past them is split
    by what its parts are about, before it grows further."""
    limits = {"runtime": 500, "tests": 600}
    too_long = {
        str(path.relative_to(ROOT)): lines
        for folder, limit in limits.items()
        for path in (ROOT / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > limit
    }
    assert too_long == {}
