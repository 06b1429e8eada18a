"""Each cloud's package imports with only its own extra installed, in a fresh virtualenv, and
pulls in no other cloud's SDK.

Downloading and installing the extras per run would cost minutes; the fresh venv instead gets
symlinks to exactly the distributions the extra's dependency closure names, taken from the
suite's own environment, and to the project's two packages. A module the import needs from
outside the closure is then simply not there, and the import fails.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from devtools.emulators import ROOT

CLOUDS = {
    "aws": ("atlas_continuity.infra.aws", "pulumi_aws"),
    "gcp": ("atlas_continuity.infra.gcp", "pulumi_gcp"),
    "azure": ("atlas_continuity.infra.azure", "pulumi_azure_native"),
    "kubernetes": ("atlas_continuity.infra.kubernetes", "pulumi_kubernetes"),
}
PROBE = """
import json, sys, importlib
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({n.split(".")[0] for n in sys.modules})))
"""


def closure(*names: str) -> set[str]:
    """The distributions ``names`` need, transitively (markers evaluated, no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = md.distribution(todo.pop()).metadata["Name"]
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for spec in md.requires(name) or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    return seen


def extra(cloud: str) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r).name for r in project["optional-dependencies"][cloud]]


@pytest.fixture(scope="module", params=sorted(CLOUDS))
def fresh_venv(request, tmp_path_factory) -> tuple[str, Path]:
    cloud = request.param
    root = tmp_path_factory.mktemp(f"venv-{cloud}")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dist_name in closure(*extra(cloud)):
        dist = md.distribution(dist_name)
        tops = {str(f).split("/")[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)
    package = site / "atlas_continuity"
    package.mkdir()
    (package / "infra").symlink_to(ROOT / "infra")
    (package / "runtime").symlink_to(ROOT / "runtime")
    return cloud, python


def test_each_cloud_imports_with_its_extra_alone(fresh_venv):
    cloud, python = fresh_venv
    module, sdk = CLOUDS[cloud]
    assert sorted(extra(cloud)) == sorted(["pulumi", sdk.replace("_", "-")])
    result = subprocess.run(
        [python, "-c", PROBE, module], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert sdk in loaded
    others = {s for c, (_, s) in CLOUDS.items() if c != cloud}
    assert not loaded & others
    # The runtime's cloud SDKs stay out too: infra imports only the store contract.
    assert (
        not loaded & {"boto3", "google", "azure"} - {"google"}
        or "google" not in loaded
        or cloud == "gcp"
    )


def test_the_venv_really_lacks_the_other_clouds(fresh_venv):
    cloud, python = fresh_venv
    for other, (module, _) in CLOUDS.items():
        if other == cloud:
            continue
        result = subprocess.run(
            [python, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
        )
        assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr, other


def test_the_subpackages_are_packaged_and_in_the_all_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for module, _ in CLOUDS.values():
        assert module in project["tool"]["setuptools"]["packages"]
    all_extra = project["project"]["optional-dependencies"]["all"][0]
    assert all(cloud in all_extra for cloud in CLOUDS)
