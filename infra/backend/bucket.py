"""The settings a KIVA state or backup bucket must have, how to check them, and how to repair drift.

Desired: in an EU region, versioning on, default encryption, all public access blocked, and a
lifecycle rule that expires noncurrent object versions after N days (old state checkpoints and
deleted backups do not pile up forever, yet a bad `pulumi up` can be rolled back within N days).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from infra.backend.errors import BackendError
from infra.backend.region import allowed_regions

RULE_ID = "kiva-noncurrent-expiry"
ENCRYPTION_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_NOT_IMPLEMENTED = {"NotImplemented", "NotImplementedException", "MethodNotAllowed", "XNotImplemented"}

SETTINGS = ("region", "versioning", "encryption", "public access block", "lifecycle")


@dataclass(frozen=True)
class Desired:
    bucket: str
    region: str
    noncurrent_days: int | None
    """Days after which noncurrent versions expire; `None` (verify only) accepts any such rule."""
    where: str = ""
    """Endpoint description for messages."""
    allowed: tuple[str, ...] | None = None
    """EU/EEA region names at this endpoint's provider; `None`: the names that mean one country everywhere."""


@dataclass(frozen=True)
class Check:
    setting: str
    ok: bool
    detail: str
    """What was found."""
    required: str = ""
    """What a compliant bucket has (shown for failing settings)."""


