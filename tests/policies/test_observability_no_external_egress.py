"""kiva-observability-no-external-egress: no remote write and no alert receiver outside the allow-list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.harness import RELEASE, compliant_plan, res, run, violations

POLICY = "kiva-observability-no-external-egress"
WHERE = "Helm release kiva-monitoring/kube-prometheus-stack"


def stack_values() -> dict[str, Any]:
    """kube-prometheus-stack's own Alertmanager default (one `null` receiver) plus an in-cluster webhook."""
    return {
        "prometheus": {"prometheusSpec": {"retention": "30d"}},
        "alertmanager": {
            "config": {
                "global": {"resolve_timeout": "5m"},
                "route": {"receiver": "null"},
                "receivers": [
                    {"name": "null"},
                    {"name": "ops", "webhook_configs": [
                        {"url": "http://alert-relay.kiva-monitoring.svc.cluster.local:8080/hook"}]},
                ],
            }
        },
    }  # fmt: skip


def messages(values: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    props = {"name": "kube-prometheus-stack", "chart": "kube-prometheus-stack", "namespace": "kiva-monitoring",
             "values": values}  # fmt: skip
    plan = [*compliant_plan(), res(RELEASE, "kube-prometheus-stack", props)]
    return [f.message for f in violations(run(plan, {POLICY: config} if config else None), POLICY)]


def test_in_cluster_receivers_and_no_remote_write_pass() -> None:
    assert messages(stack_values()) == []


def test_remote_write_outside_the_cluster_fails() -> None:
    values = stack_values()
    values["prometheus"]["prometheusSpec"]["remoteWrite"] = [
        {"url": "https://prometheus-us.grafana.net/api/prom/push"}
    ]
    assert messages(values) == [
        f"{WHERE}: remote write `prometheus.prometheusSpec.remoteWrite[0].url` sends to "
        "'prometheus-us.grafana.net', outside the cluster and not in allowedHosts (none). Remove it, or have "
        "the reviewer add the host to `allowedHosts`."
    ]


def test_an_allowed_host_passes_exactly_or_by_wildcard() -> None:
    values = stack_values()
    values["alertmanager"]["config"]["receivers"][1]["webhook_configs"][0]["url"] = (
        "https://hooks.kiva.example.de/x"
    )
    assert len(messages(values)) == 1
    assert messages(values, {"allowedHosts": ["hooks.kiva.example.de"]}) == []
    assert messages(values, {"allowedHosts": ["*.kiva.example.de"]}) == []
    assert len(messages(values, {"allowedHosts": ["*.example.com"]})) == 1


@pytest.mark.parametrize(
    ("receiver", "path", "host"),
    [
        ({"slack_configs": [{"api_url": "https://hooks.slack.com/services/T/B/X"}]}, "slack_configs[0].api_url",
         "hooks.slack.com"),
        ({"email_configs": [{"to": "ops@example.de", "smarthost": "smtp.example.com:587"}]},
         "email_configs[0].smarthost", "smtp.example.com"),
    ],
)  # fmt: skip
def test_receivers_outside_the_cluster_fail(receiver: dict[str, Any], path: str, host: str) -> None:
    values = stack_values()
    values["alertmanager"]["config"]["receivers"].append({"name": "out", **receiver})
    assert messages(values) == [
        f"{WHERE}: alert receiver `alertmanager.config.receivers[2].{path}` sends to '{host}', outside the "
        "cluster and not in allowedHosts (none). Remove it, or have the reviewer add the host to `allowedHosts`."
    ]


def test_an_integration_without_url_uses_its_vendor_endpoint() -> None:
    values = stack_values()
    values["alertmanager"]["config"]["receivers"].append(
        {"name": "pd", "pagerduty_configs": [{"routing_key": "x"}]}
    )
    assert messages(values) == [
        f"{WHERE}: `alertmanager.config.receivers[2].pagerduty_configs[0]` names no URL, so it sends to the "
        "integration's default public endpoint (or to a URL held in a Secret the plan cannot show). Use a "
        "webhook to an in-cluster or allowed host."
    ]


def test_a_global_endpoint_outside_the_cluster_fails() -> None:
    values = stack_values()
    values["alertmanager"]["config"]["global"]["slack_api_url"] = "https://hooks.slack.com/services/T/B/X"
    assert len(messages(values)) == 1


def test_a_prometheus_object_with_remote_write_fails() -> None:
    prometheus = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
                  "metadata": {"name": "k8s", "namespace": "monitoring"},
                  "spec": {"remoteWrite": [{"url": "https://metrics.example.com/write"}]}}  # fmt: skip
    plan = [*compliant_plan(), res("kubernetes:monitoring.coreos.com/v1:Prometheus", "k8s", prometheus)]
    assert [f.message for f in violations(run(plan), POLICY)] == [
        "Prometheus monitoring/k8s: remote write `spec.remoteWrite[0].url` sends to 'metrics.example.com', "
        "outside the cluster and not in allowedHosts (none). Remove it, or have the reviewer add the host to "
        "`allowedHosts`."
    ]
