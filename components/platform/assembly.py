"""The one place where the stack's settings become the platform components' inputs.

Every platform component takes a small frozen `<Component>Args` of plain values and contract parts
(`components.contracts`); this module alone reads `StackSettings` and the `CloudFoundation` and
normalises them into those Args (defaults resolved, sizes computed, the secrets table applied). A
component can then be built, and tested, from hand-written Args without a stack file, and what a
component depends on is visible in its Args instead of hidden in a settings tree.
"""

from __future__ import annotations

from collections import defaultdict

from components.contracts import BACKUP_SECRET, CloudFoundation
from components.platform import gateway_config
from components.platform.certificate_issuer import CertificateIssuerArgs
from components.platform.database import DatabaseArgs, PoolerArgs, Volume
from components.platform.database_names import (
    DATABASE_NAME,
    DATABASE_OWNER,
    database_host,
    gateway_connections,
    gateway_workers,
    max_connections,
    pooler_pool_size,
)
from components.platform.gateway import GatewayArgs
from components.platform.model_server import STARTUP_FAILURES, STARTUP_PERIOD, ModelServerArgs
from components.platform.monitoring.alerts import alert_args
from components.platform.monitoring.egress import MonitoringEgress, ScrapeTarget, monitoring_scrape_targets
from components.platform.monitoring.gpu_metrics import GpuMetricsArgs
from components.platform.monitoring.logs import LogsArgs
from components.platform.monitoring.stack import MonitoringStackArgs
from components.platform.monitoring.values import MonitoringArgs, Receiver
from components.platform.namespaces import NamespacesArgs
from components.platform.network_policies import NetworkPoliciesArgs
from components.platform.operators import OperatorsArgs
from components.platform.platform import PlatformArgs
from components.platform.redis import RedisArgs, gateway_redis_env
from components.platform.secrets import SecretsArgs, SecretSpec, provider_env
from components.platform.teams import KeySpec, TeamsArgs, TeamSpec
from infra.settings import StackSettings
from infra.settings.ingress_metrics import IngressMetrics, ingress_metrics_target
from infra.settings.monitoring import DEFAULT_MONITORING_NAMESPACE
from infra.settings.redis import redis_enabled, redis_replicas
from infra.settings.secrets_table import (
    DATABASE_SECRET,
    GATEWAY_SECRET,
    HUGGING_FACE_SECRET,
    REDIS_SECRET,
    secrets_of,
    stored_secrets,
)
from infra.settings.workloads import Model


def _used_gpu_pools(settings: StackSettings) -> set[str]:
    """GPU pools at least one model runs on: only these get NVIDIA software."""
    return {model.pool for model in settings.models if not model.cpu and model.pool is not None}


def _nvidia_pools(settings: StackSettings) -> set[str]:
    """The used GPU pools the stack installs NVIDIA software on: none where the cluster runs its own
    (`operators.nvidia.install: false`; its nodes are declared with their GPUs)."""
    return _used_gpu_pools(settings) if settings.operators.nvidia.install else set()


def _pools_with(settings: StackSettings, foundation: CloudFoundation, software: str) -> tuple[str, ...]:
    used = _nvidia_pools(settings)
    return tuple(
        sorted(
            name
            for name, nodes in foundation.gpu_pools.items()
            if nodes.nvidia_software == software and name in used
        )
    )


def namespaces_args(settings: StackSettings, foundation: CloudFoundation) -> NamespacesArgs:
    prerequisites = settings.prerequisites
    used = _nvidia_pools(settings)
    operators = settings.operators
    return NamespacesArgs(
        region=settings.region,
        jurisdiction=settings.jurisdiction,
        prerequisites={
            "clusterIssuers": list(prerequisites.cluster_issuers),
            "crds": list(prerequisites.crds),
            "ingressClasses": list(prerequisites.ingress_classes),
            "loadBalancers": prerequisites.load_balancers,
            # Only when declared, so stacks without RuntimeClasses keep their annotation as it was.
            **(
                {"runtimeClasses": list(prerequisites.runtime_classes)}
                if prerequisites.runtime_classes
                else {}
            ),
        },
        external_secrets=_installs_external_secrets(settings, foundation),
        nvidia_software=frozenset(
            nodes.nvidia_software for pool, nodes in foundation.gpu_pools.items() if pool in used
        ),
        declared_node_pools=foundation.scheduling.declared_node_pools,
        secret_keys=declared_secret_keys(settings),
        cloudnative_pg=operators.cloudnative_pg.install,
        cert_manager=operators.cert_manager.install,
    )


def _installs_external_secrets(settings: StackSettings, foundation: CloudFoundation) -> bool:
    """The secret store is read through External Secrets, and the cluster does not run it already."""
    return foundation.needs_external_secrets and settings.operators.external_secrets.install


