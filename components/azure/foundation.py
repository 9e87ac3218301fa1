"""Assembles the Azure cloud layer into the `CloudFoundation` the platform layer consumes.

Order matters only through data: the cluster's OIDC issuer feeds the federated identities, its
kubeconfig the Kubernetes provider; GPU pools and role assignments are handed to the platform as
`depends_on`, so model servers and External Secrets wait until nodes and permissions exist.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization

from components.azure.aks_cluster import AksCluster
from components.azure.backup_storage import BackupStorage
from components.azure.common import AzureContext, azure_tags
from components.azure.gpu_node_pool import GpuNodePool
from components.azure.key_vault import KeyVault, VaultNetwork
from components.azure.providers import azure_provider, cluster_provider
from components.contracts import AzureBlobBackups, CloudFoundation, KeyVaultSecrets
from components.secret_values import platform_secret_values
from infra.settings import AzureCluster, StackSettings


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
    pools = [
        GpuNodePool(
            f"{name}-gpu-{pool.name}",
            ctx,
            pool,
            resource_group_name=group,
            cluster_name=aks.cluster.name,
            subnet_id=aks.network.node_subnet.id,
            kubernetes_version=cluster_settings.kubernetes_version,
            opts=azure_opts,
        )
        for pool in settings.gpu_pools
    ]
    values = platform_secret_values(settings, config, generated)
    vault = KeyVault(
        name,
        ctx,
        group,
        VaultNetwork(vnet_id=aks.network.vnet.id, endpoint_subnet_id=aks.network.endpoint_subnet.id),
        aks.oidc_issuer_url,
        values,
        opts=azure_opts,
    )
    backups = BackupStorage(f"{name}-backups", ctx, group, aks.oidc_issuer_url, opts=azure_opts)
    kubernetes = cluster_provider(name, aks.kubeconfig, aks.cluster.id)

    return CloudFoundation(
        kubernetes=kubernetes,
        secrets=KeyVaultSecrets(
            vault_url=vault.vault_url,
            tenant_id=ctx.tenant_id,
            reader_client_id=vault.reader.client_id,
            names=frozenset(values),
        ),
        backups=AzureBlobBackups(
            destination_path=backups.destination_path, client_id=backups.writer.client_id
        ),
        depends_on=[
            aks.deployer_admin,
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
