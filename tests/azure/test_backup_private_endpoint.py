"""Issue 15: prod's backup account has no public endpoint; the database reaches it through a private endpoint.

Also: the private-endpoint pattern is shared with the Key Vault without renaming its resources, dev is
unchanged, and the database pods' backup egress goes to the endpoint subnet (plus Entra ID for tokens).
"""

from __future__ import annotations

from typing import Any

import pytest
from kiva_policies.day_one.flows import INTERNET, required_flows, view
from kiva_policies.day_one.network_policy_eval import External

from components.azure.foundation import blob_backup_target
from components.contracts import BackupEgress
from components.platform.network_policies import backup_peer
from infra.settings.cluster import AzureCluster
from tests.azure.helpers import one, one_of, parent_type
from tests.conftest import stack_config
from tests.policies.day_one.network_fixtures import committed, run

ACCOUNT = "azure-native:storage:StorageAccount"
ENDPOINT = "azure-native:network:PrivateEndpoint"
ZONE = "azure-native:privatedns:PrivateZone"
LINK = "azure-native:privatedns:VirtualNetworkLink"
GROUP = "azure-native:network:PrivateDnsZoneGroup"
BACKUP_STORAGE = "kiva:azure:BackupStorage"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ENDPOINT_SUBNET = "10.240.16.0/24"


def test_prod_account_is_private_with_tls12_and_no_shared_keys(plan_of):
    inputs = one(plan_of("prod"), ACCOUNT).inputs
    assert inputs["publicNetworkAccess"] == "Disabled"
    assert inputs["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None"}
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["allowBlobPublicAccess"] is False


def test_prod_account_has_a_blob_endpoint_zone_link_and_zone_group(plan_of):
    plan = plan_of("prod")
    account = one(plan, ACCOUNT)
    endpoint = one_of(plan, ENDPOINT, BACKUP_STORAGE).inputs
    assert endpoint["privateEndpointName"] == "kiva-backups-prod-pe"
    assert endpoint["privateLinkServiceConnections"] == [
        {"name": "blob", "groupIds": ["blob"], "privateLinkServiceId": account.id}
    ]
    assert endpoint["subnet"]["id"].endswith("/subnets/private-endpoints")
    zone = one_of(plan, ZONE, BACKUP_STORAGE)
    assert zone.inputs["privateZoneName"] == "privatelink.blob.core.windows.net"
    assert zone.inputs["location"] == "global"
    link = one_of(plan, LINK, BACKUP_STORAGE).inputs
    assert link["virtualNetwork"] == {"id": one(plan, "azure-native:network:VirtualNetwork").id}
    assert link["registrationEnabled"] is False
    group = one_of(plan, GROUP, BACKUP_STORAGE).inputs
    assert group["privateEndpointName"] == "kiva-backups-prod-pe"
    assert group["privateDnsZoneConfigs"] == [{"name": "blob", "privateDnsZoneId": zone.id}]


def test_the_key_vault_endpoint_keeps_its_names_and_the_backups_get_their_own(plan_of):
    plan = plan_of("prod")
    owned = {
        (parent_type(plan, r), r.name) for r in plan.resources if r.type in (ENDPOINT, ZONE, LINK, GROUP)
    }
    assert owned == {
        ("kiva:azure:KeyVault", "kiva-endpoint"),
        ("kiva:azure:KeyVault", "kiva-dns"),
        ("kiva:azure:KeyVault", "kiva-dns-link"),
        ("kiva:azure:KeyVault", "kiva-dns-group"),
        (BACKUP_STORAGE, "kiva-backups-endpoint"),
        (BACKUP_STORAGE, "kiva-backups-dns"),
        (BACKUP_STORAGE, "kiva-backups-dns-link"),
        (BACKUP_STORAGE, "kiva-backups-dns-group"),
    }


def test_dev_keeps_its_public_account_and_plans_no_endpoint(plan_of):
    plan = plan_of("dev")
    inputs = one(plan, ACCOUNT).inputs
    assert "publicNetworkAccess" not in inputs and "networkRuleSet" not in inputs
    assert [r.name for r in plan.resources if r.type in (ENDPOINT, ZONE, LINK, GROUP)] == []


