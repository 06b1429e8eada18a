"""AtlasOperator: the operator's Helm release with its grants on a volume it owns, backed up by a
CronJob and restored before the operator starts.

What the component declares. Its objects against the Kubernetes schemas and its values against
the chart's: test_atlas_operator_checks.py; the grant jobs' exact command lines against moto:
test_atlas_operator_grants.py. What the files share: operator_support.py.
"""

from __future__ import annotations

import pytest

from atlas_continuity.infra import offline
from atlas_continuity.infra.azure import AksReaderIdentity
from atlas_continuity.infra.kubernetes import CHART, CHART_VERSION, AtlasOperator, manifests
from atlas_continuity.infra.offline import UNKNOWN, OfflineMocks
from tests.infra.harness import deploy
from tests.infra.operator_support import (
    BACKED_UP,
    CRON,
    IMAGE,
    JOB,
    KUBERNETES_READER,
    NAMESPACE,
    ON_AKS,
    PVC,
    RELEASE,
    SA,
    SERIES,
    STORE,
    manifest,
    on_eks,
    operator,
    pod_of,
)

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
    assert values["persistence"] == {"enabled": False, "fsGroup": 0}
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


def test_the_namespace_created_is_retained_as_the_volume_in_it_is():
    """Deleting the namespace would delete the retained claim in it, and with reclaim policy
    Delete, the disk."""
    d = operator()
    namespace, claim = d.one(NAMESPACE), d.one(PVC)
    assert namespace.retain_on_delete and not namespace.protect
    assert namespace.urn in claim.depends_on
    d = operator({"protect_volume": True})
    assert d.one(NAMESPACE).protect and d.one(NAMESPACE).retain_on_delete
    assert d.one(PVC).protect


def test_the_operator_pod_keeps_its_hardening_next_to_the_volume_s_group():
    """The chart renders persistence.fsGroup, when set, as the pod's whole securityContext:
    the component sets it to 0 (off) and gives the group in podSecurityContext, with the rest."""
    for args in ({}, {"grant_storage": "chart"}):
        values = operator(args).one(RELEASE).inputs["values"]
        assert not values["persistence"]["fsGroup"]
        assert values["podSecurityContext"] == {
            "runAsNonRoot": True,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    # The user's additions to it are kept; what the volume needs cannot be changed.
    values = operator({"values": {"podSecurityContext": {"runAsGroup": 65532}}}).one(RELEASE)
    assert values.inputs["values"]["podSecurityContext"]["runAsGroup"] == 65532
    with pytest.raises(ValueError, match=r"values\.podSecurityContext\.fsGroup is set by"):
        operator({"values": {"podSecurityContext": {"fsGroup": 1000}}})


def test_the_volume_can_be_protected_sized_and_classed():
    d = operator({"protect_volume": True, "volume_size": "5Gi", "storage_class_name": "gp3-retain"})
    claim = d.one(PVC)
    assert claim.protect and claim.retain_on_delete
    assert claim.inputs["spec"]["storageClassName"] == "gp3-retain"
    assert claim.inputs["spec"]["resources"] == {"requests": {"storage": "5Gi"}}


def test_the_service_account_carries_the_reader_identity_and_the_pods_its_labels():
    """The AKS reader's outputs, as they are: annotations on the account, a label on pods."""

    def build():
        reader = AksReaderIdentity("aks", {**KUBERNETES_READER, **ON_AKS})
        op = AtlasOperator(
            "atlas",
            {
                **BACKED_UP,
                "service_account_annotations": reader.service_account_annotations,
                "pod_labels": reader.pod_labels,
                "grant_service_account_annotations": (
                    reader.grant_writer_service_account_annotations
                ),
                # The user's own annotations join the reader's.
                "values": {"serviceAccount": {"annotations": {"team": "db"}}},
            },
        )
        return {"reader": reader, "op": op}

    d = deploy(build)
    reader = d.outputs["reader"]
    values = d.one(RELEASE).inputs["values"]
    assert values["serviceAccount"] == {
        "create": True,
        "name": "atlas-operator",
        "annotations": {**reader["service_account_annotations"], "team": "db"},
    }
    assert values["podLabels"] == {
        "azure.workload.identity/use": "true",
        "atlas-continuity/grant-volume": "atlas-operator-grants",
    }
    account = d.one(SA).inputs["metadata"]
    assert account["name"] == "atlas-continuity-grants"
    assert account["annotations"] == reader["grant_writer_service_account_annotations"]
    for kind in (CRON, JOB):
        pod = pod_of(d.one(kind))
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
    assert container["command"][3:] == ["sh", "/data", STORE, SERIES]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["fsGroup"] == 65532


def test_the_grant_jobs_mount_no_api_token_and_ask_for_their_local_disk():
    d = operator(BACKED_UP)
    for kind in (CRON, JOB):
        spec = pod_of(d.one(kind))["spec"]
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        assert container["resources"]["requests"]["ephemeral-storage"] == "64Mi"
        assert container["resources"]["limits"]["ephemeral-storage"] == "128Mi"
        (scratch,) = [v for v in spec["volumes"] if "emptyDir" in v]
        # What the scratch volume may hold fits in what the container asked for.
        assert (
            scratch["emptyDir"]["sizeLimit"]
            == container["resources"]["requests"]["ephemeral-storage"]
        )


def test_the_grant_jobs_go_where_the_operator_may_run():
    """A tainted or selected node pool: the backup runs on the operator's node, which it must
    tolerate; the restore, the volume's first user, binds it where the operator can run."""
    tolerations = [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}
                    ]
                }
            ]
        }
    }
    d = operator(
        {
            **BACKED_UP,
            "values": {
                "nodeSelector": {"pool": "db"},
                "tolerations": tolerations,
                "affinity": {"nodeAffinity": node_affinity},
            },
        }
    )
    values = d.one(RELEASE).inputs["values"]
    assert values["affinity"]["nodeAffinity"] == node_affinity
    assert "podAffinity" in values["affinity"]
    for kind in (CRON, JOB):
        spec = pod_of(d.one(kind))["spec"]
        assert spec["nodeSelector"] == {"pool": "db"}
        assert spec["tolerations"] == tolerations
        assert spec["affinity"]["nodeAffinity"] == node_affinity
        assert "podAffinity" in spec["affinity"]
    # Without node constraints, the jobs carry none.
    spec = pod_of(operator(BACKED_UP).one(JOB))["spec"]
    assert "nodeSelector" not in spec and "tolerations" not in spec
    assert set(spec["affinity"]) == {"podAffinity"}


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


