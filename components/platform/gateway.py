"""The LiteLLM gateway: the platform's OpenAI-compatible endpoint, as first-class Kubernetes objects.

Not the community Helm chart: a `Deployment` written here is visible to the policy pack, and the
chart's defaults (a bundled Postgres, random master keys, `main-…` tags) are not wanted anyway.

Database migrations: the proxy runs them itself at start-up (`prisma migrate deploy`, its default when
`DATABASE_URL` is set). The migration resolver (v2, the 1.108.7 default) and Prisma each hold a
PostgreSQL advisory lock while migrating (litellm_proxy_extras/migration_lock.py), so when a rollout
starts several pods, one applies the pending migrations and the others wait and find nothing to do.
LiteLLM 1.108.7 always exits when database setup fails (litellm/proxy/proxy_cli.py:1509-1534: exit 2 on
an unrecoverable migration error, exit 1 when setup still fails after its retries) and when
`DATABASE_URL` is set but no Prisma CLI is found (proxy_cli.py:1477, 1535-1541); there is nothing to switch
on (`--enforce_prisma_migration_check` is deprecated, hidden and ignored, proxy_cli.py:1034-1043,
1173-1178). A pod whose migration fails never becomes ready, so the rollout (`maxUnavailable: 0`) stops
with the old pods still serving instead of new pods serving a schema they do not expect. After a
successful migration the proxy builds two spend-log indexes on a daemon thread (proxy_cli.py:1516-1517,
litellm_proxy_extras/utils.py `start_request_log_index_build`) over the same `DATABASE_URL`; it needs
nothing from the pod. A separate Job would need re-creating on every image change (Jobs are immutable)
and Pulumi cannot order it against a Deployment update without replacing it; the proxy path has no
such ordering problem, and the image carries the Prisma CLI and engines (infra/versions.py), so it
works without egress.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE
from components.platform import gateway_config, gateway_logging
from components.platform.common import (
    GATEWAY_SECRET,
    child_opts,
    container_security,
    empty_dir,
    env,
    env_from_secret,
    http_probe,
    labels,
    pod_security,
    selector,
)
from components.platform.database_names import UVICORN_HEALTHCHECK_SECONDS
from infra import versions
from infra.settings.workloads import Ingress, Resources

NAME = "litellm"
COMPONENT = "gateway"
RESOURCE_NAME = "kiva-gateway"
PORT = 4000
#: ≥ 10000 (kiva-hardening-container-uid-high); the image runs under any uid (see infra/versions.py).
UID = 10001
CONFIG_DIR = "/etc/litellm"
MIGRATION_DIR = "/var/lib/litellm/migrations"
#: uvicorn's idle keep-alive (`--keepalive_timeout`, LiteLLM 1.108.7 litellm/proxy/proxy_cli.py:979-985,
#: passed on as `timeout_keep_alive` at :328-329; uvicorn's default is 5 s). ingress-nginx keeps idle
#: upstream connections for 60 s (`UpstreamKeepaliveTimeout: 60`,
#: internal/ingress/controller/config/config.go): with uvicorn
#: closing first, NGINX can send a request on a connection uvicorn is closing and answer 502 (a POST is
#: not retried). Longer than NGINX's, so NGINX closes idle connections, and reused connections save the
#: TCP set-up per request.
KEEPALIVE_SECONDS = 75
#: Names the ingress controller's namespace on the Ingress, for the day-one network check.
CONTROLLER_NAMESPACE_ANNOTATION = "kiva.platform/controller-namespace"

#: Switches that keep LiteLLM 1.108.7 from fetching from GitHub (cost map, Anthropic beta headers, blog
#: posts, policy templates, the auto-router presets the public `/public/autorouter_presets` endpoint
#: serves) and that lock its usage telemetry off (`LITELLM_TELEMETRY_DISABLED`; that telemetry is new
#: since 1.90.6, off unless an admin opts in on the UI's Telemetry page, and exported over HTTP only to a
#: `LITELLM_TELEMETRY_ENDPOINT`; the veto refuses the opt-in, litellm/proxy/telemetry/settings.py
#: `TelemetrySettings.disabled`, runtime.py `TelemetryRuntime.start`). Each is read by the pinned version,
#: where the LiteLLM rows of `kiva_policies.telemetry` say.
TELEMETRY_SWITCHES = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_TELEMETRY_DISABLED": "True",
}


@dataclass(frozen=True)
class GatewayArgs:
    """The gateway as configured: its rendered LiteLLM config, size, and how clients reach it."""

    config_yaml: str
    """LiteLLM's `config.yaml` (`gateway_config.render`)."""
    workers: int
    """Uvicorn workers per pod (`database_names.gateway_workers`)."""
    provider_envs: tuple[str, ...]
    """Env names of the external providers' API keys (`secrets_table.provider_env`), in order."""
    telemetry: bool
    """Whether LiteLLM may fetch from GitHub (`kiva:telemetry.enabled`)."""
    resources: Resources
    min_replicas: int
    max_replicas: int
    ingress: Ingress | None = None
    """Publishes the gateway through an ingress controller with TLS; `None`: in-cluster only."""
    redis_env: tuple[tuple[str, str], ...] = ()
    """Where the gateway's Redis is (`redis.gateway_redis_env`); empty: no Redis."""
    log_level: str = "WARNING"
    """`LITELLM_LOG` and uvicorn's level (`kiva:gateway.logLevel`; never DEBUG, see gateway_logging)."""
    access_log: bool = False
    """uvicorn's per-request access log (`kiva:gateway.accessLog`)."""

    @property
    def log_config_json(self) -> str:
        """uvicorn's logging config, the ConfigMap's `log_config.json` (`gateway_logging`)."""
        return gateway_logging.render_log_config(self.log_level, self.access_log)


