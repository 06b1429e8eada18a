"""Components for every Pulumi language: the schema ``pulumi package add`` would get.

The Pulumi CLI cannot run here, so the provider is built in this process exactly as the
plugin's entry point builds it (``infra/provider.py``), and its schema, inferred by the SDK
from the components' typed args and outputs, is read back.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from atlas_continuity.infra import aws, azure, gcp, kubernetes, provider
from atlas_continuity.infra.continuity_plan import ContinuityPlan
from devtools.emulators import ROOT


@pytest.fixture(scope="module")
def schema() -> dict:
    hosted = ComponentProvider(provider.components(), provider.PACKAGE, version="1.2.3")
    return json.loads(hosted.schema)


def every_component() -> set[type]:
    """Every ComponentResource the packages export: none may be left out of the provider."""
    found = {ContinuityPlan}
    for package in (aws, gcp, azure, kubernetes):
        found |= {
            value
            for name in package.__all__
            if inspect.isclass(value := getattr(package, name))
            and issubclass(value, pulumi.ComponentResource)
        }
    return found


def test_the_provider_hosts_every_component():
    assert set(provider.components()) == every_component()
    assert len(every_component()) == 11


def test_the_inferred_schema_lists_every_component_with_its_inputs_and_outputs(schema):
    assert schema["name"] == "atlas-continuity" and schema["version"] == "1.2.3"
    tokens = {f"atlas-continuity:index:{c.__name__}" for c in every_component()}
    assert set(schema["resources"]) == tokens
    for token, resource in schema["resources"].items():
        component = token.rsplit(":", 1)[1]
        assert resource["isComponent"] is True, token
        assert resource["description"], token
        args = inspect.signature(_cls(component).__init__).parameters["args"]
        fields = args.annotation.__annotations__
        # Every input of the TypedDict, camelCased, documented.
        assert set(resource["inputProperties"]) == {_camel(f) for f in fields}, token
        outputs = [n for n in _cls(component).__annotations__ if not n.startswith("_")]
        assert set(resource["properties"]) == {_camel(o) for o in outputs}, token
        for kind in ("inputProperties", "properties"):
            for name, prop in resource[kind].items():
                assert prop.get("description"), f"{token} {kind} {name}"
    required = schema["resources"]["atlas-continuity:index:AwsCiWriterRole"]["requiredInputs"]
    assert sorted(required) == ["bucketArn", "provider", "repository"]
    plan = schema["resources"]["atlas-continuity:index:ContinuityPlan"]
    assert plan["inputProperties"]["aws"]["$ref"] == "#/types/atlas-continuity:index:AwsPlanArgs"
    assert set(plan["properties"]) == {
        "backupUrls",
        "storeUrl",
        "atlasHclRepo",
        "ciIdentities",
        "ciVariables",
    }


def test_the_plan_s_args_carry_each_component_s_inputs_though_imported_late(schema):
    """ContinuityPlan names each cloud's args type without importing it (that cloud's SDK):
    the inferred schema still holds each as the component's own inputs."""
    for component in ("S3BackupBucket", "GcsBackupBucket", "AzureBackupContainer", "AtlasOperator"):
        resource = schema["resources"][f"atlas-continuity:index:{component}"]
        args = schema["types"][f"atlas-continuity:index:{component}Args"]
        assert args["properties"] == resource["inputProperties"], component
        assert args.get("required", []) == resource.get("requiredInputs", []), component
        assert args["description"], component


def test_importing_the_plan_imports_no_cloud_sdk():
    code = (
        "import sys\n"
        "import atlas_continuity.infra.continuity_plan\n"
        "import atlas_continuity.infra.program\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi_aws', 'pulumi_gcp', "
        "'pulumi_azure_native', 'pulumi_kubernetes')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr


def test_the_plugin_manifest_and_entry_point_start_this_provider():
    manifest = yaml.safe_load((ROOT / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    entry = ast.parse((ROOT / "__main__.py").read_text())
    imports = [n for n in ast.walk(entry) if isinstance(n, ast.ImportFrom)]
    assert [(i.module, [a.name for a in i.names]) for i in imports] == [
        ("atlas_continuity.infra.provider", ["main"])
    ]
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert ".[all]" in requirements


def _cls(name: str) -> type:
    (found,) = [c for c in every_component() if c.__name__ == name]
    return found


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)
