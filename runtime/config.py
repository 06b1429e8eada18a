"""Which repository, stores and directory format to use: from flags, or from atlas.hcl.

From atlas.hcl (``--config file://atlas.hcl --env NAME``) the values come from
``env.migration``: ``format``, ``dir`` and ``repo { name, url, backup }``. ``url`` is the
primary store; without it the primary is Atlas Cloud and only the backups are ours.
``locals``, ``variable`` (with ``--var k=v``), ``getenv("X")`` and ``atlas.env`` resolve as
Atlas resolves them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import hcl
from .atlas_sum import DIR_FORMATS, check_dir_format
from .errors import BadInput
from .targets import StorePlan


@dataclass(frozen=True)
class AtlasEnv:
    """What the runtime needs from one env of atlas.hcl."""

    repo: str | None
    primary: str | None
    backups: tuple[str, ...]
    dir_format: str | None
    dir: str | None


def config_path(value: str) -> Path:
    """Accept Atlas's ``file://atlas.hcl`` form and a plain path."""
    if "://" in value:
        scheme, _, rest = value.partition("://")
        if scheme != "file":
            raise BadInput(f"config {value!r}: only file:// config URLs are supported")
        value = rest
    path = Path(value)
    if path.is_dir():
        raise BadInput(f"config {str(path)!r} is a folder: give the atlas.hcl file in it")
    if not path.is_file():
        raise BadInput(f"config file {str(path)!r} was not found")
    return path


