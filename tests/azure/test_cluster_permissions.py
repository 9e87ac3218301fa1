"""Issue 9, defects 8 and 12: the cluster identity may use its subnet; Kubernetes calls wait for RBAC."""

from __future__ import annotations

import pytest

from components.azure import rbac_propagation
from components.azure.common import BuiltInRole
from components.azure.rbac_propagation import (
    DEFAULT_PROPAGATION_SECONDS,
    MAX_PROPAGATION_SECONDS,
    RbacPropagationProvider,
)
from tests.azure.day_one import ROLE_ASSIGNMENT, platform, waits_for
from tests.azure.helpers import one

CLUSTER = "azure-native:containerservice:ManagedCluster"
WAIT = "pulumi-python:dynamic/kiva:RbacPropagation"


def _assignment(plan, role):
    (found,) = [r for r in plan.of_type(ROLE_ASSIGNMENT) if r.inputs["roleDefinitionId"].endswith(role)]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cluster_identity_is_network_contributor_on_the_node_subnet(plan_of, stack):
    plan = plan_of(stack)
    assignment = _assignment(plan, BuiltInRole.NETWORK_CONTRIBUTOR).inputs
    nodes = next(r for r in plan.of_type("azure-native:network:Subnet") if r.inputs["subnetName"] == "nodes")
    assert assignment["scope"] == nodes.id
    assert assignment["principalId"] == one(plan, CLUSTER).outputs["identity"]["principalId"]
    assert assignment["principalType"] == "ServicePrincipal"
    assert assignment["roleDefinitionId"].startswith("/subscriptions/")


def test_network_contributor_is_the_built_in_role_id():
    # Azure built-in roles reference, Networking: "Network Contributor".
    assert BuiltInRole.NETWORK_CONTRIBUTOR == "4d97b98b-1d4f-4787-a291-c67834d212e7"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rbac_wait_sits_between_the_deployer_role_and_every_kubernetes_resource(plan_of, stack):
    plan = plan_of(stack)
    admin = _assignment(plan, BuiltInRole.AKS_RBAC_CLUSTER_ADMIN)
    wait = one(plan, WAIT)
    assert admin.urn in wait.dependencies
    assert wait.inputs["seconds"] == DEFAULT_PROPAGATION_SECONDS
    assert wait.inputs["roleAssignmentId"] == admin.id
    provider = one(plan, "pulumi:providers:kubernetes")
    assert wait.urn in provider.dependencies
    assert wait.urn in platform(plan).dependencies
    kubernetes = [r for r in plan.resources if r.custom and r.type.startswith("kubernetes:")]
    assert kubernetes
    for resource in kubernetes:
        assert waits_for(plan, resource, wait.urn), resource.name


def test_local_stack_has_no_rbac_wait(plan_of):
    assert plan_of("local").of_type(WAIT) == []


def test_the_wait_is_bounded_and_happens_only_on_create(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(rbac_propagation.time, "sleep", slept.append)
    provider = RbacPropagationProvider()
    result = provider.create({"roleAssignmentId": "/assignments/a", "seconds": 10_000})
    assert slept == [MAX_PROPAGATION_SECONDS]
    assert result.id == "/assignments/a"
    provider.update("/assignments/a", {"seconds": 300}, {"seconds": 60})
    assert slept == [MAX_PROPAGATION_SECONDS]


def test_a_new_role_assignment_means_a_new_wait():
    provider = RbacPropagationProvider()
    same = provider.diff(
        "a", {"roleAssignmentId": "a", "seconds": 300}, {"roleAssignmentId": "a", "seconds": 300}
    )
    assert not same.changes
    longer = provider.diff(
        "a", {"roleAssignmentId": "a", "seconds": 300}, {"roleAssignmentId": "a", "seconds": 600}
    )
    assert longer.changes and not longer.replaces
    new = provider.diff(
        "a", {"roleAssignmentId": "a", "seconds": 300}, {"roleAssignmentId": "b", "seconds": 300}
    )
    assert new.replaces == ["roleAssignmentId"]


def test_unbounded_waits_are_refused():
    # Checked before anything is registered, so no role assignment is needed to see it.
    with pytest.raises(ValueError, match="between 0 and"):
        rbac_propagation.RbacPropagation("x", None, MAX_PROPAGATION_SECONDS + 1)  # type: ignore[arg-type]
