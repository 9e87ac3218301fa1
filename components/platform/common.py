"""Small helpers the platform's components share: labels, hardened security contexts, env references.

They live in one place so every pod gets the same Pod Security `restricted` settings and every secret
reaches a container the same way: through a `secretKeyRef`, never as a literal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import GpuNodes

# Names of the Kubernetes Secrets the platform's workloads read (created by `PlatformSecrets`), from
# the secrets table; re-exported for the components that reference them.
from infra.settings.secrets_table import DATABASE_SECRET as DATABASE_SECRET
from infra.settings.secrets_table import GATEWAY_SECRET as GATEWAY_SECRET
from infra.settings.secrets_table import HUGGING_FACE_SECRET as HUGGING_FACE_SECRET
from infra.versions import HelmChart

PART_OF = "kiva"

#: The label selecting a pool's GPU nodes (set by the cloud layer, or by hand on existing clusters).
GPU_POOL_LABEL = "kiva.platform/gpu-pool"


def gpu_tolerations(nodes: GpuNodes) -> list[k8s.core.v1.TolerationArgs]:
    """The tolerations a pod needs to land on a GPU pool, as its cloud layer states them."""
    return [
        k8s.core.v1.TolerationArgs(
            key=t["key"], operator=t["operator"], value=t.get("value"), effect=t["effect"]
        )
        for t in nodes.tolerations
    ]


def pinned_release(
    release: str, chart: HelmChart, namespace: str, values: Any, timeout: int
) -> k8s.helm.v3.ReleaseArgs:
    """A vendor chart at its pinned version (`infra/versions.py`), into a namespace the stack created, rolled
    back whole if it does not come up within `timeout` seconds (`atomic`), with a bounded Helm history."""
    return k8s.helm.v3.ReleaseArgs(
        name=release,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        create_namespace=False,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        max_history=10,
    )


def labels(name: str, component: str) -> dict[str, str]:
    """Recommended Kubernetes labels; `name` and `component` also select the pods."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def network_policies(
    parent: pulumi.Resource,
    name: str,
    prefix: str,
    namespace: str,
    specs: Mapping[str, k8s.networking.v1.NetworkPolicySpecArgs],
    depends_on: list[pulumi.Resource],
) -> dict[str, k8s.networking.v1.NetworkPolicy]:
    """One NetworkPolicy per spec, `<prefix>-<policy>` in `namespace`, children of `parent`."""
    return {
        policy: k8s.networking.v1.NetworkPolicy(
            f"{name}-{policy}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{prefix}-{policy}", namespace=namespace, labels=labels("kiva", "network-policy")
            ),
            spec=spec,
            opts=child_opts(parent, depends_on=depends_on),
        )
        for policy, spec in specs.items()
    }


def selector(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


def child_opts(
    parent: pulumi.Resource,
    *,
    depends_on: list[pulumi.Resource] | None = None,
    protect: bool = False,
    custom_timeouts: pulumi.CustomTimeouts | None = None,
    additional_secret_outputs: list[str] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a child: `parent=self`, merged with what this child needs besides."""
    return pulumi.ResourceOptions.merge(
        pulumi.ResourceOptions(parent=parent),
        pulumi.ResourceOptions(
            depends_on=depends_on,
            protect=protect or None,
            custom_timeouts=custom_timeouts,
            additional_secret_outputs=additional_secret_outputs,
        ),
    )


def pod_security(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    """Non-root with a fixed uid/gid, volumes group-owned by it, the runtime's default seccomp profile."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security(read_only_root: bool = True) -> k8s.core.v1.SecurityContextArgs:
    """Pod Security Standard `restricted`: no escalation, every capability dropped, seccomp RuntimeDefault."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=read_only_root,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def env(name: str, value: str) -> k8s.core.v1.EnvVarArgs:
    """A plain env var: only ever for values that are not secret."""
    return k8s.core.v1.EnvVarArgs(name=name, value=value)


def env_from_secret(name: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
    """An env var read from a Kubernetes Secret at pod start: the value never appears in the spec."""
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)
        ),
    )


def empty_dir(name: str, size: str, medium: str | None = None) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size, medium=medium)
    )


def http_probe(path: str, port: str, period: int, failures: int, timeout: int = 5) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=timeout,
    )
