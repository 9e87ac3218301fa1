"""The monitoring stack in the plans of dev and prod: the release, PodMonitors that select the real pods on
their real ports, network policies that admit exactly Prometheus's scrapes, valid custom resources, a
green `kiva plan`, and LiteLLM's Prometheus callback set up the way 1.108.7 needs it."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner
from kiva_policies.day_one import network
from kiva_policies.day_one.flows import required_flows, view
from kiva_policies.day_one.network_policy_eval import Flow, evaluate, pod

from components.platform.monitoring.monitors import PROMETHEUS_NAMESPACE_ANNOTATION
from infra.cli import main
from infra.settings.monitoring import MONITORING_CRDS
from tests.conftest import PROJECT_DIR, _committed_plan
from tests.platform.conftest import find, objects_of, one
from tests.platform.test_manifest_schemas import _validate_all, kubernetes_version, patches_of
from tests.policies.day_one.network_fixtures import committed

RELEASE = "kubernetes:helm.sh/v3:Release"
PROMETHEUS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
}
WORKLOADS = ("Deployment", "StatefulSet")


def _release(plan: Any, chart: str) -> dict[str, Any]:
    found = [r.inputs for r in plan.of_type(RELEASE) if r.inputs.get("chart") == chart]
    assert len(found) == 1, f"expected one {chart} release"
    return found[0]


def _template(objects: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Pod templates (of Deployments and StatefulSets) whose labels include `labels`."""
    return [
        o["spec"]["template"]
        for o in objects
        if o["kind"] in WORKLOADS and labels.items() <= o["spec"]["template"]["metadata"]["labels"].items()
    ]


def _scrapes(stack: str) -> set[tuple[str, int]]:
    matrix = required_flows(view(committed(stack)))
    return {
        (flow.target.name, flow.port)
        for flow in matrix.flows
        if flow.purpose.startswith("Prometheus scrapes PodMonitor") and flow.source.label_map == PROMETHEUS
    }


