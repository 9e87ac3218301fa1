"""GPU time-slicing: settings, the capacity check, and the device plugin's config (issue 12, part 2)."""

from __future__ import annotations

from typing import Any

import yaml
from kiva_policies.day_one import scheduling

from components.platform.operators import Operators, OperatorsArgs  # noqa: F401  (imports cleanly)
from infra.settings.gpu_sharing import device_plugin_config_values
from tests.conftest import stack_config
from tests.test_settings import error_of, settings_of


def shared_t4(replicas: int = 2, **pool: Any) -> list[dict[str, Any]]:
    base = stack_config("dev")["kiva:gpuPools"][0] | {"maxCount": 1}
    return [base | {"sharing": {"timeSlicing": {"replicas": replicas}}} | pool]


def two_small_models(utilization: float) -> list[dict[str, Any]]:
    first = stack_config("dev")["kiva:models"][0] | {
        "parametersBillion": 1,
        "gpuMemoryUtilization": utilization,
    }
    return [first, first | {"name": "second", "servedName": "second"}]


def test_two_small_models_share_one_card():
    settings = settings_of("dev", gpuPools=shared_t4(), models=two_small_models(0.45))
    pool = settings.gpu_pools[0]
    assert (pool.replicas_per_gpu, pool.allocatable_gpus) == (2, 2)


def test_shares_of_one_card_must_add_up_to_at_most_095():
    message = error_of("dev", gpuPools=shared_t4(), models=two_small_models(0.6))
    assert (
        "kiva:gpuPools[0].sharing: pool 't4' time-slices each GPU 2 ways and the device plugin may put any 2 "
        "of its model servers on one card: their gpuMemoryUtilization adds up to 0.6 + 0.6 = 1.20, above 0.95"
    ) in message
    assert "e.g. 0.47 each" in message


def test_slices_bound_the_number_of_model_servers():
    models = two_small_models(0.3)
    models.append(models[0] | {"name": "third", "servedName": "third"})
    message = error_of("dev", gpuPools=shared_t4(), models=models)
    assert "kiva:models[2].replicas" not in message
    assert (
        "pool 't4' needs 2 nodes of 1 GPU(s) × 2 slices for 3 model server(s), but maxCount is 1" in message
    )


def test_a_shared_pool_gives_one_slice_per_model():
    models = two_small_models(0.45)
    models[0]["gpus"] = 2
    pools = shared_t4(vmSize="Standard_NC64as_T4_v3")
    message = error_of("dev", gpuPools=pools, models=models)
    assert (
        "kiva:models[0].gpus: pool 't4' shares its GPUs by time-slicing, so a model gets one slice" in message
    )


def test_sharing_needs_the_device_plugin():
    message = error_of("dev", gpuPools=shared_t4(driver="operator"), models=two_small_models(0.45))
    assert "sharing is rendered as the NVIDIA device plugin's config" in message


def test_device_plugin_config_is_the_plugins_v1_file():
    values = device_plugin_config_values({"t4": 2})
    config = values["config"]
    assert isinstance(config, dict)
    assert config["default"] == "default"
    assert yaml.safe_load(config["map"]["default"]) == {"version": "v1", "flags": {"migStrategy": "none"}}
    assert yaml.safe_load(config["map"]["kiva-t4"]) == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 2}],
            }
        },
    }


def test_no_sharing_leaves_the_chart_values_alone():
    assert device_plugin_config_values({}) == {}


def test_existing_cluster_nodes_must_carry_the_config_label():
    config = stack_config("local")
    base = {k.removeprefix("kiva:"): v for k, v in config.items() if k.startswith("kiva:")}
    cluster = base["cluster"]
    cluster["nodePools"].append(
        {
            "name": "gpus",
            "nodes": 1,
            "cpu": "8",
            "memory": "28Gi",
            "gpus": 2,
            "labels": {"kiva.platform/gpu-pool": "t4"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present"}],
        }
    )
    pools = [
        {
            "name": "t4",
            "gpuType": "t4",
            "gpusPerNode": 1,
            "maxCount": 1,
            "sharing": {"timeSlicing": {"replicas": 2}},
        }
    ]
    models = two_small_models(0.45)
    for m in models:
        m.update(pool="t4", gated=False)
    message = error_of("local", cluster=cluster, gpuPools=pools, models=models)
    assert (
        "kiva:gpuPools[0].sharing: the device plugin picks a node's config by its label "
        "nvidia.com/device-plugin.config; label the nodes of pool 't4' with "
        "nvidia.com/device-plugin.config=kiva-t4"
    ) in message
    cluster["nodePools"][-1]["labels"]["nvidia.com/device-plugin.config"] = "kiva-t4"
    settings = settings_of("local", cluster=cluster, gpuPools=pools, models=models)
    assert settings.gpu_pools[0].allocatable_gpus == 2


def test_a_shared_dev_pool_plans_the_plugin_config_the_node_label_and_one_slice_per_server(plan_with):
    plan = plan_with(
        "dev",
        {"kiva:gpuPools": shared_t4(), "kiva:models": two_small_models(0.45)},
        secrets=("kiva:huggingFaceToken",),
    )
    (release,) = [
        r.inputs
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "nvidia-device-plugin"
    ]
    config = release["values"]["config"]
    assert config["default"] == "default" and sorted(config["map"]) == ["default", "kiva-t4"]
    assert "replicas: 2" in config["map"]["kiva-t4"]
    (pool,) = [
        r.inputs
        for r in plan.of_type("azure-native:containerservice:AgentPool")
        if r.inputs["agentPoolName"] == "t4"
    ]
    assert pool["nodeLabels"]["nvidia.com/device-plugin.config"] == "kiva-t4"
    servers = [
        r
        for r in plan.resources
        if r.type == "kubernetes:apps/v1:StatefulSet"
        and r.inputs["metadata"]["name"].startswith("kiva-model-")
    ]
    gpus = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"]["containers"][0]["resources"][
            "limits"
        ]["nvidia.com/gpu"]
        for r in servers
    }
    assert set(gpus.values()) == {"1"} and len(gpus) == 2


def test_the_day_one_scheduling_check_counts_the_slices(plan_with):
    """Two servers of one GPU each fit one shared T4 node; without the slices they would not."""
    from infra.offline.digest import preview_digest
    from infra.offline.preview_file import planned_resources
    from tests.policies.day_one.plans import findings

    # NC8as_T4_v3: the 4 vCPUs of NC4as_T4_v3 do not hold two servers' CPU requests (2 each).
    pools = shared_t4(vmSize="Standard_NC8as_T4_v3")
    plan = plan_with(
        "dev",
        {"kiva:gpuPools": pools, "kiva:models": two_small_models(0.45)},
        secrets=("kiva:huggingFaceToken",),
    )
    resources = list(planned_resources(preview_digest(plan)))
    assert findings(resources, "kiva-day-one-pods-placed") == []
    lines = scheduling.summary(resources)
    assert any(line.startswith("pool t4:") and "GPUs 2/2" in line for line in lines), lines


def test_unshared_dev_plan_has_no_plugin_config(plan_of):
    (release,) = [
        r.inputs
        for r in plan_of("dev").resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "nvidia-device-plugin"
    ]
    assert "config" not in release["values"]
