"""A private endpoint that the cluster can resolve: endpoint, private DNS zone, VNet link and zone group.

A private endpoint alone is not enough: pods keep resolving the service's public name (e.g.
`<vault>.vault.azure.net`, `<account>.blob.core.windows.net`), which Azure answers with a CNAME into
`privatelink.<service zone>`. Only a private DNS zone of that name linked to the cluster's VNet turns
the CNAME into the endpoint's private address, and the endpoint's DNS zone group writes that A record.
(Microsoft Learn, "Azure Private Endpoint private DNS zone values": Key Vault group id `vault`, zone
`privatelink.vaultcore.azure.net`; Storage blob group id `blob`, zone `privatelink.blob.core.windows.net`.)

The Key Vault and the backup storage account both use this; the resource names are derived from the
owning component's name exactly as the Key Vault named them before, so its URNs do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from components.azure.common import AzureContext, resource_prefix


@dataclass(frozen=True)
class PrivateLinkTarget:
    """What the endpoint connects to: the resource, its private-link sub-resource and DNS zone."""

    resource_id: pulumi.Input[str]
    group_id: str
    """Private-link sub-resource (`vault`, `blob`); also names the connection and the zone config."""
    dns_zone: str
    """The `privatelink.*` zone in which the service's name resolves to the endpoint."""


@dataclass(frozen=True)
class EndpointPlacement:
    """Where the endpoint lives: its subnet, and the VNet whose resolver must see the zone."""

    vnet_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]


@dataclass(frozen=True)
class PrivateAccess:
    """The four resources; the zone group is what makes the name resolve (wait on it, not the endpoint)."""

    endpoint: network.PrivateEndpoint
    zone: privatedns.PrivateZone
    link: privatedns.VirtualNetworkLink
    zone_group: network.PrivateDnsZoneGroup


def private_endpoint(
    name: str,
    ctx: AzureContext,
    resource_group_name: pulumi.Input[str],
    target: PrivateLinkTarget,
    placement: EndpointPlacement,
    opts: pulumi.ResourceOptions,
) -> PrivateAccess:
    """The endpoint `<name>-endpoint` in the endpoint subnet, zone `<name>-dns`, link `<name>-dns-link`
    and zone group `<name>-dns-group` (Azure names `<name>-<stack>-pe` and `<name>-<stack>-vnet`)."""
    endpoint = network.PrivateEndpoint(
        f"{name}-endpoint",
        private_endpoint_name=f"{resource_prefix(name)}-pe",
        resource_group_name=resource_group_name,
        location=ctx.location,
        subnet=network.SubnetArgs(id=placement.subnet_id),
        private_link_service_connections=[
            network.PrivateLinkServiceConnectionArgs(
                name=target.group_id, private_link_service_id=target.resource_id, group_ids=[target.group_id]
            )
        ],
        tags=ctx.tags,
        opts=opts,
    )
    # Private DNS zones are global resources by definition: Azure accepts no other location.
    zone = privatedns.PrivateZone(
        f"{name}-dns",
        private_zone_name=target.dns_zone,
        resource_group_name=resource_group_name,
        location="global",
        tags=ctx.tags,
        opts=opts,
    )
    link = privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        virtual_network_link_name=f"{resource_prefix(name)}-vnet",
        private_zone_name=zone.name,
        resource_group_name=resource_group_name,
        location="global",
        virtual_network=privatedns.SubResourceArgs(id=placement.vnet_id),
        registration_enabled=False,
        tags=ctx.tags,
        opts=opts,
    )
    zone_group = network.PrivateDnsZoneGroup(
        f"{name}-dns-group",
        private_dns_zone_group_name="default",
        private_endpoint_name=endpoint.name,
        resource_group_name=resource_group_name,
        private_dns_zone_configs=[
            network.PrivateDnsZoneConfigArgs(name=target.group_id, private_dns_zone_id=zone.id)
        ],
        opts=opts,
    )
    return PrivateAccess(endpoint, zone, link, zone_group)
