"""The gateway's PostgreSQL: a CloudNativePG `Cluster` with backups through the Barman Cloud plugin.

Keys, teams, budgets and spend logs live here, so the cluster is protected against deletion, spread
over zones in production, and backed up continuously (WAL archiving) plus on a schedule. Backups use
the Barman Cloud plugin, not the in-tree `barmanObjectStore` CloudNativePG deprecated in 1.26: the
`ObjectStore` carries the destination, the credentials and the retention policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE, BackupTarget, Scheduling
from components.platform.common import DATABASE_SECRET, child_opts, labels
from components.platform.database_names import DATABASE_NAME, DATABASE_OWNER, POOLER_NAME
from components.platform.monitoring.spend_log_query import CONFIG_MAP_KEY, spend_log_queries
from components.platform.spend_log_grant import cron_job as spend_log_grant_cron_job
from infra import versions
from infra.settings.workloads import Resources

BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
OBJECT_STORE_NAME = f"{DATABASE_CLUSTER_NAME}-backups"
ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
#: The ConfigMap of KIVA's custom queries (`Cluster.spec.monitoring.customQueriesConfigMap`).
CUSTOM_QUERIES_CONFIG_MAP = f"{DATABASE_CLUSTER_NAME}-monitoring"
#: CloudNativePG 1.30 watches only ConfigMaps and Secrets that carry this label (any value; the operator
#: sets "true" on its own), so an edit reaches the instances without `kubectl cnpg reload`
#: (docs/src/monitoring.md "User defined metrics"; `hasReloadLabelSet`, internal/controller/cluster_predicates.go).
RELOAD_LABEL = "cnpg.io/reload"


@dataclass(frozen=True)
class Volume:
    size: str
    storage_class: str
    """The volume's class (the cluster's default where the settings name none)."""


@dataclass(frozen=True)
class PoolerArgs:
    """A PgBouncer pooler in front of the primary, sized for the gateway's connections."""

    instances: int
    max_client_conn: int
    default_pool_size: int


@dataclass(frozen=True)
class DatabaseArgs:
    """The database as the stack sizes it, and where it may run and back up to (the cloud's part)."""

    instances: int
    postgres_major: int
    resources: Resources
    storage: Volume
    max_connections: int
    """PostgreSQL `max_connections` (`database_names.max_connections`)."""
    production: bool
    """Whether anti-affinity may be required (production) instead of preferred."""
    scheduling: Scheduling
    backup: BackupTarget
    retention_days: int
    """Days backups are kept (`kiva:retention.backupDays`)."""
    backup_schedule: str
    """`ScheduledBackup.spec.schedule` (six fields, seconds first)."""
    wal_storage: Volume | None = None
    pooler: PoolerArgs | None = None
    monitoring: bool = False
    """A PodMonitor scrapes the instances, whose exporter also runs KIVA's custom query
    (`monitoring/spend_log_query.py`), and a CronJob grants it the column it reads (`spend_log_grant.py`)."""


def retention_policy(args: DatabaseArgs) -> str:
    """`ObjectStore.spec.retentionPolicy` (`^[1-9][0-9]*[dwm]$`) from `kiva:retention.backupDays`."""
    return f"{args.retention_days}d"


def object_store_configuration(backup: BackupTarget) -> dict[str, Any]:
    """Compression and parallelism (the platform's choice) plus where backups go and how the plugin
    authenticates (the cloud layer's `BackupTarget.configuration`)."""
    configuration: dict[str, Any] = {
        "wal": {"compression": "gzip", "maxParallel": 2},
        "data": {"compression": "gzip", "jobs": 2},
    }
    return configuration | dict(backup.configuration)


