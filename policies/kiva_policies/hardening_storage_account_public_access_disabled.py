"""kiva-hardening-storage-account-public-access-disabled: storage accounts have no public endpoint.

The backup account holds the database's backups (personal data). In prod it is reached only through a
private endpoint in the cluster's VNet: `publicNetworkAccess: Disabled` (azure-native
`storage:StorageAccount`, Microsoft.Storage/storageAccounts `publicNetworkAccess`: `Enabled`,
`Disabled`, `SecuredByPerimeter`). An unset value means the service default, which is public, and a
perimeter is not something this stack manages, so only `Disabled` passes. Mandatory in prod, advisory
elsewhere (dev keeps the public endpoint, Entra ID only); that the cluster can still reach the account
(endpoint, DNS zone linked to its VNet, zone group) is `kiva-reachability-cloud-firewalls`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, get

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != STORAGE_ACCOUNT:
        return
    public = get(args.props, "publicNetworkAccess")
    if public != "Disabled":
        found = f"is '{public}'" if public else "is not set (the service default is public)"
        report(
            f"Storage account '{args.name}' keeps a public endpoint: `publicNetworkAccess` {found}. Set "
            "`kiva:cluster.backupStorage.privateEndpoint: true`, which disables public access and reaches the "
            "account through a private endpoint.",
            None,
        )


storage_account_public_access_disabled = ResourceValidationPolicy(
    name="kiva-hardening-storage-account-public-access-disabled",
    description=(
        "Every storage account disables public network access and is reached through a private endpoint only."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [storage_account_public_access_disabled]
