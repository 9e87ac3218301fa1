"""The gateway's PostgreSQL: a CloudNativePG `Cluster` with backups through the Barman Cloud plugin.

Keys, teams, budgets and spend logs live here, so the cluster is protected against deletion, spread
over zones in production, and backed up continuously (WAL archiving) plus on a schedule. Backups use
the Barman Cloud plugin, not the in-tree `barmanObjectStore` CloudNativePG deprecated in 1.26: the
`ObjectStore` carries the destination, the credentials and the retention policy.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE, CloudFoundation
from components.platform.common import DATABASE_SECRET, child_opts, labels
from components.platform.database_names import (
    DATABASE_NAME,
    DATABASE_OWNER,
    POOLER_NAME,
    gateway_connections,
    max_connections,
    pooler_pool_size,
)
from infra import versions
from infra.settings import AzureCluster, StackSettings

BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
OBJECT_STORE_NAME = f"{DATABASE_CLUSTER_NAME}-backups"
ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"


def retention_policy(settings: StackSettings) -> str:
    """`ObjectStore.spec.retentionPolicy` (`^[1-9][0-9]*[dwm]$`) from `kiva:retention.backupDays`."""
    return f"{settings.retention.backup_days}d"


def object_store_configuration(foundation: CloudFoundation) -> dict[str, Any]:
    """Compression and parallelism (the platform's choice) plus where backups go and how the plugin
    authenticates (the cloud layer's `BackupTarget.configuration`)."""
    configuration: dict[str, Any] = {
        "wal": {"compression": "gzip", "maxParallel": 2},
        "data": {"compression": "gzip", "jobs": 2},
    }
    return configuration | dict(foundation.backup.configuration)


def _resources(settings: StackSettings) -> dict[str, Any]:
    resources = settings.database.resources
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def _storage(size: str, storage_class: str | None, default_class: str) -> dict[str, Any]:
    return {"size": size, "storageClass": storage_class or default_class, "resizeInUseVolumes": True}


def database_zones(settings: StackSettings) -> list[str]:
    """Zones whose nodes can run the instances: the general pool's on Azure, the declared ones elsewhere."""
    cluster = settings.cluster
    return cluster.general_zones if isinstance(cluster, AzureCluster) else list(cluster.zones)


def database_hosts(settings: StackSettings) -> int:
    """Most nodes that can run an instance: the general pool's maximum, or the untainted declared nodes."""
    cluster = settings.cluster
    if isinstance(cluster, AzureCluster):
        return cluster.general_pool.max_count
    repelling = ("NoSchedule", "NoExecute")
    return sum(
        pool.nodes
        for pool in cluster.node_pools
        if not any(taint.effect in repelling for taint in pool.taints)
    )


def affinity(settings: StackSettings) -> dict[str, Any]:
    """Instance anti-affinity that the scheduler can always satisfy (`Cluster.spec.affinity`).

    One instance per zone is required (production) only when there are at least as many zones as
    instances; with fewer zones a required zone rule leaves the extra instances Pending forever, so the
    rule falls back to one instance per node, and the zone spread constraint (`ScheduleAnyway`) still
    spreads them over the zones.
    A required rule is only used where the nodes it needs can exist; otherwise it is a preference.
    """
    instances = settings.database.instances
    zones, hosts = database_zones(settings), database_hosts(settings)
    if len(zones) > 1 and len(zones) >= instances:
        key, room = ZONE_KEY, min(len(zones), hosts)  # one node per zone at least
    else:
        key, room = HOST_KEY, hosts
    required = settings.production and instances > 1 and room >= instances
    return {
        "enablePodAntiAffinity": True,
        "topologyKey": key,
        "podAntiAffinityType": "required" if required else "preferred",
    }


def cluster_spec(settings: StackSettings, foundation: CloudFoundation) -> dict[str, Any]:
    """The `Cluster` spec (postgresql.cnpg.io/v1)."""
    database = settings.database
    default_class = settings.cluster.storage_class
    zoned = len(database_zones(settings)) > 1
    spec: dict[str, Any] = {
        "instances": database.instances,
        "imageName": versions.POSTGRES_IMAGES[database.postgres_major],
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        # The primary's budget allows no eviction; with a replica the operator switches over when the
        # primary's node drains, but a single instance would block every drain (and so AKS's node-image
        # upgrades) for good. CloudNativePG's API reference advises `false` for one instance.
        "enablePDB": database.instances > 1,
        "postgresql": {
            # CloudNativePG takes every parameter as a string.
            "parameters": {
                "max_connections": str(max_connections(settings)),
                "log_min_duration_statement": "1000",
                "log_statement": "none",
                "password_encryption": "scram-sha-256",
            },
        },
        "bootstrap": {
            "initdb": {
                "database": DATABASE_NAME,
                "owner": DATABASE_OWNER,
                "secret": {"name": DATABASE_SECRET},
                "dataChecksums": True,
            }
        },
        "storage": _storage(database.storage.size, database.storage.storage_class, default_class),
        "resources": _resources(settings),
        "affinity": affinity(settings),
        "plugins": [
            {
                "name": BARMAN_PLUGIN,
                "enabled": True,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": OBJECT_STORE_NAME},
            }
        ],
        "inheritedMetadata": {"labels": {"app.kubernetes.io/part-of": "kiva"}},
    }
    if database.wal_storage is not None:
        spec["walStorage"] = _storage(
            database.wal_storage.size, database.wal_storage.storage_class, default_class
        )
    # The plugin sidecar may authenticate to the store as the cluster's pods or service account.
    spec["inheritedMetadata"]["labels"] |= foundation.backup.pod_labels
    if foundation.backup.service_account_annotations:
        spec["serviceAccountTemplate"] = {
            "metadata": {"annotations": dict(foundation.backup.service_account_annotations)}
        }
    if zoned:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_KEY,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": DATABASE_CLUSTER_NAME}},
            }
        ]
    return spec


