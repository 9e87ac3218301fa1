"""Plans of the committed stacks as policy resources, and resource-level edits for the day-one tests.

`fixed(stack)` is the committed plan with the issue-9 network and firewall fixes applied at the resource
level (CloudNativePG Job policy, Key Vault VNet rule + service endpoint, an in-cluster backup path, no
operator rule on the pooler), so the tests do not depend on when the component fixes land; each test
then re-introduces one defect and expects the finding that names it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

from kiva_policies.runner import PlannedResource, PolicyReport, run_pack

from infra.offline.digest import preview_digest
from infra.offline.preview_file import planned_resources
from tests.conftest import _committed_plan

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
#: How the engine marks a value unknown at preview time (an output not yet resolved).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
JOB_SELECTOR = {"matchExpressions": [{"key": "cnpg.io/jobRole", "operator": "Exists"}]}


@cache
def _committed(stack: str) -> tuple[PlannedResource, ...]:
    return tuple(planned_resources(preview_digest(_committed_plan(stack))))


def committed(stack: str) -> list[PlannedResource]:
    return [copy.deepcopy(r) for r in _committed(stack)]


def by_name(resources: list[PlannedResource], name: str) -> PlannedResource:
    return next(r for r in resources if name in (r.name, r.urn))


def edit(
    resources: list[PlannedResource], name: str, change: Callable[[dict[str, Any]], Any]
) -> list[PlannedResource]:
    """The resources with `name`'s (or URN's) props changed by `change` (on a copy)."""
    result = []
    for r in resources:
        if name in (r.name, r.urn):
            props = copy.deepcopy(r.props)
            change(props)
            r = PlannedResource(r.urn, r.type, r.name, props, r.parent, r.protect, r.provider, r.dependencies)
        result.append(r)
    return result


def without(resources: list[PlannedResource], name: str) -> list[PlannedResource]:
    return [r for r in resources if r.name != name]


def add(
    resources: list[PlannedResource], type_: str, name: str, props: dict[str, Any]
) -> list[PlannedResource]:
    stack = resources[0].urn.split("::")[0].removeprefix("urn:pulumi:")
    return [*resources, PlannedResource(f"urn:pulumi:{stack}::kiva::{type_}::{name}", type_, name, props)]


def network_policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "kiva"},
        "spec": spec,
    }


def _policy_named(resources: list[PlannedResource], name: str) -> PlannedResource | None:
    return next(
        (
            r
            for r in resources
            if r.type == NETWORK_POLICY and r.props.get("metadata", {}).get("name") == name
        ),
        None,
    )


def _fix_network(resources: list[PlannedResource], stack: str) -> list[PlannedResource]:
    api = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
    instances = {"cnpg.io/cluster": "kiva-db", "cnpg.io/podRole": "instance"}
    database = _policy_named(resources, "kiva-database")
    assert database is not None
    if not any(
        "jobRole" in str(rule) for rule in database.props["spec"].get("ingress", [])
    ):  # CloudNativePG Jobs reach the primary (join: pg_basebackup)
        resources = edit(
            resources,
            database.name,
            lambda p: p["spec"]["ingress"].append(
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"cnpg.io/cluster": "kiva-db"}, **JOB_SELECTOR}}
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }
            ),
        )
    if not any(
        "jobRole" in str(r.props) for r in resources if r.type == NETWORK_POLICY and r.name != database.name
    ):
        resources = add(
            resources,
            NETWORK_POLICY,
            "test-database-jobs",
            network_policy(
                "kiva-database-jobs",
                {
                    "podSelector": {"matchLabels": {"cnpg.io/cluster": "kiva-db"}, **JOB_SELECTOR},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": api},
                        {
                            "to": [{"podSelector": {"matchLabels": instances}}],
                            "ports": [{"protocol": "TCP", "port": 5432}],
                        },
                    ],
                },
            ),
        )
    pooler = _policy_named(resources, "kiva-pooler")
    if pooler is not None:  # the operator never connects to PgBouncer pods
        resources = edit(
            resources,
            pooler.name,
            lambda p: p["spec"].update(
                ingress=[r for r in p["spec"]["ingress"] if "cnpg-system" not in str(r.get("from"))]
            ),
        )
    if stack == "local":  # MinIO runs in the cluster: ipBlock never matches a pod, name its namespace
        minio = {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "minio"}}}],
            "ports": [{"protocol": "TCP", "port": 9000}],
        }
        resources = edit(
            resources,
            database.name,
            lambda p: p["spec"].update(
                egress=[r for r in p["spec"]["egress"] if "9000" not in str(r.get("ports"))] + [minio]
            ),
        )
    return resources


def _fix_vault(resources: list[PlannedResource]) -> list[PlannedResource]:
    subnet = next((r for r in resources if r.name.endswith("-nodes") and "Subnet" in r.type), None)
    vault = next((r for r in resources if r.type == "azure-native:keyvault:Vault"), None)
    if subnet is None or vault is None or vault.props["properties"].get("publicNetworkAccess") == "Disabled":
        return resources
    subnet_id = (
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/"
        f"{subnet.props['resourceGroupName']}/providers/Microsoft.Network/virtualNetworks/"
        f"{subnet.props['virtualNetworkName']}/subnets/{subnet.props['subnetName']}"
    )
    resources = edit(
        resources,
        vault.urn,
        lambda p: p["properties"]["networkAcls"].update(virtualNetworkRules=[{"id": subnet_id}]),
    )
    return edit(
        resources,
        subnet.urn,
        lambda p: p.update(
            serviceEndpoints=[{"service": "Microsoft.KeyVault", "locations": ["germanywestcentral"]}]
        ),
    )


def without_job_rules(resources: list[PlannedResource]) -> list[PlannedResource]:
    """Issue 9 (2) re-introduced: no policy selects CloudNativePG Job pods, no rule admits them."""
    result = []
    for r in resources:
        if r.type != NETWORK_POLICY:
            result.append(r)
        elif "jobRole" in str(r.props["spec"].get("podSelector")):
            continue
        else:
            props = copy.deepcopy(r.props)
            props["spec"]["ingress"] = [
                x for x in props["spec"].get("ingress", []) if "jobRole" not in str(x)
            ]
            if not props["spec"]["ingress"]:
                props["spec"].pop("ingress")
            result.append(
                PlannedResource(r.urn, r.type, r.name, props, r.parent, r.protect, r.provider, r.dependencies)
            )
    return result


def fixed(stack: str) -> list[PlannedResource]:
    """The committed plan with the issue-9 network and firewall fixes applied (idempotent)."""
    return _fix_vault(_fix_network(committed(stack), stack))


def run(resources: list[PlannedResource], policy: str) -> PolicyReport:
    """The pack with only `policy` enabled (the others are not under test here)."""
    from kiva_policies.pack import POLICIES

    config: dict[str, Any] = {p.name: "disabled" for p in POLICIES if p.name != policy}
    return run_pack(resources, config)


def messages(report: PolicyReport, status: str = "violation") -> list[str]:
    return [f"{f.urn.rsplit('::', 1)[-1]}: {f.message}" for f in report.findings if f.status == status]
