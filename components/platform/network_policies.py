"""Network policies for the platform namespace: deny everything, then allow each path the platform needs.

Allowed: DNS; clients -> gateway (ingress controller and configured namespaces only); gateway -> model
servers; gateway -> database (or pooler); pooler -> database; operator -> database; database instances
among themselves; database -> Kubernetes API and the backup store; gateway -> external providers only
when any is configured; model servers -> HTTPS for the Hugging Face download (unless `offline`).
Plain NetworkPolicy cannot name hosts, so "the internet" means every address outside the private ranges.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE, CloudFoundation, S3Backups
from components.platform.common import child_opts, labels, selector
from components.platform.database_names import POOLER_NAME
from components.platform.gateway import COMPONENT as GATEWAY_COMPONENT
from components.platform.gateway import NAME as GATEWAY_NAME
from components.platform.gateway import PORT as GATEWAY_PORT
from components.platform.gateway_config import MODEL_PORT
from components.platform.model_server import DOWNLOAD_LABEL
from components.platform.namespaces import CNPG_NAMESPACE
from infra.settings import StackSettings

PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
DATABASE_PODS = {"cnpg.io/cluster": DATABASE_CLUSTER_NAME, "cnpg.io/podRole": "instance"}
POOLER_PODS = {"cnpg.io/poolerName": POOLER_NAME}
MODEL_PODS = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/part-of": "kiva"}
GATEWAY_PODS = selector(GATEWAY_NAME, GATEWAY_COMPONENT)
#: CloudNativePG's instance manager serves status on 8000, PostgreSQL on 5432, metrics on 9187.
POSTGRES, INSTANCE_STATUS, METRICS = 5432, 8000, 9187


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _pods(match: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": match}}


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": port, "protocol": protocol} for port in ports]


def _internet() -> dict[str, Any]:
    return {"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}


def _anywhere() -> dict[str, Any]:
    return {"ipBlock": {"cidr": "0.0.0.0/0"}}


def backup_port(foundation: CloudFoundation) -> int:
    """The object store's port: HTTPS for Azure Blob, the endpoint's port for S3-compatible stores."""
    if isinstance(foundation.backups, S3Backups) and foundation.backups.endpoint_url:
        url = urlparse(foundation.backups.endpoint_url)
        return url.port or (80 if url.scheme == "http" else 443)
    return 443


def policies(settings: StackSettings, foundation: CloudFoundation) -> dict[str, dict[str, Any]]:
    """NetworkPolicy specs by name (camelCase, as the API takes them)."""
    clients = [_namespace(ns) for ns in settings.gateway.allowed_namespaces]
    if settings.gateway.ingress is not None:
        clients.append(_namespace(settings.gateway.ingress.controller_namespace))
    database_clients = [_pods(GATEWAY_PODS)]
    if settings.database.pooler.enabled:
        database_clients = [_pods(POOLER_PODS)]
    specs: dict[str, dict[str, Any]] = {
        "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [_namespace("kube-system") | _pods({"k8s-app": "kube-dns"})],
                    "ports": _ports(53, protocol="UDP") + _ports(53),
                }
            ],
        },
        "gateway-ingress": {
            "podSelector": {"matchLabels": GATEWAY_PODS},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": clients, "ports": _ports(GATEWAY_PORT)}] if clients else [],
        },
        "gateway-egress": {
            "podSelector": {"matchLabels": GATEWAY_PODS},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [_pods(MODEL_PODS)], "ports": _ports(MODEL_PORT)},
                {
                    "to": [_pods(POOLER_PODS if settings.database.pooler.enabled else DATABASE_PODS)],
                    "ports": _ports(POSTGRES),
                },
                *([{"to": [_internet()], "ports": _ports(443)}] if settings.providers else []),
            ],
        },
        "model-servers": {
            "podSelector": {"matchLabels": MODEL_PODS},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_pods(GATEWAY_PODS)], "ports": _ports(MODEL_PORT)}],
        },
        "database": {
            "podSelector": {"matchLabels": DATABASE_PODS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": database_clients, "ports": _ports(POSTGRES)},
                {"from": [_pods(DATABASE_PODS)], "ports": _ports(POSTGRES, INSTANCE_STATUS)},
                {"from": [_namespace(CNPG_NAMESPACE)], "ports": _ports(POSTGRES, INSTANCE_STATUS)},
                *(
                    [{"from": [{"namespaceSelector": {}}], "ports": _ports(METRICS)}]
                    if settings.monitoring.enabled
                    else []
                ),
            ],
            "egress": [
                {"to": [_pods(DATABASE_PODS)], "ports": _ports(POSTGRES, INSTANCE_STATUS)},
                # The instance manager talks to the Kubernetes API; the plugin to the backup store.
                {"to": [_anywhere()], "ports": _ports(443, 6443)},
                {"to": [_anywhere()], "ports": _ports(backup_port(foundation))},
            ],
        },
    }
    if any(not model.offline for model in settings.models):
        # Weights come from the Hugging Face Hub over HTTPS, unless the model is `offline`.
        specs["model-download"] = {
            "podSelector": {"matchLabels": MODEL_PODS | {DOWNLOAD_LABEL: "huggingface"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_internet()], "ports": _ports(443)}],
        }
    if settings.database.pooler.enabled:
        specs["pooler"] = {
            "podSelector": {"matchLabels": POOLER_PODS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [_pods(GATEWAY_PODS)], "ports": _ports(POSTGRES)},
                {"from": [_namespace(CNPG_NAMESPACE)], "ports": _ports(POSTGRES)},
            ],
            "egress": [
                {"to": [_pods(DATABASE_PODS)], "ports": _ports(POSTGRES)},
                {"to": [_anywhere()], "ports": _ports(443, 6443)},
            ],
        }
    return specs


class NetworkPolicies(pulumi.ComponentResource):
    """Default deny plus the allowed paths, in the platform namespace."""

    by_name: dict[str, k8s.networking.v1.NetworkPolicy]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        foundation: CloudFoundation,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:NetworkPolicies", name, None, opts)
        self.by_name = {
            policy: k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"kiva-{policy}",
                    namespace=PLATFORM_NAMESPACE,
                    labels=labels("kiva", "network-policy"),
                ),
                spec=spec,
                opts=child_opts(self, depends_on=depends_on),
            )
            for policy, spec in policies(settings, foundation).items()
        }
        self.register_outputs({})
