"""The node pools a plan gives its pods: AKS pools from the plan, or those an existing cluster declares.

AKS (the `ManagedCluster`'s `agentPoolProfiles` and every `containerservice:AgentPool`): labels and
taints as AKS sets them, from the AKS docs:
- every node: `kubernetes.azure.com/agentpool` and `agentpool` = pool name, `kubernetes.azure.com/mode`
  = system|user, `node.kubernetes.io/instance-type` = VM size, `kubernetes.io/os` (kubelet), and
  `topology.kubernetes.io/zone` = `<location>-<zone>` on zonal pools ("Use availability zones in AKS";
  non-zonal nodes carry a fault-domain number, modelled here as the single zone `0`);
- spot pools (`scaleSetPriority: Spot`): label and taint `kubernetes.azure.com/scalesetpriority=spot`
  (NoSchedule) ("Add an Azure Spot node pool to an AKS cluster"; Azure/AKS#3153);
- max pods per node: the pool's `maxPods`, else 250 with Azure CNI Overlay, 30 with Azure CNI on the node
  subnet, 110 with kubenet ("Configure Azure CNI Overlay networking"; "Azure CNI" docs).
Existing clusters: the platform namespace carries `kiva.platform/node-pools`, a JSON list of
`{"name","nodes","cpu","memory","pods","gpus","labels","taints","zones"}` (the stack's `nodePools`
setting); the declaration is taken as the truth, GPUs included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiva_policies.base import NAMESPACE, as_list, get, is_number
from kiva_policies.day_one import quantities, vm_sizes
from kiva_policies.day_one.resources import props_of, type_of

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
NODE_POOLS_ANNOTATION = "kiva.platform/node-pools"
PREREQUISITES_ANNOTATION = "kiva.platform/prerequisites"
ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
SPOT_KEY = "kubernetes.azure.com/scalesetpriority"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass
class NodePool:
    """A group of identical nodes, at the most nodes it can have."""

    name: str
    urn: str
    source: str  # "aks" | "declared"
    vm_size: str | None
    max_nodes: int
    cpu: int  # allocatable millicores per node
    memory: int  # allocatable bytes per node
    pods: int
    gpus: (
        int  # GPUs in each node's hardware (advertised only where a device plugin runs, see gpus_advertised)
    )
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Taint] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    gpus_advertised: bool = True
    driver_by_aks: bool = True
    """AKS installs the NVIDIA driver (`gpuProfile.driver` is not `None`)."""

    @property
    def allocatable_gpus(self) -> int:
        return self.gpus if self.gpus_advertised else 0

    def describe(self) -> str:
        return f"{self.name} ({self.vm_size})" if self.vm_size else self.name


def parse_taint(text: str) -> Taint:
    """`key=value:Effect` or `key:Effect` (the AKS `nodeTaints` syntax)."""
    head, _, effect = str(text).rpartition(":")
    key, _, value = head.partition("=")
    return Taint(key, value, effect or "NoSchedule")


def _max_pods(profile: Mapping[str, Any], network: Mapping[str, Any]) -> int:
    explicit = get(profile, "maxPods")
    if is_number(explicit):
        return int(explicit)
    plugin = get(network, "networkPlugin", default="kubenet")
    if plugin == "azure":
        return 250 if get(network, "networkPluginMode") == "overlay" else 30
    if plugin == "none":
        return 250
    return 110


def _aks_pool(
    profile: Mapping[str, Any], name: str, urn: str, location: str, network: Mapping[str, Any]
) -> NodePool:
    vm_size = str(get(profile, "vmSize", default="") or "")
    autoscale = bool(get(profile, "enableAutoScaling", default=False))
    count = get(profile, "maxCount") if autoscale else get(profile, "count")
    max_nodes = int(count) if is_number(count) else 1
    size = vm_sizes.lookup(vm_size)
    max_pods = _max_pods(profile, network)
    cpu, memory = vm_sizes.allocatable(size, max_pods) if size else (0, 0)
    labels = {str(k): str(v) for k, v in (get(profile, "nodeLabels", default={}) or {}).items()}
    mode = str(get(profile, "mode", default="User") or "User").lower()
    labels.update(
        {
            "kubernetes.azure.com/agentpool": name,
            "agentpool": name,
            "kubernetes.azure.com/mode": mode,
            "node.kubernetes.io/instance-type": vm_size,
            "kubernetes.io/os": "windows" if get(profile, "osType") == "Windows" else "linux",
            "kubernetes.io/arch": "amd64",
        }
    )
    taints = [parse_taint(t) for t in as_list(get(profile, "nodeTaints"))]
    if get(profile, "scaleSetPriority") == "Spot":
        labels[SPOT_KEY] = "spot"
        if not any(t.key == SPOT_KEY for t in taints):
            taints.append(Taint(SPOT_KEY, "spot", "NoSchedule"))
    zones = [f"{location}-{z}" for z in as_list(get(profile, "availabilityZones"))] or ["0"]
    return NodePool(
        name=name,
        urn=urn,
        source="aks",
        vm_size=vm_size or None,
        max_nodes=max_nodes,
        cpu=cpu,
        memory=memory,
        pods=max_pods,
        gpus=size.gpus if size else 0,
        labels=labels,
        taints=taints,
        zones=zones,
        gpus_advertised=not (size and size.gpus),
        driver_by_aks=get(profile, "gpuProfile", "driver", default="Install") != "None",
    )


def annotated_namespace(resources: list[Any], key: str) -> tuple[Any, str]:
    """The JSON value of a platform-namespace annotation (None if absent or malformed) and that namespace's URN."""
    for resource in resources:
        if type_of(resource) != NAMESPACE:
            continue
        value = get(props_of(resource), "metadata", "annotations", key)
        if isinstance(value, str):
            try:
                return json.loads(value), resource.urn
            except json.JSONDecodeError:
                return None, resource.urn
    return None, ""


