"""Egress of the monitoring namespace: denied by default, then each path the release's pods need.

Allowed, and why:
- every pod: DNS (kube-dns in `kube-system`, 53 UDP and TCP);
- Prometheus, the operator, kube-state-metrics, Grafana (its sidecar watches ConfigMaps) and the chart's
  admission-webhook Jobs (kube-webhook-certgen): the Kubernetes API on 443 and 6443. Plain NetworkPolicy
  cannot name the API server (its address is the cloud's, and may be public), so as in
  `components/platform/network_policies.py` the rule admits any address on those two ports;
- Prometheus scrapes: the release's own pods (itself and its config reloader 9090/8080, Alertmanager
  9093/8080, kube-state-metrics 8080, the operator 10250, Grafana 3000), the pods of every namespace a
  monitor of the stack selects (`ScrapeTarget`: the platform namespace, the operators whose charts render a
  PodMonitor or ServiceMonitor, the ingress controller), CoreDNS (`coreDns`, 9153 in `kube-system`), and
  on the nodes' addresses node-exporter (9100, host network) and the kubelet with cAdvisor (10250): these
  are host ports, so the rule names the private ranges (nodes with public addresses are not reached);
  kube-prometheus-stack 88.5.3 `values.yaml` (`kubelet`, `coreDns`, `prometheus-node-exporter`);
- Grafana: Prometheus 9090 and Alertmanager 9093 (its datasources), and the external log backend of
  `kiva:monitoring.logs` only where one is configured;
- Alertmanager: its peers on 9094 TCP and UDP where it runs more than one replica (the operator clusters
  the replicas; the chart's own `alertmanager.networkPolicy.enableClusterRules`), and each webhook
  receiver of `kiva:monitoring.alerting.receivers` only where one is configured.

A URL's host decides the peer of the log backend and of a receiver (`url_peer`): an IP address is that
address alone; an in-cluster Service name (`<svc>.<ns>.svc…`, or a bare name in this namespace) is its
namespace; any other host name may resolve to a public or a private address, which NetworkPolicy cannot
tell (it matches addresses, never names), so the rule admits any address, on the URL's port only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi_kubernetes as k8s

from components.contracts import EXTERNAL_SECRETS_NAMESPACE, PLATFORM_NAMESPACE
from components.platform.gateway import PORT as GATEWAY_PORT
from components.platform.gateway_config import MODEL_PORT
from components.platform.monitoring.gpu_metrics import DCGM_EXPORTER_POD_LABELS, GPU_METRICS_NAMESPACE
from components.platform.monitoring.gpu_metrics import DCGM_EXPORTER_PORT as GPU_METRICS_PORT
from components.platform.monitoring.values import (
    ALERTMANAGER_POD_LABELS,
    ALERTMANAGER_PORT,
    GRAFANA_POD_LABELS,
    GRAFANA_PORT,
    KUBE_STATE_METRICS_POD_LABELS,
    KUBE_STATE_METRICS_PORT,
    OPERATOR_POD_LABELS,
    OPERATOR_PORT,
    PROMETHEUS_POD_LABELS,
    PROMETHEUS_PORT,
    RELEASE_NAME,
    RELOADER_PORT,
    MonitoringArgs,
)
from components.platform.namespaces import CERT_MANAGER_NAMESPACE, CNPG_NAMESPACE, GPU_OPERATOR_NAMESPACE
from components.platform.network_policies import METRICS, POOLER_METRICS, PRIVATE_RANGES

net = k8s.networking.v1
Peer = net.NetworkPolicyPeerArgs

#: node-exporter (`prometheus-node-exporter.service.port`) and the kubelet's `https-metrics` port.
NODE_EXPORTER_PORT, KUBELET_PORT = 9100, 10250
#: CoreDNS's metrics port, scraped through the chart's `coreDns` Service in `kube-system`.
COREDNS_METRICS_PORT = 9153
#: The Kubernetes API server's ports (443 on AKS, 6443 on most other distributions).
API_PORTS = (443, 6443)
#: Alertmanager's cluster (gossip) port, TCP and UDP (`alertmanager.service.clusterPort` 9094).
ALERTMANAGER_CLUSTER_PORT = 9094
#: The chart's admission-webhook Jobs (`templates/prometheus-operator/admission-webhooks/job-patch/`):
#: `kube-prometheus-stack.prometheus-operator-webhook.labels` on both pod templates.
WEBHOOK_JOB_POD_LABELS = {
    "app.kubernetes.io/component": "prometheus-operator-webhook",
    "app.kubernetes.io/instance": RELEASE_NAME,
}
KUBE_DNS = {"k8s-app": "kube-dns"}
_IN_CLUSTER = (".svc", ".svc.cluster.local", ".cluster.local")


@dataclass(frozen=True)
class ScrapeTarget:
    """Pods in another namespace that a monitor of the stack makes Prometheus scrape, on these ports."""

    namespace: str
    ports: tuple[int, ...]
    pods: tuple[tuple[str, str], ...] = ()
    """Labels the pods carry; empty: any pod of the namespace (the chart's own selectors vary)."""


@dataclass(frozen=True)
class MonitoringEgress:
    """What leaves the monitoring namespace besides the fixed paths."""

    scrape_targets: tuple[ScrapeTarget, ...] = ()
    log_backend: str | None = None
    """URL of the external log backend Grafana reads (`kiva:monitoring.logs.url`), if any."""


#: Metrics ports of the operators whose charts render a monitor when monitoring is on (`operators.py`):
#: cloudnative-pg 0.29.0 `metrics` 8080 (`monitoring.podMonitorEnabled`), cert-manager v1.21.1
#: `http-metrics` 9402 (`prometheus.servicemonitor`), external-secrets 2.9.0 `metrics` 8080 (`metrics.listen.port`,
#: `serviceMonitor`), the GPU operator's dcgm-exporter 9400 (`dcgmExporter.serviceMonitor`; dcgm-exporter's
#: default listen address `:9400`). Container ports from the charts' templates under `../shared/charts/`.
CNPG_METRICS_PORT, CERT_MANAGER_METRICS_PORT, EXTERNAL_SECRETS_METRICS_PORT, DCGM_EXPORTER_PORT = (
    8080,
    9402,
    8080,
    9400,
)


def monitoring_scrape_targets(
    *,
    models: bool,
    pooled: bool,
    cloudnative_pg: bool,
    cert_manager: bool,
    external_secrets: bool,
    gpu_operator: bool,
    gpu_metrics: bool,
    ingress: ScrapeTarget | None = None,
) -> tuple[ScrapeTarget, ...]:
    """The namespaces Prometheus scrapes pods in: the platform's (the PodMonitors' ports: gateway, model
    servers where any runs, database, pooler where one runs), each operator the stack installs with a
    monitor, the DCGM exporter of the device-plugin pools (`gpu_metrics.py`), and the ingress controller."""
    platform = (
        GATEWAY_PORT,
        *((MODEL_PORT,) if models else ()),
        METRICS,
        *((POOLER_METRICS,) if pooled else ()),
    )
    targets = [ScrapeTarget(PLATFORM_NAMESPACE, platform)]
    for installed, namespace, port in (
        (cloudnative_pg, CNPG_NAMESPACE, CNPG_METRICS_PORT),
        (cert_manager, CERT_MANAGER_NAMESPACE, CERT_MANAGER_METRICS_PORT),
        (external_secrets, EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_METRICS_PORT),
        (gpu_operator, GPU_OPERATOR_NAMESPACE, DCGM_EXPORTER_PORT),
    ):
        if installed:
            targets.append(ScrapeTarget(namespace, (port,)))
    if gpu_metrics:
        targets.append(
            ScrapeTarget(
                GPU_METRICS_NAMESPACE, (GPU_METRICS_PORT,), tuple(sorted(DCGM_EXPORTER_POD_LABELS.items()))
            )
        )
    if ingress is not None:
        targets.append(ingress)
    return tuple(targets)


def _ns(namespace: str, pods: dict[str, str] | None = None) -> Peer:
    return Peer(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": namespace}
        ),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods) if pods else None,
    )


