"""Session-wide emulators, per-test stores and migration directories.

The three cloud emulators start once per session, on free ports; every test gets fresh,
uniquely named buckets (and moto is reset), and every process is stopped at the end.
Migration directories come from the repository (migration_dirs.py); the real third-party
directories in ../shared/fixtures are an extra check that a fresh clone does without.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.emulators import ROOT, Azurite, FakeGcs, Moto

from .migration_dirs import CASES

# shared/ sits beside the checkout where developers and CI keep it; a user's fresh clone has
# none, and then only the tests of the shared corpus skip. A folder named on purpose in
# ATLAS_CONTINUITY_FIXTURES must exist: when it does not, those tests fail instead.
_FIXTURES_FROM_ENV = os.environ.get("ATLAS_CONTINUITY_FIXTURES")
FIXTURES = Path(_FIXTURES_FROM_ENV or ROOT.parent / "shared" / "fixtures")
ATLAS_DIRS = FIXTURES / "atlas-dirs"
shared_corpus = pytest.mark.skipif(
    not (_FIXTURES_FROM_ENV or ATLAS_DIRS.is_dir()), reason="shared corpus not present"
)

CLOUD_KINDS = ("s3", "gcs", "azure")
ALL_KINDS = (*CLOUD_KINDS, "file")


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, object]]:
    started: dict[str, object] = {}
    mp = pytest.MonkeyPatch()
    try:
        for key, cls in (("s3", Moto), ("gcs", FakeGcs), ("azure", Azurite)):
            started[key] = cls().start()
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)
        mp.setenv("STORAGE_EMULATOR_HOST", started["gcs"].endpoint)
        mp.setenv("GOOGLE_CLOUD_PROJECT", "test")
        mp.setenv("AZURE_STORAGE_CONNECTION_STRING", started["azure"].connection_string)
        yield started
    finally:
        mp.undo()
        for emulator in started.values():
            emulator.stop()


_names = itertools.count()


def unique_bucket() -> str:
    # "bucket" in every name: error messages quote it, and must not be mistaken for a cause.
    return f"bucket-{uuid.uuid4().hex[:10]}-{next(_names)}"


def create_bucket(kind: str, emulators: dict, name: str) -> str:
    """Create a bucket on an emulator and return the store URL of a prefix in it."""
    if kind == "s3":
        import boto3

        boto3.client("s3", endpoint_url=emulators["s3"].endpoint).create_bucket(Bucket=name)
        return f"s3://{name}/atlas-backup?region=us-east-1&endpoint={emulators['s3'].endpoint}"
    if kind == "gcs":
        from google.cloud import storage

        storage.Client().create_bucket(name)
        return f"gs://{name}/atlas-backup"
    if kind == "azure":
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(
            emulators["azure"].connection_string
        ).create_container(name)
        return f"azureblob://{name}/atlas-backup?storage_account=devstoreaccount1"
    raise ValueError(kind)


@pytest.fixture
def make_store(emulators, tmp_path) -> Callable[[str], str]:
    """``make_store(kind)`` returns the URL of a fresh, empty store of that kind."""
    emulators["s3"].reset()

    def make(kind: str) -> str:
        name = unique_bucket()
        if kind == "file":
            folder = tmp_path / name
            folder.mkdir()  # a store that exists, as the buckets of the other kinds do
            return folder.as_uri()
        return create_bucket(kind, emulators, name)

    return make


@pytest.fixture
def migration_dir(tmp_path) -> Callable[[str], Path]:
    """``migration_dir(name)`` writes case ``name`` of migration_dirs.py, its atlas.sum
    included, into a folder of its own and returns that folder."""

    def write(name: str) -> Path:
        return CASES[name].write(tmp_path / "cases" / name)

    return write


@pytest.fixture
def small_dir(migration_dir) -> Path:
    """A small, valid Atlas directory: six files carrying the directives Atlas writes."""
    return migration_dir("directives")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME of the test's own; ``home.fresh()`` gives another, empty one."""
    counter = iter(range(100))

    def fresh() -> Path:
        path = tmp_path / f"home{next(counter)}"
        path.mkdir()
        monkeypatch.setenv("HOME", str(path))
        return path

    fresh.fresh = fresh
    return fresh


# A bucket per cloud behind a fault proxy, for every module's fault tests (defined after what
# tests.proxied takes from here).
from .proxied import proxied, proxied_bucket  # noqa: E402, F401
