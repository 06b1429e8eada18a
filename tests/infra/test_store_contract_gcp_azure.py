"""The store contract on GCP and Azure, over the real protocols: each bucket component's
``store_url`` output, unchanged, serves push, pull, grant save and grant restore against
fake-gcs-server and Azurite, reached the documented way (``STORAGE_EMULATOR_HOST``,
``AZURE_STORAGE_CONNECTION_STRING``, which the session's emulators fixture sets)."""

from __future__ import annotations

import os

import pytest

from atlas_continuity.infra.azure import AzureBackupContainer
from atlas_continuity.infra.gcp import GcsBackupBucket
from atlas_continuity.runtime import layout
from atlas_continuity.runtime.stores.url import parse_store_url
from devtools.emulators import AZURITE_ACCOUNT
from tests.conftest import unique_bucket
from tests.helpers import cli, read_tree, write_dir
from tests.infra.harness import deploy

MIGRATIONS = {
    "20250101000000_init.sql": "CREATE TABLE t (id int);\n",
    "20250102000000_more.sql": "ALTER TABLE t ADD COLUMN c int;\n",
}
GRANT = b'{"token":"t0k3n"}\n'


def gcs_store(emulators) -> tuple[str, object]:
    from google.cloud import storage

    name = unique_bucket()
    url = deploy(lambda: {"b": GcsBackupBucket("backup", {"location": "EU", "bucket_name": name})})
    storage.Client().create_bucket(name)
    return url.outputs["b"]["store_url"], lambda key: storage.Client().bucket(name).get_blob(key)


def azure_store(emulators) -> tuple[str, object]:
    from azure.storage.blob import BlobServiceClient

    name = unique_bucket()
    d = deploy(
        lambda: {
            "c": AzureBackupContainer(
                "backup",
                {
                    "resource_group_name": "atlas",
                    "account_name": AZURITE_ACCOUNT,
                    "container_name": name,
                },
            )
        }
    )
    service = BlobServiceClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    )
    service.create_container(name)
    container = service.get_container_client(name)
    return d.outputs["c"]["store_url"], lambda key: container.get_blob_client(key).exists() or None


@pytest.mark.parametrize("cloud", ["gcs", "azure"])
def test_the_store_url_output_serves_push_pull_and_grants(cloud, emulators, tmp_path):
    url, exists = (gcs_store if cloud == "gcs" else azure_store)(emulators)
    assert parse_store_url(url).format() == url
    assert url.startswith({"gcs": "gs://", "azure": "azureblob://"}[cloud])
    assert url.endswith(
        {"gcs": "/atlas", "azure": f"/atlas?storage_account={AZURITE_ACCOUNT}"}[cloud]
    )

    src = write_dir(tmp_path / "src", MIGRATIONS)
    pushed = cli("push", src, "--repo", "app", "--primary", url, "--json")
    assert pushed.code == 0, pushed.err
    pulled = cli("pull", tmp_path / "out", "--repo", "app", "--primary", url)
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(src)

    state = tmp_path / "home" / ".atlas"
    state.mkdir(parents=True)
    (state / "grant.json").write_bytes(GRANT)
    saved = cli("grant", "save", "--state-dir", state, "--store", url, "--name", "ci")
    assert saved.code == 0, saved.err
    restored_dir = tmp_path / "restored" / ".atlas"
    restored = cli("grant", "restore", "--state-dir", restored_dir, "--store", url, "--name", "ci")
    assert restored.code == 0, restored.err
    assert (restored_dir / "grant.json").read_bytes() == GRANT

    # The objects landed where the identities' conditions expect them: under the prefix, in
    # the runtime's folder.
    manifest = pushed.json["digest"].removeprefix("sha256:")
    assert exists(f"atlas/{layout.manifest_key('app', manifest)}")
