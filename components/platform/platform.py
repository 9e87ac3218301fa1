"""The platform layer: everything KIVA runs on Kubernetes, independent of the cloud underneath.

It takes a `CloudFoundation` (a Kubernetes provider, where secrets come from, the backup target, what
pods need on each GPU pool, whether External Secrets is needed) and
builds, in order: namespaces, operators, the internal CA issuer (when asked for), secrets, the
database, the model servers, the gateway and the network policies. Nothing here knows whether the
cluster is AKS or STACKIT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.contracts import PLATFORM_NAMESPACE, CloudFoundation
from components.platform.certificate_issuer import CertificateIssuer
from components.platform.common import child_opts
from components.platform.database import Database
from components.platform.gateway import Gateway
from components.platform.model_server import ModelServer
from components.platform.namespaces import PlatformNamespaces
from components.platform.network_policies import NetworkPolicies
from components.platform.operators import Operators
from components.platform.secrets import PlatformSecrets
from infra.settings import StackSettings


@dataclass(frozen=True)
class PlatformArgs:
    settings: StackSettings
    foundation: CloudFoundation
    config: pulumi.Config


class Platform(pulumi.ComponentResource):
    """Operators, database, secrets sync, gateway and model servers, behind default-deny network policies.

    `outputs` holds what the stack exports: names and URLs only, never a secret.
    """

    outputs: dict[str, pulumi.Output]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiva:platform:Platform", name, None, opts)
        settings, foundation = args.settings, args.foundation
        self.namespaces = PlatformNamespaces(
            f"{name}-namespaces", settings, foundation, opts=child_opts(self)
        )
        platform_namespace = self.namespaces.by_name[PLATFORM_NAMESPACE]
        self.operators = Operators(
            f"{name}-operators", settings, foundation, self.namespaces.by_name, opts=child_opts(self)
        )
        ingress = settings.gateway.ingress
        self.certificate_issuer = (
            CertificateIssuer(
                f"{name}-certificate-issuer",
                ingress.cluster_issuer,
                self.operators.cert_manager,
                opts=child_opts(self),
            )
            if ingress is not None and ingress.internal_ca
            else None
        )
        secret_dependencies: list[pulumi.Resource] = [platform_namespace]
        if self.operators.external_secrets is not None:
            secret_dependencies.append(self.operators.external_secrets)
        self.secrets = PlatformSecrets(
            f"{name}-secrets", settings, foundation, secret_dependencies, opts=child_opts(self)
        )
        self.database = Database(
            f"{name}-database",
            settings,
            foundation,
            operators=[self.operators.cloudnative_pg, self.operators.barman_cloud],
            secrets=self.secrets.ready,
            opts=child_opts(self),
        )
        gpu_operators = [
            r for r in (self.operators.device_plugin, self.operators.gpu_operator) if r is not None
        ]
        self.model_servers = [
            ModelServer(
                f"{name}-model-{model.name}",
                settings,
                model,
                None if model.cpu else foundation.gpu_pools[model.pool or ""],
                depends_on=[platform_namespace, *self.secrets.ready, *([] if model.cpu else gpu_operators)],
                opts=child_opts(self),
            )
            for model in settings.models
        ]
        self.gateway = Gateway(
            f"{name}-gateway",
            settings,
            depends_on=[
                platform_namespace,
                *self.secrets.ready,
                self.database.cluster,
                # The Ingress names this issuer; cert-manager issues its certificate once it exists.
                *([self.certificate_issuer.issuer_resource] if self.certificate_issuer else []),
            ],
            opts=child_opts(self),
        )
        self.network_policies = NetworkPolicies(
            f"{name}-network-policies",
            settings,
            foundation,
            depends_on=[platform_namespace],
            opts=child_opts(self),
        )
        self.outputs = {
            "namespace": pulumi.Output.from_input(PLATFORM_NAMESPACE),
            "gatewayUrl": self.gateway.url,
            "models": pulumi.Output.from_input(
                [m.served_name for m in settings.models]
                + [m.name for p in settings.providers for m in p.models]
            ),
        }
        self.register_outputs(self.outputs)
