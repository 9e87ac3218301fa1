"""Assembles the Azure cloud layer into the `CloudFoundation` the platform layer consumes.

Order matters only through data: the cluster's OIDC issuer feeds the federated identities, its
kubeconfig the Kubernetes provider; the general pool, GPU pools and role assignments are handed to the
platform as `depends_on`, so Helm releases, model servers and External Secrets wait until nodes and
permissions exist. The Kubernetes provider itself waits for the deployer's AKS role to propagate
(`RbacPropagation`), so no Kubernetes call of the first `pulumi up` meets a 403.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization

from components.azure.aks_cluster import AksCluster
from components.azure.backup_storage import BackupStorage
from components.azure.common import AzureContext, azure_tags
from components.azure.general_node_pool import GeneralNodePool
from components.azure.gpu_node_pool import GpuNodePool
from components.azure.key_vault import KeyVault, VaultNetwork, key_vault_store
from components.azure.providers import azure_provider, cluster_provider
from components.azure.rbac_propagation import RbacPropagation
from components.contracts import (
    GPU_TAINT_TOLERATIONS,
    BackupEgress,
    BackupTarget,
    CloudFoundation,
    GpuNodes,
    Scheduling,
    Toleration,
)
from components.secret_values import platform_secret_values
from infra.settings import AzureCluster, GpuPool, StackSettings

#: AKS taints every node of a spot pool with this (`gpu_node_pool.SPOT_TAINT`); pods must tolerate it.
SPOT_TOLERATION: Toleration = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
#: The NVIDIA DaemonSets tolerate the spot taint whether or not a pool is spot today: a toleration only
#: permits, the node affinity decides which nodes, and a pool switched to spot keeps its device plugin.
DAEMONSET_TOLERATIONS: tuple[Toleration, ...] = (*GPU_TAINT_TOLERATIONS, SPOT_TOLERATION)


def aks_gpu_nodes(pool: GpuPool) -> GpuNodes:
    """What a pod needs on an AKS GPU pool: the GPU taints, plus AKS's spot taint on spot pools.

    With `driver: aks` AKS installs the NVIDIA driver and the platform the device plugin; the vLLM
    image's CUDA is newer than AKS's managed driver, so datacenter GPUs (all but the A10) run it in
    forward-compatibility mode.
    """
    return GpuNodes(
        tolerations=(*GPU_TAINT_TOLERATIONS, SPOT_TOLERATION) if pool.spot else GPU_TAINT_TOLERATIONS,
        nvidia_software="device-plugin" if pool.driver == "aks" else "gpu-operator",
        cuda_compatibility=pool.driver == "aks" and pool.kind != "a10",
    )


def blob_backup_target(destination_path: pulumi.Output[str], client_id: pulumi.Output[str]) -> BackupTarget:
    """Backups to a Blob container: the plugin sidecar authenticates as the database cluster's service
    account through workload identity (the pods opt in by label, the account names the identity)."""
    return BackupTarget(
        configuration={
            "destinationPath": destination_path,
            "azureCredentials": {"useDefaultAzureCredentials": True},
        },
        egress=BackupEgress(port=443),
        pod_labels={"azure.workload.identity/use": "true"},
        service_account_annotations={"azure.workload.identity/client-id": client_id},
    )


def aks_scheduling(cluster: AzureCluster) -> Scheduling:
    """The platform's own pods run on the general pool: its zones, and at most its maximum node count."""
    return Scheduling(zones=tuple(cluster.general_zones), hosts=cluster.general_pool.max_count)


def build_azure_foundation(
    name: str, settings: StackSettings, config: pulumi.Config, generated: dict[str, pulumi.Output[str]]
) -> CloudFoundation:
    cluster_settings = settings.cluster
    assert isinstance(cluster_settings, AzureCluster)
    provider = azure_provider(name, settings.region)
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(provider=provider))
    ctx = AzureContext(
        settings=settings,
        location=settings.region,
        tags=azure_tags(settings),
        tenant_id=client.tenant_id,
        subscription_id=client.subscription_id,
        deployer_object_id=client.object_id,
    )
    azure_opts = pulumi.ResourceOptions(providers=[provider])

    aks = AksCluster(name, ctx, opts=azure_opts)
    group = aks.resource_group.name
    general = GeneralNodePool(
        f"{name}-general",
        ctx,
        cluster_settings,
        resource_group_name=group,
        cluster_name=aks.cluster.name,
        subnet_id=aks.network.node_subnet.id,
        opts=azure_opts,
    )
    # AKS refuses a second agent pool operation on a cluster while one is running (409
    # OperationNotAllowed), so the pools are created one after the other.
    pools: list[GpuNodePool] = []
    previous: pulumi.Resource = general.agent_pool
    for pool in settings.gpu_pools:
        gpu = GpuNodePool(
            f"{name}-gpu-{pool.name}",
            ctx,
            pool,
            resource_group_name=group,
            cluster_name=aks.cluster.name,
            subnet_id=aks.network.node_subnet.id,
            kubernetes_version=cluster_settings.kubernetes_version,
            opts=pulumi.ResourceOptions.merge(azure_opts, pulumi.ResourceOptions(depends_on=[previous])),
        )
        pools.append(gpu)
        previous = gpu.agent_pool
    values = platform_secret_values(settings, config, generated)
    vault = KeyVault(
        name,
        ctx,
        group,
        VaultNetwork(
            vnet_id=aks.network.vnet.id,
            endpoint_subnet_id=aks.network.endpoint_subnet.id,
            node_subnet_id=aks.network.node_subnet.id,
        ),
        aks.oidc_issuer_url,
        values,
        opts=azure_opts,
    )
    backups = BackupStorage(f"{name}-backups", ctx, group, aks.oidc_issuer_url, opts=azure_opts)
    rbac_ready = RbacPropagation(f"{name}-deployer-rbac-propagation", aks.deployer_admin)
    kubernetes = cluster_provider(
        name, aks.kubeconfig, aks.cluster.id, opts=pulumi.ResourceOptions(depends_on=[rbac_ready])
    )

    return CloudFoundation(
        kubernetes=kubernetes,
        secrets=key_vault_store(vault.vault_url, ctx.tenant_id, vault.reader.client_id, frozenset(values)),
        backup=blob_backup_target(backups.destination_path, backups.writer.client_id),
        scheduling=aks_scheduling(cluster_settings),
        gpu_pools={pool.name: aks_gpu_nodes(pool) for pool in settings.gpu_pools},
        gpu_daemonset_tolerations=DAEMONSET_TOLERATIONS,
        needs_external_secrets=True,
        depends_on=[
            aks.deployer_admin,
            rbac_ready,
            aks.subnet_network_contributor,
            general.agent_pool,
            *(pool.agent_pool for pool in pools),
            *vault.role_assignments,
            vault.reader.credential,
            *vault.secrets.values(),
            backups.role_assignment,
            backups.writer.credential,
            backups.container,
        ],
        outputs={
            "resourceGroupName": group,
            "clusterName": aks.cluster.name,
            "oidcIssuerUrl": aks.oidc_issuer_url,
            "kubeconfig": aks.kubeconfig,
            "keyVaultUrl": vault.vault_url,
            "backupDestinationPath": backups.destination_path,
        },
    )
