"""Small helpers the platform's components share: labels, hardened security contexts, env references.

They live in one place so every pod gets the same Pod Security `restricted` settings and every secret
reaches a container the same way: through a `secretKeyRef`, never as a literal.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.settings import GpuPool

PART_OF = "kiva"

#: Names of the Kubernetes Secrets the platform's workloads read (created by `PlatformSecrets`).
DATABASE_SECRET = "kiva-db-app"
GATEWAY_SECRET = "kiva-gateway"
HUGGING_FACE_SECRET = "kiva-huggingface"
BACKUP_SECRET = "kiva-db-backup"

#: The label selecting a pool's GPU nodes (set by the cloud layer, or by hand on existing clusters).
GPU_POOL_LABEL = "kiva.platform/gpu-pool"
#: Taints GPU nodes carry: AKS docs' `sku=gpu:NoSchedule`, and the GPU operator's `nvidia.com/gpu`.
GPU_TAINT_TOLERATIONS: list[dict[str, str]] = [
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
]
GPU_TOLERATIONS = [
    k8s.core.v1.TolerationArgs(key=t["key"], operator=t["operator"], value=t.get("value"), effect=t["effect"])
    for t in GPU_TAINT_TOLERATIONS
]
#: AKS taints every node of a spot pool with this; pods for spot GPU pools must tolerate it too.
SPOT_TAINT_TOLERATION: dict[str, str] = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
SPOT_TOLERATION = k8s.core.v1.TolerationArgs(
    key=SPOT_TAINT_TOLERATION["key"],
    operator=SPOT_TAINT_TOLERATION["operator"],
    value=SPOT_TAINT_TOLERATION["value"],
    effect=SPOT_TAINT_TOLERATION["effect"],
)


def gpu_tolerations(pool: GpuPool) -> list[k8s.core.v1.TolerationArgs]:
    """The tolerations a pod needs to land on `pool`: the GPU taints, plus the spot taint on spot pools."""
    return [*GPU_TOLERATIONS, SPOT_TOLERATION] if pool.spot else list(GPU_TOLERATIONS)


def labels(name: str, component: str) -> dict[str, str]:
    """Recommended Kubernetes labels; `name` and `component` also select the pods."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
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
