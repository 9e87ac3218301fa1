"""Assembles the Azure cloud layer into the `CloudFoundation` the platform layer consumes.

Order matters only through data: the cluster's OIDC issuer feeds the federated identities, its
kubeconfig the Kubernetes provider; the general pool, GPU pools and role assignments are handed to the
platform as `depends_on`, so Helm releases, model servers and External Secrets wait until nodes and
permissions exist. The Kubernetes provider itself waits for the deployer's AKS role to propagate
(`RbacPropagation`), so no Kubernetes call of the first `pulumi up` meets a 403.

This is also the one place where the stack's settings become the Azure components' inputs: each
component takes a small frozen `<Component>Args` of plain values, built here by `*_args`, plus the
`AzureContext` (region, tags, deploying identity); the cluster's variant is checked once, here. No
other module under `components/azure/` reads `StackSettings` or `pulumi.Config`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from kiva_policies.regions import AZURE_REGIONS
from pulumi_azure_native import authorization

from components.azure.aks_cluster import AksCluster, AksClusterArgs, MaintenanceArgs, SystemPoolArgs
from components.azure.backup_storage import BackupStorage, BackupStorageArgs
from components.azure.common import AzureContext
from components.azure.general_node_pool import GeneralNodePool, GeneralNodePoolArgs
from components.azure.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.azure.key_vault import KeyVault, KeyVaultArgs, VaultNetwork, key_vault_store
from components.azure.network import ClusterNetworkArgs
from components.azure.private_endpoint import EndpointPlacement
from components.azure.providers import azure_provider, cluster_provider
from components.azure.rbac_propagation import RbacPropagation
from components.azure.service_key_store import key_vault_key_store
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
from infra.settings.gpu_sharing import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    MIG_CONFIG_LABEL,
    aks_gpu_instance_profile,
    device_plugin_config_name,
    mig_config_name,
)
from infra.settings.workloads import AKS_APP_ROUTING_CLASS

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

    With `driver: preinstalled` (formerly `aks`) AKS installs the NVIDIA driver and the platform the
    device plugin; the vLLM image's CUDA is newer than AKS's managed driver, so datacenter GPUs (all but
    the A10) run it in forward-compatibility mode unless the pool's `cudaCompatibility` says otherwise.
    """
    managed_driver_default = pool.driver == "preinstalled" and pool.kind != "a10"
    return GpuNodes(
        tolerations=(*GPU_TAINT_TOLERATIONS, SPOT_TOLERATION) if pool.spot else GPU_TAINT_TOLERATIONS,
        nvidia_software="device-plugin" if pool.driver == "preinstalled" else "gpu-operator",
        cuda_compatibility=(
            managed_driver_default if pool.cuda_compatibility is None else pool.cuda_compatibility
        ),
    )


def blob_backup_target(
    destination_path: pulumi.Output[str], client_id: pulumi.Output[str], endpoint_cidr: str | None = None
) -> BackupTarget:
    """Backups to a Blob container: the plugin sidecar authenticates as the database cluster's service
    account through workload identity (the pods opt in by label, the account names the identity).

    With a private endpoint (`endpoint_cidr`, the private-endpoint subnet) the account's name resolves
    into that subnet, so the backups go there on 443 rather than to any address. The token request to
    Entra ID (`login.microsoftonline.com`, public) is not a backup flow: it shares the instances' HTTPS
    egress to the API server."""
    return BackupTarget(
        configuration={
            "destinationPath": destination_path,
            "azureCredentials": {"useDefaultAzureCredentials": True},
        },
        egress=BackupEgress(port=443, cidr=endpoint_cidr),
        pod_labels={"azure.workload.identity/use": "true"},
        service_account_annotations={"azure.workload.identity/client-id": client_id},
    )


def aks_scheduling(cluster: AzureCluster) -> Scheduling:
    """The platform's own pods run on the general pool: its zones, and at most its maximum node count."""
    return Scheduling(zones=tuple(cluster.general_zones), hosts=cluster.general_pool.max_count)


