"""The GPU catalogue, `gpuType: other`, and the sizing check built on them (issue 12, part 2)."""

from __future__ import annotations

from typing import Any, get_args

from infra.settings.cluster import GpuPool
from infra.settings.gpu_catalogue import GPU_CATALOGUE, GpuType
from infra.settings.sizing import default_max_num_seqs, describe, size_model
from infra.settings.workloads import Model
from tests.conftest import stack_config
from tests.test_settings import error_of, models_with, settings_of


def pool(**fields: Any) -> GpuPool:
    return GpuPool.model_validate({"name": "gpu", "gpusPerNode": 1, **fields})


def model(**fields: Any) -> Model:
    base = {"name": "m", "huggingFaceId": "org/m", "servedName": "m", "parametersBillion": 8, "pool": "gpu"}
    return Model.model_validate(base | fields)


def test_every_type_id_is_in_the_catalogue_or_other():
    assert set(get_args(GpuType)) == {*GPU_CATALOGUE, "other"}


def test_catalogue_figures():
    figures = {
        gpu.id: (gpu.memory_gb, gpu.compute_capability, gpu.bfloat16, gpu.fp8)
        for gpu in GPU_CATALOGUE.values()
    }
    assert figures == {
        "t4": (16, "7.5", False, False),
        "v100-16gb": (16, "7.0", False, False),
        "v100-32gb": (32, "7.0", False, False),
        "a10": (24, "8.6", True, False),
        "l4": (24, "8.9", True, True),
        "l40s": (48, "8.9", True, True),
        "a100": (80, "8.0", True, False),
        "a100-40gb": (40, "8.0", True, False),
        "a100-80gb": (80, "8.0", True, False),
        "h100": (80, "9.0", True, True),
        "h100-nvl": (94, "9.0", True, True),
        "h200": (141, "9.0", True, True),
    }


def test_azure_h100_v5_keeps_its_label_and_its_94_gb():
    h100 = GpuPool.model_validate({"name": "h", "vmSize": "Standard_NC40ads_H100_v5"})
    assert (h100.kind, h100.memory_per_gpu_gb, h100.gpu.compute_capability) == ("h100", 94, "9.0")


def test_a100_stays_the_80_gb_part():
    assert pool(gpuType="a100").memory_per_gpu_gb == 80
    assert pool(gpuType="a100-40gb").memory_per_gpu_gb == 40


def test_other_takes_its_own_figures():
    other = pool(gpuType="other", gpuMemoryGb=48, computeCapability="8.6")
    assert (other.kind, other.memory_per_gpu_gb, other.gpu.bfloat16) == ("other", 48, True)


def test_other_without_figures_is_refused_with_an_example():
    message = error_of("local", gpuPools=[{"name": "x", "gpuType": "other", "gpusPerNode": 1}])
    assert (
        "kiva:gpuPools[0]: gpuType: other needs computeCapability and gpuMemoryGb: the catalogue does not "
        'know the GPU, e.g. gpuMemoryGb: 48 and computeCapability: "8.6"'
    ) in message


def test_own_figures_on_a_catalogue_type_are_refused():
    message = error_of(
        "local", gpuPools=[{"name": "x", "gpuType": "l4", "gpusPerNode": 1, "gpuMemoryGb": 30}]
    )
    assert (
        "kiva:gpuPools[0]: gpuMemoryGb only go with gpuType: other; the catalogue knows 'l4' (24 GB, compute "
        "capability 8.9): remove gpuMemoryGb, or use gpuType: other"
    ) in message


def test_unknown_type_lists_the_catalogue():
    message = error_of("local", gpuPools=[{"name": "x", "gpuType": "b200", "gpusPerNode": 1}])
    assert "kiva:gpuPools[0].gpuType" in message and "'l40s'" in message and "'other'" in message


def test_bfloat16_on_a_t4_names_the_gpu_and_its_capability():
    message = error_of("dev", models=models_with("dev", 0, dtype="bfloat16"))
    assert message == (
        "Pulumi.dev.yaml: kiva:models[0].dtype: NVIDIA T4 GPUs (pool 't4') have compute capability 7.5, "
        "and bfloat16 needs 8.0 or higher; use dtype: half"
    )


def test_sizing_names_every_number_and_the_full_sequences():
    sizing = size_model(model(maxModelLen=8192, kvCacheKibPerToken=128), pool(gpuType="l4"))
    assert (sizing.weights_gb, round(sizing.activations_gb, 1), sizing.kv_per_sequence_gb) == (16, 1.6, 1.0)
    assert round(sizing.usable_gb, 1) == 21.6
    assert sizing.full_sequences == 4  # (21.6 - 17.6) / 1.0
    text = describe(model(maxModelLen=8192, kvCacheKibPerToken=128), pool(gpuType="l4"), sizing)
    assert text == (
        "model 'm' needs 18.6 GB: 16.0 GB of 16-bit weights (8B parameters) + 1.6 GB activations (10%) + "
        "1.0 GB KV cache for one sequence of maxModelLen 8192 (128 KiB/token); 1 × L4 (24 GB) at "
        "gpuMemoryUtilization 0.9 give 21.6 GB, room for 4 full-length sequence(s) at once "
        "(vLLM's default --max-num-seqs: 256)"
    )


def test_max_num_seqs_default_follows_vllm():
    assert default_max_num_seqs(pool(gpuType="l40s")) == 256
    assert default_max_num_seqs(pool(gpuType="a100-80gb")) == 256
    assert default_max_num_seqs(pool(gpuType="h100")) == 1024


def test_a_model_too_big_for_its_pool_reports_zero_full_sequences():
    message = error_of("dev", models=models_with("dev", 0, parametersBillion=7.6, maxNumSeqs=8))
    assert "room for 0 full-length sequence(s) at once (maxNumSeqs: 8). Lower maxModelLen" in message


def test_max_num_seqs_reaches_vllm():
    from components.platform.model_server import ModelServerArgs, vllm_args

    args = vllm_args(ModelServerArgs(model(maxNumSeqs=32), "standard", False, None, "l4", "8.9"))
    assert args[args.index("--max-num-seqs") + 1] == "32"
    assert "--dtype" not in args


def test_auto_dtype_becomes_half_below_compute_capability_8():
    from components.platform.model_server import ModelServerArgs, vllm_args

    args = vllm_args(ModelServerArgs(model(), "standard", False, None, "v100-32gb", "7.0"))
    assert args[args.index("--dtype") + 1] == "half"
    assert "--max-num-seqs" not in args


def test_utilization_below_half_needs_a_shared_pool():
    message = error_of("dev", models=models_with("dev", 0, gpuMemoryUtilization=0.3))
    assert (
        "kiva:models[0].gpuMemoryUtilization: 0.3 is below 0.5, which only pools that share their GPUs allow "
        "(pool 't4' has no sharing)"
    ) in message


def test_shipped_stacks_still_size_as_before():
    prod = settings_of("prod")
    assert {p.name: (p.kind, p.memory_per_gpu_gb) for p in prod.gpu_pools} == {
        p["name"]: ("a100", 80) for p in stack_config("prod")["kiva:gpuPools"]
    }
