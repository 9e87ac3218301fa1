"""kiva-redis-private: the gateway's Redis is reachable only by the gateway and only with a password."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kiva_policies.redis_private import is_redis_image

from tests.policies.harness import GATEWAY_PODS, NS, compliant_plan, res, run, violations

POLICY = "kiva-redis-private"
REDIS_PODS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "gateway-state"}
SECRET_ENV = {
    "name": "REDIS_PASSWORD",
    "valueFrom": {"secretKeyRef": {"name": "kiva-redis", "key": "REDIS_PASSWORD"}},
}
PREFIX = f"Redis {NS}/kiva-redis is not private and password-protected: "


def statefulset() -> dict[str, Any]:
    container = {
        "name": "valkey",
        "image": "valkey/valkey:8.1.11-alpine",
        "command": ["sh", "/scripts/server.sh"],
        "env": [copy.deepcopy(SECRET_ENV)],
        "ports": [{"name": "valkey", "containerPort": 6379}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "kiva-redis", "namespace": NS, "labels": REDIS_PODS},
        "spec": {
            "replicas": 1,
            "serviceName": "kiva-redis-headless",
            "selector": {"matchLabels": REDIS_PODS},
            "template": {"metadata": {"labels": REDIS_PODS}, "spec": {"containers": [container]}},
        },
    }


def service(kind: str = "ClusterIP") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kiva-redis", "namespace": NS},
        "spec": {"type": kind, "selector": REDIS_PODS, "ports": [{"port": 6379, "targetPort": "valkey"}]},
    }


def network_policy(peers: list[Any] | None = None) -> dict[str, Any]:
    ingress_from = [{"podSelector": {"matchLabels": GATEWAY_PODS}}] if peers is None else peers
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "kiva-redis", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": REDIS_PODS},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": ingress_from, "ports": [{"protocol": "TCP", "port": 6379}]}],
            "egress": [],
        },
    }


def messages(
    store: dict[str, Any] | None = None,
    svc: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    with_policy: bool = True,
) -> list[str]:
    plan = [
        *compliant_plan(),
        res("kubernetes:apps/v1:StatefulSet", "kiva-redis", store or statefulset()),
        res("kubernetes:core/v1:Service", "kiva-redis", svc or service()),
    ]
    if with_policy:
        plan.append(
            res("kubernetes:networking.k8s.io/v1:NetworkPolicy", "kiva-redis-np", policy or network_policy())
        )
    return [f.message for f in violations(run(plan), POLICY)]


def test_private_password_protected_redis_passes() -> None:
    assert messages() == []


def test_a_plan_without_redis_passes() -> None:
    assert violations(run(compliant_plan()), POLICY) == []


@pytest.mark.parametrize("kind", ["LoadBalancer", "NodePort"])
def test_a_public_service_is_named(kind: str) -> None:
    assert messages(svc=service(kind)) == [
        PREFIX + f"Service {NS}/kiva-redis is of type {kind}; use ClusterIP."
    ]


def test_no_network_policy_is_a_violation() -> None:
    # The compliant plan's default-deny selects every pod: remove it to leave Redis unrestricted.
    plan = [
        r
        for r in compliant_plan()
        if not (r.type.endswith("NetworkPolicy") and r.props["spec"].get("podSelector") == {})
    ]
    plan += [
        res("kubernetes:apps/v1:StatefulSet", "kiva-redis", statefulset()),
        res("kubernetes:core/v1:Service", "kiva-redis", service()),
    ]
    assert [f.message for f in violations(run(plan), POLICY)] == [
        PREFIX + "no NetworkPolicy restricts ingress to its pods; admit only the gateway."
    ]


@pytest.mark.parametrize(
    ("peers", "why"),
    [
        ([], "has no `from`: it admits every source"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8"}}], "admits ipBlock 10.0.0.0/8"),
        ([{"namespaceSelector": {}}], "admits a namespaceSelector (pods of other namespaces)"),
        ([{"podSelector": {}}], "admits an empty podSelector (every pod of the namespace)"),
        (
            [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}}}],
            "admits pods {'app.kubernetes.io/name': 'vllm'} that are neither the gateway nor Redis",
        ),
    ],
)
def test_an_ingress_rule_admitting_more_than_the_gateway_is_named(peers: list[Any], why: str) -> None:
    assert messages(policy=network_policy(peers)) == [PREFIX + f"NetworkPolicy kiva-redis ingress[0] {why}."]


def test_redis_pods_may_reach_each_other() -> None:
    peers = [{"podSelector": {"matchLabels": GATEWAY_PODS}}, {"podSelector": {"matchLabels": REDIS_PODS}}]
    assert messages(policy=network_policy(peers)) == []


def test_a_password_not_from_a_secret_is_named() -> None:
    store = statefulset()
    container = store["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "REDIS_PASSWORD", "value": "hunter2hunter2"}]
    container["args"] = ["--requirepass", "hunter2hunter2"]
    assert messages(store=store) == [
        PREFIX + "container valkey passes --requirepass on its command line; container valkey sets "
        "REDIS_PASSWORD as a literal; container valkey reads no password from a Secret (e.g. env "
        "REDIS_PASSWORD with valueFrom.secretKeyRef)."
    ]


@pytest.mark.parametrize(
    ("image", "redis"),
    [
        ("valkey/valkey:8.1.11-alpine", True),
        ("redis:7.4.2-alpine", True),
        ("redis", True),
        ("registry.local:5000/bitnami/redis@sha256:abc", True),
        ("ghcr.io/berriai/litellm:v1.108.7", False),
        ("oliver006/redis_exporter:v1.62.0", False),
    ],
)
def test_redis_images_are_recognised(image: str, redis: bool) -> None:
    assert is_redis_image(image) is redis