def azure_tags(settings: StackSettings) -> dict[str, str]:
    """Tags on every Azure resource: stage, owner, cost centre and data classification (and any extras)."""
    tags = settings.tags
    return {
        **tags.extra,
        "stage": pulumi.get_stack(),
        "environment": settings.environment,
        "owner": tags.owner,
        "costCenter": tags.cost_center,
        "dataClassification": tags.data_classification,
        "managedBy": "pulumi-kiva",
    }


def uses_app_routing(settings: StackSettings) -> bool:
    """Whether the gateway's Ingress asks for AKS's application routing add-on (managed NGINX)."""
    ingress = settings.gateway.ingress
    return ingress is not None and ingress.class_name == AKS_APP_ROUTING_CLASS


def aks_cluster_args(settings: StackSettings, cluster: AzureCluster) -> AksClusterArgs:
    network = cluster.network
    system = cluster.system_pool
    window = cluster.maintenance
    return AksClusterArgs(
        kubernetes_version=cluster.kubernetes_version,
        sku_tier=cluster.sku_tier,
        system_pool=SystemPoolArgs(
            vm_size=system.vm_size,
            os_disk_size_gb=system.os_disk_size_gb,
            min_count=system.min_count,
            max_count=system.max_count,
        ),
        zones=tuple(cluster.zones),
        admin_group_object_ids=tuple(cluster.admin_group_object_ids),
        network_policy=cluster.network_policy,
        network=ClusterNetworkArgs(
            vnet_cidr=network.vnet_cidr,
            node_subnet_cidr=network.node_subnet_cidr,
            private_endpoint_subnet_cidr=network.private_endpoint_subnet_cidr,
        ),
        pod_cidr=network.pod_cidr,
        service_cidr=network.service_cidr,
        dns_service_ip=network.dns_service_ip,
        private_api_server=cluster.api_server.private,
        authorized_ip_ranges=tuple(cluster.api_server.authorized_ip_ranges),
        maintenance=MaintenanceArgs(
            day_of_week=window.day_of_week,
            start_hour=window.start_hour,
            duration_hours=window.duration_hours,
            utc_offset=window.utc_offset,
        ),
        log_retention_days=settings.retention.log_analytics_days,
        app_routing=uses_app_routing(settings),
        protect=settings.production,
    )


def general_node_pool_args(cluster: AzureCluster) -> GeneralNodePoolArgs:
    pool = cluster.general_pool
    return GeneralNodePoolArgs(
        vm_size=pool.vm_size,
        os_disk_size_gb=pool.os_disk_size_gb,
        min_count=pool.min_count,
        max_count=pool.max_count,
        zones=tuple(cluster.general_zones),
        kubernetes_version=cluster.kubernetes_version,
    )


def gpu_node_pool_args(pool: GpuPool, kubernetes_version: str) -> GpuNodePoolArgs:
    sku = pool.sku
    assert sku is not None, "validated: Azure pools have a known vmSize"
    return GpuNodePoolArgs(
        name=pool.name,
        vm_size=sku.vm_size,
        gpu_type=pool.kind,
        os_disk_size_gb=pool.os_disk_size_gb,
        min_count=pool.min_count,
        max_count=pool.max_count,
        zones=tuple(pool.zones),
        spot=pool.spot,
        aks_installs_driver=pool.driver != "operator",
        kubernetes_version=kubernetes_version,
        extra_labels=gpu_sharing_labels(pool),
        gpu_instance_profile=(
            aks_gpu_instance_profile(profile)
            if (profile := pool.mig_profile) and pool.driver == "preinstalled"
            else None
        ),
    )


def gpu_sharing_labels(pool: GpuPool) -> tuple[tuple[str, str], ...]:
    """The labels by which shared GPUs are set up: the device plugin's config for time-slicing and for
    MIG slices AKS cuts (`migStrategy: single`), the GPU operator's MIG config for MIG it cuts."""
    profile = pool.mig_profile
    if profile is not None and pool.driver == "operator":
        return ((MIG_CONFIG_LABEL, mig_config_name(profile)),)
    if pool.replicas_per_gpu > 1 or profile is not None:
        return ((DEVICE_PLUGIN_CONFIG_LABEL, device_plugin_config_name(pool.name)),)
    return ()


