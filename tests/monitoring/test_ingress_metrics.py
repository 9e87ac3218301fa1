"""The ingress controller's metrics (`kiva:monitoring.ingressMetrics`): the AKS add-on's controller is scraped on
Azure with the facts of its source, an existing cluster's only when declared, and a bad declaration names the
key and shows a valid one."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from kiva_policies.day_one import network
from kiva_policies.day_one.flows import required_flows, view
from kiva_policies.day_one.network_policy_eval import rule_carries
from kiva_policies.runner import PlannedResource

from components.platform.monitoring.monitors import INGRESS_MONITOR, pod_monitors
from infra.offline.digest import preview_digest
from infra.offline.engine import run_program
from infra.offline.preview_file import planned_resources
from infra.settings.ingress_metrics import AKS_INGRESS_METRICS, IngressMetrics, ingress_metrics_target
from infra.settings.workloads import Ingress
from tests.conftest import _committed_plan, stack_file_with
from tests.platform.conftest import find, objects_of, one
from tests.policies.day_one.network_fixtures import committed
from tests.test_settings import error_of, settings_of

#: The add-on's default controller, as Azure/aks-app-routing-operator builds it (infra/settings/ingress_metrics.py).
AKS_POD_MONITOR = {
    "selector": {
        "matchLabels": {
            "app": "nginx",
            "app.kubernetes.io/component": "ingress-controller",
            "app.kubernetes.io/managed-by": "aks-app-routing-operator",
        }
    },
    "namespaceSelector": {"matchNames": ["app-routing-system"]},
    "podMetricsEndpoints": [{"portNumber": 10254, "path": "/metrics", "interval": "30s"}],
}
#: Monitoring on a laptop-sized existing cluster (the `local` stack), as its docstring suggests.
LOCAL_MONITORING = {"enabled": True, "retention": {"time": "3d", "size": "4GiB"}, "storage": {"size": "5Gi"}}
TRAEFIK = {"namespace": "kube-system", "podLabels": {"app.kubernetes.io/name": "traefik"}, "port": 9100}
EXAMPLE = (
    "e.g. ingressMetrics: {namespace: kube-system, podLabels: {app.kubernetes.io/name: traefik}, port: 9100, "
    "path: /metrics}"
)
PREFIX = "Pulumi.local.yaml: kiva:monitoring.ingressMetrics"


@cache
def _local(ingress_metrics: bool) -> tuple[PlannedResource, ...]:
    monitoring = {**LOCAL_MONITORING, **({"ingressMetrics": TRAEFIK} if ingress_metrics else {})}
    return tuple(
        planned_resources(
            preview_digest(run_program(stack_file_with("local", {"kiva:monitoring": monitoring})))
        )
    )


def _monitors(resources: tuple[PlannedResource, ...]) -> dict[str, dict[str, Any]]:
    return {
        r.props["metadata"]["name"]: r.props["spec"]
        for r in resources
        if r.type == "kubernetes:monitoring.coreos.com/v1:PodMonitor"
    }


def _network_problems(resources: list[PlannedResource]) -> list[str]:
    """Blocked required flows, and rules that carry none (the two mandatory network policies)."""
    matrix = required_flows(view(resources))
    problems = [f"blocked: {flow}" for flow, _ in network._blocked(matrix)]
    for policy in matrix.policies:
        for rule in policy.rules:
            if not any(rule_carries(rule, flow, matrix.namespaces) for flow in matrix.flows):
                problems.append(f"unused: {policy} {rule.direction}[{rule.index}]")
    return problems


def test_the_aks_facts():
    assert AKS_INGRESS_METRICS.namespace == "app-routing-system"
    assert AKS_INGRESS_METRICS.pod_labels == AKS_POD_MONITOR["selector"]["matchLabels"]
    assert (AKS_INGRESS_METRICS.port, AKS_INGRESS_METRICS.path) == (10254, "/metrics")


def test_which_controller_is_scraped():
    aks = Ingress(host="llm.example.de", cluster_issuer="ca")
    traefik = Ingress(
        class_name="traefik", host="llm.example.de", cluster_issuer="ca", controller_namespace="kube-system"
    )
    declared = IngressMetrics.model_validate(TRAEFIK)
    assert ingress_metrics_target(None, aks) == AKS_INGRESS_METRICS
    assert ingress_metrics_target(None, None) is None
    assert ingress_metrics_target(None, traefik) is None
    assert ingress_metrics_target(declared, traefik) == declared
    assert ingress_metrics_target(declared, aks) == declared
    assert INGRESS_MONITOR not in pod_monitors(model_servers=True)


@pytest.mark.parametrize("stack", ["prod"])
def test_azure_stacks_scrape_the_app_routing_controller(stack):
    """prod publishes the gateway through the add-on (dev has no Ingress, so nothing to scrape there)."""
    monitor = one(objects_of(_committed_plan(stack)), "PodMonitor", INGRESS_MONITOR)
    assert monitor["metadata"]["namespace"] == "kiva"
    assert monitor["spec"] == AKS_POD_MONITOR
    scrapes = {
        (flow.target.namespace, flow.port)
        for flow in required_flows(view(committed(stack))).flows
        if flow.purpose == f"Prometheus scrapes PodMonitor {INGRESS_MONITOR}"
    }
    assert scrapes == {("app-routing-system", 10254)}


def test_an_existing_cluster_scrapes_no_ingress_controller_unless_declared():
    without = _local(ingress_metrics=False)
    assert INGRESS_MONITOR not in _monitors(without)
    assert "kiva-gateway" in _monitors(without)
    assert _network_problems(list(without)) == []


def test_a_declared_controller_is_scraped_and_reachable():
    resources = _local(ingress_metrics=True)
    assert _monitors(resources)[INGRESS_MONITOR] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
        "namespaceSelector": {"matchNames": ["kube-system"]},
        "podMetricsEndpoints": [{"portNumber": 9100, "path": "/metrics", "interval": "30s"}],
    }
    egress = next(
        r.props["spec"]["egress"]
        for r in resources
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and r.props["metadata"]["name"] == "kiva-monitoring-prometheus-egress"
    )
    assert {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}},
            }
        ],
        "ports": [{"port": 9100, "protocol": "TCP"}],
    } in egress
    assert _network_problems(list(resources)) == []


def test_the_declaration_is_read():
    settings = settings_of("local", monitoring={**LOCAL_MONITORING, "ingressMetrics": TRAEFIK})
    assert settings.monitoring.ingress_metrics == IngressMetrics(
        namespace="kube-system", pod_labels={"app.kubernetes.io/name": "traefik"}, port=9100, path="/metrics"
    )
    assert find(objects_of(_committed_plan("local")), "PodMonitor") == []
    assert not find(objects_of(_committed_plan("dev")), "PodMonitor", INGRESS_MONITOR)  # dev has no Ingress


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"podLabels": {}},
            f"{PREFIX}.podLabels: name at least one label of the controller's pods, {EXAMPLE}",
        ),
        (
            {"podLabels": {"Bad Key": "traefik"}},
            f"{PREFIX}.podLabels: 'Bad Key' is not a Kubernetes label key; {EXAMPLE}",
        ),
        (
            {"podLabels": {"app": "a b"}},
            f"{PREFIX}.podLabels: 'a b' (of app) is not a Kubernetes label value; {EXAMPLE}",
        ),
        (
            {"port": "metrics"},
            f"{PREFIX}.port: must be the number of the metrics port, 1 to 65535 (got 'metrics'); {EXAMPLE}",
        ),
        (
            {"port": 70000},
            f"{PREFIX}.port: must be the number of the metrics port, 1 to 65535 (got 70000); {EXAMPLE}",
        ),
        (
            {"path": "metrics"},
            f"{PREFIX}.path: must be an HTTP path starting with / (got 'metrics'); {EXAMPLE}",
        ),
    ],
)
def test_errors(change: dict[str, Any], message: str):
    monitoring = {**LOCAL_MONITORING, "ingressMetrics": {**TRAEFIK, **change}}
    assert error_of("local", monitoring=monitoring) == message
