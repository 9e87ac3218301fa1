"""Logs: the `kiva:monitoring.logs` block, the external backend's datasource, the anonymised ingress log
format, and the flags that keep prompt text out of the shipped stacks' logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kiva_policies.observability_no_prompt_logging import (
    VLLM_REQUEST_LOG_FLAGS,
    last_state,
    litellm_problems,
    vllm_problems,
)
from pydantic import ValidationError

from components.platform.monitoring.logs import (
    ANONYMISED_INGRESS_LOG_FORMAT,
    CLIENT_VARIABLES,
    RETENTION_ANNOTATION,
    datasource_config_map,
    ingress_log_format_patch,
)
from infra.settings.logs import LOKI_NOT_SUPPORTED, Logs, check_logs, log_retention_problem
from infra.settings.monitoring import Monitoring, check_monitoring
from infra.settings.workloads import Ingress
from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import find, objects_of

EXTERNAL = {"backend": "external", "url": "https://loki.kiva.example.de/", "retentionDays": 30}
AKS_INGRESS = Ingress(host="kiva.example.de", clusterIssuer="kiva-ca")


def _error(model: type, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return str(caught.value.errors()[0]["msg"])


def test_none_is_the_default_and_creates_nothing() -> None:
    logs = Logs()
    assert (logs.backend, logs.anonymise_ips) == ("none", False)
    assert datasource_config_map(logs, "kiva-monitoring") is None
    assert ingress_log_format_patch(logs, AKS_INGRESS) is None


def test_loki_is_refused_with_the_reason_and_the_alternatives() -> None:
    assert _error(Logs, {"backend": "loki"}) == f"Value error, {LOKI_NOT_SUPPORTED}"
    assert "not supported yet" in LOKI_NOT_SUPPORTED and "backend: external" in LOKI_NOT_SUPPORTED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"backend": "external", "retentionDays": 30},
         "backend: external needs the backend's url, e.g. url: https://loki.kiva.example.de"),
        ({"backend": "external", "url": "https://loki.kiva.example.de"},
         "backend: external needs retentionDays, the days the backend keeps logs, e.g. retentionDays: 30"),
        ({"backend": "external", "url": "https://u:p@loki.kiva.example.de", "retentionDays": 30},
         "url must not carry credentials (it is not a secret here); e.g. url: https://loki.kiva.example.de"),
        ({"retentionDays": 30},
         "url and retentionDays describe an external backend; set backend: external, or remove them"),
    ],
)  # fmt: skip
def test_external_needs_url_and_retention(data: dict[str, Any], message: str) -> None:
    assert _error(Logs, data) == f"Value error, {message}"


def test_external_needs_the_stack_s_grafana() -> None:
    assert check_monitoring(Monitoring.model_validate({"enabled": False, "logs": EXTERNAL})) == (
        "monitoring.logs.backend",
        "external adds the backend to the stack's Grafana, so it needs monitoring.enabled: true, "
        "monitoring.install: true and monitoring.grafana.enabled: true; or set logs.backend: none",
    )
    off = {"enabled": True, "grafana": {"enabled": False}, "logs": EXTERNAL}
    assert check_monitoring(Monitoring.model_validate(off))[0] == "monitoring.logs.backend"  # type: ignore[index]
    assert check_monitoring(Monitoring.model_validate({"enabled": True, "logs": EXTERNAL})) is None


def test_retention_is_bounded_by_the_stack_s_log_retention() -> None:
    logs = Logs.model_validate(EXTERNAL)
    assert log_retention_problem(logs, 30) is None
    assert check_logs(logs, grafana_installed=True, log_analytics_days=29) == (
        "monitoring.logs.retentionDays",
        "retentionDays 30 is longer than retention.logAnalyticsDays (29), the longest the stack keeps logs; "
        "lower it, e.g. retentionDays: 29",
    )
    assert log_retention_problem(logs, 29) == (
        "retentionDays 30 is longer than retention.logAnalyticsDays (29), the longest the stack keeps logs; "
        "lower it, e.g. retentionDays: 29"
    )


@pytest.mark.parametrize(
    ("kind", "json_data"),
    [("loki", {"maxLines": 1000}), ("elasticsearch", {"index": "logs-*", "timeField": "@timestamp"})],
)
def test_external_backend_becomes_a_grafana_datasource(kind: str, json_data: dict[str, Any]) -> None:
    config_map = datasource_config_map(Logs.model_validate({**EXTERNAL, "kind": kind}), "kiva-monitoring")
    assert config_map is not None
    metadata = config_map["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("kiva-logs", "kiva-monitoring")
    assert metadata["labels"]["grafana_datasource"] == "1"  # the chart's sidecar label and value
    assert metadata["annotations"] == {RETENTION_ANNOTATION: "30"}
    document = yaml.safe_load(config_map["data"]["kiva-logs.yaml"])
    assert document == {
        "apiVersion": 1,
        "datasources": [{"name": "kiva-logs", "uid": "logs", "type": kind, "access": "proxy",
                         "url": "https://loki.kiva.example.de", "editable": False, "jsonData": json_data}],
    }  # fmt: skip


def test_anonymised_format_names_no_client_address() -> None:
    fields = json.loads(ANONYMISED_INGRESS_LOG_FORMAT)
    assert "$status" in fields.values() and "$uri" in fields.values()
    for variable in CLIENT_VARIABLES:
        assert variable not in fields.values(), variable


def test_anonymise_patches_only_the_aks_app_routing_controller() -> None:
    logs = Logs(anonymiseIps=True)
    assert ingress_log_format_patch(logs, AKS_INGRESS) == {
        "apiVersion": "approuting.kubernetes.azure.com/v1alpha1",
        "kind": "NginxIngressController",
        "metadata": {"name": "default"},
        "spec": {"logFormat": ANONYMISED_INGRESS_LOG_FORMAT},
    }
    other = Ingress(
        host="kiva.example.de", clusterIssuer="kiva-ca", className="nginx", controllerNamespace="ingress"
    )
    assert ingress_log_format_patch(logs, other) is None
    assert ingress_log_format_patch(logs, None) is None


def test_last_flag_wins() -> None:
    assert last_state(["--enable-log-requests", "--no-enable-log-requests"], VLLM_REQUEST_LOG_FLAGS) is False
    assert last_state([], VLLM_REQUEST_LOG_FLAGS) is None


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_model_servers_and_gateway_log_no_prompts(stack: str) -> None:
    """The generated pods pass the no-prompt checks: vLLM request logging off explicitly, LiteLLM at WARNING
    (`kiva:gateway.logLevel`'s default, tests/platform/test_gateway_logging.py)."""
    objects = objects_of(_committed_plan(stack))
    workloads = [w for w in find(objects, "Deployment") + find(objects, "StatefulSet")]
    servers = [w for w in workloads if w["metadata"]["name"].startswith("kiva-model-")]
    gateways = [w for w in workloads if w["metadata"]["name"] == "kiva-gateway"]
    assert gateways
    for workload in servers:
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert "--no-enable-log-requests" in container["args"]
        assert vllm_problems(container, [*container.get("command", []), *container["args"]]) == []
    for workload in gateways:
        container = workload["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["LITELLM_LOG"] == "WARNING"
        assert litellm_problems(container, container["args"]) == []
    config = yaml.safe_load(
        next(c for c in find(objects, "ConfigMap") if c["metadata"]["name"] == "kiva-gateway-config")["data"][
            "config.yaml"
        ]
    )
    assert config["litellm_settings"]["turn_off_message_logging"] is True
    assert "use_x_forwarded_for" not in config["general_settings"]  # the gateway never sees client IPs


def test_anonymise_ips_is_refused_where_the_stack_sets_no_access_log() -> None:
    """A switch that would silently do nothing is an error: without an ingress, or with a controller whose
    log format the stack does not own, the operator must anonymise there (or switch it off)."""
    from tests.conftest import stack_config
    from tests.test_config_messages import _error

    dev_monitoring = stack_config("dev")["kiva:monitoring"]
    assert _error("dev", monitoring={**dev_monitoring, "logs": {"anonymiseIps": True}}) == (
        "Pulumi.dev.yaml: kiva:monitoring.logs.anonymiseIps: the gateway has no ingress, so the stack runs no "
        "access log to anonymise (the gateway itself never sees client addresses); set anonymiseIps: false"
    )
    traefik = {
        "className": "traefik",
        "host": "llm.example.de",
        "clusterIssuer": "ca",
        "controllerNamespace": "kube-system",
    }
    message = _error(
        "dev",
        monitoring={**dev_monitoring, "logs": {"anonymiseIps": True}},
        gateway={**stack_config("dev")["kiva:gateway"], "ingress": traefik},
        prerequisites={"ingressClasses": ["traefik"], "clusterIssuers": ["ca"]},
    )
    assert message.startswith(
        "Pulumi.dev.yaml: kiva:monitoring.logs.anonymiseIps: the stack sets the access-log format only of the "
        "AKS application routing controller (gateway.ingress.className: webapprouting.kubernetes.azure.com), "
        "not of ingress class 'traefik'; "
    ), message
