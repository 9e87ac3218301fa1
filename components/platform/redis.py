"""The gateway's Redis: shared rate limits, budgets, router state and (optionally) responses across replicas.

Valkey, not Redis: Redis changed from BSD-3 to RSALv2/SSPLv1 with 7.4 (redis/redis#13157, March 2024;
AGPL added as a third option with 8.0); Valkey is the Linux Foundation's fork of Redis 7.2.4 under
BSD-3-Clause, speaks the same protocol and ships the same Sentinel. The official image
`valkey/valkey` is pinned in `infra/versions.py`.

Nothing is ever written to disk: no RDB snapshots (`save ""`), no append-only file, diskless
replication on both sides (`repl-diskless-sync yes`, `repl-diskless-load swapdb`), and the data and
config directories are memory-backed `emptyDir`s. Prompts and responses reach Redis only when the
response cache is on (`kiva:gateway.redis.cache`), and then only in memory for its TTL. A restart loses
the counters, which LiteLLM rebuilds (rate-limit windows are a minute, spend is in PostgreSQL).

`replicas: 1` is a single instance behind a ClusterIP Service. `replicas: 3` is a StatefulSet of three
pods, each running Valkey and a Sentinel (quorum 2): pod 0 starts as the primary, the others replicate
it, and after a failover a starting pod asks the Sentinels for the current primary before choosing its
role. Hostnames, not pod IPs, are announced (`resolve-hostnames`, `announce-hostnames`), since pod IPs
change on every restart. LiteLLM 1.108.7 connects through Sentinel when `REDIS_SENTINEL_NODES` (JSON
`[[host, port], …]`) and `REDIS_SERVICE_NAME` are set (`_get_redis_client_logic`, litellm/_redis.py:513-566;
`get_redis_client`/`get_redis_async_client`, :830 and :898), with `REDIS_SENTINEL_PASSWORD` for the
Sentinels and `REDIS_PASSWORD` for the data nodes (`_sentinel_auth_kwargs`, :748). It must then be given
no host or port: 1.108.7 reads every `REDIS_<redis.Redis argument>` from the environment
(`_redis_kwargs_from_environment`, :276) and hands `host`/`port` to `redis.Sentinel` and `master_for`
as well, which fail with "got multiple values for argument 'host'" (1.90.6 dropped them, and the
data-node password with them). So with Sentinel the gateway gets no `REDIS_HOST`/`REDIS_PORT`.
Transport is plain TCP inside the platform namespace (only the gateway may connect, see
`kiva-redis-private`); LiteLLM would switch to TLS with `REDIS_SSL=true` (coerced by
`_coerce_redis_kwargs_types`, :207), which Valkey here does not serve.

The password (`requirepass`, `masterauth`, Sentinel's `requirepass`/`auth-pass`/`sentinel-pass`) is read
from the `kiva-redis` Secret into the environment and written into the config file in the memory-backed
directory at start; the ConfigMap holds only the start scripts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE, Scheduling
from components.platform.common import (
    child_opts,
    container_security,
    empty_dir,
    env_from_secret,
    labels,
    pod_security,
    selector,
)
from infra import versions
from infra.settings.secrets_table import REDIS_SECRET
from infra.settings.workloads import ResourceAmounts, Resources

NAME = "redis"
COMPONENT = "gateway-state"
RESOURCE_NAME = "kiva-redis"
HEADLESS = f"{RESOURCE_NAME}-headless"
PORT = 6379
SENTINEL_PORT = 26379
#: The Sentinel's name for the monitored primary (LiteLLM's `REDIS_SERVICE_NAME`).
SERVICE_NAME = "kiva-redis"
#: Non-root and outside the image's own `valkey` user (999): nothing in the image needs to be owned.
UID = 10001
PASSWORD_ENV = "REDIS_PASSWORD"
CONFIG_DIR = "/etc/valkey"
DATA_DIR = "/data"
SCRIPTS_DIR = "/scripts"
RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="1", memory="512Mi")
)
#: Below the memory limit, leaving room for replication buffers; older keys go first when full.
MAX_MEMORY = "384mb"


def pod_host(index: int) -> str:
    """The stable DNS name of pod `index` (through the headless Service)."""
    return f"{RESOURCE_NAME}-{index}.{HEADLESS}.{PLATFORM_NAMESPACE}.svc.cluster.local"


def service_host() -> str:
    """Where a single instance is reached."""
    return f"{RESOURCE_NAME}.{PLATFORM_NAMESPACE}.svc.cluster.local"


@dataclass(frozen=True)
class RedisArgs:
    """The gateway's Redis as configured."""

    replicas: int
    """`1`: one instance; `3`: primary, two replicas and three Sentinels."""
    scheduling: Scheduling
    """Where the platform's own pods run (the general pool): how widely the pods can be spread."""
    resources: Resources = RESOURCES

    @property
    def sentinel(self) -> bool:
        return self.replicas > 1


