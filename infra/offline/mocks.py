"""Pulumi mocks that answer like the real providers, so the whole program runs without a cloud.

`new_resource` echoes the inputs and adds the outputs a provider would compute (ids, names, URIs,
identities); `call` answers the invokes the program uses (client config, AKS credentials).
Values are derived from the URN, so a plan is reproducible.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"
TENANT_ID = "00000000-0000-4000-8000-000000000002"
DEPLOYER_OBJECT_ID = "00000000-0000-4000-8000-000000000003"
DEPLOYER_CLIENT_ID = "00000000-0000-4000-8000-000000000004"

_AZURE_TYPES: dict[str, str] = {
    "resources:ResourceGroup": "",
    "network:VirtualNetwork": "Microsoft.Network/virtualNetworks",
    "network:Subnet": "Microsoft.Network/virtualNetworks/subnets",
    "network:PrivateEndpoint": "Microsoft.Network/privateEndpoints",
    "network:PrivateDnsZone": "Microsoft.Network/privateDnsZones",
    "network:PrivateDnsZoneGroup": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    "privatedns:PrivateZone": "Microsoft.Network/privateDnsZones",
    "privatedns:VirtualNetworkLink": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    "containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters",
    "containerservice:AgentPool": "Microsoft.ContainerService/managedClusters/agentPools",
    "containerservice:MaintenanceConfiguration": "Microsoft.ContainerService/managedClusters/maintenanceConfigurations",
    "keyvault:Vault": "Microsoft.KeyVault/vaults",
    "keyvault:Secret": "Microsoft.KeyVault/vaults/secrets",
    "operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
    "managedidentity:FederatedIdentityCredential": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    "storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "storage:BlobContainer": "Microsoft.Storage/storageAccounts/blobServices/containers",
    "storage:BlobServiceProperties": "Microsoft.Storage/storageAccounts/blobServices",
    "storage:ManagementPolicy": "Microsoft.Storage/storageAccounts/managementPolicies",
    "authorization:RoleAssignment": "Microsoft.Authorization/roleAssignments",
    "insights:DiagnosticSetting": "Microsoft.Insights/diagnosticSettings",
    "monitor:DiagnosticSetting": "Microsoft.Insights/diagnosticSettings",
    "monitor:DataCollectionRule": "Microsoft.Insights/dataCollectionRules",
    "monitor:DataCollectionRuleAssociation": "Microsoft.Insights/dataCollectionRuleAssociations",
}


#: Input that holds the Azure name where the generic `<type>Name` guess in `_azure_name` misses it.
_NAME_KEYS: dict[str, str] = {
    "storage:StorageAccount": "accountName",
    "storage:BlobContainer": "containerName",
    "monitor:DiagnosticSetting": "name",
    "monitor:DataCollectionRule": "dataCollectionRuleName",
    "monitor:DataCollectionRuleAssociation": "associationName",
    "authorization:RoleAssignment": "roleAssignmentName",
}


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def mock_kubeconfig(server: str, cluster: str) -> str:
    """A kubeconfig in the exec/kubelogin form AKS returns for `format=exec` (no credential inside)."""
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- cluster:\n    server: {server}\n  name: {cluster}\n"
        f"contexts:\n- context:\n    cluster: {cluster}\n    user: clusterUser_{cluster}\n  name: {cluster}\n"
        f"current-context: {cluster}\n"
        f"users:\n- name: clusterUser_{cluster}\n  user:\n    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n"
        "      args: [get-token, --login, azurecli, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]\n"
    )


class KivaMocks(pulumi.runtime.Mocks):
    """Realistic provider answers for the resource types KIVA registers."""

    def __init__(self) -> None:
        self.extra_outputs: dict[str, Callable[[MockResourceArgs, dict[str, Any]], dict[str, Any]]] = {
            "azure-native:resources:ResourceGroup": self._resource_group,
            "azure-native:containerservice:ManagedCluster": self._managed_cluster,
            "azure-native:keyvault:Vault": self._vault,
            "azure-native:managedidentity:UserAssignedIdentity": self._identity,
            "azure-native:storage:StorageAccount": self._storage_account,
            "azure-native:operationalinsights:Workspace": self._workspace,
            "random:index/randomPassword:RandomPassword": self._random,
            "random:index/randomString:RandomString": self._random,
            "random:index/randomId:RandomId": self._random_id,
            # Dynamic resources (components/platform/teams.py) are registered, never executed, offline.
            "pulumi-python:dynamic/kiva:GatewayKey": self._gateway_key,
        }

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        resource_id = self._resource_id(args)
        if args.typ.startswith("azure-native:"):
            state.setdefault("name", self._azure_name(args))
            state.setdefault("id", resource_id)
            state.setdefault("azureApiVersion", "mock")
        extra = self.extra_outputs.get(args.typ)
        if extra:
            state.update(extra(args, state))
        return resource_id, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return self._answer(args), []

    def _answer(self, args: MockCallArgs) -> dict[str, Any]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": DEPLOYER_CLIENT_ID,
                "objectId": DEPLOYER_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            cluster = str(args.args.get("resourceName", "aks"))
            kubeconfig = mock_kubeconfig(f"https://{cluster}.hcp.germanywestcentral.azmk8s.io:443", cluster)
            return {
                "kubeconfigs": [
                    {"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}
                ]
            }
        raise NotImplementedError(
            f"the offline engine has no answer for invoke {args.token}; add one to KivaMocks"
        )

    # Per-type outputs -------------------------------------------------------------------------------

    @staticmethod
    def _azure_name(args: MockResourceArgs) -> str:
        explicit = _NAME_KEYS.get(args.typ.removeprefix("azure-native:"))
        if explicit and isinstance(args.inputs.get(explicit), str):
            return str(args.inputs[explicit])
        prefix = args.typ.rsplit(":", 1)[-1].lower()[:4]
        for key, value in args.inputs.items():
            if (
                key.endswith("Name")
                and key != "resourceGroupName"
                and isinstance(value, str)
                and (key.lower().startswith(prefix) or key == "resourceName")
            ):
                return value
        return args.name

    def _resource_id(self, args: MockResourceArgs) -> str:
        if not args.typ.startswith("azure-native:"):
            return f"{args.name}-{stable_uuid(args.typ, args.name)[:8]}"
        short = args.typ.removeprefix("azure-native:")
        group = args.inputs.get("resourceGroupName") or args.name
        base = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{group}"
        if short == "resources:ResourceGroup":
            return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{args.inputs.get('resourceGroupName', args.name)}"
        provider_type = _AZURE_TYPES.get(short, f"Microsoft.Mock/{short.replace(':', '/')}")
        return f"{base}/providers/{provider_type}/{self._azure_name(args)}"

    @staticmethod
    def _managed_cluster(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        name = state["name"]
        return {
            "fqdn": f"{name}.hcp.germanywestcentral.azmk8s.io",
            # The API spells it `issuerURL` (ManagedClusterOIDCIssuerProfileResponse).
            "oidcIssuerProfile": {
                **(state.get("oidcIssuerProfile") or {}),
                "issuerURL": f"https://germanywestcentral.oic.prod-aks.azure.com/{TENANT_ID}/{stable_uuid(name)}/",
            },
            "identityProfile": {
                "kubeletidentity": {
                    "clientId": stable_uuid(name, "kubelet"),
                    "objectId": stable_uuid(name, "kubelet-object"),
                }
            },
            "identity": {
                **(state.get("identity") or {}),
                "principalId": stable_uuid(name, "principal"),
                "tenantId": TENANT_ID,
            },
        }

    @staticmethod
    def _vault(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        properties = dict(state.get("properties") or {})
        properties["vaultUri"] = f"https://{state['name']}.vault.azure.net/"
        return {"properties": properties}

    @staticmethod
    def _identity(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        return {
            "clientId": stable_uuid(state["id"], "client"),
            "principalId": stable_uuid(state["id"], "principal"),
            "tenantId": TENANT_ID,
        }

    @staticmethod
    def _resource_group(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        return {"name": args.inputs.get("resourceGroupName", args.name)}

    @staticmethod
    def _storage_account(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        account = args.inputs.get("accountName") or state["name"]
        return {"name": account, "primaryEndpoints": {"blob": f"https://{account}.blob.core.windows.net/"}}

    @staticmethod
    def _workspace(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        return {"customerId": stable_uuid(state["id"], "workspace")}

    @staticmethod
    def _random(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        length = int(args.inputs.get("length", 32))
        seed = stable_uuid("random", args.name).replace("-", "")
        return {"result": (seed * (length // len(seed) + 1))[:length]}

    @staticmethod
    def _gateway_key(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        """A placeholder for the key `/key/generate` would return (the resource marks it secret)."""
        return {"key": f"sk-offline-placeholder-{stable_uuid('gateway-key', args.name)[:8]}"}

    @staticmethod
    def _random_id(args: MockResourceArgs, state: dict[str, Any]) -> dict[str, Any]:
        seed = stable_uuid("random-id", args.name).replace("-", "")
        length = int(args.inputs.get("byteLength", 4)) * 2
        return {"hex": seed[:length], "dec": str(int(seed[:length], 16))}
