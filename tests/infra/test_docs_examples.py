"""The copy-paste examples in docs/infra-*.md run as written (under the Pulumi mocks)."""

from __future__ import annotations

import re

import pytest

from devtools.emulators import ROOT
from tests.helpers import cli
from tests.infra.harness import deploy

DOCS = {
    "infra-aws.md": ("S3BackupBucket", "AwsCiWriterRole", "EksReaderRole"),
    "infra-gcp.md": ("GcsBackupBucket", "GcpCiWriterIdentity", "GkeReaderIdentity"),
    "infra-azure.md": ("AzureBackupContainer", "AzureCiWriterIdentity", "AksReaderIdentity"),
    "infra-kubernetes.md": ("AtlasOperator",),
    "infra-plan.md": ("ContinuityPlan",),
}
DOC = ROOT / "docs" / "infra-aws.md"
SECTIONS = DOCS["infra-aws.md"]
EXAMPLES = [
    (doc, example)
    for doc in DOCS
    for example in re.findall(r"```python\n(.*?)```", (ROOT / "docs" / doc).read_text(), flags=re.S)
]


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_component_has_a_section_with_an_example(doc):
    text = (ROOT / "docs" / doc).read_text()
    for component in DOCS[doc]:
        section = text.split(f"## {component}\n", 1)
        assert len(section) == 2, f"no section for {component}"
        body = section[1].split("\n## ", 1)[0]
        assert f"{component}(" in "".join(re.findall(r"```python\n(.*?)```", body, flags=re.S))


def declares(source: str) -> bool:
    """Whether an example does more than import (an import-only block lists the names)."""
    code = [line for line in source.splitlines() if line.strip()]
    return any(not line.startswith(("import ", "from ")) for line in code)


@pytest.mark.parametrize(
    ("doc", "source"), [e for e in EXAMPLES if declares(e[1])], ids=lambda s: s[:40]
)
def test_example_runs(doc, source):
    def build():
        exec(compile(source, doc, "exec"), {"__name__": "__main__"})
        return {}

    d = deploy(build)
    assert d.resources, "the example declared nothing"
    assert any(r.type.startswith("atlas-continuity:index:") for r in d.resources)


def test_readme_examples_run_together_as_written():
    """The README's per-component examples build on each other: run them as one program."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Infra components") : text.index("## Benchmarks")]
    examples = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert [c for c in SECTIONS if f"### {c}\n" in section] == list(SECTIONS)
    others = [c for doc in ("infra-gcp.md", "infra-azure.md") for c in DOCS[doc]]
    program = "import pulumi\n" + "\n".join(examples)

    def build():
        exec(compile(program, "README.md", "exec"), {"__name__": "__main__"})
        return {}

    d = deploy(build)
    declared = {r.type for r in d.resources}
    assert {f"atlas-continuity:index:{c}" for c in (*SECTIONS, *others)} <= declared


STACK_EXAMPLES = [
    (doc, block)
    for doc in ("README.md", "stacks/README.md", *(f"docs/{d}" for d in DOCS))
    for block in re.findall(r"```yaml\n(.*?)```", (ROOT / doc).read_text(), flags=re.S)
    if block.startswith("config:")
]


@pytest.mark.parametrize(("doc", "stack"), STACK_EXAMPLES, ids=lambda s: s[:20])
def test_a_stack_example_plans_without_a_warning(doc, stack, tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: atlas-continuity\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.example.yaml").write_text(stack)
    r = cli("plan", "--stack", "example", "--project-dir", tmp_path, "--json")
    assert r.code == 0, r.err
    assert r.err == "", r.err
