"""kiva-observability-log-retention: log backend, Loki and Prometheus retention within the bounds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.harness import RELEASE, compliant_plan, res, run, violations

POLICY = "kiva-observability-log-retention"
BOUNDS = {"minDays": 7, "maxDays": 30, "maxMetricsDays": 30}


def datasource(annotations: dict[str, str], kind: str = "loki") -> Any:
    props = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kiva-logs", "namespace": "kiva-monitoring",
                     "labels": {"grafana_datasource": "1"}, "annotations": annotations},
        "data": {"kiva-logs.yaml": f"apiVersion: 1\ndatasources:\n- name: kiva-logs\n  type: {kind}\n"},
    }  # fmt: skip
    return res("kubernetes:core/v1:ConfigMap", "kiva-logs", props)


def release(chart: str, values: dict[str, Any]) -> Any:
    props = {"name": chart, "chart": chart, "namespace": "kiva-monitoring", "values": values}
    return res(RELEASE, chart, props)


def messages(resource: Any) -> list[str]:
    return [f.message for f in violations(run([*compliant_plan(), resource], {POLICY: BOUNDS}), POLICY)]


def test_datasource_within_bounds_passes() -> None:
    assert messages(datasource({"kiva.platform/log-retention-days": "30"})) == []


@pytest.mark.parametrize("days", ["6", "31"])
def test_datasource_outside_bounds_fails(days: str) -> None:
    assert messages(datasource({"kiva.platform/log-retention-days": days})) == [
        f"Log datasource kiva-monitoring/kiva-logs keeps logs {days} days, outside the allowed [7, 30] days. "
        "Change `kiva:monitoring.logs.retentionDays` (and the backend's own retention)."
    ]


def test_a_log_datasource_without_retention_fails() -> None:
    assert messages(datasource({}, kind="elasticsearch")) == [
        "Log datasource kiva-monitoring/kiva-logs does not state how long its backend keeps logs (annotation "
        "`kiva.platform/log-retention-days`); set `kiva:monitoring.logs.retentionDays` within [7, 30] days."
    ]


def test_a_metrics_datasource_is_not_a_log_store() -> None:
    assert messages(datasource({}, kind="prometheus")) == []


def test_loki_needs_compactor_retention() -> None:
    good = {"loki": {"compactor": {"retention_enabled": True}, "limits_config": {"retention_period": "720h"}}}
    assert messages(release("loki", good)) == []
    assert messages(release("loki", {"loki": {"limits_config": {"retention_period": "720h"}}})) == [
        "Helm release kiva-monitoring/loki runs Loki without a retention: set `loki.compactor.retention_enabled: "
        'true` and `loki.limits_config.retention_period` (e.g. "720h"); otherwise Loki keeps logs forever.'
    ]
    long = {"loki": {"compactor": {"retention_enabled": True}, "limits_config": {"retention_period": "90d"}}}
    assert messages(release("loki", long)) == [
        "Helm release kiva-monitoring/loki keeps logs 90 days (`loki.limits_config.retention_period: 90d`), "
        "outside the allowed [7, 30] days."
    ]


def test_prometheus_retention_is_stated_and_bounded() -> None:
    assert (
        messages(release("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"retention": "7d"}}}))
        == []
    )
    assert messages(release("kube-prometheus-stack", {})) == [
        "Helm release kiva-monitoring/kube-prometheus-stack: `prometheus.prometheusSpec.retention` is not set; "
        'state it (e.g. "15d") from `kiva:monitoring.retention.time`.'
    ]
    assert messages(
        release("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"retention": "6w"}}})
    ) == [
        "Helm release kiva-monitoring/kube-prometheus-stack keeps metrics 42 days "
        "(`prometheus.prometheusSpec.retention: 6w`), more than the allowed 30. Lower "
        "`kiva:monitoring.retention.time`."
    ]