def gateway_env(args: GatewayArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """Secrets by reference, then plain settings. No value here is secret."""
    variables = [
        env_from_secret("LITELLM_MASTER_KEY", GATEWAY_SECRET, "LITELLM_MASTER_KEY"),
        env_from_secret("LITELLM_SALT_KEY", GATEWAY_SECRET, "LITELLM_SALT_KEY"),
        env_from_secret("DATABASE_URL", GATEWAY_SECRET, "DATABASE_URL"),
        *(env_from_secret(name, GATEWAY_SECRET, name) for name in args.provider_envs),
        *_redis_env(args),
        env("LITELLM_MODE", "PRODUCTION"),
        # LiteLLM's own loggers; uvicorn's follow `--log_config` (components/platform/gateway_logging.py).
        env("LITELLM_LOG", args.log_level),
        # 1.108.7 turns JSON on only for "true" in any case (litellm/_logging.py:644-658).
        env("JSON_LOGS", "True"),
        env("LITELLM_MIGRATION_DIR", MIGRATION_DIR),
    ]
    if not args.telemetry:
        variables += [env(key, value) for key, value in TELEMETRY_SWITCHES.items()]
    return variables


def _redis_env(args: GatewayArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """The Redis password by reference (also for the Sentinels, which share it), then where Redis is."""
    if not args.redis_env:
        return []
    names = dict(args.redis_env)
    variables = [env_from_secret("REDIS_PASSWORD", GATEWAY_SECRET, "REDIS_PASSWORD")]
    if "REDIS_SENTINEL_NODES" in names:
        variables.append(env_from_secret("REDIS_SENTINEL_PASSWORD", GATEWAY_SECRET, "REDIS_PASSWORD"))
    return variables + [env(key, value) for key, value in args.redis_env]


def _resources(resources: Resources) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    )


def pod_spec(args: GatewayArgs, service_account: str) -> k8s.core.v1.PodSpecArgs:
    container = k8s.core.v1.ContainerArgs(
        name=NAME,
        image=versions.LITELLM_IMAGE,
        image_pull_policy="IfNotPresent",
        args=[
            "--config",
            f"{CONFIG_DIR}/config.yaml",
            "--port",
            str(PORT),
            "--num_workers",
            str(args.workers),
            "--log_config",
            f"{CONFIG_DIR}/{gateway_logging.LOG_CONFIG_FILE}",
            "--keepalive_timeout",
            str(KEEPALIVE_SECONDS),
            "--timeout_worker_healthcheck",
            str(UVICORN_HEALTHCHECK_SECONDS),
        ],
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT, protocol="TCP")],
        env=gateway_env(args),
        resources=_resources(args.resources),
        # Never `/health`: it calls every model and needs the master key.
        startup_probe=http_probe("/health/readiness", "http", period=10, failures=60),
        liveness_probe=http_probe("/health/liveliness", "http", period=15, failures=3),
        readiness_probe=http_probe("/health/readiness", "http", period=10, failures=3),
        security_context=container_security(read_only_root=True),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            k8s.core.v1.VolumeMountArgs(name="cache", mount_path="/.cache"),
            k8s.core.v1.VolumeMountArgs(name="npm", mount_path="/.npm"),
            k8s.core.v1.VolumeMountArgs(name="migrations", mount_path=MIGRATION_DIR),
        ],
    )
    spread = [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=key,
            when_unsatisfiable="ScheduleAnyway",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
        )
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    return k8s.core.v1.PodSpecArgs(
        service_account_name=service_account,
        automount_service_account_token=False,
        security_context=pod_security(UID),
        containers=[container],
        termination_grace_period_seconds=90,
        topology_spread_constraints=spread,
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="config",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=f"{RESOURCE_NAME}-config"),
            ),
            empty_dir("tmp", "500Mi"),
            empty_dir("cache", "500Mi"),
            empty_dir("npm", "500Mi"),
            empty_dir("migrations", "100Mi"),
        ],
    )


