"""The runtime image's Dockerfile, read as Docker reads it, held to the image rules.

No Docker engine runs here, so the image is not built: these tests parse the instructions
(continuation lines joined, build arguments substituted) and check what a build would do:
a base pinned to an exact release, never ``latest``; one store's extra installed; no pip left
in the runtime image; a non-root user, the Atlas operator's; the CLI as the entry point; and
only the package's sources sent to the build.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch

import pytest

from atlas_continuity.infra.kubernetes import manifests
from devtools.emulators import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Instruction:
    keyword: str
    argument: str
    stage: int
    """Which build stage it belongs to (-1: before the first FROM)."""


def parse(text: str) -> list[Instruction]:
    """Instructions in order, comments dropped and backslash continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    out, stage = [], -1
    for line in lines:
        keyword, _, argument = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, argument.strip(), stage))
    return out


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


def build_args(instructions: list[Instruction]) -> dict[str, str]:
    """Every ARG's default (global and per stage: their names do not clash here)."""
    defaults = {}
    for i in instructions:
        if i.keyword == "ARG":
            name, _, default = i.argument.partition("=")
            assert default, f"ARG {name} has no default: a plain `docker build` would fail"
            defaults[name] = default
    return defaults


def expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value)


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def test_every_base_image_is_pinned_to_an_exact_release_and_never_latest(instructions):
    args = build_args(instructions)
    bases = [expand(i.argument.split()[0], args) for i in instructions if i.keyword == "FROM"]
    assert len(bases) == 2  # a build stage and the runtime stage
    for base in bases:
        image, _, digest = base.partition("@")
        name, _, tag = image.rpartition(":")
        assert name == "python", base
        assert "latest" not in tag
        # An exact Python release (3.12.8) and Debian release (bookworm), or a digest.
        pinned = re.match(r"^\d+\.\d+\.\d+-slim-[a-z]+$", tag) or re.match(
            r"^sha256:[0-9a-f]{64}$", digest
        )
        assert pinned, f"{base} is not pinned to an exact release"


def test_the_image_installs_one_store_extra_of_the_package(instructions):
    args = build_args(instructions)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    installs = [
        expand(i.argument, args)
        for i in instructions
        if i.keyword == "RUN" and "pip install" in i.argument
    ]
    (install,) = installs
    (extra,) = re.findall(r"\"\.\[([a-z0-9]+)\]\"", install)
    assert extra == args["STORE"] == "s3"
    # The store extras bring one SDK each and no Pulumi.
    for store in ("s3", "gcs", "azureblob"):
        assert store in extras and not [r for r in extras[store] if "pulumi" in r]
    guard = next(i.argument for i in instructions if i.keyword == "RUN" and "case" in i.argument)
    assert re.search(r"\bs3\|gcs\|azureblob\)", guard), "an unknown STORE must stop the build"


def shell_steps(instructions: list[Instruction]) -> list[tuple[int, str]]:
    """Every command the RUN instructions chain with ``&&``, with its stage, in order."""
    return [
        (i.stage, step.strip())
        for i in instructions
        if i.keyword == "RUN"
        for step in i.argument.split("&&")
    ]


def pip_removed_from(steps: list[tuple[int, str]], stage: int) -> list[str]:
    """The interpreters whose pip the stage's steps uninstall (``PYTHON -m pip uninstall``)."""
    return [
        match.group(1)
        for s, step in steps
        if s == stage and (match := re.match(r"^(\S+) -m pip uninstall (?:--?[a-z-]+ )*pip$", step))
    ]


def test_no_pip_is_left_in_the_runtime_image(instructions):
    """The runtime image runs the CLI, never an installer: pip goes from the environment the
    build stage copies over (after it installed the package) and from the base image."""
    steps = shell_steps(instructions)
    build, runtime = 0, max(s for s, _ in steps)
    env = "/opt/atlas-continuity"
    (install,) = [n for n, (s, step) in enumerate(steps) if s == build and "pip install" in step]
    assert pip_removed_from(steps[install + 1 :], build) == [f"{env}/bin/python"]
    assert pip_removed_from(steps, runtime) == ["python"]
    copies = [i.argument for i in final_stage(instructions) if i.keyword == "COPY"]
    assert copies == [f"--from=build {env} {env}"]  # the environment, as the build left it


def test_the_runtime_stage_runs_as_the_operators_non_root_user(instructions):
    users = [i.argument for i in final_stage(instructions) if i.keyword == "USER"]
    assert users, "the final stage sets no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    assert int(uid) == manifests.RUNTIME_UID  # what the grant jobs' securityContext says


def test_the_entry_point_is_the_cli(instructions):
    entrypoints = [i.argument for i in final_stage(instructions) if i.keyword == "ENTRYPOINT"]
    (entrypoint,) = entrypoints
    command = json.loads(entrypoint)  # the exec form: signals reach the CLI itself
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command == ["atlas-continuity"] and "atlas-continuity" in scripts
    env = " ".join(i.argument for i in final_stage(instructions) if i.keyword == "ENV")
    assert "/opt/atlas-continuity/bin" in env.split("PATH=", 1)[1].split()[0]
    # The grant jobs run the script with /bin/sh: the slim Debian base has it.
    assert "slim" in build_args(instructions)["PYTHON_IMAGE"]


def test_only_the_package_sources_reach_the_build(instructions):
    sources = [
        part
        for i in instructions
        if i.keyword == "COPY" and not i.argument.startswith("--from")
        for part in i.argument.split()[:-1]
    ]
    assert sorted(sources) == ["README.md", "infra", "pyproject.toml", "runtime"]
    for source in sources:
        assert (ROOT / source).exists(), source
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch(path, pattern.lstrip("!").rstrip("/")) or path.startswith(
                pattern.lstrip("!")
            ):
                included = negated
        return included

    for source in sources:
        assert sent(source), source
    for secret_or_bulk in (".venv", ".git", "node_modules", "tests", "stacks"):
        assert not sent(secret_or_bulk), secret_or_bulk


def test_the_parser_sees_continued_lines_and_stages():
    """The checks above can fail: the parser reads what Docker would."""
    parsed = parse("ARG A=1\nFROM x:${A} AS b\nRUN a \\\n  && b\n# c\nFROM y\nUSER root\n")
    assert [(i.keyword, i.stage) for i in parsed] == [
        ("ARG", -1),
        ("FROM", 0),
        ("RUN", 0),
        ("FROM", 1),
        ("USER", 1),
    ]
    assert parsed[2].argument == "a    && b"
    assert expand("x:${A}", build_args(parsed)) == "x:1"
