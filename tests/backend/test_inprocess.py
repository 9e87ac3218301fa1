"""`kiva backend` against moto in-process (`mock_aws`), AWS-style URLs without an endpoint."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.backend.bucket import RULE_ID
from tests.backend.conftest import run

pytestmark = pytest.mark.usefixtures("in_process")

URL = "s3://kiva-state?region=eu-central-1"


def _client() -> Any:
    return boto3.client("s3", region_name="eu-central-1")


def test_bootstrap_creates_a_compliant_bucket() -> None:
    result = run("bootstrap", URL)
    assert result.exit_code == 0, result.output
    assert "created bucket kiva-state in eu-central-1" in result.stdout
    s3 = _client()
    assert s3.get_bucket_location(Bucket="kiva-state")["LocationConstraint"] == "eu-central-1"
    assert s3.get_bucket_versioning(Bucket="kiva-state")["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket="kiva-state")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket="kiva-state")["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket="kiva-state")["Rules"]
    assert rule["ID"] == RULE_ID
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90


def test_second_run_is_already_compliant_and_changes_nothing() -> None:
    assert run("bootstrap", URL, "--noncurrent-days", "30").exit_code == 0
    result = run("bootstrap", URL, "--noncurrent-days", "30")
    assert result.exit_code == 0
    assert "already compliant; nothing changed" in result.stdout
    assert "repaired" not in result.stdout and "created" not in result.stdout


def test_drift_is_repaired_and_each_repair_reported() -> None:
    assert run("bootstrap", URL).exit_code == 0
    s3 = _client()
    s3.put_bucket_versioning(Bucket="kiva-state", VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_encryption(Bucket="kiva-state")
    s3.put_public_access_block(
        Bucket="kiva-state",
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                        "BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )  # fmt: skip
    other = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 5}}
    s3.put_bucket_lifecycle_configuration(Bucket="kiva-state", LifecycleConfiguration={"Rules": [other]})

    result = run("bootstrap", URL)
    assert result.exit_code == 0, result.output
    assert "repaired versioning: enabled (was: Suspended)" in result.stdout
    assert "repaired encryption" in result.stdout
    assert "repaired public access block" in result.stdout and "BlockPublicPolicy" in result.stdout
    assert "repaired lifecycle" in result.stdout
    assert "bucket kiva-state is compliant" in result.stdout
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="kiva-state")["Rules"]}
    assert set(rules) == {"logs", RULE_ID}, "the user's own lifecycle rules are kept"
    assert run("verify", URL).exit_code == 0


def test_verify_names_every_failing_setting_of_a_bare_bucket() -> None:
    _client().create_bucket(Bucket="bare", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    result = run("verify", "s3://bare?region=eu-central-1")
    assert result.exit_code == 1
    for line in ("versioning           FAIL", "encryption           FAIL", "public access block  FAIL",
                 "lifecycle            FAIL"):  # fmt: skip
        assert line in result.stdout
    assert "region               pass" in result.stdout
    assert "NOT compliant: versioning, encryption, public access block, lifecycle" in result.stdout


def test_verify_checks_the_expected_retention_when_given() -> None:
    assert run("bootstrap", URL).exit_code == 0
    assert run("verify", URL).exit_code == 0
    result = run("verify", URL, "--noncurrent-days", "7")
    assert result.exit_code == 1
    assert "after 90 days (required: noncurrent versions expire after 7 days)" in result.stdout


def test_verify_of_a_missing_bucket_fails() -> None:
    result = run("verify", "s3://nowhere?region=eu-central-1")
    assert result.exit_code == 1
    assert "does not exist" in result.stdout


def test_non_eu_region_is_refused_and_nothing_is_created() -> None:
    result = run("bootstrap", "s3://kiva-us?region=us-east-1")
    assert result.exit_code == 2
    assert "region 'us-east-1' is refused" in result.stderr
    assert result.stderr.count("\n") == 1
    assert _client().list_buckets()["Buckets"] == []


def test_region_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    result = run("bootstrap", "s3://kiva-state")
    assert result.exit_code == 2
    assert "us-west-2" in result.stderr
    assert _client().list_buckets()["Buckets"] == []


def test_existing_bucket_in_a_non_eu_region_is_refused_unchanged() -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="kiva-state")
    result = run("bootstrap", URL)
    assert result.exit_code == 2
    assert "us-east-1" in result.stderr
    assert "Status" not in _client().get_bucket_versioning(Bucket="kiva-state")


@pytest.mark.parametrize("args", [("bootstrap", "s4:/nonsense"), ("verify", "s4:/nonsense"), ("verify",),
                                  ("bootstrap", "s3://kiva-state")])  # fmt: skip
def test_usage_errors_exit_2_on_one_line(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_missing_credentials_are_reported_without_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = run("bootstrap", URL)
    assert result.exit_code == 2
    assert "no S3 credentials" in result.stderr


def test_unknown_profile_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("verify", URL + "&profile=nobody")
    assert result.exit_code == 2
    assert "profile 'nobody' not found" in result.stderr


def test_credentials_from_a_named_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[kiva]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = run("bootstrap", URL + "&profile=kiva")
    assert result.exit_code == 0, result.output
    assert "profile-secret" not in result.output
    monkeypatch.setenv("AWS_PROFILE", "kiva")
    assert run("verify", URL).exit_code == 0
