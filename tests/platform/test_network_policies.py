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


def _scrape(port: int) -> dict:
    """The rule letting Prometheus (kube-prometheus-stack, in kiva-monitoring) scrape `port`."""
    prometheus = {
        "app.kubernetes.io/name": "prometheus",
        "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
    }
    peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kiva-monitoring"}},
        "podSelector": {"matchLabels": prometheus},
    }
    return {"from": [peer], "ports": [{"port": port, "protocol": "TCP"}]}


MONITORED = ("dev", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_default_deny_and_dns(stack):
    policies = _policies(stack)
    assert policies["kiva-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["kiva-allow-dns"]["egress"][0]
    assert _ports(dns) == {53} and {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
    own_namespaces = ("kiva-monitoring", "kiva-gpu-metrics")  # each policy named after its namespace
    for policy in find(objects_of(_committed_plan(stack)), "NetworkPolicy"):
        name, namespace = policy["metadata"]["name"], policy["metadata"]["namespace"]
        expected = next((ns for ns in own_namespaces if name.startswith(f"{ns}-")), "kiva")
        assert namespace == expected, name


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_reaches_models_and_database(stack):
    egress = _policies(stack)["kiva-gateway-egress"]["egress"]
    assert any(_ports(rule) == {8000} for rule in egress)
    assert any(_ports(rule) == {5432} for rule in egress)
    models = _policies(stack)["kiva-model-servers"]["ingress"]
    gateway = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
    assert models == [
        {"from": [{"podSelector": {"matchLabels": gateway}}], "ports": [{"port": 8000, "protocol": "TCP"}]},
        *([_scrape(8000)] if stack in MONITORED else []),
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
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}}},
        *_scrape(4000)["from"],
    ]
    assert _policies("dev")["kiva-gateway-ingress"]["ingress"] == [_scrape(4000)]
    assert _policies("local")["kiva-gateway-ingress"]["ingress"] == []


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
    gateway = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
    # Only the gateway may reach PgBouncer; the operator does not connect to it.
    assert policies["kiva-pooler"]["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": gateway}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        _scrape(9127),  # PgBouncer's metrics, which the database's PodMonitor selects as well
    ]


def test_local_backups_reach_the_s3_port():
    egress = _policies("local")["kiva-database"]["egress"]
    assert any(_ports(rule) == {9000} for rule in egress)


def test_an_in_cluster_backup_store_is_reached_by_its_namespace():
    """local's MinIO runs in the cluster: an ipBlock need not match pod IPs, a namespace selector does."""
    (rule,) = [r for r in _policies("local")["kiva-database"]["egress"] if _ports(r) == {9000}]
    assert rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "minio"}}}]


def test_an_external_backup_store_is_reached_by_address():
    """dev's backups go to Azure Blob over HTTPS (the API server rule is the one with 6443 too)."""
    (rule,) = [r for r in _policies("dev")["kiva-database"]["egress"] if _ports(r) == {443}]
    assert rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


#: CloudNativePG 1.30 Job pods (pkg/specs/jobs.go CreatePrimaryJob): no `cnpg.io/podRole`.
INITDB_POD = {
    "cnpg.io/cluster": "kiva-db",
    "cnpg.io/jobRole": "initdb",
    "cnpg.io/instanceName": "kiva-db-1",
    "app.kubernetes.io/name": "postgresql",
}
JOIN_POD = INITDB_POD | {"cnpg.io/jobRole": "join", "cnpg.io/instanceName": "kiva-db-2"}
INSTANCE_POD = {
    "cnpg.io/cluster": "kiva-db",
    "cnpg.io/podRole": "instance",
    "cnpg.io/instanceName": "kiva-db-1",
}


def _selects(selector: dict, pod: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics for matchLabels and matchExpressions (In, NotIn, Exists)."""
    if any(pod.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "Exists": key in pod,
            "DoesNotExist": key not in pod,
            "In": pod.get(key) in values,
            "NotIn": key not in pod or pod[key] not in values,
        }[operator]
        if not matched:
            return False
    return True


def _egress(policies: dict[str, dict], pod: dict[str, str], port: int) -> list[dict]:
    """Peers the pod may reach on `port`, over every Egress policy that selects it."""
    return [
        peer
        for spec in policies.values()
        if "Egress" in spec["policyTypes"] and _selects(spec["podSelector"], pod)
        for rule in spec.get("egress", [])
        if port in _ports(rule)
        for peer in rule["to"]
    ]


def _ingress(policies: dict[str, dict], pod: dict[str, str], port: int) -> list[dict]:
    return [
        peer
        for spec in policies.values()
        if "Ingress" in spec["policyTypes"] and _selects(spec["podSelector"], pod)
        for rule in spec.get("ingress", [])
        if port in _ports(rule)
        for peer in rule["from"]
    ]


def _same_namespace_pods(peers: list[dict], pod: dict[str, str]) -> bool:
    return any(
        "namespaceSelector" not in p and "podSelector" in p and _selects(p["podSelector"], pod) for p in peers
    )


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("job", [INITDB_POD, JOIN_POD], ids=["initdb", "join"])
def test_cloudnative_pg_jobs_reach_the_api_server_and_dns(stack, job):
    """Issue 9 #2: initdb and join first read the Cluster object from the API server."""
    policies = _policies(stack)
    for port in (443, 6443):
        assert any(p.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for p in _egress(policies, job, port)), (
            port
        )
    assert any(
        p["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
        for p in _egress(policies, job, 53)
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_join_job_reaches_the_primary_and_the_primary_admits_it(stack):
    """Issue 9 #2: join runs pg_basebackup against the primary (5432) through the -rw Service."""
    policies = _policies(stack)
    assert _same_namespace_pods(_egress(policies, JOIN_POD, 5432), INSTANCE_POD)
    assert _same_namespace_pods(_ingress(policies, INSTANCE_POD, 5432), JOIN_POD)


@pytest.mark.parametrize("stack", STACKS)
def test_database_jobs_get_nothing_wider(stack):
    policies = _policies(stack)
    jobs = policies["kiva-database-jobs"]
    assert jobs["policyTypes"] == ["Egress"]  # nothing may connect to a Job pod
    assert {port for rule in jobs["egress"] for port in _ports(rule)} == {5432, 443, 6443}
    # The instance's own policies do not select Job pods, nor the Jobs' policy instances or the gateway.
    assert not _selects(policies["kiva-database"]["podSelector"], INITDB_POD)
    assert not _selects(jobs["podSelector"], INSTANCE_POD)
    gateway = {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
    assert not _selects(jobs["podSelector"], gateway)
    assert not _same_namespace_pods(_ingress(policies, INSTANCE_POD, 8000), JOIN_POD)
