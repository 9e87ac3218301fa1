"""The GPU virtual machine sizes KIVA can schedule models on, with what each node offers.

Figures are from the Azure VM size documentation (NCasT4_v3, NVadsA10_v5, NC_A100_v4, NCads_H100_v5).
Partial-GPU sizes (NV6/12/18ads_A10_v5) are left out on purpose: vLLM needs whole GPUs.
What each GPU type can do is in `gpu_catalogue.py`; a size's own `gpu_memory_gb` wins over the
catalogue's figure for its type: NCads H100 v5 carries the 94 GB H100 NVL but keeps the label `h100`
that its pools have always had.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings.gpu_catalogue import GpuType


@dataclass(frozen=True)
class GpuSku:
    vm_size: str
    gpu_type: GpuType
    gpus: int
    gpu_memory_gb: int
    """Memory of one GPU (NCads H100 v5: 94 GB, H100 NVL)."""
    vcpus: int
    memory_gib: int


GPU_SKUS: dict[str, GpuSku] = {
    sku.vm_size: sku
    for sku in (
        GpuSku("Standard_NC4as_T4_v3", "t4", 1, 16, 4, 28),
        GpuSku("Standard_NC8as_T4_v3", "t4", 1, 16, 8, 56),
        GpuSku("Standard_NC16as_T4_v3", "t4", 1, 16, 16, 110),
        GpuSku("Standard_NC64as_T4_v3", "t4", 4, 16, 64, 440),
        GpuSku("Standard_NV36ads_A10_v5", "a10", 1, 24, 36, 440),
        GpuSku("Standard_NV72ads_A10_v5", "a10", 2, 24, 72, 880),
        GpuSku("Standard_NC24ads_A100_v4", "a100", 1, 80, 24, 220),
        GpuSku("Standard_NC48ads_A100_v4", "a100", 2, 80, 48, 440),
        GpuSku("Standard_NC96ads_A100_v4", "a100", 4, 80, 96, 880),
        GpuSku("Standard_NC40ads_H100_v5", "h100", 1, 94, 40, 320),
        GpuSku("Standard_NC80adis_H100_v5", "h100", 2, 94, 80, 640),
    )
}
