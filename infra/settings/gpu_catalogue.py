"""The NVIDIA GPU types KIVA knows, as data: memory per GPU, compute capability, and what follows.

A GPU pool on an existing cluster names its type (`gpuType`); the sizing check needs the memory of
one GPU and whether it computes in bfloat16. vLLM refuses bfloat16 below compute capability 8.0
("Bfloat16 is only supported on GPUs with compute capability of at least 8.0", vllm-project/vllm
issues #946, #1157), so Volta (V100) and Turing (T4) pools need `dtype: half`.
FP8 tensor cores start with Ada (8.9) and Hopper (9.0): the L4, L40S, H100 and H200 datasheets list
FP8 Tensor Core TFLOPS, the A100 and A10 ones do not.

Ids are stable lowercase label values (`kiva.platform/gpu`): never rename one, add a new id instead.
`a100` is kept as its own id with the figures of `a100-80gb` (the only A100 that Azure's NC A100 v4
rents, and what `a100` meant before the catalogue), so existing stacks and node labels stay as they
are. `other` is for anything else: the pool then states `gpuMemoryGb` and `computeCapability`.

Sources per row: compute capability from NVIDIA's table https://developer.nvidia.com/cuda-gpus (9.0 H200
and H100, 8.9 L4 and L40S, 8.6 A10) and https://developer.nvidia.com/cuda-legacy-gpus (7.0 V100); T4 7.5
and V100 7.0 also as vLLM reports them ("Your Tesla T4 GPU has compute capability 7.5", "Tesla
V100-SXM2-32GB GPU has compute capability 7.0", vllm-project/vllm #1157, #946); A100 8.0 from the
earlier edition of the same NVIDIA table. Memory as NVIDIA's datasheets state it, read through the
pages that quote them (named per row), and Azure's size docs where Azure rents the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GpuType = Literal[
    "t4",
    "v100-16gb",
    "v100-32gb",
    "a10",
    "l4",
    "l40s",
    "a100",
    "a100-40gb",
    "a100-80gb",
    "h100",
    "h100-nvl",
    "h200",
    "other",
]
#: The id of a GPU the catalogue does not know; its pool states memory and compute capability.
OTHER: GpuType = "other"
#: Lowest compute capability with bfloat16 in vLLM (vllm/platforms/cuda.py, the error quoted above).
BFLOAT16_MIN_CAPABILITY = (8, 0)
#: Lowest compute capability with FP8 tensor cores (Ada Lovelace).
FP8_MIN_CAPABILITY = (8, 9)


@dataclass(frozen=True)
class GpuModel:
    """One GPU type: what the sizing check and the vLLM arguments depend on."""

    id: str
    """Stable lowercase id, the `gpuType` value and the `kiva.platform/gpu` label value."""
    name: str
    """Product name, for messages."""
    memory_gb: float
    """Memory of one GPU in GB, as the datasheet states it."""
    compute_capability: str
    """CUDA compute capability, `major.minor`."""

    @property
    def capability(self) -> tuple[int, int]:
        major, minor = self.compute_capability.split(".")
        return int(major), int(minor)

    @property
    def bfloat16(self) -> bool:
        """Whether vLLM serves bfloat16 on it (compute capability ≥ 8.0)."""
        return self.capability >= BFLOAT16_MIN_CAPABILITY

    @property
    def fp8(self) -> bool:
        """Whether it has FP8 tensor cores (compute capability ≥ 8.9)."""
        return self.capability >= FP8_MIN_CAPABILITY


GPU_CATALOGUE: dict[str, GpuModel] = {
    gpu.id: gpu
    for gpu in (
        # T4: 16 GB (Azure NCasT4_v3 sizes; Hugging Face's Azure hardware table: "NVIDIA TESLA T4 | 16 GB"); CC 7.5.
        GpuModel("t4", "NVIDIA T4", 16, "7.5"),
        # V100: 16 GB HBM2 at launch (NVIDIA GV100 announcement tables), 32 GB parts ("Tesla V100-SXM2-32GB",
        # "V100-PCIE-32GB" as vLLM and nvidia-smi name them); CC 7.0 (cuda-legacy-gpus).
        GpuModel("v100-16gb", "NVIDIA V100 16GB", 16, "7.0"),
        GpuModel("v100-32gb", "NVIDIA V100 32GB", 32, "7.0"),
        # A10: 24 GB (Azure NVadsA10 v5 docs: "a full A10 GPU with 24-GiB frame buffer"); CC 8.6 (cuda-gpus).
        GpuModel("a10", "NVIDIA A10", 24, "8.6"),
        # L4: 24 GB GDDR6 (NVIDIA L4 datasheet figures, 72 W, 300 GB/s); CC 8.9 (cuda-gpus).
        GpuModel("l4", "NVIDIA L4", 24, "8.9"),
        # L40S: 48 GB GDDR6 with ECC, 864 GB/s (NVIDIA L40S datasheet figures); CC 8.9 (cuda-gpus).
        GpuModel("l40s", "NVIDIA L40S", 48, "8.9"),
        # A100: 40 GB HBM2 or 80 GB HBM2e (NVIDIA A100 datasheet, A100 40GB PCIe product brief
        # PB-10137-001); CC 8.0 (cuda-gpus). `a100` = the 80 GB part (Azure NC A100 v4).
        GpuModel("a100", "NVIDIA A100 80GB", 80, "8.0"),
        GpuModel("a100-40gb", "NVIDIA A100 40GB", 40, "8.0"),
        GpuModel("a100-80gb", "NVIDIA A100 80GB", 80, "8.0"),
        # H100 SXM5 and PCIe: 80 GB (NVIDIA H100 datasheet figures, H100 PCIe product brief PB-11133-001);
        # H100 NVL: 94 GB HBM3 per GPU (H100 NVL part 900-21010-0120-030); CC 9.0 (cuda-gpus).
        GpuModel("h100", "NVIDIA H100 80GB", 80, "9.0"),
        GpuModel("h100-nvl", "NVIDIA H100 NVL", 94, "9.0"),
        # H200: 141 GB HBM3e, 4.8 TB/s (NVIDIA H200 datasheet figures, SC23 announcement); CC 9.0 (cuda-gpus).
        GpuModel("h200", "NVIDIA H200", 141, "9.0"),
    )
}

#: Memory of one GPU by type, for pools described by type rather than VM size.
GPU_MEMORY_GB: dict[str, float] = {gpu.id: gpu.memory_gb for gpu in GPU_CATALOGUE.values()}


def known_types() -> str:
    """The catalogue's ids, for messages."""
    return ", ".join([*GPU_CATALOGUE, OTHER])


