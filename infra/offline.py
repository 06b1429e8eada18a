"""Run component code or the stack program in-process under the Pulumi SDK's mocks.

This is what ``atlas-continuity plan`` (:mod:`.plan`) and the test suite share. :func:`deploy`
runs a build function, :func:`run_program` runs ``infra/program.py`` with a stack's config, and
both return a :class:`Deployment`: every resource registered (type token, name, inputs, parent,
URN, whether it is protected), what each component registered as outputs, and the stack's
exports.

Nothing leaves the process: the mock engine answers every resource registration and provider
invoke itself. :class:`Mocks` records what is declared and answers with the inputs alone;
:class:`OfflineMocks` (the plan's) adds only what the stack's config already says (the region,
the project) and leaves every value a cloud would compute (an ARN, an account ID, a client ID)
unknown, as ``pulumi preview`` would show it before anything exists. The test suite subclasses
:class:`Mocks` with a fake cloud that answers those too, so that it can assert on them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2

CONFIG_NAMESPACE = "atlas-continuity"


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


STACK_TYPE = "pulumi:pulumi:Stack"


def _alias_urn(request: Any, alias: Any) -> str:
    """The URN an alias of the resource ``request`` registers stands for."""
    if not alias.HasField("spec"):
        return alias.urn
    spec = alias.spec
    stack, project = spec.stack or pulumi.get_stack(), spec.project or pulumi.get_project()
    type_ = spec.type or request.type
    parent = "" if spec.noParent else (spec.parentUrn or request.parent)
    parent_type = parent.split("::")[2] if parent else STACK_TYPE
    if parent_type != STACK_TYPE:  # a child's type is qualified by its parent's
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
