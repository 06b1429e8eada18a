"""AtlasOperator: the operator's Helm release with its grants on a volume it owns, backed up by a
CronJob and restored before the operator starts.

What the component declares is checked three ways: every Kubernetes object against the
Kubernetes schemas (kubernetes-validate, strict, the newest release it knows); every Helm value
against the chart's own values.yaml (tests/data/atlas-operator); and the grant jobs' exact
command lines, run against moto with the grant writer identity's policy enforced.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from atlas_continuity.infra.aws import EksReaderRole, S3BackupBucket
from atlas_continuity.infra.azure import AksReaderIdentity
from atlas_continuity.infra.kubernetes import CHART, CHART_VERSION, AtlasOperator, manifests
from atlas_continuity.runtime.errors import ExitCode
from devtools.emulators import ROOT
from tests.conftest import FIXTURES
from tests.infra.harness import deploy
from tests.infra.iam import IamMoto, decide, moto_evaluable

NAMESPACE = "kubernetes:core/v1:Namespace"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SA = "kubernetes:core/v1:ServiceAccount"
CRON = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"
RELEASE = "kubernetes:helm.sh/v3:Release"
DATA = ROOT / "tests" / "data" / "atlas-operator"
STORE = "s3://acme-atlas-backup/atlas?region=us-east-1"
IMAGE = "ghcr.io/acme/atlas-continuity:0.2.0"
BACKED_UP = {"grant_store_url": STORE, "runtime_image": IMAGE}
KUBERNETES = kubernetes_validate.latest_version()


def operator(args: dict[str, Any] | None = None, name: str = "atlas"):
    return deploy(lambda: {"op": AtlasOperator(name, args or {})})


def manifest(resource) -> dict[str, Any]:
    """A declared object's inputs: its manifest (whole numbers as ints, see plan.plain)."""
    return resource.inputs


# --- what is declared ---------------------------------------------------------------------------


