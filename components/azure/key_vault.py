"""The platform's Key Vault: where the gateway's keys, the database password and provider API keys live.

- RBAC authorisation (no access policies), purge protection and soft delete with the configured
  retention: a deleted vault or secret can be recovered, never silently purged.
- Network: public access disabled and a private endpoint (prod), or a default-deny firewall that only
  lets the configured IPs through (dev). On every stage the firewall also admits the cluster's node
  subnet (virtual network rule; the subnet has a `Microsoft.KeyVault` service endpoint): External
  Secrets runs in pods, and pods are not a trusted Azure service that `bypass: AzureServices` admits.
- Secret values are Pulumi secrets end to end. They are written through the Azure Resource Manager
  (`Microsoft.KeyVault/vaults/secrets`), not the data plane.
- External Secrets reads the vault as a user-assigned identity federated with its service account
  (role Key Vault Secrets User); the deploying identity gets Key Vault Secrets Officer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault

from components.azure.common import AzureContext, BuiltInRole, resource_prefix, role_assignment
from components.azure.identity import FederatedIdentity
from components.azure.private_endpoint import (
    EndpointPlacement,
    PrivateAccess,
    PrivateLinkTarget,
    private_endpoint,
)
from components.contracts import (
    EXTERNAL_SECRETS_NAMESPACE,
    EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    ExternalSecretsStore,
    SecretName,
)

#: DNS zone through which a private endpoint of a Key Vault is resolved (Azure public cloud; group id
#: `vault`, Microsoft Learn "Azure Private Endpoint private DNS zone values").
PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"


def vault_name_stem(prefix: str) -> str:
    """At most 14 letters, digits and single hyphens: with `-` and 6 random characters a valid vault name."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", prefix))
    return cleaned[:14].strip("-") or "kiva"


def key_vault_store(
    vault_url: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    reader_client_id: pulumi.Input[str],
    names: frozenset[str],
) -> ExternalSecretsStore:
    """The vault as the platform's secret store: External Secrets reads it with workload identity.

    The reader service account names the user-assigned identity federated with it (`KeyVault.reader`);
    the store's `azurekv` provider authenticates as that account.
    """
    return ExternalSecretsStore(
        provider={
            "azurekv": {
                "authType": "WorkloadIdentity",
                "vaultUrl": vault_url,
                "tenantId": tenant_id,
                "environmentType": "PublicCloud",
                "serviceAccountRef": {
                    "name": EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                    "namespace": EXTERNAL_SECRETS_NAMESPACE,
                },
            }
        },
        reader_annotations={
            "azure.workload.identity/client-id": reader_client_id,
            "azure.workload.identity/tenant-id": tenant_id,
        },
        names=names,
    )


@dataclass(frozen=True)
class KeyVaultArgs:
    """Network access (`kiva:cluster.keyVault`), soft-delete retention and the secrets to store."""

    private_endpoint: bool
    allowed_ips: tuple[str, ...]
    soft_delete_days: int
    """`retention.keyVaultSoftDeleteDays`."""
    values: Mapping[str, pulumi.Output[str]]
    """Secret name to value, every value a Pulumi secret (`platform_secret_values`)."""


@dataclass(frozen=True)
class VaultNetwork:
    """The cluster's network as the vault sees it.

    `node_subnet_id` is admitted by the firewall on every stage; the private endpoint goes into
    `endpoint_subnet_id` and its DNS zone is linked to `vnet_id` (only with `keyVault.privateEndpoint`).
    """

    vnet_id: pulumi.Input[str]
    endpoint_subnet_id: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str]


class KeyVault(pulumi.ComponentResource):
    """Vault, its secrets, the reader identity for External Secrets and the role assignments."""

    vault: keyvault.Vault
    secrets: dict[str, keyvault.Secret]
    reader: FederatedIdentity
    role_assignments: list[authorization.RoleAssignment]
    private_access: PrivateAccess | None
    vault_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        ctx: AzureContext,
        args: KeyVaultArgs,
        resource_group_name: pulumi.Input[str],
        network_placement: VaultNetwork,
        oidc_issuer_url: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:azure:KeyVault", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))

        # Vault names are global and at most 24 characters: `<prefix>-kv-` plus a stable random suffix.
        suffix = random.RandomString(
            f"{name}-suffix", length=6, special=False, upper=False, numeric=True, opts=child_opts
        )
        self.vault = keyvault.Vault(
            name,
            vault_name=pulumi.Output.concat(vault_name_stem(resource_prefix(name)), "-", suffix.result),
            resource_group_name=resource_group_name,
            location=ctx.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=ctx.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
                enable_rbac_authorization=True,
                enable_purge_protection=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=args.soft_delete_days,
                public_network_access="Disabled" if args.private_endpoint else "Enabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action=keyvault.NetworkRuleAction.DENY,
                    bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                    ip_rules=[keyvault.IPRuleArgs(value=ip) for ip in args.allowed_ips],
                    virtual_network_rules=[
                        keyvault.VirtualNetworkRuleArgs(id=network_placement.node_subnet_id)
                    ],
                ),
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
            ),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(protect=True)),
        )
        scope = self.vault.id
        officer = role_assignment(
            f"{name}-deployer-officer", ctx, scope, BuiltInRole.KEY_VAULT_SECRETS_OFFICER,
            ctx.deployer_object_id, service_principal=False, opts=child_opts,
        )  # fmt: skip
        self.reader = FederatedIdentity(
            f"{name}-eso",
            f"{resource_prefix(name)}-eso",
            ctx,
            resource_group_name,
            oidc_issuer_url,
            EXTERNAL_SECRETS_NAMESPACE,
            EXTERNAL_SECRETS_SERVICE_ACCOUNT,
            opts=child_opts,
        )
        reader_role = role_assignment(
            f"{name}-eso-secrets-user", ctx, scope, BuiltInRole.KEY_VAULT_SECRETS_USER,
            self.reader.principal_id, service_principal=True, opts=child_opts,
        )  # fmt: skip
        self.role_assignments = [officer, reader_role]
        self.private_access = (
            private_endpoint(
                name,
                ctx,
                resource_group_name,
                PrivateLinkTarget(self.vault.id, group_id="vault", dns_zone=PRIVATE_DNS_ZONE),
                EndpointPlacement(network_placement.vnet_id, network_placement.endpoint_subnet_id),
                child_opts,
            )
            if args.private_endpoint
            else None
        )
        secret_opts = pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(depends_on=[officer]))
        self.secrets = {
            secret_name: keyvault.Secret(
                f"{name}-{secret_name}",
                secret_name=secret_name,
                vault_name=self.vault.name,
                resource_group_name=resource_group_name,
                properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value)),
                tags=ctx.tags,
                opts=pulumi.ResourceOptions.merge(
                    # The salt key encrypts provider credentials in the database: losing it loses them.
                    secret_opts,
                    pulumi.ResourceOptions(protect=secret_name == SecretName.SALT_KEY),
                ),
            )
            for secret_name, value in args.values.items()
        }
        self.vault_url = self.vault.properties.apply(lambda p: p.vault_uri or "")
        self.register_outputs({"vaultUrl": self.vault_url, "readerClientId": self.reader.client_id})
