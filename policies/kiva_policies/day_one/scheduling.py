"""Day one, scheduling: would every pod of the plan find a node?

A pod lands on a node only if kube-scheduler's filters all pass (Kubernetes docs "Taints and
Tolerations", "Assigning Pods to Nodes", "Resource Management for Pods and Containers"):
- every `NoSchedule`/`NoExecute` taint of the node is tolerated (a toleration with an empty effect matches
  every effect; `Exists` with an empty key tolerates every taint; `Equal` is the default operator);
- `nodeSelector` and every term-set of required node affinity (`In NotIn Exists DoesNotExist Gt Lt`, terms
  ORed, expressions ANDed) match the node's labels;
- the pod's requests fit what the node has left (`nvidia.com/gpu` only where a device plugin runs);
- required pod anti-affinity against its own pods leaves a free topology domain (zone or host).

A DaemonSet puts one pod on every node of each pool it admits (its requests are taken off those nodes and
listed under the pool); one whose node selection picks a pool whose taints it does not tolerate runs nothing
there, which is reported (Kubernetes docs "DaemonSet": "How Daemon Pods are scheduled").

The pools come from `nodes.py`, the pods from `pods.py` (charts via `charts.py`). Pods are packed
first-fit, largest GPU/CPU/memory request first, onto every pool at its maximum node count, with daemon
pods taken off each node they admit first. First-fit can miss a packing that exists, so a finding
names the pool and what already holds it; the figures are lower bounds (AKS's own DaemonSets are not
counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import MANDATORY, as_list, get
from kiva_policies.day_one import controllers, storage
from kiva_policies.day_one.gpu_sharing import apply_time_slicing
from kiva_policies.day_one.nodes import HOST_KEY, ZONE_KEY, NodePool, Taint, node_pools
from kiva_policies.day_one.pods import GPU, PodGroup, pod_groups
from kiva_policies.day_one.quantities import cpu_text, memory_text

PCI_NVIDIA = "feature.node.kubernetes.io/pci-10de.present"
GPU_PRESENT = "nvidia.com/gpu.present"
OPERATOR_DEVICE_PLUGIN = "nvidia.com/gpu.deploy.device-plugin"
OS_KEY = "kubernetes.io/os"


# --- Kubernetes filters ----------------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """`Toleration.ToleratesTaint` of k8s.io/api/core/v1."""
    effect = get(toleration, "effect", default="") or ""
    if effect and effect != taint.effect:
        return False
    key = get(toleration, "key", default="") or ""
    operator = get(toleration, "operator", default="") or "Equal"
    if operator == "Exists":
        return not key or key == taint.key
    return key == taint.key and str(get(toleration, "value", default="") or "") == taint.value


def untolerated(pool: NodePool, group: PodGroup) -> list[Taint]:
    return [
        taint
        for taint in pool.taints
        if taint.effect in ("NoSchedule", "NoExecute")
        and not any(tolerates(t, taint) for t in group.tolerations)
    ]


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = str(get(expression, "key", default=""))
    operator = get(expression, "operator")
    values = [str(v) for v in as_list(get(expression, "values"))]
    present = key in labels
    value = labels.get(key)
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            left, right = int(str(value)), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False


def _node_variants(pool: NodePool) -> list[dict[str, str]]:
    """The label sets of the pool's nodes: one per zone (hostnames differ per node but always exist)."""
    base = dict(pool.labels)
    base.setdefault(HOST_KEY, f"{pool.name}-node")
    if not pool.zones:
        return [base]
    return [{**base, ZONE_KEY: zone} for zone in pool.zones]


def _selects_node(group: PodGroup, labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in group.node_selector.items()):
        return False
    if group.node_terms is None:
        return True
    return any(all(_expression_holds(e, labels) for e in term) for term in group.node_terms)


