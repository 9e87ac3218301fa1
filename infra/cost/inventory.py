"""What would be created and costs money, read from a plan in `pulumi preview --json` shape.

The estimate counts what the plan registers (the same digest `kiva plan --json` writes and `kiva check`
reads), not what the settings say, so that what is priced is what `pulumi up` would create: AKS pools
with their autoscaling bounds, the cluster tier, volumes and their classes, the Log Analytics workspace,
backup storage and its retention, load balancers, public IPs, private endpoints and Key Vault reads.
Field names are those of azure-native v3 (`ManagedCluster`, `AgentPool`, `Workspace`, `StorageAccount`,
`BlobServiceProperties`) and of the Kubernetes, CloudNativePG and Barman Cloud objects in the plan.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.settings.base import quantity_to_cores, quantity_to_gib
from infra.settings.gpu_skus import GPU_SKUS

GPU_POOL_LABEL = "kiva.platform/gpu-pool"
NODE_POOLS_ANNOTATION = "kiva.platform/node-pools"
REGION_ANNOTATION = "kiva.platform/region"
MODEL_LABEL = "kiva.platform/model"


@dataclass(frozen=True)
class NodePool:
    """An AKS pool: the managed cluster's system pool or an AgentPool."""

    name: str
    vm_size: str
    min_count: int
    max_count: int
    spot: bool
    gpu: bool
    os_disk_gib: int
    os_disk_ephemeral: bool


@dataclass(frozen=True)
class DeclaredPool:
    """A node pool of an existing cluster as the stack declares it (`kiva:cluster.nodePools`)."""

    name: str
    nodes: int
    cpu: float
    memory_gib: float
    gpus: int


@dataclass(frozen=True)
class Volume:
    """Persistent volumes of one kind: `count` claims of `gib` each in `storage_class` (None: default)."""

    component: str
    name: str
    storage_class: str | None
    gib: float
    count: int


@dataclass(frozen=True)
class Backups:
    """Database base backups and WAL in an object store, kept for `retention_days`."""

    retention_days: int
    full_per_day: float
    database_gib: float
    """Provisioned size of the database volume (`storage.size`), the upper bound of one base backup."""


@dataclass
class Inventory:
    provider: str
    """`azure` when the plan creates a ManagedCluster, else `existing`."""
    region: str
    cluster_tier: str | None = None
    pools: list[NodePool] = field(default_factory=list)
    gpu_demand: dict[str, int] = field(default_factory=dict)
    """Nodes each GPU pool needs for the planned model pods (replicas × GPUs ÷ GPUs per node)."""
    declared_pools: list[DeclaredPool] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    load_balancers: int = 0
    public_ips: int = 0
    load_balancer_services: int = 0
    private_endpoints: int = 0
    private_dns_zones: int = 0
    log_retention_days: int | None = None
    key_vault_secret_reads_per_month: float = 0.0
    has_key_vault: bool = False
    blob_sku: str | None = None
    blob_soft_delete_days: int = 0
    backups: Backups | None = None


def gib(quantity: Any) -> float:
    """A Kubernetes quantity (`50Gi`, `512Mi`) or a Prometheus size (`8GiB`) in GiB."""
    return quantity_to_gib(str(quantity).strip().removesuffix("B"))


def cpus(quantity: Any) -> float:
    return quantity_to_cores(str(quantity))


def _seconds(interval: str) -> float:
    """A Go duration as External Secrets writes it (`1h`, `30m`, `1h30m`, `0` = never)."""
    total, parts = 0.0, re.findall(r"([0-9.]+)(h|m|s)", interval)
    for number, unit in parts:
        total += float(number) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def _per_day(schedule: str) -> float:
    """How often a six-field cron schedule (CloudNativePG: seconds first) runs a day; daily if unsure."""
    fields = schedule.split()
    if len(fields) != 6:
        return 1.0
    hour = fields[2]
    if hour == "*":
        return 24.0
    if re.fullmatch(r"\*/([0-9]+)", hour):
        return 24 / int(hour[2:])
    return float(len(hour.split(",")))


