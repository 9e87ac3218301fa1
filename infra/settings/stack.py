"""The whole `kiva:` configuration of one stack, and the rules that span several keys."""

from __future__ import annotations

import math
from typing import Literal

from kiva_policies.regions import AZURE_REGIONS, S3_REGIONS, is_eu
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from infra.settings.base import KivaModel
from infra.settings.cluster import AzureCluster, Cluster, ExistingCluster, GpuPool
from infra.settings.compliance import Retention, Tags, Telemetry
from infra.settings.secrets_table import allowed_secret_keys, missing_secret_keys
from infra.settings.workloads import (
    AKS_APP_ROUTING_CLASS,
    POD_MONITOR_CRD,
    Backups,
    Database,
    ExternalProvider,
    Gateway,
    Model,
    Monitoring,
    Prerequisites,
)

#: Activations, CUDA graphs and the CUDA context on top of the weights, as a share of the weights.
SIZING_HEADROOM = 0.1
#: Default KV cache per token, in KiB, as `KV_KIB_PER_SQRT_BILLION × √parametersBillion`: an upper
#: bound for the grouped-query-attention models KIVA serves (Llama 3.2 3B: 112 KiB, Llama 3.1 8B: 128,
#: Qwen 2.5 7B: 56, Llama 3.1 70B: 320 — from each model's config.json); set `kvCacheKibPerToken` for others.
KV_KIB_PER_SQRT_BILLION = 64
#: Region names become annotation values and resource-name parts: lowercase, digits, `-`, `.`, `/`.
REGION_PATTERN = r"^[a-z0-9]([-a-z0-9./]{0,61}[a-z0-9])?$"


def _rule(location: str, message: str) -> PydanticCustomError:
    """A cross-field violation; `location` is the key path below `kiva:` that the message is about."""
    return PydanticCustomError(
        "kiva_rule", "{location}: {message}", {"location": location, "message": message}
    )


