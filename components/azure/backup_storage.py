"""EU storage for the database's backups, reached only by the database's workload identity.

The account is in the stack's region, accepts TLS 1.2+ and Entra ID only (no shared keys, no public
blobs), keeps versions and soft-deleted blobs for `retention.blobSoftDeleteDays`, and is protected:
backups must outlive a careless `pulumi destroy`. CloudNativePG's Barman Cloud plugin writes to the
container as the identity federated with the `kiva-db` service account (Storage Blob Data Contributor).

Versioning alone keeps every blob Barman deletes as a previous version, forever. A lifecycle rule
therefore deletes previous versions (and snapshots) of the backup container once they are older than
`retention.backupDays`; Azure counts a previous version's age from when its content was written, not
from when it became a previous version. Lifecycle deletions are themselves soft deleted. So a backup
that Barman deletes when its retention expires is gone for good at most `blobSoftDeleteDays` (plus
about a day until the daily policy run) later, and no previous version outlives
`backupDays + blobSoftDeleteDays` (plus that day) from when it was written.

Network: with `cluster.backupStorage.privateEndpoint` (prod, following `keyVault.privateEndpoint`)
the account disables public network access, its firewall denies by default and bypasses no Azure
service, and the database reaches it through a private endpoint (group id `blob`) in the private-endpoint
subnet: the account's name resolves there through `privatelink.blob.core.windows.net` linked to the
VNet. Pulumi still manages the container, blob service and lifecycle policy, since those are Azure
Resource Manager calls, not data-plane requests. Without it (dev) the account keeps its public endpoint
and no firewall (Entra ID only, no shared keys); a firewall there would have to admit the node subnet.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, storage

from components.azure.common import AzureContext, BuiltInRole, resource_prefix, role_assignment
from components.azure.identity import FederatedIdentity
from components.azure.private_endpoint import (
    EndpointPlacement,
    PrivateAccess,
    PrivateLinkTarget,
    private_endpoint,
)
from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE

BACKUP_CONTAINER = "kiva-db-backups"
#: Azure accepts exactly one lifecycle management policy per account, and it must be named `default`.
LIFECYCLE_POLICY_NAME = "default"
#: Private-link sub-resource and DNS zone of the Blob service (Microsoft Learn, "Azure Private Endpoint
#: private DNS zone values": Storage account, `blob`, `privatelink.blob.core.windows.net`).
BLOB_GROUP_ID = "blob"
BLOB_PRIVATE_DNS_ZONE = "privatelink.blob.core.windows.net"


@dataclass(frozen=True)
class BackupStorageArgs:
    """How long deleted and superseded backups are kept, and whether the account spans zones."""

    soft_delete_days: int
    """`retention.blobSoftDeleteDays`: soft delete of blobs and containers."""
    backup_days: int
    """`retention.backupDays`: previous versions older than this are deleted."""
    zone_redundant: bool
    """ZRS instead of LRS (production, in a region with availability zones)."""
    private_endpoint: bool = False
    """`cluster.backupStorage.privateEndpoint`: no public network access, a private endpoint instead."""


class BackupStorage(pulumi.ComponentResource):
    """Storage account, blob service settings, the backup container and the database's identity."""

    account: storage.StorageAccount
    blob_service: storage.BlobServiceProperties
    container: storage.BlobContainer
    lifecycle: storage.ManagementPolicy
    writer: FederatedIdentity
    role_assignment: authorization.RoleAssignment
    private_access: PrivateAccess | None
    destination_path: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        ctx: AzureContext,
        args: BackupStorageArgs,
        resource_group_name: pulumi.Input[str],
        oidc_issuer_url: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        placement: EndpointPlacement | None = None,
    ) -> None:
        """`placement`: where the private endpoint goes; required with `args.private_endpoint`."""
        if args.private_endpoint and placement is None:
            raise ValueError("BackupStorage: a private endpoint needs its placement (VNet and subnet ids)")
        super().__init__("kiva:azure:BackupStorage", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        days = args.soft_delete_days
        # Account names are global, 3-24 lowercase letters and digits: `kiva<stack>bk` plus a random suffix.
        suffix = random.RandomString(
            f"{name}-suffix", length=8, special=False, upper=False, numeric=True, opts=child_opts
        )
        stem = "".join(ch for ch in f"kiva{pulumi.get_stack()}" if ch.isalnum()).lower()[:12]
        self.account = storage.StorageAccount(
            name,
            account_name=pulumi.Output.concat(stem, "bk", suffix.result),
            resource_group_name=resource_group_name,
            location=ctx.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(
                name=storage.SkuName.STANDARD_ZRS if args.zone_redundant else storage.SkuName.STANDARD_LRS
            ),
            access_tier=storage.AccessTier.HOT,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            # Private: no public endpoint, and a firewall that denies by default and trusts no Azure
            # service (Microsoft.Storage/storageAccounts `publicNetworkAccess`, `networkRuleSet`).
            # Public (dev): neither is set, as before.
            public_network_access=storage.PublicNetworkAccess.DISABLED if args.private_endpoint else None,
            network_rule_set=(
                storage.NetworkRuleSetArgs(
                    default_action=storage.DefaultAction.DENY, bypass=storage.Bypass.NONE
                )
                if args.private_endpoint
                else None
            ),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(protect=True)),
        )
        self.blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            blob_services_name="default",
            account_name=self.account.name,
            resource_group_name=resource_group_name,
            is_versioning_enabled=True,
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=days),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=days),
            opts=child_opts,
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            container_name=BACKUP_CONTAINER,
            account_name=self.account.name,
            resource_group_name=resource_group_name,
            public_access=storage.PublicAccess.NONE,
            # The backups themselves: protected like the account that holds them.
            opts=pulumi.ResourceOptions.merge(
                child_opts, pulumi.ResourceOptions(depends_on=[self.blob_service], protect=True)
            ),
        )
        self.lifecycle = self._lifecycle(name, resource_group_name, args.backup_days, child_opts)
        self.writer = FederatedIdentity(
            f"{name}-db",
            f"{resource_prefix(name)}-db",
            ctx,
            resource_group_name,
            oidc_issuer_url,
            PLATFORM_NAMESPACE,
            DATABASE_CLUSTER_NAME,
            opts=child_opts,
        )
        self.role_assignment = role_assignment(
            f"{name}-db-blob-contributor", ctx, self.account.id, BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR,
            self.writer.principal_id, service_principal=True, opts=child_opts,
        )  # fmt: skip
        self.private_access = (
            private_endpoint(
                name,
                ctx,
                resource_group_name,
                PrivateLinkTarget(self.account.id, group_id=BLOB_GROUP_ID, dns_zone=BLOB_PRIVATE_DNS_ZONE),
                placement,
                child_opts,
            )
            if placement is not None and args.private_endpoint
            else None
        )
        self.destination_path = pulumi.Output.concat(
            self.account.primary_endpoints.apply(lambda e: e.blob), BACKUP_CONTAINER, "/"
        )
        self.register_outputs({"destinationPath": self.destination_path})

    def _lifecycle(
        self, name: str, resource_group_name: pulumi.Input[str], days: int, opts: pulumi.ResourceOptions
    ) -> storage.ManagementPolicy:
        """Delete previous versions and snapshots in the backup container older than `days`.

        Current blobs are left alone: Barman Cloud deletes them when they leave the retention window.
        """
        after = storage.DateAfterCreationArgs(days_after_creation_greater_than=days)
        return storage.ManagementPolicy(
            f"{name}-lifecycle",
            management_policy_name=LIFECYCLE_POLICY_NAME,
            account_name=self.account.name,
            resource_group_name=resource_group_name,
            policy=storage.ManagementPolicySchemaArgs(
                rules=[
                    storage.ManagementPolicyRuleArgs(
                        name="delete-old-versions",
                        enabled=True,
                        type=storage.RuleType.LIFECYCLE,
                        definition=storage.ManagementPolicyDefinitionArgs(
                            filters=storage.ManagementPolicyFilterArgs(
                                blob_types=["blockBlob"], prefix_match=[f"{BACKUP_CONTAINER}/"]
                            ),
                            actions=storage.ManagementPolicyActionArgs(
                                version=storage.ManagementPolicyVersionArgs(delete=after),
                                snapshot=storage.ManagementPolicySnapShotArgs(delete=after),
                            ),
                        ),
                    )
                ]
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.blob_service])),
        )
