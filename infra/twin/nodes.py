"""Fake Nodes shaped like the stack's pools, at their maximum size, registered through the API.

The pools come from the day-one node model (`kiva_policies.day_one.nodes`): AKS pools from the plan's
`ManagedCluster`/`AgentPool` (labels and taints as AKS sets them, the spot taint included, allocatable
CPU/memory/pods from the VM size table) or the pools an existing cluster declares.

GPUs: every GPU node advertises its hardware's `nvidia.com/gpu` from the start, so the scheduler judges
GPU requests against real counts. On a real cluster only a running NVIDIA device plugin advertises them,
so the twin checks that separately: `settle.daemonset_coverage` requires a bound device-plugin pod on
every GPU node and reports each node without one (a pod that "fits" such a node would stay Pending there).
With the GPU operator the nodes also carry the labels its NFD worker and operator would set
(`feature.node.kubernetes.io/pci-10de.present`, `nvidia.com/gpu.present`,
`nvidia.com/gpu.deploy.device-plugin`; gpu-operator v25.10.0 `controllers/state_manager.go`), and the
NFD worker DaemonSet must cover the node too, since without it those labels never appear.

Nodes have no kubelet: the TaintNodesByCondition admission plugin's `node.kubernetes.io/not-ready`
taint is replaced by the pool's taints, and the status says Ready (as the tools' `fake-node` does).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from kiva_policies.day_one.nodes import HOST_KEY, ZONE_KEY, NodePool

from infra.twin.api import Api, TwinError

GPU = "nvidia.com/gpu"
POOL_LABEL = "kiva.twin/pool"
PCI_NVIDIA = "feature.node.kubernetes.io/pci-10de.present"
OPERATOR_LABELS = {
    PCI_NVIDIA: "true",
    "nvidia.com/gpu.present": "true",
    "nvidia.com/gpu.deploy.device-plugin": "true",
}
MERGE = "application/merge-patch+json"


@dataclass
class TwinNode:
    name: str
    pool: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    capacity: dict[str, str]
    gpus: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    declared: bool = False
    """The node stands for an existing cluster's declared pool (`cluster.nodePools`), not one the stack creates."""


def node_name(pool: NodePool, index: int) -> str:
    if pool.source == "aks":
        return f"aks-{pool.name}-{zlib.crc32(pool.name.encode()) % 10**8:08d}-vmss{index:06d}"
    return f"{pool.name}-{index}"


def twin_nodes(pools: list[NodePool], gpu_operator: bool) -> list[TwinNode]:
    nodes = []
    for pool in pools:
        zones = pool.zones or []
        for index in range(pool.max_nodes):
            name = node_name(pool, index)
            labels = dict(pool.labels)
            labels[HOST_KEY] = name
            labels.setdefault("kubernetes.io/os", "linux")
            labels.setdefault("kubernetes.io/arch", "amd64")
            labels[POOL_LABEL] = pool.name
            if zones:
                labels[ZONE_KEY] = zones[index % len(zones)]
            if pool.gpus and gpu_operator:
                labels.update(OPERATOR_LABELS)
            capacity = {
                "cpu": f"{pool.cpu}m",
                "memory": str(pool.memory),
                "pods": str(pool.pods),
                "ephemeral-storage": "100Gi",
                "hugepages-1Gi": "0",
                "hugepages-2Mi": "0",
            }
            if pool.gpus:
                capacity[GPU] = str(pool.gpus)
            taints = [
                {"key": t.key, "effect": t.effect, **({"value": t.value} if t.value else {})}
                for t in pool.taints
            ]
            nodes.append(
                TwinNode(name, pool.name, labels, taints, capacity, pool.gpus, declared=pool.source != "aks")
            )
    return nodes


def register(api: Api, node: TwinNode) -> None:
    """Create the Node, set its taints (dropping the not-ready taint admission adds) and a Ready status."""
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": node.labels,
            "annotations": {"kiva.twin/fake-node": "true"},
        },
        "spec": {"taints": node.taints},
    }
    path = f"/api/v1/nodes/{node.name}"
    reply = api.request("POST", "/api/v1/nodes", body)
    if reply.status == 409:
        raise TwinError(f"kiva twin: node {node.name} already exists in this cluster; use a fresh cluster")
    _check(reply, f"create node {node.name}")
    _check(
        api.request("PATCH", path, {"spec": {"taints": node.taints or None}}, content_type=MERGE),
        f"set taints of node {node.name}",
    )
    crc = zlib.crc32(node.name.encode())
    status = {
        "capacity": node.capacity,
        "allocatable": node.capacity,
        "conditions": [
            {"type": kind, "status": value, "reason": reason, "message": "kiva twin fake node (no kubelet)"}
            for kind, value, reason in (
                ("Ready", "True", "KubeletReady"),
                ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID"),
            )
        ],
        "addresses": [
            {
                "type": "InternalIP",
                "address": f"10.{200 + (crc >> 24) % 50}.{(crc >> 8) & 255}.{1 + crc % 254}",
            },
            {"type": "Hostname", "address": node.name},
        ],
        "nodeInfo": {
            "machineID": f"{crc:032x}",
            "systemUUID": f"{crc:032x}",
            "bootID": f"{crc:032x}",
            "kernelVersion": "0.0.0-twin",
            "osImage": "kiva twin fake node",
            "containerRuntimeVersion": "fake://0",
            "kubeletVersion": "v0.0.0-twin",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": node.labels.get("kubernetes.io/arch", "amd64"),
        },
    }
    _check(
        api.request("PATCH", f"{path}/status", {"status": status}, content_type=MERGE),
        f"set status of node {node.name}",
    )


def _check(reply: Any, what: str) -> None:
    if not reply.ok:
        raise TwinError(f"kiva twin: {what}: HTTP {reply.status}: {reply.message}")
