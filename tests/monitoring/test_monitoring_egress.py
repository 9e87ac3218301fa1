"""Egress of `kiva-monitoring`: denied by default, then DNS, the API server, the scrapes, and the log backend
and alert receivers only where configured; judged with Kubernetes NetworkPolicy semantics on the plans."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from kiva_policies.day_one import network
from kiva_policies.day_one.flows import Matrix, required_flows, view
from kiva_policies.day_one.network_policy_eval import External, Flow, evaluate, pod, rule_carries
from kiva_policies.runner import PlannedResource

from components.platform.monitoring.egress import MonitoringEgress, egress_policies, url_peer
from components.platform.monitoring.values import MonitoringArgs, Receiver
from infra.offline.digest import preview_digest
from infra.offline.engine import run_program
from infra.offline.preview_file import planned_resources
from tests.conftest import stack_config, stack_file_with
from tests.policies.day_one.network_fixtures import committed

NS = "kiva-monitoring"
PROMETHEUS = pod(
    NS,
    "prometheus",
    {
        "app.kubernetes.io/name": "prometheus",
        "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
    },
)
GRAFANA = pod(
    NS,
    "grafana",
    {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"},
)
ALERTMANAGER = pod(NS, "alertmanager", {"app.kubernetes.io/name": "alertmanager"})
KSM = pod(
    NS,
    "kube-state-metrics",
    {"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": "kube-prometheus-stack"},
)
OPERATOR = pod(NS, "operator", {"app": "kube-prometheus-stack-operator", "release": "kube-prometheus-stack"})
WEBHOOK_JOB = pod(
    NS,
    "admission-create",
    {
        "app": "kube-prometheus-stack-admission-create",
        "app.kubernetes.io/component": "prometheus-operator-webhook",
        "app.kubernetes.io/instance": "kube-prometheus-stack",
    },
)
KUBE_DNS = pod("kube-system", "coredns", {"k8s-app": "kube-dns"})
NGINX = pod(
    "app-routing-system",
    "nginx",
    {
        "app": "nginx",
        "app.kubernetes.io/component": "ingress-controller",
        "app.kubernetes.io/managed-by": "aks-app-routing-operator",
        "kubernetes.azure.com/managedby": "aks",
    },
)
OTHER_NGINX = pod("app-routing-system", "nginx-0", {"app": "nginx-0"})
GATEWAY = pod(
    "kiva", "gateway", {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
)
NODE, PUBLIC, API = (
    External("10.240.0.4", "node"),
    External("203.0.113.10", "internet"),
    External("198.51.100.20", "api"),
)
LOGS = {"backend": "external", "url": "https://logs.example.de", "retentionDays": 30}
RECEIVER = {"name": "ops", "url": "http://alerts.ops.svc:8080/hook"}


@cache
def _prod_with_logs_and_receiver() -> tuple[PlannedResource, ...]:
    monitoring = {
        **stack_config("prod")["kiva:monitoring"],
        "logs": LOGS,
        "alerting": {"receivers": [RECEIVER]},
    }
    plan = run_program(stack_file_with("prod", {"kiva:monitoring": monitoring}))
    return tuple(planned_resources(preview_digest(plan)))


def _allowed(matrix: Matrix, source: Any, target: Any, port: int, protocol: str = "TCP") -> bool:
    return evaluate(Flow(source, target, port, protocol, "probe"), matrix.policies, matrix.namespaces).allowed


def _egress_of(resources: list[PlannedResource], name: str) -> list[dict[str, Any]] | None:
    found = [
        r.props["spec"]
        for r in resources
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and r.props["metadata"]["name"] == name
    ]
    return found[0].get("egress") if found else None


def _args(**changes: Any) -> MonitoringArgs:
    base = {
        "namespace": NS,
        "node_exporter_namespace": "kiva-node-exporter",
        "retention_time": "15d",
        "retention_size": "40GiB",
        "storage_size": "50Gi",
        "storage_class": None,
    }
    return MonitoringArgs(**{**base, **changes})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_egress_is_denied_by_default(stack):
    matrix = required_flows(view(committed(stack)))
    for source in (PROMETHEUS, GRAFANA, ALERTMANAGER, KSM, OPERATOR, WEBHOOK_JOB):
        assert not _allowed(matrix, source, PUBLIC, 80), source
        assert not _allowed(matrix, source, NODE, 22), source
    assert not _allowed(matrix, GRAFANA, GATEWAY, 4000)
    assert not _allowed(matrix, KSM, GATEWAY, 4000)
    assert not _allowed(matrix, ALERTMANAGER, PUBLIC, 443)  # no receiver configured
    assert not _allowed(matrix, GRAFANA, PUBLIC, 3100)  # no log backend configured


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_needed_path_is_allowed(stack):
    matrix = required_flows(view(committed(stack)))
    for source in (PROMETHEUS, GRAFANA, ALERTMANAGER, KSM, OPERATOR):
        assert _allowed(matrix, source, KUBE_DNS, 53, "UDP") and _allowed(matrix, source, KUBE_DNS, 53), (
            source
        )
    for source in (PROMETHEUS, GRAFANA, KSM, OPERATOR, WEBHOOK_JOB):
        assert _allowed(matrix, source, API, 443) and _allowed(matrix, source, API, 6443), source
    assert _allowed(matrix, PROMETHEUS, NODE, 9100) and _allowed(matrix, PROMETHEUS, NODE, 10250)
    assert _allowed(matrix, PROMETHEUS, KUBE_DNS, 9153)
    assert _allowed(matrix, PROMETHEUS, NGINX, 10254) == (stack == "prod")  # dev publishes no Ingress
    assert not _allowed(matrix, PROMETHEUS, OTHER_NGINX, 10254)  # another controller's pods
    assert not _allowed(matrix, PROMETHEUS, NGINX, 443)
    assert _allowed(matrix, PROMETHEUS, GATEWAY, 4000)
    assert _allowed(matrix, GRAFANA, PROMETHEUS, 9090) and _allowed(matrix, GRAFANA, ALERTMANAGER, 9093)
    assert _allowed(matrix, PROMETHEUS, ALERTMANAGER, 9093)
    for operator_pod, port in (
        (pod("cnpg-system", "cnpg", {}), 8080),
        (pod("cert-manager", "cert-manager", {}), 9402),
        (pod("external-secrets", "eso", {}), 8080),
    ):
        assert _allowed(matrix, PROMETHEUS, operator_pod, port), operator_pod
    peers = all(_allowed(matrix, ALERTMANAGER, ALERTMANAGER, 9094, p) for p in ("TCP", "UDP"))
    assert peers == (stack == "prod")  # two Alertmanager replicas in production only
    first = network.summary(committed(stack))[0]
    required, allowed = first.removeprefix("flows: ").split(" required, ")
    assert allowed == f"{required} allowed", first


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_monitoring_rule_carries_a_required_flow(stack):
    matrix = required_flows(view(committed(stack)))
    unused = [
        f"{policy} {rule.direction}[{rule.index}]"
        for policy in matrix.policies
        if policy.namespace == NS
        for rule in policy.rules
        if not any(rule_carries(rule, flow, matrix.namespaces) for flow in matrix.flows)
    ]
    assert unused == []


def test_log_backend_and_receivers_only_where_configured():
    plain = egress_policies(_args(), MonitoringEgress())
    assert len(plain["grafana-egress"].egress) == 3  # API, Prometheus, Alertmanager
    assert "alertmanager-egress" not in plain
    with_logs = egress_policies(
        _args(receivers=(Receiver("ops", "https://10.1.2.3:9443/hook"),)),
        MonitoringEgress(log_backend="https://logs.example.de"),
    )
    (logs_rule,) = with_logs["grafana-egress"].egress[3:]
    assert (logs_rule.to[0].ip_block.cidr, logs_rule.ports[0].port) == ("0.0.0.0/0", 443)
    (receiver_rule,) = with_logs["alertmanager-egress"].egress
    assert (receiver_rule.to[0].ip_block.cidr, receiver_rule.ports[0].port) == ("10.1.2.3/32", 9443)


@pytest.mark.parametrize(
    ("url", "peer", "port"),
    [
        ("https://logs.example.de", {"ip_block": "0.0.0.0/0"}, 443),
        ("http://loki.logging.svc:3100", {"namespace": "logging"}, 3100),
        ("http://loki.logging.svc.cluster.local:3100", {"namespace": "logging"}, 3100),
        ("http://loki:3100", {"namespace": NS}, 3100),
        ("http://192.168.10.5:9200", {"ip_block": "192.168.10.5/32"}, 9200),
    ],
)
def test_a_urls_host_decides_the_peer(url, peer, port):
    found, found_port = url_peer(url, NS)
    if "ip_block" in peer:
        assert found.ip_block.cidr == peer["ip_block"]
    else:
        assert found.namespace_selector.match_labels == {"kubernetes.io/metadata.name": peer["namespace"]}
    assert found_port == port


def test_configured_log_backend_and_receiver_reach_the_plan():
    resources = list(_prod_with_logs_and_receiver())
    grafana = _egress_of(resources, "kiva-monitoring-grafana-egress")
    assert {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    } in grafana
    alerting = _egress_of(resources, "kiva-monitoring-alertmanager-egress")
    assert alerting[-1] == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    matrix = required_flows(view(resources))
    assert _allowed(matrix, ALERTMANAGER, pod("ops", "alerts", {}), 8080)
    assert not _allowed(matrix, ALERTMANAGER, pod("ops", "alerts", {}), 9090)
    assert [f"{flow}" for flow, _ in network._blocked(matrix)] == []
    assert not [
        rule
        for policy in matrix.policies
        for rule in policy.rules
        if not any(rule_carries(rule, flow, matrix.namespaces) for flow in matrix.flows)
    ]
