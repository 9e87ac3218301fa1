"""Key Vault: RBAC, purge protection, retention, network, secrets (always Pulumi secrets), identities."""

from __future__ import annotations

import pytest

from components.azure.common import BuiltInRole
from components.contracts import EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_SERVICE_ACCOUNT, SecretName
from infra.offline.mocks import DEPLOYER_OBJECT_ID, TENANT_ID
from tests.azure.helpers import dig, is_blinded, one, one_of

VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
KEY_VAULT = "kiva:azure:KeyVault"


@pytest.mark.parametrize(("stack", "days"), [("dev", 7), ("prod", 90)])
def test_vault_is_rbac_purge_protected_with_retention(plan_of, stack, days):
    vault = one(plan_of(stack), VAULT)
    properties = vault.inputs["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enablePurgeProtection"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["softDeleteRetentionInDays"] == days
    assert properties["tenantId"] == TENANT_ID
    assert properties["sku"] == {"family": "A", "name": "standard"}
    assert vault.inputs["location"] == "germanywestcentral"
    assert len(vault.inputs["vaultName"]) <= 24
    assert vault.protect is True


def test_prod_vault_has_no_public_access_and_a_private_endpoint(plan_of):
    plan = plan_of("prod")
    vault = one(plan, VAULT)
    assert vault.inputs["properties"]["publicNetworkAccess"] == "Disabled"
    endpoint = one_of(plan, "azure-native:network:PrivateEndpoint", KEY_VAULT).inputs
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == vault.id
    assert connection["groupIds"] == ["vault"]
    assert endpoint["subnet"]["id"].endswith("/subnets/private-endpoints")
    zone = one_of(plan, "azure-native:privatedns:PrivateZone", KEY_VAULT).inputs
    assert zone["privateZoneName"] == "privatelink.vaultcore.azure.net"
    assert (
        one_of(plan, "azure-native:network:PrivateDnsZoneGroup", KEY_VAULT)
        .inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"]
        .endswith("privatelink.vaultcore.azure.net")
    )


def test_dev_vault_denies_by_default_and_allows_configured_ips(plan_of):
    plan = plan_of("dev")
    properties = one(plan, VAULT).inputs["properties"]
    assert properties["publicNetworkAccess"] == "Enabled"
    nodes = next(r for r in plan.of_type("azure-native:network:Subnet") if r.inputs["subnetName"] == "nodes")
    assert properties["networkAcls"] == {
        "defaultAction": "Deny",
        "bypass": "AzureServices",
        "ipRules": [{"value": "203.0.113.0/24"}],
        "virtualNetworkRules": [{"id": nodes.id}],
    }
    assert plan.of_type("azure-native:network:PrivateEndpoint") == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_secret_value_is_a_pulumi_secret(plan_of, stack):
    secrets = plan_of(stack).of_type(SECRET)
    assert secrets
    for secret in secrets:
        assert is_blinded(secret.inputs, "properties", "value"), secret.name
        # Offline the value is a mock or a placeholder, never a real credential.
        assert isinstance(dig(secret.inputs, "properties", "value"), str)


def test_prod_vault_holds_generated_and_configured_secrets(plan_of):
    names = {r.inputs["secretName"] for r in plan_of("prod").of_type(SECRET)}
    assert names == {
        SecretName.MASTER_KEY,
        SecretName.SALT_KEY,
        SecretName.DATABASE_PASSWORD,
        SecretName.HUGGING_FACE_TOKEN,
        SecretName.REDIS_PASSWORD,  # prod's gateway scales out, so it shares limits through Redis
        SecretName.provider_api_key("azure-openai-eu"),
        "kiva-key-sozialamt-bescheid-assistent",  # a service key of kiva:teams, written at `pulumi up`
    }


def test_master_key_has_the_litellm_shape(plan_of):
    secret = next(
        r for r in plan_of("dev").of_type(SECRET) if r.inputs["secretName"] == SecretName.MASTER_KEY
    )
    value = dig(secret.inputs, "properties", "value")
    assert value.startswith("sk-")
    assert len(value) >= 3 + 32


def test_only_the_salt_key_secret_is_protected(plan_of):
    protected = {r.inputs["secretName"] for r in plan_of("prod").of_type(SECRET) if r.protect}
    assert protected == {SecretName.SALT_KEY}


def test_secrets_wait_for_the_deployer_role(plan_of):
    plan = plan_of("dev")
    officer = next(
        r for r in plan.of_type("azure-native:authorization:RoleAssignment") if "officer" in r.name
    )
    for secret in plan.of_type(SECRET):
        assert officer.urn in secret.dependencies


def _role_assignments(plan):
    return {
        r.inputs["roleDefinitionId"].rsplit("/", 1)[-1]: r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
    }


def test_role_assignments_for_deployer_and_external_secrets(plan_of):
    plan = plan_of("prod")
    vault = one(plan, VAULT)
    roles = _role_assignments(plan)
    officer = roles[BuiltInRole.KEY_VAULT_SECRETS_OFFICER]
    assert officer["principalId"] == DEPLOYER_OBJECT_ID
    assert officer["scope"] == vault.id
    reader = roles[BuiltInRole.KEY_VAULT_SECRETS_USER]
    assert reader["scope"] == vault.id
    assert reader["principalType"] == "ServicePrincipal"
    identity = next(
        r
        for r in plan.of_type("azure-native:managedidentity:UserAssignedIdentity")
        if r.name.endswith("-eso")
    )
    assert reader["principalId"] == identity.outputs["principalId"]


def test_external_secrets_identity_is_federated_with_its_service_account(plan_of):
    plan = plan_of("prod")
    credential = next(
        r
        for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if EXTERNAL_SECRETS_NAMESPACE in r.inputs["subject"]
    ).inputs
    assert credential["subject"] == (
        f"system:serviceaccount:{EXTERNAL_SECRETS_NAMESPACE}:{EXTERNAL_SECRETS_SERVICE_ACCOUNT}"
    )
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    assert credential["issuer"] == plan.stack_outputs["oidcIssuerUrl"]
    assert credential["issuer"].startswith("https://")


@pytest.mark.parametrize(
    ("prefix", "stem"),
    [
        ("kiva-prod", "kiva-prod"),
        ("kiva-agency_test.1", "kiva-agency-te"),
        ("kiva-abcdefghi-xyz", "kiva-abcdefghi"),
    ],
)
def test_vault_name_stem_is_valid_for_any_stack_name(prefix, stem):
    from components.azure.key_vault import vault_name_stem

    assert vault_name_stem(prefix) == stem
