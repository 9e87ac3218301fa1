"""`charts.py` matches the pinned charts in ../shared/charts, and merges values the way Helm does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kiva_policies.day_one import charts

CHARTS_DIR = Path(__file__).resolve().parents[4] / "shared" / "charts"
needs_charts = pytest.mark.skipif(
    not CHARTS_DIR.is_dir(),
    reason=f"the unpacked charts are not at {CHARTS_DIR} (sibling checkout ../shared)",
)
RECORDED = sorted(charts.CHARTS.values(), key=lambda c: c.name)


REPO_CHARTS = Path(__file__).resolve().parents[3] / "charts"  # vendored charts, see charts/README.md


def _folder(chart: charts.Chart) -> Path:
    vendored = REPO_CHARTS / f"{chart.name}-{chart.version}"
    return vendored if vendored.is_dir() else CHARTS_DIR / f"{chart.name}-{chart.version}"


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    return [(path, value)]


def _at(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        assert isinstance(document, dict) and key in document, f"{'.'.join(path)} is not in values.yaml"
        document = document[key]
    return document


@needs_charts
@pytest.mark.parametrize("chart", RECORDED, ids=lambda c: c.name)
def test_recorded_defaults_equal_values_yaml(chart: charts.Chart) -> None:
    values = yaml.safe_load((_folder(chart) / "values.yaml").read_text())
    for path, expected in _leaves(dict(chart.defaults)):
        assert _at(values, path) == expected, f"{chart.name}: {'.'.join(path)}"
    for alias, (defaults, _) in chart.subcharts.items():
        subchart = next((_folder(chart) / "charts").glob(f"{alias}*"))
        sub_values = yaml.safe_load((subchart / "values.yaml").read_text())
        for path, expected in _leaves(dict(defaults)):
            assert _at(sub_values, path) == expected, f"{chart.name}/{alias}: {'.'.join(path)}"


def _crd_files(chart: charts.Chart) -> dict[str, Path]:
    found = {}
    for path in _folder(chart).rglob("*.yaml"):
        text = path.read_text(errors="replace")
        for document in re.split(r"^---\s*$", text, flags=re.M):
            if "kind: CustomResourceDefinition" not in document:
                continue
            match = re.search(r"^\s{2}name:\s*\"?([a-z0-9.-]+\.[a-z0-9.-]+)\"?\s*$", document, flags=re.M)
            if match:
                found[match.group(1)] = path
    return found


@needs_charts
@pytest.mark.parametrize("chart", RECORDED, ids=lambda c: c.name)
def test_recorded_crds_are_the_charts_crds_with_their_conditions(chart: charts.Chart) -> None:
    files = _crd_files(chart)
    if chart.name == "nvidia-device-plugin":
        files = {}  # its NFD subchart's CRDs are only installed with gfd/nfd enabled; nothing recorded
    recorded = {crd.name: crd for crd in chart.crds}
    assert set(recorded) == set(files), chart.name
    for name, crd in recorded.items():
        first = files[name].read_text().lstrip().splitlines()[0]
        gating = set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", first)) if first.startswith("{{") else set()
        assert gating == set(crd.when) | set(crd.when_any), f"{name}: {first}"
        assert ("crds" in files[name].parts) or gating, name


@needs_charts
def test_device_plugin_and_operator_pod_templates_read_the_recorded_blocks() -> None:
    plugin = (
        CHARTS_DIR / "nvidia-device-plugin-0.18.0" / "templates" / "daemonset-device-plugin.yml"
    ).read_text()
    assert "{{- with .Values.tolerations }}" in plugin and "{{- with .Values.affinity }}" in plugin
    mps = (
        CHARTS_DIR / "nvidia-device-plugin-0.18.0" / "templates" / "daemonset-mps-control-daemon.yml"
    ).read_text()
    assert 'nvidia.com/mps.capable: "true"' in mps
    operator = (CHARTS_DIR / "gpu-operator-v25.10.0" / "templates" / "operator.yaml").read_text()
    assert "{{- with .Values.operator.tolerations }}" in operator
    worker = (
        CHARTS_DIR
        / "gpu-operator-v25.10.0"
        / "charts"
        / "node-feature-discovery"
        / "templates"
        / "worker.yaml"
    )
    assert "{{- with .Values.worker.tolerations }}" in worker.read_text()
    eso = (CHARTS_DIR / "external-secrets-2.9.0" / "templates" / "deployment.yaml").read_text()
    assert "{{- with .Values.tolerations | default .Values.global.tolerations }}" in eso
    cert_manager = (CHARTS_DIR / "cert-manager-v1.21.1" / "templates" / "webhook-deployment.yaml").read_text()
    assert "merge $nodeSelector (.Values.webhook.nodeSelector | default dict)" in cert_manager


def test_dcgm_exporter_daemon_set_reads_the_recorded_values() -> None:
    """The vendored chart's DaemonSet takes its pod fields from the top level of the values, always rendered."""
    folder = REPO_CHARTS / "dcgm-exporter-4.6.0" / "templates"
    daemonset = (folder / "daemonset.yaml").read_text()
    assert "kind: DaemonSet" in daemonset and not daemonset.lstrip().startswith("{{")
    for line in (
        "{{- toYaml .Values.affinity | nindent 8 }}",
        "{{- toYaml .Values.nodeSelector | nindent 8 }}",
        "{{- with .Values.tolerations }}",
        "{{- toYaml .Values.resources | nindent 10 }}",
        "runtimeClassName: {{ .Values.runtimeClassName }}",
    ):
        assert line in daemonset, line
    monitor = (folder / "service-monitor.yaml").read_text()
    assert monitor.startswith("{{- if .Values.serviceMonitor.enabled }}")


