"""The GitHub composite action, its steps run as a runner runs them: it installs the CLI and
restores and saves a real grant."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from atlas_continuity.runtime.errors import ExitCode
from devtools.emulators import ROOT

from .conftest import ACTION, BIN, run_action

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

    # a new runner: the Actions cache missed (empty workspace) and the first store lost its
    # objects (a folder that is gone altogether is a misconfiguration, as a missing bucket is)
    first = Path(urls[0].removeprefix("file://"))
    shutil.rmtree(first)
    first.mkdir()
    new_home = fresh("home")
    run = run_action(
        {"mode": "restore", **args}, workspace=fresh("ws"), home=new_home, runner_temp=fresh("tmp")
    )
    assert run.code == 0 and run.outputs["restored"] == "true", run.log
    assert f"{urls[0]}: no grant snapshot named 'default'" in run.log  # the first is empty
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
    assert proc.returncode == 0 and "--request-deadline" in proc.stdout, proc.stderr
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


@pytest.mark.parametrize(("mode", "output"), [("restore", "restored"), ("save", "saved")])
def test_action_with_neither_cache_folder_nor_store_does_nothing_and_says_so(gh, mode, output):
    """A public repository keeps no grant in the Actions cache (cache-dir ''); without a store
    either there is nothing to do, and the job goes on."""
    fresh, _, _ = gh
    home = fresh("home")
    write_grant(home)
    run = run_action(
        {"mode": mode, "install": "false", "cache-dir": "", "store": " \n"},
        workspace=fresh("ws"),
        home=home,
        runner_temp=fresh("tmp"),
    )
    assert run.code == 0 and run.outputs[output] == "false", run.log
    assert f"no cache folder and no store: nothing to {mode}" in run.log
    assert run.skipped_uses == []
