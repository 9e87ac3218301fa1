"""The monitoring stack: kube-prometheus-stack in `kiva-monitoring`, and the platform's PodMonitors.

One `helm.v3.Release` (name fixed, so the chart's resource names are stable) brings the Prometheus
Operator with its CRDs, Prometheus, Alertmanager, Grafana and kube-state-metrics into `kiva-monitoring`
(Pod Security `restricted`: the chart's defaults run every pod non-root with RuntimeDefault seccomp), and
node-exporter into `kiva-node-exporter` (`privileged`: it reads the host's network, processes and file
system). Ingress in `kiva-monitoring` is denied but for the queries and scrapes the stack needs, egress but
for DNS, the API server, the scrapes and the configured log backend and receivers (`monitoring_policies`,
`egress.py`). Everything that renders a PodMonitor, ServiceMonitor or PrometheusRule waits for the release.

With `kiva:monitoring.install: false` the cluster's own Prometheus Operator serves the CRDs (declared
prerequisites), and only the PodMonitors are created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE
from components.platform.common import child_opts, network_policies, pinned_release
from components.platform.monitoring.alerts import AlertArgs, prometheus_rule
from components.platform.monitoring.dashboards import dashboard_config_maps
from components.platform.monitoring.egress import MonitoringEgress, alertmanager_peer_rule, egress_policies
from components.platform.monitoring.gpu_metrics import GpuMetrics, GpuMetricsArgs
from components.platform.monitoring.monitors import PlatformMonitors
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
    kube_prometheus_stack_values,
)
from components.platform.namespaces import psa_labels
from infra import versions
from infra.settings.ingress_metrics import IngressMetrics

#: Seconds Helm may take before the (atomic) install is rolled back: the CRDs, the webhook's hook
#: Jobs and a Prometheus with its volume take longer than an operator alone.
RELEASE_TIMEOUT = 900


net = k8s.networking.v1


def _from(pods: dict[str, str], *ports: int) -> net.NetworkPolicyIngressRuleArgs:
    return net.NetworkPolicyIngressRuleArgs(
        from_=[net.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods))],
        ports=[net.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in ports],
    )


def _ingress(
    pods: dict[str, str], rules: list[net.NetworkPolicyIngressRuleArgs]
) -> net.NetworkPolicySpecArgs:
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods), policy_types=["Ingress"], ingress=rules
    )


def monitoring_policies(
    args: MonitoringArgs, egress: MonitoringEgress | None = None
) -> dict[str, net.NetworkPolicySpecArgs]:
    """Policies of the monitoring namespace, by name: nothing reaches Prometheus, Alertmanager,
    Grafana or kube-state-metrics but the pods that query or scrape them, and nothing leaves but the
    paths of `egress.egress_policies` (DNS, API server, scrapes, configured log backend and receivers).

    Prometheus and Grafana answer queries without authentication inside the cluster, so their ports
    are closed to every other namespace. Alertmanager replicas (more than one) gossip on 9094. The operator's port
    serves the admission webhook, which the API server calls from an address no selector names, so
    its rule (like the chart's own `prometheusOperator.networkPolicy`) admits any source on that port.
    `kubectl port-forward`, the way to Grafana, does not pass through NetworkPolicies.
    """
    prometheus = dict(PROMETHEUS_POD_LABELS)
    queriers = [_from(prometheus, PROMETHEUS_PORT, RELOADER_PORT)]  # its own ServiceMonitor
    alerting = [_from(prometheus, ALERTMANAGER_PORT, RELOADER_PORT)]
    if args.replicas > 1:
        alerting.append(alertmanager_peer_rule())
    if args.grafana:
        queriers.append(_from(GRAFANA_POD_LABELS, PROMETHEUS_PORT))
        alerting.append(_from(GRAFANA_POD_LABELS, ALERTMANAGER_PORT))
    specs = {
        "default-deny-ingress": net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
        ),
        "prometheus": _ingress(prometheus, queriers),
        "alertmanager": _ingress(ALERTMANAGER_POD_LABELS, alerting),
        "kube-state-metrics": _ingress(
            KUBE_STATE_METRICS_POD_LABELS, [_from(prometheus, KUBE_STATE_METRICS_PORT)]
        ),
        "prometheus-operator": _ingress(
            OPERATOR_POD_LABELS,
            [
                net.NetworkPolicyIngressRuleArgs(
                    ports=[net.NetworkPolicyPortArgs(port=OPERATOR_PORT, protocol="TCP")]
                )
            ],
        ),
    }
    if args.grafana:
        specs["grafana"] = _ingress(GRAFANA_POD_LABELS, [_from(prometheus, GRAFANA_PORT)])
    specs.update(egress_policies(args, egress or MonitoringEgress()))
    return specs


@dataclass(frozen=True)
class MonitoringStackArgs:
    """The release's values (`None`: the cluster runs its own Prometheus Operator), and what to scrape."""

    values: MonitoringArgs | None
    model_servers: bool
    """Model servers run, so their PodMonitor is created."""
    prometheus_namespace: str
    """Where Prometheus runs: the release's namespace, or the cluster's own Prometheus's."""
    alerts: AlertArgs | None = None
    """The PrometheusRule's thresholds and groups (`alerts.py`); `None`: no alerts."""
    egress: MonitoringEgress | None = None
    """What Prometheus scrapes outside its namespace, and the log backend (`egress.py`); `None`: only the
    release's own pods, the nodes and CoreDNS."""
    ingress: IngressMetrics | None = None
    """The ingress controller's pods to scrape (`infra.settings.ingress_metrics`); `None`: none."""
    gpu_metrics: GpuMetricsArgs | None = None
    """The DCGM exporter for device-plugin GPU pools (`gpu_metrics.py`); `None`: no such pool."""


class Monitoring(pulumi.ComponentResource):
    """Namespaces, the kube-prometheus-stack release and the platform's PodMonitors.

    `release` is what custom resources of the Prometheus Operator's kinds must depend on (`None` when
    the cluster runs its own operator); `monitors` are created once `platform_ready` exists.
    """

    release: k8s.helm.v3.Release | None

    def __init__(
        self,
        name: str,
        args: MonitoringStackArgs,
        platform_ready: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Monitoring", name, None, opts)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        self.network_policies: dict[str, k8s.networking.v1.NetworkPolicy] = {}
        self.release = None
        values = args.values
        if values is not None:
            for namespace, level in (
                (values.namespace, "restricted"),
                (values.node_exporter_namespace, "privileged"),
            ):
                self.namespaces[namespace] = k8s.core.v1.Namespace(
                    f"{name}-{namespace}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace, labels=psa_labels(level)),
                    opts=child_opts(self),
                )
            chart = versions.KUBE_PROMETHEUS_STACK
            self.release = k8s.helm.v3.Release(
                f"{name}-kube-prometheus-stack",
                pinned_release(
                    RELEASE_NAME,
                    chart,
                    values.namespace,
                    kube_prometheus_stack_values(values),
                    RELEASE_TIMEOUT,
                ),
                opts=child_opts(self, depends_on=list(self.namespaces.values())),
            )
            self.network_policies = network_policies(
                self,
                name,
                "kiva-monitoring",
                values.namespace,
                monitoring_policies(values, args.egress),
                [self.namespaces[values.namespace]],
            )
        # Grafana's sidecar loads these from the release's namespace (dashboards.py).
        self.dashboards: list[k8s.core.v1.ConfigMap] = []
        if values is not None and values.grafana:
            self.dashboards = dashboard_config_maps(
                values.namespace, child_opts(self, depends_on=[self.namespaces[values.namespace]])
            )
        # GPU metrics of the device-plugin pools (gpu_metrics.py); its ServiceMonitor needs the release's CRD.
        self.gpu_metrics = (
            GpuMetrics(
                f"{name}-gpu-metrics",
                args.gpu_metrics,
                depends_on=[self.release] if self.release is not None else [],
                opts=child_opts(self),
            )
            if args.gpu_metrics is not None
            else None
        )
        self.monitors = PlatformMonitors(
            f"{name}-monitors",
            args.model_servers,
            args.prometheus_namespace,
            depends_on=[*platform_ready, *([self.release] if self.release is not None else [])],
            opts=child_opts(self),
            ingress=args.ingress,
        )
        # The alerts (alerts.py): in the release's namespace, or next to the PodMonitors without it.
        self.alerts = None
        if args.alerts is not None:
            self.alerts = prometheus_rule(
                f"{name}-alerts",
                args.alerts,
                namespace=values.namespace if values is not None else PLATFORM_NAMESPACE,
                opts=child_opts(
                    self, depends_on=[*platform_ready, *([self.release] if self.release is not None else [])]
                ),
            )
        self.register_outputs({})