def _pods(labels: dict[str, str]) -> Peer:
    return Peer(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels))


def _cidr(cidr: str, except_: list[str] | None = None) -> Peer:
    return Peer(ip_block=net.IPBlockArgs(cidr=cidr, except_=except_))


def _to(
    peers: list[Peer], *ports: int, protocols: tuple[str, ...] = ("TCP",)
) -> net.NetworkPolicyEgressRuleArgs:
    return net.NetworkPolicyEgressRuleArgs(
        to=peers,
        ports=[net.NetworkPolicyPortArgs(port=p, protocol=proto) for proto in protocols for p in ports],
    )


def _egress(pods: dict[str, str], rules: list[net.NetworkPolicyEgressRuleArgs]) -> net.NetworkPolicySpecArgs:
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods), policy_types=["Egress"], egress=rules
    )


def url_peer(url: str, namespace: str) -> tuple[Peer, int]:
    """The peer and port an http(s) URL reaches (module docstring); `namespace`: the monitoring namespace,
    where a bare Service name resolves."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return _cidr(f"{address}/{address.max_prefixlen}"), port
    if host.endswith(_IN_CLUSTER) or "." not in host:
        parts = host.split(".")
        return _ns(parts[1] if len(parts) > 1 else namespace), port
    return _cidr("0.0.0.0/0"), port


def api_rule() -> net.NetworkPolicyEgressRuleArgs:
    """The Kubernetes API: any address on 443 and 6443 (NetworkPolicy cannot name the API server)."""
    return _to([_cidr("0.0.0.0/0")], *API_PORTS)


def alertmanager_peer_rule() -> net.NetworkPolicyIngressRuleArgs:
    """Alertmanager replicas gossip with each other on 9094, TCP and UDP (the ingress side)."""
    return net.NetworkPolicyIngressRuleArgs(
        from_=[_pods(ALERTMANAGER_POD_LABELS)],
        ports=[
            net.NetworkPolicyPortArgs(port=ALERTMANAGER_CLUSTER_PORT, protocol=proto)
            for proto in ("TCP", "UDP")
        ],
    )


def egress_policies(args: MonitoringArgs, egress: MonitoringEgress) -> dict[str, net.NetworkPolicySpecArgs]:
    """Egress policies of the monitoring namespace, by name (module docstring)."""
    prometheus = dict(PROMETHEUS_POD_LABELS)
    scrapes = [
        _to([_pods(prometheus)], PROMETHEUS_PORT, RELOADER_PORT),
        _to([_pods(ALERTMANAGER_POD_LABELS)], ALERTMANAGER_PORT, RELOADER_PORT),
        _to([_pods(KUBE_STATE_METRICS_POD_LABELS)], KUBE_STATE_METRICS_PORT),
        _to([_pods(OPERATOR_POD_LABELS)], OPERATOR_PORT),
    ]
    if args.grafana:
        scrapes.append(_to([_pods(GRAFANA_POD_LABELS)], GRAFANA_PORT))
    scrapes += [
        # The nodes' addresses: the private ranges of the platform's policies (RFC 1918, link-local, CGNAT).
        _to([_cidr(cidr) for cidr in PRIVATE_RANGES], NODE_EXPORTER_PORT, KUBELET_PORT),
        _to([_ns("kube-system", KUBE_DNS)], COREDNS_METRICS_PORT),
    ]
    scrapes += [
        _to([_ns(target.namespace, dict(target.pods) or None)], *target.ports)
        for target in egress.scrape_targets
    ]
    specs = {
        "default-deny-egress": net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Egress"]
        ),
        "allow-dns": net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(),
            policy_types=["Egress"],
            egress=[_to([_ns("kube-system", KUBE_DNS)], 53, protocols=("UDP", "TCP"))],
        ),
        "prometheus-egress": _egress(prometheus, [api_rule(), *scrapes]),
        "prometheus-operator-egress": _egress(OPERATOR_POD_LABELS, [api_rule()]),
        "kube-state-metrics-egress": _egress(KUBE_STATE_METRICS_POD_LABELS, [api_rule()]),
        "admission-jobs-egress": _egress(WEBHOOK_JOB_POD_LABELS, [api_rule()]),
    }
    # Alertmanager's peers (more than one replica), then each configured webhook receiver.
    alerting = (
        [_to([_pods(ALERTMANAGER_POD_LABELS)], ALERTMANAGER_CLUSTER_PORT, protocols=("TCP", "UDP"))]
        if args.replicas > 1
        else []
    )
    for receiver in args.receivers:
        peer, port = url_peer(receiver.url, args.namespace)
        alerting.append(_to([peer], port))
    if alerting:
        specs["alertmanager-egress"] = _egress(ALERTMANAGER_POD_LABELS, alerting)
    if args.grafana:
        grafana = [
            api_rule(),
            _to([_pods(prometheus)], PROMETHEUS_PORT),
            _to([_pods(ALERTMANAGER_POD_LABELS)], ALERTMANAGER_PORT),
        ]
        if egress.log_backend is not None:
            peer, port = url_peer(egress.log_backend, args.namespace)
            grafana.append(_to([peer], port))
        specs["grafana-egress"] = _egress(GRAFANA_POD_LABELS, grafana)
    return specs