def test_the_pinned_chart_takes_no_init_containers_so_the_flag_is_refused():
    """Chart 0.7.37 never renders initContainers: the restore would silently not happen."""
    with pytest.raises(ValueError, match=r"chart 0\.7\.37 is not one known to take initContainers"):
        operator({**BACKED_UP, "restore_with_init_container": True})
    with pytest.raises(ValueError, match=r"chart 9\.9\.9 is not one known"):
        operator({**BACKED_UP, "restore_with_init_container": True, "chart_version": "9.9.9"})


def test_with_init_containers_the_operator_pod_restores_under_its_own_identity(newer_chart):
    d = operator({**BACKED_UP, "restore_with_init_container": True, "chart_version": newer_chart})
    d.none(JOB)
    d.one(CRON)
    values = d.one(RELEASE).inputs["values"]
    (init,) = values["initContainers"]
    assert init["command"] == manifests.grant_command(
        manifests.RESTORE_SCRIPT, "/data", STORE, SERIES
    )
    assert {"name": "atlas-grants", "mountPath": "/data", "readOnly": False} in init["volumeMounts"]
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}} in values["extraVolumes"]


def test_chart_persistence_is_the_release_s_volume_kept_on_uninstall(newer_chart):
    d = operator({"grant_storage": "chart", "volume_size": "2Gi", "storage_class_name": "gp3"})
    d.none(PVC)
    values = d.one(RELEASE).inputs["values"]
    assert values["persistence"] == {
        "enabled": True,
        "fsGroup": 0,
        "size": "2Gi",
        "accessModes": ["ReadWriteOnce"],
        "mountPath": "/data",
        "storageClassName": "gp3",
        "annotations": {"helm.sh/resource-policy": "keep"},
    }
    assert values["extraVolumes"] == values["extraEnvs"] == []
    # The chart names its claim after the release (fullnameOverride): the backup can mount it.
    d = operator(
        {
            **BACKED_UP,
            "grant_storage": "chart",
            "restore_with_init_container": True,
            "chart_version": newer_chart,
        },
        "chart",
    )
    pod = pod_of(d.one(CRON))["spec"]
    (claim,) = [v["persistentVolumeClaim"] for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claim["claimName"] == d.one(RELEASE).inputs["values"]["fullnameOverride"]
    (init,) = d.one(RELEASE).inputs["values"]["initContainers"]
    assert init["volumeMounts"][0]["name"] == "data"  # the chart's own volume


def test_extra_values_merge_maps_and_append_lists():
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


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # A list where the component has one: the grant volume's mount would be dropped.
        ({"extraEnvs": {"FOO": "1"}}, r"values\.extraEnvs is set by the component"),
        ({"extraEnvs": [{"name": "DATA_DIR", "value": "/tmp"}]}, "DATA_DIR is set by"),
        ({"fullnameOverride": "x"}, "use its argument release_name"),
        ({"serviceAccount": {"name": "x"}}, "use its argument service_account"),
        ({"serviceAccount": {"create": False}}, r"serviceAccount\.create is set by"),
        ({"persistence": {"size": "5Gi"}}, "unused with grant_storage volume"),
        # What the chart would ignore: a misspelt key, a value of the wrong kind.
        ({"persistance": {"enabled": True}}, "persistance: not in the chart's values.yaml"),
        ({"image": {"tagg": "v1"}}, r"image\.tagg: not in the chart's values.yaml"),
        ({"tolerations": {"key": "x"}}, "tolerations: a list in the chart"),
        ({"replicaCount": "2"}, "replicaCount: a int in the chart"),
        ({"podAnnotations": ["x"]}, "podAnnotations: a map in the chart"),
    ],
)
def test_values_that_would_undo_the_grants_or_that_the_chart_ignores_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        operator({"values": values})


