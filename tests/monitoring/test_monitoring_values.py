"""The kube-prometheus-stack values: retention from config, no phone-home, nothing leaves the cluster, and
every key and image tag as the vendored chart (charts/kube-prometheus-stack-88.5.3) knows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.platform.monitoring.values import (
    PROMETHEUS_NAME,
    PROMETHEUS_POD_LABELS,
    MonitoringArgs,
    Receiver,
    kube_prometheus_stack_values,
)
from infra import versions

CHART = Path(__file__).resolve().parents[2] / "charts" / "kube-prometheus-stack-88.5.3"
needs_chart = pytest.mark.skipif(not CHART.is_dir(), reason=f"the vendored chart is not at {CHART}")
#: Values that are free-form maps in the chart (an ini file, Alertmanager's config, a PVC spec).
FREE_FORM = {
    ("grafana", "grafana.ini"),
    ("alertmanager", "config"),
    ("prometheus", "prometheusSpec", "storageSpec"),
}
SUBCHARTS = {
    "grafana": "grafana",
    "kube-state-metrics": "kube-state-metrics",
    "prometheus-node-exporter": "prometheus-node-exporter",
}


def args(**changes: Any) -> MonitoringArgs:
    base: dict[str, Any] = {
        "namespace": "kiva-monitoring",
        "node_exporter_namespace": "kiva-node-exporter",
        "retention_time": "30d",
        "retention_size": "40GiB",
        "storage_size": "50Gi",
        "storage_class": "managed-csi-premium",
    }
    return MonitoringArgs(**(base | changes))


def _chart_values(name: str = "") -> dict[str, Any]:
    folder = CHART / "charts" / name if name else CHART
    return yaml.safe_load((folder / "values.yaml").read_text())


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if path in FREE_FORM or not isinstance(value, dict) or not value:
        return [path]
    return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]


def test_retention_and_storage_from_config():
    spec = kube_prometheus_stack_values(args())["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"]) == ("30d", "40GiB")
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "50Gi"}},
        "storageClassName": "managed-csi-premium",
    }
    default_class = kube_prometheus_stack_values(args(storage_class=None))["prometheus"]["prometheusSpec"]
    assert "storageClassName" not in default_class["storageSpec"]["volumeClaimTemplate"]["spec"]


def test_selects_monitors_and_rules_of_every_namespace():
    spec = kube_prometheus_stack_values(args())["prometheus"]["prometheusSpec"]
    for kind in ("podMonitor", "serviceMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False


def test_nothing_leaves_the_cluster():
    values = kube_prometheus_stack_values(args())
    assert values["prometheus"]["prometheusSpec"]["remoteWrite"] == []
    config = values["alertmanager"]["config"]
    assert config["receivers"] == [{"name": "null"}]
    assert config["route"]["receiver"] == "null"
    ini = values["grafana"]["grafana.ini"]
    assert ini["analytics"] == {
        "reporting_enabled": False,
        "check_for_updates": False,
        "check_for_plugin_updates": False,
        "feedback_links_enabled": False,
    }
    assert ini["security"]["disable_gravatar"] is True
    assert ini["snapshots"]["external_enabled"] is False
    assert ini["news"]["news_feed_enabled"] is False
    assert values["grafana"]["plugins"] == []


def test_configured_receivers_get_every_alert_but_watchdog():
    receivers = (Receiver("ops", "https://alerts.kiva.example.de/hook"),)
    config = kube_prometheus_stack_values(args(receivers=receivers))["alertmanager"]["config"]
    assert config["receivers"][1] == {
        "name": "ops",
        "webhook_configs": [{"url": "https://alerts.kiva.example.de/hook", "send_resolved": True}],
    }
    assert config["route"]["routes"] == [
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']},
        {"receiver": "ops", "continue": True},
    ]


def test_grafana_off_and_dashboards_from_its_namespace():
    assert kube_prometheus_stack_values(args(grafana=False))["grafana"] == {"enabled": False}
    sidecar = kube_prometheus_stack_values(args())["grafana"]["sidecar"]
    assert sidecar["dashboards"] | {} == {
        "enabled": True,
        "label": "grafana_dashboard",
        "labelValue": "1",
        "searchNamespace": "kiva-monitoring",
    }
    assert sidecar["datasources"]["uid"] == "prometheus"


def test_node_exporter_runs_apart_and_replicas_follow_the_stage():
    values = kube_prometheus_stack_values(args(replicas=2))
    assert values["prometheus-node-exporter"]["namespaceOverride"] == "kiva-node-exporter"
    assert values["prometheus"]["prometheusSpec"]["replicas"] == 2
    assert values["alertmanager"]["alertmanagerSpec"]["replicas"] == 2


def _known(document: Any, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if document in ({}, None):
            return True  # a free-form map in the chart (resources, annotations)
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True


@needs_chart
def test_every_key_is_one_the_chart_reads():
    values = kube_prometheus_stack_values(args(receivers=(Receiver("ops", "https://a.example.de/x"),)))
    defaults = _chart_values()
    for path in _leaves(values):
        # A subchart's values: in the parent's block (its overrides, e.g. `grafana.enabled`) or the subchart's.
        sub = SUBCHARTS.get(path[0])
        known = _known(defaults, path) or (sub is not None and _known(_chart_values(sub), path[1:]))
        assert known, f"{'.'.join(path)} is not in values.yaml"


@needs_chart
def test_image_tags_are_the_charts_defaults():
    values = kube_prometheus_stack_values(args())
    chart = _chart_values()
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert values["prometheusOperator"]["image"]["tag"] == app_version == versions.PROMETHEUS_OPERATOR_TAG
    spec = chart["prometheus"]["prometheusSpec"]
    assert values["prometheus"]["prometheusSpec"]["image"] == {
        k: spec["image"][k] for k in ("registry", "repository", "tag")
    }
    am = chart["alertmanager"]["alertmanagerSpec"]["image"]
    assert values["alertmanager"]["alertmanagerSpec"]["image"]["tag"] == am["tag"]
    patch = chart["prometheusOperator"]["admissionWebhooks"]["patch"]["image"]["tag"]
    assert values["prometheusOperator"]["admissionWebhooks"]["patch"]["image"]["tag"] == patch
    for sub, key, prefix in (
        ("grafana", "grafana", ""),
        ("kube-state-metrics", "kube-state-metrics", "v"),
        ("prometheus-node-exporter", "prometheus-node-exporter", "v"),
    ):
        meta = yaml.safe_load((CHART / "charts" / sub / "Chart.yaml").read_text())
        assert values[key]["image"]["tag"] == prefix + meta["appVersion"], sub
    sidecar = _chart_values("grafana")["sidecar"]["image"]["tag"]
    assert values["grafana"]["sidecar"]["image"]["tag"] == sidecar


@needs_chart
def test_prometheus_pod_labels_are_those_the_chart_selects():
    policy = (CHART / "templates" / "prometheus" / "networkpolicy.yaml").read_text()
    assert "app.kubernetes.io/name: prometheus\n" in policy
    assert 'operator.prometheus.io/name: {{ template "kube-prometheus-stack.prometheus.crname" . }}' in policy
    assert PROMETHEUS_POD_LABELS == {
        "app.kubernetes.io/name": "prometheus",
        "operator.prometheus.io/name": PROMETHEUS_NAME,
    }
    assert PROMETHEUS_NAME == "kube-prometheus-stack-prometheus"
