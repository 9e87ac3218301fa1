"""MIG slices (issue 12, part 2): profiles per GPU, one slice per model, and who cuts the GPUs.

Profiles as NVIDIA's MIG user guide and the GPU operator's default mig-parted config list them
(`infra/settings/gpu_catalogue.py`); AKS cuts with `gpuInstanceProfile`, the GPU operator's MIG
manager by the node label `nvidia.com/mig.config`, the device plugin advertises the slices with
`migStrategy: single`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kiva_policies.day_one import scheduling

from infra.cli import main
from infra.settings.gpu_catalogue import GPU_CATALOGUE, MIG_PROFILES, mig_profiles
from infra.settings.gpu_sharing import device_plugin_config_values
from tests.conftest import PROJECT_DIR, stack_config
from tests.test_settings import error_of, settings_of
from tests.twin.conftest import twin_env  # noqa: F401  (the twin tests' fixture: skips without tools)

A100 = "Standard_NC24ads_A100_v4"  # 1 × A100 80GB
A100_X4 = "Standard_NC96ads_A100_v4"  # 4 × A100 80GB
H100_NVL = "Standard_NC40ads_H100_v5"  # 1 × H100 NVL 94GB, labelled h100


def mig_pool(profile: str = "1g.10gb", **pool: Any) -> list[dict[str, Any]]:
    base = stack_config("dev")["kiva:gpuPools"][0]
    return [
        base
        | {"name": "a100", "vmSize": A100, "maxCount": 1, "spot": False}
        | pool
        | {"sharing": {"mig": {"profile": profile}}}
    ]


def small_models(count: int = 2, billion: float = 1, **changes: Any) -> list[dict[str, Any]]:
    first = (
        stack_config("dev")["kiva:models"][0]
        | {
            "pool": "a100",
            "parametersBillion": billion,
            "maxModelLen": 4096,
            "dtype": "bfloat16",
        }
        | changes
    )
    return [first] + [first | {"name": f"m{i}", "servedName": f"m{i}"} for i in range(1, count)]


# --- the profile tables --------------------------------------------------------------------------


def test_profile_tables_are_the_mig_user_guides():
    def table(gpu: str) -> dict[str, int]:
        return {name: p.per_gpu for name, p in MIG_PROFILES[gpu].items()}

    assert table("a100-40gb") == {
        "1g.5gb": 7,
        "1g.10gb": 4,
        "2g.10gb": 3,
        "3g.20gb": 2,
        "4g.20gb": 1,
        "7g.40gb": 1,
    }
    eighty = {"1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1}
    assert table("a100-80gb") == table("a100") == table("h100") == eighty
    assert table("h100-nvl") == {
        "1g.12gb": 7,
        "1g.24gb": 4,
        "2g.24gb": 3,
        "3g.47gb": 2,
        "4g.47gb": 1,
        "7g.94gb": 1,
    }
    assert MIG_PROFILES["h100-nvl"]["3g.47gb"].memory_gb == 47
    for gpu in ("t4", "v100-16gb", "v100-32gb", "a10", "l4", "l40s", "h200"):
        assert mig_profiles(GPU_CATALOGUE[gpu]) == {}


# --- settings ------------------------------------------------------------------------------------


def test_a_mig_pool_advertises_its_slices_with_the_slices_memory():
    settings = settings_of("dev", gpuPools=mig_pool(), models=small_models())
    pool = settings.gpu_pools[0]
    assert (pool.slices_per_gpu, pool.allocatable_gpus, pool.memory_per_gpu_gb) == (7, 7, 10.0)
    assert pool.replicas_per_gpu == 1  # no time-slicing config


def test_the_94gb_h100_of_azure_has_the_nvl_profiles():
    settings = settings_of(
        "dev", gpuPools=mig_pool("2g.24gb", name="h100", vmSize=H100_NVL), models=small_models(pool="h100")
    )
    pool = settings.gpu_pools[0]
    assert (pool.allocatable_gpus, pool.memory_per_gpu_gb) == (3, 24.0)


def test_mig_on_a_t4_pool_is_refused():
    message = error_of("dev", gpuPools=mig_pool(vmSize="Standard_NC4as_T4_v3", name="t4"))
    assert (
        "kiva:gpuPools[0]: sharing.mig: NVIDIA T4 GPUs (t4) have no MIG profiles; MIG needs an A100 or "
        "H100 (gpuType a100-40gb, a100-80gb, h100, h100-nvl, a100); share this pool with sharing: "
        "{timeSlicing: {replicas: 2}} instead"
    ) in message


def test_mig_on_an_l4_pool_is_refused():
    pools = [{"name": "l4", "gpuType": "l4", "gpusPerNode": 1, "sharing": {"mig": {"profile": "1g.10gb"}}}]
    message = error_of("dev", gpuPools=pools)
    assert "kiva:gpuPools[0]: sharing.mig: NVIDIA L4 GPUs (l4) have no MIG profiles" in message


def test_an_unknown_profile_lists_the_gpus_profiles():
    message = error_of("dev", gpuPools=mig_pool("1g.5gb"))
    assert (
        "kiva:gpuPools[0]: sharing.mig.profile: '1g.5gb' is not a MIG profile of the NVIDIA A100 80GB (80 GB); "
        "its profiles: 1g.10gb (7 per GPU), 1g.20gb (4 per GPU), 2g.20gb (3 per GPU), 3g.40gb (2 per GPU), "
        "4g.40gb (1 per GPU), 7g.80gb (1 per GPU); e.g. sharing: {mig: {profile: 1g.10gb}}"
    ) in message


def test_a_malformed_profile_names_an_example():
    message = error_of("dev", gpuPools=mig_pool("ten-gigs"))
    assert "kiva:gpuPools[0].sharing.mig.profile: must look like" in message


def test_aks_cuts_only_the_profiles_its_gpu_instance_profile_makes():
    message = error_of("dev", gpuPools=mig_pool("1g.20gb"))
    assert (
        "kiva:gpuPools[0]: sharing.mig.profile: AKS cuts the GPUs of a pool it installs the driver on by "
        "gpuInstanceProfile, whose MIG1g makes 7 × 1g.10gb, not 4 × 1g.20gb; use profile 1g.10gb, or "
        "driver: operator (the GPU operator's MIG manager cuts 1g.20gb)"
    ) in message
    settings_of("dev", gpuPools=mig_pool("1g.20gb", driver="operator"), models=small_models())


def test_timeslicing_and_mig_together_are_refused():
    pools = mig_pool()
    pools[0]["sharing"]["timeSlicing"] = {"replicas": 2}
    message = error_of("dev", gpuPools=pools)
    assert "kiva:gpuPools[0].sharing: choose one way of sharing: timeSlicing or mig" in message


def test_a_model_gets_one_slice():
    message = error_of("dev", gpuPools=mig_pool(vmSize=A100_X4), models=small_models(gpus=2))
    assert (
        "kiva:models[0].gpus: pool 'a100' cuts its GPUs into MIG 1g.10gb slices and a model gets one slice: "
        "CUDA shows a process one MIG device only, so vLLM cannot split a model across slices (tensor "
        "parallelism); set gpus: 1 with a larger profile (e.g. sharing: {mig: {profile: 7g.80gb}}), or use "
        "a pool without MIG for 2 GPUs"
    ) in message


def test_sizing_uses_the_slices_memory():
    """An 8B model fits a whole A100 but not a 10 GB slice of one; a 3B model fits the slice."""
    message = error_of("dev", gpuPools=mig_pool(), models=small_models(1, billion=8))
    assert (
        "kiva:models[0]: model 'llama-3-2-3b' needs 18.3 GB: 16.0 GB of 16-bit weights (8B parameters) + "
        "1.6 GB activations (10%) + 0.7 GB KV cache for one sequence of maxModelLen 4096 (181 KiB/token); "
        "1 × MIG 1g.10gb slice of A100 (10 GB) at gpuMemoryUtilization 0.9 give 9.0 GB"
    ) in message
    assert message.endswith("Lower maxModelLen, or use a larger MIG profile (e.g. 7g.80gb)")
    settings_of("dev", gpuPools=mig_pool("3g.40gb"), models=small_models(1, billion=8))
    settings_of("dev", gpuPools=mig_pool(), models=small_models(1, billion=3.2))


def test_slices_bound_the_model_servers():
    message = error_of("dev", gpuPools=mig_pool("3g.40gb"), models=small_models(3))
    assert (
        "kiva:gpuPools[0].maxCount: pool 'a100' needs 2 nodes of 1 GPU(s) × 2 MIG 3g.40gb slices for "
        "llama-3-2-3b (1 × 1 GPU), m1 (1 × 1 GPU), m2 (1 × 1 GPU), but maxCount is 1"
    ) in message
    settings_of("dev", gpuPools=mig_pool("3g.40gb", maxCount=2), models=small_models(3))


def test_device_plugin_config_for_mig_pools_is_single_strategy():
    config = device_plugin_config_values({}, ("a100",))["config"]
    assert isinstance(config, dict)
    assert yaml.safe_load(config["map"]["kiva-a100"]) == {"version": "v1", "flags": {"migStrategy": "single"}}
    assert yaml.safe_load(config["map"]["default"]) == {"version": "v1", "flags": {"migStrategy": "none"}}


# --- existing clusters ---------------------------------------------------------------------------


def existing(gpus: int, labels: dict[str, str], driver: str = "preinstalled") -> dict[str, Any]:
    config = stack_config("local")
    base = {k.removeprefix("kiva:"): v for k, v in config.items() if k.startswith("kiva:")}
    cluster = base["cluster"]
    cluster["nodePools"].append(
        {
            "name": "gpus",
            "nodes": 1,
            "cpu": "16",
            "memory": "120Gi",
            "gpus": gpus,
            "labels": {"kiva.platform/gpu-pool": "a100"} | labels,
            "taints": [{"key": "nvidia.com/gpu", "value": "present"}],
        }
    )
    pools = [
        {
            "name": "a100",
            "gpuType": "a100-40gb",
            "gpusPerNode": 1,
            "maxCount": 1,
            "driver": driver,
            "sharing": {"mig": {"profile": "2g.10gb"}},
        }
    ]
    return {"cluster": cluster, "gpuPools": pools, "models": small_models(2, gated=False)}


def test_existing_cluster_declares_the_slices():
    message = error_of("local", **existing(1, {"nvidia.com/device-plugin.config": "kiva-a100"}))
    assert (
        "kiva:gpuPools[0].sharing.mig: pool 'a100' cuts each of its 1 GPU(s) per node into 3 MIG 2g.10gb "
        "slices, which the device plugin advertises as 3 nvidia.com/gpu per node (migStrategy: single), but "
        "cluster.nodePools declares gpus: 1; declare gpus: 3 once the nodes' GPUs are cut into 2g.10gb (the "
        "stack does not cut them)"
    ) in message


def test_existing_cluster_nodes_carry_the_device_plugin_config_label():
    message = error_of("local", **existing(3, {}))
    assert (
        "kiva:gpuPools[0].sharing.mig: the device plugin picks a node's config (here migStrategy: single) by "
        "its label nvidia.com/device-plugin.config; label the nodes of pool 'a100' with "
        "nvidia.com/device-plugin.config=kiva-a100"
    ) in message
    settings = settings_of("local", **existing(3, {"nvidia.com/device-plugin.config": "kiva-a100"}))
    assert settings.gpu_pools[0].allocatable_gpus == 3


def test_existing_cluster_with_the_gpu_operator_carries_the_mig_config_label():
    message = error_of("local", **existing(3, {}, driver="operator"))
    assert (
        "kiva:gpuPools[0].sharing.mig: the GPU operator's MIG manager cuts a node's GPUs by its label "
        "nvidia.com/mig.config; label the nodes of pool 'a100' with nvidia.com/mig.config=all-2g.10gb"
    ) in message
    settings_of("local", **existing(3, {"nvidia.com/mig.config": "all-2g.10gb"}, driver="operator"))


def test_existing_cluster_plan_renders_the_mig_config(plan_with):
    overrides = existing(3, {"nvidia.com/device-plugin.config": "kiva-a100"})
    plan = plan_with("local", {f"kiva:{k}": v for k, v in overrides.items()})
    (release,) = [
        r.inputs
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "nvidia-device-plugin"
    ]
    assert "migStrategy: single" in release["values"]["config"]["map"]["kiva-a100"]


# --- Azure plans ---------------------------------------------------------------------------------


def resources_of(plan: Any) -> list[Any]:
    from infra.offline.digest import preview_digest
    from infra.offline.preview_file import planned_resources

    return list(planned_resources(preview_digest(plan)))


def agent_pool(plan: Any, name: str) -> dict[str, Any]:
    (pool,) = [
        r.inputs
        for r in plan.of_type("azure-native:containerservice:AgentPool")
        if r.inputs["agentPoolName"] == name
    ]
    return pool


def test_azure_mig_pool_is_cut_by_aks_and_counted_by_the_day_one_check(plan_with):
    plan = plan_with(
        "dev",
        {"kiva:gpuPools": mig_pool(), "kiva:models": small_models(2)},
        secrets=("kiva:huggingFaceToken",),
    )
    pool = agent_pool(plan, "a100")
    assert pool["gpuInstanceProfile"] == "MIG1g"
    assert pool["nodeLabels"]["nvidia.com/device-plugin.config"] == "kiva-a100"
    assert "nvidia.com/mig.config" not in pool["nodeLabels"]
    (release,) = [
        r.inputs
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "nvidia-device-plugin"
    ]
    assert yaml.safe_load(release["values"]["config"]["map"]["kiva-a100"])["flags"] == {
        "migStrategy": "single"
    }
    resources = resources_of(plan)
    from tests.policies.day_one.plans import findings

    assert findings(resources, "kiva-day-one-pods-placed") == []
    lines = scheduling.summary(resources)
    assert any(line.startswith("pool a100:") and "GPUs 2/7" in line for line in lines), lines


def test_azure_operator_mig_pool_is_labelled_for_the_mig_manager(plan_with):
    plan = plan_with(
        "dev",
        {"kiva:gpuPools": mig_pool("1g.20gb", driver="operator"), "kiva:models": small_models(2)},
        secrets=("kiva:huggingFaceToken",),
    )
    pool = agent_pool(plan, "a100")
    assert pool.get("gpuInstanceProfile") is None
    assert pool["nodeLabels"]["nvidia.com/mig.config"] == "all-1g.20gb"
    (release,) = [
        r.inputs
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "gpu-operator"
    ]
    assert release["values"]["mig"] == {"strategy": "single"}
    assert release["values"]["migManager"] == {"enabled": True}
    lines = scheduling.summary(resources_of(plan))
    assert any(line.startswith("pool a100:") and "GPUs 2/4" in line for line in lines), lines


def test_shipped_dev_plan_has_no_mig(plan_of):
    pool = agent_pool(plan_of("dev"), "t4")
    assert pool.get("gpuInstanceProfile") is None
    assert "nvidia.com/mig.config" not in pool["nodeLabels"]


@pytest.mark.parametrize("profile, slices", [("1g.10gb", 7), ("2g.20gb", 3), ("3g.40gb", 2), ("7g.80gb", 1)])
def test_aks_gpu_instance_profile_per_profile(profile: str, slices: int):
    from components.azure.foundation import gpu_node_pool_args

    settings = settings_of("dev", gpuPools=mig_pool(profile), models=small_models(1))
    args = gpu_node_pool_args(settings.gpu_pools[0], "1.34")
    assert args.gpu_instance_profile == f"MIG{profile[0]}g"
    assert settings.gpu_pools[0].allocatable_gpus == slices


# --- the twin ------------------------------------------------------------------------------------


@pytest.mark.twin
def test_twin_places_two_models_on_slices_of_one_card(twin_env: dict, tmp_path: Path) -> None:  # noqa: F811
    """One A100 node cut into seven 1g.10gb slices takes both model servers (whole GPUs: one only)."""
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    stack["config"]["kiva:gpuPools"] = mig_pool()
    stack["config"]["kiva:models"] = small_models(2)
    (tmp_path / "Pulumi.migdev.yaml").write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    report = tmp_path / "twin.md"
    result = CliRunner().invoke(
        main, ["twin", "migdev", "--project-dir", str(tmp_path), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "every object accepted and every pod placed" in result.output
    # dcgm-exporter: GPU metrics of a device-plugin pool (one per node, MIG or not)
    pool = r"a100: \d+ \(dcgm-exporter 1, kiva-model-llama-3-2-3b 1, kiva-model-m1 1,"
    assert re.search(pool, result.output), result.output
