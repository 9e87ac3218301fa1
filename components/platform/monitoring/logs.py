"""Logs: an external backend for Grafana, and client IPs kept out of the ingress controller's access log.

What the stack controls, and what it does not:
- Grafana datasource (`kiva:monitoring.logs.backend: external`): a ConfigMap labelled
  `grafana_datasource: "1"`, which the Grafana sidecar of kube-prometheus-stack 88.5.3 provisions
  (`grafana.sidecar.datasources.label`/`labelValue` in the chart's values.yaml). The logs get there
  through the backend operator's own collector; the stack runs no shipper. The retention the backend
  keeps is recorded on the ConfigMap (`RETENTION_ANNOTATION`) for the policy pack.
- Ingress access log (`anonymiseIps: true`): for the AKS application routing class the stack patches
  the add-on's `NginxIngressController` named `default` with `spec.logFormat`, which the operator writes
  to the controller ConfigMap's `log-format-upstream` (Azure/aks-app-routing-operator
  `api/v1alpha1/nginxingresscontroller_types.go` and `pkg/manifests/nginx.go`, field added in v0.2.10).
  The operator applies its own fields server-side (`util.Upsert`, field owner `aks-app-routing-operator`),
  so the patched `logFormat` is kept. Other ingress classes run a controller the stack does not manage:
  their operator sets `log-format-upstream` (or its equivalent) themselves; docs/operations.md#logs.
- Gateway: LiteLLM 1.108.7 never sees a client IP. Uvicorn 0.54 trusts `X-Forwarded-For` only from
  `FORWARDED_ALLOW_IPS` (default `127.0.0.1,::1`, uvicorn/config.py:362-363; the uvicorn arguments of
  LiteLLM's proxy/proxy_cli.py:313-341 set no `forwarded_allow_ips`), and the gateway config does not
  set `general_settings.use_x_forwarded_for`, so its access log and the spend logs'
  `requester_ip_address` (litellm/proxy/litellm_pre_call_utils.py:2580-2594, `request.client.host`
  unless that switch is on) hold the ingress controller's pod address, not the client's.
- No prompt text: `model_server.NO_PROMPT_LOGGING_ARGS` (vLLM) and the gateway's `LITELLM_LOG=INFO` with
  `turn_off_message_logging: true`; the policy `kiva-observability-no-prompt-logging` checks both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.platform.common import child_opts, labels
from infra.settings.logs import Logs
from infra.settings.workloads import AKS_APP_ROUTING_CLASS, Ingress

#: The kube-prometheus-stack Grafana sidecar's datasource label (chart values `sidecar.datasources`).
DATASOURCE_LABEL = "grafana_datasource"
DATASOURCE_LABEL_VALUE = "1"
#: The ConfigMap's name, the datasource's name and uid in Grafana.
DATASOURCE_NAME = "kiva-logs"
DATASOURCE_UID = "logs"
#: How many days the external backend keeps logs, as configured; read by `kiva-observability-log-retention`.
RETENTION_ANNOTATION = "kiva.platform/log-retention-days"

#: The AKS application routing add-on's default controller (`DefaultNicName`) and its API.
APP_ROUTING_API_VERSION = "approuting.kubernetes.azure.com/v1alpha1"
APP_ROUTING_DEFAULT_CONTROLLER = "default"

#: ingress-nginx `log-format-upstream` without any client address: no `$remote_addr`, `$remote_user`,
#: `$http_x_forwarded_for`, `$http_x_ms_client_ip_address`, `$http_referer`, `$http_user_agent`, and the
#: path without its query string (`$uri`, not `$request`). Upstream address and timings stay for operations.
ANONYMISED_INGRESS_LOG_FORMAT = json.dumps(
    {
        "time": "$time_iso8601",
        "method": "$request_method",
        "path": "$uri",
        "protocol": "$server_protocol",
        "status": "$status",
        "request_length": "$request_length",
        "bytes_sent": "$body_bytes_sent",
        "request_time": "$request_time",
        "upstream": "$proxy_upstream_name",
        "upstream_addr": "$upstream_addr",
        "upstream_status": "$upstream_status",
        "upstream_response_time": "$upstream_response_time",
        "req_id": "$req_id",
    },
    separators=(",", ":"),
)
#: nginx variables that carry a client's address or identity; none may appear in the anonymised format.
CLIENT_VARIABLES = (
    "$remote_addr",
    "$remote_user",
    "$http_x_forwarded_for",
    "$http_x_real_ip",
    "$http_x_ms_client_ip_address",
    "$proxy_add_x_forwarded_for",
    "$realip_remote_addr",
    "$binary_remote_addr",
    "$http_referer",
    "$http_user_agent",
    "$request",
    "$request_uri",
    "$args",
    "$query_string",
)


def datasource(logs: Logs) -> dict[str, Any]:
    """The Grafana provisioning entry for the external backend (Grafana "Provision data sources")."""
    entry: dict[str, Any] = {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": logs.kind,
        "access": "proxy",
        "url": str(logs.url).rstrip("/"),
        "editable": False,
    }
    if logs.kind == "elasticsearch":
        entry["jsonData"] = {"index": logs.index, "timeField": "@timestamp"}
    else:
        entry["jsonData"] = {"maxLines": 1000}
    return entry


def datasource_config_map(logs: Logs, namespace: str) -> dict[str, Any] | None:
    """The ConfigMap the Grafana sidecar provisions the backend from; None unless `backend: external`."""
    if logs.backend != "external":
        return None
    document = {"apiVersion": 1, "datasources": [datasource(logs)]}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": DATASOURCE_NAME,
            "namespace": namespace,
            "labels": {**labels("grafana", "logs"), DATASOURCE_LABEL: DATASOURCE_LABEL_VALUE},
            "annotations": {RETENTION_ANNOTATION: str(logs.retention_days)},
        },
        "data": {f"{DATASOURCE_NAME}.yaml": yaml.safe_dump(document, sort_keys=False)},
    }


def ingress_log_format_patch(logs: Logs, ingress: Ingress | None) -> dict[str, Any] | None:
    """The `NginxIngressController` patch that drops client addresses from the AKS add-on's access log.

    None unless `anonymiseIps` is on and the gateway is published through the AKS application routing
    class: any other class's controller belongs to the cluster's operator (docs/operations.md#logs).
    """
    if not logs.anonymise_ips or ingress is None or ingress.class_name != AKS_APP_ROUTING_CLASS:
        return None
    return {
        "apiVersion": APP_ROUTING_API_VERSION,
        "kind": "NginxIngressController",
        "metadata": {"name": APP_ROUTING_DEFAULT_CONTROLLER},
        "spec": {"logFormat": ANONYMISED_INGRESS_LOG_FORMAT},
    }


@dataclass(frozen=True)
class LogsArgs:
    """The logs block as configured, and where the gateway is published."""

    logs: Logs
    """`kiva:monitoring.logs`."""
    namespace: str
    """Grafana's namespace (`kiva-monitoring`)."""
    ingress: Ingress | None = None
    """The gateway's ingress (`kiva:gateway.ingress`), whose controller's log format is patched."""


class PlatformLogs(pulumi.ComponentResource):
    """The external log backend's Grafana datasource and the anonymised ingress log format, as configured."""

    def __init__(
        self,
        name: str,
        args: LogsArgs,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Logs", name, None, opts)
        config_map = datasource_config_map(args.logs, args.namespace)
        if config_map is not None:
            meta = config_map["metadata"]
            k8s.core.v1.ConfigMap(
                f"{name}-datasource",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=meta["name"],
                    namespace=meta["namespace"],
                    labels=meta["labels"],
                    annotations=meta["annotations"],
                ),
                data=config_map["data"],
                opts=child_opts(self, depends_on=depends_on),
            )
        patch = ingress_log_format_patch(args.logs, args.ingress)
        if patch is not None:
            # Server-side apply of one field on the add-on's own object; the operator keeps its fields.
            k8s.apiextensions.CustomResourcePatch(
                f"{name}-ingress-log-format",
                api_version=patch["apiVersion"],
                kind=patch["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(name=patch["metadata"]["name"]),
                spec=patch["spec"],
                opts=child_opts(self, depends_on=depends_on),
            )
        self.register_outputs({})