def _device_plugin_runtime_class(settings: StackSettings, foundation: CloudFoundation) -> str | None:
    """The RuntimeClass the device plugin's pools name (the settings make them agree on one)."""
    pools = _pools_with(settings, foundation, "device-plugin")
    return next((c for p in pools if (c := foundation.gpu_pools[p].runtime_class)), None)


def declared_secret_keys(settings: StackSettings) -> tuple[dict[str, str], ...]:
    """The Secret keys that hold the secrets table's values on this stack, in table order.

    The stored rows the stack also needs: a value that is stored but not needed (a Hugging Face token
    while no model is gated) goes to the secret store but into no Kubernetes Secret (`required_secrets`).
    """
    return tuple(
        {"secret": where.secret, "key": where.key}
        for row in stored_secrets(settings)
        if row.needed.required(settings)
        for where in row.lands_in
    )


def operators_args(settings: StackSettings, foundation: CloudFoundation) -> OperatorsArgs:
    return OperatorsArgs(
        monitoring=settings.monitoring.enabled,
        external_secrets=_installs_external_secrets(settings, foundation),
        cloudnative_pg=settings.operators.cloudnative_pg.install,
        cert_manager=settings.operators.cert_manager.install,
        device_plugin_runtime_class=_device_plugin_runtime_class(settings, foundation),
        device_plugin_pools=_pools_with(settings, foundation, "device-plugin"),
        gpu_operator_pools=_pools_with(settings, foundation, "gpu-operator"),
        time_slicing=tuple(
            (pool.name, pool.replicas_per_gpu)
            for pool in sorted(settings.gpu_pools, key=lambda pool: pool.name)
            if pool.replicas_per_gpu > 1 and pool.name in _pools_with(settings, foundation, "device-plugin")
        ),
        mig=tuple(
            name
            for name in _pools_with(settings, foundation, "device-plugin")
            if settings.pool(name).mig_profile is not None
        ),
        gpu_operator_mig=any(
            settings.pool(name).mig_profile is not None
            for name in _pools_with(settings, foundation, "gpu-operator")
        ),
        gpu_tolerations=foundation.gpu_daemonset_tolerations,
    )


def certificate_issuer_args(settings: StackSettings) -> CertificateIssuerArgs | None:
    """A private CA only where the Ingress asks for one (`ingress.internalCa`)."""
    ingress = settings.gateway.ingress
    if ingress is None or not ingress.internal_ca:
        return None
    return CertificateIssuerArgs(issuer=ingress.cluster_issuer)


def required_secrets(settings: StackSettings, foundation: CloudFoundation) -> list[SecretSpec]:
    """Every Secret this stack's workloads read: the table's rows this stack needs, by Secret."""
    keys: dict[str, dict[str, str]] = defaultdict(dict)
    for row in secrets_of(settings):
        if row.needed.required(settings):
            for where in row.lands_in:
                keys[where.secret][where.key] = row.name
    database_url = (
        f"postgresql://{DATABASE_OWNER}:{{password}}@{database_host(settings)}:5432/{DATABASE_NAME}"
    )
    specs = [
        SecretSpec(
            DATABASE_SECRET,
            type="kubernetes.io/basic-auth",
            keys=keys[DATABASE_SECRET],
            literals={"username": DATABASE_OWNER},
        ),
        SecretSpec(GATEWAY_SECRET, keys=keys[GATEWAY_SECRET], urls={"DATABASE_URL": database_url}),
        SecretSpec(HUGGING_FACE_SECRET, keys=keys[HUGGING_FACE_SECRET]),
        SecretSpec(REDIS_SECRET, keys=keys[REDIS_SECRET]),
    ]
    specs = [spec for spec in specs if spec.keys]
    # The backup store's Secret is the backup target's: the cloud layer names its keys (from the table).
    credentials = foundation.backup.credentials
    if credentials is not None:
        specs.append(SecretSpec(BACKUP_SECRET, keys=credentials.keys, literals=credentials.literals))
    return specs


def secrets_args(settings: StackSettings, foundation: CloudFoundation) -> SecretsArgs:
    return SecretsArgs(specs=tuple(required_secrets(settings, foundation)), store=foundation.secrets)


def database_args(settings: StackSettings, foundation: CloudFoundation) -> DatabaseArgs:
    database, default_class = settings.database, settings.cluster.storage_class
    wal = database.wal_storage
    pooler = database.pooler
    return DatabaseArgs(
        instances=database.instances,
        postgres_major=database.postgres_major,
        resources=database.resources,
        storage=Volume(database.storage.size, database.storage.storage_class or default_class),
        wal_storage=None if wal is None else Volume(wal.size, wal.storage_class or default_class),
        max_connections=max_connections(settings),
        production=settings.production,
        scheduling=foundation.scheduling,
        backup=foundation.backup,
        retention_days=settings.retention.backup_days,
        backup_schedule=settings.backups.schedule,
        pooler=(
            PoolerArgs(
                instances=pooler.instances,
                max_client_conn=gateway_connections(settings) * 2,
                default_pool_size=pooler_pool_size(settings),
            )
            if pooler.enabled
            else None
        ),
        monitoring=settings.monitoring.enabled,
    )