def test_dcgm_exporter_release_values_replace_the_empty_defaults() -> None:
    chart = charts.chart_of("dcgm-exporter", "4.6.0")
    assert chart is not None
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    rendered = charts.render(
        chart,
        {
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            "affinity": affinity,
            "nodeSelector": None,
            "resources": {"requests": {"cpu": "100m"}},
        },
    )
    [(pod, fields)] = rendered.pods
    assert (pod.name, pod.kind) == ("dcgm-exporter", "DaemonSet")
    assert fields == {
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        "nodeSelector": {},
        "affinity": affinity,
        "resources": {"requests": {"cpu": "100m"}},
        "replicas": 1,
    }
    assert [n.crd for n in rendered.needs] == ["servicemonitors.monitoring.coreos.com"]
    assert charts.render(chart, {"serviceMonitor": {"enabled": False}}).needs == []


def test_values_merge_like_helm() -> None:
    defaults = {"tolerations": [{"key": "a"}], "affinity": {"x": {"y": 1, "z": 2}}, "keep": 1, "drop": 2}
    merged = charts.coalesce(
        defaults, {"tolerations": [{"key": "b"}], "affinity": {"x": {"y": 3}}, "drop": None}
    )
    assert merged == {"tolerations": [{"key": "b"}], "affinity": {"x": {"y": 3, "z": 2}}, "keep": 1}


def test_device_plugin_tolerations_replace_the_defaults() -> None:
    chart = charts.chart_of("nvidia-device-plugin", "0.18.0")
    assert chart is not None
    pods = dict(
        (pod.name, fields) for pod, fields in charts.render(chart, {"tolerations": [{"key": "x"}]}).pods
    )
    assert pods["nvidia-device-plugin"]["tolerations"] == [{"key": "x"}]
    defaults = dict((pod.name, fields) for pod, fields in charts.render(chart, {}).pods)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in defaults[
        "nvidia-device-plugin"
    ]["tolerations"]
    assert "nodeAffinity" in defaults["nvidia-device-plugin"]["affinity"]


def test_release_values_choose_crds_and_rendered_resources() -> None:
    cert_manager = charts.chart_of("cert-manager", "v1.21.1")
    assert cert_manager is not None
    assert charts.render(cert_manager, {}).crds == []
    assert len(charts.render(cert_manager, {"crds": {"enabled": True}}).crds) == 6
    cnpg = charts.chart_of("https://x/cloudnative-pg", "0.29.0")
    assert cnpg is not None
    needs = charts.render(cnpg, {"monitoring": {"podMonitorEnabled": True}}).needs
    assert [n.crd for n in needs] == ["podmonitors.monitoring.coreos.com"]