def gateway_redis_env(args: RedisArgs) -> dict[str, str]:
    """The plain (non-secret) variables the gateway needs to reach Redis; the password comes from its Secret.

    With Sentinel no `REDIS_HOST`/`REDIS_PORT`: LiteLLM 1.108.7 would pass them to the Sentinel client
    too and fail (see the module docstring); the Sentinels name the primary.
    """
    if not args.sentinel:
        return {"REDIS_HOST": service_host(), "REDIS_PORT": str(PORT)}
    nodes = ", ".join(f'["{pod_host(i)}", {SENTINEL_PORT}]' for i in range(args.replicas))
    return {"REDIS_SENTINEL_NODES": f"[{nodes}]", "REDIS_SERVICE_NAME": SERVICE_NAME}


_SERVER_CONFIG = f"""\
port {PORT}
dir {DATA_DIR}
save ""
appendonly no
repl-diskless-sync yes
repl-diskless-load swapdb
maxmemory {MAX_MEMORY}
maxmemory-policy allkeys-lru
protected-mode no
"""


def _primary_lookup(replicas: int) -> str:
    """Shell that sets `primary` to what a Sentinel reports, else pod 0 (the first start)."""
    hosts = " ".join(pod_host(i) for i in range(replicas))
    return f"""primary=""
for sentinel in {hosts}; do
  primary="$(valkey-cli -h "$sentinel" -p {SENTINEL_PORT} --no-auth-warning \\
    sentinel get-master-addr-by-name {SERVICE_NAME} 2>/dev/null | head -n 1)" || primary=""
  [ -n "$primary" ] && break
done
[ -n "$primary" ] || primary="{pod_host(0)}"
self="$(hostname).{HEADLESS}.{PLATFORM_NAMESPACE}.svc.cluster.local"
"""


def server_script(args: RedisArgs) -> str:
    """Writes the config (with the password from the environment) to memory, then starts Valkey."""
    lines = [
        "set -eu",
        f'conf="{CONFIG_DIR}/valkey.conf"',
        f"cat > \"$conf\" <<'EOF'\n{_SERVER_CONFIG}EOF",
        f'printf \'requirepass "%s"\\nmasterauth "%s"\\n\' "${PASSWORD_ENV}" "${PASSWORD_ENV}" >> "$conf"',
    ]
    if args.sentinel:
        lines += [
            _primary_lookup(args.replicas).rstrip(),
            'echo "replica-announce-ip $self" >> "$conf"',
            '[ "$primary" = "$self" ] || echo "replicaof $primary ' + str(PORT) + '" >> "$conf"',
        ]
    lines.append('exec valkey-server "$conf"')
    return "\n".join(lines) + "\n"


def sentinel_script(args: RedisArgs) -> str:
    """Writes a Sentinel config (it rewrites it at runtime, so it lives in memory) and starts the Sentinel."""
    quorum = args.replicas // 2 + 1
    return (
        "\n".join(
            [
                "set -eu",
                _primary_lookup(args.replicas).rstrip(),
                f'conf="{CONFIG_DIR}/sentinel.conf"',
                f'cat > "$conf" <<EOF\nport {SENTINEL_PORT}\ndir {DATA_DIR}\nsentinel resolve-hostnames yes\n'
                "sentinel announce-hostnames yes\nsentinel announce-ip $self\n"
                f"sentinel monitor {SERVICE_NAME} $primary {PORT} {quorum}\n"
                f"sentinel down-after-milliseconds {SERVICE_NAME} 5000\n"
                f"sentinel failover-timeout {SERVICE_NAME} 60000\n"
                f"sentinel parallel-syncs {SERVICE_NAME} 1\nEOF",
                f'printf \'requirepass "%s"\\nsentinel sentinel-pass "%s"\\nsentinel auth-pass {SERVICE_NAME} '
                f'"%s"\\n\' "${PASSWORD_ENV}" "${PASSWORD_ENV}" "${PASSWORD_ENV}" >> "$conf"',
                'exec valkey-sentinel "$conf"',
            ]
        )
        + "\n"
    )


def _password_env() -> list[k8s.core.v1.EnvVarArgs]:
    # valkey-cli reads the password from REDISCLI_AUTH, so it never appears on a command line.
    return [
        env_from_secret(PASSWORD_ENV, REDIS_SECRET, PASSWORD_ENV),
        env_from_secret("REDISCLI_AUTH", REDIS_SECRET, PASSWORD_ENV),
    ]


def _ping(port: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(
            command=["sh", "-c", f"valkey-cli -p {port} --no-auth-warning ping | grep -q PONG"]
        ),
        period_seconds=10,
        timeout_seconds=5,
        failure_threshold=3,
    )


