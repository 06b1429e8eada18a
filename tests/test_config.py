"""atlas.hcl: stores, repo name and directory format, resolved as Atlas resolves them."""

from __future__ import annotations

import pytest

from atlas_continuity.runtime.config import load_env, parse_vars, store_plan
from atlas_continuity.runtime.errors import BadInput, ExitCode
from atlas_continuity.runtime.targets import ATLAS_CLOUD

from .helpers import cli, read_tree

CONFIG = """
variable "bucket" {
  type    = string
  default = "team-bucket"
}

locals {
  region = getenv("TEST_ATLAS_REGION")
  prefix = "atlas-backup"
  backups = [
    "s3://${var.bucket}/${local.prefix}?region=${local.region}",
    "gs://${var.bucket}/${local.prefix}", // trailing comment
  ]
}

data "external_schema" "gorm" {
  program = ["go", "run", "-mod=mod", "./loader"]
}

/* Atlas Cloud is the primary here: no url. */
env "prod" {
  src = data.external_schema.gorm.url
  migration {
    dir    = "atlas://app"
    format = golang-migrate
    repo {
      name   = "app"
      backup = local.backups
    }
  }
  format {
    migrate {
      diff = "{{ sql . \\"  \\" }}"
    }
  }
}

env {
  name = atlas.env
  migration {
    dir = "file://migrations"
    format = "goose"
    repo {
      name = "svc-${atlas.env}"
      url  = "file:///srv/registry/${atlas.env}"
      backup = getenv("TEST_ATLAS_BACKUP") == "" ? [] : [getenv("TEST_ATLAS_BACKUP")]
    }
  }
}
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_ATLAS_REGION", "eu-west-1")
    monkeypatch.delenv("TEST_ATLAS_BACKUP", raising=False)
    path = tmp_path / "atlas.hcl"
    path.write_text(CONFIG)
    return path


def test_labelled_env_with_locals_vars_and_getenv(config):
    env = load_env(config, "prod", {})
    assert env.repo == "app"
    assert env.primary is None
    assert env.backups == (
        "s3://team-bucket/atlas-backup?region=eu-west-1",
        "gs://team-bucket/atlas-backup",
    )
    assert env.dir_format == "golang-migrate"
    assert store_plan(None, [], env).primary_label == ATLAS_CLOUD


def test_var_flag_overrides_the_default(config):
    env = load_env(config, "prod", {"bucket": "other"})
    assert env.backups[1] == "gs://other/atlas-backup"


def test_unlabelled_env_named_by_atlas_env(config, monkeypatch):
    env = load_env(config, "staging", {})
    assert (env.repo, env.primary, env.backups) == (
        "svc-staging",
        "file:///srv/registry/staging",
        (),
    )
    assert (env.dir_format, env.dir) == ("goose", "file://migrations")
    monkeypatch.setenv("TEST_ATLAS_BACKUP", "gs://b/x")
    assert load_env(config, "staging", {}).backups == ("gs://b/x",)


def test_flags_win_over_the_config(config):
    env = load_env(config, "prod", {})
    plan = store_plan("file:///p", ["file:///b"], env)
    assert (plan.primary, plan.backups) == ("file:///p", ("file:///b",))
    only_backup = store_plan(None, ["file:///b"], load_env(config, "staging", {}))
    assert (only_backup.primary, only_backup.backups) == (
        "file:///srv/registry/staging",
        ("file:///b",),
    )


def test_unknown_env_lists_the_defined_ones(tmp_path):
    path = tmp_path / "atlas.hcl"
    path.write_text('env "dev" {}\nenv "prod" {}\n')
    with pytest.raises(BadInput, match=r"env 'qa' not defined .*\(defined: dev, prod\)"):
        load_env(path, "qa", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('env "x" {\n  migration {\n', "never closed"),
        ('env "x" {\n  a = "unterminated\n}\n', "unterminated string"),
        (
            'variable "v" {}\nenv "x" {\n migration {\n repo {\n name = var.v\n}\n}\n}\n',
            "missing value for required variable 'v'",
        ),
        (
            'locals {\n a = local.b\n b = local.a\n}\nenv "x" {\n migration {\n repo {\n'
            " name = local.a\n}\n}\n}\n",
            "cyclic reference",
        ),
        (
            'env "x" {\n migration {\n repo {\n name = file("x")\n}\n}\n}\n',
            r"function file\(\) is not supported",
        ),
        ('env "x" {\n migration {\n format = "sqitch"\n}\n}\n', "unknown migration directory"),
        ('env "x" {\n migration {\n repo {\n backup = 3\n}\n}\n}\n', "list of store URLs"),
    ],
)
def test_config_errors_point_at_the_cause(tmp_path, text, message):
    path = tmp_path / "atlas.hcl"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        load_env(path, "x", {})


def test_heredoc_and_escapes(tmp_path):
    path = tmp_path / "atlas.hcl"
    path.write_text(
        "locals {\n  doc = <<-EOT\n    line one\n      line two\n    EOT\n"
        '  s = "tab\\there $${literal} \\u00e9"\n}\n'
        'env "x" {\n migration {\n repo {\n name = "n"\n url = local.s\n}\n dir = local.doc\n}\n}\n'
    )
    env = load_env(path, "x", {})
    assert env.primary == "tab\there ${literal} \u00e9"
    assert env.dir == "line one\n  line two\n"


def test_push_and_pull_driven_by_atlas_hcl(tmp_path, make_store, small_dir):
    primary, backup = make_store("file"), make_store("file")
    cfg = tmp_path / "atlas.hcl"
    cfg.write_text(
        'env "ci" {\n  migration {\n    dir = "file://migrations"\n    repo {\n'
        f'      name = "app"\n      url = "{primary}"\n      backup = ["{backup}"]\n'
        "    }\n  }\n}\n"
    )
    pushed = cli("push", small_dir, "--config", f"file://{cfg}", "--env", "ci", "--json")
    assert pushed.code == 0, pushed.err
    assert [s["url"] for s in pushed.json["stores"]] == [primary, backup]
    pulled = cli("pull", tmp_path / "out", "--config", cfg, "--env", "ci")
    assert pulled.code == 0, pulled.err
    assert read_tree(tmp_path / "out") == read_tree(small_dir)


def test_cloud_style_config_with_data_sources_and_for_expressions(tmp_path):
    """Shapes seen in real Atlas projects: unevaluated data sources, for-expressions in locals,
    an atlas block, a labelled env that also sets name = atlas.env, a bare format enum."""
    path = tmp_path / "atlas.hcl"
    path.write_text(
        """
