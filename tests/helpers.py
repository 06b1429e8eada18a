"""Helpers shared by the end-to-end tests: run the CLI, build migration directories."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from atlas_continuity.runtime.cli import main
from atlas_continuity.runtime.stores import open_store
from devtools.emulators import AZURITE_ACCOUNT, azurite_connection_string

from .migration_dirs import SUM_FILE, expected_sum


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def cli(*args: str) -> Result:
    """Run the CLI in this process, as a user would call it, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def cli_process(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start the CLI as its own process (to kill it, or to run many at once)."""
    return subprocess.Popen(
        [sys.executable, "-m", "atlas_continuity.runtime", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kwargs,
    )


def stores(primary: str | None, *backups: str, repo: str = "app") -> list[str]:
    args = ["--repo", repo]
    if primary:
        args += ["--primary", primary]
    for b in backups:
        args += ["--backup", b]
    return args


def write_dir(path: Path, files: dict[str, bytes | str], dir_format: str = "atlas") -> Path:
    """Create a migration directory with the atlas.sum Atlas would write for it."""
    path.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (path / name).write_bytes(content.encode() if isinstance(content, str) else content)
    rehash(path, dir_format)
    return path


def rehash(path: Path, dir_format: str = "atlas") -> None:
    """Rewrite atlas.sum for the files now in ``path``, as `atlas migrate hash` does."""
    files = {p.name: p.read_bytes() for p in path.iterdir() if p.name != SUM_FILE}
    (path / SUM_FILE).write_text(expected_sum(files, dir_format), encoding="utf-8", newline="")


def read_tree(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def keys(url: str) -> list[str]:
    store = open_store(url)
    try:
        return store.list("")
    finally:
        store.close()


def store_url_at(
    kind: str, endpoint: str, monkeypatch, bucket: str = "bucket", prefix: str = "x"
) -> str:
    """The URL of a cloud store whose adapter talks to ``endpoint`` (a fault proxy, a black
    hole) instead of an emulator: S3 by its URL, GCS and Azure by their SDKs' variables."""
    if kind == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        return f"s3://{bucket}/{prefix}?region=us-east-1&endpoint={endpoint}"
    if kind == "gcs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
        return f"gs://{bucket}/{prefix}"
    if kind == "azure":
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string(endpoint))
        return f"azureblob://{bucket}/{prefix}?storage_account={AZURITE_ACCOUNT}"
    raise ValueError(kind)


def env_with_repo_block(block: str, folder: Path, env: str = "prod"):
    """``block`` (a ``repo { ... }`` block) in an atlas.hcl env's migration, as a user pastes
    it, loaded through ``--config`` the way the CLI loads it."""
    from atlas_continuity.runtime.config import config_path, load_env

    atlas_hcl = folder / "atlas.hcl"
    atlas_hcl.write_text(
        f'env "{env}" {{\n  migration {{\n'
        + "".join(f"    {line}\n" for line in block.splitlines())
        + "  }\n}\n"
    )
    return load_env(config_path(f"file://{atlas_hcl}"), env, {})