def admitting_zones(pool: NodePool, group: PodGroup) -> list[str]:
    """Zones of the pool whose nodes the group's node selection accepts (`[""]` for a zoneless pool)."""
    return [labels.get(ZONE_KEY, "") for labels in _node_variants(pool) if _selects_node(group, labels)]


def refusal(pool: NodePool, group: PodGroup) -> str | None:
    """Why the pool's nodes refuse the group's pods (taints, labels), or None when they admit them."""
    taints = untolerated(pool, group)
    if taints:
        return f"taint {', '.join(map(str, taints))} not tolerated"
    if not admitting_zones(pool, group):
        wanted = [f"{k}={v}" for k, v in group.node_selector.items()]
        if group.node_terms is not None:
            wanted.append("required node affinity")
        return f"labels do not match {' and '.join(wanted) or 'the node selection'}"
    return None


# --- the model -------------------------------------------------------------------------------------


@dataclass
class Node:
    pool: NodePool
    zone: str
    cpu: int
    memory: int
    gpus: int
    pods: int
    holds: dict[str, int] = field(default_factory=dict)  # group name → pods


@dataclass
class Finding:
    urn: str
    message: str
    check: str  # "placement" | "gpu-coverage"


@dataclass
class Analysis:
    pools: list[NodePool] | None
    groups: list[PodGroup]
    nodes: list[Node]
    findings: list[Finding]
    unplaced: dict[str, int]
    daemons: dict[str, list[str]]  # pool → daemon groups running there


def _derive_gpu_labels(pools: list[NodePool], groups: list[PodGroup]) -> None:
    """NFD labels GPU nodes it runs on; the GPU operator then labels them for its operands (or unlabels them).

    gpu-operator v25.10.0 `controllers/state_manager.go`: a node with an NVIDIA PCI label from NFD gets
    `nvidia.com/gpu.present=true` and the `nvidia.com/gpu.deploy.*` labels; a node that says
    `nvidia.com/gpu.present=true` without that NFD label is relabelled `false`.
    """
    operator = any(g.advertises_gpus and OPERATOR_DEVICE_PLUGIN in g.node_selector for g in groups)
    for pool in pools:
        if pool.source != "aks" or not pool.gpus:
            continue
        if any(g.discovers_gpus and refusal(pool, g) is None for g in groups):
            pool.labels[PCI_NVIDIA] = "true"
        if operator:
            if pool.labels.get(PCI_NVIDIA) == "true":
                pool.labels[GPU_PRESENT] = "true"
                pool.labels[OPERATOR_DEVICE_PLUGIN] = "true"
            elif pool.labels.get(GPU_PRESENT) == "true":
                pool.labels[GPU_PRESENT] = "false"


def _gpu_coverage(pools: list[NodePool], groups: list[PodGroup], findings: list[Finding]) -> None:
    plugins = [g for g in groups if g.advertises_gpus]
    operator = any(OPERATOR_DEVICE_PLUGIN in g.node_selector for g in plugins)
    for pool in pools:
        if pool.source != "aks" or not pool.gpus:
            continue
        running = [g for g in plugins if refusal(pool, g) is None]
        driver = pool.driver_by_aks or operator
        pool.gpus_advertised = bool(running) and driver
        if pool.gpus_advertised:
            continue
        if not driver:
            why = "AKS installs no NVIDIA driver there (gpuProfile.driver None) and no GPU operator is installed"
        elif not plugins:
            why = "the plan installs no NVIDIA device plugin (nvidia-device-plugin or gpu-operator release)"
        else:
            why = "; ".join(f"{g.name}: {refusal(pool, g)}" for g in plugins)
        urn = plugins[0].urn if plugins else pool.urn
        findings.append(
            Finding(
                urn,
                f"GPU node pool {pool.describe()}: no NVIDIA device plugin runs on its nodes, so none advertises "
                f"{GPU} and every GPU pod stays Pending ({why}). Let the device plugin's DaemonSet tolerate "
                f"the pool's taints ({', '.join(map(str, pool.taints)) or 'none'}) and select its labels.",
                "gpu-coverage",
            )
        )


