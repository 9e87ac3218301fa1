"""Day-one backup destinations: every Barman Cloud ObjectStore writes to an EU/EEA region."""

from __future__ import annotations

import pytest

from tests.policies.day_one.network_fixtures import committed, edit, messages, run

POLICY = "kiva-residency-backup-destinations"
STORE = "kiva-database-object-store"


def _s3(endpoint: str | None, region: str | None = None):
    def change(props: dict) -> None:
        configuration = props["spec"]["configuration"]
        configuration.pop("azureCredentials", None)
        configuration["destinationPath"] = "s3://kiva-backups/prod/"
        configuration["s3Credentials"] = {"region": {"name": "kiva-db-backup", "key": "REGION"}}
        if endpoint:
            configuration["endpointURL"] = endpoint
        else:
            configuration.pop("endpointURL", None)
        annotations = props["metadata"].setdefault("annotations", {})
        annotations.pop("kiva.platform/region", None)
        props["metadata"].get("labels", {}).pop("kiva.platform/region", None)
        if region:
            annotations["kiva.platform/region"] = region

    return change


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_pass(stack: str) -> None:
    assert run(committed(stack), POLICY).findings == []


def test_s3_backup_in_us_east_1_is_caught_by_its_endpoint() -> None:
    """Issue 9 (14): a US bucket planned green."""
    found = messages(run(edit(committed("prod"), STORE, _s3("https://s3.us-east-1.amazonaws.com")), POLICY))
    assert found == [
        f"{STORE}: ObjectStore kiva/kiva-db-backups backs up to s3.us-east-1.amazonaws.com, an S3 endpoint in "
        "region 'us-east-1', which is not on the EU allow-list."
    ]


def test_s3_backup_in_us_east_1_is_caught_by_its_declared_region() -> None:
    found = messages(run(edit(committed("prod"), STORE, _s3(None, "us-east-1")), POLICY))
    assert len(found) == 1 and "declares backup region 'us-east-1'" in found[0]


@pytest.mark.parametrize(
    "endpoint, region",
    [
        (None, "eu-central-1"),
        ("https://s3.eu-central-1.amazonaws.com", None),
        ("https://object.storage.eu01.onstackit.cloud", None),
        ("https://obs.eu-de.otc.t-systems.com", None),
    ],
)
def test_eu_s3_destinations_pass(endpoint: str | None, region: str | None) -> None:
    assert run(edit(committed("prod"), STORE, _s3(endpoint, region)), POLICY).findings == []


def test_s3_without_endpoint_or_declared_region_is_not_verifiable() -> None:
    report = run(edit(committed("prod"), STORE, _s3(None)), POLICY)
    assert [f.status for f in report.findings] == ["not-verifiable"]
    assert "kiva.platform/region" in report.findings[0].message


def test_azure_backup_account_outside_the_eu_is_caught() -> None:
    resources = committed("prod")
    account = next(r.urn for r in resources if r.type == "azure-native:storage:StorageAccount")
    found = messages(run(edit(resources, account, lambda p: p.update(location="eastus")), POLICY))
    assert len(found) == 1 and found[0].startswith(f"{STORE}: ObjectStore kiva/kiva-db-backups backs up")
    assert "'eastus'" in found[0]
