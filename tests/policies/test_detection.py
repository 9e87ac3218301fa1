"""GPU pools and model servers are recognised by what they declare, not by Azure names or the vLLM image."""

from __future__ import annotations

from typing import Any

import pytest
from kiva_policies.hardening import EXPOSURE_SCHEMA, is_model_server
from kiva_policies.runner import load_policy_config, resolve_config
from kiva_policies.topology import is_gpu_pool

from tests.policies.harness import compliant_plan, deployment, res, run, service, violations, vllm_env

K = "kubernetes"
DEPLOYMENT = f"{K}:apps/v1:Deployment"
AGENT_POOL = "azure-native:containerservice:AgentPool"
GPU_POLICY = "kiva-scheduling-gpu-workloads-on-gpu-pools"
EXPOSURE_POLICY = "kiva-hardening-internal-services-not-exposed"


@pytest.mark.parametrize(
    ("pool", "gpu"),
    [
        ({"vmSize": "Standard_NC24ads_A100_v4"}, True),  # a GPU size of the table, nothing declared
        ({"vmSize": "Standard_ND96asr_v4", "nodeTaints": ["nvidia.com/gpu=present:NoSchedule"]}, True),
        ({"vmSize": "Standard_ND96asr_v4", "nodeTaints": ["nvidia.com/gpu:NoSchedule"]}, True),
        ({"vmSize": "Standard_ND96asr_v4", "nodeTaints": ["sku=gpu:NoSchedule"]}, True),
        ({"vmSize": "g1.gpu.large", "nodeLabels": {"nvidia.com/gpu.present": "true"}}, True),
        ({"vmSize": "g1.gpu.large", "nodeLabels": {"kiva.platform/gpu-pool": "a100"}}, True),
        # the old `Standard_N` prefix rule took FPGA sizes for GPU pools
        ({"vmSize": "Standard_NP10s"}, False),
        ({"vmSize": "Standard_D8ds_v5", "nodeTaints": ["sku=cpu:NoSchedule"]}, False),
        ({"vmSize": "Standard_D8ds_v5", "nodeLabels": {"nvidia.com/gpu.present": "false"}}, False),
        ({"vmSize": "Standard_D8ds_v5"}, False),
    ],
)
def test_gpu_pools_are_recognised_by_what_they_declare(pool: dict[str, Any], gpu: bool) -> None:
    assert is_gpu_pool(pool) is gpu


def _with_pool(name: str, props: dict[str, Any]) -> list:
    return [*compliant_plan(), res(AGENT_POOL, f"kiva-prod-{name}", {"agentPoolName": name, **props})]


def _select_pool(plan: list, pool: str) -> list:
    for resource in plan:
        if resource.name == "llama-3-1-8b" and resource.type == DEPLOYMENT:
            resource.props["spec"]["template"]["spec"]["nodeSelector"] = {
                "kubernetes.azure.com/agentpool": pool
            }
    return plan


def test_a_pool_declaring_a_gpu_taint_is_a_gpu_pool_whatever_its_vm_size() -> None:
    plan = _select_pool(
        _with_pool("nd", {"vmSize": "Standard_ND96asr_v4", "nodeTaints": ["sku=gpu:NoSchedule"]}), "nd"
    )
    assert not violations(run(plan), GPU_POLICY)


def test_an_fpga_pool_is_not_a_gpu_pool() -> None:
    """Regression: the `Standard_N*` prefix rule let a GPU workload select an FPGA pool unremarked."""
    plan = _select_pool(_with_pool("fpga", {"vmSize": "Standard_NP10s"}), "fpga")
    found = violations(run(plan), GPU_POLICY)
    assert [f.message for f in found] == [
        "GPU workload kiva/llama-3-1-8b selects node pool 'fpga', which is not a GPU pool of this stack (a100)."
    ]


def _model_server(
    name: str, image: str, labels: dict[str, str] | None = None, gpus: int = 0
) -> dict[str, Any]:
    props = deployment(name, image, vllm_env(), replicas=1)
    template = props["spec"]["template"]
    template["metadata"]["labels"].update(labels or {})
    if gpus:
        template["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = str(gpus)
    return props


def _exposed(props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    name = props["metadata"]["name"]
    labels = props["spec"]["template"]["metadata"]["labels"]
    plan = [
        *compliant_plan(),
        res(DEPLOYMENT, name, props),
        res(f"{K}:core/v1:Service", f"{name}-lb", service(f"{name}-lb", labels, 8080, "LoadBalancer")),
    ]
    return [f.message for f in violations(run(plan, config), EXPOSURE_POLICY)]


def test_a_gpu_model_server_of_another_image_behind_a_load_balancer_fails() -> None:
    tgi = _model_server("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.4", gpus=1)
    assert _exposed(tgi) == [
        "Service 'kiva/tgi-lb' of type LoadBalancer exposes a model server outside the cluster. Use a "
        "ClusterIP Service; clients reach the models only through the gateway."
    ]


def test_a_cpu_model_server_carrying_the_platform_label_behind_a_load_balancer_fails() -> None:
    ollama = _model_server("ollama", "ollama/ollama:0.12.0", labels={"kiva.platform/model": "qwen"})
    assert len(_exposed(ollama)) == 1


def test_image_markers_still_configure_what_counts_as_a_model_server() -> None:
    ollama = _model_server("ollama", "ollama/ollama:0.12.0")
    assert _exposed(ollama) == []  # no label, no GPU, no marker: an ordinary web service
    config = {EXPOSURE_POLICY: {"internalImageMarkers": ["vllm", "ollama"]}}
    assert len(_exposed(ollama, config)) == 1


def test_model_server_signals_can_be_switched_off_in_the_config() -> None:
    defaults = {key: spec["default"] for key, spec in EXPOSURE_SCHEMA.properties.items()}
    tgi = _model_server("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.4", gpus=1)
    assert is_model_server(DEPLOYMENT, tgi, defaults)
    assert not is_model_server(DEPLOYMENT, tgi, defaults | {"modelServerResources": []})


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_policy_configs_still_validate(stack: str) -> None:
    config, path = load_policy_config(stack, None)
    assert path is not None and path.name == f"{stack}.json"
    _, properties = resolve_config(config)[EXPOSURE_POLICY]  # raises on a key the schemas reject
    assert properties["internalImageMarkers"] == ["vllm"]
    assert properties["modelServerResources"] == ["nvidia.com/gpu"]
    assert properties["modelServerLabels"] == ["kiva.platform/model"]
