"""The values of the kube-prometheus-stack release: a pure function of `MonitoringArgs`.

Every key below is checked against the chart's `values.yaml` at 88.5.3 (charts/kube-prometheus-stack-88.5.3/,
the grafana subchart 12.11.1 beside it); what is not set keeps the chart's default. The defaults already
run every pod as non-root with the RuntimeDefault seccomp profile (`prometheusOperator.securityContext`,
`prometheus.prometheusSpec.securityContext`, `alertmanager.alertmanagerSpec.securityContext`, grafana's
`securityContext`), so the security contexts stay as shipped. Nothing here sends data out of the cluster:
no `remoteWrite`, Alertmanager's receivers only from `kiva:monitoring.alerting.receivers`, and Grafana's
analytics, update checks, gravatar and external snapshots are off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import versions

#: The Release name, fixed so that resource names are stable: `kube-prometheus-stack` contains the
#: chart's name, so the chart's fullname is the release name (`kube-prometheus-stack.fullname`).
RELEASE_NAME = "kube-prometheus-stack"
#: The Prometheus custom resource the chart creates (`kube-prometheus-stack.prometheus.crname`).
PROMETHEUS_NAME = f"{RELEASE_NAME}-prometheus"
#: Labels the operator puts on the Prometheus pods (the chart's own NetworkPolicy selects them so).
PROMETHEUS_POD_LABELS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": PROMETHEUS_NAME,
}
#: Labels selecting the other pods of the release, as its templates set them: Alertmanager (the chart's
#: `templates/alertmanager/networkpolicy.yaml`), the operator (`templates/prometheus-operator/deployment.yaml`
#: selector), Grafana and kube-state-metrics (their charts' `selectorLabels`).
ALERTMANAGER_POD_LABELS = {"app.kubernetes.io/name": "alertmanager"}
OPERATOR_POD_LABELS = {"app": f"{RELEASE_NAME}-operator", "release": RELEASE_NAME}
GRAFANA_POD_LABELS = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": RELEASE_NAME}
KUBE_STATE_METRICS_POD_LABELS = {
    "app.kubernetes.io/name": "kube-state-metrics",
    "app.kubernetes.io/instance": RELEASE_NAME,
}
#: Their ports: Prometheus `web` and the config reloader's `reloader-web`, Alertmanager `http-web`,
#: kube-state-metrics `http`, the operator's `https` (metrics and the admission webhook), Grafana's `grafana`.
PROMETHEUS_PORT, RELOADER_PORT, ALERTMANAGER_PORT = 9090, 8080, 9093
KUBE_STATE_METRICS_PORT, OPERATOR_PORT, GRAFANA_PORT = 8080, 10250, 3000
#: The Grafana datasource uid of Prometheus (`grafana.sidecar.datasources.uid`), which dashboards name.
PROMETHEUS_DATASOURCE_UID = "prometheus"
#: ConfigMaps with this label (and value) are loaded as dashboards by Grafana's sidecar.
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
#: Grafana settings that keep it from calling grafana.com or other services (Grafana `conf/defaults.ini`:
#: `[analytics]`, `[security] disable_gravatar`, `[snapshots] external_enabled`, `[news]`).
GRAFANA_NO_PHONE_HOME: dict[str, dict[str, bool]] = {
    "analytics": {
        "reporting_enabled": False,
        "check_for_updates": False,
        "check_for_plugin_updates": False,
        "feedback_links_enabled": False,
    },
    "security": {"disable_gravatar": True},
    "snapshots": {"external_enabled": False},
    "news": {"news_feed_enabled": False},
}
#: Control-plane scrapers a managed cluster (AKS) gives no access to, and kube-proxy, which Cilium
#: replaces; their ServiceMonitors would only produce "target down" alerts.
UNREACHABLE_CONTROL_PLANE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")
#: The chart's default rule groups for those components, and for Windows nodes (none here).
UNUSED_RULE_GROUPS = (
    "etcd",
    "kubeControllerManager",
    "kubeSchedulerAlerting",
    "kubeSchedulerRecording",
    "kubeProxy",
    "windows",
)


@dataclass(frozen=True)
class Receiver:
    """An Alertmanager webhook receiver (`kiva:monitoring.alerting.receivers`)."""

    name: str
    url: str


@dataclass(frozen=True)
class MonitoringArgs:
    """What decides the monitoring stack: retention, storage, Grafana, receivers, where it runs."""

    namespace: str
    """Namespace of the release (Prometheus, Alertmanager, Grafana, the operator, kube-state-metrics)."""
    node_exporter_namespace: str
    """Namespace of node-exporter, which needs host access (Pod Security `privileged`)."""
    retention_time: str
    """`prometheusSpec.retention`, e.g. `15d`."""
    retention_size: str
    """`prometheusSpec.retentionSize`, e.g. `40GiB`."""
    storage_size: str
    """Size of Prometheus's PVC."""
    storage_class: str | None
    """Its storage class; `None`: the cluster's default."""
    grafana: bool = True
    receivers: tuple[Receiver, ...] = ()
    replicas: int = 1
    """Prometheus and Alertmanager replicas (2 in production)."""


