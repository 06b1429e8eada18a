"""Fixtures the infra tests share."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from atlas_continuity.infra.kubernetes import chart
from tests.infra.operator_support import chart_defaults


@pytest.fixture
def newer_chart(monkeypatch) -> str:
    """A chart version that takes initContainers, known to the component: the newer
    values.yaml (tests/data/atlas-operator/values-01f95fb.yaml) under a made-up version."""
    newer = dataclasses.replace(
        chart.V0_7_37, version="0.0.0-01f95fb", defaults=chart_defaults("01f95fb")
    )
    assert newer.renders_init_containers and not chart.V0_7_37.renders_init_containers
    monkeypatch.setitem(chart.KNOWN, newer.version, newer)
    return newer.version


@pytest.fixture
def clean_pulumi_config():
    """Config is process-wide in the SDK: a stack test's config must not reach the next test."""
    yield
    pulumi.runtime.set_all_config({})