@pytest.mark.parametrize(
    ("stack", "retention", "replicas"), [("dev", ("7d", "8GiB"), 1), ("prod", ("30d", "40GiB"), 2)]
)
def test_release_in_its_namespace_with_the_stages_retention(stack, retention, replicas):
    plan = _committed_plan(stack)
    release = _release(plan, "kube-prometheus-stack")
    assert (release["name"], release["namespace"], release["version"]) == (
        "kube-prometheus-stack",
        "kiva-monitoring",
        "88.5.3",
    )
    spec = release["values"]["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"], spec["replicas"]) == (*retention, replicas)
    namespaces = {o["metadata"]["name"]: o["metadata"]["labels"] for o in find(objects_of(plan), "Namespace")}
    assert namespaces["kiva-monitoring"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespaces["kiva-node-exporter"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_local_stays_without_monitoring():
    plan = _committed_plan("local")
    assert not [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == "kube-prometheus-stack"]
    assert not find(objects_of(plan), "PodMonitor")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pod_monitors_select_the_pods_on_their_metrics_ports(stack):
    objects = objects_of(_committed_plan(stack))
    expected = {"kiva-gateway": ("http", 4000, "/metrics/"), "kiva-model-servers": ("http", 8000, "/metrics")}
    for name, (port_name, number, path) in expected.items():
        monitor = one(objects, "PodMonitor", name)
        assert monitor["metadata"]["annotations"] == {PROMETHEUS_NAMESPACE_ANNOTATION: "kiva-monitoring"}
        endpoint = monitor["spec"]["podMetricsEndpoints"][0]
        assert (endpoint["port"], endpoint["path"]) == (port_name, path)
        templates = _template(objects, monitor["spec"]["selector"]["matchLabels"])
        assert templates, f"{name} selects no pod of the plan"
        for template in templates:
            ports = {
                (p["name"], p["containerPort"])
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
            }
            assert (port_name, number) in ports
    gateway = one(objects, "PodMonitor", "kiva-gateway")["spec"]["podMetricsEndpoints"][0]
    # LiteLLM authenticates /metrics: the master key by reference, never a value in the plan.
    assert gateway["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "kiva-gateway", "key": "LITELLM_MASTER_KEY"},
    }
    templates = _template(
        objects, one(objects, "PodMonitor", "kiva-gateway")["spec"]["selector"]["matchLabels"]
    )
    assert all("litellm" in c["image"] for t in templates for c in t["spec"]["containers"])
    models = _template(
        objects, one(objects, "PodMonitor", "kiva-model-servers")["spec"]["selector"]["matchLabels"]
    )
    assert all("vllm" in c["image"] for t in models for c in t["spec"]["containers"])


def test_scrape_flows_are_derived_and_allowed():
    assert _scrapes("dev") == {
        ("kiva-gateway", 4000),
        ("kiva-model-llama-3-2-3b", 8000),
        ("kiva-db-1 (primary)", 9187),
    }
    assert _scrapes("prod") == {
        ("kiva-gateway", 4000),
        ("kiva-model-llama-3-1-8b", 8000),
        ("kiva-model-qwen-2-5-7b", 8000),
        ("kiva-db-1 (primary)", 9187),
        ("kiva-db-2 (replica)", 9187),
        ("kiva-db-pooler-rw (pooler)", 9127),
        ("pods of PodMonitor kiva-ingress-controller", 10254),  # the AKS add-on's NGINX (not in the plan)
    }
    for stack in ("dev", "prod"):
        first = network.summary(committed(stack))[0]
        required, allowed = first.removeprefix("flows: ").split(" required, ")
        assert allowed == f"{required} allowed", first


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_prometheus_reaches_the_metrics_ports(stack):
    matrix = required_flows(view(committed(stack)))
    targets = {
        flow.target for flow in matrix.flows if flow.purpose.startswith("Prometheus scrapes PodMonitor")
    }
    intruders = [
        pod("kiva-monitoring", "grafana", {"app.kubernetes.io/name": "grafana"}),
        pod("default", "prometheus elsewhere", PROMETHEUS),
    ]
    for target in targets:
        if target.namespace != "kiva":
            continue  # the ingress controller's namespace belongs to AKS: no policy of the platform there
        for port in {number for _, number, _ in target.named_ports} | {4000, 8000}:
            for source in intruders:
                verdict = evaluate(
                    Flow(source, target, port, "TCP", "probe"), matrix.policies, matrix.namespaces
                )
                assert not verdict.allowed, f"{source} reaches {target}:{port}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_scrape_rules_name_prometheus_exactly(stack):
    objects = objects_of(_committed_plan(stack))
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kiva-monitoring"}},
        "podSelector": {"matchLabels": PROMETHEUS},
    }
    scraped = sorted(
        (policy["metadata"]["name"], rule["ports"][0]["port"])
        for policy in find(objects, "NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        if peer in rule.get("from", [])
    )
    expected = [("kiva-database", 9187), ("kiva-gateway-ingress", 4000), ("kiva-model-servers", 8000)]
    if stack == "prod":
        expected.append(("kiva-pooler", 9127))
    else:  # dev's device-plugin pool has a DCGM exporter (monitoring/gpu_metrics.py)
        expected.append(("kiva-gpu-metrics-dcgm-exporter", 9400))
    expected.sort()
    assert scraped == expected
    for policy in find(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert {"namespaceSelector": {}} not in rule.get("from", []), policy["metadata"]["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_plan_is_green_with_every_flow_allowed(stack):
    result = CliRunner().invoke(
        main, ["plan", stack, "--project-dir", str(PROJECT_DIR)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "0 mandatory violation(s)" in result.output
    line = next(line.strip() for line in result.output.splitlines() if line.strip().startswith("flows:"))
    required, allowed = line.removeprefix("flows: ").split(" required, ")
    assert allowed == f"{required} allowed" and "blocked:" not in result.output


def test_cluster_prometheus_gets_pod_monitors_and_namespace_rules(plan_with):
    plan = plan_with(
        "local",
        {
            "kiva:monitoring": {"enabled": True, "install": False, "namespace": "monitoring"},
            "kiva:prerequisites": {"crds": list(MONITORING_CRDS)},
        },
    )
    assert not [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == "kube-prometheus-stack"]
    objects = objects_of(plan)
    monitor = one(objects, "PodMonitor", "kiva-gateway")
    assert monitor["metadata"]["annotations"] == {PROMETHEUS_NAMESPACE_ANNOTATION: "monitoring"}
    rule = one(objects, "NetworkPolicy", "kiva-gateway-ingress")["spec"]["ingress"][-1]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert _validate_all(objects, kubernetes_version("local")) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_manifests_and_pod_monitors_validate(stack):
    plan = _committed_plan(stack)
    objects = objects_of(plan)
    # gateway, model servers, database; and the AKS ingress controller where the gateway is published (prod)
    assert len(find(objects, "PodMonitor")) == (4 if stack == "prod" else 3)
    assert _validate_all(objects, kubernetes_version(stack), patches_of(plan)) == []


def test_operator_releases_wait_for_the_prometheus_operator():
    plan = _committed_plan("prod")
    stack_release = next(r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == "kube-prometheus-stack")
    for release in plan.of_type(RELEASE):
        if release is not stack_release:
            assert stack_release.urn in release.dependencies, release.name


def test_litellm_prometheus_callback_and_multiprocess_dir(tmp_path, monkeypatch):
    from litellm.proxy.proxy_cli import ProxyInitializationHelpers

    from components.platform.gateway_config import litellm_config
    from tests.test_settings import settings_of

    settings = litellm_config(settings_of("prod"))["litellm_settings"]
    assert settings["callbacks"] == ["prometheus"]
    assert litellm_config(settings_of("local"))["litellm_settings"]["callbacks"] == []
    # LiteLLM 1.108.7 (proxy/proxy_cli.py:721-764): with the callback in `callbacks` and several workers it
    # creates PROMETHEUS_MULTIPROC_DIR under the temp directory (the pod's /tmp); one worker needs none.
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        monkeypatch.setenv(name, "")  # recorded, so the variable LiteLLM sets is undone afterwards
        monkeypatch.delenv(name)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    setup = ProxyInitializationHelpers.maybe_setup_prometheus_multiproc_dir
    assert setup(num_workers=1, litellm_settings=settings) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert setup(num_workers=4, litellm_settings=settings) == str(tmp_path / "litellm_prometheus_multiproc")
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "litellm_prometheus_multiproc")
    assert (tmp_path / "litellm_prometheus_multiproc").is_dir()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_monitoring_namespace_admits_only_queries_and_scrapes(stack):
    objects = objects_of(_committed_plan(stack))
    names = sorted(
        p["metadata"]["name"]
        for p in find(objects, "NetworkPolicy")
        if p["metadata"]["namespace"] == "kiva-monitoring"
    )
    egress = [  # tests/monitoring/test_monitoring_egress.py; Alertmanager's peers with two replicas (prod)
        "kiva-monitoring-admission-jobs-egress",
        *(["kiva-monitoring-alertmanager-egress"] if stack == "prod" else []),
        "kiva-monitoring-allow-dns",
        "kiva-monitoring-default-deny-egress",
        "kiva-monitoring-grafana-egress",
        "kiva-monitoring-kube-state-metrics-egress",
        "kiva-monitoring-prometheus-egress",
        "kiva-monitoring-prometheus-operator-egress",
    ]
    assert names == sorted(
        [
            "kiva-monitoring-alertmanager",
            "kiva-monitoring-default-deny-ingress",
            "kiva-monitoring-grafana",
            "kiva-monitoring-kube-state-metrics",
            "kiva-monitoring-prometheus",
            "kiva-monitoring-prometheus-operator",
            *egress,
        ]
    )
    matrix = required_flows(view(committed(stack)))
    prometheus = pod("kiva-monitoring", "prometheus", PROMETHEUS)
    grafana = pod(
        "kiva-monitoring",
        "grafana",
        {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"},
    )
    gateway = pod(
        "kiva", "gateway", {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
    )

    def allowed(source: Any, target: Any, port: int) -> bool:
        return evaluate(
            Flow(source, target, port, "TCP", "probe"), matrix.policies, matrix.namespaces
        ).allowed

    assert allowed(grafana, prometheus, 9090)
    assert not allowed(gateway, prometheus, 9090)  # Prometheus's API answers without authentication
    assert not allowed(gateway, grafana, 3000)
    alertmanager = pod("kiva-monitoring", "alertmanager", {"app.kubernetes.io/name": "alertmanager"})
    assert allowed(prometheus, alertmanager, 9093) and not allowed(gateway, alertmanager, 9093)
    internal = {
        f.purpose
        for f in matrix.flows
        if isinstance(f.target, type(prometheus)) and f.target.namespace == "kiva-monitoring"
    }
    assert "API server → Prometheus Operator admission webhook" in internal
    assert "Grafana → Prometheus (datasource)" in internal
