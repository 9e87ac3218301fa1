"""What Prometheus scrapes in the platform namespace: PodMonitors of the model servers and the gateway.

The other targets come from elsewhere and need nothing here:
- the database: its own PodMonitor (`components/platform/database.py`, port `metrics` 9187) and the
  CloudNativePG chart's (`monitoring.podMonitorEnabled`);
- GPUs: the GPU operator's DCGM exporter (`dcgmExporter.serviceMonitor.enabled`, `operators.py`) on its
  pools, and on pools served by the device plugin (`driver: preinstalled`, the AKS default) the
  dcgm-exporter chart's DaemonSet and ServiceMonitor (`gpu_metrics.py`, namespace `kiva-gpu-metrics`);
- nodes: node-exporter and the kubelet/cAdvisor ServiceMonitors of kube-prometheus-stack;
- the ingress controller: `ingress_monitor`, a PodMonitor here that selects the controller's pods in
  their own namespace: on Azure the AKS application routing add-on's (`app-routing-system`, pods
  `app: nginx`, port 10254, `/metrics`; facts from the add-on's source, `infra/settings/ingress_metrics.py`),
  elsewhere what `kiva:monitoring.ingressMetrics` declares. Selecting the pods, not the add-on's Service
  `nginx-metrics`, keeps the monitor out of the AKS-managed namespace.

Selectors are the pods' own labels (`model_server.py`, `gateway.py`), so a PodMonitor selects exactly
the pods whose template carries them; ports are named (`http`) as in the pod templates.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE
from components.platform.common import GATEWAY_SECRET, child_opts, labels, selector
from components.platform.gateway import COMPONENT as GATEWAY_COMPONENT
from components.platform.gateway import NAME as GATEWAY_NAME
from components.platform.model_server import NAME as MODEL_SERVER_NAME
from infra.settings.ingress_metrics import IngressMetrics

#: vLLM's pods (every model server), as the model server labels them.
MODEL_SERVER_PODS = {"app.kubernetes.io/name": MODEL_SERVER_NAME, "app.kubernetes.io/part-of": "kiva"}
#: The gateway's pods.
GATEWAY_PODS = selector(GATEWAY_NAME, GATEWAY_COMPONENT)
#: The pod label naming a model server's model, copied onto its series as `kiva_platform_model`.
MODEL_LABEL = "kiva.platform/model"
#: LiteLLM 1.108.7 mounts its Prometheus app at `/metrics` on the main port
#: (`PrometheusLogger._mount_metrics_endpoint`, integrations/prometheus.py:4824-4850, `app.mount("/metrics",
#: …)`); Starlette redirects `/metrics` to the mount's `/metrics/`. (1.108.7 can also serve it from a
#: separate process, `--prometheus_metrics_port`, proxy/proxy_cli.py:1073-1080; the gateway does not use it.)
GATEWAY_METRICS_PATH = "/metrics/"
#: LiteLLM 1.108.7 authenticates `/metrics` and everything under it by default
#: (`litellm.require_auth_for_metrics_endpoint = True`, litellm/__init__.py:194;
#: proxy/middleware/prometheus_auth_middleware.py:22-24 and :51, `user_api_key_auth`), so only the master
#: key or a virtual key from its database pass. The route is on the same port the Ingress publishes, so it
#: stays authenticated and Prometheus sends the master key, read by the operator from the gateway's Secret
#: (never in the plan).
GATEWAY_METRICS_KEY = "LITELLM_MASTER_KEY"
SCRAPE_INTERVAL = "30s"
#: Annotation on the PodMonitors naming the namespace Prometheus scrapes from, for the day-one flow check
#: (`policies/kiva_policies/day_one/flows.py`), which cannot see a Prometheus the cluster runs itself.
PROMETHEUS_NAMESPACE_ANNOTATION = "kiva.platform/prometheus-namespace"


def model_server_monitor() -> dict[str, Any]:
    """PodMonitor spec of every vLLM server (`/metrics` on the `http` port, 8000)."""
    return {
        "selector": {"matchLabels": dict(MODEL_SERVER_PODS)},
        "namespaceSelector": {"matchNames": [PLATFORM_NAMESPACE]},
        "podTargetLabels": [MODEL_LABEL],
        "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
    }


def gateway_monitor() -> dict[str, Any]:
    """PodMonitor spec of the LiteLLM gateway (`/metrics/` on the `http` port, 4000, with the master key)."""
    return {
        "selector": {"matchLabels": dict(GATEWAY_PODS)},
        "namespaceSelector": {"matchNames": [PLATFORM_NAMESPACE]},
        "podMetricsEndpoints": [
            {
                "port": "http",
                "path": GATEWAY_METRICS_PATH,
                "interval": SCRAPE_INTERVAL,
                "authorization": {
                    "type": "Bearer",
                    "credentials": {"name": GATEWAY_SECRET, "key": GATEWAY_METRICS_KEY},
                },
            }
        ],
    }


#: Name of the ingress controller's PodMonitor.
INGRESS_MONITOR = "kiva-ingress-controller"


def ingress_monitor(target: IngressMetrics) -> dict[str, Any]:
    """PodMonitor spec of the ingress controller's pods, in their namespace, on the port's number.

    `portNumber` (prometheus-operator CRD at kube-prometheus-stack 88.5.3, `podMetricsEndpoints[].portNumber`)
    names the port as the pod declares it, so no port name of a controller the stack does not own is assumed.
    """
    return {
        "selector": {"matchLabels": dict(target.pod_labels)},
        "namespaceSelector": {"matchNames": [target.namespace]},
        "podMetricsEndpoints": [
            {"portNumber": target.port, "path": target.path, "interval": SCRAPE_INTERVAL}
        ],
    }


def pod_monitors(model_servers: bool, ingress: IngressMetrics | None = None) -> dict[str, dict[str, Any]]:
    """PodMonitor specs by name: the gateway's, the model servers' where any runs, and the ingress
    controller's where it is known (`infra.settings.ingress_metrics.ingress_metrics_target`)."""
    monitors = {"kiva-gateway": gateway_monitor()}
    if model_servers:
        monitors["kiva-model-servers"] = model_server_monitor()
    if ingress is not None:
        monitors[INGRESS_MONITOR] = ingress_monitor(ingress)
    return monitors


class PlatformMonitors(pulumi.ComponentResource):
    """The PodMonitors in the platform namespace; they wait for the release that installs their CRD."""

    def __init__(
        self,
        name: str,
        model_servers: bool,
        prometheus_namespace: str,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
        ingress: IngressMetrics | None = None,
    ) -> None:
        super().__init__("kiva:platform:PlatformMonitors", name, None, opts)
        self.by_name = {
            monitor: k8s.apiextensions.CustomResource(
                f"{name}-{monitor}",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=monitor,
                    namespace=PLATFORM_NAMESPACE,
                    labels=labels("kiva", "monitoring"),
                    annotations={PROMETHEUS_NAMESPACE_ANNOTATION: prometheus_namespace},
                ),
                spec=spec,
                opts=child_opts(self, depends_on=depends_on),
            )
            for monitor, spec in pod_monitors(model_servers, ingress).items()
        }
        self.register_outputs({})
