"""What one AKS node of a given Azure VM size offers pods: allocatable CPU, memory and GPUs.

Sizes and figures are copied as data (the pack must not import `infra`):
- D-series (Dsv5, Ddsv5, Dasv5, Dadsv5): vCPUs and GiB from the Azure VM size documentation
  (https://learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/ddsv5-series and siblings).
- GPU sizes: the table in `infra/settings/gpu_skus.py` (NCasT4_v3, NVadsA10_v5, NC_A100_v4, NCads_H100_v5);
  `tests/policies/day_one/test_scheduling.py` keeps the two in step.

Allocatable follows "Node resource reservations in AKS" (AKS 1.29 and later,
https://learn.microsoft.com/azure/aks/node-resource-reservations): kube-reserved CPU by core count
(60/100/140/180/260/420/740 millicores for 1/2/4/8/16/32/64 cores; linear in between, an assumption
for sizes the table skips), kube-reserved memory = the lesser of 20 MB × max pods + 50 MB and 25 % of
the VM's memory, plus the kubelet's `memory.available<100Mi` eviction threshold. AKS's own
DaemonSets (CNI, CSI, monitoring agents) are not subtracted: the check is a lower bound on trouble.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

GIB = 2**30
MIB = 2**20


@dataclass(frozen=True)
class VmSize:
    name: str
    vcpus: int
    memory_gib: int
    gpus: int = 0


def _d_series() -> list[VmSize]:
    sizes = []
    for family in ("s_v5", "ds_v5", "as_v5", "ads_v5"):
        for vcpus in (2, 4, 8, 16, 32, 48, 64, 96):
            sizes.append(VmSize(f"Standard_D{vcpus}{family}", vcpus, vcpus * 4))
    return sizes


_GPU_SIZES = [
    VmSize("Standard_NC4as_T4_v3", 4, 28, 1),
    VmSize("Standard_NC8as_T4_v3", 8, 56, 1),
    VmSize("Standard_NC16as_T4_v3", 16, 110, 1),
    VmSize("Standard_NC64as_T4_v3", 64, 440, 4),
    VmSize("Standard_NV36ads_A10_v5", 36, 440, 1),
    VmSize("Standard_NV72ads_A10_v5", 72, 880, 2),
    VmSize("Standard_NC24ads_A100_v4", 24, 220, 1),
    VmSize("Standard_NC48ads_A100_v4", 48, 440, 2),
    VmSize("Standard_NC96ads_A100_v4", 96, 880, 4),
    VmSize("Standard_NC40ads_H100_v5", 40, 320, 1),
    VmSize("Standard_NC80adis_H100_v5", 80, 640, 2),
]

VM_SIZES: dict[str, VmSize] = {size.name.lower(): size for size in (*_d_series(), *_GPU_SIZES)}

#: AKS kube-reserved CPU (millicores) by host cores.
KUBE_RESERVED_CPU: tuple[tuple[int, int], ...] = (
    (1, 60),
    (2, 100),
    (4, 140),
    (8, 180),
    (16, 260),
    (32, 420),
    (64, 740),
)
EVICTION_THRESHOLD = 100 * MIB


def lookup(name: str) -> VmSize | None:
    return VM_SIZES.get(str(name).lower())


def kube_reserved_cpu(vcpus: int) -> int:
    table = KUBE_RESERVED_CPU
    if vcpus <= table[0][0]:
        return table[0][1]
    for (low, low_m), (high, high_m) in pairwise(table):
        if vcpus <= high:
            return round(low_m + (high_m - low_m) * (vcpus - low) / (high - low))
    (low, low_m), (high, high_m) = table[-2], table[-1]
    return round(high_m + (high_m - low_m) * (vcpus - high) / (high - low))


def allocatable(size: VmSize, max_pods: int) -> tuple[int, int]:
    """(millicores, bytes) a node of this size offers pods on AKS."""
    memory = size.memory_gib * GIB
    reserved_memory = min((20 * max_pods + 50) * MIB, memory // 4)
    return size.vcpus * 1000 - kube_reserved_cpu(size.vcpus), memory - reserved_memory - EVICTION_THRESHOLD
