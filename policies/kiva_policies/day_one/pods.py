"""The pods a plan would run, grouped by what creates them, with what they ask of a node.

Sources: every pod template of the plan (`base.POD_SPEC_PATHS`; replicas from `spec.replicas`, or the
`maxReplicas` of the HPA that targets it; DaemonSets one per admitting node), CloudNativePG `Cluster`
(instance pods with `spec.resources` and `spec.affinity`: `nodeSelector`, `tolerations`, `nodeAffinity`,
`enablePodAntiAffinity` (default on), `podAntiAffinityType` (default `preferred`), `topologyKey`
(default `kubernetes.io/hostname`), `additionalPodAntiAffinity` — CloudNativePG 1.30 API reference; plus its
initdb Job pod, placed by the same affinity), `Pooler` (`spec.instances` PgBouncer pods from
`spec.template`), and the pods of every Helm release whose chart `charts.py` records.

A pod's request is what kube-scheduler counts: per resource, the larger of the sum over containers and
the largest init container; a container with limits but no requests requests its limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiva_policies.base import (
    CNPG_CLUSTER,
    HPA,
    POD_SPEC_PATHS,
    as_list,
    display_name,
    get,
    is_number,
    namespace_of,
    pod_spec,
    pod_template_labels,
    selector_matches,
)
from kiva_policies.day_one import charts, quantities
from kiva_policies.day_one.nodes import HOST_KEY
from kiva_policies.day_one.resources import props_of, type_of

CNPG_POOLER = "kubernetes:postgresql.cnpg.io/v1:Pooler"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
GPU = "nvidia.com/gpu"


@dataclass
class PodGroup:
    """Identical pods from one source."""

    urn: str
    name: str  # "Deployment kiva/kiva-gateway", "cert-manager release: cert-manager-webhook"
    short: str  # for the summary: "kiva-gateway"
    replicas: int
    cpu: int = 0  # millicores per pod
    memory: int = 0  # bytes per pod
    gpus: int = 0
    tolerations: list[Mapping[str, Any]] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)
    node_terms: list[list[Mapping[str, Any]]] | None = None
    """Required node affinity: OR of terms, each an AND of matchExpressions (None: no requirement)."""
    spread_keys: set[str] = field(default_factory=set)
    """Topology keys of required anti-affinity against its own pods."""
    daemon: bool = False
    transient: bool = False
    advertises_gpus: bool = False
    discovers_gpus: bool = False


def _requests(
    spec: Mapping[str, Any] | None, resources: Mapping[str, Any] | None = None
) -> tuple[int, int, int]:
    def of(container_resources: Any) -> tuple[int, int, int]:
        requests = get(container_resources, "requests", default={}) or {}
        limits = get(container_resources, "limits", default={}) or {}

        def pick(name: str) -> Any:
            value = get(requests, name)
            return value if value is not None else get(limits, name)

        return (
            quantities.millicores(pick("cpu")),
            round(quantities.parse(pick("memory"))),
            round(quantities.parse(pick(GPU))),
        )

    if resources is not None:
        return of(resources)
    total = [0, 0, 0]
    init_max = [0, 0, 0]
    for container in as_list(get(spec, "containers")):
        for i, v in enumerate(of(get(container, "resources"))):
            total[i] += v
    for container in as_list(get(spec, "initContainers")):
        values = of(get(container, "resources"))
        if get(container, "restartPolicy") == "Always":  # a sidecar runs alongside the containers
            for i, v in enumerate(values):
                total[i] += v
        else:
            init_max = [max(a, b) for a, b in zip(init_max, values, strict=True)]
    cpu, memory, gpus = (max(a, b) for a, b in zip(total, init_max, strict=True))
    return cpu, memory, gpus


def _node_terms(affinity: Any) -> list[list[Mapping[str, Any]]] | None:
    required = get(affinity, "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    terms = []
    for term in as_list(get(required, "nodeSelectorTerms")):
        terms.append([e for e in as_list(get(term, "matchExpressions")) if isinstance(e, Mapping)])
    return terms


def _spread_keys(affinity: Any, own_labels: Mapping[str, Any]) -> set[str]:
    keys = set()
    for term in as_list(get(affinity, "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")):
        if selector_matches(get(term, "labelSelector"), own_labels) and get(term, "topologyKey"):
            keys.add(str(get(term, "topologyKey")))
    return keys


def _from_spec(
    urn: str,
    name: str,
    short: str,
    spec: Mapping[str, Any],
    replicas: int,
    labels: Mapping[str, Any],
    **extra: Any,
) -> PodGroup:
    cpu, memory, gpus = _requests(spec)
    selector = get(spec, "nodeSelector", default={}) or {}
    return PodGroup(
        urn=urn,
        name=name,
        short=short,
        replicas=replicas,
        cpu=cpu,
        memory=memory,
        gpus=gpus,
        tolerations=[t for t in as_list(get(spec, "tolerations")) if isinstance(t, Mapping)],
        node_selector={str(k): str(selector[k]) for k in selector} if isinstance(selector, Mapping) else {},
        node_terms=_node_terms(get(spec, "affinity")),
        spread_keys=_spread_keys(get(spec, "affinity"), labels),
        **extra,
    )


def hpa_maximums(resources: list[Any]) -> dict[tuple[str, str, str], int]:
    """`maxReplicas` of every HorizontalPodAutoscaler by (namespace, target kind, target name)."""
    bounds = {}
    for resource in resources:
        if type_of(resource) != HPA:
            continue
        props = props_of(resource)
        target = get(props, "spec", "scaleTargetRef", default={}) or {}
        most = get(props, "spec", "maxReplicas")
        if is_number(most):
            bounds[
                (
                    namespace_of(props),
                    str(get(target, "kind", default="")),
                    str(get(target, "name", default="")),
                )
            ] = int(most)
    return bounds


def pod_groups(resources: list[Any]) -> list[PodGroup]:
    groups: list[PodGroup] = []
    hpa = hpa_maximums(resources)
    for resource in resources:
        kind_type = type_of(resource)
        props = props_of(resource)
        if kind_type in POD_SPEC_PATHS:
            spec = pod_spec(kind_type, props)
            if spec is None:
                continue
            kind = kind_type.rsplit(":", 1)[-1]
            name = str(get(props, "metadata", "name", default=resource.name))
            replicas_value = get(props, "spec", "replicas", default=1)
            replicas = int(replicas_value) if is_number(replicas_value) else 1
            replicas = hpa.get((namespace_of(props), kind, name), replicas)
            if kind in ("Job", "CronJob"):
                parallel = get(props, "spec", "parallelism") if kind == "Job" else None
                replicas = int(parallel) if parallel is not None and is_number(parallel) else 1
            groups.append(
                _from_spec(
                    resource.urn,
                    f"{kind} {display_name(props, resource.name)}",
                    name,
                    spec,
                    replicas,
                    pod_template_labels(kind_type, props),
                    daemon=kind == "DaemonSet",
                    transient=kind in ("Job", "CronJob"),
                )
            )
        elif kind_type == CNPG_CLUSTER:
            groups.extend(_cnpg_cluster(resource, props))
        elif kind_type == CNPG_POOLER:
            spec = get(props, "spec", "template", "spec", default={}) or {}
            instances = get(props, "spec", "instances", default=1)
            name = str(get(props, "metadata", "name", default=resource.name))
            labels = {"cnpg.io/poolerName": name}
            groups.append(
                _from_spec(
                    resource.urn,
                    f"Pooler {display_name(props, resource.name)}",
                    name,
                    spec,
                    int(instances) if is_number(instances) else 1,
                    labels,
                )
            )
        elif kind_type == HELM_RELEASE:
            groups.extend(release_pods(resource, props))
    return groups


def _cnpg_cluster(resource: Any, props: Mapping[str, Any]) -> list[PodGroup]:
    spec = get(props, "spec", default={}) or {}
    name = str(get(props, "metadata", "name", default=resource.name))
    affinity = get(spec, "affinity", default={}) or {}
    instances = get(spec, "instances", default=1)
    cpu, memory, gpus = _requests(None, get(spec, "resources", default={}) or {})
    selector = get(affinity, "nodeSelector", default={}) or {}
    base: dict[str, Any] = {
        "cpu": cpu,
        "memory": memory,
        "gpus": gpus,
        "tolerations": [t for t in as_list(get(affinity, "tolerations")) if isinstance(t, Mapping)],
        "node_selector": {str(k): str(selector[k]) for k in selector}
        if isinstance(selector, Mapping)
        else {},
        "node_terms": _node_terms(affinity),
    }
    spread: set[str] = set()
    if get(affinity, "enablePodAntiAffinity", default=True) is not False and (
        get(affinity, "podAntiAffinityType", default="preferred") == "required"
    ):
        spread.add(str(get(affinity, "topologyKey", default=None) or HOST_KEY))
    own_labels = {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}
    spread |= _spread_keys({"podAntiAffinity": get(affinity, "additionalPodAntiAffinity")}, own_labels)
    display = display_name(props, resource.name)
    return [
        PodGroup(
            resource.urn,
            f"CloudNativePG Cluster {display}",
            name,
            int(instances) if is_number(instances) else 1,
            spread_keys=spread,
            **base,
        ),
        PodGroup(
            resource.urn,
            f"CloudNativePG Cluster {display} (initdb Job)",
            f"{name}-initdb",
            1,
            transient=True,
            **base,
        ),
    ]


def release_pods(resource: Any, props: Mapping[str, Any]) -> list[PodGroup]:
    chart = charts.chart_of(get(props, "chart"), get(props, "version"))
    if chart is None:
        return []
    values = get(props, "values", default={}) or {}
    release = str(get(props, "name", default=None) or resource.name)
    groups = []
    for pod, fields in charts.render(chart, values if isinstance(values, Mapping) else {}).pods:
        cpu, memory, gpus = _requests(None, fields["resources"])
        selector = fields["nodeSelector"]
        daemon = pod.kind == "DaemonSet"
        groups.append(
            PodGroup(
                resource.urn,
                f"{pod.kind} {pod.name} of Helm release {release} ({chart.name} {chart.version})",
                pod.name,
                1 if daemon else fields["replicas"],
                cpu=cpu,
                memory=memory,
                gpus=gpus,
                tolerations=list(fields["tolerations"]),
                node_selector={str(k): str(v) for k, v in selector.items()},
                node_terms=_node_terms(fields["affinity"]),
                daemon=daemon,
                transient=pod.transient,
                advertises_gpus=pod.advertises_gpus,
                discovers_gpus=pod.discovers_gpus,
            )
        )
    return groups
