"""Azure components built from hand-written Args alone, under the mock engine.

No stack file, no `StackSettings`, no `pulumi.Config`: each component gets its `<Component>Args` and an
`AzureContext` of plain values, as `components/azure/foundation.py` builds them. The assertions read
what the component registered with the engine.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.azure.backup_storage import BackupStorage, BackupStorageArgs
from components.azure.common import AzureContext
from components.azure.gpu_node_pool import GPU_TAINT, SPOT_TAINT, GpuNodePool, GpuNodePoolArgs
from components.azure.key_vault import KeyVault, KeyVaultArgs, VaultNetwork
from tests.azure.helpers import dig
from tests.platform.test_component_args import by_name, register

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


def _ctx() -> AzureContext:
    return AzureContext(
        location="germanywestcentral",
        tags={"owner": "platform-team"},
        tenant_id=pulumi.Output.from_input("00000000-0000-0000-0000-000000000002"),
        subscription_id=pulumi.Output.from_input(SUBSCRIPTION),
        deployer_object_id=pulumi.Output.from_input("00000000-0000-0000-0000-000000000003"),
    )


def _gpu_args(**overrides: object) -> GpuNodePoolArgs:
    fields: dict[str, object] = {
        "name": "gpus",
        "vm_size": "Standard_NC24ads_A100_v4",
        "gpu_type": "a100",
        "os_disk_size_gb": 256,
        "min_count": 0,
        "max_count": 2,
        "zones": ("1",),
        "spot": False,
        "aks_installs_driver": True,
        "kubernetes_version": "1.34",
    }
    return GpuNodePoolArgs(**{**fields, **overrides})  # type: ignore[arg-type]


def _gpu_pool(args: GpuNodePoolArgs) -> dict[str, Any]:
    registered = by_name(
        register(lambda: GpuNodePool("kiva-gpu-gpus", _ctx(), args, "rg", "aks", "subnet-id"))
    )
    return registered["kiva-gpu-gpus"].inputs


def test_gpu_node_pool_from_args() -> None:
    pool = _gpu_pool(_gpu_args())
    assert pool["agentPoolName"] == "gpus"
    assert pool["vmSize"] == "Standard_NC24ads_A100_v4"
    assert pool["orchestratorVersion"] == "1.34"
    assert pool["availabilityZones"] == ["1"]
    assert pool["nodeTaints"] == [GPU_TAINT]
    assert pool["nodeLabels"]["kiva.platform/gpu"] == "a100"
    assert pool["gpuProfile"] == {"driver": "Install"}
    assert pool["tags"] == {"owner": "platform-team"}
    assert "scaleSetPriority" not in pool


def test_spot_gpu_node_pool_with_operator_driver_from_args() -> None:
    pool = _gpu_pool(_gpu_args(spot=True, aks_installs_driver=False, zones=()))
    assert pool["nodeTaints"] == [GPU_TAINT, SPOT_TAINT]
    assert pool["scaleSetPriority"] == "Spot"
    assert pool["gpuProfile"] == {"driver": "None"}
    assert "availabilityZones" not in pool


def test_backup_storage_from_args() -> None:
    args = BackupStorageArgs(soft_delete_days=14, backup_days=30, zone_redundant=True)
    registered = by_name(
        register(lambda: BackupStorage("kiva-backups", _ctx(), args, "rg", "https://issuer.example/"))
    )
    assert registered["kiva-backups"].inputs["sku"] == {"name": "Standard_ZRS"}
    assert dig(registered["kiva-backups-blob-service"].inputs, "deleteRetentionPolicy", "days") == 14
    rule = dig(registered["kiva-backups-lifecycle"].inputs, "policy", "rules")[0]
    assert rule["definition"]["actions"]["version"]["delete"] == {"daysAfterCreationGreaterThan": 30}


def test_key_vault_from_args() -> None:
    network = VaultNetwork(vnet_id="vnet-id", endpoint_subnet_id="endpoints-id", node_subnet_id="nodes-id")

    def build() -> KeyVault:
        # Outputs exist only inside a running program: the secret value is made there.
        args = KeyVaultArgs(
            private_endpoint=True,
            allowed_ips=(),
            soft_delete_days=90,
            values={"gateway-master-key": pulumi.Output.secret("not-a-real-key")},
        )
        return KeyVault("kiva", _ctx(), args, "rg", network, "https://issuer.example/")

    registered = by_name(register(build))
    properties = registered["kiva"].inputs["properties"]
    assert properties["softDeleteRetentionInDays"] == 90
    assert properties["publicNetworkAccess"] == "Disabled"
    assert "kiva-endpoint" in registered
    assert "kiva-gateway-master-key" in registered
