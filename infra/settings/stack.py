"""The whole `kiva:` configuration of one stack, and the rules that span several keys."""

from __future__ import annotations

import math
from typing import Literal

from kiva_policies.regions import AZURE_REGIONS, eu_s3_regions, is_eu, s3_location
from pydantic import Field, HttpUrl, PrivateAttr, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from infra.settings.base import KivaModel
from infra.settings.cluster import AzureCluster, Cluster, ExistingCluster, GpuPool, NodePool
from infra.settings.compliance import Retention, Tags, Telemetry
from infra.settings.gpu_catalogue import BFLOAT16_MIN_CAPABILITY
from infra.settings.gpu_sharing import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    MIG_CONFIG_LABEL,
    device_plugin_config_name,
    mig_config_name,
)
from infra.settings.monitoring import (
    MONITORING_CRDS,
    PRODUCTION_MIN_RETENTION_DAYS,
    Monitoring,
    check_monitoring,
    duration_days,
)
from infra.settings.operators import Operators, Uses, check_operators, check_runtime_classes
from infra.settings.redis import redis_rules
from infra.settings.secrets_table import allowed_secret_keys, missing_secret_keys
from infra.settings.sizing import describe, size_model
from infra.settings.teams import Team, check_teams
from infra.settings.workloads import (
    AKS_APP_ROUTING_CLASS,
    Backups,
    Database,
    ExternalProvider,
    Gateway,
    Model,
    Prerequisites,
)