def _steps(digest: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for step in digest.get("steps", []):
        state = step.get("newState") or {}
        if state.get("custom", True):
            yield state.get("type", ""), state.get("urn", ""), state.get("inputs") or {}


def _pool(profile: Mapping[str, Any], name: str) -> NodePool:
    count = int(profile.get("count") or 0)
    autoscaling = bool(profile.get("enableAutoScaling"))
    labels = profile.get("nodeLabels") or {}
    return NodePool(
        name=name,
        vm_size=str(profile.get("vmSize", "")),
        min_count=int(profile.get("minCount", count)) if autoscaling else count,
        max_count=int(profile.get("maxCount", count)) if autoscaling else count,
        spot=profile.get("scaleSetPriority") == "Spot",
        gpu=GPU_POOL_LABEL in labels,
        os_disk_gib=int(profile.get("osDiskSizeGB") or 128),
        os_disk_ephemeral=profile.get("osDiskType") == "Ephemeral",
    )


def _gpu_pods(spec: Mapping[str, Any]) -> tuple[str | None, int]:
    pod = (spec.get("template") or {}).get("spec") or {}
    pool = (pod.get("nodeSelector") or {}).get(GPU_POOL_LABEL)
    gpus = sum(
        int(((c.get("resources") or {}).get("requests") or {}).get("nvidia.com/gpu", 0))
        for c in pod.get("containers") or []
    )
    return pool, gpus


def _claim_templates(inputs: Mapping[str, Any], component: str, replicas: int) -> Iterator[Volume]:
    for template in (inputs.get("spec") or {}).get("volumeClaimTemplates") or []:
        spec = template.get("spec") or {}
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if size:
            name = (template.get("metadata") or {}).get("name", "claim")
            yield Volume(component, name, spec.get("storageClassName"), gib(size), replicas)


def _helm_claims(values: Any, release: str) -> Iterator[Volume]:
    """`volumeClaimTemplate` blocks in Helm values (the Prometheus operator's `storageSpec` shape)."""
    if isinstance(values, Mapping):
        template = values.get("volumeClaimTemplate")
        if isinstance(template, Mapping):
            spec = template.get("spec") or {}
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            if size:
                replicas = int(values.get("replicas", 1)) if isinstance(values.get("replicas"), int) else 1
                yield Volume(
                    release, "volumeClaimTemplate", spec.get("storageClassName"), gib(size), replicas
                )
        for key, value in values.items():
            if key != "volumeClaimTemplate":
                yield from _helm_claims(value, release)
    elif isinstance(values, list):
        for item in values:
            yield from _helm_claims(item, release)


def read_inventory(digest: Mapping[str, Any]) -> Inventory:
    """The billable inventory of a plan (`preview_digest` output or a `pulumi preview --json` file)."""
    steps = list(_steps(digest))
    cluster = next((i for t, _, i in steps if t == "azure-native:containerservice:ManagedCluster"), None)
    region = str(cluster.get("location", "")) if cluster else ""
    inv = Inventory(provider="azure" if cluster else "existing", region=region)
    gpu_requests: dict[str, int] = {}
    retention_days, schedule_per_day, db_gib = None, 1.0, 0.0
    for type_, urn, inputs in steps:
        metadata = inputs.get("metadata") or {}
        spec = inputs.get("spec") or {}
        if type_ == "azure-native:containerservice:ManagedCluster":
            inv.cluster_tier = str((inputs.get("sku") or {}).get("tier", "Free"))
            for profile in inputs.get("agentPoolProfiles") or []:
                inv.pools.append(_pool(profile, str(profile.get("name", "system"))))
            network = inputs.get("networkProfile") or {}
            if network.get("outboundType", "loadBalancer") == "loadBalancer":
                inv.load_balancers += 1
                outbound = (network.get("loadBalancerProfile") or {}).get("managedOutboundIPs") or {}
                inv.public_ips += int(outbound.get("count", 1))
            routing = ((inputs.get("ingressProfile") or {}).get("webAppRouting") or {}).get("enabled")
            if routing:
                inv.load_balancer_services += 1
        elif type_ == "azure-native:containerservice:AgentPool":
            inv.pools.append(_pool(inputs, str(inputs.get("agentPoolName", urn.rsplit("::", 1)[-1]))))
        elif type_ == "azure-native:operationalinsights:Workspace":
            inv.log_retention_days = int(inputs.get("retentionInDays") or 30)
        elif type_ == "azure-native:storage:StorageAccount":
            inv.blob_sku = str((inputs.get("sku") or {}).get("name", "Standard_LRS"))
        elif type_ == "azure-native:storage:BlobServiceProperties":
            policy = inputs.get("deleteRetentionPolicy") or {}
            inv.blob_soft_delete_days = int(policy.get("days", 0)) if policy.get("enabled") else 0
        elif type_ == "azure-native:keyvault:Vault":
            inv.has_key_vault = True
        elif type_ == "azure-native:network:PrivateEndpoint":
            inv.private_endpoints += 1
        elif type_ == "azure-native:privatedns:PrivateZone":
            inv.private_dns_zones += 1
        elif type_ == "kubernetes:external-secrets.io/v1:ExternalSecret":
            interval = _seconds(str(spec.get("refreshInterval", "1h")))
            keys = len(spec.get("data") or []) + len(spec.get("dataFrom") or [])
            if interval > 0:
                inv.key_vault_secret_reads_per_month += keys * (30 * 86400 / interval)
        elif type_ == "kubernetes:core/v1:Namespace":
            annotations = metadata.get("annotations") or {}
            if NODE_POOLS_ANNOTATION in annotations:
                for pool in json.loads(annotations[NODE_POOLS_ANNOTATION]):
                    inv.declared_pools.append(
                        DeclaredPool(
                            str(pool["name"]),
                            int(pool.get("nodes", 1)),
                            cpus(pool.get("cpu", 0)),
                            gib(pool.get("memory", "0Gi")),
                            int(pool.get("gpus", 0)),
                        )
                    )
            if not inv.region and REGION_ANNOTATION in annotations:
                inv.region = str(annotations[REGION_ANNOTATION])
        elif type_ == "kubernetes:core/v1:Service" and spec.get("type") == "LoadBalancer":
            inv.load_balancer_services += 1
        elif type_ == "kubernetes:postgresql.cnpg.io/v1:Cluster":
            instances = int(spec.get("instances", 1))
            name = str(metadata.get("name", "database"))
            for key in ("storage", "walStorage"):
                volume = spec.get(key) or {}
                if volume.get("size"):
                    inv.volumes.append(
                        Volume(
                            "database",
                            f"{name} {key}",
                            volume.get("storageClass"),
                            gib(volume["size"]),
                            instances,
                        )
                    )
            db_gib = gib((spec.get("storage") or {}).get("size", "0Gi"))
        elif type_ == "kubernetes:barmancloud.cnpg.io/v1:ObjectStore":
            match = re.fullmatch(r"([0-9]+)([dwm])", str(spec.get("retentionPolicy", "")))
            if match:
                retention_days = int(match.group(1)) * {"d": 1, "w": 7, "m": 30}[match.group(2)]
        elif type_ == "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup":
            schedule_per_day = _per_day(str(spec.get("schedule", "")))
        elif type_ in ("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment"):
            replicas = int(spec.get("replicas", 1))
            pool, gpus = _gpu_pods(spec)
            if pool and gpus:
                gpu_requests[pool] = gpu_requests.get(pool, 0) + replicas * gpus
            labels = metadata.get("labels") or {}
            component = f"model {labels[MODEL_LABEL]}" if MODEL_LABEL in labels else str(metadata.get("name"))
            inv.volumes.extend(_claim_templates(inputs, component, replicas))
        elif type_ == "kubernetes:core/v1:PersistentVolumeClaim":
            size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            if size:
                inv.volumes.append(
                    Volume(
                        str(metadata.get("namespace", "")),
                        str(metadata.get("name")),
                        spec.get("storageClassName"),
                        gib(size),
                        1,
                    )
                )
        elif type_ == "kubernetes:helm.sh/v3:Release":
            inv.volumes.extend(_helm_claims(inputs.get("values") or {}, str(inputs.get("name", "helm"))))
    if retention_days is not None:
        inv.backups = Backups(retention_days, schedule_per_day, db_gib)
    sizes = {p.name: p.vm_size for p in inv.pools}
    for pool, requested in gpu_requests.items():
        per_node = GPU_SKUS[sizes[pool]].gpus if sizes.get(pool) in GPU_SKUS else 1
        inv.gpu_demand[pool] = math.ceil(requested / per_node)
    return inv
