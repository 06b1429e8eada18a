"""`ci init` writes each provider's pipeline file, and never clobbers one."""

from __future__ import annotations

import os
import stat
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


def test_ci_init_force_keeps_the_old_file_when_the_new_one_cannot_be_written(tmp_path):
    # A file size limit (ulimit -f 2: a kilobyte at most) below the pipeline's size makes the
    # write fail half-way, as a full disk would; the file being replaced must come through whole.
    target = tmp_path / "atlas.yml"
    target.write_text("# mine\n")
    cmd = [str(BIN / "atlas-continuity"), "ci", "init", "github", "-o", str(target), "--force"]
    proc = subprocess.run(
        ["sh", "-c", 'ulimit -f 2 && exec "$@"', "sh", *cmd],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stderr
    assert target.read_text() == "# mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["atlas.yml"]  # no temporary file left


def test_ci_init_does_not_write_through_a_dangling_link(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "atlas.yml"
    link = tmp_path / "atlas.yml"
    link.symlink_to(elsewhere)
    r = cli("ci", "init", "github", "-o", link)
    assert r.code == ExitCode.REFUSED and "--force" in r.err, r
    assert link.is_symlink() and not elsewhere.exists()


def test_ci_init_output_dash_is_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("ci", "init", "gitlab", "-o", "-")
    assert r.code == 0 and r.out == render("gitlab"), r
    assert list(tmp_path.iterdir()) == []


def test_ci_init_refuses_an_empty_output_path():
    r = cli("ci", "init", "github", "-o", "")
    assert r.code == ExitCode.USAGE and "--output" in r.err and r.out == "", r


def test_ci_init_says_which_parent_is_not_a_folder(tmp_path):
    (tmp_path / "ci").write_text("a file\n")
    r = cli("ci", "init", "github", "-o", tmp_path / "ci" / "atlas.yml")
    assert r.code == ExitCode.BAD_INPUT and "not a folder" in r.err, r


def test_ci_init_force_writes_through_a_link_to_a_file(tmp_path):
    # The file a link names is the one replaced; the link itself stays (dotfile managers,
    # a pipeline file shared between repositories).
    elsewhere = tmp_path / "shared.yml"
    elsewhere.write_text("# mine\n")
    link = tmp_path / "atlas.yml"
    link.symlink_to(elsewhere)
    r = cli("ci", "init", "github", "-o", link, "--force")
    assert r.code == 0, r
    assert link.is_symlink() and elsewhere.read_text() == render("github")


def test_ci_init_force_writes_into_a_pipe_instead_of_replacing_it(tmp_path):
    # -o /dev/stdout, a FIFO, a terminal: nothing there to lose and nothing to swap in; the
    # pipeline goes into it, and the special file stays what it was.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the writer's open does not block
    try:
        proc = subprocess.run(
            [str(BIN / "atlas-continuity"), "ci", "init", "github", "-o", str(fifo), "--force"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        received = b""
        while chunk := os.read(reader, 65536):
            received += chunk
    finally:
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received.decode() == render("github")


def test_ci_init_names_the_output_when_its_folder_refuses_the_file():
    # /proc takes no new files, even from root: the error names the file asked for, not the
    # temporary one it is written to first.
    r = cli("ci", "init", "github", "-o", "/proc/atlas.yml")
    assert r.code == ExitCode.BAD_INPUT, r
    assert "/proc/atlas.yml:" in r.err and "tmp" not in r.err, r.err