def parse_vars(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # Not "key=value": the redactor takes "key=" for a secret, and the hint came out masked.
            raise BadInput(f"--var {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out


def load_env(path: Path, env: str, variables: dict[str, str]) -> AtlasEnv:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {where}: {exc}") from None
    root = hcl.parse(text, where)
    scope = _Scope(root, env, variables, where)
    block = scope.select_env()
    migration = block.child("migration")
    if migration is None:
        return AtlasEnv(None, None, (), None, None)
    repo = migration.child("repo")
    fmt = migration.attributes.get("format")
    dir_format = None
    if fmt is not None:
        dir_format = scope.value(fmt, enums=set(DIR_FORMATS))
        check_dir_format(str(dir_format))
    backups: tuple[str, ...] = ()
    name = primary = None
    if repo is not None:
        name = scope.string(repo, "name")
        primary = scope.string(repo, "url")
        if "backup" in repo.attributes:
            raw = scope.value(repo.attributes["backup"])
            if isinstance(raw, str):
                raw = [raw]
            if not isinstance(raw, list) or not all(isinstance(u, str) for u in raw):
                raise BadInput(
                    f"{where}:{repo.attributes['backup'].line}: "
                    "repo.backup must be a list of store URLs"
                )
            backups = tuple(raw)
    return AtlasEnv(
        repo=name,
        primary=primary,
        backups=backups,
        dir_format=dir_format,
        dir=_optional(lambda: scope.string(migration, "dir")),
    )


def _optional(read):
    """``migration.dir`` only supplies a default folder: a value this reader cannot resolve
    (``data.remote_dir.x.url`` of Atlas Cloud setups) leaves it unset instead of failing."""
    try:
        return read()
    except BadInput:
        return None


def repo_block(name: str, backups: list[str], url: str | None = None) -> str:
    """The ``repo { ... }`` block of ``env { migration { ... } }`` in atlas.hcl, for the
    repository ``name`` with these stores; :func:`load_env` reads it back to the same values."""
    from .layout import check_name

    def string(value: str) -> str:
        return json.dumps(value, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")

    lines = [f"  name   = {string(check_name('repository', name))}"]
    if url is not None:
        lines.append(f"  url    = {string(url)}")
    lines += ["  backup = [", *(f"    {string(b)}," for b in backups), "  ]"]
    return "repo {\n" + "\n".join(lines) + "\n}\n"


def store_plan(primary: str | None, backups: list[str], from_config: AtlasEnv | None) -> StorePlan:
    """Each flag wins over its atlas.hcl attribute (--primary over url, --backup over backup);
    at least one store must remain, each given once."""
    if from_config is not None:
        primary = primary or from_config.primary
        backups = backups or list(from_config.backups)
    plan = StorePlan(primary=primary, backups=tuple(backups))
    if not plan.urls():
        raise BadInput(
            "no stores: give --primary/--backup, or --config with migration.repo "
            "{ url, backup } in the selected env"
        )
    plan.check()
    return plan


class _Scope:
    def __init__(self, root: hcl.Block, env: str, variables: dict[str, str], where: str) -> None:
        self.root, self.env, self.where = root, env, where
        self.inputs = variables
        self.locals = {k: a for b in root.children("locals") for k, a in b.attributes.items()}
        self.local_values: dict[str, Any] = {}
        self.evaluating: set[str] = set()
        self.variables = {b.labels[0]: b for b in root.children("variable") if len(b.labels) == 1}
        self.evaluator = hcl.Evaluator(self.resolve, {"getenv": _getenv}, where)
        self.enums: set[str] = set()
        unknown = sorted(set(variables) - set(self.variables))
        if unknown:
            raise BadInput(f"--var {', '.join(unknown)}: no such variable in {where}")

    def select_env(self) -> hcl.Block:
        envs = self.root.children("env")
        labelled = [b for b in envs if b.labels == [self.env]]
        if labelled:
            return labelled[0]
        for block in envs:
            name = block.attributes.get("name")
            if not block.labels and name is not None and name.source == "atlas.env":
                return block
        known = sorted({b.labels[0] for b in envs if b.labels})
        raise BadInput(
            f"env {self.env!r} not defined in {self.where}"
            + (f" (defined: {', '.join(known)})" if known else "")
        )

    def value(self, attr: hcl.Attribute, enums: set[str] | None = None) -> Any:
        self.enums = enums or set()
        try:
            return self.evaluator.evaluate(attr)
        finally:
            self.enums = set()

    def string(self, block: hcl.Block, name: str) -> str | None:
        attr = block.attributes.get(name)
        if attr is None:
            return None
        value = self.value(attr)
        if not isinstance(value, str):
            raise BadInput(f"{self.where}:{attr.line}: {block.type}.{name} must be a string")
        return value

    def resolve(self, root: str, path: list[str], line: int) -> Any:
        if not path and root in self.enums:
            return root
        if root == "atlas" and path == ["env"]:
            return self.env
        if root == "var" and len(path) == 1:
            return self._variable(path[0], line)
        if root == "local" and len(path) == 1:
            return self._local(path[0], line)
        ref = ".".join([root, *path])
        raise BadInput(
            f"{self.where}:{line}: cannot resolve {ref!r} (supported: var.*, "
            "local.*, atlas.env, getenv())"
        )

    def _variable(self, name: str, line: int) -> Any:
        if name in self.inputs:
            return self.inputs[name]
        block = self.variables.get(name)
        if block is None:
            raise BadInput(f"{self.where}:{line}: variable {name!r} is not declared")
        if "default" not in block.attributes:
            raise BadInput(
                f"{self.where}:{line}: missing value for required variable {name!r}; "
                f"pass --var {name}=VALUE"
            )
        return self.evaluator.evaluate(block.attributes["default"])

    def _local(self, name: str, line: int) -> Any:
        if name in self.local_values:
            return self.local_values[name]
        if name not in self.locals:
            raise BadInput(f"{self.where}:{line}: local {name!r} is not defined")
        if name in self.evaluating:
            raise BadInput(f"{self.where}:{line}: cyclic reference to local.{name}")
        self.evaluating.add(name)
        try:
            value = self.evaluator.evaluate(self.locals[name])
        finally:
            self.evaluating.discard(name)
        self.local_values[name] = value
        return value


def _getenv(key: Any = None, *extra: Any) -> str:
    if not isinstance(key, str) or extra:
        raise BadInput("getenv() takes one string argument")
    return os.environ.get(key, "")
