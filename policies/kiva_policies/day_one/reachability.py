"""Day-one check: the Key Vault and storage firewalls admit the path the cluster actually uses.

Azure facts (Key Vault "Network security", learn.microsoft.com/azure/key-vault/general/network-security;
Storage "Configure Azure Storage firewalls and virtual networks"):
- with `publicNetworkAccess: Disabled` only private endpoints reach the resource; the cluster resolves the
  private address through a private DNS zone (`privatelink.vaultcore.azure.net`,
  `privatelink.blob.core.windows.net`) linked to its VNet with a record for the endpoint (a
  `PrivateDnsZoneGroup` on the endpoint writes it);
- with public access and `defaultAction: Deny`, a request passes only if it comes from an admitted IP
  range, from a subnet listed in `virtualNetworkRules` that has the service endpoint
  (`Microsoft.KeyVault` / `Microsoft.Storage`), or from a trusted Azure service. AKS pods are not a
  trusted service, and an IP rule for the operator's network does not admit the cluster's egress.
Ids are outputs, unknown in a real preview: a rule whose id is unknown is matched to the subnet resource
the vault/account depends on; if nothing in the plan ties it to the node subnet, the check reports
"not verifiable" (raises `UnknownValueError`) rather than pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlparse

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from kiva_policies.base import CNPG_OBJECT_STORE, MANDATORY, as_list, get, run_checks
from kiva_policies.day_one.flows import MANAGED_CLUSTER, SECRET_STORES, Res, view

KEY_VAULT = "azure-native:keyvault:Vault"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
PRIVATE_ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"
AGENT_POOL = "azure-native:containerservice:AgentPool"


class NotVerifiable(UnknownValueError):
    """A fact the check needs is not in the plan: reported as not verifiable, never as a pass."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.unknown_type_sentinel = "not-in-plan"
        self.props = []
        self.message = message


@dataclass(frozen=True)
class Target:
    kind: str  # "Key Vault" | "storage account"
    resource: Res
    name: str
    zone: str
    service: str  # service endpoint
    group: str  # private link group id


def _last(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].lower()