def _fits(node_cpu: int, node_memory: int, node_gpus: int, group: PodGroup) -> bool:
    return group.cpu <= node_cpu and group.memory <= node_memory and group.gpus <= node_gpus


def _demand(group: PodGroup) -> str:
    parts = [f"cpu {cpu_text(group.cpu)}", f"memory {memory_text(group.memory)}"]
    if group.gpus:
        parts.append(f"{GPU} {group.gpus}")
    return ", ".join(parts)


def _offer(pool: NodePool) -> str:
    parts = [
        f"cpu {cpu_text(pool.cpu)}",
        f"memory {memory_text(pool.memory)}",
        f"{GPU} {pool.allocatable_gpus}",
    ]
    return ", ".join(parts)


def analyse(resources: list[Any]) -> Analysis:
    pools = node_pools(resources)
    groups = pod_groups(resources)
    findings: list[Finding] = []
    if pools is None:
        return Analysis(None, groups, [], findings, {}, {})
    apply_time_slicing(pools, resources)
    _derive_gpu_labels(pools, groups)
    _gpu_coverage(pools, groups, findings)

    nodes_of: dict[str, list[Node]] = {}
    for pool in pools:
        nodes_of[pool.name] = [
            Node(
                pool,
                pool.zones[i % len(pool.zones)] if pool.zones else "",
                pool.cpu,
                pool.memory,
                pool.allocatable_gpus,
                pool.pods,
            )
            for i in range(pool.max_nodes)
        ]
    daemons: dict[str, list[str]] = {pool.name: [] for pool in pools}
    unplaced: dict[str, int] = {}
    for group in (g for g in groups if g.daemon):
        for pool in pools:
            if refusal(pool, group) is not None:
                _untolerated_daemon(pool, group, findings, unplaced)
                continue
            daemons[pool.name].append(group.short)
            if not _fits(pool.cpu, pool.memory, pool.allocatable_gpus, group):
                findings.append(
                    Finding(
                        group.urn,
                        f"{group.name}: its pods ({_demand(group)}) do not fit on a node of pool {pool.describe()}, "
                        f"which offers {_offer(pool)}.",
                        "placement",
                    )
                )
                continue
            for node in nodes_of[pool.name]:
                node.cpu -= group.cpu
                node.memory -= group.memory
                node.gpus -= group.gpus
                node.pods -= 1
                node.holds[group.name] = node.holds.get(group.name, 0) + 1

    baseline = {
        pool.name: (nodes[0].cpu, nodes[0].memory, nodes[0].gpus) if nodes else (0, 0, 0)
        for pool in pools
        for nodes in [nodes_of[pool.name]]
    }
    ordered = sorted(
        (g for g in groups if not g.daemon), key=lambda g: (g.transient, -g.gpus, -g.cpu, -g.memory, g.name)
    )
    for group in ordered:
        refusals = {pool.name: refusal(pool, group) for pool in pools}
        admitting = [pool for pool in pools if refusals[pool.name] is None]
        if not admitting:
            reasons = "; ".join(
                f"{pool.describe()}: {why}" for pool in pools for why in [refusals[pool.name]]
            )
            findings.append(
                Finding(group.urn, f"{group.name}: no node pool admits its pods ({reasons}).", "placement")
            )
            unplaced[group.short] = unplaced.get(group.short, 0) + group.replicas
            continue
        fitting = [p for p in admitting if _fits(*baseline[p.name], group)]
        if not fitting:
            offers = "; ".join(
                f"{p.describe()} offers {_offer(p)} per node"
                + (
                    ""
                    if p.gpus_advertised or not group.gpus
                    else f" (no device plugin advertises {GPU} there)"
                )
                for p in admitting
            )
            findings.append(
                Finding(
                    group.urn,
                    f"{group.name}: its pods request {_demand(group)}, more than one node of any pool that admits "
                    f"them has ({offers}).",
                    "placement",
                )
            )
            unplaced[group.short] = unplaced.get(group.short, 0) + group.replicas
            continue
        if group.transient:
            continue
        if ZONE_KEY in group.spread_keys:
            zones = sorted({z for p in fitting for z in admitting_zones(p, group) if z})
            if zones and group.replicas > len(zones):
                findings.append(
                    Finding(
                        group.urn,
                        f"{group.name}: {group.replicas} pods with required anti-affinity on {ZONE_KEY} need "
                        f"{group.replicas} zones, but the pools that admit them span {len(zones)} "
                        f"({', '.join(zones)}); {group.replicas - len(zones)} would stay Pending. Add zones or "
                        "make the anti-affinity preferred.",
                        "placement",
                    )
                )
        missing = _place(group, fitting, nodes_of)
        if missing:
            unplaced[group.short] = unplaced.get(group.short, 0) + missing
            if ZONE_KEY in group.spread_keys and any(
                f.urn == group.urn and ZONE_KEY in f.message for f in findings
            ):
                continue
            findings.append(
                Finding(group.urn, _capacity_message(group, missing, fitting, nodes_of), "placement")
            )
    nodes = [node for pool in pools for node in nodes_of[pool.name]]
    return Analysis(pools, groups, nodes, findings, unplaced, daemons)