def model_server_args(settings: StackSettings, foundation: CloudFoundation, model: Model) -> ModelServerArgs:
    gpu = not model.cpu
    return ModelServerArgs(
        model=model,
        storage_class=model.cache.storage_class or settings.cluster.storage_class,
        telemetry=settings.telemetry.enabled,
        gpu_nodes=foundation.gpu_pools[model.pool or ""] if gpu else None,
        gpu_kind=settings.pool(model.pool or "").kind if gpu else None,
        gpu_compute_capability=settings.pool(model.pool or "").gpu.compute_capability if gpu else None,
    )


def redis_args(settings: StackSettings, foundation: CloudFoundation) -> RedisArgs | None:
    """The gateway's Redis where it is on (`kiva:gateway.redis`, by default above one gateway replica)."""
    gateway = settings.gateway
    if not redis_enabled(gateway.redis, gateway.max_replicas):
        return None
    return RedisArgs(
        replicas=redis_replicas(gateway.redis, settings.production), scheduling=foundation.scheduling
    )


def gateway_args(settings: StackSettings, redis: RedisArgs | None = None) -> GatewayArgs:
    gateway = settings.gateway
    return GatewayArgs(
        config_yaml=gateway_config.render(settings),
        workers=gateway_workers(settings),
        provider_envs=tuple(provider_env(provider.name) for provider in settings.providers),
        telemetry=settings.telemetry.enabled,
        resources=gateway.resources,
        min_replicas=gateway.min_replicas,
        max_replicas=gateway.max_replicas,
        ingress=gateway.ingress,
        redis_env=tuple(gateway_redis_env(redis).items()) if redis is not None else (),
        log_level=gateway.log_level,
        access_log=gateway.access_log,
    )


def network_policies_args(settings: StackSettings, foundation: CloudFoundation) -> NetworkPoliciesArgs:
    gateway = settings.gateway
    clients = list(gateway.allowed_namespaces)
    if gateway.ingress is not None:
        clients.append(gateway.ingress.controller_ns)
    return NetworkPoliciesArgs(
        client_namespaces=tuple(clients),
        backup=foundation.backup.egress,
        pooled=settings.database.pooler.enabled,
        external_providers=bool(settings.providers),
        monitoring=settings.monitoring.enabled,
        prometheus_namespace=settings.monitoring.prometheus_namespace,
        prometheus_pods=settings.monitoring.install,
        model_download=any(not model.offline for model in settings.models),
        operator_namespace=settings.operators.cloudnative_pg.operator_namespace,
        model_servers=bool(settings.models),
        redis=redis_enabled(gateway.redis, gateway.max_replicas),
        redis_sentinel=redis_enabled(gateway.redis, gateway.max_replicas)
        and redis_replicas(gateway.redis, settings.production) > 1,
    )


#: Namespace of node-exporter, which needs host access (Pod Security `privileged`), apart from the rest.
NODE_EXPORTER_NAMESPACE = "kiva-node-exporter"


def gpu_metrics_args(settings: StackSettings, foundation: CloudFoundation) -> GpuMetricsArgs | None:
    """The DCGM exporter for the device-plugin pools, with monitoring on and at least one such pool (the
    GPU operator's pools get theirs from the operator)."""
    pools = _pools_with(settings, foundation, "device-plugin")
    if not settings.monitoring.enabled or not pools:
        return None
    return GpuMetricsArgs(
        pools=pools,
        tolerations=foundation.gpu_daemonset_tolerations,
        prometheus_namespace=settings.monitoring.prometheus_namespace,
        prometheus_pods=settings.monitoring.install,
        runtime_class=_device_plugin_runtime_class(settings, foundation),
    )


