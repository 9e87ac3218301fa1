"""The flows out of a kube-prometheus-stack release's namespace, and scrapes of pods the plan does not hold.

`flows.monitoring_stack_flows` covers the flows among the release's pods; this module adds what leaves
the namespace, as kube-prometheus-stack 88.5.3 with the plan's values makes its pods talk:
- every pod of the release resolves names (kube-dns, 53 UDP and TCP);
- Prometheus (Kubernetes service discovery and the `apiserver` ServiceMonitor), the operator,
  kube-state-metrics, Grafana's sidecars (`grafana.sidecar`, watching ConfigMaps) and the admission-webhook
  Jobs (`prometheusOperator.admissionWebhooks.patch`, pods labelled `app.kubernetes.io/component:
  prometheus-operator-webhook`) call the API server;
- Prometheus scrapes the kubelet and cAdvisor (`kubelet`, 10250) and node-exporter (`nodeExporter`, 9100
  on the host network) at a node's address (a private sample), CoreDNS (`coreDns`, 9153), and the operators
  whose charts render a monitor: cloudnative-pg `monitoring.podMonitorEnabled` (`metrics` 8080),
  cert-manager `prometheus.servicemonitor.enabled` (`http-metrics` 9402), external-secrets
  `serviceMonitor.enabled` (`metrics` 8080), gpu-operator `dcgmExporter.serviceMonitor.enabled` (9400), the
  dcgm-exporter chart 4.6.0 `serviceMonitor.enabled` (9400; pods `app.kubernetes.io/{name, instance}`);
- Alertmanager replicas (more than one: `alertmanager.alertmanagerSpec.replicas`) gossip on 9094 TCP and
  UDP, and Alertmanager posts to every `webhook_configs[].url` of `alertmanager.config.receivers`;
- Grafana reads every datasource URL of the ConfigMaps its sidecar provisions (label
  `grafana_datasource: "1"`, chart default `grafana.sidecar.datasources.label`) in the release's namespace.

A PodMonitor with `podMetricsEndpoints[].portNumber` whose pods the plan does not hold (an ingress
controller run by the cluster or the cloud) is scraped on that number in each namespace it names
(`numbered_targets`); its pods are the monitor's `selector.matchLabels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiva_policies.base import CONFIG_MAP, as_list, get, is_number, parse_yaml
from kiva_policies.day_one.flows import (
    KUBE_DNS,
    Matrix,
    Res,
    _enabled,
    _release_pod,
    _releases,
    _str_map,
    _url_endpoint,
    meta_name,
    meta_namespace,
    monitoring_releases,
    prometheus_pods,
)
from kiva_policies.day_one.network_policy_eval import External, Pod, pod

#: A node's address (private sample): the kubelet and node-exporter listen there.
NODE = "10.240.0.4"
NODE_EXPORTER, KUBELET, COREDNS_METRICS, ALERTMANAGER_CLUSTER = 9100, 10250, 9153, 9094
DATASOURCE_LABEL = "grafana_datasource"
#: (chart, values path of the switch, pod labels beyond the release's, metrics port), see the docstring.
OPERATOR_MONITORS: tuple[tuple[str, tuple[str, ...], dict[str, str] | None, int], ...] = (
    ("cloudnative-pg", ("monitoring", "podMonitorEnabled"), None, 8080),
    ("cert-manager", ("prometheus", "servicemonitor", "enabled"), None, 9402),
    ("external-secrets", ("serviceMonitor", "enabled"), None, 8080),
    ("gpu-operator", ("dcgmExporter", "serviceMonitor", "enabled"), {"app": "nvidia-dcgm-exporter"}, 9400),
    ("dcgm-exporter", ("serviceMonitor", "enabled"), None, 9400),
)


def _on(values: Any, *path: str) -> bool:
    return get(values, *path, default=False) is True


def _datasource_urls(resources: Sequence[Res], namespace: str) -> list[str]:
    urls = []
    for r in resources:
        if r.type != CONFIG_MAP or meta_namespace(r) != namespace:
            continue
        if str(get(r.props, "metadata", "labels", DATASOURCE_LABEL, default="")) != "1":
            continue
        for text in (get(r.props, "data", default={}) or {}).values():
            document = parse_yaml(text) if isinstance(text, str) else None
            for source in as_list(get(document, "datasources")):
                url = get(source, "url")
                if isinstance(url, str) and url:
                    urls.append(url)
    return urls


def monitoring_egress_flows(
    matrix: Matrix, resources: Sequence[Res], apis: Sequence[tuple[Any, list[int]]]
) -> None:
    """The flows out of each kube-prometheus-stack release's namespace (module docstring)."""
    for stack in monitoring_releases(resources):
        values, release, namespace, name = stack.values, stack.release, stack.namespace, stack.name
        prometheus = stack.prometheus
        callers: list[Pod] = [prometheus]
        resolvers: list[Pod] = [prometheus]
        if _enabled(values, "prometheusOperator", "enabled"):
            operator = pod(namespace, "prometheus-operator", {"app": f"{name}-operator", "release": release})
            callers.append(operator)
            resolvers.append(operator)
            webhooks = get(values, "prometheusOperator", "admissionWebhooks", default={}) or {}
            if (
                _enabled(webhooks, "enabled")
                and _enabled(webhooks, "patch", "enabled")
                and not _on(webhooks, "certManager", "enabled")
            ):
                job_labels = {
                    "app.kubernetes.io/component": "prometheus-operator-webhook",
                    "app.kubernetes.io/instance": release,
                    "app.kubernetes.io/name": f"{name}-prometheus-operator",
                }
                callers.append(pod(namespace, "admission webhook Jobs", job_labels))
        if _enabled(values, "kubeStateMetrics", "enabled"):
            labels = {"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": release}
            ksm = pod(namespace, "kube-state-metrics", labels)
            callers.append(ksm)
            resolvers.append(ksm)
        grafana = pod(
            namespace, "grafana", {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release}
        )
        if _enabled(values, "grafana", "enabled"):
            callers.append(grafana)
            resolvers.append(grafana)
            for url in _datasource_urls(resources, namespace):
                found = _url_endpoint(url, "log backend", namespace)
                if found is not None:
                    matrix.add(grafana, found[0], [found[1]], "Grafana → datasource")
        for caller in callers:
            for api, ports in apis:
                matrix.add(caller, api, ports, "monitoring → API server")
        node = External(NODE, "node (kubelet, node-exporter)")
        if _enabled(values, "kubelet", "enabled"):
            matrix.add(prometheus, node, [KUBELET], "Prometheus scrapes the kubelet and cAdvisor")
        if _enabled(values, "nodeExporter", "enabled"):
            matrix.add(prometheus, node, [NODE_EXPORTER], "Prometheus scrapes node-exporter")
        if _enabled(values, "coreDns", "enabled"):
            matrix.add(prometheus, KUBE_DNS, [COREDNS_METRICS], "Prometheus scrapes CoreDNS")
        if _enabled(values, "alertmanager", "enabled"):
            alertmanager = pod(namespace, "alertmanager", {"app.kubernetes.io/name": "alertmanager"})
            resolvers.append(alertmanager)
            replicas = get(values, "alertmanager", "alertmanagerSpec", "replicas", default=1)
            if is_number(replicas) and int(replicas) > 1:
                for protocol in ("TCP", "UDP"):
                    matrix.add(
                        alertmanager, alertmanager, [ALERTMANAGER_CLUSTER], "Alertmanager cluster", protocol
                    )
            for receiver in as_list(get(values, "alertmanager", "config", "receivers")):
                for hook in as_list(get(receiver, "webhook_configs")):
                    url = get(hook, "url")
                    found = (
                        _url_endpoint(url, f"alert receiver {get(receiver, 'name')}", namespace)
                        if isinstance(url, str)
                        else None
                    )
                    if found is not None:
                        matrix.add(alertmanager, found[0], [found[1]], "Alertmanager → receiver")
        for source in resolvers:
            for protocol in ("UDP", "TCP"):
                matrix.add(source, KUBE_DNS, [53], "DNS", protocol)
    for prometheus in prometheus_pods(resources):
        for chart, switch, pod_labels, port in OPERATOR_MONITORS:
            for chart_release in _releases(resources, chart):
                chart_values = get(chart_release.props, "values", default={}) or {}
                if not _on(chart_values, *switch):
                    continue
                target = _release_pod(chart_release, chart)
                if pod_labels is not None:
                    target = pod(target.namespace, target.name, pod_labels)
                matrix.add(prometheus, target, [port], f"Prometheus scrapes {chart}")


def numbered_targets(monitor: Res, candidates: Sequence[Pod]) -> list[tuple[Pod, int]]:
    """(pod, port) for a PodMonitor's `portNumber` endpoints in namespaces where the plan holds none of
    the pods it selects: those pods are the monitor's `selector.matchLabels` (module docstring)."""
    numbers = [
        int(n)
        for n in (get(e, "portNumber") for e in as_list(get(monitor.props, "spec", "podMetricsEndpoints")))
        if is_number(n)
    ]
    names = [str(n) for n in as_list(get(monitor.props, "spec", "namespaceSelector", "matchNames"))]
    match = _str_map(get(monitor.props, "spec", "selector", "matchLabels"))
    targets = []
    for namespace in names or [meta_namespace(monitor)]:
        planned = [
            c
            for c in candidates
            if c.namespace == namespace and all(c.label_map.get(k) == v for k, v in match.items())
        ]
        held = [(c, number) for c in planned for _, number, _ in c.named_ports if number in numbers]
        if planned:
            targets += held
            continue
        target = pod(namespace, f"pods of PodMonitor {meta_name(monitor)}", match)
        targets += [(target, number) for number in numbers]
    return targets