def _untolerated_daemon(
    pool: NodePool, group: PodGroup, findings: list[Finding], unplaced: dict[str, int]
) -> None:
    """A DaemonSet whose node selection picks the pool's nodes but which does not tolerate their taints.

    The DaemonSet controller then creates no pod there (it simulates the scheduler's taint filter), so what the
    release meant to run on every node of the pool, e.g. the DCGM exporter on the GPU pools, runs on none.
    Only a DaemonSet that selects nodes (required node affinity, or a node selector beyond the OS label) is
    held to it: one that selects every node (node-feature-discovery's worker) is kept off tainted pools by
    design. Device plugins are left to `gpu-coverage`, which names what that costs.
    """
    selects = group.node_terms is not None or any(key != OS_KEY for key in group.node_selector)
    if group.advertises_gpus or not selects or not admitting_zones(pool, group) or not pool.max_nodes:
        return
    taints = ", ".join(map(str, untolerated(pool, group)))
    findings.append(
        Finding(
            group.urn,
            f"{group.name}: its node selection picks the nodes of pool {pool.describe()}, but it does not "
            f"tolerate their taint {taints}, so none of its pods runs there. Add a toleration for the taint "
            "to the release's values, or leave the pool out of its node selection.",
            "placement",
        )
    )
    unplaced[group.short] = unplaced.get(group.short, 0) + pool.max_nodes


def _place(group: PodGroup, pools: list[NodePool], nodes_of: Mapping[str, list[Node]]) -> int:
    """Place the group's pods first-fit; the number that found no node."""
    per_host = HOST_KEY in group.spread_keys
    per_zone = ZONE_KEY in group.spread_keys
    used_zones: set[str] = set()
    missing = 0
    for _ in range(group.replicas):
        target = None
        for pool in pools:
            zones = set(admitting_zones(pool, group))
            for node in nodes_of[pool.name]:
                if node.zone not in zones and not (not pool.zones and "" in zones):
                    continue
                if per_host and node.holds.get(group.name):
                    continue
                if per_zone and node.zone and node.zone in used_zones:
                    continue
                if node.pods >= 1 and _fits(node.cpu, node.memory, node.gpus, group):
                    target = node
                    break
            if target:
                break
        if target is None:
            missing += 1
            continue
        target.cpu -= group.cpu
        target.memory -= group.memory
        target.gpus -= group.gpus
        target.pods -= 1
        target.holds[group.name] = target.holds.get(group.name, 0) + 1
        used_zones.add(target.zone)
    return missing


