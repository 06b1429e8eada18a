"""Run component code or the stack program in-process under the Pulumi SDK's mocks.

This is what ``atlas-continuity plan`` and the test suite share. :func:`deploy` runs a build
function, :func:`run_program` runs ``infra/program.py`` with a stack's config, and both return a
:class:`Deployment`: every resource registered (type token, name, inputs, parent, URN, whether it
is protected), what each component registered as outputs, and the stack's exports.

Nothing leaves the process: the mock engine answers every resource registration and provider
invoke itself. :class:`Mocks` records what is declared and answers with the inputs alone;
:class:`OfflineMocks` (the plan's) adds only what the stack's config already says (the region,
the project) and leaves every value a cloud would compute (an ARN, an account ID, a client ID)
unknown, as ``pulumi preview`` would show it before anything exists. The test suite subclasses
:class:`Mocks` with a fake cloud that answers those too, so that it can assert on them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2

CONFIG_NAMESPACE = "atlas-continuity"
FORMAT_VERSION = 1
"""The version of the ``--json`` plan's shape (docs/infra-plan.md): a field may be added
without a new version; a field renamed, removed or changed in meaning makes a new one."""


class Unknown:
    """A value only the cloud can tell (an ARN, an ID): known after the resource exists."""

    def __repr__(self) -> str:
        return "(known after apply)"


UNKNOWN = Unknown()


@dataclass
class Declared:
    """One resource the program registered with the (mock) engine."""

    type: str
    name: str
    inputs: dict[str, Any]
    urn: str = ""
    parent: str = ""
    """The parent's URN ("" for a resource at the stack's top)."""
    protect: bool = False
    retain_on_delete: bool = False
    depends_on: list[str] = field(default_factory=list)
    """The URNs of the resources it was declared to depend on."""
    aliases: list[str] = field(default_factory=list)
    """The URNs it is aliased to: what it was before (a name, a parent)."""
    state: dict[str, Any] = field(default_factory=dict)
    """What the mock cloud answered: the inputs plus the outputs it could compute."""

    @property
    def is_component(self) -> bool:
        """One of this package's components (the rest are the providers' resources)."""
        return self.type.startswith(f"{CONFIG_NAMESPACE}:")

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A JSON policy input, parsed."""
        return json.loads(self.inputs[key])


@dataclass
class Deployment:
    resources: list[Declared] = field(default_factory=list)
    registered_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per component URN, what it passed to ``register_outputs``."""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per label of :func:`deploy`'s build result, the component's output attributes."""
    exports: dict[str, Any] = field(default_factory=dict)
    """The stack's exports (:func:`run_program`), with :data:`UNKNOWN` where not yet known."""
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings (``pulumi.log.warn``)."""

    def of_type(self, type_: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Declared:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {[r.name for r in found]}"
        return found[0]

    def none(self, type_: str) -> None:
        assert not self.of_type(type_), f"unexpected {type_}"

    def protected(self, type_: str) -> bool:
        """Whether the one resource of ``type_`` was declared with ``protect``."""
        return self.one(type_).protect

    def named(self, name: str) -> Declared:
        (found,) = [r for r in self.resources if r.name == name]
        return found

    def counts(self) -> dict[str, int]:
        """How many resources of each type, components included, sorted by type."""
        out: dict[str, int] = {}
        for r in self.resources:
            out[r.type] = out.get(r.type, 0) + 1
        return dict(sorted(out.items()))


class Mocks(pulumi.runtime.Mocks):
    """Records every resource; answers each registration with its inputs, and each invoke
    with nothing. Subclasses add what their cloud computes (:meth:`answer`, :meth:`invoke`)."""

    def __init__(self, deployment: Deployment | None = None) -> None:
        self.deployment = deployment or Deployment()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        self.deployment.resources.append(
            Declared(args.typ, args.name, plain(args.inputs), state=state)
        )
        return self.answer(args, state)

    def answer(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str | None, dict]:
        """The resource's ID and state: ``state`` starts as its inputs."""
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        result = self.invoke(args)
        if result is None:
            raise _UnknownInvoke
        return result

    def invoke(self, args: pulumi.runtime.MockCallArgs) -> dict | None:
        """The invoke's result; None when it cannot be known here (it is then unknown)."""
        return {}


