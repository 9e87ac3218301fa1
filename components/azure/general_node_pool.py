"""The AKS user pool where everything runs that is neither a critical add-on nor a model server.

The system pool is tainted `CriticalAddonsOnly` and every GPU pool `nvidia.com/gpu`; the operators'
charts (CloudNativePG, its Barman Cloud plugin, cert-manager, External Secrets), the gateway and
PostgreSQL tolerate neither. Without an untainted pool their pods stay Pending and every atomic Helm
release times out and rolls back. This pool has no taints, is autoscaled between
`kiva:cluster.generalPool.minCount` and `maxCount`, and spreads over the general zones (prod: 1-3).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerservice as cs

from components.azure.common import AzureContext

#: Name of the pool in AKS (lowercase letters and digits, at most 12 characters for Linux pools).
GENERAL_POOL_NAME = "general"
#: Label the platform layer (and the day-one checks) can select general nodes by.
GENERAL_POOL_LABEL = "kiva.platform/pool"


def general_pool_labels() -> dict[str, str]:
    return {GENERAL_POOL_LABEL: GENERAL_POOL_NAME}


@dataclass(frozen=True)
class GeneralNodePoolArgs:
    """Size and placement of the general pool (`kiva:cluster.generalPool`, zones already resolved)."""

    vm_size: str
    os_disk_size_gb: int
    min_count: int
    max_count: int
    zones: tuple[str, ...]
    kubernetes_version: str


class GeneralNodePool(pulumi.ComponentResource):
    """An autoscaled, untainted `AgentPool` (mode User) in the cluster's node subnet."""

    agent_pool: cs.AgentPool

    def __init__(
        self,
        name: str,
        ctx: AzureContext,
        args: GeneralNodePoolArgs,
        resource_group_name: pulumi.Input[str],
        cluster_name: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:azure:GeneralNodePool", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self.agent_pool = cs.AgentPool(
            name,
            agent_pool_name=GENERAL_POOL_NAME,
            resource_group_name=resource_group_name,
            resource_name_=cluster_name,
            mode=cs.AgentPoolMode.USER,
            type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            vm_size=args.vm_size,
            os_type=cs.OSType.LINUX,
            os_sku=cs.OSSKU.AZURE_LINUX,
            os_disk_size_gb=args.os_disk_size_gb,
            count=args.min_count,
            enable_auto_scaling=True,
            min_count=args.min_count,
            max_count=args.max_count,
            availability_zones=list(args.zones) or None,
            node_labels=general_pool_labels(),
            enable_node_public_ip=False,
            vnet_subnet_id=subnet_id,
            orchestrator_version=args.kubernetes_version,
            upgrade_settings=cs.AgentPoolUpgradeSettingsArgs(max_surge="33%"),
            tags=ctx.tags,
            # The autoscaler owns the current node count.
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(ignore_changes=["count"])),
        )
        self.register_outputs({"name": self.agent_pool.name})