class StackSettings(KivaModel):
    """Everything under `kiva:` in `Pulumi.<stack>.yaml`, validated before any resource is registered."""

    environment: Literal["development", "production"]
    """`production` turns on the high-availability rules (≥ 2 gateway replicas, ≥ 3 database instances, zones, Standard tier)."""
    region: str = Field(min_length=2, pattern=REGION_PATTERN)
    """The provider's region name: an Azure region (`germanywestcentral`), or for existing clusters e.g. `eu01` (STACKIT) or `on-prem`."""
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO country code where the platform's data is kept."""
    cluster: Cluster
    """Where the platform runs: `provider: azure` (a new AKS cluster) or `provider: existing`."""
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    """GPU node pools the models run on; none on CPU-only stacks."""
    models: list[Model] = Field(min_length=1)
    """Models served by vLLM and published through the gateway."""
    gateway: Gateway = Gateway()
    """The LiteLLM gateway."""
    database: Database = Database()
    """The gateway's PostgreSQL (CloudNativePG)."""
    backups: Backups = Backups()
    """Database backups through the Barman Cloud plugin."""
    retention: Retention
    """Retention periods; every value is required."""
    telemetry: Telemetry = Telemetry()
    """Usage telemetry of all components: off."""
    providers: list[ExternalProvider] = Field(default_factory=list)
    """External LLM providers reached through the gateway."""
    monitoring: Monitoring = Monitoring()
    """Prometheus Operator integration."""
    prerequisites: Prerequisites = Prerequisites()
    """What the cluster already has and the stack does not install (CRDs, ingress classes, issuers)."""
    tags: Tags
    """Ownership and classification tags on every cloud resource."""

    _secret_keys: frozenset[str] = PrivateAttr(frozenset())
    """Secure config values present in the stack (names without `kiva:`); from the loader's context."""

    @property
    def secret_keys(self) -> frozenset[str]:
        return self._secret_keys

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def on_azure(self) -> bool:
        return isinstance(self.cluster, AzureCluster)

    def pool(self, name: str) -> GpuPool:
        return next(pool for pool in self.gpu_pools if pool.name == name)

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> StackSettings:
        self._secret_keys = frozenset((info.context or {}).get("secret_keys", ()))
        for check in (
            self._check_region,
            self._check_pools,
            self._check_models,
            self._check_gpu_capacity,
            self._check_node_pools,
            self._check_production,
            self._check_backups,
            self._check_secrets,
            self._check_prerequisites,
        ):
            check()
        return self

    def _check_region(self) -> None:
        if isinstance(self.cluster, AzureCluster):
            region = AZURE_REGIONS.get(self.region)
            if region is None:
                raise _rule(
                    "region", f"unknown Azure region {self.region!r}; known: {', '.join(AZURE_REGIONS)}"
                )
            if region.country != self.jurisdiction:
                raise _rule(
                    "jurisdiction",
                    f"Azure region {self.region} is in {region.country}, not {self.jurisdiction}",
                )
            zoned = [("cluster.zones", self.cluster.zones)] + [
                (f"gpuPools[{i}].zones", pool.zones) for i, pool in enumerate(self.gpu_pools)
            ]
            for location, zones in zoned:
                if zones and not region.zones:
                    raise _rule(location, f"region {self.region} has no availability zones; remove the zones")

    def _check_pools(self) -> None:
        seen: set[str] = set()
        for i, pool in enumerate(self.gpu_pools):
            if pool.name in seen:
                raise _rule(f"gpuPools[{i}].name", f"duplicate pool name {pool.name!r}")
            seen.add(pool.name)
            if isinstance(self.cluster, AzureCluster) and pool.vm_size is None:
                raise _rule(
                    f"gpuPools[{i}].vmSize", "required on Azure: the pool is created with this VM size"
                )

    def _check_models(self) -> None:
        names: set[str] = set()
        served: set[str] = {m.name for p in self.providers for m in p.models}
        for i, model in enumerate(self.models):
            if model.name in names:
                raise _rule(f"models[{i}].name", f"duplicate model name {model.name!r}")
            names.add(model.name)
            if model.served_name in served:
                raise _rule(
                    f"models[{i}].servedName", f"{model.served_name!r} is already served by another model"
                )
            served.add(model.served_name)
            if model.cpu:
                continue
            if model.pool not in {pool.name for pool in self.gpu_pools}:
                known = ", ".join(pool.name for pool in self.gpu_pools) or "none configured"
                raise _rule(f"models[{i}].pool", f"no GPU pool named {model.pool!r} (pools: {known})")
            pool = self.pool(model.pool or "")
            if model.gpus > pool.gpus:
                raise _rule(
                    f"models[{i}].gpus",
                    f"needs {model.gpus} GPUs on one node but pool {pool.name!r} nodes have {pool.gpus}",
                )
            if model.replicas > pool.max_count * (pool.gpus // model.gpus):
                raise _rule(
                    f"models[{i}].replicas",
                    f"{model.replicas} replicas do not fit pool {pool.name!r} "
                    f"(maxCount {pool.max_count} × {pool.gpus // model.gpus} per node)",
                )
            self._check_sizing(i, model, pool)

    @staticmethod
    def _check_sizing(index: int, model: Model, pool: GpuPool) -> None:
        weights_gb = model.parameters_billion * 2  # 16-bit weights
        overhead_gb = weights_gb * SIZING_HEADROOM
        kv_kib = model.kv_cache_kib_per_token or KV_KIB_PER_SQRT_BILLION * math.sqrt(model.parameters_billion)
        kv_gb = model.max_model_len * kv_kib / 2**20
        needed_gb = weights_gb + overhead_gb + kv_gb
        usable_gb = pool.gpu_memory_gb * model.gpus * model.gpu_memory_utilization
        if needed_gb > usable_gb:
            raise _rule(
                f"models[{index}]",
                f"model {model.name!r} needs {needed_gb:.1f} GB: {weights_gb:.1f} GB of 16-bit weights "
                f"({model.parameters_billion:g}B parameters) + {overhead_gb:.1f} GB activations "
                f"({SIZING_HEADROOM:.0%}) + {kv_gb:.1f} GB KV cache for one sequence of maxModelLen "
                f"{model.max_model_len} ({kv_kib:.0f} KiB/token); {model.gpus} × {pool.kind.upper()} "
                f"({pool.gpu_memory_gb} GB) at gpuMemoryUtilization {model.gpu_memory_utilization} give "
                f"{usable_gb:.1f} GB. Lower maxModelLen, or use a larger pool or more gpus",
            )
        if pool.kind == "t4" and model.dtype in ("bfloat16",):
            raise _rule(f"models[{index}].dtype", "T4 GPUs do not support bfloat16; use half")

    def _check_gpu_capacity(self) -> None:
        """All replicas of all models on a pool fit its nodes at maxCount (whole GPUs, one node each)."""
        for pool in self.gpu_pools:
            replicas = sorted(
                (m.gpus for m in self.models if m.pool == pool.name for _ in range(m.replicas)), reverse=True
            )
            free: list[int] = []  # first-fit decreasing: free GPUs per node in use
            for gpus in replicas:
                node = next((i for i, left in enumerate(free) if left >= gpus), None)
                if node is None:
                    free.append(pool.gpus - gpus)
                else:
                    free[node] -= gpus
            if len(free) > pool.max_count:
                users = ", ".join(
                    f"{m.name} ({m.replicas} × {m.gpus} GPU)" for m in self.models if m.pool == pool.name
                )
                index = self.gpu_pools.index(pool)
                raise _rule(
                    f"gpuPools[{index}].maxCount",
                    f"pool {pool.name!r} needs {len(free)} nodes of {pool.gpus} GPU(s) for {users}, "
                    f"but maxCount is {pool.max_count}",
                )

    def _check_node_pools(self) -> None:
        """On existing clusters every GPU pool is declared among `cluster.nodePools` with its GPUs."""
        if not isinstance(self.cluster, ExistingCluster):
            return
        for i, pool in enumerate(self.gpu_pools):
            declared = [
                p for p in self.cluster.node_pools if p.labels.get("kiva.platform/gpu-pool") == pool.name
            ]
            if not declared:
                raise _rule(
                    f"gpuPools[{i}]",
                    f"declare the nodes of GPU pool {pool.name!r} under cluster.nodePools with the label "
                    f"kiva.platform/gpu-pool: {pool.name}",
                )
            if any(p.gpus != pool.gpus for p in declared):
                raise _rule(
                    f"gpuPools[{i}].gpusPerNode",
                    f"{pool.gpus} GPUs per node, but cluster.nodePools declares "
                    f"{', '.join(f'{p.name}: {p.gpus}' for p in declared)}",
                )

    def _check_production(self) -> None:
        if not self.production:
            return
        if self.gateway.min_replicas < 2:
            raise _rule(
                "gateway.minReplicas", f"production needs at least 2 (got {self.gateway.min_replicas})"
            )
        if self.database.instances < 3:
            raise _rule("database.instances", f"production needs at least 3 (got {self.database.instances})")
        if isinstance(self.cluster, AzureCluster):
            if self.cluster.sku_tier == "Free":
                raise _rule(
                    "cluster.skuTier", "production needs Standard or Premium (the Free tier has no SLA)"
                )
            if not self.cluster.api_server.private and not self.cluster.api_server.authorized_ip_ranges:
                raise _rule(
                    "cluster.apiServer",
                    "production needs a private API server or authorizedIpRanges (never open to 0.0.0.0/0)",
                )
            if any(r in ("0.0.0.0/0", "::/0") for r in self.cluster.api_server.authorized_ip_ranges):
                raise _rule(
                    "cluster.apiServer.authorizedIpRanges", "must not contain 0.0.0.0/0 in production"
                )
            if len(self.cluster.zones) < 2:
                raise _rule("cluster.zones", "production spreads the system pool over at least 2 zones")

    def _check_backups(self) -> None:
        store = self.backups.object_store
        if isinstance(self.cluster, ExistingCluster) and store is None:
            raise _rule("backups.objectStore", "required on existing clusters: where database backups go")
        if store is not None:
            region = S3_REGIONS.get(store.region)
            if region is None or not is_eu(region.country):
                where = f"in {region.country}" if region else "unknown"
                eu = ", ".join(sorted(n for n, r in S3_REGIONS.items() if is_eu(r.country)))
                raise _rule(
                    "backups.objectStore.region",
                    f"{store.region!r} is {where}, not an EU/EEA object-storage region; allowed: {eu}",
                )

    def _check_secrets(self) -> None:
        missing = missing_secret_keys(self)
        if missing:
            raise _rule(*missing[0])

    def _check_prerequisites(self) -> None:
        declared = self.prerequisites
        if self.monitoring.enabled and POD_MONITOR_CRD not in declared.crds:
            raise _rule(
                "monitoring.enabled",
                f"PodMonitors need the Prometheus Operator's CRDs, which this stack does not install; "
                f"add {POD_MONITOR_CRD} to prerequisites.crds if the cluster has them, or turn monitoring off",
            )
        ingress = self.gateway.ingress
        if ingress is None:
            return
        managed = isinstance(self.cluster, AzureCluster) and ingress.class_name == AKS_APP_ROUTING_CLASS
        if not managed and ingress.class_name not in declared.ingress_classes:
            hint = f" or use {AKS_APP_ROUTING_CLASS} (AKS application routing)" if self.on_azure else ""
            raise _rule(
                "gateway.ingress.className",
                f"no controller serves ingress class {ingress.class_name!r}: add it to "
                f"prerequisites.ingressClasses if the cluster runs one{hint}",
            )
        if not ingress.internal_ca and ingress.cluster_issuer not in declared.cluster_issuers:
            raise _rule(
                "gateway.ingress.clusterIssuer",
                f"no ClusterIssuer {ingress.cluster_issuer!r}: set internalCa: true to create it as a "
                "private CA, or add it to prerequisites.clusterIssuers if the cluster has it",
            )

    @property
    def allowed_secret_keys(self) -> set[str]:
        return allowed_secret_keys(self)
