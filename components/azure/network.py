"""The cluster's virtual network: one subnet for nodes, one for private endpoints.

With Azure CNI overlay pods take addresses from `podCidr`, not from the VNet, so the node subnet only
needs room for nodes. Private endpoints (Key Vault and backup storage in prod) get their own subnet so
that network policies for endpoints can be managed separately from the nodes.

The node subnet carries a `Microsoft.KeyVault` service endpoint: pod traffic to the vault's public
endpoint then leaves with the subnet as its source, which the vault firewall admits by a virtual
network rule. Pods are not "trusted Azure services", so without it a default-deny vault (dev) refuses
External Secrets. With a private endpoint (prod) the vault's name resolves to the endpoint, and the
service endpoint is simply not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from components.azure.common import AzureContext

#: Service endpoints on the node subnet, so that vault firewalls can admit the nodes by subnet.
NODE_SUBNET_SERVICE_ENDPOINTS = ("Microsoft.KeyVault",)


@dataclass(frozen=True)
class ClusterNetworkArgs:
    """Address ranges of the VNet and its two subnets (`kiva:cluster.network`, validated there)."""

    vnet_cidr: str
    node_subnet_cidr: str
    private_endpoint_subnet_cidr: str


class ClusterNetwork(pulumi.ComponentResource):
    """VNet with a node subnet and a private-endpoint subnet, addresses from `kiva:cluster.network`."""

    vnet: network.VirtualNetwork
    node_subnet: network.Subnet
    endpoint_subnet: network.Subnet

    def __init__(
        self,
        name: str,
        ctx: AzureContext,
        resource_group_name: pulumi.Input[str],
        layout: ClusterNetworkArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:azure:ClusterNetwork", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"{name}-vnet",
            resource_group_name=resource_group_name,
            location=ctx.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[layout.vnet_cidr]),
            tags=ctx.tags,
            # Subnets are separate resources; without this the VNet would remove them on its next update.
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(ignore_changes=["subnets"])),
        )
        subnet_opts = pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(parent=self.vnet))
        self.node_subnet = network.Subnet(
            f"{name}-nodes",
            subnet_name="nodes",
            resource_group_name=resource_group_name,
            virtual_network_name=self.vnet.name,
            address_prefix=layout.node_subnet_cidr,
            default_outbound_access=False,
            service_endpoints=[
                network.ServiceEndpointPropertiesFormatArgs(service=service)
                for service in NODE_SUBNET_SERVICE_ENDPOINTS
            ],
            opts=subnet_opts,
        )
        self.endpoint_subnet = network.Subnet(
            f"{name}-endpoints",
            subnet_name="private-endpoints",
            resource_group_name=resource_group_name,
            virtual_network_name=self.vnet.name,
            address_prefix=layout.private_endpoint_subnet_cidr,
            private_endpoint_network_policies=network.VirtualNetworkPrivateEndpointNetworkPolicies.ENABLED,
            default_outbound_access=False,
            # Azure serialises subnet operations on one VNet; create them one after the other.
            opts=pulumi.ResourceOptions.merge(
                subnet_opts, pulumi.ResourceOptions(depends_on=[self.node_subnet])
            ),
        )
        self.register_outputs({"vnetId": self.vnet.id})
