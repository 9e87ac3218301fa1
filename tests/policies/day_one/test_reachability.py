"""Day-one cloud reachability: Key Vault and backup storage firewalls admit the cluster's path."""

from __future__ import annotations

from tests.policies.day_one.network_fixtures import UNKNOWN, committed, edit, fixed, messages, run, without

POLICY = "kiva-reachability-cloud-firewalls"
VAULT = "azure-native:keyvault:Vault"


def _vault(resources: list) -> str:
    return next(r.urn for r in resources if r.type == VAULT)


def _nodes(resources: list) -> str:
    return next(
        r.urn for r in resources if r.type == "azure-native:network:Subnet" and r.name.endswith("-nodes")
    )


def test_fixed_and_committed_stacks_pass() -> None:
    for stack in ("dev", "prod", "local"):
        assert run(fixed(stack), POLICY).findings == [], stack
        assert run(committed(stack), POLICY).findings == [], stack


def test_vault_with_deny_and_only_an_operator_ip_rule_is_unreachable() -> None:
    """Issue 9 (5): dev Key Vault, defaultAction Deny, an IP rule for the operator's network only."""
    resources = fixed("dev")

    def operator_only(props: dict) -> None:
        props["properties"]["networkAcls"] = {
            "defaultAction": "Deny",
            "bypass": "AzureServices",
            "ipRules": [{"value": "203.0.113.0/24"}],
        }

    found = messages(run(edit(resources, _vault(resources), operator_only), POLICY))
    assert len(found) == 1
    assert found[0].startswith("kiva: Key Vault kiva-dev-")
    assert "admits no subnet of the cluster" in found[0] and "203.0.113.0/24" in found[0]
    assert "AKS pods are not a trusted Azure service" in found[0]


def test_vnet_rule_without_the_service_endpoint_is_reported() -> None:
    resources = fixed("dev")
    found = messages(run(edit(resources, _nodes(resources), lambda p: p.pop("serviceEndpoints")), POLICY))
    assert len(found) == 1 and "no Microsoft.KeyVault service endpoint" in found[0]


def test_unknown_rule_id_matches_through_the_dependency_or_is_not_verifiable() -> None:
    from kiva_policies.runner import PlannedResource

    resources = fixed("dev")
    vault, nodes = _vault(resources), _nodes(resources)
    unknown = edit(
        resources,
        vault,
        lambda p: p["properties"]["networkAcls"].update(virtualNetworkRules=[{"id": UNKNOWN}]),
    )

    def depending(on_nodes: bool) -> list[PlannedResource]:
        result = []
        for r in unknown:
            if r.urn == vault:
                deps = tuple(d for d in r.dependencies if d != nodes) + ((nodes,) if on_nodes else ())
                r = PlannedResource(r.urn, r.type, r.name, r.props, r.parent, r.protect, r.provider, deps)
            result.append(r)
        return result

    assert run(depending(True), POLICY).findings == []
    report = run(depending(False), POLICY)
    assert [f.status for f in report.findings] == ["not-verifiable"]
    assert "depends on no node subnet" in report.findings[0].message


def test_private_vault_needs_its_endpoint_and_a_dns_zone_linked_to_the_cluster_vnet() -> None:
    resources = committed("prod")
    vault_side = [r for r in resources if not r.name.startswith("kiva-backups")]  # the backups have their own
    endpoint = next(r.urn for r in vault_side if r.type == "azure-native:network:PrivateEndpoint")
    found = messages(run(without(resources, endpoint.rsplit("::", 1)[-1]), POLICY))
    assert len(found) == 1 and "no private endpoint in the plan targets it" in found[0]
    link = next(r.name for r in vault_side if r.type == "azure-native:privatedns:VirtualNetworkLink")
    found = messages(run(without(resources, link), POLICY))
    assert len(found) == 1 and "privatelink.vaultcore.azure.net is linked to the cluster's VNet" in found[0]
    group = next(r.name for r in vault_side if r.type == "azure-native:network:PrivateDnsZoneGroup")
    found = messages(run(without(resources, group), POLICY))
    assert len(found) == 1 and "no PrivateDnsZoneGroup" in found[0]


def test_backup_storage_account_without_public_access_needs_a_private_endpoint() -> None:
    resources = fixed("prod")
    account = next(r for r in resources if r.type == "azure-native:storage:StorageAccount")
    assert account.props["publicNetworkAccess"] == "Disabled"  # issue 15: prod's account is private
    found = messages(run(without(resources, "kiva-backups-endpoint"), POLICY))
    assert len(found) == 1 and found[0].startswith("kiva-backups: storage account kivaprodbk")
    assert "no private endpoint" in found[0]
    found = messages(run(without(resources, "kiva-backups-dns-link"), POLICY))
    assert len(found) == 1 and "privatelink.blob.core.windows.net is linked to the cluster's VNet" in found[0]