class Database(pulumi.ComponentResource):
    """CloudNativePG `Cluster`, its `ObjectStore` and `ScheduledBackup`, a `Pooler` and a `PodMonitor`.

    The cluster is protected: `pulumi destroy` stops at it unless someone unprotects it on purpose.
    """

    cluster: k8s.apiextensions.CustomResource
    object_store: k8s.apiextensions.CustomResource
    scheduled_backup: k8s.apiextensions.CustomResource
    pooler: k8s.apiextensions.CustomResource | None
    pod_monitor: k8s.apiextensions.CustomResource | None

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        foundation: CloudFoundation,
        operators: list[pulumi.Resource],
        secrets: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Database", name, None, opts)
        metadata = lambda resource_name, component: k8s.meta.v1.ObjectMetaArgs(  # noqa: E731
            name=resource_name, namespace=PLATFORM_NAMESPACE, labels=labels("postgresql", component)
        )
        store_metadata = metadata(OBJECT_STORE_NAME, "backup")
        if foundation.backup.object_store_annotations:
            # E.g. the bucket's region, which the policy pack checks against the EU allow-list.
            store_metadata = k8s.meta.v1.ObjectMetaArgs(
                name=OBJECT_STORE_NAME,
                namespace=PLATFORM_NAMESPACE,
                labels=labels("postgresql", "backup"),
                annotations=dict(foundation.backup.object_store_annotations),
            )
        self.object_store = k8s.apiextensions.CustomResource(
            f"{name}-object-store",
            api_version="barmancloud.cnpg.io/v1",
            kind="ObjectStore",
            metadata=store_metadata,
            spec={
                "configuration": object_store_configuration(foundation),
                "retentionPolicy": retention_policy(settings),
            },
            opts=child_opts(self, depends_on=[*operators, *secrets]),
        )
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata=metadata(DATABASE_CLUSTER_NAME, "database"),
            spec=cluster_spec(settings, foundation),
            opts=child_opts(self, depends_on=[*operators, *secrets, self.object_store], protect=True),
        )
        self.scheduled_backup = k8s.apiextensions.CustomResource(
            f"{name}-scheduled-backup",
            api_version="postgresql.cnpg.io/v1",
            kind="ScheduledBackup",
            metadata=metadata(f"{DATABASE_CLUSTER_NAME}-daily", "backup"),
            spec={
                "cluster": {"name": DATABASE_CLUSTER_NAME},
                "schedule": settings.backups.schedule,
                "method": "plugin",
                "pluginConfiguration": {"name": BARMAN_PLUGIN},
                "backupOwnerReference": "self",
                "immediate": True,
            },
            opts=child_opts(self, depends_on=[self.cluster]),
        )
        self.pooler = None
        if settings.database.pooler.enabled:
            self.pooler = k8s.apiextensions.CustomResource(
                f"{name}-pooler",
                api_version="postgresql.cnpg.io/v1",
                kind="Pooler",
                metadata=metadata(POOLER_NAME, "pooler"),
                spec={
                    "cluster": {"name": DATABASE_CLUSTER_NAME},
                    "instances": settings.database.pooler.instances,
                    "type": "rw",
                    "pgbouncer": {
                        # Session mode: Prisma's migrations take advisory locks and use prepared
                        # statements, which transaction pooling would break.
                        "poolMode": "session",
                        "parameters": {
                            "max_client_conn": str(gateway_connections(settings) * 2),
                            "default_pool_size": str(pooler_pool_size(settings)),
                        },
                    },
                },
                opts=child_opts(self, depends_on=[self.cluster]),
            )
        self.pod_monitor = None
        if settings.monitoring.enabled:
            self.pod_monitor = k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=metadata(DATABASE_CLUSTER_NAME, "monitoring"),
                spec={
                    "selector": {"matchLabels": {"cnpg.io/cluster": DATABASE_CLUSTER_NAME}},
                    "podMetricsEndpoints": [{"port": "metrics"}],
                },
                opts=child_opts(self, depends_on=[self.cluster]),
            )
        self.register_outputs({"cluster": DATABASE_CLUSTER_NAME})