#: Lowest `gpuMemoryUtilization` of a model that has its GPUs to itself.
MIN_EXCLUSIVE_UTILIZATION = 0.5
#: Most memory the model servers sharing one time-sliced GPU may claim together.
MAX_SHARED_UTILIZATION = 0.95
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
    """GPU node pools the models run on; none on CPU-only and gateway-only stacks."""
    models: list[Model] = Field(default_factory=list)
    """Models served by vLLM and published through the gateway; none on a gateway-only stack, which routes to `providers` alone (then `gpuPools` stays empty)."""
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
    """Metrics, dashboards and alerts (kube-prometheus-stack in `kiva-monitoring`)."""
    prerequisites: Prerequisites = Prerequisites()
    """What the cluster already has and the stack does not install (CRDs, ingress classes, issuers)."""
    operators: Operators = Operators()
    """Which operators the stack installs; `install: false` for those the cluster already runs."""
    tags: Tags
    """Ownership and classification tags on every cloud resource."""
    teams: list[Team] = Field(default_factory=list)
    """Gateway teams with budgets, rate limits and one key per service, reconciled through LiteLLM's management API at `pulumi up` (docs/teams.md)."""
    gateway_admin_url: HttpUrl | None = None
    """URL at which `pulumi up` reaches the gateway's management API for `teams`; default `https://<gateway.ingress.host>`."""

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
            self._check_something_served,
            self._check_models,
            self._check_gpu_capacity,
            self._check_node_pools,
            self._check_production,
            self._check_gateway_redis,
            self._check_backups,
            self._check_secrets,
            self._check_prerequisites,
            self._check_log_anonymisation,
            self._check_operators,
            self._check_teams,
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
                # Either key may be the one that was changed, so the message names both and the fix for each.
                there = sorted(name for name, r in AZURE_REGIONS.items() if r.country == self.jurisdiction)
                other = f"a region in {self.jurisdiction} ({', '.join(there)})" if there else "another region"
                raise _rule(
                    "jurisdiction",
                    f"{self.jurisdiction}, but kiva:region {self.region} is an Azure region in "
                    f"{region.country}; set kiva:jurisdiction: {region.country}, or kiva:region to {other}",
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

    def _check_something_served(self) -> None:
        """A stack serves models of its own, external providers' models, or both: never nothing.

        Without `models` it is a gateway-only stack (no vLLM, no GPU software), so a GPU pool would
        cost money and run nothing: refused rather than created.
        """
        if self.models:
            return
        if not self.providers:
            raise _rule(
                "models",
                "the stack serves no model: add a model served by vLLM under kiva:models (e.g. "
                "{name: qwen-2-5-7b, huggingFaceId: Qwen/Qwen2.5-7B-Instruct, servedName: qwen2.5-7b-instruct, "
                "parametersBillion: 7.6, pool: a100}) or an external provider under kiva:providers (e.g. "
                "{name: azure-openai-eu, kind: azure, apiKeySecret: azureOpenaiApiKey, "
                "apiBase: https://kiva-eu.openai.azure.com, processingJurisdiction: SE, "
                "models: [{name: gpt-4o-eu, model: azure/gpt-4o}]})",
            )
        if self.gpu_pools:
            pool = self.gpu_pools[0]
            raise _rule(
                "gpuPools[0]",
                f"GPU pool {pool.name!r} runs no model: kiva:models is empty (a gateway-only stack), so "
                f"its nodes would cost money and run nothing; remove kiva:gpuPools, or add a model with "
                f"pool: {pool.name} under kiva:models",
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
            profile = pool.mig_profile
            if profile is not None and model.gpus > 1:
                raise _rule(
                    f"models[{i}].gpus",
                    f"pool {pool.name!r} cuts its GPUs into MIG {profile.name} slices and a model gets one slice: "
                    "CUDA shows a process one MIG device only, so vLLM cannot split a model across slices "
                    f"(tensor parallelism); set gpus: 1 with a larger profile (e.g. sharing: {{mig: {{profile: "
                    f"{pool.mig_largest}}}}}), or use a pool without MIG for {model.gpus} GPUs",
                )
            if model.gpus > pool.gpus:
                raise _rule(
                    f"models[{i}].gpus",
                    f"needs {model.gpus} GPUs on one node but pool {pool.name!r} nodes have {pool.gpus}",
                )
            if model.replicas > pool.max_count * (pool.allocatable_gpus // model.gpus):
                raise _rule(
                    f"models[{i}].replicas",
                    f"{model.replicas} replicas do not fit pool {pool.name!r} "
                    f"(maxCount {pool.max_count} × {pool.allocatable_gpus // model.gpus} per node)",
                )
            self._check_sizing(i, model, pool)

    @staticmethod
    def _check_sizing(index: int, model: Model, pool: GpuPool) -> None:
        """The model fits the pool's GPUs (`infra.settings.sizing`), in a dtype they compute in."""
        gpu, shared = pool.gpu, pool.replicas_per_gpu > 1
        if shared and model.gpus > 1:
            raise _rule(
                f"models[{index}].gpus",
                f"pool {pool.name!r} shares its GPUs by time-slicing, so a model gets one slice of one GPU; "
                f"set gpus: 1, or use a pool without sharing for {model.gpus} GPUs",
            )
        if not shared and model.gpu_memory_utilization < MIN_EXCLUSIVE_UTILIZATION:
            raise _rule(
                f"models[{index}].gpuMemoryUtilization",
                f"{model.gpu_memory_utilization} is below {MIN_EXCLUSIVE_UTILIZATION}, which only pools that "
                f"share their GPUs allow (pool {pool.name!r} has no sharing); e.g. 0.9, or set the pool's "
                "sharing: {timeSlicing: {replicas: 2}}",
            )
        if model.dtype == "bfloat16" and not gpu.bfloat16:
            raise _rule(
                f"models[{index}].dtype",
                f"{gpu.name} GPUs (pool {pool.name!r}) have compute capability {gpu.compute_capability}, and "
                f"bfloat16 needs {'.'.join(map(str, BFLOAT16_MIN_CAPABILITY))} or higher; use dtype: half",
            )
        sizing = size_model(model, pool)
        if sizing.needed_gb > sizing.usable_gb:
            raise _rule(
                f"models[{index}]",
                f"{describe(model, pool, sizing)}. Lower maxModelLen, or use "
                + (
                    f"a larger MIG profile (e.g. {pool.mig_largest})"
                    if pool.mig_profile
                    else "a larger pool or more gpus"
                ),
            )

    def _check_gpu_capacity(self) -> None:
        """All replicas of all models on a pool fit its nodes at maxCount.

        Whole GPUs: first-fit decreasing, a replica's GPUs on one node. Time-sliced GPUs: every replica
        takes one slice; the device plugin may hand any slices of a card to any pods, so the largest
        `replicas` memory shares on the pool must fit one card together (≤ MAX_SHARED_UTILIZATION).
        """
        for index, pool in enumerate(self.gpu_pools):
            users = [m for m in self.models if m.pool == pool.name]
            if pool.replicas_per_gpu > 1:
                self._check_shared_pool(index, pool, users)
                continue
            replicas = sorted((m.gpus for m in users for _ in range(m.replicas)), reverse=True)
            free: list[int] = []  # first-fit decreasing: free GPUs per node in use
            for gpus in replicas:
                node = next((i for i, left in enumerate(free) if left >= gpus), None)
                if node is None:
                    free.append(pool.allocatable_gpus - gpus)
                else:
                    free[node] -= gpus
            if len(free) > pool.max_count:
                names = ", ".join(f"{m.name} ({m.replicas} × {m.gpus} GPU)" for m in users)
                profile = pool.mig_profile
                per_node = f"{pool.gpus} GPU(s)" + (
                    f" × {profile.per_gpu} MIG {profile.name} slices" if profile else ""
                )
                raise _rule(
                    f"gpuPools[{index}].maxCount",
                    f"pool {pool.name!r} needs {len(free)} nodes of {per_node} for {names}, "
                    f"but maxCount is {pool.max_count}",
                )

    def _check_shared_pool(self, index: int, pool: GpuPool, users: list[Model]) -> None:
        slices = pool.replicas_per_gpu
        if not self.operators.nvidia.install:
            raise _rule(
                f"gpuPools[{index}].sharing",
                "time-slicing is rendered into the device plugin this stack installs, and "
                "operators.nvidia.install is false; configure sharing in the cluster's own device plugin "
                "and declare the slices as cluster.nodePools[].gpus, or remove sharing",
            )
        shares = sorted((m.gpu_memory_utilization for m in users for _ in range(m.replicas)), reverse=True)
        together = shares[:slices]
        if sum(together) > MAX_SHARED_UTILIZATION + 1e-9:
            names = ", ".join(f"{m.name} ({m.replicas} × {m.gpu_memory_utilization})" for m in users)
            raise _rule(
                f"gpuPools[{index}].sharing",
                f"pool {pool.name!r} time-slices each GPU {slices} ways and the device plugin may put any "
                f"{len(together)} of its model servers on one card: their gpuMemoryUtilization adds up to "
                f"{' + '.join(f'{s:g}' for s in together)} = {sum(together):.2f}, above {MAX_SHARED_UTILIZATION} "
                f"({names}); lower gpuMemoryUtilization so that any {slices} add up to at most "
                f"{MAX_SHARED_UTILIZATION}, e.g. {MAX_SHARED_UTILIZATION / slices:.2f} each",
            )
        nodes = math.ceil(len(shares) / pool.allocatable_gpus)
        if nodes > pool.max_count:
            raise _rule(
                f"gpuPools[{index}].maxCount",
                f"pool {pool.name!r} needs {nodes} nodes of {pool.gpus} GPU(s) × {slices} slices for "
                f"{len(shares)} model server(s), but maxCount is {pool.max_count}",
            )
        if isinstance(self.cluster, ExistingCluster):
            config = device_plugin_config_name(pool.name)
            for declared in self.cluster.node_pools:
                if declared.labels.get("kiva.platform/gpu-pool") != pool.name:
                    continue
                if declared.labels.get(DEVICE_PLUGIN_CONFIG_LABEL) != config:
                    raise _rule(
                        f"gpuPools[{index}].sharing",
                        f"the device plugin picks a node's config by its label {DEVICE_PLUGIN_CONFIG_LABEL}; "
                        f"label the nodes of pool {pool.name!r} with {DEVICE_PLUGIN_CONFIG_LABEL}={config} and "
                        f"declare it under cluster.nodePools ({declared.name}).labels",
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
            self._check_declared_mig(i, pool, declared)
            if any(p.gpus != pool.allocatable_gpus for p in declared):
                raise _rule(
                    f"gpuPools[{i}].gpusPerNode",
                    f"{pool.allocatable_gpus} GPUs per node (allocatable nvidia.com/gpu), but cluster.nodePools declares "
                    f"{', '.join(f'{p.name}: {p.gpus}' for p in declared)}",
                )

    def _check_declared_mig(self, index: int, pool: GpuPool, declared: list[NodePool]) -> None:
        """An existing cluster's MIG pool: its nodes advertise the slices, and carry the label by which
        the GPU operator's MIG manager cuts them (`nvidia.com/mig.config`), or by which the device plugin
        this stack installs picks their `migStrategy: single` config (`nvidia.com/device-plugin.config`)."""
        profile = pool.mig_profile
        if profile is None:
            return
        wrong = [p for p in declared if p.gpus != pool.allocatable_gpus]
        if wrong:
            raise _rule(
                f"gpuPools[{index}].sharing.mig",
                f"pool {pool.name!r} cuts each of its {pool.gpus} GPU(s) per node into {profile.per_gpu} MIG "
                f"{profile.name} slices, which the device plugin advertises as {pool.allocatable_gpus} "
                f"nvidia.com/gpu per node (migStrategy: single), but cluster.nodePools declares "
                f"{', '.join(f'{p.name}: {p.gpus}' for p in wrong)}; declare gpus: {pool.allocatable_gpus}"
                + (
                    ""
                    if pool.driver == "operator"
                    else f" once the nodes' GPUs are cut into {profile.name} (the stack does not cut them)"
                ),
            )
        if pool.driver == "operator":
            label, value = MIG_CONFIG_LABEL, mig_config_name(profile)
            why = "the GPU operator's MIG manager cuts a node's GPUs by its label"
        elif self.operators.nvidia.install:
            label, value = DEVICE_PLUGIN_CONFIG_LABEL, device_plugin_config_name(pool.name)
            why = "the device plugin picks a node's config (here migStrategy: single) by its label"
        else:
            return  # the cluster's own device plugin: its owner sets migStrategy
        for p in declared:
            if p.labels.get(label) != value:
                raise _rule(
                    f"gpuPools[{index}].sharing.mig",
                    f"{why} {label}; label the nodes of pool {pool.name!r} with {label}={value} and declare "
                    f"it under cluster.nodePools ({p.name}).labels",
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

    def _check_gateway_redis(self) -> None:
        served = {m.served_name for m in self.models} | {m.name for p in self.providers for m in p.models}
        for location, message in redis_rules(
            self.gateway.redis,
            self.gateway.router,
            max_replicas=self.gateway.max_replicas,
            production=self.production,
            served=served,
        ):
            raise _rule(location, message)

    def _check_backups(self) -> None:
        store = self.backups.object_store
        if isinstance(self.cluster, ExistingCluster) and store is None:
            raise _rule("backups.objectStore", "required on existing clusters: where database backups go")
        if store is not None:
            # The endpoint decides the provider: `eu-central-2` is Zurich at AWS but Berlin at IONOS.
            location = s3_location(store.region, str(store.endpoint))
            if not location.country or not is_eu(location.country):
                where = f"in {location.country}" if location.country else f"unknown ({location.problem})"
                raise _rule(
                    "backups.objectStore.region",
                    f"{store.region!r} is {where}, not an EU/EEA object-storage region; allowed at this "
                    f"endpoint: {', '.join(eu_s3_regions(str(store.endpoint)))} "
                    "(e.g. endpoint https://s3.eu-central-2.ionoscloud.com with region eu-central-2)",
                )

    def _check_secrets(self) -> None:
        missing = missing_secret_keys(self)
        if missing:
            raise _rule(*missing[0])

    def _check_prerequisites(self) -> None:
        declared = self.prerequisites
        self._check_monitoring()
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

    def _check_monitoring(self) -> None:
        """The Prometheus Operator's CRDs come from the stack (`install: true`) or are declared; production
        keeps at least `PRODUCTION_MIN_RETENTION_DAYS` of metrics."""
        monitoring = self.monitoring
        problem = check_monitoring(monitoring, self.retention.log_analytics_days)
        if problem:
            raise _rule(*problem)
        if not monitoring.enabled:
            return
        if not monitoring.install:
            if self.on_azure:
                raise _rule(
                    "monitoring.install",
                    "this stack creates the cluster (provider: azure), so no Prometheus Operator can run there "
                    "before the platform needs it; remove monitoring.install: false, or deploy onto a cluster "
                    "that runs one with provider: existing",
                )
            absent = [crd for crd in MONITORING_CRDS if crd not in self.prerequisites.crds]
            if absent:
                raise _rule(
                    "monitoring.install",
                    "the stack does not install the Prometheus Operator, so the cluster must serve the "
                    f"PodMonitors and rules it creates; add {', '.join(absent)} to prerequisites.crds (e.g. "
                    f"prerequisites: {{crds: [{', '.join(MONITORING_CRDS)}]}}) if the cluster has them, or set "
                    "install: true",
                )
        days = duration_days(monitoring.retention.time)
        if self.production and days < PRODUCTION_MIN_RETENTION_DAYS:
            raise _rule(
                "monitoring.retention.time",
                f"production keeps at least {PRODUCTION_MIN_RETENTION_DAYS} days of metrics (got "
                f"{monitoring.retention.time}), e.g. 30d",
            )

    def _check_log_anonymisation(self) -> None:
        """`logs.anonymiseIps` only where the stack owns the access log's format (AKS application routing);
        after the ingress checks, so that a missing controller is named first."""
        monitoring = self.monitoring
        if not monitoring.enabled:
            return
        ingress = self.gateway.ingress
        if monitoring.logs.anonymise_ips and ingress is None:
            raise _rule(
                "monitoring.logs.anonymiseIps",
                "the gateway has no ingress, so the stack runs no access log to anonymise (the gateway itself "
                "never sees client addresses); set anonymiseIps: false",
            )
        if (
            monitoring.logs.anonymise_ips
            and ingress is not None
            and ingress.class_name != AKS_APP_ROUTING_CLASS
        ):
            raise _rule(
                "monitoring.logs.anonymiseIps",
                "the stack sets the access-log format only of the AKS application routing controller "
                f"(gateway.ingress.className: {AKS_APP_ROUTING_CLASS}), not of ingress class "
                f"{ingress.class_name!r}; drop client addresses in that controller's own log format (e.g. "
                "traefik: accessLog.fields.names with ClientAddr and ClientHost set to drop) and set "
                "anonymiseIps: false",
            )

    def _check_operators(self) -> None:
        """Operators left to the cluster, and the GPU pools' RuntimeClasses (`infra.settings.operators`)."""
        ingress = self.gateway.ingress
        uses = Uses(
            pooler=self.database.pooler.enabled, internal_ca=ingress is not None and ingress.internal_ca
        )
        problem = check_operators(
            self.operators, creates_cluster=self.on_azure, declared_crds=self.prerequisites.crds, uses=uses
        ) or check_runtime_classes(
            self.gpu_pools, creates_cluster=self.on_azure, declared=self.prerequisites.runtime_classes
        )
        if problem:
            raise _rule(*problem)

    def _check_teams(self) -> None:
        """Teams name models the stack serves (`infra.settings.teams`), and `pulumi up` can reach the
        gateway's management API: through the Ingress or an explicit `gatewayAdminUrl`."""
        if not self.teams:
            return
        served = {m.served_name for m in self.models} | {m.name for p in self.providers for m in p.models}
        problem = check_teams(self.teams, served)
        if problem:
            raise _rule(*problem)
        if self.gateway.ingress is None and self.gateway_admin_url is None:
            raise _rule(
                "teams",
                "teams are created through the gateway's management API from where `pulumi up` runs, which "
                "needs a URL outside the cluster; set gateway.ingress (e.g. host: llm.example.de) or "
                "kiva:gatewayAdminUrl (e.g. https://llm.example.de, or http://127.0.0.1:4000 through "
                "`kubectl port-forward`)",
            )

    @property
    def gateway_admin_endpoint(self) -> str | None:
        """Where the team reconciler calls the management API; `None` without teams' prerequisites."""
        if self.gateway_admin_url is not None:
            return str(self.gateway_admin_url).rstrip("/")
        ingress = self.gateway.ingress
        return f"https://{ingress.host}" if ingress is not None else None

    @property
    def allowed_secret_keys(self) -> set[str]:
        return allowed_secret_keys(self)
