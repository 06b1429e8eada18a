"""`ci init` writes each provider's pipeline file, and never clobbers one."""

from __future__ import annotations

import subprocess

import pytest

from atlas_continuity.runtime.ci import PROVIDERS, default_path, render
from atlas_continuity.runtime.errors import BadInput, ExitCode

from ..helpers import cli
from .conftest import BIN


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