def _image(registry: str, repository: str, tag: str) -> dict[str, str]:
    return {"registry": registry, "repository": repository, "tag": tag}


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def alertmanager_config(receivers: tuple[Receiver, ...]) -> dict[str, Any]:
    """Alertmanager's configuration: the chart's default routing (everything to `null`), plus one route
    per configured webhook receiver (`continue: true`, so every receiver gets every alert but Watchdog)."""
    routes: list[dict[str, Any]] = [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}]
    routes += [{"receiver": r.name, "continue": True} for r in receivers]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "receiver": "null",
            "routes": routes,
        },
        "receivers": [
            {"name": "null"},
            *(
                {"name": r.name, "webhook_configs": [{"url": r.url, "send_resolved": True}]}
                for r in receivers
            ),
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def _grafana(args: MonitoringArgs) -> dict[str, Any]:
    if not args.grafana:
        return {"enabled": False}
    return {
        "enabled": True,
        "image": _image("docker.io", "grafana/grafana", versions.GRAFANA_TAG),
        # The admin password: the chart generates one into the Secret `kube-prometheus-stack-grafana`.
        "grafana.ini": GRAFANA_NO_PHONE_HOME,
        "resources": _resources("100m", "256Mi", "500m", "512Mi"),
        "sidecar": {
            "image": _image("quay.io", "kiwigrid/k8s-sidecar", versions.GRAFANA_SIDECAR_TAG),
            "resources": _resources("50m", "64Mi", "200m", "128Mi"),
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "labelValue": DASHBOARD_LABEL_VALUE,
                # Only the platform's own dashboards, in the monitoring namespace (the kube-prometheus-stack
                # default is ALL; a namespace name is what grafana's `sidecar.dashboards.searchNamespace` takes).
                "searchNamespace": args.namespace,
            },
            "datasources": {"enabled": True, "uid": PROMETHEUS_DATASOURCE_UID},
        },
        # No plugin downloads from grafana.com at start.
        "plugins": [],
    }


def _storage(args: MonitoringArgs) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": args.storage_size}},
    }
    if args.storage_class is not None:
        claim["storageClassName"] = args.storage_class
    return {"volumeClaimTemplate": {"spec": claim}}


def kube_prometheus_stack_values(args: MonitoringArgs) -> dict[str, Any]:
    """The release's values (kube-prometheus-stack 88.5.3)."""
    registry_quay = "quay.io"
    webhook: dict[str, Any] = {
        # The webhook validates PrometheusRules before the operator loads them. Its certificate comes
        # from the chart's own hook Jobs (kube-webhook-certgen), not cert-manager: the operators'
        # releases render PodMonitors and ServiceMonitors and so wait for this release, which must
        # not in turn wait for cert-manager's (`components/platform/platform.py`).
        "enabled": True,
        "certManager": {"enabled": False},
        "patch": {
            "enabled": True,
            "image": _image("ghcr.io", "jkroepke/kube-webhook-certgen", versions.WEBHOOK_CERTGEN_TAG),
            "resources": _resources("10m", "32Mi", "100m", "64Mi"),
        },
    }
    values: dict[str, Any] = {
        "crds": {"enabled": True},
        "defaultRules": {"create": True, "rules": dict.fromkeys(UNUSED_RULE_GROUPS, False)},
        "windowsMonitoring": {"enabled": False},
        **{component: {"enabled": False} for component in UNREACHABLE_CONTROL_PLANE},
        "prometheusOperator": {
            "image": _image(
                registry_quay, "prometheus-operator/prometheus-operator", versions.PROMETHEUS_OPERATOR_TAG
            ),
            "prometheusConfigReloader": {
                "image": _image(
                    registry_quay,
                    "prometheus-operator/prometheus-config-reloader",
                    versions.PROMETHEUS_OPERATOR_TAG,
                ),
                "resources": _resources("10m", "32Mi", "100m", "64Mi"),
            },
            "admissionWebhooks": webhook,
            "resources": _resources("100m", "128Mi", "500m", "512Mi"),
        },
        "prometheus": {
            "prometheusSpec": {
                "image": _image(registry_quay, "prometheus/prometheus", versions.PROMETHEUS_TAG),
                "replicas": args.replicas,
                "retention": args.retention_time,
                "retentionSize": args.retention_size,
                "storageSpec": _storage(args),
                "resources": _resources("500m", "2Gi", "2", "4Gi"),
                # Select every PodMonitor, ServiceMonitor, PrometheusRule and Probe in the cluster, not
                # only those labelled with this release (the platform's live in `kiva`).
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                # Metrics stay in the cluster.
                "remoteWrite": [],
            },
        },
        "alertmanager": {
            "config": alertmanager_config(args.receivers),
            "alertmanagerSpec": {
                "image": _image(registry_quay, "prometheus/alertmanager", versions.ALERTMANAGER_TAG),
                "replicas": args.replicas,
                "resources": _resources("50m", "64Mi", "200m", "256Mi"),
            },
        },
        "grafana": _grafana(args),
        "kube-state-metrics": {
            "image": _image(
                "registry.k8s.io", "kube-state-metrics/kube-state-metrics", versions.KUBE_STATE_METRICS_TAG
            ),
            "resources": _resources("50m", "128Mi", "200m", "256Mi"),
        },
        "prometheus-node-exporter": {
            # Host network, host PID and the host's root file system: a namespace of its own, at Pod
            # Security `privileged`, so the rest of the stack stays `restricted`.
            "namespaceOverride": args.node_exporter_namespace,
            "image": {
                "registry": registry_quay,
                "repository": "prometheus/node-exporter",
                "tag": versions.NODE_EXPORTER_TAG,
            },
            "resources": _resources("20m", "32Mi", "200m", "64Mi"),
        },
    }
    return values