def key_vault_args(
    settings: StackSettings, cluster: AzureCluster, values: Mapping[str, pulumi.Output[str]]
) -> KeyVaultArgs:
    return KeyVaultArgs(
        private_endpoint=cluster.key_vault.private_endpoint,
        allowed_ips=tuple(cluster.key_vault.allowed_ips),
        soft_delete_days=settings.retention.key_vault_soft_delete_days,
        values=values,
    )


def backup_storage_args(settings: StackSettings, cluster: AzureCluster) -> BackupStorageArgs:
    return BackupStorageArgs(
        soft_delete_days=settings.retention.blob_soft_delete_days,
        backup_days=settings.retention.backup_days,
        zone_redundant=AZURE_REGIONS[settings.region].zones and settings.production,
        private_endpoint=cluster.backup_private_endpoint,
    )


def build_azure_foundation(
    name: str, settings: StackSettings, config: pulumi.Config, generated: dict[str, pulumi.Output[str]]
) -> CloudFoundation:
    cluster_settings = settings.cluster
    if not isinstance(cluster_settings, AzureCluster):
        raise TypeError(f"the Azure foundation needs an Azure cluster, got {type(cluster_settings).__name__}")
    provider = azure_provider(name, settings.region)
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(provider=provider))
    ctx = AzureContext(
        location=settings.region,
        tags=azure_tags(settings),
        tenant_id=client.tenant_id,
        subscription_id=client.subscription_id,
        deployer_object_id=client.object_id,
    )
    azure_opts = pulumi.ResourceOptions(providers=[provider])

    aks = AksCluster(name, ctx, aks_cluster_args(settings, cluster_settings), opts=azure_opts)
    group = aks.resource_group.name
    general = GeneralNodePool(
        f"{name}-general",
        ctx,
        general_node_pool_args(cluster_settings),
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
            gpu_node_pool_args(pool, cluster_settings.kubernetes_version),
            resource_group_name=group,
            cluster_name=aks.cluster.name,
            subnet_id=aks.network.node_subnet.id,
            opts=pulumi.ResourceOptions.merge(azure_opts, pulumi.ResourceOptions(depends_on=[previous])),
        )
        pools.append(gpu)
        previous = gpu.agent_pool
    values = platform_secret_values(settings, config, generated)
    vault = KeyVault(
        name,
        ctx,
        key_vault_args(settings, cluster_settings, values),
        group,
        VaultNetwork(
            vnet_id=aks.network.vnet.id,
            endpoint_subnet_id=aks.network.endpoint_subnet.id,
            node_subnet_id=aks.network.node_subnet.id,
        ),
        aks.oidc_issuer_url,
        opts=azure_opts,
    )
    backups = BackupStorage(
        f"{name}-backups",
        ctx,
        backup_storage_args(settings, cluster_settings),
        group,
        aks.oidc_issuer_url,
        opts=azure_opts,
        placement=EndpointPlacement(vnet_id=aks.network.vnet.id, subnet_id=aks.network.endpoint_subnet.id),
    )
    rbac_ready = RbacPropagation(f"{name}-deployer-rbac-propagation", aks.deployer_admin)
    kubernetes = cluster_provider(
        name, aks.kubeconfig, aks.cluster.id, opts=pulumi.ResourceOptions(depends_on=[rbac_ready])
    )

    return CloudFoundation(
        kubernetes=kubernetes,
        secrets=key_vault_store(vault.vault_url, ctx.tenant_id, vault.reader.client_id, frozenset(values)),
        backup=blob_backup_target(
            backups.destination_path,
            backups.writer.client_id,
            cluster_settings.network.private_endpoint_subnet_cidr if backups.private_access else None,
        ),
        scheduling=aks_scheduling(cluster_settings),
        gpu_pools={pool.name: aks_gpu_nodes(pool) for pool in settings.gpu_pools},
        gpu_daemonset_tolerations=DAEMONSET_TOLERATIONS,
        needs_external_secrets=True,
        service_key_store=key_vault_key_store(vault.vault, group, ctx, provider, vault.role_assignments),
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
            # Backups start with the first WAL segment: the account's name must resolve privately by then.
            *([backups.private_access.zone_group] if backups.private_access else []),
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
