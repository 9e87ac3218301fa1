"""`kiva:monitoring`: the shipped stages, and every error with its exact message."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings.monitoring import MONITORING_CRDS, duration_days, size_gib
from tests.test_settings import error_of, settings_of

PROD_SHORT = (
    "Pulumi.prod.yaml: kiva:monitoring.retention.time: production keeps at least 15 days of metrics (got 7d), "
    "e.g. 30d"
)
NO_ROOM = (
    "Pulumi.dev.yaml: kiva:monitoring.retention.size: 45GiB leaves no room for the WAL on the 50Gi volume "
    "(storage.size): Prometheus's storage docs advise at most 85 % of it; e.g. retention.size: 42GiB, or a "
    "larger storage.size"
)
ON_AZURE = (
    "Pulumi.dev.yaml: kiva:monitoring.install: this stack creates the cluster (provider: azure), so no Prometheus "
    "Operator can run there before the platform needs it; remove monitoring.install: false, or deploy onto a "
    "cluster that runs one with provider: existing"
)
UNDECLARED = (
    "Pulumi.local.yaml: kiva:monitoring.install: the stack does not install the Prometheus Operator, so the "
    "cluster must serve the PodMonitors and rules it creates; add servicemonitors.monitoring.coreos.com, "
    "prometheusrules.monitoring.coreos.com to prerequisites.crds (e.g. prerequisites: {crds: "
    "[podmonitors.monitoring.coreos.com, servicemonitors.monitoring.coreos.com, "
    "prometheusrules.monitoring.coreos.com]}) if the cluster has them, or set install: true"
)
NAMESPACE = (
    "Pulumi.local.yaml: kiva:monitoring.namespace: names where the cluster's own Prometheus runs, so it needs "
    "install: false; the stack installs its own into kiva-monitoring (e.g. {install: false, namespace: monitoring})"
)


def test_shipped_stages():
    dev, prod, local = (settings_of(stack).monitoring for stack in ("dev", "prod", "local"))
    assert (dev.enabled, dev.install, dev.retention.time, dev.retention.size, dev.storage.size) == (
        True,
        True,
        "7d",
        "8GiB",
        "10Gi",
    )
    assert (prod.enabled, prod.retention.time, prod.retention.size, prod.storage.size) == (
        True,
        "30d",
        "40GiB",
        "50Gi",
    )
    assert prod.alerting.receivers == [] and dev.alerting.receivers == []
    assert not local.enabled


@pytest.mark.parametrize(
    ("stack", "monitoring", "message"),
    [
        ("prod", {"enabled": True, "retention": {"time": "7d"}}, PROD_SHORT),
        ("dev", {"enabled": True, "retention": {"size": "45GiB"}, "storage": {"size": "50Gi"}}, NO_ROOM),
        ("dev", {"enabled": True, "install": False}, ON_AZURE),
        ("local", {"enabled": True, "namespace": "monitoring"}, NAMESPACE),
        (
            "dev",
            {"enabled": True, "retention": {"time": "7days"}},
            "Pulumi.dev.yaml: kiva:monitoring.retention.time: must look like 15d (got '7days')",
        ),
        (
            "dev",
            {"enabled": True, "retention": {"size": "40G"}},
            "Pulumi.dev.yaml: kiva:monitoring.retention.size: must look like 40GiB (got '40G')",
        ),
        (
            "dev",
            {
                "enabled": True,
                "alerting": {
                    "receivers": [
                        {"name": "ops", "url": "https://a.example.de/hook"},
                        {"name": "ops", "url": "https://b.example.de/hook"},
                    ]
                },
            },
            "Pulumi.dev.yaml: kiva:monitoring.alerting: duplicate receiver name 'ops'; give each receiver its own name",
        ),
    ],
)
def test_errors(stack: str, monitoring: dict[str, Any], message: str):
    assert error_of(stack, monitoring=monitoring) == message


def test_cluster_prometheus_needs_every_crd_declared():
    declared = {"crds": [MONITORING_CRDS[0]]}
    assert (
        error_of("local", monitoring={"enabled": True, "install": False}, prerequisites=declared)
        == UNDECLARED
    )
    settings = settings_of(
        "local",
        monitoring={"enabled": True, "install": False, "namespace": "monitoring"},
        prerequisites={"crds": list(MONITORING_CRDS)},
    )
    assert settings.monitoring.prometheus_namespace == "monitoring"


def test_production_may_keep_exactly_the_minimum():
    assert settings_of("prod", monitoring={"enabled": True, "retention": {"time": "15d"}}).monitoring.enabled
    assert settings_of("prod", monitoring={"enabled": True, "retention": {"time": "3w"}}).monitoring.enabled


def test_units():
    assert [duration_days(v) for v in ("36h", "15d", "2w", "1y")] == [1.5, 15, 14, 365]
    assert [size_gib(v) for v in ("512MiB", "40GiB", "40GB", "1TiB")] == [0.5, 40, 40, 1024]