def test_chart_persistence_settings_are_the_component_s_arguments():
    with pytest.raises(ValueError, match="use its argument volume_size"):
        operator({"grant_storage": "chart", "values": {"persistence": {"size": "5Gi"}}})
    with pytest.raises(ValueError, match="use its argument access_modes"):
        operator({"grant_storage": "chart", "values": {"persistence": {"accessModes": ["x"]}}})
    d = operator({"grant_storage": "chart", "values": {"persistence": {"annotations": {"a": "b"}}}})
    assert d.one(RELEASE).inputs["values"]["persistence"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "a": "b",
    }


def test_another_chart_version_is_checked_against_the_pinned_one_with_warnings():
    d = operator({"chart_version": "0.7.50", "values": {"rbac": {"clusterWideSecretAccess": True}}})
    assert d.one(RELEASE).inputs["version"] == "0.7.50"
    (warning,) = d.warnings
    assert "chart_version 0.7.50" in warning
    assert "rbac.clusterWideSecretAccess: not in the chart's values.yaml" in warning
    assert operator({"chart_version": "0.7.50"}).warnings  # checked by no one: said so
    assert not operator().warnings


def test_the_image_is_an_image_reference_pinned_by_digest():
    assert not operator(BACKED_UP).warnings
    for image in (
        "ghcr.io/acme/atlas-continuity:0.2.0",
        "localhost:5000/atlas-continuity",
        "busybox",
    ):
        (warning,) = operator({**BACKED_UP, "runtime_image": image}).warnings
        assert f"runtime_image {image!r} is not pinned by digest" in warning
    for image in (
        "a b; rm -rf /",
        "ghcr.io/acme/Atlas",
        "ghcr.io/acme/atlas@sha256:abc",
        "ghcr.io/acme/atlas:-bad",
        f"{IMAGE}\n",
        "",
        7,
    ):
        with pytest.raises(ValueError, match="is not an image reference"):
            operator({**BACKED_UP, "runtime_image": image})


def test_the_longest_release_name_gives_a_cron_job_name_kubernetes_takes():
    """The API refuses CronJob names over 52 characters (kubernetes-validate does not check)."""
    longest = "r" * 39
    cron = operator({**BACKED_UP, "release_name": longest}).one(CRON)
    assert len(cron.inputs["metadata"]["name"]) == 52
    with pytest.raises(ValueError, match="up to 39 lowercase"):
        operator({**BACKED_UP, "release_name": "r" * 40})


