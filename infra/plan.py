"""The offline plan of one stack (``atlas-continuity plan``): read the project's Pulumi.yaml and
the stack's file as Pulumi does, run the program under :class:`~.offline.OfflineMocks`, and
show what it would declare, as text or as versioned JSON."""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .offline import (
    STACK_TYPE,
    UNKNOWN,
    Declared,
    Deployment,
    OfflineMocks,
    Unknown,
    config_strings,
    run_program,
)

FORMAT_VERSION = 1
"""The version of the ``--json`` plan's shape (docs/infra-plan.md): a field may be added
without a new version; a field renamed, removed or changed in meaning makes a new one."""


# --- stacks --------------------------------------------------------------------------------


class StackNotFound(ValueError):
    """No such stack file (a ValueError: bad input)."""


PROJECT_FILE = "Pulumi.yaml"


def project_dir(start: Path) -> Path:
    """The folder of the nearest ``Pulumi.yaml`` at or above ``start``, as ``pulumi`` finds it."""
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise StackNotFound(f"no {PROJECT_FILE} in {start} or any folder above it")


def check_project_dir(folder: Path) -> Path:
    """``folder``, which must be a Pulumi project (hold a ``Pulumi.yaml``): a folder given
    explicitly is never swapped for one above it."""
    if not folder.is_dir():
        raise StackNotFound(f"{folder}: no such folder")
    if not (folder / PROJECT_FILE).is_file():
        raise StackNotFound(f"{folder}: not a Pulumi project (no {PROJECT_FILE} there)")
    return folder


@dataclass
class Project:
    """What the plan reads of a project's ``Pulumi.yaml``."""

    folder: Path
    name: str
    stack_config_dir: Path


_PULUMI_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")
"""A project's or a stack's name as Pulumi takes it (and so no path: no '/', no file name too
long; no ':', which separates a config key's namespace)."""


def read_project(folder: Path) -> Project:
    path = folder / PROJECT_FILE
    manifest = load_yaml(path)
    name = manifest.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path}: name must be the project's name (a string)")
    if not _PULUMI_NAME.match(name):  # it qualifies config keys (<project>:<key>) and URNs
        raise ValueError(
            f"{path}: name {name!r}: up to 100 letters, digits, '-', '_' and '.', as Pulumi "
            "names projects"
        )
    config_dir = manifest.get("stackConfigDir", ".")
    if not isinstance(config_dir, str) or not config_dir:
        raise ValueError(f"{path}: stackConfigDir must be a folder (a string)")
    return Project(folder, name, folder / config_dir)


def stack_file(project: Project, stack: str) -> Path:
    """``<stackConfigDir>/Pulumi.<stack>.yaml`` of ``project``."""
    if not _PULUMI_NAME.match(stack):
        short = stack.rsplit("/", 1)[-1]
        hint = f" (the stack file is named by the short name: {short!r})" if "/" in stack else ""
        raise StackNotFound(
            f"invalid stack name {stack!r}: up to 100 letters, digits, '-', '_' and '.', as "
            f"Pulumi names stacks{hint}"
        )
    folder = project.stack_config_dir
    path = folder / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))
        raise StackNotFound(
            f"no stack {stack!r}: {path} does not exist (stacks here: {', '.join(known) or 'none'})"
        )
    return path


