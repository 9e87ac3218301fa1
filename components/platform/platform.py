"""The platform layer: everything KIVA runs on Kubernetes, independent of the cloud underneath."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE, CloudFoundation
from infra.settings import StackSettings


@dataclass(frozen=True)
class PlatformArgs:
    settings: StackSettings
    foundation: CloudFoundation
    config: pulumi.Config


class Platform(pulumi.ComponentResource):
    """Operators, database, secrets sync, gateway and model servers. (Skeleton: issue "Platform layer".)"""

    outputs: dict[str, pulumi.Output]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiva:platform:Platform", name, None, opts)
        child_opts = pulumi.ResourceOptions(parent=self)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=PLATFORM_NAMESPACE,
                labels={"pod-security.kubernetes.io/enforce": "restricted"},
            ),
            opts=child_opts,
        )
        self.outputs = {"namespace": self.namespace.metadata.name}
        self.register_outputs(self.outputs)
