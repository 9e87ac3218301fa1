"""The vendored kube-prometheus-stack chart: listed in charts/README.md as it is on disk, and rendered by the twin.

Provenance (tag and commit per chart) is recorded in charts/README.md; these tests tie that record to the
folders (name, version, appVersion, stored subcharts, declared dependencies) and render the chart with Helm's
own code, as `kiva twin` does. No chart cache, control plane or network is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from kiva_policies.day_one import charts as day_one_charts

from infra.twin.charts import REPO_CHARTS, ChartNotCached, RenderedRelease, chart_folder, render_release
from infra.twin.run import CHARTS_ENV, charts_dirs
from infra.versions import DCGM_EXPORTER, KUBE_PROMETHEUS_STACK

README = REPO_CHARTS / "README.md"
FOLDER = REPO_CHARTS / f"{KUBE_PROMETHEUS_STACK.name}-{KUBE_PROMETHEUS_STACK.version}"
RELEASE = "kube-prometheus-stack"
NAMESPACE = "kiva-monitoring"
MONITORING_CRDS = {
    f"{plural}.monitoring.coreos.com"
    for plural in [
        "alertmanagerconfigs",
        "alertmanagers",
        "podmonitors",
        "probes",
        "prometheusagents",
        "prometheuses",
        "prometheusrules",
        "scrapeconfigs",
        "servicemonitors",
        "thanosrulers",
    ]
}
#: The values the "stack" helper's release is to pass (components/platform/monitoring/values.py), until it exists.
STACK_VALUES: dict[str, Any] = {
    "crds": {"enabled": True},
    "prometheusOperator": {"admissionWebhooks": {"certManager": {"enabled": True}}},
    "prometheus": {
        "prometheusSpec": {
            "podMonitorSelectorNilUsesHelmValues": False,
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
            "probeSelectorNilUsesHelmValues": False,
            "retention": "15d",
            "retentionSize": "40GiB",
        }
    },
    "grafana": {
        "enabled": True,
        "grafana.ini": {"analytics": {"reporting_enabled": False, "check_for_updates": False}},
    },
}


def _table(heading: str | None) -> list[dict[str, str]]:
    """Rows of the first Markdown table after `heading` (None: the first table of the file), cells unquoted."""
    text = README.read_text(encoding="utf-8")
    lines = (text.split(heading, 1)[1] if heading else text).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        if not line.startswith("| ---"):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    header, *body = rows
    return [dict(zip(header, cells, strict=True)) for cells in body]


def _chart_yaml(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8"))


def _props(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": RELEASE,
        "chart": KUBE_PROMETHEUS_STACK.name,
        "version": KUBE_PROMETHEUS_STACK.version,
        "namespace": NAMESPACE,
        "values": values,
    }


def _workloads(rendered: RenderedRelease) -> dict[str, tuple[str, list[str]]]:
    out = {}
    for obj in rendered.objects + rendered.hooks:
        if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
            spec = obj["spec"]["template"]["spec"]
            images = [c["image"] for c in [*spec.get("initContainers", []), *spec["containers"]]]
            out[obj["metadata"]["name"]] = (obj["kind"], images)
    return out


def test_every_chart_listed_in_the_readme_is_vendored_with_the_listed_version() -> None:
    listed = _table(None)
    assert [row["folder"] for row in listed] == sorted(p.name for p in REPO_CHARTS.iterdir() if p.is_dir())
    for row in listed:
        chart = _chart_yaml(REPO_CHARTS / row["folder"])
        assert (chart["name"], chart["version"], chart["appVersion"]) == (
            row["chart"],
            row["version"],
            row["appVersion"],
        )
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]), row
    assert {(row["chart"], row["version"]) for row in listed} == {
        (KUBE_PROMETHEUS_STACK.name, KUBE_PROMETHEUS_STACK.version),
        (DCGM_EXPORTER.name, DCGM_EXPORTER.version),
    }


def test_stored_subcharts_are_the_listed_ones_and_satisfy_chart_yaml() -> None:
    listed = {row["subchart"]: row for row in _table("Subcharts")}
    stored = {p.name: _chart_yaml(p) for p in (FOLDER / "charts").iterdir()}
    assert set(stored) == set(listed)
    for name, chart in stored.items():
        assert (chart["name"], chart["version"]) == (name, listed[name]["version"])
    # Chart.yaml's dependencies against what is stored, with Helm's own check (`helm dependency list`).
    status = {dep["name"]: dep["status"] for dep in helm.dependency_list(FOLDER)}
    assert status == {name: "unpacked" for name in listed}
    assert not (FOLDER / "Chart.lock").exists()  # see charts/README.md: release-time file, not reproducible


def test_the_twin_searches_kiva_charts_dir_entries_then_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CHARTS_ENV, f"{tmp_path / 'a'}::{tmp_path / 'b'}")
    assert charts_dirs(None) == [tmp_path / "a", tmp_path / "b", REPO_CHARTS]
    assert charts_dirs(tmp_path) == [tmp_path, REPO_CHARTS]
    assert charts_dirs(REPO_CHARTS) == [REPO_CHARTS]
    assert (
        chart_folder(charts_dirs(None), KUBE_PROMETHEUS_STACK.name, KUBE_PROMETHEUS_STACK.version) == FOLDER
    )
    with pytest.raises(ChartNotCached) as failure:
        chart_folder([tmp_path / "a", tmp_path / "b"], "kube-prometheus-stack", "0.0.1")
    assert (
        f"no {tmp_path}/a/kube-prometheus-stack-0.0.1/Chart.yaml, {tmp_path}/b/kube-prometheus-stack-0.0.1"
        in str(failure.value)
    )


def test_default_values_render_crds_pods_and_the_admission_hook_jobs() -> None:
    rendered = render_release(_props({}), [REPO_CHARTS])
    assert {crd["metadata"]["name"] for crd in rendered.crds} == MONITORING_CRDS
    assert _workloads(rendered) == {
        "kube-prometheus-stack-operator": (
            "Deployment",
            ["quay.io/prometheus-operator/prometheus-operator:v0.93.1"],
        ),
        "kube-prometheus-stack-kube-state-metrics": (
            "Deployment",
            ["registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"],
        ),
        "kube-prometheus-stack-prometheus-node-exporter": (
            "DaemonSet",
            ["quay.io/prometheus/node-exporter:v1.12.1-distroless"],
        ),
        "kube-prometheus-stack-grafana": (
            "Deployment",
            [
                "quay.io/kiwigrid/k8s-sidecar:2.10.1",
                "quay.io/kiwigrid/k8s-sidecar:2.10.1",
                "docker.io/grafana/grafana:13.2.0",
            ],
        ),
        "kube-prometheus-stack-admission-create": ("Job", ["ghcr.io/jkroepke/kube-webhook-certgen:1.8.7"]),
        "kube-prometheus-stack-admission-patch": ("Job", ["ghcr.io/jkroepke/kube-webhook-certgen:1.8.7"]),
    }
    hooks = {
        (h["kind"], h["metadata"]["name"]): h["metadata"]["annotations"]["helm.sh/hook"]
        for h in rendered.hooks
    }
    assert hooks[("Job", "kube-prometheus-stack-admission-create")] == "pre-install,pre-upgrade"
    assert hooks[("Job", "kube-prometheus-stack-admission-patch")] == "post-install,post-upgrade"
    assert len(hooks) == 7
    kinds = {obj["kind"] for obj in rendered.objects}
    assert {"Prometheus", "Alertmanager"} <= kinds and not {"Certificate", "Issuer"} & kinds


def test_grafana_disabled_drops_the_grafana_subchart() -> None:
    rendered = render_release(_props({"grafana": {"enabled": False}}), [REPO_CHARTS])
    assert "kube-prometheus-stack-grafana" not in _workloads(rendered)
    assert len(rendered.objects) == 76


def test_the_stack_values_render_without_hooks_and_select_every_monitor() -> None:
    rendered = render_release(_props(STACK_VALUES), [REPO_CHARTS])
    assert rendered.hooks == []  # cert-manager issues the webhook certificate: no certgen Jobs to run
    issued = {
        (o["kind"], o["metadata"]["name"]) for o in rendered.objects if o["kind"] in ("Certificate", "Issuer")
    }
    assert issued == {
        ("Issuer", "kube-prometheus-stack-self-signed-issuer"),
        ("Issuer", "kube-prometheus-stack-root-issuer"),
        ("Certificate", "kube-prometheus-stack-root-cert"),
        ("Certificate", "kube-prometheus-stack-admission"),
    }
    (prometheus,) = [o for o in rendered.objects if o["kind"] == "Prometheus"]
    spec = prometheus["spec"]
    for selector in ("podMonitorSelector", "serviceMonitorSelector", "ruleSelector", "probeSelector"):
        assert spec[selector] == {}, selector  # empty selector: every object of the kind, no `release` label
    assert (spec["retention"], spec["retentionSize"]) == ("15d", "40GiB")
    (grafana_ini,) = [
        o
        for o in rendered.objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kube-prometheus-stack-grafana"
    ]
    assert "reporting_enabled = false" in grafana_ini["data"]["grafana.ini"]


def test_day_one_record_matches_the_rendered_pods() -> None:
    chart = day_one_charts.chart_of("prometheus-community/kube-prometheus-stack", "88.5.3")
    assert chart is not None
    default = day_one_charts.render(chart, {})
    assert set(default.crds) == MONITORING_CRDS
    assert [pod.name for pod, _ in default.pods] == [
        "prometheus-operator",
        "admission-create",
        "admission-patch",
        "prometheus (operand)",
        "alertmanager (operand)",
        "kube-state-metrics",
        "prometheus-node-exporter",
        "grafana",
    ]
    node_exporter = next(fields for pod, fields in default.pods if pod.name == "prometheus-node-exporter")
    rendered = render_release(_props({}), [REPO_CHARTS])
    (daemonset,) = [o for o in rendered.objects if o["kind"] == "DaemonSet"]
    pod_spec = daemonset["spec"]["template"]["spec"]
    assert (node_exporter["tolerations"], node_exporter["nodeSelector"]) == (
        pod_spec["tolerations"],
        pod_spec["nodeSelector"],
    )
    with_stack = day_one_charts.render(chart, STACK_VALUES)
    assert "admission-create" not in [pod.name for pod, _ in with_stack.pods]
    assert {need.crd for need in with_stack.needs} == {
        "certificates.cert-manager.io",
        "issuers.cert-manager.io",
    }
