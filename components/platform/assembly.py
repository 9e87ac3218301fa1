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
from components.platform.model_server import ModelServerArgs
from components.platform.namespaces import NamespacesArgs
from components.platform.network_policies import NetworkPoliciesArgs
from components.platform.operators import OperatorsArgs
from components.platform.platform import PlatformArgs
from components.platform.secrets import SecretsArgs, SecretSpec, provider_env
from infra.settings import StackSettings
from infra.settings.secrets_table import DATABASE_SECRET, GATEWAY_SECRET, HUGGING_FACE_SECRET, secrets_of
from infra.settings.workloads import Model


def _used_gpu_pools(settings: StackSettings) -> set[str]:
    """GPU pools at least one model runs on: only these get NVIDIA software."""
    return {model.pool for model in settings.models if not model.cpu and model.pool is not None}


def _pools_with(settings: StackSettings, foundation: CloudFoundation, software: str) -> tuple[str, ...]:
    used = _used_gpu_pools(settings)
    return tuple(
        sorted(
            name
            for name, nodes in foundation.gpu_pools.items()
            if nodes.nvidia_software == software and name in used
        )
    )


def namespaces_args(settings: StackSettings, foundation: CloudFoundation) -> NamespacesArgs:
    prerequisites = settings.prerequisites
    used = _used_gpu_pools(settings)
    return NamespacesArgs(
        region=settings.region,
        jurisdiction=settings.jurisdiction,
        prerequisites={
            "clusterIssuers": list(prerequisites.cluster_issuers),
            "crds": list(prerequisites.crds),
            "ingressClasses": list(prerequisites.ingress_classes),
            "loadBalancers": prerequisites.load_balancers,
        },
        external_secrets=foundation.needs_external_secrets,
        nvidia_software=frozenset(
            nodes.nvidia_software for pool, nodes in foundation.gpu_pools.items() if pool in used
        ),
        declared_node_pools=foundation.scheduling.declared_node_pools,
    )


def operators_args(settings: StackSettings, foundation: CloudFoundation) -> OperatorsArgs:
    return OperatorsArgs(
        monitoring=settings.monitoring.enabled,
        external_secrets=foundation.needs_external_secrets,
        device_plugin_pools=_pools_with(settings, foundation, "device-plugin"),
        gpu_operator_pools=_pools_with(settings, foundation, "gpu-operator"),
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
    )


def gateway_args(settings: StackSettings) -> GatewayArgs:
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
        model_download=any(not model.offline for model in settings.models),
    )


def platform_args(settings: StackSettings, foundation: CloudFoundation) -> PlatformArgs:
    """Every platform component's Args, from the stack's settings and the cloud layer's contract."""
    return PlatformArgs(
        namespaces=namespaces_args(settings, foundation),
        operators=operators_args(settings, foundation),
        certificate_issuer=certificate_issuer_args(settings),
        secrets=secrets_args(settings, foundation),
        database=database_args(settings, foundation),
        model_servers=tuple(model_server_args(settings, foundation, model) for model in settings.models),
        gateway=gateway_args(settings),
        network_policies=network_policies_args(settings, foundation),
        served_models=(
            *(model.served_name for model in settings.models),
            *(entry.name for provider in settings.providers for entry in provider.models),
        ),
    )