def monitoring_args(settings: StackSettings, foundation: CloudFoundation) -> MonitoringStackArgs | None:
    """The monitoring stack where `kiva:monitoring.enabled`; its release only where the stack installs it."""
    monitoring = settings.monitoring
    if not monitoring.enabled:
        return None
    values = MonitoringArgs(
        namespace=DEFAULT_MONITORING_NAMESPACE,
        node_exporter_namespace=NODE_EXPORTER_NAMESPACE,
        retention_time=monitoring.retention.time,
        retention_size=monitoring.retention.size,
        storage_size=monitoring.storage.size,
        storage_class=monitoring.storage.storage_class or settings.cluster.storage_class,
        grafana=monitoring.grafana.enabled,
        receivers=tuple(Receiver(r.name, str(r.url)) for r in monitoring.alerting.receivers),
        # Two of each in production, so that an upgrade or a lost node leaves metrics and alerts running.
        replicas=2 if settings.production else 1,
    )
    return MonitoringStackArgs(
        values=values if monitoring.install else None,
        model_servers=bool(settings.models),
        prometheus_namespace=monitoring.prometheus_namespace,
        alerts=alert_args(
            settings.backups.schedule,
            spend_logs_days=settings.retention.spend_logs_days,
            model_startup_seconds=STARTUP_PERIOD * STARTUP_FAILURES,
            model_servers=bool(settings.models),
            gpus=bool(_nvidia_pools(settings)),
            # cnpg_kiva_spend_logs_oldest_age_seconds: the custom query (database.py wires it) and its grant
            # (spend_log_grant.py) exist exactly where the database is monitored, i.e. here.
            spend_log_age=settings.monitoring.enabled,
        ),
        gpu_metrics=gpu_metrics_args(settings, foundation),
        egress=monitoring_egress_args(settings, foundation),
        ingress=_ingress_metrics(settings),
    )


def _ingress_metrics(settings: StackSettings) -> IngressMetrics | None:
    return ingress_metrics_target(settings.monitoring.ingress_metrics, settings.gateway.ingress)


def monitoring_egress_args(settings: StackSettings, foundation: CloudFoundation) -> MonitoringEgress:
    """What leaves the monitoring namespace: the namespaces whose pods the stack's monitors select, with
    their ports, and the log backend Grafana reads (`monitoring/egress.py`)."""
    operators = operators_args(settings, foundation)
    ingress = _ingress_metrics(settings)
    logs = settings.monitoring.logs
    return MonitoringEgress(
        scrape_targets=monitoring_scrape_targets(
            models=bool(settings.models),
            pooled=settings.database.pooler.enabled,
            cloudnative_pg=operators.cloudnative_pg,
            cert_manager=operators.cert_manager,
            external_secrets=operators.external_secrets,
            gpu_operator=bool(operators.gpu_operator_pools),
            gpu_metrics=gpu_metrics_args(settings, foundation) is not None,
            ingress=(
                ScrapeTarget(ingress.namespace, (ingress.port,), tuple(sorted(ingress.pod_labels.items())))
                if ingress is not None
                else None
            ),
        ),
        log_backend=str(logs.url) if logs.backend == "external" and logs.url is not None else None,
    )


def logs_args(settings: StackSettings) -> LogsArgs | None:
    """The log backend's datasource and the anonymised ingress log format, where configured."""
    logs = settings.monitoring.logs
    if not settings.monitoring.enabled or (logs.backend == "none" and not logs.anonymise_ips):
        return None
    return LogsArgs(logs, DEFAULT_MONITORING_NAMESPACE, settings.gateway.ingress)


def teams_args(settings: StackSettings, foundation: CloudFoundation) -> TeamsArgs | None:
    """The teams and service keys to reconcile through the gateway's management API; `None` without teams."""
    url = settings.gateway_admin_endpoint
    if not settings.teams or url is None or foundation.gateway_master_key is None:
        return None
    return TeamsArgs(
        admin_url=url,
        master_key=foundation.gateway_master_key,
        teams=tuple(
            TeamSpec(
                alias=team.alias,
                models=tuple(team.models),
                max_budget=team.max_budget,
                budget_duration=team.budget_duration,
                rpm_limit=team.rpm_limit,
                tpm_limit=team.tpm_limit,
                keys=tuple(
                    KeySpec(
                        name=key.name,
                        models=tuple(key.models),
                        max_budget=key.max_budget,
                        budget_duration=key.budget_duration,
                        rpm_limit=key.rpm_limit,
                        tpm_limit=key.tpm_limit,
                    )
                    for key in team.keys
                ),
            )
            for team in settings.teams
        ),
        key_store=foundation.service_key_store,
    )


def platform_args(settings: StackSettings, foundation: CloudFoundation) -> PlatformArgs:
    """Every platform component's Args, from the stack's settings and the cloud layer's contract."""
    redis = redis_args(settings, foundation)
    return PlatformArgs(
        namespaces=namespaces_args(settings, foundation),
        operators=operators_args(settings, foundation),
        certificate_issuer=certificate_issuer_args(settings),
        secrets=secrets_args(settings, foundation),
        database=database_args(settings, foundation),
        model_servers=tuple(model_server_args(settings, foundation, model) for model in settings.models),
        gateway=gateway_args(settings, redis),
        redis=redis,
        network_policies=network_policies_args(settings, foundation),
        monitoring=monitoring_args(settings, foundation),
        logs=logs_args(settings),
        teams=teams_args(settings, foundation),
        served_models=(
            *(model.served_name for model in settings.models),
            *(entry.name for provider in settings.providers for entry in provider.models),
        ),
    )