class Gateway(pulumi.ComponentResource):
    """ConfigMap, ServiceAccount, Deployment, Service (4000), HPA, PodDisruptionBudget, optional Ingress."""

    config_map: k8s.core.v1.ConfigMap
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler
    disruption_budget: k8s.policy.v1.PodDisruptionBudget
    ingress: k8s.networking.v1.Ingress | None
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: GatewayArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Gateway", name, None, opts)
        meta_labels = labels(NAME, COMPONENT)

        def metadata(suffix: str = "") -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=RESOURCE_NAME + suffix, namespace=PLATFORM_NAMESPACE, labels=meta_labels
            )

        rendered = args.config_yaml
        log_config = args.log_config_json
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata("-config"),
            data={"config.yaml": rendered, gateway_logging.LOG_CONFIG_FILE: log_config},
            opts=child_opts(self, depends_on=depends_on),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=metadata(),
            automount_service_account_token=False,
            opts=child_opts(self, depends_on=depends_on),
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No `replicas`: the HorizontalPodAutoscaler owns the count (minReplicas ≥ 2 in production).
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_surge="25%", max_unavailable=0
                    ),
                ),
                revision_history_limit=5,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=meta_labels,
                        annotations={"checksum/config": gateway_config.checksum(rendered, log_config)},
                    ),
                    spec=pod_spec(args, RESOURCE_NAME),
                ),
            ),
            opts=child_opts(self, depends_on=[*depends_on, self.config_map, account]),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector(NAME, COMPONENT),
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http", protocol="TCP")
                ],
            ),
            opts=child_opts(self),
        )
        self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=metadata(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=RESOURCE_NAME
                ),
                min_replicas=args.min_replicas,
                max_replicas=args.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=70
                            ),
                        ),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=[self.deployment]),
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
            ),
            opts=child_opts(self),
        )
        self.ingress = None
        self.url = pulumi.Output.from_input(
            f"http://{RESOURCE_NAME}.{PLATFORM_NAMESPACE}.svc.cluster.local:{PORT}"
        )
        if args.ingress is not None:
            ingress = args.ingress
            self.ingress = k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=RESOURCE_NAME,
                    namespace=PLATFORM_NAMESPACE,
                    labels=meta_labels,
                    annotations={
                        "cert-manager.io/cluster-issuer": ingress.cluster_issuer,
                        # Where the controller serving this class runs: the network check admits it.
                        CONTROLLER_NAMESPACE_ANNOTATION: ingress.controller_ns,
                    },
                ),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name=ingress.class_name,
                    tls=[
                        k8s.networking.v1.IngressTLSArgs(
                            hosts=[ingress.host], secret_name=f"{RESOURCE_NAME}-tls"
                        )
                    ],
                    rules=[
                        k8s.networking.v1.IngressRuleArgs(
                            host=ingress.host,
                            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                                paths=[
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path="/",
                                        path_type="Prefix",
                                        backend=k8s.networking.v1.IngressBackendArgs(
                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                name=RESOURCE_NAME,
                                                port=k8s.networking.v1.ServiceBackendPortArgs(name="http"),
                                            )
                                        ),
                                    )
                                ]
                            ),
                        )
                    ],
                ),
                opts=child_opts(self, depends_on=[self.service]),
            )
            self.url = pulumi.Output.from_input(f"https://{ingress.host}")
        self.register_outputs({"url": self.url})