class _UnknownInvoke(Exception):
    """Raised through the mock monitor: answer the invoke as wholly unknown."""


class OfflineMocks(Mocks):
    """The plan's cloud: it knows only what the stack's config says.

    A name the program gives (a bucket's, an account's) is echoed back, and a bucket lands in
    the provider's configured region; every other computed value (an ARN, an account ID, a
    project number, a client ID) stays unknown, so the plan never shows a made-up identifier.
    """

    def __init__(self, config: Mapping[str, str], deployment: Deployment | None = None) -> None:
        super().__init__(deployment)
        self.config = config

    def answer(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str | None, dict]:
        inputs = args.inputs
        if args.typ == "aws:s3/bucket:Bucket":
            region = inputs.get("region") or self.config.get("aws:region")
            if region:
                state["bucketRegion"] = region
        if args.typ == "gcp:storage/bucket:Bucket" and inputs.get("name"):
            state["url"] = f"gs://{inputs['name']}"
        if args.typ == "azure-native:storage:StorageAccount" and inputs.get("accountName"):
            state["name"] = inputs["accountName"]
        if args.typ == "azure-native:storage:BlobContainer" and inputs.get("containerName"):
            state["name"] = inputs["containerName"]
        # No ID: in a preview, a resource that does not exist yet has none.
        return None, state

    def invoke(self, args: pulumi.runtime.MockCallArgs) -> dict | None:
        if args.token == "aws:index/getRegion:getRegion" and self.config.get("aws:region"):
            region = self.config["aws:region"]
            return {"region": region, "name": region, "id": region}
        # The account, the partition, a project's number, the tenant: only the cloud knows.
        return None


class _WarningLog(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


@contextmanager
def _event_loop() -> Iterator[None]:
    """A loop of its own for the SDK to run on, and one for each thread the SDK answers the
    mock engine on (it would make them itself), all closed afterwards with whatever is still
    pending (a component that raised leaves registrations behind): a loop left to the garbage
    collector prints a traceback on stderr when the process exits."""
    loop = asyncio.new_event_loop()
    worker_loops: list[asyncio.AbstractEventLoop] = []

    def worker_loop() -> None:
        own = asyncio.new_event_loop()
        asyncio.set_event_loop(own)
        worker_loops.append(own)  # list.append is atomic

    executor = ThreadPoolExecutor(thread_name_prefix="pulumi-mocks", initializer=worker_loop)
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        executor.shutdown(wait=True)
        for own in worker_loops:
            own.close()
        loop.close()
        asyncio.set_event_loop(None)


def deploy(
    build: Callable[[], Mapping[str, pulumi.Resource]],
    mocks: Mocks | None = None,
    *,
    preview: bool = False,
    project: str = "atlas",
    stack: str = "test",
) -> Deployment:
    """Run ``build`` under ``mocks``; it returns the components to resolve, by label.

    With ``preview``, values the mocks leave out are unknown, as in ``pulumi preview``;
    without, they are None (a test's fake cloud answers everything it asserts on)."""
    with _event_loop():
        return _deploy(build, mocks, preview=preview, project=project, stack=stack)


def _deploy(
    build: Callable[[], Mapping[str, pulumi.Resource]],
    mocks: Mocks | None,
    *,
    preview: bool,
    project: str,
    stack: str,
) -> Deployment:
    mocks = mocks or Mocks()
    deployment = mocks.deployment
    logger = logging.getLogger(f"atlas_continuity.plan.{id(deployment)}")
    logger.propagate = False
    logger.handlers[:] = [_WarningLog(deployment.warnings)]
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, logger=logger)
    monitor = settings.get_monitor()
    register_outputs = monitor.RegisterResourceOutputs

    def spy_outputs(request):
        deployment.registered_outputs[request.urn] = dict(
            rpc.deserialize_properties(request.outputs)
        )
        return register_outputs(request)

    monitor.RegisterResourceOutputs = spy_outputs
    register_resource = monitor.RegisterResource
    options: dict[tuple[str, str], dict[str, Any]] = {}

    def spy_options(request):
        response = register_resource(request)
        options[(request.type, request.name)] = {
            "urn": response.urn,
            "parent": request.parent,
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
            "depends_on": list(request.dependencies),
            "aliases": [_alias_urn(request, a) for a in request.aliases],
        }
        return response

    monitor.RegisterResource = spy_options
    invoke = monitor.Invoke

    def invoke_or_unknown(request):
        try:
            return invoke(request)
        except _UnknownInvoke:
            try:
                return resource_pb2.ResourceInvokeResponse(unknown=True)
            except ValueError:  # a Pulumi SDK older than unknown invoke results
                raise ValueError(
                    f"{request.tok} can only be answered by the cloud, and this Pulumi SDK "
                    "cannot report an unknown result: pip install -U pulumi"
                ) from None

    monitor.Invoke = invoke_or_unknown

    @pulumi.runtime.test
    def program():
        components = build()
        resolved = {}
        for label, component in components.items():
            names = [n for n in type(component).__annotations__ if not n.startswith("_")]
            resolved[label] = pulumi.Output.all(
                **{n: getattr(component, n) for n in names}, urn=component.urn
            )
        return pulumi.Output.all(**resolved).apply(deployment.outputs.update)

    with warnings.catch_warnings():
        # Provider SDKs warn, on import, about deprecated aliases of their own that the
        # components do not use (test_conventions checks the declared types).
        warnings.simplefilter("ignore", DeprecationWarning)
        program()
    for resource in deployment.resources:
        for key, value in options.get((resource.type, resource.name), {}).items():
            setattr(resource, key, value)
    return deployment


