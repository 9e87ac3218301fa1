"""The platform layer: everything KIVA runs on Kubernetes, independent of the cloud underneath.

It takes each component's Args, which `assembly.platform_args` builds from the settings and the
`CloudFoundation` (a Kubernetes provider, where secrets come from, the backup target, where pods can
be scheduled, what pods need on each GPU pool, whether External Secrets is needed), and builds, in
order: namespaces, the monitoring stack (when on; the operators' releases wait for it, since their charts
then render PodMonitors and ServiceMonitors), operators, the internal CA issuer (when asked for), secrets, the
database, the model servers, the gateway and the network policies. Nothing here knows whether the
cluster is AKS or STACKIT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.contracts import PLATFORM_NAMESPACE
from components.platform.certificate_issuer import CertificateIssuer, CertificateIssuerArgs
from components.platform.common import child_opts
from components.platform.database import Database, DatabaseArgs
from components.platform.gateway import Gateway, GatewayArgs
from components.platform.model_server import ModelServer, ModelServerArgs
from components.platform.monitoring.logs import LogsArgs, PlatformLogs
from components.platform.monitoring.stack import Monitoring, MonitoringStackArgs
from components.platform.namespaces import NamespacesArgs, PlatformNamespaces
from components.platform.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.platform.operators import Operators, OperatorsArgs
from components.platform.redis import Redis, RedisArgs
from components.platform.secrets import PlatformSecrets, SecretsArgs
from components.platform.teams import GatewayTeams, TeamsArgs


@dataclass(frozen=True)
class PlatformArgs:
    """Each component's Args, built from the settings and the contract in `assembly.platform_args`."""

    namespaces: NamespacesArgs
    operators: OperatorsArgs
    certificate_issuer: CertificateIssuerArgs | None
    """`None`: no private CA (the Ingress's issuer, if any, is a prerequisite)."""
    secrets: SecretsArgs
    database: DatabaseArgs
    model_servers: tuple[ModelServerArgs, ...]
    gateway: GatewayArgs
    redis: RedisArgs | None
    """`None`: no Redis (one gateway replica, or `kiva:gateway.redis.enabled: false`)."""
    network_policies: NetworkPoliciesArgs
    monitoring: MonitoringStackArgs | None
    """`None`: no monitoring (`kiva:monitoring.enabled: false`)."""
    logs: LogsArgs | None
    """`None`: no log backend and no anonymised ingress log format (`kiva:monitoring.logs`)."""
    served_models: tuple[str, ...]
    """Model names clients can ask the gateway for (stack output)."""
    teams: TeamsArgs | None = None
    """`None`: no `kiva:teams`, so nothing calls the gateway's management API."""


class Platform(pulumi.ComponentResource):
    """Operators, database, secrets sync, gateway and model servers, behind default-deny network policies.

    `outputs` holds what the stack exports: names and URLs only, never a secret.
    """

    outputs: dict[str, pulumi.Output]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiva:platform:Platform", name, None, opts)
        self.namespaces = PlatformNamespaces(f"{name}-namespaces", args.namespaces, opts=child_opts(self))
        platform_namespace = self.namespaces.by_name[PLATFORM_NAMESPACE]
        self.monitoring = (
            Monitoring(f"{name}-monitoring", args.monitoring, [platform_namespace], opts=child_opts(self))
            if args.monitoring is not None
            else None
        )
        monitoring_release = self.monitoring.release if self.monitoring is not None else None
        self.logs = (
            PlatformLogs(
                f"{name}-logs",
                args.logs,
                depends_on=[monitoring_release] if monitoring_release is not None else [],
                opts=child_opts(self),
            )
            if args.logs is not None
            else None
        )
        self.operators = Operators(
            f"{name}-operators",
            args.operators,
            self.namespaces.by_name,
            after=[monitoring_release] if monitoring_release is not None else [],
            opts=child_opts(self),
        )
        self.certificate_issuer = (
            CertificateIssuer(
                f"{name}-certificate-issuer",
                args.certificate_issuer,
                self.operators.cert_manager,
                opts=child_opts(self),
            )
            if args.certificate_issuer is not None
            else None
        )
        secret_dependencies: list[pulumi.Resource] = [platform_namespace]
        if self.operators.external_secrets is not None:
            secret_dependencies.append(self.operators.external_secrets)
        self.secrets = PlatformSecrets(
            f"{name}-secrets", args.secrets, secret_dependencies, opts=child_opts(self)
        )
        self.database = Database(
            f"{name}-database",
            args.database,
            operators=[
                r for r in (self.operators.cloudnative_pg, self.operators.barman_cloud) if r is not None
            ],
            secrets=self.secrets.ready,
            opts=child_opts(self),
        )
        gpu_operators = [
            r for r in (self.operators.device_plugin, self.operators.gpu_operator) if r is not None
        ]
        self.model_servers = [
            ModelServer(
                f"{name}-model-{server.model.name}",
                server,
                depends_on=[
                    platform_namespace,
                    *self.secrets.ready,
                    *([] if server.model.cpu else gpu_operators),
                ],
                opts=child_opts(self),
            )
            for server in args.model_servers
        ]
        self.redis = (
            Redis(
                f"{name}-redis", args.redis, [platform_namespace, *self.secrets.ready], opts=child_opts(self)
            )
            if args.redis is not None
            else None
        )
        self.gateway = Gateway(
            f"{name}-gateway",
            args.gateway,
            depends_on=[
                platform_namespace,
                *self.secrets.ready,
                self.database.cluster,
                *([self.redis.statefulset] if self.redis is not None else []),
                # The Ingress names this issuer; cert-manager issues its certificate once it exists.
                *([self.certificate_issuer.issuer_resource] if self.certificate_issuer else []),
            ],
            opts=child_opts(self),
        )
        # Teams and keys go through the running gateway: after it and the Ingress that publishes it.
        self.teams = (
            GatewayTeams(f"{name}-teams", args.teams, depends_on=[self.gateway], opts=child_opts(self))
            if args.teams is not None
            else None
        )
        self.network_policies = NetworkPolicies(
            f"{name}-network-policies",
            args.network_policies,
            depends_on=[platform_namespace],
            opts=child_opts(self),
        )
        self.outputs = {
            "namespace": pulumi.Output.from_input(PLATFORM_NAMESPACE),
            "gatewayUrl": self.gateway.url,
            "models": pulumi.Output.from_input(list(args.served_models)),
        }
        self.register_outputs(self.outputs)