def _segment(resource_id: str, key: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if key.lower() in lowered:
        index = lowered.index(key.lower())
        if index + 1 < len(parts):
            return parts[index + 1].lower()
    return None


def _subnet_matches(resource_id: str, subnet: Res) -> bool:
    """Does an ARM subnet id name this Subnet resource (subnet name, and VNet/group when the id has them)?"""
    name = str(get(subnet.props, "subnetName", default=None) or subnet.name).lower()
    if _segment(resource_id, "subnets") != name:
        return False
    vnet = _segment(resource_id, "virtualNetworks")
    expected_vnet = get(subnet.props, "virtualNetworkName")
    if vnet and vnet != "subnets" and isinstance(expected_vnet, str) and vnet != expected_vnet.lower():
        return False
    group = _segment(resource_id, "resourceGroups")
    expected_group = get(subnet.props, "resourceGroupName")
    return not (group and isinstance(expected_group, str) and group != expected_group.lower())


def _vnet_of_subnet(subnet: Res) -> str:
    return str(get(subnet.props, "virtualNetworkName", default="")).lower()


@dataclass
class Cluster:
    node_subnets: list[Res]
    vnets: set[str]


def _cluster(resources: Sequence[Res]) -> Cluster | None:
    clusters = [r for r in resources if r.type == MANAGED_CLUSTER]
    if not clusters:
        return None
    subnets = [r for r in resources if r.type == SUBNET]
    by_urn = {r.urn: r for r in resources}
    ids: list[Any] = []
    for cluster in clusters:
        ids += [get(p, "vnetSubnetID") for p in as_list(get(cluster.props, "agentPoolProfiles"))]
    ids += [get(r.props, "vnetSubnetID") for r in resources if r.type == AGENT_POOL]
    nodes: list[Res] = []
    for value in ids:
        if isinstance(value, str) and value:
            nodes += [s for s in subnets if _subnet_matches(value, s) and s not in nodes]
    if not nodes:  # ids unknown in a real preview: the subnets the cluster depends on
        for cluster in clusters:
            nodes += [by_urn[d] for d in cluster.dependencies if d in by_urn and by_urn[d].type == SUBNET]
    return Cluster(nodes, {_vnet_of_subnet(s) for s in nodes if _vnet_of_subnet(s)})


def _targets(resources: Sequence[Res]) -> list[Target]:
    """The vaults and storage accounts the cluster uses: ESO's Key Vault stores, the backup accounts."""
    targets = []
    uses_vault = any(
        r.type in SECRET_STORES and get(r.props, "spec", "provider", "azurekv") for r in resources
    )
    if uses_vault:
        for r in resources:
            if r.type == KEY_VAULT:
                name = str(get(r.props, "vaultName", default=None) or r.name)
                targets.append(
                    Target(
                        "Key Vault", r, name, "privatelink.vaultcore.azure.net", "Microsoft.KeyVault", "vault"
                    )
                )
    accounts = set()
    for r in resources:
        if r.type == CNPG_OBJECT_STORE:
            host = urlparse(
                str(get(r.props, "spec", "configuration", "destinationPath", default=""))
            ).hostname
            if host and host.endswith(".blob.core.windows.net"):
                accounts.add(host.split(".", 1)[0])
    for r in resources:
        if r.type == STORAGE_ACCOUNT:
            name = str(get(r.props, "accountName", default=None) or r.name)
            if name.lower() in accounts:
                targets.append(
                    Target(
                        "storage account",
                        r,
                        name,
                        "privatelink.blob.core.windows.net",
                        "Microsoft.Storage",
                        "blob",
                    )
                )
    return targets


def _endpoint_targets(endpoint: Res, target: Target) -> bool:
    for connection in as_list(get(endpoint.props, "privateLinkServiceConnections")) + as_list(
        get(endpoint.props, "manualPrivateLinkServiceConnections")
    ):
        try:
            service = get(connection, "privateLinkServiceId")
        except UnknownValueError:
            service = None
        if isinstance(service, str):
            if _last(service) == target.name.lower():
                return True
        elif target.resource.urn in endpoint.dependencies:
            return True
    return False


def _check_private_path(
    resources: Sequence[Res], target: Target, cluster: Cluster, report: ReportViolation
) -> None:
    by_urn = {r.urn: r for r in resources}
    endpoints = [r for r in resources if r.type == PRIVATE_ENDPOINT and _endpoint_targets(r, target)]
    what = f"{target.kind} {target.name}"
    if not endpoints:
        report(
            f"{what} has public network access disabled but no private endpoint in the plan targets it; "
            "nothing in the cluster can reach it. Add a PrivateEndpoint in the cluster's VNet.",
            target.resource.urn,
        )
        return
    zones = [
        r for r in resources if r.type == PRIVATE_ZONE and get(r.props, "privateZoneName") == target.zone
    ]
    links = [r for r in resources if r.type == ZONE_LINK and get(r.props, "privateZoneName") == target.zone]
    linked_vnets = set()
    for link in links:
        vnet_id = get(link.props, "virtualNetwork", "id")
        if isinstance(vnet_id, str):
            linked_vnets.add(_last(vnet_id))
        else:
            linked_vnets |= {
                str(get(by_urn[d].props, "virtualNetworkName", default="")).lower()
                for d in link.dependencies
                if d in by_urn and by_urn[d].type == VNET
            }
    if not zones or not (cluster.vnets & linked_vnets if cluster.vnets else linked_vnets):
        report(
            f"{what} is reached through a private endpoint, but no private DNS zone {target.zone} is linked to "
            f"the cluster's VNet ({', '.join(sorted(cluster.vnets)) or 'unknown'}); the cluster would resolve "
            "the public address, which is closed. Add the zone and a VirtualNetworkLink to that VNet.",
            target.resource.urn,
        )
        return
    names = {str(get(e.props, "privateEndpointName", default=e.name)) for e in endpoints}
    groups = [
        g
        for g in resources
        if g.type == ZONE_GROUP
        and (get(g.props, "privateEndpointName") in names or any(e.urn in g.dependencies for e in endpoints))
    ]
    if not any(
        _last(str(get(c, "privateDnsZoneId", default=""))) == target.zone
        or any(z.urn in g.dependencies for z in zones)
        for g in groups
        for c in as_list(get(g.props, "privateDnsZoneConfigs"))
    ):
        report(
            f"{what}: the private endpoint has no PrivateDnsZoneGroup writing its address into {target.zone}; "
            "the name would not resolve to the endpoint.",
            target.resource.urn,
        )


def _has_service_endpoint(subnet: Res, service: str) -> bool:
    return any(
        str(get(e, "service", default="")).lower() == service.lower()
        for e in as_list(get(subnet.props, "serviceEndpoints"))
    )


def _check_firewall(
    resources: Sequence[Res], target: Target, cluster: Cluster, report: ReportViolation
) -> None:
    by_urn = {r.urn: r for r in resources}
    if target.kind == "Key Vault":
        acls = get(target.resource.props, "properties", "networkAcls", default={}) or {}
        rules = as_list(get(acls, "virtualNetworkRules"))
        id_key = "id"
        ips = [str(get(r, "value", default="")) for r in as_list(get(acls, "ipRules"))]
    else:
        acls = get(target.resource.props, "networkRuleSet", default={}) or {}
        rules = as_list(get(acls, "virtualNetworkRules"))
        id_key = "virtualNetworkResourceId"
        ips = [str(get(r, "iPAddressOrRange", default="")) for r in as_list(get(acls, "ipRules"))]
    if str(get(acls, "defaultAction", default="Allow")) != "Deny":
        return
    what = f"{target.kind} {target.name}"
    admitted: list[Res] = []
    unknown = False
    for rule in rules:
        try:
            rule_id = get(rule, id_key)
        except UnknownValueError:
            rule_id = None
        if isinstance(rule_id, str):
            admitted += [s for s in cluster.node_subnets if _subnet_matches(rule_id, s)]
        else:
            unknown = True
    if unknown and not admitted:  # structural match: the subnet the vault/account was built from
        admitted = [
            by_urn[d]
            for d in target.resource.dependencies
            if d in by_urn and by_urn[d] in cluster.node_subnets
        ]
        if not admitted:
            raise NotVerifiable(
                f"{what}: a virtualNetworkRules id is unknown in the plan and the {target.kind} depends on no node "
                "subnet of the cluster, so whether the cluster is admitted can't be verified"
            )
    if not admitted:
        report(
            f"{what} denies by default (defaultAction Deny) and admits no subnet of the cluster "
            f"(virtualNetworkRules: {len(rules)}; IP rules: {', '.join(ips) or 'none'}). AKS pods are not a "
            "trusted Azure service and an IP rule for an operator network does not admit the cluster's egress, "
            "so the cluster cannot reach it. Add the node subnet to virtualNetworkRules with the "
            f"{target.service} service endpoint, or use a private endpoint.",
            target.resource.urn,
        )
        return
    missing = [s for s in admitted if not _has_service_endpoint(s, target.service)]
    if len(missing) == len(admitted):
        report(
            f"{what} admits the node subnet {', '.join(s.name for s in missing)}, but that subnet has no "
            f"{target.service} service endpoint; without it the traffic keeps the public source address and the "
            "VNet rule never matches. Add the service endpoint to the subnet.",
            target.resource.urn,
        )


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = view(args.resources)
    targets = _targets(resources)
    if not targets:
        return
    cluster = _cluster(resources)

    def check(target: Target) -> None:
        public = (
            str(get(target.resource.props, "properties", "publicNetworkAccess", default=None) or "")
            if (target.kind == "Key Vault")
            else str(get(target.resource.props, "publicNetworkAccess", default=None) or "")
        )
        restricted = (
            public == "Disabled"
            or (
                target.kind == "Key Vault"
                and get(target.resource.props, "properties", "networkAcls", "defaultAction") == "Deny"
            )
            or get(target.resource.props, "networkRuleSet", "defaultAction") == "Deny"
        )
        if not restricted:
            return
        if cluster is None:
            raise NotVerifiable(
                f"{target.kind} {target.name} restricts network access and the plan holds no AKS cluster whose "
                "network could be compared"
            )
        if public == "Disabled":
            _check_private_path(resources, target, cluster, report)
        else:
            _check_firewall(resources, target, cluster, report)

    run_checks([partial(check, t) for t in targets])


cloud_firewalls_admit_cluster = StackValidationPolicy(
    name="kiva-reachability-cloud-firewalls",
    description=(
        "The Key Vault and the backup storage account admit the path the cluster uses: a private endpoint with "
        "a private DNS zone linked to the cluster's VNet when public access is off, or the node subnet (with "
        "its service endpoint) when the firewall denies by default."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [cloud_firewalls_admit_cluster]
