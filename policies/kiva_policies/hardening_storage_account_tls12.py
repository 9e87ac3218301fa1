"""kiva-hardening-storage-account-tls12: storage accounts accept TLS 1.2 or later, never 1.0 or 1.1.

azure-native `storage:StorageAccount.minimumTlsVersion` (`TLS1_0`, `TLS1_1`, `TLS1_2`, `TLS1_3`); an
unset value means the service default, which older accounts keep at TLS 1.0, so it must be explicit
(Microsoft.Storage/storageAccounts API 2023-05-01, `MinimumTlsVersion`).

Public network access is `kiva-hardening-storage-account-public-access-disabled`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, get

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
ACCEPTED = ("TLS1_2", "TLS1_3")


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != STORAGE_ACCOUNT:
        return
    version = get(args.props, "minimumTlsVersion")
    if version not in ACCEPTED:
        found = f"is '{version}'" if version else "is not set (the service default may be TLS1_0)"
        report(
            f"Storage account '{args.name}' accepts old TLS: `minimumTlsVersion` {found}. Set "
            "`minimumTlsVersion: TLS1_2`.",
            None,
        )


storage_account_tls12 = ResourceValidationPolicy(
    name="kiva-hardening-storage-account-tls12",
    description="Every storage account sets its minimum TLS version to 1.2 or later.",
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [storage_account_tls12]
