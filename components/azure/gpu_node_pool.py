"""One AKS user node pool of GPU VMs, tainted so that only model servers land on it.

The taint `nvidia.com/gpu=present:NoSchedule` keeps everything but GPU workloads off expensive nodes;
the labels let the platform layer pin each model server to its pool (`kiva.platform/gpu-pool`) and
its GPU type (`kiva.platform/gpu`). `minCount: 0` lets dev scale GPUs to zero when no model runs.
The driver is installed by AKS, or (driver `operator`) left to the NVIDIA GPU operator, which AKS
requires to be decided when the pool is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerservice as cs

from components.azure.common import AzureContext

GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"
#: AKS puts this taint on spot pools itself; stating it keeps the plan honest and avoids a diff.
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
GPU_POOL_LABEL = "kiva.platform/gpu-pool"
GPU_TYPE_LABEL = "kiva.platform/gpu"


@dataclass(frozen=True)
class GpuNodePoolArgs:
    """One `kiva:gpuPools` entry as AKS creates it: the VM size resolved from the known-SKU table."""

    name: str
    vm_size: str
    gpu_type: str
    """The GPU type (`t4`, `a10`, `a100`, `h100`), the value of the `kiva.platform/gpu` label."""
    os_disk_size_gb: int
    min_count: int
    max_count: int
    zones: tuple[str, ...]
    spot: bool
    aks_installs_driver: bool
    """AKS installs the NVIDIA driver (`driver: aks`), else the NVIDIA GPU operator does."""
    kubernetes_version: str
    extra_labels: tuple[tuple[str, str], ...] = ()
    """Further node labels, e.g. `nvidia.com/device-plugin.config` naming a sharing pool's device plugin
    config, or `nvidia.com/mig.config` naming the GPU operator's MIG config of a MIG pool."""
    gpu_instance_profile: str | None = None
    """AKS cuts every GPU into MIG slices of this profile (`MIG1g` ... `MIG7g`, agent pool
    `gpuInstanceProfile`; fixed at creation, AKS "Create a multi-instance GPU node pool"). None: whole GPUs."""


def gpu_pool_labels(pool: GpuNodePoolArgs) -> dict[str, str]:
    labels = {"nvidia.com/gpu.present": "true", GPU_TYPE_LABEL: pool.gpu_type, GPU_POOL_LABEL: pool.name}
    return labels | dict(pool.extra_labels)


class GpuNodePool(pulumi.ComponentResource):
    """An autoscaled `AgentPool` of one GPU VM size from the known-SKU table."""

    agent_pool: cs.AgentPool

    def __init__(
        self,
        name: str,
        ctx: AzureContext,
        pool: GpuNodePoolArgs,
        resource_group_name: pulumi.Input[str],
        cluster_name: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:azure:GpuNodePool", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self.agent_pool = cs.AgentPool(
            name,
            agent_pool_name=pool.name,
            resource_group_name=resource_group_name,
            resource_name_=cluster_name,
            mode=cs.AgentPoolMode.USER,
            type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            vm_size=pool.vm_size,
            os_type=cs.OSType.LINUX,
            os_sku=cs.OSSKU.UBUNTU,
            os_disk_size_gb=pool.os_disk_size_gb,
            count=pool.min_count,
            enable_auto_scaling=True,
            min_count=pool.min_count,
            max_count=pool.max_count,
            availability_zones=list(pool.zones) or None,
            node_taints=[GPU_TAINT, SPOT_TAINT] if pool.spot else [GPU_TAINT],
            node_labels=gpu_pool_labels(pool),
            gpu_profile=cs.GPUProfileArgs(
                driver=cs.GPUDriver.INSTALL if pool.aks_installs_driver else cs.GPUDriver.NONE
            ),
            gpu_instance_profile=pool.gpu_instance_profile,
            enable_node_public_ip=False,
            vnet_subnet_id=subnet_id,
            orchestrator_version=pool.kubernetes_version,
            upgrade_settings=None if pool.spot else cs.AgentPoolUpgradeSettingsArgs(max_surge="1"),
            tags=ctx.tags,
            scale_set_priority=cs.ScaleSetPriority.SPOT if pool.spot else None,
            scale_set_eviction_policy=cs.ScaleSetEvictionPolicy.DELETE if pool.spot else None,
            spot_max_price=-1.0 if pool.spot else None,  # at most the on-demand price: no eviction for price
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(ignore_changes=["count"])),
        )
        self.register_outputs({"name": self.agent_pool.name})