def platform_annotation(resources: list[Any], key: str) -> Any:
    return annotated_namespace(resources, key)[0]


def _declared_pool(entry: Mapping[str, Any], urn: str) -> NodePool:
    labels = {str(k): str(v) for k, v in (get(entry, "labels", default={}) or {}).items()}
    labels.setdefault("kubernetes.io/os", "linux")
    taints = [
        Taint(
            str(get(t, "key", default="")),
            str(get(t, "value", default="") or ""),
            str(get(t, "effect", default="NoSchedule")),
        )
        for t in as_list(get(entry, "taints"))
        if isinstance(t, Mapping)
    ]
    nodes = get(entry, "nodes", default=1)
    pods = get(entry, "pods", default=110)
    gpus = get(entry, "gpus", default=0)
    return NodePool(
        name=str(get(entry, "name", default="pool")),
        urn=urn,
        source="declared",
        vm_size=None,
        max_nodes=int(nodes) if is_number(nodes) else 1,
        cpu=quantities.millicores(get(entry, "cpu")),
        memory=round(quantities.parse(get(entry, "memory"))),
        pods=int(pods) if is_number(pods) else 110,
        gpus=int(gpus) if is_number(gpus) else 0,
        labels=labels,
        taints=taints,
        zones=[str(z) for z in as_list(get(entry, "zones"))],
    )


def node_pools(resources: list[Any]) -> list[NodePool] | None:
    """Every node pool the plan's pods may land on, or None when the plan does not say (nothing to check).

    An AKS cluster whose `agentPoolProfiles` are absent is not a cluster ARM would create, so it says
    nothing either.
    """
    pools: list[NodePool] = []
    clusters = [r for r in resources if type_of(r) == MANAGED_CLUSTER]
    location: str = ""
    network: Mapping[str, Any] = {}
    for cluster in clusters:
        props = props_of(cluster)
        location = str(get(props, "location", default="") or "")
        network = get(props, "networkProfile", default={}) or {}
        for profile in as_list(get(props, "agentPoolProfiles")):
            if isinstance(profile, Mapping):
                name = str(get(profile, "name", default="system"))
                pools.append(_aks_pool(profile, name, cluster.urn, location, network))
    if pools:
        for resource in resources:
            if type_of(resource) == AGENT_POOL:
                props = props_of(resource)
                name = str(get(props, "agentPoolName", default=None) or resource.name)
                pools.append(_aks_pool(props, name, resource.urn, location, network))
        return pools
    declared, urn = annotated_namespace(resources, NODE_POOLS_ANNOTATION)
    if isinstance(declared, list) and declared:
        return [_declared_pool(entry, urn) for entry in declared if isinstance(entry, Mapping)]
    return None


@dataclass(frozen=True)
class Prerequisites:
    """What an existing cluster declares it already has (namespace annotation `kiva.platform/prerequisites`)."""

    crds: frozenset[str] = frozenset()
    ingress_classes: frozenset[str] = frozenset()
    cluster_issuers: frozenset[str] = frozenset()
    urn: str = ""


def prerequisites(resources: list[Any]) -> Prerequisites:
    declared, urn = annotated_namespace(resources, PREREQUISITES_ANNOTATION)
    if not isinstance(declared, Mapping):
        return Prerequisites()

    def names(key: str) -> frozenset[str]:
        return frozenset(str(v) for v in as_list(declared.get(key)))

    return Prerequisites(names("crds"), names("ingressClasses"), names("clusterIssuers"), urn)