def endpoint_ca_secret(name: str, backup: BackupTarget, parent: pulumi.Resource) -> k8s.core.v1.Secret | None:
    """The Secret `ObjectStore.spec.configuration.endpointCA` names, where the platform writes it (an
    inline PEM bundle); a CA bundle is public, but `endpointCA` only reads Secrets (plugin-barman-cloud
    0.7.0 CRD: a Secret key selector)."""
    ca = backup.endpoint_ca
    if ca is None or ca.pem is None:
        return None
    return k8s.core.v1.Secret(
        f"{name}-endpoint-ca",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=ca.secret, namespace=PLATFORM_NAMESPACE, labels=labels("postgresql", "backup")
        ),
        type="Opaque",
        string_data={ca.key: ca.pem},
        opts=child_opts(parent),
    )


def _resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def _storage(volume: Volume) -> dict[str, Any]:
    return {"size": volume.size, "storageClass": volume.storage_class, "resizeInUseVolumes": True}


def affinity(args: DatabaseArgs) -> dict[str, Any]:
    """Instance anti-affinity that the scheduler can always satisfy (`Cluster.spec.affinity`).

    One instance per zone is required (production) only when there are at least as many zones as
    instances; with fewer zones a required zone rule leaves the extra instances Pending forever, so the
    rule falls back to one instance per node, and the zone spread constraint (`ScheduleAnyway`) still
    spreads them over the zones. Zones and nodes are where the cloud layer says the database can run
    (`CloudFoundation.scheduling`).
    A required rule is only used where the nodes it needs can exist; otherwise it is a preference.
    """
    instances = args.instances
    zones, hosts = args.scheduling.zones, args.scheduling.hosts
    if len(zones) > 1 and len(zones) >= instances:
        key, room = ZONE_KEY, min(len(zones), hosts)  # one node per zone at least
    else:
        key, room = HOST_KEY, hosts
    required = args.production and instances > 1 and room >= instances
    return {
        "enablePodAntiAffinity": True,
        "topologyKey": key,
        "podAntiAffinityType": "required" if required else "preferred",
    }


def custom_queries_data() -> dict[str, str]:
    """The ConfigMap's data: the custom-queries document under `CONFIG_MAP_KEY`."""
    return {CONFIG_MAP_KEY: yaml.safe_dump(spend_log_queries(), sort_keys=False)}


