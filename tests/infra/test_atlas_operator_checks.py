"""AtlasOperator's objects against the Kubernetes schemas (kubernetes-validate, strict, the
newest release it knows), and every Helm value it sets against the chart's own values.yaml
(tests/data/atlas-operator)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from atlas_continuity.infra.kubernetes import chart
from tests.conftest import FIXTURES
from tests.infra.operator_support import (
    BACKED_UP,
    CRON,
    KUBERNETES,
    RELEASE,
    chart_defaults,
    manifest,
    operator,
)

# --- the Kubernetes schemas ---------------------------------------------------------------------


VARIANTS = {
    "defaults": {},
    "backed-up": BACKED_UP,
    "chart-persistence": {"grant_storage": "chart", "storage_class_name": "standard"},
    "options": {
        **BACKED_UP,
        "create_namespace": True,
        "storage_class_name": "standard",
        "access_modes": ["ReadWriteMany"],
        "pod_labels": {"azure.workload.identity/use": "true"},
        "grant_service_account_annotations": {"iam.gke.io/gcp-service-account": "x@y.iam"},
        "backup_schedule": "5 */2 * * 1-5",
        "values": {
            "nodeSelector": {"pool": "db"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        },
    },
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_declared_passes_the_kubernetes_schemas_strictly(variant):
    d = operator(VARIANTS[variant])
    objects = [r for r in d.resources if r.type.startswith("kubernetes:") and r.type != RELEASE]
    assert objects
    for resource in objects:
        body = manifest(resource)
        kubernetes_validate.validate(body, KUBERNETES, strict=True)  # raises when invalid
    kinds = {manifest(r)["kind"] for r in objects}
    if variant in ("backed-up", "options"):
        assert {"Namespace", "PersistentVolumeClaim", "ServiceAccount", "CronJob"} <= kinds


def test_the_operator_pod_s_settings_pass_the_kubernetes_schemas(newer_chart):
    """What travels in the chart's values and lands in the operator's pod: its securityContext,
    affinity and init container, validated as a Pod's."""
    values = (
        operator({**BACKED_UP, "restore_with_init_container": True, "chart_version": newer_chart})
        .one(RELEASE)
        .inputs["values"]
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator", "labels": values["podLabels"]},
        "spec": {
            "securityContext": values["podSecurityContext"],
            "affinity": values["affinity"],
            "initContainers": values["initContainers"],
            "containers": [{"name": "m", "image": "x"}],
        },
    }
    kubernetes_validate.validate(pod, KUBERNETES, strict=True)


def test_the_schema_check_rejects_a_field_kubernetes_does_not_know():
    """The check above can fail: strict validation refuses an unknown field."""
    body = manifest(operator(BACKED_UP).one(CRON))
    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["comand"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, KUBERNETES, strict=True)


# --- the chart's values.yaml --------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_value_the_release_sets_exists_in_the_chart_it_installs(variant):
    release = operator(VARIANTS[variant]).one(RELEASE)
    installed = chart.KNOWN[release.inputs["version"]]
    assert installed.problems(release.inputs["values"]) == []


def test_init_container_values_exist_in_the_chart_that_takes_them(newer_chart):
    release = operator(
        {**BACKED_UP, "restore_with_init_container": True, "chart_version": newer_chart}
    ).one(RELEASE)
    assert release.inputs["version"] == newer_chart
    assert chart.KNOWN[newer_chart].problems(release.inputs["values"]) == []
    assert chart.V0_7_37.problems(release.inputs["values"]) == [
        "initContainers: not in the chart's values.yaml"
    ]


def test_the_walk_knows_what_the_pinned_chart_takes_and_what_it_ignores():
    pinned = chart.V0_7_37
    # Read by the templates though values.yaml has it only in a comment.
    assert pinned.problems({"persistence": {"storageClassName": "gp3"}}) == []
    assert pinned.problems({"revisionHistoryLimit": 3}) == []
    # Rendered whole (toYaml): any key goes inside.
    assert pinned.problems({"podSecurityContext": {"seccompProfile": {"type": "x"}}}) == []
    assert pinned.problems(
        {
            "initContainers": [],
            "persistence": {"storageClassName": 3, "sise": "1Gi"},
            "extraEnvs": {"a": "b"},
            "prewarmDevDB": "false",
        }
    ) == [
        "initContainers: not in the chart's values.yaml",
        "persistence.storageClassName: a str in the chart",
        "persistence.sise: not in the chart's values.yaml",
        "extraEnvs: a list in the chart",
        "prewarmDevDB: a bool in the chart",
    ]
    # Its whole maps and unlisted keys are where the walk says they are.
    for path in pinned.whole:
        node: Any = pinned.defaults
        for part in path.split("."):
            node = node[part]
        assert isinstance(node, dict), path
    for path in pinned.unlisted:
        parent, _, key = path.rpartition(".")
        assert key not in (pinned.defaults[parent] if parent else pinned.defaults), path


def test_the_pinned_chart_s_values_are_the_real_chart_s():
    real_file = FIXTURES / "atlas-operator" / "values.yaml"
    if not real_file.exists():
        pytest.skip("shared corpus not present")
    assert chart.V0_7_37.defaults == yaml.safe_load(real_file.read_text())


def test_the_newer_chart_s_key_copy_is_the_real_file_s():
    real_file = FIXTURES / "atlas-operator" / "values.01f95fb.yaml"
    if not real_file.exists():
        pytest.skip("shared corpus not present")
    real = yaml.safe_load(real_file.read_text())

    def subset(mine: Any, theirs: Any, path: str) -> None:
        if isinstance(mine, dict):
            assert isinstance(theirs, dict), path
            for key, value in mine.items():
                assert key in theirs, f"{path}.{key}"
                subset(value, theirs[key], f"{path}.{key}")
        else:
            assert mine == theirs, path

    subset(chart_defaults("01f95fb"), real, "values")
