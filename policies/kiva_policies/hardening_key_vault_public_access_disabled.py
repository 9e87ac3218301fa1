"""kiva-hardening-key-vault-public-access-disabled: the Key Vault has no public endpoint at all.

`kiva-hardening-key-vault-access-restricted` accepts a vault firewall (default action Deny with allowed
IP ranges), which is how dev reaches its vault without a private endpoint. Prod goes further: the vault
is reached only through its private endpoint, `properties.publicNetworkAccess: Disabled` (azure-native
`keyvault:Vault`, Microsoft.KeyVault/vaults API 2023-07-01 `VaultProperties.publicNetworkAccess`).
The Vault schema has no minimum-TLS property: the TLS floor is the service's, not the stack's.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, get

KEY_VAULT = "azure-native:keyvault:Vault"


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KEY_VAULT:
        return
    public = get(args.props, "properties", "publicNetworkAccess")
    if public != "Disabled":
        report(
            f"Key Vault '{args.name}' keeps a public endpoint (`properties.publicNetworkAccess` is "
            f"'{public or 'Enabled'}'). Set `kiva:cluster.keyVault.privateEndpoint: true`, which disables "
            "public access and reaches the vault through a private endpoint.",
            None,
        )


key_vault_public_access_disabled = ResourceValidationPolicy(
    name="kiva-hardening-key-vault-public-access-disabled",
    description="Every Key Vault disables public network access and is reached through a private endpoint only.",
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [key_vault_public_access_disabled]
