"""Issue 9, defect 9: a lifecycle policy bounds how long deleted or overwritten backup data is kept."""

from __future__ import annotations

import pytest

from components.azure.backup_storage import BACKUP_CONTAINER
from tests.azure.helpers import one
from tests.conftest import stack_config

POLICY = "azure-native:storage:ManagementPolicy"


def _rule(plan):
    (rule,) = one(plan, POLICY).inputs["policy"]["rules"]
    return rule


@pytest.mark.parametrize(("stack", "backup_days"), [("dev", 7), ("prod", 30)])
def test_previous_versions_and_snapshots_are_deleted_after_the_backup_retention(plan_of, stack, backup_days):
    plan = plan_of(stack)
    policy = one(plan, POLICY)
    assert policy.inputs["managementPolicyName"] == "default"
    assert (
        policy.inputs["accountName"] == one(plan, "azure-native:storage:StorageAccount").inputs["accountName"]
    )
    rule = _rule(plan)
    assert rule["enabled"] is True
    assert rule["type"] == "Lifecycle"
    actions = rule["definition"]["actions"]
    assert actions["version"]["delete"] == {"daysAfterCreationGreaterThan": backup_days}
    assert actions["snapshot"]["delete"] == {"daysAfterCreationGreaterThan": backup_days}
    # Current blobs belong to Barman's retention: the policy must never delete a live backup.
    assert "baseBlob" not in actions
    filters = rule["definition"]["filters"]
    assert filters["blobTypes"] == ["blockBlob"]
    assert filters["prefixMatch"] == [f"{BACKUP_CONTAINER}/"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_versions_are_kept_no_longer_than_backup_plus_soft_delete_days(plan_of, stack):
    plan = plan_of(stack)
    retention = stack_config(stack)["kiva:retention"]
    service = one(plan, "azure-native:storage:BlobServiceProperties").inputs
    assert service["isVersioningEnabled"] is True
    days = _rule(plan)["definition"]["actions"]["version"]["delete"]["daysAfterCreationGreaterThan"]
    soft_delete = service["deleteRetentionPolicy"]["days"]
    assert soft_delete == retention["blobSoftDeleteDays"]
    assert days + soft_delete <= retention["backupDays"] + retention["blobSoftDeleteDays"]
    assert days >= 1


def test_policy_follows_the_configured_backup_retention(plan_with):
    retention = stack_config("prod")["kiva:retention"]
    retention["backupDays"] = 45
    rule = _rule(plan_with("prod", {"kiva:retention": retention}))
    assert rule["definition"]["actions"]["version"]["delete"]["daysAfterCreationGreaterThan"] == 45


def test_policy_waits_for_the_blob_service(plan_of):
    plan = plan_of("prod")
    service = one(plan, "azure-native:storage:BlobServiceProperties")
    assert service.urn in one(plan, POLICY).dependencies