def _container(name: str, script: str, port: int, resources: Resources) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=versions.VALKEY_IMAGE,
        image_pull_policy="IfNotPresent",
        command=["sh", f"{SCRIPTS_DIR}/{script}"],
        ports=[k8s.core.v1.ContainerPortArgs(name=name, container_port=port, protocol="TCP")],
        env=_password_env(),
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
            limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
        ),
        readiness_probe=_ping(port),
        liveness_probe=k8s.core.v1.ProbeArgs(
            tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port), period_seconds=15, failure_threshold=3
        ),
        security_context=container_security(read_only_root=True),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=f"{name}-config", mount_path=CONFIG_DIR),
            k8s.core.v1.VolumeMountArgs(name=f"{name}-data", mount_path=DATA_DIR),
            k8s.core.v1.VolumeMountArgs(name="scripts", mount_path=SCRIPTS_DIR, read_only=True),
        ],
    )


SENTINEL_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="50m", memory="64Mi"), limits=ResourceAmounts(cpu="200m", memory="128Mi")
)


def pod_spec(args: RedisArgs) -> k8s.core.v1.PodSpecArgs:
    containers = [_container("valkey", "server.sh", PORT, args.resources)]
    volumes = [
        k8s.core.v1.VolumeArgs(
            name="scripts",
            config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=f"{RESOURCE_NAME}-scripts"),
        ),
        empty_dir("valkey-config", "1Mi", medium="Memory"),
        empty_dir("valkey-data", "16Mi", medium="Memory"),
    ]
    if args.sentinel:
        containers.append(_container("sentinel", "sentinel.sh", SENTINEL_PORT, SENTINEL_RESOURCES))
        volumes += [
            empty_dir("sentinel-config", "1Mi", medium="Memory"),
            empty_dir("sentinel-data", "1Mi", medium="Memory"),
        ]
    # One pod per node where there are enough nodes, else as spread as the nodes allow.
    per_node = "DoNotSchedule" if args.scheduling.hosts >= args.replicas else "ScheduleAnyway"
    spread = [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=key,
            when_unsatisfiable=rule,
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
        )
        for key, rule in (
            ("topology.kubernetes.io/zone", "ScheduleAnyway"),
            ("kubernetes.io/hostname", per_node),
        )
    ]
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=pod_security(UID),
        containers=containers,
        termination_grace_period_seconds=30,
        topology_spread_constraints=spread if args.sentinel else None,
        volumes=volumes,
    )


class Redis(pulumi.ComponentResource):
    """ConfigMap (start scripts), headless and client Services, StatefulSet, and with Sentinel a PodDisruptionBudget."""

    statefulset: k8s.apps.v1.StatefulSet

    def __init__(
        self,
        name: str,
        args: RedisArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Redis", name, None, opts)
        meta_labels = labels(NAME, COMPONENT)

        def metadata(suffix: str = "") -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=RESOURCE_NAME + suffix, namespace=PLATFORM_NAMESPACE, labels=meta_labels
            )

        scripts = {"server.sh": server_script(args)}
        if args.sentinel:
            scripts["sentinel.sh"] = sentinel_script(args)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=metadata("-scripts"),
            data=scripts,
            opts=child_opts(self, depends_on=depends_on),
        )
        ports = [k8s.core.v1.ServicePortArgs(name="valkey", port=PORT, target_port="valkey", protocol="TCP")]
        if args.sentinel:
            ports.append(
                k8s.core.v1.ServicePortArgs(
                    name="sentinel", port=SENTINEL_PORT, target_port="sentinel", protocol="TCP"
                )
            )
        headless = k8s.core.v1.Service(
            f"{name}-headless",
            metadata=metadata("-headless"),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                cluster_ip="None",
                # Pods find each other (and the Sentinels) by name before they are ready.
                publish_not_ready_addresses=True,
                selector=selector(NAME, COMPONENT),
                ports=ports,
            ),
            opts=child_opts(self, depends_on=depends_on),
        )
        if not args.sentinel:
            k8s.core.v1.Service(
                f"{name}-service",
                metadata=metadata(),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP", selector=selector(NAME, COMPONENT), ports=ports
                ),
                opts=child_opts(self, depends_on=depends_on),
            )
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=metadata(),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                replicas=args.replicas,
                service_name=HEADLESS,
                # All at once: a replica waits for nobody, and the Sentinels agree on pod 0 at the first start.
                pod_management_policy="Parallel",
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=meta_labels,
                        # A changed script rolls the pods.
                        annotations={
                            "checksum/scripts": hashlib.sha256(
                                str(sorted(scripts.items())).encode()
                            ).hexdigest()
                        },
                    ),
                    spec=pod_spec(args),
                ),
            ),
            # Same name: a replacement (an immutable field changed) must delete the old one first.
            opts=pulumi.ResourceOptions.merge(
                child_opts(self, depends_on=[*depends_on, config_map, headless]),
                pulumi.ResourceOptions(delete_before_replace=True),
            ),
        )
        if args.sentinel:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-disruption-budget",
                metadata=metadata(),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, COMPONENT)),
                ),
                opts=child_opts(self),
            )
        self.register_outputs({})
