"""Every Azure resource is tagged and placed explicitly; what holds data is protected."""

from __future__ import annotations

import pytest

from tests.azure.helpers import azure_resources

#: Azure resource types that take no tags or location in the ARM API (children or extension resources).
UNTAGGED = {
    "azure-native:network:Subnet",
    "azure-native:network:PrivateDnsZoneGroup",
    "azure-native:containerservice:MaintenanceConfiguration",
    "azure-native:managedidentity:FederatedIdentityCredential",
    "azure-native:authorization:RoleAssignment",
    "azure-native:monitor:DiagnosticSetting",
    "azure-native:monitor:DataCollectionRuleAssociation",
    "azure-native:storage:BlobServiceProperties",
    "azure-native:storage:BlobContainer",
    "azure-native:storage:ManagementPolicy",
}
#: Types without a location of their own: children of a located resource.
UNLOCATED = UNTAGGED | {"azure-native:containerservice:AgentPool", "azure-native:keyvault:Secret"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_taggable_azure_resource_carries_the_stack_tags(plan_of, stack):
    expected = {
        "stage": stack,
        "environment": "production" if stack == "prod" else "development",
        "owner": "ki-plattform@example.de",
        "costCenter": "4711",
        "dataClassification": "confidential" if stack == "prod" else "internal",
    }
    resources = [r for r in azure_resources(plan_of(stack)) if r.type not in UNTAGGED]
    assert len(resources) >= 10
    for resource in resources:
        tags = resource.inputs.get("tags")
        assert tags is not None, resource.name
        assert expected.items() <= tags.items(), resource.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_located_resource_names_its_eu_location(plan_of, stack):
    for resource in azure_resources(plan_of(stack)):
        if resource.type in UNLOCATED:
            continue
        expected = "global" if resource.type.startswith("azure-native:privatedns:") else "germanywestcentral"
        assert resource.inputs.get("location") == expected, resource.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_data_holders_are_protected(plan_of, stack):
    plan = plan_of(stack)
    protected = {r.type for r in azure_resources(plan) if r.protect}
    assert {
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Secret",  # the salt key
        "azure-native:storage:StorageAccount",
        "azure-native:storage:BlobContainer",
    } <= protected
    assert ("azure-native:containerservice:ManagedCluster" in protected) == (stack == "prod")
    salt = next(r for r in plan.resources if r.name.endswith("-salt-key") and r.type.startswith("random:"))
    assert salt.protect


def test_local_stack_registers_no_azure_resource(plan_of):
    plan = plan_of("local")
    assert azure_resources(plan) == []
    assert not [r for r in plan.resources if r.type.startswith(("pulumi:providers:azure", "kiva:azure:"))]