@functools.cache
def _yaml_loader() -> type:
    """PyYAML's safe loader, read as Pulumi reads YAML (the Go YAML library): a value that
    looks like a date (``2024-05-01``) is a string, and a key given twice in one mapping is an
    error (PyYAML would keep the last one silently, and plan what ``pulumi up`` refuses)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # << merges may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the constructor below says so
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"the key {key!r} is given twice",
                        key_node.start_mark,
                    )
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


MAX_FILE_BYTES = 2**20
"""The largest project or stack file the plan reads: this program's are a few kilobytes, and
PyYAML takes seconds per megabyte (and far more memory)."""


def load_yaml(path: Path) -> dict[str, Any]:
    """A Pulumi project or stack file: a YAML mapping (empty when the file is). Anything else
    is a ValueError naming the file."""
    import yaml

    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(
            f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB: not a Pulumi project or stack "
            "file of this program"
        )
    try:
        text = data.decode("utf-8-sig")  # Pulumi drops a byte order mark too
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        document = yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or exc
        raise ValueError(f"{where}: not valid YAML: {reason}") from None
    except ValueError:  # a number longer than int() reads
        raise ValueError(
            f"{path}: a number has more than {sys.get_int_max_str_digits()} digits"
        ) from None
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping, not {type(document).__name__}")
    return document


def load_stack_config(path: Path, project: str) -> dict[str, Any]:
    """The ``config`` section of a stack file, each key as Pulumi reads it: a key without a
    namespace (``repo``) is the project's (``<project>:repo``). Encrypted values
    (``secure:``), at any depth, cannot be read offline: they stand as ``[secret]``."""
    document = load_yaml(path)
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: config must be a mapping")
    qualified: dict[str, Any] = {}
    values = itertools.count()
    for key, value in config.items():
        name = str(key) if ":" in str(key) else f"{project}:{key}"
        if name in qualified:
            raise ValueError(f"{path}: {key} and {name} are one key, given twice")
        try:
            qualified[name] = _without_secrets(value, values, f"{path}: {name}")
        except _TooManyValues:
            raise ValueError(
                f"{path}: more than {MAX_CONFIG_VALUES} values once its YAML aliases are "
                "expanded: not the config of this program"
            ) from None
        except RecursionError:
            raise ValueError(
                f"{path}: {key}: the value contains itself (a YAML alias inside its own "
                "anchor) or is nested too deeply"
            ) from None
    return qualified


SECRET = "[secret]"
"""What an encrypted value (``secure:``) reads as in the plan: it cannot be decrypted offline."""

MAX_CONFIG_VALUES = 100_000
"""The most values a stack's config may hold, each alias of an anchor counted again: a few
aliases of aliases (a "billion laughs") expand to billions, which the plan would walk for
hours; every stack of this program holds a few hundred."""


class _TooManyValues(Exception):
    pass


def _without_secrets(value: Any, counted: Iterator[int], where: str) -> Any:
    if next(counted) >= MAX_CONFIG_VALUES:
        raise _TooManyValues
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return SECRET
        for key in value:
            _check_scalar(key, f"{where} (a key)")
        return {k: _without_secrets(v, counted, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v, counted, f"{where}[{i}]") for i, v in enumerate(value)]
    _check_scalar(value, where)
    return value


def _check_scalar(value: Any, where: str) -> None:
    """A scalar Pulumi can pass to the program: its config travels as JSON."""
    if not isinstance(value, str | int | float | bool | None):
        raise ValueError(
            f"{where}: a {type(value).__name__}, from an explicit YAML tag (!!binary, !!set, "
            "!!timestamp): a config value is a string, a number, true or false, a list or a map"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"{where}: {value}: Pulumi passes config to the program as JSON, which has no "
            "infinity or NaN"
        )


@dataclass
class Plan:
    """What the program declares for one stack, computed offline."""

    stack: str
    project: str
    stack_file: Path
    deployment: Deployment


def plan_stack(stack: str, project: Path) -> Plan:
    """Run the program for ``stack`` of the project in the folder ``project`` under
    :class:`OfflineMocks`, in preview mode."""
    manifest = read_project(project)
    path = stack_file(manifest, stack)
    config = load_stack_config(path, manifest.name)
    mocks = OfflineMocks(config_strings(config))
    try:
        d = run_program(config, mocks, preview=True, project=manifest.name, stack=stack)
    except ValueError as exc:
        if repr(SECRET) not in str(exc):
            raise
        # The value refused is the plan's stand-in, not the user's: say so.
        raise ValueError(
            f"{exc} ({SECRET} stands for a secure: value, which an offline plan cannot "
            "decrypt: a value the program checks cannot be secret here)"
        ) from None
    return Plan(stack, manifest.name, path, d)


# --- what the plan shows -------------------------------------------------------------------


def notice(plan: Plan) -> str:
    """What the plan is and is not, said before anything else."""
    return (
        f"Offline plan of stack {plan.stack!r} (project {plan.project}, {plan.stack_file.name}): "
        "what the program would declare, computed on this machine under Pulumi's mocks. "
        "Nothing was sent to any cloud or cluster, and this is not a diff against deployed "
        f"state: `pulumi preview -s {plan.stack}` compares with that. A value shown as "
        f"{UNKNOWN!r} is one only the cloud can tell."
    )


def render_text(plan: Plan) -> str:
    """The resource tree with each resource's key inputs, then the stack's outputs."""
    d = plan.deployment
    children: dict[str, list[Declared]] = {}
    urns = {r.urn for r in d.resources}
    for r in d.resources:
        children.setdefault(_listed_parent(r, urns), []).append(r)
    lines = [*textwrap.wrap(notice(plan), 100), "", f"Resources ({len(d.resources)}):"]

    def walk(parent: str, prefix: str) -> None:
        kids = sorted(children.get(parent, []), key=lambda r: (not r.is_component, r.name))
        for i, r in enumerate(kids):
            last = i == len(kids) - 1
            branch = "" if not parent else ("└─ " if last else "├─ ")
            lines.append(f"{prefix}{branch}{_headline(r)}")
            walk(r.urn, prefix + ("" if not parent else ("   " if last else "│  ")))

    walk("", "")
    lines += ["", "Outputs:"]
    lines += [f"  {key}: {_short(value, 200)}" for key, value in d.exports.items()]
    lines += ["", "Counts by type:"]
    lines += [f"  {count:3d}  {type_}" for type_, count in d.counts().items()]
    return "\n".join(lines)


def _listed_parent(r: Declared, urns: set[str]) -> str:
    """``r``'s parent among the resources the plan lists; "" at the top (the stack itself,
    which the program does not declare, is not listed)."""
    return r.parent if r.parent in urns else ""


def _headline(r: Declared) -> str:
    flags = [
        f for f, on in (("protected", r.protect), ("kept on delete", r.retain_on_delete)) if on
    ]
    moves = [text for urn in r.aliases if (text := _moved_from(r, urn))]
    if moves:
        flags.append(f"was {', '.join(moves)}")
    parts = [r.type, r.name]
    if not r.is_component:
        parts += [f"{k}={_short(v, 60)}" for k, v in _key_inputs(r.inputs).items()]
    return "  ".join(parts) + (f"  [{'; '.join(flags)}]" if flags else "")


def _moved_from(r: Declared, alias: str) -> str:
    """Where an alias says ``r`` was, as a reader says it: its old name, or its old place at
    the stack's top; "" for an alias of another kind (a provider's renamed type)."""
    _, _, type_, name = alias.split("::", 3)
    under_a_parent = bool(r.parent) and r.parent.split("::")[2] != STACK_TYPE
    if "$" not in type_ and under_a_parent:
        return f"{name} at the stack's top"
    return name if name != r.name else ""


def _key_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs that tell a resource apart: plain values, and a Kubernetes object's name."""
    out = {}
    for key, value in inputs.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, Mapping):
            out.update({f"metadata.{k}": value[k] for k in ("name", "namespace") if k in value})
        elif not isinstance(value, Mapping | list):
            out[key] = value
    return out


