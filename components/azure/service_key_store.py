"""Gateway service keys (`kiva:teams`) delivered into the stack's Key Vault.

A key exists only once LiteLLM has generated it at `pulumi up`, long after the vault was created, so the
cloud layer hands the platform a writer rather than a list of secrets. The deployer writes through ARM
(`Microsoft.KeyVault/vaults/secrets`) with the Key Vault Secrets Officer role the vault already grants it,
so this works with the vault's public network access disabled (prod). Services read their key from the
vault with their own identity, or through External Secrets into their namespace (docs/teams.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import keyvault

from components.azure.common import AzureContext
from components.contracts import ServiceKeyStore


def key_vault_key_store(
    vault: keyvault.Vault,
    resource_group_name: pulumi.Input[str],
    ctx: AzureContext,
    provider: pulumi.ProviderResource,
    after: Sequence[pulumi.Resource],
) -> ServiceKeyStore:
    """A writer of secrets into `vault`, with the Azure provider and after the deployer's role assignments."""

    def write(
        resource_name: str, secret_name: str, value: pulumi.Output[str], opts: pulumi.ResourceOptions
    ) -> pulumi.Resource:
        return keyvault.Secret(
            resource_name,
            secret_name=secret_name,
            vault_name=vault.name,
            resource_group_name=resource_group_name,
            properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(value)),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(provider=provider, depends_on=list(after))
            ),
        )

    return ServiceKeyStore(location="Azure Key Vault", write=write)
