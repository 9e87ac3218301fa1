"""The ManagedCluster, its network, workspace, diagnostics and upgrade windows, as the plan shows them."""

from __future__ import annotations

import pytest

from components.azure.aks_cluster import AUTO_UPGRADE_SCHEDULE, NODE_OS_UPGRADE_SCHEDULE
from tests.azure.helpers import is_secret, one, parent_type
from tests.conftest import stack_config

CLUSTER = "azure-native:containerservice:ManagedCluster"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cluster_is_hardened(plan_of, stack):
    inputs = one(plan_of(stack), CLUSTER).inputs
    assert inputs["kubernetesVersion"] == "1.34"
    assert inputs["location"] == "germanywestcentral"
    assert inputs["disableLocalAccounts"] is True
    assert inputs["enableRBAC"] is True
    assert inputs["aadProfile"]["managed"] is True
    assert inputs["aadProfile"]["enableAzureRBAC"] is True
    assert inputs["aadProfile"]["adminGroupObjectIDs"] == ["11111111-2222-3333-4444-555555555555"]
    assert inputs["oidcIssuerProfile"]["enabled"] is True
    assert inputs["securityProfile"]["workloadIdentity"]["enabled"] is True
    network = inputs["networkProfile"]
    assert (network["networkPlugin"], network["networkPluginMode"]) == ("azure", "overlay")
    assert network["networkPolicy"] == "cilium"
    assert network["networkDataplane"] == "cilium"
    assert inputs["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_system_pool_is_tainted_and_autoscaled(plan_of, stack):
    (system,) = one(plan_of(stack), CLUSTER).inputs["agentPoolProfiles"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["enableAutoScaling"] is True
    assert system["minCount"] <= system["maxCount"]
    assert system["vnetSubnetID"].endswith("/subnets/nodes")


def test_prod_spreads_over_zones_with_standard_tier_and_protection(plan_of):
    cluster = one(plan_of("prod"), CLUSTER)
    assert cluster.inputs["agentPoolProfiles"][0]["availabilityZones"] == ["1", "2", "3"]
    assert cluster.inputs["agentPoolProfiles"][0]["minCount"] == 3
    assert cluster.inputs["sku"] == {"name": "Base", "tier": "Standard"}
    assert cluster.protect is True


def test_dev_is_free_tier_and_unprotected(plan_of):
    cluster = one(plan_of("dev"), CLUSTER)
    assert cluster.inputs["sku"]["tier"] == "Free"
    assert "availabilityZones" not in cluster.inputs["agentPoolProfiles"][0]
    assert cluster.protect is False


def test_api_server_is_restricted_to_authorised_ranges(plan_of):
    access = one(plan_of("prod"), CLUSTER).inputs["apiServerAccessProfile"]
    assert access == {"authorizedIPRanges": ["198.51.100.0/24"]}
    assert "0.0.0.0/0" not in access["authorizedIPRanges"]


def test_private_api_server(plan_with):
    cluster = stack_config("prod")["kiva:cluster"]
    cluster["apiServer"] = {"private": True}
    plan = plan_with("prod", {"kiva:cluster": cluster})
    access = one(plan, CLUSTER).inputs["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True
    assert access["enablePrivateClusterPublicFQDN"] is False
    assert "authorizedIPRanges" not in access


@pytest.mark.parametrize(("stack", "days"), [("dev", 30), ("prod", 90)])
def test_log_analytics_retention_is_explicit(plan_of, stack, days):
    workspace = one(plan_of(stack), "azure-native:operationalinsights:Workspace").inputs
    assert workspace["retentionInDays"] == days
    assert workspace["sku"] == {"name": "PerGB2018"}
    assert workspace["location"] == "germanywestcentral"


def test_container_insights_and_audit_logs_go_to_the_workspace(plan_of):
    plan = plan_of("prod")
    workspace = one(plan, "azure-native:operationalinsights:Workspace")
    addon = one(plan, CLUSTER).inputs["addonProfiles"]["omsagent"]
    assert addon["enabled"] is True
    assert addon["config"]["logAnalyticsWorkspaceResourceID"] == workspace.id
    diagnostics = one(plan, "azure-native:monitor:DiagnosticSetting").inputs
    assert diagnostics["workspaceId"] == workspace.id
    assert diagnostics["resourceUri"] == one(plan, CLUSTER).id
    assert {"category": "kube-audit", "enabled": True} in diagnostics["logs"]
    rule = one(plan, "azure-native:monitor:DataCollectionRule")
    assert rule.inputs["destinations"]["logAnalytics"][0]["workspaceResourceId"] == workspace.id
    assert rule.inputs["dataSources"]["extensions"][0]["extensionName"] == "ContainerInsights"
    association = one(plan, "azure-native:monitor:DataCollectionRuleAssociation").inputs
    assert (association["resourceUri"], association["dataCollectionRuleId"]) == (
        one(plan, CLUSTER).id,
        rule.id,
    )


def test_maintenance_windows_for_patch_and_node_image_upgrades(plan_of):
    windows = {
        r.inputs["configName"]: r.inputs["maintenanceWindow"]
        for r in plan_of("prod").of_type("azure-native:containerservice:MaintenanceConfiguration")
    }
    assert set(windows) == {AUTO_UPGRADE_SCHEDULE, NODE_OS_UPGRADE_SCHEDULE}
    for window in windows.values():
        assert window["schedule"] == {"weekly": {"dayOfWeek": "Sunday", "intervalWeeks": 1}}
        assert window["startTime"] == "01:00"
        assert window["durationHours"] == 4
        assert window["utcOffset"] == "+01:00"


def test_network_has_node_and_private_endpoint_subnets(plan_of):
    plan = plan_of("prod")
    vnet = one(plan, "azure-native:network:VirtualNetwork").inputs
    assert vnet["addressSpace"] == {"addressPrefixes": ["10.240.0.0/16"]}
    subnets = {r.inputs["subnetName"]: r.inputs for r in plan.of_type("azure-native:network:Subnet")}
    assert subnets["nodes"]["addressPrefix"] == "10.240.0.0/20"
    assert subnets["private-endpoints"]["addressPrefix"] == "10.240.16.0/24"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_outputs_kubeconfig_is_secret_exec_form_and_issuer_url(plan_of, stack):
    outputs = plan_of(stack).stack_outputs
    assert is_secret(outputs["kubeconfig"])
    assert "command: kubelogin" in outputs["kubeconfig"]["value"]
    assert outputs["oidcIssuerUrl"].startswith("https://germanywestcentral.oic.prod-aks.azure.com/")


def test_kubernetes_provider_uses_the_secret_kubeconfig_and_the_cluster_id(plan_of):
    plan = plan_of("prod")
    provider = one(plan, "pulumi:providers:kubernetes").inputs
    assert is_secret(provider["kubeconfig"])
    assert provider["clusterIdentifier"] == one(plan, CLUSTER).id


def test_azure_provider_is_explicit_and_in_the_eu_region(plan_of):
    plan = plan_of("prod")
    provider = one(plan, "pulumi:providers:azure-native")
    assert provider.inputs["location"] == "germanywestcentral"
    for resource in plan.resources:
        if resource.type.startswith("azure-native:"):
            assert resource.provider.startswith(provider.urn), resource.name


def test_components_carry_kiva_azure_type_tokens(plan_of):
    plan = plan_of("prod")
    assert parent_type(plan, one(plan, CLUSTER)) == "kiva:azure:AksCluster"
    assert parent_type(plan, one(plan, "azure-native:keyvault:Vault")) == "kiva:azure:KeyVault"
    assert parent_type(plan, one(plan, "azure-native:storage:StorageAccount")) == "kiva:azure:BackupStorage"
    pools = {r.name: r for r in plan.of_type("azure-native:containerservice:AgentPool")}
    assert parent_type(plan, pools["kiva-gpu-a100"]) == "kiva:azure:GpuNodePool"
    assert parent_type(plan, pools["kiva-general"]) == "kiva:azure:GeneralNodePool"


def test_deployer_is_cluster_admin_through_azure_rbac(plan_of):
    from components.azure.common import BuiltInRole
    from infra.offline.mocks import DEPLOYER_OBJECT_ID

    plan = plan_of("prod")
    (admin,) = [
        r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(BuiltInRole.AKS_RBAC_CLUSTER_ADMIN)
    ]
    assert admin["scope"] == one(plan, CLUSTER).id
    assert admin["principalId"] == DEPLOYER_OBJECT_ID
