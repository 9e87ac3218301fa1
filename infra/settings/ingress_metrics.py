"""Which ingress controller pods Prometheus scrapes (`kiva:monitoring.ingressMetrics`).

On Azure the gateway is published through the AKS application routing add-on, whose controller the stack
knows from the add-on's source (`AKS_INGRESS_METRICS`), so it is scraped without any setting. An existing
cluster runs a controller of its operator's choosing (traefik on k3s, ingress-nginx, ...): its pods,
port and path are declared here, and nothing is scraped unless they are.

Facts about the add-on, from Azure/aks-app-routing-operator (mirrored at 3c53beff, after v0.2.25):
- namespace `app-routing-system` (`pkg/config/config.go` `DefaultNs`);
- the default `NginxIngressController` (`default`) names its resources `nginx`
  (`pkg/controller/nginxingress/default.go` `DefaultNicResourceName`, `ToNginxIngressConfig`);
- its pod template is labelled `app: nginx` (`NginxIngressConfig.PodLabels`, also the Deployment's
  selector), `app.kubernetes.io/component: ingress-controller`, `app.kubernetes.io/managed-by:
  aks-app-routing-operator` and `kubernetes.azure.com/managedby: aks` (`pkg/manifests/nginx.go`
  `newNginxIngressControllerDeployment`, `pkg/manifests/common.go` `GetTopLevelLabels`; the rendered
  fixture `pkg/manifests/fixtures/nginx/dalec/default_version/full.yaml` shows exactly these);
- the controller runs with `--enable-metrics=true` and declares the container port `prometheus` 10254
  (`promPodPort`), where ingress-nginx serves `/metrics` ("The application routing add-on exposes the
  Prometheus metrics endpoint at /metrics on port 10254", learn.microsoft.com/azure/aks/app-routing-nginx-prometheus);
- the add-on creates no NetworkPolicy (no NetworkPolicy anywhere in the operator's source), so nothing
  in `app-routing-system` blocks the scrape.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from infra.settings.base import DnsLabel, KivaModel
from infra.settings.workloads import AKS_APP_ROUTING_CLASS, AKS_APP_ROUTING_NAMESPACE, Ingress

#: Kubernetes label syntax (apimachinery `validation.IsQualifiedName`, `IsValidLabelValue`).
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")

#: A valid declaration, shown in every message about this block.
EXAMPLE = (
    "ingressMetrics: {namespace: kube-system, podLabels: {app.kubernetes.io/name: traefik}, "
    "port: 9100, path: /metrics}"
)


class IngressMetrics(KivaModel):
    """The ingress controller's metrics endpoint: Prometheus scrapes these pods through a PodMonitor."""

    namespace: DnsLabel
    """Namespace of the controller's pods, e.g. `kube-system` (k3s's traefik) or `ingress-nginx`."""
    pod_labels: dict[str, str] = Field(examples=[{"app.kubernetes.io/name": "traefik"}])
    """Labels every controller pod carries (the PodMonitor's selector), e.g. `{app.kubernetes.io/name: traefik}`."""
    port: int = Field(examples=[9100])
    """Number of the container port that serves the metrics, e.g. `9100` (traefik's `metrics`) or `10254`
    (ingress-nginx); the pod must declare it, and the monitoring namespace's egress opens only it."""
    path: str = "/metrics"
    """HTTP path of the metrics, e.g. `/metrics`."""

    @field_validator("pod_labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            raise ValueError(f"name at least one label of the controller's pods, e.g. {EXAMPLE}")
        for key, value in labels.items():
            if len(key) > 316 or not _LABEL_KEY.match(key):
                raise ValueError(f"{key!r} is not a Kubernetes label key; e.g. {EXAMPLE}")
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise ValueError(f"{value!r} (of {key}) is not a Kubernetes label value; e.g. {EXAMPLE}")
        return labels

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise ValueError(
                f"must be the number of the metrics port, 1 to 65535 (got {value!r}); e.g. {EXAMPLE}"
            )
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value) or "?" in value:
            raise ValueError(f"must be an HTTP path starting with / (got {value!r}); e.g. {EXAMPLE}")
        return value


#: The AKS application routing add-on's default controller, as its source builds it (module docstring).
AKS_INGRESS_METRICS = IngressMetrics(
    namespace=AKS_APP_ROUTING_NAMESPACE,
    pod_labels={
        "app": "nginx",
        "app.kubernetes.io/component": "ingress-controller",
        "app.kubernetes.io/managed-by": "aks-app-routing-operator",
    },
    port=10254,
    path="/metrics",
)


def ingress_metrics_target(declared: IngressMetrics | None, ingress: Ingress | None) -> IngressMetrics | None:
    """What to scrape: the declared controller; else, with the gateway published through the AKS
    application routing add-on's class, the add-on's controller (on AKS, or an AKS cluster brought as an
    existing one: the class alone names the controller); else nothing."""
    if declared is not None:
        return declared
    if ingress is not None and ingress.class_name == AKS_APP_ROUTING_CLASS:
        return AKS_INGRESS_METRICS
    return None