@pytest.mark.parametrize(
    ("key_vault", "backup_storage", "private"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"privateEndpoint": False}, False),
        (False, {"privateEndpoint": True}, True),
    ],
)
def test_backup_storage_follows_the_key_vault_unless_set(key_vault, backup_storage, private):
    raw = stack_config("dev")["kiva:cluster"]
    raw["keyVault"] = {"privateEndpoint": True} if key_vault else {}
    raw["backupStorage"] = backup_storage
    assert AzureCluster.model_validate(raw).backup_private_endpoint is private


def _database_egress(plan) -> list[dict[str, Any]]:
    (policy,) = [r for r in plan.of_type(NETWORK_POLICY) if r.inputs["metadata"]["name"] == "kiva-database"]
    return policy.inputs["spec"]["egress"]


HTTPS = [{"port": 443, "protocol": "TCP"}]


def test_prod_backups_leave_the_database_pods_for_the_endpoint_subnet(plan_of):
    egress = _database_egress(plan_of("prod"))
    assert {"to": [{"ipBlock": {"cidr": ENDPOINT_SUBNET}}], "ports": HTTPS} in egress
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": HTTPS} not in egress


def test_dev_backups_still_go_to_any_address(plan_of):
    egress = _database_egress(plan_of("dev"))
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": HTTPS} in egress


def test_backup_peer_and_target_carry_the_endpoint_subnet() -> None:
    assert backup_peer(BackupEgress(port=443, cidr=ENDPOINT_SUBNET)).ip_block.cidr == ENDPOINT_SUBNET
    assert backup_peer(BackupEgress(port=443)).ip_block.cidr == "0.0.0.0/0"
    target = blob_backup_target("https://a.blob.core.windows.net/c/", "id", ENDPOINT_SUBNET)  # type: ignore[arg-type]
    assert target.egress == BackupEgress(port=443, cidr=ENDPOINT_SUBNET)


def test_prod_flows_reach_the_private_account_and_entra_id() -> None:
    matrix = required_flows(view(committed("prod")))
    backup = {(f.target, f.port) for f in matrix.flows if f.purpose.startswith("backup to ObjectStore")}
    assert [(t.ip, p) for t, p in backup] == [("10.240.16.4", 443)]
    assert all(isinstance(t, External) and t.name.endswith("(private)") for t, _ in backup)
    tokens = {(f.target, f.port) for f in matrix.flows if f.purpose.startswith("Entra ID token")}
    assert tokens == {(External(INTERNET, "Entra ID login.microsoftonline.com"), 443)}


def test_prod_network_policies_carry_every_backup_flow_and_open_nothing_else() -> None:
    report = run(committed("prod"), "kiva-network-required-flows-allowed")
    assert [f.message for f in report.findings if "backup" in f.message or "Entra" in f.message] == []
    report = run(committed("prod"), "kiva-network-nothing-else-open")
    assert [f.message for f in report.findings if "kiva/kiva-database: rule egress" in f.message] == []


def test_backup_storage_from_args_with_a_private_endpoint() -> None:
    from components.azure.backup_storage import BackupStorage, BackupStorageArgs
    from components.azure.private_endpoint import EndpointPlacement
    from tests.azure.test_component_args import _ctx
    from tests.platform.test_component_args import by_name, register

    args = BackupStorageArgs(soft_delete_days=7, backup_days=7, zone_redundant=False, private_endpoint=True)
    placement = EndpointPlacement(vnet_id="vnet-id", subnet_id="endpoints-id")
    registered = by_name(
        register(
            lambda: BackupStorage("bk", _ctx(), args, "rg", "https://issuer.example/", placement=placement)
        )
    )
    assert registered["bk"].inputs["publicNetworkAccess"] == "Disabled"
    assert registered["bk-endpoint"].inputs["subnet"]["id"] == "endpoints-id"
    assert registered["bk-dns-link"].inputs["virtualNetwork"] == {"id": "vnet-id"}
    assert registered["bk-dns"].inputs["privateZoneName"] == "privatelink.blob.core.windows.net"
    with pytest.raises(ValueError, match=r"^BackupStorage: a private endpoint needs its placement"):
        # refused before anything is registered (no context needed)
        BackupStorage("bk", None, args, "rg", "https://issuer.example/")  # type: ignore[arg-type]
