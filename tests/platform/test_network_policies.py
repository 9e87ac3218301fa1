"""Network policies: default deny, then only the paths the platform needs."""

from __future__ import annotations

import pytest

from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import find, objects_of, one


def _policies(stack: str) -> dict[str, dict]:
    return {
        p["metadata"]["name"]: p["spec"] for p in find(objects_of(_committed_plan(stack)), "NetworkPolicy")
    }


def _ports(rule: dict) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


@pytest.mark.parametrize("stack", STACKS)
def test_default_deny_and_dns(stack):
    policies = _policies(stack)
    assert policies["kiva-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["kiva-allow-dns"]["egress"][0]
    assert _ports(dns) == {53} and {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
    assert all(
        p["metadata"]["namespace"] == "kiva"
        for p in find(objects_of(_committed_plan(stack)), "NetworkPolicy")
    )


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_reaches_models_and_database(stack):
    egress = _policies(stack)["kiva-gateway-egress"]["egress"]
    assert any(_ports(rule) == {8000} for rule in egress)
    assert any(_ports(rule) == {5432} for rule in egress)
    models = _policies(stack)["kiva-model-servers"]["ingress"]
    gateway = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
    assert models == [
        {"from": [{"podSelector": {"matchLabels": gateway}}], "ports": [{"port": 8000, "protocol": "TCP"}]}
    ]


def test_egress_to_providers_only_when_configured():
    def internet(stack: str) -> bool:
        return any(
            "ipBlock" in peer
            for rule in _policies(stack)["kiva-gateway-egress"]["egress"]
            for peer in rule["to"]
        )

    assert internet("prod")  # an Azure OpenAI provider is configured
    assert not internet("dev") and not internet("local")


def test_gateway_ingress_only_from_the_ingress_controller_or_configured_namespaces():
    prod = _policies("prod")["kiva-gateway-ingress"]["ingress"]
    peers = [peer for rule in prod for peer in rule["from"]]
    assert peers == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}}}
    ]
    assert _policies("dev")["kiva-gateway-ingress"]["ingress"] == []


def test_allowed_namespaces_may_call_the_gateway(plan_with):
    plan = plan_with(
        "dev", {"kiva:gateway": {"minReplicas": 1, "maxReplicas": 2, "allowedNamespaces": ["open-webui"]}}
    )
    policy = one(objects_of(plan), "NetworkPolicy", "kiva-gateway-ingress")["spec"]
    assert policy["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "open-webui"}}}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_database_admits_its_clients_and_the_operator(stack):
    ingress = _policies(stack)["kiva-database"]["ingress"]
    peers = [peer for rule in ingress for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}} in peers
    assert any(_ports(rule) == {5432} for rule in ingress)


def test_prod_database_is_reached_through_the_pooler():
    policies = _policies("prod")
    clients = policies["kiva-database"]["ingress"][0]["from"]
    assert clients == [{"podSelector": {"matchLabels": {"cnpg.io/poolerName": "kiva-db-pooler-rw"}}}]
    assert "kiva-pooler" in policies


def test_local_backups_reach_the_s3_port():
    egress = _policies("local")["kiva-database"]["egress"]
    assert any(_ports(rule) == {9000} for rule in egress)
