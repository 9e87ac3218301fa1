"""Stores without the public access block API (MinIO, some provider S3 gateways): ACL and policy decide."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from infra.backend.bucket import Desired, inspect

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeStore:
    """Just enough of an S3 client: compliant except that it lacks the public access block API."""

    def __init__(self, grants: list[dict[str, Any]], policy: dict[str, Any] | None) -> None:
        self.grants = grants
        self.policy = policy

    def get_bucket_location(self, Bucket: str) -> dict[str, Any]:
        return {"LocationConstraint": "eu-central-1"}

    def get_bucket_versioning(self, Bucket: str) -> dict[str, Any]:
        return {"Status": "Enabled"}

    def get_bucket_encryption(self, Bucket: str) -> dict[str, Any]:
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        return {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}

    def get_public_access_block(self, Bucket: str) -> dict[str, Any]:
        raise _error("NotImplemented", "GetPublicAccessBlock")

    def get_bucket_acl(self, Bucket: str) -> dict[str, Any]:
        return {"Grants": self.grants}

    def get_bucket_policy(self, Bucket: str) -> dict[str, Any]:
        if self.policy is None:
            raise _error("NoSuchBucketPolicy", "GetBucketPolicy")
        return {"Policy": json.dumps(self.policy)}

    def get_bucket_lifecycle_configuration(self, Bucket: str) -> dict[str, Any]:
        rule = {
            "ID": "x",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
        }
        return {"Rules": [rule]}


DESIRED = Desired("kiva-state", "eu-central-1", 90, "http://minio.local:9000 (eu-central-1)")


def test_private_bucket_passes_without_the_api() -> None:
    owner = {"Grantee": {"Type": "CanonicalUser", "ID": "me"}, "Permission": "FULL_CONTROL"}
    checks = {c.setting: c for c in inspect(FakeStore([owner], None), DESIRED)}
    assert all(c.ok for c in checks.values())
    assert "no public access block API" in checks["public access block"].detail


def test_public_acl_or_policy_fails_and_is_named() -> None:
    public_read = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}]}
    check = {c.setting: c for c in inspect(FakeStore([public_read], policy), DESIRED)}["public access block"]
    assert not check.ok
    assert "ACL grants READ to AllUsers" in check.detail
    assert "bucket policy allows Principal *" in check.detail
