"""Backup storage: an EU account without public or shared-key access, versioning, soft delete, identity."""

from __future__ import annotations

import pytest

from components.azure.common import BuiltInRole
from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE
from tests.azure.helpers import one

ACCOUNT = "azure-native:storage:StorageAccount"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_account_is_locked_down_and_protected(plan_of, stack):
    account = one(plan_of(stack), ACCOUNT)
    inputs = account.inputs
    assert inputs["location"] == "germanywestcentral"
    assert inputs["allowBlobPublicAccess"] is False
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["enableHttpsTrafficOnly"] is True
    assert 3 <= len(inputs["accountName"]) <= 24
    assert inputs["accountName"].isalnum() and inputs["accountName"].islower()
    assert account.protect is True


def test_prod_uses_zone_redundant_storage(plan_of):
    assert one(plan_of("prod"), ACCOUNT).inputs["sku"] == {"name": "Standard_ZRS"}
    assert one(plan_of("dev"), ACCOUNT).inputs["sku"] == {"name": "Standard_LRS"}


@pytest.mark.parametrize(("stack", "days"), [("dev", 7), ("prod", 30)])
def test_versioning_and_soft_delete_from_retention(plan_of, stack, days):
    service = one(plan_of(stack), "azure-native:storage:BlobServiceProperties").inputs
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": days}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": days}


def test_database_identity_can_write_the_container(plan_of):
    plan = plan_of("prod")
    account = one(plan, ACCOUNT)
    container = one(plan, "azure-native:storage:BlobContainer").inputs
    assert container["publicAccess"] == "None"
    credential = next(
        r.inputs
        for r in plan.of_type("azure-native:managedidentity:FederatedIdentityCredential")
        if r.inputs["subject"] == f"system:serviceaccount:{PLATFORM_NAMESPACE}:{DATABASE_CLUSTER_NAME}"
    )
    assert credential["audiences"] == ["api://AzureADTokenExchange"]
    (role,) = [
        r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR)
    ]
    assert role["scope"] == account.id
    assert role["principalType"] == "ServicePrincipal"
    path = plan.stack_outputs["backupDestinationPath"]
    assert (
        path == f"https://{account.inputs['accountName']}.blob.core.windows.net/{container['containerName']}/"
    )
