"""The store contract on AWS, end to end: what the components provision is what the runtime uses.

S3BackupBucket, AwsCiWriterRole and EksReaderRole are declared under mocks. Their role policies,
as declared (not retyped), become IAM users of a moto server with enforcement on, and the CLI
runs with those users' keys against the bucket's exported ``store_url``, unchanged: the emulator
is reached through ``AWS_ENDPOINT_URL_S3``, the AWS SDK's own variable. Every S3 request the
runtime makes is recorded and decided again by a real IAM evaluator that honours conditions
(tests/infra/iam.py says which evaluator decides what).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from atlas_continuity.infra.aws import AwsCiWriterRole, EksReaderRole, S3BackupBucket
from atlas_continuity.runtime import layout
from atlas_continuity.runtime.config import repo_block
from atlas_continuity.runtime.errors import ExitCode
from atlas_continuity.runtime.stores.url import format_store_url, parse_store_url
from tests.helpers import cli, read_tree, rehash, write_dir
from tests.infra.harness import ACCOUNT, deploy
from tests.infra.iam import IamMoto, IamRequest, decide, moto_evaluable

BUCKET = "atlas-contract"
OTHER_BUCKET = "atlas-contract-other"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
GITHUB_PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
MIGRATIONS = {
    "20250101000000_init.sql": "CREATE TABLE t (id int);\n",
    "20250102000000_more.sql": "ALTER TABLE t ADD COLUMN c int;\n",
}
GRANT = {"grant.json": b'{"token":"t0k3n"}\n'}


@dataclass(frozen=True)
class Contract:
    store_url: str
    documents: dict[str, dict]
    """writer (Atlas backup writes on, the default), strict (off), reader, and grants: the
    reader's grant writer, which the Atlas operator's grant backup jobs use."""


@pytest.fixture(scope="module")
def contract() -> Contract:
    def build():
        bucket = S3BackupBucket("backup", {"bucket_name": BUCKET, "create_kms_key": True})
        wired = {
            "bucket_arn": bucket.bucket_arn,
            "prefix": bucket.prefix,
            "kms_key_arn": bucket.kms_key_arn,
        }
        github = {
            "provider": "github",
            "repository": "acme/db",
            "branch": "main",
            "create_oidc_provider": True,
        }
        return {
            "bucket": bucket,
            "writer": AwsCiWriterRole("ci", {**github, **wired}),
            "strict": AwsCiWriterRole(
                "ci-strict",
                {
                    **github,
                    **wired,
                    "create_oidc_provider": False,
                    "allow_atlas_backup_writes": False,
                    "oidc_provider_arn": GITHUB_PROVIDER_ARN,
                },
            ),
            "reader": EksReaderRole(
                "operator",
                {
                    "namespace": "atlas",
                    "service_account": "atlas-operator",
                    "grant_service_account": "atlas-grants",
                    "cluster_name": "prod",
                    **wired,
                },
            ),
        }

    d = deploy(build)
    declared = {r.name: r.policy() for r in d.of_type(ROLE_POLICY)}
    return Contract(
        store_url=d.outputs["bucket"]["store_url"],
        documents={
            "writer": declared["ci-registry-write"],
            "strict": declared["ci-strict-registry-write"],
            "reader": declared["operator-registry-read"],
            "grants": declared["operator-grants-grant-write"],
        },
    )


@pytest.fixture(scope="module")
def aws(contract: Contract, tmp_path_factory) -> Iterator[IamMoto]:
    server = IamMoto(tmp_path_factory.mktemp("moto") / "recording.jsonl").start()
    try:
        admin = server.admin()
        for name in (BUCKET, OTHER_BUCKET):
            admin.create_bucket(Bucket=name)
            admin.put_object(Bucket=name, Key="atlas/seed.json", Body=b"{}")
            admin.put_object(Bucket=name, Key="elsewhere/seed.json", Body=b"{}")
        for role, document in contract.documents.items():
            server.add_user(role, [moto_evaluable(document)])
        # A control user allowed everything on both buckets: what it may do and the others may
        # not, their own policies deny, not the emulator.
        everything = [f"arn:aws:s3:::{b}{s}" for b in (BUCKET, OTHER_BUCKET) for s in ("", "/*")]
        server.add_user(
            "control",
            [
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": everything}],
                }
            ],
        )
        server.enforce()
        yield server
    finally:
        server.stop()


@pytest.fixture
def as_user(aws: IamMoto, monkeypatch) -> Callable[[str], None]:
    """Make the CLI, run in this process, act as one of the IAM users."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws.server.endpoint)

    def switch(name: str) -> None:
        for key, value in aws.keys[name].items():
            monkeypatch.setenv(key, value)

    return switch