def run_program(
    config: Mapping[str, Any],
    mocks: Mocks | None = None,
    *,
    preview: bool = False,
    project: str = "atlas",
    stack: str = "test",
) -> Deployment:
    """Run the stack program (``infra/program.py``) under ``mocks`` with ``config`` and only
    that (as in a stack file: ``{"atlas-continuity:aws": {...}, "aws:region": "..."}``; the
    process's PULUMI_CONFIG variables are not read); the Deployment's ``exports`` hold what it
    exported, resolved, :data:`UNKNOWN` where not known."""
    from atlas_continuity.infra import program

    strings = config_strings(config)
    exported: dict[str, Any] = {}
    with _event_loop(), _config_alone(strings):

        def build():
            program.main()
            return {}

        d = _deploy(build, mocks, preview=preview, project=project, stack=stack)
        root = settings.get_root_resource()
        outputs = dict(getattr(root, "outputs", {}))
        getattr(root, "outputs", {}).clear()

        @pulumi.runtime.test
        def collect():
            return pulumi.Output.all(
                *(_resolve(value, [key], exported) for key, value in outputs.items())
            )

        collect()
    d.exports = {key: _fill(outputs[key], [key], exported) for key in outputs}
    return d


@contextmanager
def _config_alone(config: dict[str, str]) -> Iterator[None]:
    """The SDK's config is ``config`` and nothing else while the program runs: under
    ``pulumi up`` the engine passes config in PULUMI_CONFIG variables, which a plan of a stack
    file must not pick up from the shell it runs in."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("PULUMI_CONFIG")}
    for key in saved:
        del os.environ[key]
    pulumi.runtime.set_all_config(config)
    try:
        yield
    finally:
        pulumi.runtime.set_all_config({})  # config is process-wide in the SDK
        os.environ.update(saved)


_STACK_TYPE = "pulumi:pulumi:Stack"


def _alias_urn(request: Any, alias: Any) -> str:
    """The URN an alias of the resource ``request`` registers stands for."""
    if not alias.HasField("spec"):
        return alias.urn
    spec = alias.spec
    stack, project = spec.stack or pulumi.get_stack(), spec.project or pulumi.get_project()
    type_ = spec.type or request.type
    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
    parent_type = parent.split("::")[2] if parent else _STACK_TYPE
    if parent_type != _STACK_TYPE:  # a child's type is qualified by its parent's
        type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{spec.name or request.name}"


def plain(value: Any) -> Any:
    """Declared inputs as the API would take them: an input not known yet is :data:`UNKNOWN`,
    and a whole number is an int (inputs travel as protobuf Structs, whose numbers are all
    doubles: the providers send 65532.0 on as 65532)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if type(value).__name__ == "Unknown" and type(value).__module__ == "pulumi.output":
        return UNKNOWN
    return value


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the SDK holds it: strings, objects as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def _resolve(value: Any, path: list[str], into: dict[tuple[str, ...], Any]) -> pulumi.Output:
    """An Output that resolves once every known leaf of ``value`` is recorded in ``into`` by
    its path; a leaf that stays unknown is simply never recorded."""
    if isinstance(value, Mapping):
        return pulumi.Output.all(*(_resolve(v, [*path, str(k)], into) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return pulumi.Output.all(*(_resolve(v, [*path, str(i)], into) for i, v in enumerate(value)))
    output = pulumi.Output.from_input(value)

    def record(resolved: Any) -> None:
        into[tuple(path)] = resolved

    # An unknown output never runs its apply; is_known lets the collection finish anyway.
    return pulumi.Output.all(output.apply(record), output.is_known())


def _fill(value: Any, path: list[str], known: dict[tuple[str, ...], Any]) -> Any:
    if isinstance(value, Mapping):
        return {k: _fill(v, [*path, str(k)], known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(v, [*path, str(i)], known) for i, v in enumerate(value)]
    return known.get(tuple(path), UNKNOWN)


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


def read_project(folder: Path) -> Project:
    path = folder / PROJECT_FILE
    manifest = load_yaml(path)
    name = manifest.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path}: name must be the project's name (a string)")
    config_dir = manifest.get("stackConfigDir", ".")
    if not isinstance(config_dir, str) or not config_dir:
        raise ValueError(f"{path}: stackConfigDir must be a folder (a string)")
    return Project(folder, name, folder / config_dir)


def stack_file(project: Project, stack: str) -> Path:
    """``<stackConfigDir>/Pulumi.<stack>.yaml`` of ``project``."""
    if not stack or "/" in stack or stack.startswith("."):
        raise StackNotFound(f"invalid stack name {stack!r}")
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
    """PyYAML's safe loader, less what Pulumi does not read: a value that looks like a date
    (``2024-05-01``) is a string to Pulumi, as to the Go YAML library it uses."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def load_yaml(path: Path) -> dict[str, Any]:
    """A Pulumi project or stack file: a YAML mapping (empty when the file is). Anything else
    is a ValueError naming the file."""
    import yaml

    data = path.read_bytes()
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
    for key, value in config.items():
        name = str(key) if ":" in str(key) else f"{project}:{key}"
        if name in qualified:
            raise ValueError(f"{path}: {key} and {name} are one key, given twice")
        try:
            qualified[name] = _without_secrets(value)
        except RecursionError:
            raise ValueError(
                f"{path}: {key}: the value contains itself (a YAML alias inside its own "
                "anchor) or is nested too deeply"
            ) from None
    return qualified


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return "[secret]"
        return {k: _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


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
    d = run_program(config, mocks, preview=True, project=manifest.name, stack=stack)
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
    by_urn = {r.urn: r for r in d.resources}
    for r in d.resources:
        children.setdefault(r.parent if r.parent in by_urn else "", []).append(r)
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
    under_a_parent = bool(r.parent) and r.parent.split("::")[2] != _STACK_TYPE
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
    for r in d.resources:
        unknown: list[str] = []
        resources.append(
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
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