def test_a_preview_shows_the_job_specs_and_values_that_do_not_wait_on_other_resources():
    """Before the bucket exists its store URL is unknown, and before the role exists its ARN:
    only those leaves are unknown, not the specs and values around them."""

    irsa = {
        "mode": "irsa",
        "oidc_provider_arn": (
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
        ),
    }
    d = offline.deploy(lambda: on_eks({}, irsa), OfflineMocks({}), preview=True)
    cron = d.one(CRON).inputs
    assert cron["metadata"]["name"] == "atlas-operator-grant-backup"
    assert cron["spec"]["schedule"] == "*/30 * * * *"
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"][5] is UNKNOWN
    assert container["command"][6] == SERIES
    assert d.one(JOB).inputs["spec"]["template"]["spec"]["serviceAccountName"] == (
        "atlas-continuity-grants"
    )
    values = d.one(RELEASE).inputs["values"]
    assert values["fullnameOverride"] == "atlas-operator"
    assert values["serviceAccount"]["name"] == "atlas-operator"
    assert values["serviceAccount"]["annotations"] is UNKNOWN
    assert values["extraEnvs"] == [{"name": "DATA_DIR", "value": "/data"}]


def test_an_existing_namespace_is_used_as_it_is():
    d = operator({"create_namespace": False, "namespace": "platform"})
    d.none(NAMESPACE)
    assert d.one(PVC).inputs["metadata"]["namespace"] == "platform"
    assert d.one(RELEASE).inputs["namespace"] == "platform"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"grant_store_url": STORE}, "runtime_image is required with grant_store_url"),
        ({"backup_schedule": "0 * * * *"}, "backup_schedule without grant_store_url"),
        ({**BACKED_UP, "grant_service_account": "atlas-operator"}, "must differ"),
        ({**BACKED_UP, "backup_schedule": "hourly"}, "five cron fields"),
        ({**BACKED_UP, "backup_schedule": "0 * * * * *"}, "five cron fields"),
        ({**BACKED_UP, "backup_schedule": "99 99 99 99 99"}, "minute field '99'"),
        ({**BACKED_UP, "backup_schedule": "0 24 * * *"}, "hour field '24'"),
        ({**BACKED_UP, "backup_schedule": "0 0 0 * *"}, "day field '0'"),
        ({**BACKED_UP, "backup_schedule": "*/0 * * * *"}, "minute field '\\*/0'"),
        ({**BACKED_UP, "backup_schedule": "0 5-1 * * *"}, "hour field '5-1'"),
        ({**BACKED_UP, "backup_schedule": "0 1-2-3 * * *"}, "hour field '1-2-3'"),
        ({**BACKED_UP, "backup_schedule": "0 0 * 1,,2 *"}, "month field '1,,2'"),
        ({**BACKED_UP, "backup_schedule": "0 0 * * 8"}, "weekday field '8'"),
        ({**BACKED_UP, "grant_storage": "chart"}, "no Job can restore into it"),
        ({"restore_with_init_container": True}, "needs grant_store_url"),
        ({"grant_storage": "helm"}, "grant_storage must be one of volume, chart"),
        ({"volume_size": "lots"}, "volume_size"),
        ({"access_modes": ["ReadOnlyMany"]}, "access_modes must be among"),
        ({"access_modes": "ReadWriteOnce"}, "access_modes must be among"),
        ({"access_modes": ["ReadWriteOncePod"]}, "the backup could never read it"),
        ({"namespace": "Atlas"}, "namespace"),
        ({"service_account": "a*"}, "wildcard"),
        ({"release_name": "Atlas_Operator"}, "release_name"),
        # a final newline (a value read from a file) is no part of a name
        ({"release_name": "atlas\n"}, "release_name"),
        ({"volume_size": "1Gi\n"}, "volume_size"),
        ({**BACKED_UP, "grant_name": "../x"}, "atlas: grant_name '../x'"),
        ({"protect_volume": "yes"}, "protect_volume must be true or false"),
        ({"values": "replicaCount: 2"}, "values must be a plain map"),
        # a misspelt key left its default (no protection) in place, unseen
        ({"protect_volum": True}, r"atlas: unknown keys \['protect_volum'\]"),
        # the jobs copy these into typed pod specs
        (
            {**BACKED_UP, "values": {"nodeSelector": {"zone": ["a"]}}},
            r"atlas: values\.nodeSelector\.zone: a node label's value, a string",
        ),
        ({**BACKED_UP, "values": {"tolerations": [5]}}, r"values\.tolerations\[0\]: a toleration"),
        ({**BACKED_UP, "values": {"affinity": {"nodeAffinity": 5}}}, "nodeAffinity: a map"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        operator(args)