variable "token" {
  type    = string
  default = getenv("ATLAS_TOKEN")
}
atlas {
  cloud {
    token = var.token
  }
}
data "remote_dir" "migrations" {
  name = "svc"
}
locals {
  pairs = { for l in split("\\n", "a=1") : split("=", l)[0] => l if !startswith(l, "#") }
}
env "staging" {
  name = atlas.env
  url  = getenv("DATABASE_URL")
  migration {
    dir    = data.remote_dir.migrations.url
    format = atlas
    repo {
      name   = "svc"
      backup = ["gs://b/registry"]
    }
  }
  format {
    migrate {
      apply = "{{ json . }}"
    }
  }
}
"""
    )
    env = load_env(path, "staging", {})
    assert (env.repo, env.primary, env.backups) == ("svc", None, ("gs://b/registry",))
    assert (env.dir_format, env.dir) == ("atlas", None)


@pytest.mark.parametrize("pair", ["primary", "=x"])
def test_a_var_without_a_name_or_value_says_what_is_expected(pair):
    # The hint itself went through the redactor, which took "key=value" for a secret.
    with pytest.raises(BadInput, match="expected NAME=VALUE"):
        parse_vars([pair])


def test_a_config_url_naming_a_folder_says_to_give_the_file_in_it(tmp_path, small_dir):
    r = cli("push", small_dir, "--config", f"file://{tmp_path}", "--env", "dev")
    assert r.code == ExitCode.BAD_INPUT
    assert "is a folder: give the atlas.hcl file in it" in r.err
