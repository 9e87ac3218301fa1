"""Issue 9, defect 5: the cluster reaches Key Vault on every stage (service endpoint + VNet rule, or PE)."""

from __future__ import annotations

import pytest

from tests.azure.helpers import one, one_of

VAULT = "azure-native:keyvault:Vault"
SUBNET = "azure-native:network:Subnet"


def _subnet(plan, name):
    return next(r for r in plan.of_type(SUBNET) if r.inputs["subnetName"] == name)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_node_subnet_has_a_key_vault_service_endpoint(plan_of, stack):
    endpoints = _subnet(plan_of(stack), "nodes").inputs.get("serviceEndpoints") or []
    assert {"service": "Microsoft.KeyVault"} in endpoints


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_vault_firewall_admits_the_node_subnet(plan_of, stack):
    plan = plan_of(stack)
    acls = one(plan, VAULT).inputs["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert {"id": _subnet(plan, "nodes").id} in acls.get("virtualNetworkRules", [])


@pytest.mark.parametrize(
    ("component", "dns_zone"),
    [
        ("kiva:azure:KeyVault", "privatelink.vaultcore.azure.net"),
        ("kiva:azure:BackupStorage", "privatelink.blob.core.windows.net"),
    ],
)
def test_prod_private_endpoint_resolves_inside_the_cluster_vnet(plan_of, component, dns_zone):
    plan = plan_of("prod")
    vnet = one(plan, "azure-native:network:VirtualNetwork")
    zone = one_of(plan, "azure-native:privatedns:PrivateZone", component)
    link = one_of(plan, "azure-native:privatedns:VirtualNetworkLink", component).inputs
    assert link["virtualNetwork"] == {"id": vnet.id}
    assert link["privateZoneName"] == zone.inputs["privateZoneName"] == dns_zone
    endpoint = one_of(plan, "azure-native:network:PrivateEndpoint", component).inputs
    assert endpoint["subnet"]["id"] == _subnet(plan, "private-endpoints").id


def test_dev_backup_account_has_no_firewall_that_could_refuse_the_cluster(plan_of):
    # Dev reaches the account with Entra ID tokens over its public endpoint; if a firewall is ever added
    # there, it must admit the node subnet (Microsoft.Storage service endpoint + virtual network rule).
    account = one(plan_of("dev"), "azure-native:storage:StorageAccount").inputs
    assert "networkRuleSet" not in account
    assert "publicNetworkAccess" not in account