def cluster_spec(args: DatabaseArgs) -> dict[str, Any]:
    """The `Cluster` spec (postgresql.cnpg.io/v1)."""
    database = args
    zoned = len(args.scheduling.zones) > 1
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
                "max_connections": str(args.max_connections),
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
        "storage": _storage(database.storage),
        "resources": _resources(database.resources),
        "affinity": affinity(args),
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
        spec["walStorage"] = _storage(database.wal_storage)
    if database.monitoring:
        # A list of ConfigMap key selectors, each in the Cluster's namespace (CRD `ConfigMapKeySelector`:
        # `name` and `key` required, ../shared/schemas/crds/postgresql.cnpg.io_clusters.yaml).
        spec["monitoring"] = {
            "customQueriesConfigMap": [{"name": CUSTOM_QUERIES_CONFIG_MAP, "key": CONFIG_MAP_KEY}]
        }
    # The plugin sidecar may authenticate to the store as the cluster's pods or service account.
    spec["inheritedMetadata"]["labels"] |= args.backup.pod_labels
    if args.backup.service_account_annotations:
        spec["serviceAccountTemplate"] = {
            "metadata": {"annotations": dict(args.backup.service_account_annotations)}
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

    With monitoring, also the ConfigMap of KIVA's custom query and the CronJob granting it its column.

    The cluster is protected: `pulumi destroy` stops at it unless someone unprotects it on purpose.
    """

    cluster: k8s.apiextensions.CustomResource
    object_store: k8s.apiextensions.CustomResource
    scheduled_backup: k8s.apiextensions.CustomResource
    pooler: k8s.apiextensions.CustomResource | None
    pod_monitor: k8s.apiextensions.CustomResource | None
    endpoint_ca: k8s.core.v1.Secret | None
    custom_queries: k8s.core.v1.ConfigMap | None
    spend_log_grant: k8s.batch.v1.CronJob | None

    def __init__(
        self,
        name: str,
        args: DatabaseArgs,
        operators: list[pulumi.Resource],
        secrets: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Database", name, None, opts)
        metadata = lambda resource_name, component: k8s.meta.v1.ObjectMetaArgs(  # noqa: E731
            name=resource_name, namespace=PLATFORM_NAMESPACE, labels=labels("postgresql", component)
        )
        store_metadata = metadata(OBJECT_STORE_NAME, "backup")
        if args.backup.object_store_annotations:
            # E.g. the bucket's region, which the policy pack checks against the EU allow-list.
            store_metadata = k8s.meta.v1.ObjectMetaArgs(
                name=OBJECT_STORE_NAME,
                namespace=PLATFORM_NAMESPACE,
                labels=labels("postgresql", "backup"),
                annotations=dict(args.backup.object_store_annotations),
            )
        self.endpoint_ca = endpoint_ca_secret(name, args.backup, self)
        store_after = [*operators, *secrets, *([self.endpoint_ca] if self.endpoint_ca else [])]
        self.object_store = k8s.apiextensions.CustomResource(
            f"{name}-object-store",
            api_version="barmancloud.cnpg.io/v1",
            kind="ObjectStore",
            metadata=store_metadata,
            spec={
                "configuration": object_store_configuration(args.backup),
                "retentionPolicy": retention_policy(args),
            },
            opts=child_opts(self, depends_on=store_after),
        )
        self.custom_queries = None
        if args.monitoring:
            queries_labels = labels("postgresql", "monitoring") | {RELOAD_LABEL: "true"}
            self.custom_queries = k8s.core.v1.ConfigMap(
                f"{name}-custom-queries",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=CUSTOM_QUERIES_CONFIG_MAP, namespace=PLATFORM_NAMESPACE, labels=queries_labels
                ),
                data=custom_queries_data(),
                opts=child_opts(self, depends_on=secrets),
            )
        cluster_after = [*operators, *secrets, self.object_store]
        if self.custom_queries is not None:
            cluster_after.append(self.custom_queries)
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata=metadata(DATABASE_CLUSTER_NAME, "database"),
            spec=cluster_spec(args),
            opts=child_opts(self, depends_on=cluster_after, protect=True),
        )
        self.scheduled_backup = k8s.apiextensions.CustomResource(
            f"{name}-scheduled-backup",
            api_version="postgresql.cnpg.io/v1",
            kind="ScheduledBackup",
            metadata=metadata(f"{DATABASE_CLUSTER_NAME}-daily", "backup"),
            spec={
                "cluster": {"name": DATABASE_CLUSTER_NAME},
                "schedule": args.backup_schedule,
                "method": "plugin",
                "pluginConfiguration": {"name": BARMAN_PLUGIN},
                "backupOwnerReference": "self",
                "immediate": True,
            },
            opts=child_opts(self, depends_on=[self.cluster]),
        )
        self.pooler = None
        if args.pooler is not None:
            self.pooler = k8s.apiextensions.CustomResource(
                f"{name}-pooler",
                api_version="postgresql.cnpg.io/v1",
                kind="Pooler",
                metadata=metadata(POOLER_NAME, "pooler"),
                spec={
                    "cluster": {"name": DATABASE_CLUSTER_NAME},
                    "instances": args.pooler.instances,
                    "type": "rw",
                    "pgbouncer": {
                        # Session mode: Prisma's migrations take advisory locks and use prepared
                        # statements, which transaction pooling would break.
                        "poolMode": "session",
                        "parameters": {
                            "max_client_conn": str(args.pooler.max_client_conn),
                            "default_pool_size": str(args.pooler.default_pool_size),
                        },
                    },
                },
                opts=child_opts(self, depends_on=[self.cluster]),
            )
        self.pod_monitor = None
        if args.monitoring:
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
        self.spend_log_grant = None
        if args.monitoring:
            self.spend_log_grant = spend_log_grant_cron_job(
                f"{name}-spend-log-grant",
                versions.POSTGRES_IMAGES[args.postgres_major],
                parent=self,
                depends_on=[self.cluster],
            )
        self.register_outputs({"cluster": DATABASE_CLUSTER_NAME})