@dataclass(frozen=True)
class MigProfile:
    """One Multi-Instance GPU profile: a slice of a GPU with its own memory and compute."""

    name: str
    """NVIDIA's profile name `<compute slices>g.<memory>gb`, e.g. `1g.10gb`."""
    memory_gb: float
    """Memory of one slice in GB, as the profile's name states it (`nvidia-smi mig -lgip` shows a
    little less in GiB, e.g. 4.75 GiB for 1g.5gb: vLLM's `gpuMemoryUtilization` leaves that room)."""
    per_gpu: int
    """Slices of this profile one GPU holds when every slice has this profile (MIG "single")."""

    @property
    def compute_slices(self) -> int:
        """The `g` count: sevenths of the GPU's compute (AKS's `gpuInstanceProfile` MIG<n>g)."""
        return int(self.name.split("g.", 1)[0])


def _profiles(*rows: tuple[str, int]) -> dict[str, MigProfile]:
    return {name: MigProfile(name, float(name.split(".")[1].removesuffix("gb")), n) for name, n in rows}


#: MIG profiles per GPU id, as NVIDIA's MIG user guide lists them ("Supported MIG Profiles",
#: https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html: A100-SXM4-40GB
#: table, and "for A100-SXM4-80GB, the profile names will change according to the memory proportion")
#: and as the GPU operator's default mig-parted config creates them (NVIDIA/gpu-operator
#: assets/state-mig-manager/0400_configmap.yaml, `default-mig-parted-config`: `all-<profile>` with the
#: count per GPU, e.g. `all-1g.10gb` = 7 × 1g.10gb on A100/H100 80GB and 4 × 1g.10gb on A100 40GB,
#: `all-1g.12gb` = 7 × 1g.12gb on H100 NVL). The `+me` (media extension) variants are left out: one
#: per GPU, and a model server needs no video decoder. Only A100 and H100 (and no other catalogue GPU)
#: support MIG in this catalogue (MIG user guide, "Supported GPUs": compute capability ≥ 8.0, A100,
#: A30, H100, H200, B200, ...; T4, V100, A10, L4 and L40S are not listed).
MIG_PROFILES: dict[str, dict[str, MigProfile]] = {
    "a100-40gb": _profiles(
        ("1g.5gb", 7), ("1g.10gb", 4), ("2g.10gb", 3), ("3g.20gb", 2), ("4g.20gb", 1), ("7g.40gb", 1)
    ),
    "a100-80gb": _profiles(
        ("1g.10gb", 7), ("1g.20gb", 4), ("2g.20gb", 3), ("3g.40gb", 2), ("4g.40gb", 1), ("7g.80gb", 1)
    ),
    "h100": _profiles(
        ("1g.10gb", 7), ("1g.20gb", 4), ("2g.20gb", 3), ("3g.40gb", 2), ("4g.40gb", 1), ("7g.80gb", 1)
    ),
    "h100-nvl": _profiles(
        ("1g.12gb", 7), ("1g.24gb", 4), ("2g.24gb", 3), ("3g.47gb", 2), ("4g.47gb", 1), ("7g.94gb", 1)
    ),
}
MIG_PROFILES["a100"] = MIG_PROFILES["a100-80gb"]


def mig_profiles(gpu: GpuModel) -> dict[str, MigProfile]:
    """The MIG profiles of one GPU (`{}` when it has none). Keyed by memory where an id covers two
    parts: Azure's NCads H100 v5 is labelled `h100` but carries the 94 GB H100 NVL (`gpu_skus.py`)."""
    if gpu.id == "h100" and gpu.memory_gb == GPU_CATALOGUE["h100-nvl"].memory_gb:
        return MIG_PROFILES["h100-nvl"]
    return MIG_PROFILES.get(gpu.id, {})


def mig_gpus() -> str:
    """The catalogue ids with MIG, for messages."""
    return ", ".join(MIG_PROFILES)