def test_defaults_declare_a_retained_volume_the_release_mounts_and_no_jobs():
    d = operator()
    assert sorted(r.type for r in d.resources if not r.is_component) == sorted(
        [NAMESPACE, PVC, RELEASE]
    )
    claim = d.one(PVC)
    assert claim.retain_on_delete and not claim.protect
    assert manifest(claim)["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    assert claim.inputs["metadata"]["name"] == "atlas-operator-grants"
    release = d.one(RELEASE)
    assert (release.inputs["chart"], release.inputs["version"]) == (CHART, CHART_VERSION)
    assert CHART_VERSION == "0.7.37"
    assert {u.rsplit("::", 1)[1] for u in release.depends_on} == {"atlas-namespace", "atlas-grants"}
    values = release.inputs["values"]
    assert values["persistence"] == {"enabled": False, "fsGroup": 65532}
    assert values["extraVolumes"] == [
        {"name": "atlas-grants", "persistentVolumeClaim": {"claimName": "atlas-operator-grants"}}
    ]
    assert values["extraVolumeMounts"] == [{"name": "atlas-grants", "mountPath": "/data"}]
    assert values["extraEnvs"] == [{"name": "DATA_DIR", "value": "/data"}]
    out = d.outputs["op"]
    assert (out["grant_volume_claim"], out["data_dir"], out["grant_backup_schedule"]) == (
        "atlas-operator-grants",
        "/data",
        None,
    )


def test_the_volume_can_be_protected_sized_and_classed():
    d = operator({"protect_volume": True, "volume_size": "5Gi", "storage_class_name": "gp3-retain"})
    claim = d.one(PVC)
    assert claim.protect and claim.retain_on_delete
    assert claim.inputs["spec"]["storageClassName"] == "gp3-retain"
    assert claim.inputs["spec"]["resources"] == {"requests": {"storage": "5Gi"}}


def test_the_service_account_carries_the_reader_identity_and_the_pods_its_labels():
    """The AKS reader's outputs, as they are: annotations on the account, a label on pods."""

    def build():
        reader = AksReaderIdentity(
            "aks",
            {
                "namespace": "atlas-operator",
                "service_account": "atlas-operator",
                "grant_service_account": "atlas-continuity-grants",
                "oidc_issuer_url": "https://issuer.example/x/",
                "resource_group_name": "atlas",
                "container_id": (
                    "/subscriptions/00000000-0000-4000-8000-0000000000a1/resourceGroups/atlas/"
                    "providers/Microsoft.Storage/storageAccounts/acmeatlas/blobServices/default/"
                    "containers/atlas-backup"
                ),
            },
        )
        op = AtlasOperator(
            "atlas",
            {
                **BACKED_UP,
                "service_account_annotations": reader.service_account_annotations,
                "pod_labels": reader.pod_labels,
                "grant_service_account_annotations": (
                    reader.grant_writer_service_account_annotations
                ),
            },
        )
        return {"reader": reader, "op": op}

    d = deploy(build)
    reader = d.outputs["reader"]
    values = d.one(RELEASE).inputs["values"]
    assert values["serviceAccount"] == {
        "create": True,
        "name": "atlas-operator",
        "annotations": reader["service_account_annotations"],
    }
    assert values["podLabels"] == {
        "azure.workload.identity/use": "true",
        "atlas-continuity/grant-volume": "atlas-operator-grants",
    }
    account = d.one(SA).inputs["metadata"]
    assert account["name"] == "atlas-continuity-grants"
    assert account["annotations"] == reader["grant_writer_service_account_annotations"]
    for kind in (CRON, JOB):
        spec = d.one(kind).inputs["spec"]
        pod = (spec.get("jobTemplate", {}).get("spec") or spec)["template"]
        assert pod["metadata"]["labels"] == {"azure.workload.identity/use": "true"}
        assert pod["spec"]["serviceAccountName"] == "atlas-continuity-grants"


def test_the_backup_is_co_scheduled_with_the_operator_and_reads_the_volume_read_only():
    d = operator(BACKED_UP)
    cron = manifest(d.one(CRON))
    assert cron["spec"]["schedule"] == "*/30 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    operator_labels = d.one(RELEASE).inputs["values"]["podLabels"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= operator_labels.items()
    # The operator's pods follow the volume too (rolling updates on a ReadWriteOnce claim).
    values = d.one(RELEASE).inputs["values"]
    (own,) = values["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert own == term
    (grants,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert grants["persistentVolumeClaim"] == {
        "claimName": "atlas-operator-grants",
        "readOnly": True,
    }
    (container,) = pod["containers"]
    assert {"name": "atlas-grants", "mountPath": "/data", "readOnly": True} in container[
        "volumeMounts"
    ]
    assert container["image"] == IMAGE
    assert container["command"][:2] == ["/bin/sh", "-c"]
    assert container["command"][3:] == ["sh", "/data", STORE, "atlas-operator"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["fsGroup"] == 65532


def test_the_restore_job_runs_before_the_release():
    d = operator(BACKED_UP)
    job = d.one(JOB)
    release = d.one(RELEASE)
    assert job.urn in release.depends_on
    assert {u.rsplit("::", 1)[1] for u in job.depends_on} >= {"atlas-grants", "atlas-grant-writer"}
    (container,) = manifest(job)["spec"]["template"]["spec"]["containers"]
    assert container["command"][2] == manifests.RESTORE_SCRIPT
    assert {"name": "atlas-grants", "mountPath": "/data", "readOnly": False} in container[
        "volumeMounts"
    ]
    assert "initContainers" not in release.inputs["values"]


def test_with_init_containers_the_operator_pod_restores_under_its_own_identity():
    d = operator({**BACKED_UP, "restore_with_init_container": True})
    d.none(JOB)
    d.one(CRON)
    values = d.one(RELEASE).inputs["values"]
    (init,) = values["initContainers"]
    assert init["command"] == manifests.grant_command(
        manifests.RESTORE_SCRIPT, "/data", STORE, "atlas-operator"
    )
    assert {"name": "atlas-grants", "mountPath": "/data", "readOnly": False} in init["volumeMounts"]
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}} in values["extraVolumes"]


def test_chart_persistence_is_the_release_s_volume():
    d = operator({"grant_storage": "chart", "volume_size": "2Gi"})
    d.none(PVC)
    values = d.one(RELEASE).inputs["values"]
    assert values["persistence"] == {
        "enabled": True,
        "fsGroup": 65532,
        "size": "2Gi",
        "accessModes": ["ReadWriteOnce"],
        "mountPath": "/data",
    }
    assert values["extraVolumes"] == values["extraEnvs"] == []
    # The chart names its claim after the release (fullnameOverride): the backup can mount it.
    d = operator(
        {**BACKED_UP, "grant_storage": "chart", "restore_with_init_container": True}, "chart"
    )
    pod = d.one(CRON).inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (claim,) = [v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claim["claimName"] == d.one(RELEASE).inputs["values"]["fullnameOverride"]
    (init,) = d.one(RELEASE).inputs["values"]["initContainers"]
    assert init["volumeMounts"][0]["name"] == "data"  # the chart's own volume


def test_extra_values_merge_maps_append_lists_and_replace_the_rest():
    d = operator(
        {
            "values": {
                "extraEnvs": [{"name": "FOO", "value": "1"}],
                "resources": {"limits": {"memory": "512Mi"}},
                "prewarmDevDB": False,
                "serviceAccount": {"labels": {"team": "db"}},
            }
        }
    )
    values = d.one(RELEASE).inputs["values"]
    assert values["extraEnvs"] == [
        {"name": "DATA_DIR", "value": "/data"},
        {"name": "FOO", "value": "1"},
    ]
    assert values["resources"] == {"limits": {"memory": "512Mi"}}
    assert values["prewarmDevDB"] is False
    assert values["serviceAccount"]["labels"] == {"team": "db"}
    assert values["serviceAccount"]["name"] == "atlas-operator"


def test_an_existing_namespace_is_used_as_it_is():
    d = operator({"create_namespace": False, "namespace": "platform"})
    d.none(NAMESPACE)
    assert d.one(PVC).inputs["metadata"]["namespace"] == "platform"
    assert d.one(RELEASE).inputs["namespace"] == "platform"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"grant_store_url": STORE}, "runtime_image is required with grant_store_url"),
        ({**BACKED_UP, "grant_service_account": "atlas-operator"}, "must differ"),
        ({**BACKED_UP, "backup_schedule": "hourly"}, "five cron fields"),
        ({**BACKED_UP, "backup_schedule": "0 * * * * *"}, "five cron fields"),
        ({**BACKED_UP, "grant_storage": "chart"}, "no Job can restore into it"),
        ({"restore_with_init_container": True}, "needs grant_store_url"),
        ({"grant_storage": "helm"}, "grant_storage must be one of volume, chart"),
        ({"grant_storage": "chart", "storage_class_name": "x"}, "persistence.storageClassName"),
        ({"volume_size": "lots"}, "volume_size"),
        ({"access_modes": ["ReadOnlyMany"]}, "access_modes"),
        ({"namespace": "Atlas"}, "namespace"),
        ({"service_account": "a*"}, "wildcard"),
        ({"release_name": "Atlas_Operator"}, "release_name"),
        ({**BACKED_UP, "grant_name": "../x"}, "grant cache name"),
        ({"protect_volume": "yes"}, "protect_volume must be true or false"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        operator(args)


# --- the Kubernetes schemas ---------------------------------------------------------------------


VARIANTS = {
    "defaults": {},
    "backed-up": BACKED_UP,
    "init-container": {**BACKED_UP, "restore_with_init_container": True},
    "options": {
        **BACKED_UP,
        "create_namespace": True,
        "storage_class_name": "standard",
        "access_modes": ["ReadWriteMany"],
        "pod_labels": {"azure.workload.identity/use": "true"},
        "grant_service_account_annotations": {"iam.gke.io/gcp-service-account": "x@y.iam"},
        "backup_schedule": "5 */2 * * 1-5",
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
    if variant != "defaults":
        assert {"Namespace", "PersistentVolumeClaim", "ServiceAccount", "CronJob"} <= kinds
    # The init container travels in the chart's values: as a Pod's, it passes too.
    for init in d.one(RELEASE).inputs["values"].get("initContainers", []):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "operator"},
            "spec": {"initContainers": [init], "containers": [{"name": "m", "image": "x"}]},
        }
        kubernetes_validate.validate(pod, KUBERNETES, strict=True)


def test_the_schema_check_rejects_a_field_kubernetes_does_not_know():
    """The check above can fail: strict validation refuses an unknown field."""
    body = manifest(operator(BACKED_UP).one(CRON))
    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["comand"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, KUBERNETES, strict=True)


# --- the chart's values.yaml --------------------------------------------------------------------


def chart_defaults(version: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"values-{version}.yaml").read_text())


def missing_paths(values: Any, chart: Any, path: str = "") -> list[str]:
    """The paths of ``values`` that the chart's values.yaml lacks, or holds as another kind of
    value. A map that is empty in values.yaml, and a list, are taken whole by the chart
    (toYaml): what goes inside is not the chart's to name."""
    problems = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if not isinstance(chart, dict) or key not in chart:
            problems.append(f"{where}: not in the chart's values.yaml")
            continue
        default = chart[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                problems.append(f"{where}: a map in the chart")
            elif default:
                problems += missing_paths(value, default, where)
        elif isinstance(default, list):
            if not isinstance(value, list):
                problems.append(f"{where}: a list in the chart")
        elif default is not None and type(default) is not type(value):
            problems.append(f"{where}: a {type(default).__name__} in the chart")
    return problems


@pytest.mark.parametrize(
    ("variant", "version"),
    [
        ("defaults", "0.7.37"),
        ("backed-up", "0.7.37"),
        ("options", "0.7.37"),
        ("init-container", "01f95fb"),
    ],
)
def test_every_value_the_release_sets_exists_in_the_chart(variant, version):
    d = operator(VARIANTS[variant])
    values = d.one(RELEASE).inputs["values"]
    assert missing_paths(values, chart_defaults(version)) == []


def test_chart_persistence_values_exist_in_the_chart():
    d = operator({"grant_storage": "chart"})
    assert missing_paths(d.one(RELEASE).inputs["values"], chart_defaults("0.7.37")) == []


def test_the_walk_finds_what_the_pinned_chart_lacks():
    """initContainers is the newer chart's: the pinned one's values.yaml has no such key."""
    d = operator(VARIANTS["init-container"])
    assert missing_paths(d.one(RELEASE).inputs["values"], chart_defaults("0.7.37")) == [
        "initContainers: not in the chart's values.yaml"
    ]
    assert missing_paths({"persistence": {"storageClassName": "x"}}, chart_defaults("0.7.37"))


@pytest.mark.parametrize(
    ("version", "source"), [("0.7.37", "values.yaml"), ("01f95fb", "values.01f95fb.yaml")]
)
def test_the_key_copies_are_the_real_chart_s(version, source):
    real_file = FIXTURES / "atlas-operator" / source
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

    subset(chart_defaults(version), real, "values")


# --- the grant round trip, by the exact command lines -------------------------------------------


BUCKET = "atlas-operator-grants"
OTHER_BUCKET = "atlas-operator-other"


@pytest.fixture(scope="module")
def declared():
    """A bucket, the EKS reader with its grant writer, and the operator backed up to the
    bucket: what a cluster on EKS gets."""

    def build():
        bucket = S3BackupBucket("backup", {"bucket_name": BUCKET})
        reader = EksReaderRole(
            "eks",
            {
                "namespace": "atlas-operator",
                "service_account": "atlas-operator",
                "grant_service_account": "atlas-continuity-grants",
                "cluster_name": "prod",
                "bucket_arn": bucket.bucket_arn,
                "prefix": bucket.prefix,
            },
        )
        op = AtlasOperator(
            "atlas",
            {
                "grant_store_url": bucket.store_url,
                "runtime_image": IMAGE,
                "grant_service_account_annotations": (
                    reader.grant_writer_service_account_annotations
                ),
            },
        )
        return {"bucket": bucket, "reader": reader, "op": op}

    return deploy(build)


@pytest.fixture(scope="module")
def grant_writer(declared, tmp_path_factory):
    """moto, enforcing the grant writer's policy as declared, for a user of that name."""
    document = declared.named("eks-grants-grant-write").policy()
    server = IamMoto(tmp_path_factory.mktemp("moto") / "recording.jsonl").start()
    try:
        for name in (BUCKET, OTHER_BUCKET):
            server.admin().create_bucket(Bucket=name)
        server.add_user("grants", [moto_evaluable(document)])
        server.enforce()
        yield server, document
    finally:
        server.stop()


def command(declared, kind: str) -> list[str]:
    spec = declared.one(kind).inputs["spec"]
    pod = (spec.get("jobTemplate", {}).get("spec") or spec)["template"]["spec"]
    (container,) = pod["containers"]
    return container["command"]


def run(
    argv: list[str], data_root: Path, server: IamMoto, home: Path
) -> subprocess.CompletedProcess:
    """A container's command, as it is, with its volume's mount path mapped to ``data_root``
    (the one argument that names a place in the container) and ``atlas-continuity`` on PATH."""
    assert argv[4] == manifests.DATA_DIR
    argv = [*argv[:4], str(data_root), *argv[5:]]
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "atlas-continuity").exists(), "the CLI's entry point is not installed"
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "AWS_ENDPOINT_URL_S3": server.server.endpoint,
        **server.keys["grants"],
    }
    return subprocess.run(
        [shutil.which(argv[0]) or argv[0], *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cron_job_saves_and_the_restore_job_brings_the_grants_back(
    declared, grant_writer, tmp_path
):
    server, document = grant_writer
    store_url = declared.outputs["bucket"]["store_url"]
    save, restore = command(declared, CRON), command(declared, JOB)
    assert save[5] == restore[5] == store_url

    data = tmp_path / "data"
    grants = {
        "app/schema": b'{"token":"schema"}\n',
        "billing/migrations": b'{"token":"migrations"}\n',
    }
    # An empty volume (no resource yet): the backup has nothing to do, and says so.
    data.mkdir()
    idle = run(save, data, server, tmp_path)
    assert idle.returncode == 0 and "nothing to save" in idle.stdout, idle.stderr
    # A fresh cluster with nothing saved yet: the operator starts without a grant.
    first = run(restore, tmp_path / "fresh-0", server, tmp_path)
    assert first.returncode == 0 and "no grant saved" in first.stdout, first.stderr

    for resource, grant in grants.items():
        (data / resource / ".atlas").mkdir(parents=True)
        (data / resource / ".atlas" / "grant.json").write_bytes(grant)
    with server.recorded() as requests:
        saved = run(save, data, server, tmp_path)
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        restored = run(restore, fresh, server, tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert restored.returncode == 0, restored.stderr
    assert tree(fresh) == tree(data) == {f"{r}/.atlas/grant.json": g for r, g in grants.items()}
    # Every request the two jobs made is one the grant writer's own policy allows.
    assert requests and decide([document], requests) == ["Allowed"] * len(requests)

    # A volume that holds grants is left alone: it is the newest copy there is.
    (fresh / "app/schema/.atlas/grant.json").write_bytes(b"newer")
    again = run(restore, fresh, server, tmp_path)
    assert again.returncode == 0 and "kept" in again.stdout
    assert (fresh / "app/schema/.atlas/grant.json").read_bytes() == b"newer"


def test_a_restore_the_store_refuses_fails_the_step(declared, grant_writer, tmp_path):
    """Nothing saved yet is no failure; a store that refuses the identity is. (Another bucket:
    moto does not evaluate the listing's prefix condition, only the resource.)"""
    server, _ = grant_writer
    restore = command(declared, JOB)
    outside = restore[5].replace(f"s3://{BUCKET}/", f"s3://{OTHER_BUCKET}/")
    result = run([*restore[:5], outside, *restore[6:]], tmp_path / "data", server, tmp_path)
    assert result.returncode == ExitCode.AUTH, result.stdout + result.stderr


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
