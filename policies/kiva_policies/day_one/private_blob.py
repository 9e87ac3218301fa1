"""Where a backup to Azure Blob goes when the storage account has no public endpoint, and whether the
Barman Cloud plugin also needs Entra ID for a token.

- An account with `publicNetworkAccess: Disabled` is reached only through its private endpoint: the
  account's public name resolves, through the `privatelink.blob.core.windows.net` zone linked to the
  VNet, to an address of the endpoint's subnet (Microsoft Learn, "Azure Private Endpoint DNS
  configuration"). The address is taken from the subnet's `addressPrefix` in the plan: the fifth one,
  since Azure keeps the first four addresses of every subnet for itself.
- `azureCredentials.useDefaultAzureCredentials` (or `inheritFromAzureAD`) makes barman-cloud use
  azure-identity's `DefaultAzureCredential`, which on AKS with workload identity asks Entra ID for a
  token at the authority host the webhook injects (`AZURE_AUTHORITY_HOST`,
  `https://login.microsoftonline.com/`): a public address, private endpoint or not.

Resources are the `Res` views of `flows.py` (type, props, urn, dependencies), typed loosely here so that
this module does not import `flows`, which imports it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from kiva_policies.base import as_list, get

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
SUBNET = "azure-native:network:Subnet"
BLOB_SUFFIX = ".blob.core.windows.net"
#: Where Entra ID issues tokens (azure-identity's default authority host; public).
ENTRA_ID = "login.microsoftonline.com"


def _last_segment(value: Any) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(value, str) else ""


def _subnet_address(endpoint: Any, resources: Sequence[Any]) -> str | None:
    """The fifth address of the endpoint's subnet, found by the subnet id's name or by a dependency."""
    subnets = [r for r in resources if r.type == SUBNET]
    named = _last_segment(get(endpoint.props, "subnet", "id", default=None))
    found = [s for s in subnets if named and str(get(s.props, "subnetName", default=s.name)).lower() == named]
    for subnet in found or [s for s in subnets if s.urn in endpoint.dependencies]:
        try:
            network = ipaddress.IPv4Network(str(get(subnet.props, "addressPrefix", default="")))
        except ValueError:
            continue
        return str(network.network_address + 4)
    return None


def destination_host(configuration: Mapping[str, Any]) -> str:
    """The host of an ObjectStore's `destinationPath` (empty for `s3://`, `gs://`)."""
    destination = str(get(configuration, "destinationPath", default="") or "")
    return (urlparse(destination).hostname or "") if destination.startswith(("https://", "http://")) else ""


def private_blob_address(host: str, resources: Sequence[Any], sample: str) -> str | None:
    """The address `host` resolves to inside the VNet if it names a private Blob account of the plan (its
    endpoint's subnet, else `sample`); `None` when the account keeps its public endpoint or is unknown."""
    if not host.endswith(BLOB_SUFFIX):
        return None
    name = host.split(".", 1)[0].lower()
    accounts = [
        r
        for r in resources
        if r.type == STORAGE_ACCOUNT and str(get(r.props, "accountName", default=r.name)).lower() == name
    ]
    if not any(get(a.props, "publicNetworkAccess") == "Disabled" for a in accounts):
        return None
    urns = {a.urn for a in accounts}
    for endpoint in (r for r in resources if r.type == PRIVATE_ENDPOINT):
        services = [
            get(c, "privateLinkServiceId", default=None)
            for c in as_list(get(endpoint.props, "privateLinkServiceConnections"))
        ]
        if any(_last_segment(s) == name for s in services) or urns & set(endpoint.dependencies):
            return _subnet_address(endpoint, resources) or sample
    return sample


def uses_entra_id(configuration: Mapping[str, Any]) -> bool:
    """Whether the ObjectStore's plugin gets its Azure token from Entra ID (workload/managed identity)."""
    credentials = get(configuration, "azureCredentials", default={}) or {}
    return any(get(credentials, key) is True for key in ("useDefaultAzureCredentials", "inheritFromAzureAD"))
