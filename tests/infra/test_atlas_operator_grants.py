"""AtlasOperator's grant jobs, by their exact command lines: the CronJob saves and the restore Job
brings the grants back, against moto with the grant writer identity's policy enforced."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atlas_continuity.infra.aws import EksReaderRole
from atlas_continuity.infra.azure import AksReaderIdentity
from atlas_continuity.infra.gcp import GkeReaderIdentity
from atlas_continuity.infra.kubernetes import AtlasOperator, manifests
from atlas_continuity.runtime.errors import ExitCode
from tests.infra.harness import deploy
from tests.infra.iam import IamMoto, decide, moto_evaluable
from tests.infra.operator_support import (
    BACKED_UP,
    CRON,
    JOB,
    KUBERNETES_READER,
    ON_AKS,
    SERIES,
    on_eks,
    pod_of,
    tree,
)

# --- the grant round trip, by the exact command lines -------------------------------------------


BUCKET = "atlas-operator-grants"
OTHER_BUCKET = "atlas-operator-other"


@pytest.fixture(scope="module")
def declared():
    """A bucket, the EKS reader with its grant writer, and the operator backed up to the
    bucket: what a cluster on EKS gets."""

    return deploy(lambda: on_eks({"bucket_name": BUCKET}, {"cluster_name": "prod"}))


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
    (container,) = pod_of(declared.one(kind))["spec"]["containers"]
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


def test_the_grant_writer_writes_its_own_series_only(declared, grant_writer, tmp_path):
    """Another cluster's series in the same store is out of this grant writer's reach: a job
    that saves under another name is refused, by the policy as moto enforces it and as IAM
    would decide it."""
    server, document = grant_writer
    save = command(declared, CRON)
    assert save[6] == SERIES
    data = tmp_path / "data"
    (data / "app" / "schema" / ".atlas").mkdir(parents=True)
    (data / "app" / "schema" / ".atlas" / "grant.json").write_bytes(b"{}")
    with server.recorded() as requests:
        other = run([*save[:6], "other-cluster"], data, server, tmp_path)
    assert other.returncode == ExitCode.AUTH, other.stdout + other.stderr
    assert "ImplicitlyDenied" in decide([document], requests)


READERS = {
    "eks": lambda args: EksReaderRole(
        "k8s",
        {**args, "cluster_name": "prod", "bucket_arn": f"arn:aws:s3:::{BUCKET}"},
    ),
    "gke": lambda args: GkeReaderIdentity("k8s", {**args, "bucket_name": BUCKET}),
    "aks": lambda args: AksReaderIdentity("k8s", {**args, **ON_AKS}),
}


def grant_writer_series(d) -> set[str]:
    """The grant series the grant writer's policy, bindings or condition name."""
    scoped = [
        r.inputs
        for r in d.resources
        if r.name.startswith("k8s-grants") and not r.type.startswith("atlas-continuity:")
    ]
    return set(re.findall(r"atlas-continuity/grants/([^/]*)/", json.dumps(scoped)))


@pytest.mark.parametrize("cloud", sorted(READERS))
def test_each_reader_s_grant_writer_writes_the_operator_s_series_only(cloud):
    """What the reader's grant writer may write is what the operator's jobs save to: the same
    default series, or the grant_name both are given."""
    build = READERS[cloud]

    def together(args):
        return {"reader": build(args), "op": AtlasOperator("atlas", {**BACKED_UP, **args})}

    d = deploy(lambda: together(KUBERNETES_READER))
    assert grant_writer_series(d) == {SERIES} == {command(d, CRON)[6]}
    d = deploy(lambda: together({**KUBERNETES_READER, "grant_name": "cluster-a"}))
    assert grant_writer_series(d) == {"cluster-a"} == {command(d, CRON)[6]}
    reader_only = {k: v for k, v in KUBERNETES_READER.items() if k != "grant_service_account"}
    with pytest.raises(ValueError, match="grant_name is the grant writer's"):
        deploy(lambda: {"reader": build({**reader_only, "grant_name": "cluster-a"})})
