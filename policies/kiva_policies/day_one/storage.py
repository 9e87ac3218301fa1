"""Day one, storage: no ReadWriteOnce claim is mounted by pods that can run on different nodes.

A ReadWriteOnce volume (an Azure Disk, most block storage) attaches to one node at a time; a second pod
on another node stays in ContainerCreating with "Multi-Attach error" (Kubernetes docs "Persistent
Volumes", access modes; AKS "Azure Disk CSI driver"). Pods can land on different nodes when a
Deployment/ReplicaSet/StatefulSet template names the claim and runs more than one pod, or an HPA may
scale it past one, or a RollingUpdate surges a new pod next to the old one (Deployment default:
`maxSurge: 25%`, rounded up), or a DaemonSet mounts it, or two workloads share the claim.
StatefulSet `volumeClaimTemplates` give each pod its own claim and are fine. `ReadWriteOncePod` is
enforced by kube-scheduler: a second pod is not placed at all, so more than one pod is reported too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import (
    MANDATORY,
    POD_SPEC_PATHS,
    as_list,
    display_name,
    get,
    is_number,
    namespace_of,
    pod_spec,
)
from kiva_policies.day_one.pods import hpa_maximums
from kiva_policies.day_one.resources import props_of, type_of

PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"


def _surge(value: Any, replicas: int) -> int:
    """A Deployment's `maxSurge` in pods (percentages round up, as the deployment controller does)."""
    if value is None:
        value = "25%"
    if is_number(value):
        return int(value)
    match = re.fullmatch(r"\s*(\d+)%\s*", str(value))
    if match:
        return math.ceil(int(match.group(1)) * replicas / 100)
    try:
        return int(str(value))
    except ValueError:
        return 1


def _why_several_nodes(resource_type: str, props: Mapping[str, Any], hpa_max: int | None) -> str | None:
    kind = resource_type.rsplit(":", 1)[-1]
    replicas_value = get(props, "spec", "replicas", default=1)
    replicas = int(replicas_value) if is_number(replicas_value) else 1
    if resource_type == DAEMON_SET:
        return "a DaemonSet runs one pod on every node it admits"
    if kind == "Job":
        parallel = get(props, "spec", "parallelism", default=1)
        return f"it runs {parallel} pods in parallel" if is_number(parallel) and parallel > 1 else None
    if replicas > 1:
        return f"it runs {replicas} replicas"
    if hpa_max is not None and hpa_max > 1:
        return f"its HorizontalPodAutoscaler may scale it to {hpa_max} replicas"
    if resource_type == DEPLOYMENT:
        strategy = get(props, "spec", "strategy", default={}) or {}
        if (get(strategy, "type", default="RollingUpdate") or "RollingUpdate") == "RollingUpdate":
            surge = _surge(get(strategy, "rollingUpdate", "maxSurge"), max(replicas, 1))
            if surge > 0:
                return f"a RollingUpdate starts {surge} new pod(s) beside the old one (maxSurge)"
    return None


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    claims: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for resource in resources:
        if type_of(resource) == PVC:
            props = props_of(resource)
            name = str(get(props, "metadata", "name", default=resource.name))
            modes = [str(m) for m in as_list(get(props, "spec", "accessModes"))]
            claims[(namespace_of(props), name)] = (resource.urn, modes)
    hpa_max = hpa_maximums(resources)
    users: dict[tuple[str, str], list[str]] = {}
    for resource in resources:
        resource_type = type_of(resource)
        if resource_type not in POD_SPEC_PATHS:
            continue
        props = props_of(resource)
        spec = pod_spec(resource_type, props)
        namespace = namespace_of(props)
        workload = f"{resource_type.rsplit(':', 1)[-1]} {display_name(props, resource.name)}"
        for volume in as_list(get(spec, "volumes")):
            claim = get(volume, "persistentVolumeClaim", "claimName")
            if not claim or (namespace, str(claim)) not in claims:
                continue
            _, modes = claims[(namespace, str(claim))]
            users.setdefault((namespace, str(claim)), []).append(workload)
            if not modes or set(modes) & {"ReadWriteMany", "ReadOnlyMany"}:
                continue
            kind = resource_type.rsplit(":", 1)[-1]
            name = str(get(props, "metadata", "name", default=""))
            why = _why_several_nodes(resource_type, props, hpa_max.get((namespace, kind, name)))
            if why is None:
                continue
            if modes == ["ReadWriteOncePod"] and "RollingUpdate" in why:
                continue
            report(
                f"{workload} mounts PersistentVolumeClaim {namespace}/{claim} ({', '.join(modes)}), but {why}: "
                "the volume attaches to one node only, so a pod on another node fails with a Multi-Attach error "
                "(or, for ReadWriteOncePod, is never scheduled). Give each pod its own claim (StatefulSet "
                "volumeClaimTemplates or an ephemeral volume), run one pod with strategy Recreate, or use a "
                "ReadWriteMany storage class.",
                resource.urn,
            )
    for (namespace, claim), workloads in users.items():
        urn, modes = claims[(namespace, claim)]
        if len(workloads) > 1 and modes and not set(modes) & {"ReadWriteMany", "ReadOnlyMany"}:
            report(
                f"PersistentVolumeClaim {namespace}/{claim} ({', '.join(modes)}) is mounted by "
                f"{', '.join(workloads)}, whose pods can run on different nodes; the volume attaches to one node only.",
                urn,
            )


rwo_claims_single_node = StackValidationPolicy(
    name="kiva-day-one-rwo-claims-single-node",
    description=(
        "No ReadWriteOnce (or ReadWriteOncePod) PersistentVolumeClaim is mounted by pods that can run on "
        "different nodes at once (several replicas, an autoscaler, a surging rolling update, a DaemonSet or "
        "two workloads), because the volume attaches to one node and the other pods never start."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [rwo_claims_single_node]
