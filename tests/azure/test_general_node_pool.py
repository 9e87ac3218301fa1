"""Issue 9, defect 1: an untainted, autoscaled user pool for operators, gateway and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.azure.day_one import general_pool, platform, waits_for
from tests.conftest import stack_config

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    ("stack", "vm_size", "counts", "zones"),
    [
        ("dev", "Standard_D4ds_v5", (1, 3), None),
        ("prod", "Standard_D8ds_v5", (3, 6), ["1", "2", "3"]),
    ],
)
def test_general_pool_is_untainted_autoscaled_and_zoned(plan_of, stack, vm_size, counts, zones):
    pool = general_pool(plan_of(stack)).inputs
    assert pool["mode"] == "User"
    assert not pool.get("nodeTaints"), "a tainted general pool admits none of the operators' pods"
    assert pool["nodeLabels"] == {"kiva.platform/pool": "general"}
    assert pool["vmSize"] == vm_size
    assert pool["enableAutoScaling"] is True
    assert (pool["minCount"], pool["maxCount"]) == counts
    assert pool["count"] == counts[0]
    assert pool.get("availabilityZones") == zones
    assert pool["vnetSubnetID"].endswith("/subnets/nodes")
    assert pool["orchestratorVersion"] == "1.34"
    assert pool["osType"] == "Linux"
    assert pool["resourceName"] == f"kiva-{stack}-aks"


def test_general_pool_takes_its_own_zones_when_given(plan_with):
    cluster = stack_config("prod")["kiva:cluster"]
    cluster["generalPool"]["zones"] = ["1", "2"]
    pool = general_pool(plan_with("prod", {"kiva:cluster": cluster}))
    assert pool.inputs["availabilityZones"] == ["1", "2"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_platform_and_every_helm_release_wait_for_the_general_pool(plan_of, stack):
    plan = plan_of(stack)
    pool = general_pool(plan)
    assert pool.urn in platform(plan).dependencies
    releases = plan.of_type(HELM_RELEASE)
    assert releases
    for release in releases:
        assert waits_for(plan, release, pool.urn), release.name


def test_agent_pools_are_created_one_after_the_other(plan_with):
    # AKS answers 409 OperationNotAllowed to a second agent pool operation while one is running.
    pools = stack_config("prod")["kiva:gpuPools"]
    pools.append({"name": "h100", "vmSize": "Standard_NC40ads_H100_v5", "minCount": 0, "maxCount": 1})
    plan = plan_with("prod", {"kiva:gpuPools": pools})
    by_name = {r.inputs["agentPoolName"]: r for r in plan.of_type("azure-native:containerservice:AgentPool")}
    assert by_name["general"].urn in by_name["a100"].dependencies
    assert by_name["a100"].urn in by_name["h100"].dependencies