def keys_under(aws: IamMoto, prefix: str) -> list[str]:
    listed = aws.client("control").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def denied(call: Callable[[], object]) -> bool:
    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied", exc.response
        return True
    return False


def state_dir(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (tmp_path / ".atlas" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / ".atlas" / rel).write_bytes(data)
    return tmp_path / ".atlas"


# --- the exported URL ------------------------------------------------------------------------


def test_the_exported_store_url_is_the_runtimes_own(contract: Contract):
    assert contract.store_url == f"s3://{BUCKET}/atlas?region=us-east-1"
    assert parse_store_url(contract.store_url).format() == contract.store_url


# --- writers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["writer", "strict"])
def test_a_writer_pushes_and_saves_the_grant_at_the_exported_url(
    writer, contract: Contract, aws: IamMoto, as_user, tmp_path
):
    as_user(writer)
    src = write_dir(tmp_path / "src", MIGRATIONS)
    repo = f"{writer}-app"
    with aws.recorded() as requests:
        pushed = cli("push", src, "--repo", repo, "--primary", contract.store_url)
        saved = cli(
            "grant",
            "save",
            "--state-dir",
            state_dir(tmp_path, GRANT),
            "--store",
            contract.store_url,
            "--name",
            writer,
        )
    assert (pushed.code, saved.code) == (0, 0), pushed.err + saved.err
    runtime = layout.object_name("atlas", layout.ROOT)
    assert keys_under(aws, f"atlas/{layout.packs_prefix(repo)}")
    assert keys_under(aws, f"atlas/{layout.grants_prefix(writer)}")
    # Every request the runtime made is one the exact document allows, conditions included.
    assert requests and decide([contract.documents[writer]], requests) == ["Allowed"] * len(
        requests
    ), [str(r) for r in requests]
    puts = [r for r in requests if r.action == "s3:PutObject"]
    assert puts and all(r.resource.startswith(f"arn:aws:s3:::{BUCKET}/{runtime}") for r in puts)
    assert all(r.context == {"s3:if-none-match": "*"} for r in puts)


@pytest.mark.parametrize("command", ["push", "grant"])
def test_a_store_url_outside_the_prefix_is_refused_as_an_auth_error(
    command, contract: Contract, aws: IamMoto, as_user, tmp_path
):
    as_user("writer")
    outside = format_store_url("s3", BUCKET, "elsewhere", {"region": "us-east-1"})
    if command == "push":
        args = ["push", write_dir(tmp_path / "src", MIGRATIONS), "--repo", "app"]
        args += ["--primary", outside]
    else:
        args = ["grant", "save", "--state-dir", state_dir(tmp_path, GRANT), "--store", outside]
    with aws.recorded() as requests:
        result = cli(*args)
    assert result.code == ExitCode.AUTH, result.err
    assert "access denied" in result.err and "elsewhere" in result.err
    puts = [r for r in requests if r.action == "s3:PutObject"]
    assert puts and set(decide([contract.documents["writer"]], puts)) == {"ImplicitlyDenied"}


def test_the_repo_block_of_the_exported_url_serves_a_push_through_config(
    contract: Contract, as_user, tmp_path
):
    as_user("writer")
    hcl = tmp_path / "atlas.hcl"
    block = repo_block("config-app", [contract.store_url])
    hcl.write_text('env "prod" {\n  migration {\n    dir = "file://src"\n' + block + "  }\n}\n")
    write_dir(tmp_path / "src", MIGRATIONS)
    config = ["--config", f"file://{hcl}", "--env", "prod"]
    pushed = cli("push", tmp_path / "src", *config, "--json")
    assert pushed.code == 0, pushed.err
    assert [s["url"] for s in pushed.json["stores"]] == [contract.store_url]
    assert cli("pull", tmp_path / "out", *config).code == 0
    assert read_tree(tmp_path / "out") == read_tree(tmp_path / "src")


# --- the reader ------------------------------------------------------------------------------


def test_the_reader_pulls_and_restores_the_grant_and_cannot_push(
    contract: Contract, aws: IamMoto, as_user, tmp_path
):
    src = write_dir(tmp_path / "src", MIGRATIONS)
    as_user("writer")
    assert cli("push", src, "--repo", "reader-app", "--primary", contract.store_url).code == 0
    saved = cli(
        "grant",
        "save",
        "--state-dir",
        state_dir(tmp_path, GRANT),
        "--store",
        contract.store_url,
        "--name",
        "cluster",
    )
    assert saved.code == 0, saved.err

    as_user("reader")
    restored_dir = tmp_path / "restored" / ".atlas"
    with aws.recorded() as requests:
        pulled = cli(
            "pull", tmp_path / "out", "--repo", "reader-app", "--primary", contract.store_url
        )
        restored = cli(
            "grant",
            "restore",
            "--state-dir",
            restored_dir,
            "--store",
            contract.store_url,
            "--name",
            "cluster",
        )
    assert (pulled.code, restored.code) == (0, 0), pulled.err + restored.err
    assert read_tree(tmp_path / "out") == read_tree(src)
    assert (restored_dir / "grant.json").read_bytes() == GRANT["grant.json"]
    assert decide([contract.documents["reader"]], requests) == ["Allowed"] * len(requests)
    assert {r.action for r in requests} <= {"s3:ListBucket", "s3:GetObject"}

    (src / "20250103000000_new.sql").write_text("SELECT 1;\n")
    rehash(src)
    pushed = cli("push", src, "--repo", "reader-app", "--primary", contract.store_url)
    assert pushed.code == ExitCode.AUTH and "access denied" in pushed.err


# --- the grant writer of the operator's backup jobs ---------------------------------------------


def test_the_grant_writer_saves_and_restores_a_data_root_and_nothing_else(
    contract: Contract, aws: IamMoto, as_user, tmp_path
):
    root = tmp_path / "data"
    for resource in ("app/schema", "billing/migrations"):
        state_dir(root / resource, {"grant.json": resource.encode()})
    as_user("writer")
    src = write_dir(tmp_path / "src", MIGRATIONS)
    assert cli("push", src, "--repo", "grants-app", "--primary", contract.store_url).code == 0

    as_user("grants")
    restored = tmp_path / "restored"
    restored.mkdir()
    # The grant writer's one series: <project>.<stack>.<namespace> by default.
    series = ("--name", "atlas.test.atlas")
    store = ("--store", contract.store_url)
    with aws.recorded() as requests:
        saved = cli("grant", "save", "--data-root", root, *store, *series)
        back = cli("grant", "restore", "--data-root", restored, *store, *series)
    assert (saved.code, back.code) == (0, 0), saved.err + back.err
    for resource in ("app/schema", "billing/migrations"):
        assert (restored / resource / ".atlas" / "grant.json").read_bytes() == resource.encode()
    assert requests and decide([contract.documents["grants"]], requests) == ["Allowed"] * len(
        requests
    ), [str(r) for r in requests]
    # The registry is out of its reach, for reading too. (moto ignores the listing's prefix
    # condition and lets it list; the evaluator, which honours it, refuses every request.)
    with aws.recorded() as requests:
        pulled = cli(
            "pull", tmp_path / "out", "--repo", "grants-app", "--primary", contract.store_url
        )
    assert pulled.code in (ExitCode.AUTH, ExitCode.NOT_FOUND) and not (tmp_path / "out").exists()
    assert set(decide([contract.documents["grants"]], requests)) == {"ImplicitlyDenied"}
    pushed = cli("push", src, "--repo", "grants-app-2", "--primary", contract.store_url)
    assert pushed.code == ExitCode.AUTH
    arn = f"arn:aws:s3:::{BUCKET}"
    grant = f"{arn}/atlas/{layout.grants_prefix('atlas.test.atlas')}x.json"
    another_series = f"{arn}/atlas/{layout.grants_prefix('default')}x.json"
    cases = [
        (IamRequest("s3:PutObject", grant, {"s3:if-none-match": "*"}), "Allowed"),
        (IamRequest("s3:PutObject", another_series, {"s3:if-none-match": "*"}), "ImplicitlyDenied"),
        (IamRequest("s3:GetObject", another_series), "ImplicitlyDenied"),
        (IamRequest("s3:PutObject", grant), "ImplicitlyDenied"),
        (IamRequest("s3:PutObject", f"{arn}/atlas/app/x.sql"), "ImplicitlyDenied"),
        (IamRequest("s3:GetObject", f"{arn}/atlas/app/x.sql"), "ImplicitlyDenied"),
        (IamRequest("s3:ListBucket", arn, {"s3:prefix": "atlas/"}), "ImplicitlyDenied"),
        (IamRequest("s3:DeleteObject", grant), "ImplicitlyDenied"),
    ]
    assert decide([contract.documents["grants"]], [r for r, _ in cases]) == [d for _, d in cases]


# --- Atlas's own backups beside the runtime's folder -------------------------------------------


def test_atlas_native_writes_are_plain_puts_beside_the_runtime_folder(
    contract: Contract, aws: IamMoto
):
    writer = aws.client("writer")
    key = "atlas/app/20250101000000_init.sql"  # wherever atlas migrate push puts its copy
    writer.put_object(Bucket=BUCKET, Key=key, Body=b"v1")
    writer.put_object(
        Bucket=BUCKET, Key=key, Body=b"v2"
    )  # Atlas may overwrite: versioning keeps v1
    assert aws.client("control").get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"v2"

    arn = f"arn:aws:s3:::{BUCKET}"
    registry = f"{arn}/atlas/{layout.pack_key('app', '0' * 64)}"
    grant = f"{arn}/atlas/{layout.grants_prefix('default')}x.json"
    create_only = {"s3:if-none-match": "*"}
    cases = [
        (IamRequest("s3:PutObject", f"{arn}/{key}"), "Allowed"),
        (IamRequest("s3:PutObject", registry), "ExplicitlyDenied"),
        (IamRequest("s3:PutObject", grant), "ExplicitlyDenied"),
        (IamRequest("s3:PutObject", f"{arn}/atlas/atlas-continuity/other"), "ExplicitlyDenied"),
        (IamRequest("s3:PutObject", registry, create_only), "Allowed"),
        (IamRequest("s3:PutObject", grant, create_only), "Allowed"),
        (IamRequest("s3:PutObject", f"{arn}/elsewhere/x", create_only), "ImplicitlyDenied"),
        (IamRequest("s3:DeleteObject", f"{arn}/{key}"), "ImplicitlyDenied"),
        (IamRequest("s3:ListBucket", arn, {"s3:prefix": "atlas/app/"}), "Allowed"),
        (IamRequest("s3:ListBucket", arn, {"s3:prefix": "elsewhere/"}), "ImplicitlyDenied"),
    ]
    assert decide([contract.documents["writer"]], [r for r, _ in cases]) == [d for _, d in cases]


def test_without_atlas_backup_writes_only_the_runtime_folders_take_objects(
    contract: Contract, aws: IamMoto
):
    strict = aws.client("strict")
    assert denied(lambda: strict.put_object(Bucket=BUCKET, Key="atlas/app/x.sql", Body=b"x"))
    arn = f"arn:aws:s3:::{BUCKET}"
    registry = f"{arn}/atlas/{layout.pack_key('app', '1' * 64)}"
    cases = [
        (IamRequest("s3:PutObject", f"{arn}/atlas/app/x.sql"), "ImplicitlyDenied"),
        (
            IamRequest(
                "s3:PutObject", f"{arn}/atlas/atlas-continuity/other", {"s3:if-none-match": "*"}
            ),
            "ImplicitlyDenied",
        ),
        (IamRequest("s3:PutObject", registry, {"s3:if-none-match": "*"}), "Allowed"),
        (IamRequest("s3:PutObject", registry), "ExplicitlyDenied"),
    ]
    assert decide([contract.documents["strict"]], [r for r, _ in cases]) == [d for _, d in cases]


# --- what no identity may do -------------------------------------------------------------------


def test_enforcement_is_on_and_the_control_user_may_do_what_the_identities_may_not(aws: IamMoto):
    aws.keys["stranger"] = {"AWS_ACCESS_KEY_ID": "AKIANOTAUSER", "AWS_SECRET_ACCESS_KEY": "x"}
    with pytest.raises(ClientError):
        aws.client("stranger").list_objects_v2(Bucket=BUCKET, Prefix="atlas/")
    control = aws.client("control")
    control.put_object(Bucket=BUCKET, Key="elsewhere/control", Body=b"x")
    control.delete_object(Bucket=BUCKET, Key="elsewhere/control")
    control.get_object(Bucket=OTHER_BUCKET, Key="atlas/seed.json")


@pytest.mark.parametrize("role", ["writer", "strict", "reader", "grants"])
def test_no_identity_deletes_administers_or_leaves_its_bucket_and_prefix(aws: IamMoto, role):
    c = aws.client(role)
    assert denied(lambda: c.delete_object(Bucket=BUCKET, Key="atlas/seed.json"))
    batch = c.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "atlas/seed.json"}]})
    assert [(e["Key"], e["Code"]) for e in batch["Errors"]] == [("atlas/seed.json", "AccessDenied")]
    assert denied(lambda: c.put_object(Bucket=BUCKET, Key="elsewhere/x", Body=b"x"))
    assert denied(lambda: c.get_object(Bucket=BUCKET, Key="elsewhere/seed.json"))
    assert denied(lambda: c.put_object(Bucket=BUCKET, Key="atlas-evil/x", Body=b"x"))
    assert denied(lambda: c.get_object(Bucket=OTHER_BUCKET, Key="atlas/seed.json"))
    assert denied(lambda: c.list_objects_v2(Bucket=OTHER_BUCKET, Prefix="atlas/"))
    assert denied(lambda: c.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({})))
    assert denied(
        lambda: c.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
        )
    )
    assert denied(lambda: c.delete_bucket(Bucket=BUCKET))
    assert denied(lambda: c.create_bucket(Bucket="atlas-contract-new"))
    assert aws.client("control").head_object(Bucket=BUCKET, Key="atlas/seed.json")
