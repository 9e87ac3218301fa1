"""How much GPU memory a model needs on a pool, and how many full-length sequences fit beside it.

vLLM reserves `gpuMemoryUtilization` × the memory of each GPU (of its MIG slice on a MIG pool: CUDA
sees the slice as the device, with the slice's memory), loads the weights, keeps room for
activations and CUDA graphs, and gives the rest to the KV cache. The check is deliberately simple:
16-bit weights (2 bytes per parameter: every `dtype` KIVA accepts is 16-bit), a fixed share of the
weights for activations, and the KV cache of one sequence of `maxModelLen` tokens, which is the least
vLLM needs to start. How many such sequences fit at once is reported, not required: vLLM batches up to
`--max-num-seqs` sequences, most far shorter than `maxModelLen`, and preempts when the cache is full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.settings.cluster import GpuPool
from infra.settings.workloads import Model

#: Activations, CUDA graphs and the CUDA context on top of the weights, as a share of the weights.
SIZING_HEADROOM = 0.1
#: Default KV cache per token, in KiB, as `KV_KIB_PER_SQRT_BILLION × √parametersBillion`: an upper
#: bound for the grouped-query-attention models KIVA serves (Llama 3.2 3B: 112 KiB, Llama 3.1 8B: 128,
#: Qwen 2.5 7B: 56, Llama 3.1 70B: 320 — from each model's config.json); set `kvCacheKibPerToken` for others.
KV_KIB_PER_SQRT_BILLION = 64
#: Bytes per parameter of 16-bit weights (float16, bfloat16).
BYTES_PER_PARAMETER = 2
#: vLLM's `--max-num-seqs` when not given, for `vllm serve` (vllm/engine/arg_utils.py
#: `get_batch_defaults`, UsageContext.OPENAI_API_SERVER: 256, and 1024 on GPUs of at least 70 GiB whose
#: device name does not contain "a100").
VLLM_DEFAULT_MAX_NUM_SEQS = 256
VLLM_LARGE_GPU_MAX_NUM_SEQS = 1024
LARGE_GPU_BYTES = 70 * 2**30


def default_max_num_seqs(pool: GpuPool) -> int:
    """What vLLM picks for `--max-num-seqs` on this pool's GPUs when the model does not say."""
    large = pool.memory_per_gpu_gb * 1e9 >= LARGE_GPU_BYTES and not pool.kind.startswith("a100")
    return VLLM_LARGE_GPU_MAX_NUM_SEQS if large else VLLM_DEFAULT_MAX_NUM_SEQS


@dataclass(frozen=True)
class ModelSizing:
    """Every figure of one model's sizing on one pool, in GB unless the name says otherwise."""

    weights_gb: float
    activations_gb: float
    kv_kib_per_token: float
    kv_per_sequence_gb: float
    usable_gb: float

    @property
    def needed_gb(self) -> float:
        """Weights, activations and one full-length sequence: the least vLLM starts with."""
        return self.weights_gb + self.activations_gb + self.kv_per_sequence_gb

    @property
    def full_sequences(self) -> int:
        """Sequences of `maxModelLen` tokens whose KV cache fits at once (0 when the model does not fit)."""
        room = self.usable_gb - self.weights_gb - self.activations_gb
        return max(0, math.floor(room / self.kv_per_sequence_gb)) if room > 0 else 0


def size_model(model: Model, pool: GpuPool) -> ModelSizing:
    weights_gb = model.parameters_billion * BYTES_PER_PARAMETER
    kv_kib = model.kv_cache_kib_per_token or KV_KIB_PER_SQRT_BILLION * math.sqrt(model.parameters_billion)
    return ModelSizing(
        weights_gb=weights_gb,
        activations_gb=weights_gb * SIZING_HEADROOM,
        kv_kib_per_token=kv_kib,
        kv_per_sequence_gb=model.max_model_len * kv_kib / 2**20,
        usable_gb=pool.memory_per_gpu_gb * model.gpus * model.gpu_memory_utilization,
    )


def describe(model: Model, pool: GpuPool, sizing: ModelSizing) -> str:
    """The sizing in one sentence, naming every number (for messages and the plan's notes)."""
    seqs = model.max_num_seqs or default_max_num_seqs(pool)
    origin = "maxNumSeqs" if model.max_num_seqs else "vLLM's default --max-num-seqs"
    return (
        f"model {model.name!r} needs {sizing.needed_gb:.1f} GB: {sizing.weights_gb:.1f} GB of 16-bit weights "
        f"({model.parameters_billion:g}B parameters) + {sizing.activations_gb:.1f} GB activations "
        f"({SIZING_HEADROOM:.0%}) + {sizing.kv_per_sequence_gb:.1f} GB KV cache for one sequence of maxModelLen "
        f"{model.max_model_len} ({sizing.kv_kib_per_token:.0f} KiB/token); {model.gpus} × {pool.unit} "
        f"at gpuMemoryUtilization {model.gpu_memory_utilization} give "
        f"{sizing.usable_gb:.1f} GB, room for {sizing.full_sequences} full-length sequence(s) at once "
        f"({origin}: {seqs})"
    )