def lifecycle_rule(days: int) -> dict[str, Any]:
    return {
        "ID": RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def call(where: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one S3 API call; turn transport failures into `BackendError` (exit 2), keep `ClientError`."""
    try:
        return operation(**kwargs)
    except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as error:
        raise BackendError(f"cannot reach {where}: {error}") from None
    except ClientError:
        raise
    except BotoCoreError as error:
        raise BackendError(f"{where}: {error}") from None


def _unexpected(where: str, what: str, error: ClientError) -> BackendError:
    message = error.response.get("Error", {}).get("Message", "")
    return BackendError(f"{where}: {what} failed: {error_code(error)} {message}".rstrip())


def bucket_exists(client: Any, desired: Desired) -> bool:
    try:
        call(desired.where, client.head_bucket, Bucket=desired.bucket)
        return True
    except ClientError as error:
        code = error_code(error)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied", "Forbidden"):
            raise BackendError(
                f"{desired.where}: bucket {desired.bucket} exists but these credentials may not use it"
            ) from None
        if code in ("301", "PermanentRedirect"):
            raise BackendError(
                f"{desired.where}: bucket {desired.bucket} exists in another region than {desired.region}"
            ) from None
        raise _unexpected(desired.where, "checking the bucket", error) from None


def bucket_region(client: Any, desired: Desired) -> str:
    try:
        answer = call(desired.where, client.get_bucket_location, Bucket=desired.bucket)
    except ClientError as error:
        raise _unexpected(desired.where, "reading the bucket region", error) from None
    location = answer.get("LocationConstraint") or "us-east-1"
    return "eu-west-1" if location == "EU" else location


def _check_region(client: Any, desired: Desired) -> Check:
    actual = bucket_region(client, desired)
    if actual not in (desired.allowed if desired.allowed is not None else allowed_regions()):
        return Check("region", False, f"{actual} is not on the EU allow-list", "an EU region")
    if actual != desired.region:
        return Check("region", False, actual, desired.region)
    return Check("region", True, f"{actual} (EU allow-list)")


def _check_versioning(client: Any, desired: Desired) -> Check:
    try:
        status = call(desired.where, client.get_bucket_versioning, Bucket=desired.bucket).get("Status")
    except ClientError as error:
        return Check("versioning", False, f"cannot read: {error_code(error)}")
    if status == "Enabled":
        return Check("versioning", True, "Enabled")
    return Check("versioning", False, status or "never enabled", "Enabled")


def _check_encryption(client: Any, desired: Desired) -> Check:
    try:
        answer = call(desired.where, client.get_bucket_encryption, Bucket=desired.bucket)
    except ClientError as error:
        if error_code(error) == "ServerSideEncryptionConfigurationNotFoundError":
            return Check("encryption", False, "no default encryption", "default AES256 or aws:kms")
        return Check("encryption", False, f"cannot read: {error_code(error)}")
    rules = answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    good = [a for a in algorithms if a in ENCRYPTION_ALGORITHMS]
    if good:
        return Check("encryption", True, f"default {good[0]}")
    return Check("encryption", False, "no default encryption", "default AES256 or aws:kms")


def _publicly_granted(client: Any, desired: Desired) -> list[str]:
    """For stores without the public access block API: what in the ACL or policy opens the bucket."""
    findings: list[str] = []
    try:
        acl = call(desired.where, client.get_bucket_acl, Bucket=desired.bucket)
        for grant in acl.get("Grants", []):
            if grant.get("Grantee", {}).get("URI") in _PUBLIC_GRANTEES:
                findings.append(
                    f"ACL grants {grant.get('Permission')} to {grant['Grantee']['URI'].rsplit('/', 1)[-1]}"
                )
    except ClientError as error:
        findings.append(f"ACL unreadable ({error_code(error)})")
    try:
        policy = json.loads(call(desired.where, client.get_bucket_policy, Bucket=desired.bucket)["Policy"])
        for statement in policy.get("Statement", []):
            principal = statement.get("Principal")
            if statement.get("Effect") == "Allow" and principal in ("*", {"AWS": "*"}):
                findings.append("bucket policy allows Principal *")
    except ClientError as error:
        if error_code(error) not in ("NoSuchBucketPolicy", *_NOT_IMPLEMENTED):
            findings.append(f"policy unreadable ({error_code(error)})")
    except (ValueError, KeyError, TypeError):
        findings.append("bucket policy is not readable JSON")
    return findings


def _check_public_access(client: Any, desired: Desired) -> Check:
    name = "public access block"
    try:
        answer = call(desired.where, client.get_public_access_block, Bucket=desired.bucket)
    except ClientError as error:
        code = error_code(error)
        if code == "NoSuchPublicAccessBlockConfiguration":
            return Check(name, False, "not set: public ACLs and policies are allowed", "all four settings on")
        if code in _NOT_IMPLEMENTED:
            findings = _publicly_granted(client, desired)
            if findings:
                return Check(name, False, "endpoint has no public access block; " + "; ".join(findings))
            return Check(
                name, True, "endpoint has no public access block API; ACL and policy grant nothing public"
            )
        return Check(name, False, f"cannot read: {code}")
    config = answer.get("PublicAccessBlockConfiguration", {})
    off = [key for key in PUBLIC_ACCESS_BLOCK if not config.get(key)]
    if off:
        return Check(name, False, f"off: {', '.join(off)}", "all four settings on")
    return Check(name, True, "all four settings on")


def _covers_bucket(rule: dict[str, Any]) -> bool:
    if "Filter" in rule:
        rule_filter = rule["Filter"]
        return not rule_filter or rule_filter == {"Prefix": ""}
    return rule.get("Prefix", "") == ""


def lifecycle_rules(client: Any, desired: Desired) -> list[dict[str, Any]]:
    try:
        return call(desired.where, client.get_bucket_lifecycle_configuration, Bucket=desired.bucket)["Rules"]
    except ClientError as error:
        if error_code(error) == "NoSuchLifecycleConfiguration":
            return []
        raise _unexpected(desired.where, "reading the lifecycle", error) from None


def _lifecycle_required(days: int | None) -> str:
    return f"noncurrent versions expire after {days or 'N'} days"


def _check_lifecycle(client: Any, desired: Desired) -> Check:
    expiring = [
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        for rule in lifecycle_rules(client, desired)
        if rule.get("Status") == "Enabled"
        and _covers_bucket(rule)
        and rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
    ]
    want = desired.noncurrent_days
    if not expiring:
        return Check("lifecycle", False, "no rule expires noncurrent versions", _lifecycle_required(want))
    if want is not None and want not in expiring:
        days = ", ".join(str(d) for d in expiring)
        return Check(
            "lifecycle", False, f"noncurrent versions expire after {days} days", _lifecycle_required(want)
        )
    return Check("lifecycle", True, f"noncurrent versions expire after {want or expiring[0]} days")


def inspect(client: Any, desired: Desired) -> list[Check]:
    """Every setting, checked; the bucket must exist (see `bucket_exists`)."""
    checks = (_check_region, _check_versioning, _check_encryption, _check_public_access, _check_lifecycle)
    return [check(client, desired) for check in checks]


def _repair(client: Any, desired: Desired, check: Check) -> str:
    bucket = desired.bucket
    if check.setting == "versioning":
        call(desired.where, client.put_bucket_versioning, Bucket=bucket,
             VersioningConfiguration={"Status": "Enabled"})  # fmt: skip
        return f"versioning: enabled (was: {check.detail})"
    if check.setting == "encryption":
        call(desired.where, client.put_bucket_encryption, Bucket=bucket,
             ServerSideEncryptionConfiguration={
                 "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})  # fmt: skip
        return f"encryption: default AES256 set (was: {check.detail})"
    if check.setting == "public access block":
        call(desired.where, client.put_public_access_block, Bucket=bucket,
             PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)  # fmt: skip
        return f"public access block: all four settings on (was: {check.detail})"
    if check.setting == "lifecycle":
        days = desired.noncurrent_days or 90
        others = [rule for rule in lifecycle_rules(client, desired) if rule.get("ID") != RULE_ID]
        call(desired.where, client.put_bucket_lifecycle_configuration, Bucket=bucket,
             LifecycleConfiguration={"Rules": [*others, lifecycle_rule(days)]})  # fmt: skip
        return f"lifecycle: noncurrent versions expire after {days} days (was: {check.detail})"
    raise BackendError(f"{desired.where}: {check.setting} cannot be repaired: {check.detail}")


@dataclass(frozen=True)
class Outcome:
    created: bool
    repairs: list[str]
    failed: list[str]
    """Repairs the endpoint refused (e.g. an API a store does not implement)."""
    checks: list[Check]

    @property
    def compliant(self) -> bool:
        return all(check.ok for check in self.checks)


def bootstrap(client: Any, desired: Desired) -> Outcome:
    """Create the bucket if needed and bring every setting to the desired state. Idempotent."""
    created = False
    if not bucket_exists(client, desired):
        kwargs: dict[str, Any] = {"Bucket": desired.bucket}
        if desired.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": desired.region}
        try:
            call(desired.where, client.create_bucket, **kwargs)
            created = True
        except ClientError as error:
            if error_code(error) != "BucketAlreadyOwnedByYou":
                raise _unexpected(desired.where, f"creating bucket {desired.bucket}", error) from None
    checks = inspect(client, desired)
    region = checks[0]
    if not region.ok:
        raise BackendError(f"{desired.where}: bucket {desired.bucket} exists, region {region.detail}")
    repairs: list[str] = []
    failed: list[str] = []
    for check in checks[1:]:
        if check.ok:
            continue
        try:
            repairs.append(_repair(client, desired, check))
        except ClientError as error:
            failed.append(f"{check.setting}: the endpoint refused the change ({error_code(error)})")
    if repairs:
        checks = inspect(client, desired)
    return Outcome(created, repairs, failed, checks)
