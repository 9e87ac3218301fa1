"""`kiva backend` against moto's server mode on loopback, through the endpoint URL, as a MinIO/IONOS user."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.backend.conftest import run


def _url(server: str, bucket: str, region: str = "eu-central-1") -> str:
    return f"s3://{bucket}?endpoint={server}&disableSSL=true&s3ForcePathStyle=true&region={region}"


def _client(server: str, region: str = "eu-central-1") -> Any:
    return boto3.client("s3", endpoint_url=f"http://{server}", region_name=region,
                        config=Config(s3={"addressing_style": "path"}))  # fmt: skip


@pytest.fixture
def bucket() -> str:
    """A fresh name per test: the server lives for the whole session."""
    return f"kiva-state-{uuid.uuid4().hex[:12]}"


def _names(server: str) -> set[str]:
    return {b["Name"] for b in _client(server).list_buckets()["Buckets"]}


def test_bootstrap_rerun_verify(moto_server: str, bucket: str) -> None:
    url = _url(moto_server, bucket)
    first = run("bootstrap", url)
    assert first.exit_code == 0, first.output
    assert f"at http://{moto_server} (eu-central-1)" in first.stdout
    assert f"created bucket {bucket}" in first.stdout

    s3 = _client(moto_server)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}  # fmt: skip
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules] == [90]

    again = run("bootstrap", url)
    assert again.exit_code == 0
    assert "already compliant; nothing changed" in again.stdout

    verified = run("verify", url)
    assert verified.exit_code == 0
    assert verified.stdout.count(" pass ") == 5
    assert f"bucket {bucket} is compliant" in verified.stdout


def test_drift_is_repaired_through_the_endpoint(moto_server: str, bucket: str) -> None:
    url = _url(moto_server, bucket)
    assert run("bootstrap", url, "--noncurrent-days", "30").exit_code == 0
    s3 = _client(moto_server)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_encryption(Bucket=bucket)
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_bucket_lifecycle(Bucket=bucket)

    assert run("verify", url).exit_code == 1
    repaired = run("bootstrap", url, "--noncurrent-days", "30")
    assert repaired.exit_code == 0, repaired.output
    for setting in ("versioning", "encryption", "public access block", "lifecycle"):
        assert f"repaired {setting}" in repaired.stdout
    assert run("verify", url, "--noncurrent-days", "30").exit_code == 0


def test_verify_of_a_bucket_made_without_the_settings(moto_server: str, bucket: str) -> None:
    _client(moto_server).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    result = run("verify", _url(moto_server, bucket))
    assert result.exit_code == 1
    failing = [line.split("  ")[1].strip() for line in result.stdout.splitlines() if " FAIL " in line]
    assert failing == ["versioning", "encryption", "public access block", "lifecycle"]


def test_ionos_region_name_through_the_endpoint(moto_server: str, bucket: str) -> None:
    url = _url(moto_server, bucket, region="de")
    result = run("bootstrap", url)
    assert result.exit_code == 0, result.output
    assert _client(moto_server, "de").get_bucket_location(Bucket=bucket)["LocationConstraint"] == "de"
    assert run("verify", url).exit_code == 0


def test_us_east_1_is_refused_with_nothing_created(moto_server: str, bucket: str) -> None:
    before = _names(moto_server)
    result = run("bootstrap", _url(moto_server, bucket, region="us-east-1"))
    assert result.exit_code == 2
    assert "us-east-1" in result.stderr and "refused" in result.stderr
    assert _names(moto_server) == before
    assert bucket not in _names(moto_server)


def test_malformed_url_exits_2_without_a_traceback() -> None:
    result = run("bootstrap", "s4:/nonsense")
    assert result.exit_code == 2
    assert (
        result.stderr
        == "error: not an s3:// URL: 's4:/nonsense' (expected s3://BUCKET?region=…&endpoint=…)\n"
    )


@pytest.mark.parametrize("command", ["bootstrap", "verify"])
def test_unreachable_endpoint_exits_2(command: str, free_port: int) -> None:
    result = run(command, _url(f"127.0.0.1:{free_port}", "kiva-state"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot reach http://127.0.0.1:{free_port}")
    assert result.stderr.count("\n") == 1