def _short(value: Any, width: int) -> str:
    if isinstance(value, str):
        text = value if "\n" not in value else f"<{value.count(chr(10)) + 1} lines>"
        text = json.dumps(text) if text and text[0] in "{[" else text
    elif isinstance(value, Unknown):
        text = repr(value)
    else:
        text = json.dumps(value, default=repr)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_json(plan: Plan) -> dict[str, Any]:
    """The plan for machines: every resource with all its inputs, and the outputs. A value
    not known offline is null, and its path is listed under ``unknown``."""
    d = plan.deployment

    def known(value: Any, path: str, unknown: list[str]) -> Any:
        if isinstance(value, Unknown):
            unknown.append(path)
            return None
        if isinstance(value, Mapping):
            return {k: known(v, f"{path}.{k}", unknown) for k, v in value.items()}
        if isinstance(value, list):
            return [known(v, f"{path}[{i}]", unknown) for i, v in enumerate(value)]
        return value

    resources = []
    urns = {r.urn for r in d.resources}
    for r in d.resources:
        unknown: list[str] = []
        resources.append(
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": _listed_parent(r, urns),
                "component": r.is_component,
                "protect": r.protect,
                "retain_on_delete": r.retain_on_delete,
                "aliases": r.aliases,
                "inputs": known(r.inputs, "inputs", unknown),
                "unknown": unknown,
            }
        )
    unknown_outputs: list[str] = []
    outputs = known(d.exports, "outputs", unknown_outputs)
    return {
        "format_version": FORMAT_VERSION,
        "offline": True,
        "notice": notice(plan),
        "stack": plan.stack,
        "project": plan.project,
        "stack_file": str(plan.stack_file),
        "resources": resources,
        "counts": d.counts(),
        "outputs": outputs,
        "unknown": unknown_outputs,
        "warnings": d.warnings,
    }