def _capacity_message(
    group: PodGroup, missing: int, pools: list[NodePool], nodes_of: Mapping[str, list[Node]]
) -> str:
    parts = []
    for pool in pools:
        nodes = nodes_of[pool.name]
        holders: dict[str, int] = {}
        for node in nodes:
            for name, count in node.holds.items():
                holders[name] = holders.get(name, 0) + count
        held = ", ".join(f"{name} ×{count}" for name, count in holders.items()) or "nothing else"
        total = f"{pool.max_nodes} node(s) × ({_offer(pool)})"
        parts.append(f"pool {pool.describe()} has at most {total} and holds {held}")
    spread = (
        f" with required anti-affinity on {', '.join(sorted(group.spread_keys))}" if group.spread_keys else ""
    )
    return (
        f"{group.name}: {missing} of its {group.replicas} pods ({_demand(group)} each{spread}) find no node with room: "
        f"{'; '.join(parts)}. Add nodes (maxCount), a larger VM size or fewer replicas."
    )


# --- policies --------------------------------------------------------------------------------------


def _reporter(check: str):
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        analysis = analyse(list(args.resources))
        for finding in analysis.findings:
            if finding.check == check:
                report(finding.message, finding.urn)

    return validate


pods_placed = StackValidationPolicy(
    name="kiva-day-one-pods-placed",
    description=(
        "Every pod the plan runs (its own workloads, the database and pooler instances and the pods of the "
        "operator charts, with the chart defaults merged with the values passed) has a node pool whose taints "
        "it tolerates, whose labels match its node selector and required affinity, and whose nodes, at the "
        "pool's maximum size, have room for its requests, its GPUs summed with every other GPU workload and its "
        "required anti-affinity across zones and hosts."
    ),
    validate=_reporter("placement"),
    enforcement_level=MANDATORY,
)

gpu_nodes_covered = StackValidationPolicy(
    name="kiva-day-one-gpu-nodes-covered",
    description=(
        "Every GPU node pool runs an NVIDIA device plugin (the nvidia-device-plugin chart or the GPU operator's "
        "operand, with the node feature discovery it relies on), because a node without one never advertises "
        "nvidia.com/gpu and every GPU pod stays Pending."
    ),
    validate=_reporter("gpu-coverage"),
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [pods_placed, gpu_nodes_covered, *storage.POLICIES, *controllers.POLICIES]


def summary(resources: list[Any]) -> list[str]:
    """Nodes and pods per pool, GPUs in use, and the pods that would stay Pending."""
    try:
        analysis = analyse(list(resources))
    except Exception as error:  # the summary must never stop `kiva plan`; the policies report the cause
        return [f"scheduling: not evaluated ({type(error).__name__})"]
    if analysis.pools is None:
        return ["scheduling: no node pools in the plan (existing cluster without kiva.platform/node-pools)"]
    lines = []
    for pool in analysis.pools:
        counts: dict[str, int] = {}
        for node in analysis.nodes:
            if node.pool is pool:
                for name, count in node.holds.items():
                    short = next((g.short for g in analysis.groups if g.name == name), name)
                    counts[short] = counts.get(short, 0) + count
        placed = ", ".join(f"{name} ×{count}" for name, count in counts.items()) or "none"
        size = f" ({pool.vm_size})" if pool.vm_size else ""
        line = f"pool {pool.name}: up to {pool.max_nodes} node(s){size}, pods placed: {placed}"
        if pool.gpus:
            used = sum(
                count * g.gpus
                for node in analysis.nodes
                if node.pool is pool
                for name, count in node.holds.items()
                for g in analysis.groups
                if g.name == name
            )
            total = pool.max_nodes * pool.allocatable_gpus
            line += f"; GPUs {used}/{total}" + (
                "" if pool.gpus_advertised else " (no device plugin: none advertised)"
            )
        lines.append(line)
    if analysis.unplaced:
        lines.append(
            "unplaced pods: " + ", ".join(f"{name} ×{count}" for name, count in analysis.unplaced.items())
        )
    return lines
