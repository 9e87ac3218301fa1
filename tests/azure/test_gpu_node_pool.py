"""GPU node pools: VM size from the SKU table, taint, labels, autoscaling, driver, disk and spot."""

from __future__ import annotations

from infra.offline.engine import Plan, Registration
from tests.conftest import stack_config

AGENT_POOL = "azure-native:containerservice:AgentPool"


def one_gpu_pool(plan: Plan) -> Registration:
    (pool,) = [r for r in plan.of_type(AGENT_POOL) if r.inputs["agentPoolName"] != "general"]
    return pool


def test_dev_t4_pool_scales_to_zero_on_spot_with_aks_driver(plan_of):
    pool = one_gpu_pool(plan_of("dev")).inputs
    assert pool["agentPoolName"] == "t4"
    assert pool["resourceName"] == "kiva-dev-aks"
    assert pool["mode"] == "User"
    assert pool["vmSize"] == "Standard_NC4as_T4_v3"
    assert pool["enableAutoScaling"] is True
    assert (pool["minCount"], pool["maxCount"]) == (0, 2)
    assert pool["nodeTaints"][0] == "nvidia.com/gpu=present:NoSchedule"
    assert "kubernetes.azure.com/scalesetpriority=spot:NoSchedule" in pool["nodeTaints"]
    assert pool["nodeLabels"] == {
        "nvidia.com/gpu.present": "true",
        "kiva.platform/gpu": "t4",
        "kiva.platform/gpu-pool": "t4",
    }
    assert pool["gpuProfile"] == {"driver": "Install"}
    assert pool["scaleSetPriority"] == "Spot"
    assert pool["scaleSetEvictionPolicy"] == "Delete"
    assert pool["osDiskSizeGB"] == 256
    assert pool["vnetSubnetID"].endswith("/subnets/nodes")


def test_prod_a100_pool_leaves_the_driver_to_the_gpu_operator(plan_of):
    pool = one_gpu_pool(plan_of("prod")).inputs
    assert pool["vmSize"] == "Standard_NC24ads_A100_v4"
    assert pool["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pool["nodeLabels"]["kiva.platform/gpu"] == "a100"
    assert pool["gpuProfile"] == {"driver": "None"}
    assert (pool["minCount"], pool["maxCount"]) == (2, 4)
    assert pool["availabilityZones"] == ["1", "2", "3"]
    assert "scaleSetPriority" not in pool


def test_one_agent_pool_per_configured_pool(plan_with):
    pools = stack_config("prod")["kiva:gpuPools"]
    pools.append({"name": "h100", "vmSize": "Standard_NC40ads_H100_v5", "minCount": 0, "maxCount": 1})
    plan = plan_with("prod", {"kiva:gpuPools": pools})
    by_name = {r.inputs["agentPoolName"]: r.inputs for r in plan.of_type(AGENT_POOL)}
    assert set(by_name) == {"general", "a100", "h100"}
    assert by_name["h100"]["vmSize"] == "Standard_NC40ads_H100_v5"
    assert by_name["h100"]["nodeLabels"]["kiva.platform/gpu"] == "h100"
    assert by_name["h100"]["minCount"] == 0
    assert by_name["h100"]["gpuProfile"] == {"driver": "Install"}
