"""Stack-level checks: GPU scheduling, disruption budgets and default-deny networking across resources.

These need more than one resource at a time (a Deployment and its PodDisruptionBudget, a namespace and
its NetworkPolicies), so they are `StackValidationPolicy`s. BSI IT-Grundschutz APP.4.4.A7 / A18
(Kubernetes network segmentation, micro-segmentation), APP.4.4.A19 (high availability), SYS.1.6.A21
(isolation of workloads on dedicated nodes); CIS Kubernetes Benchmark 5.3.2 (NetworkPolicies).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from kiva_policies.base import (
    CNPG_CLUSTER,
    HPA,
    MANDATORY,
    NETWORK_POLICY,
    PDB,
    POD_SPEC_PATHS,
    as_list,
    display_name,
    get,
    gpu_count,
    is_number,
    namespace_of,
    pod_spec,
    pod_template_labels,
    run_checks,
    selector_matches,
    settings,
    string_list,
)
from kiva_policies.day_one import vm_sizes

AGENT_POOL = "azure-native:containerservice:AgentPool"

# --- GPU workloads on GPU pools -------------------------------------------------------------------

GPU_SCHEMA = PolicyConfigSchema(
    properties={
        "gpuResourceNames": string_list(
            "Extended resources that make a container a GPU workload.", ["nvidia.com/gpu"]
        ),
        "gpuTaintKeys": string_list(
            "Taint keys of GPU nodes (used when the plan holds no GPU node pool).", ["sku", "nvidia.com/gpu"]
        ),
        "gpuNodeLabelKeys": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "kubernetes.azure.com/agentpool",
                "agentpool",
                "accelerator",
                "nvidia.com/gpu.present",
                "kiva.platform/gpu-pool",
            ],
            "description": "Node label keys a GPU workload may select its pool by.",
        },
    }
)


#: Taints that mark a GPU pool: the NVIDIA device plugin's resource name as key (any value), or the
#: `sku=gpu` taint of the AKS GPU guide.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_SKU = ("sku", "gpu")
#: Node labels that mark a GPU pool: NVIDIA GPU feature discovery's `nvidia.com/gpu.present=true`
#: (which its DaemonSet also selects nodes by) and the platform's own GPU pool label.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
PLATFORM_GPU_POOL_LABEL = "kiva.platform/gpu-pool"


def _taint_parts(taint: Any) -> tuple[str, str]:
    """`sku=gpu:NoSchedule` → (`sku`, `gpu`); `nvidia.com/gpu:NoSchedule` → (`nvidia.com/gpu`, ``)."""
    key_value = str(taint).split(":", 1)[0]
    key, _, value = key_value.partition("=")
    return key, value


def _pool_taint_keys(taints: Any) -> set[str]:
    """`sku=gpu:NoSchedule` → `sku`."""
    return {_taint_parts(t)[0] for t in as_list(taints)}


def is_gpu_pool(props: Mapping[str, Any]) -> bool:
    """Does this node pool declare GPU nodes: by a GPU taint, a GPU label, or a VM size with GPUs?

    What the pool declares, not the cloud's naming scheme: a VM-size prefix (Azure's `Standard_N*`)
    also matches FPGA sizes and says nothing on other clouds, while the taint and labels are what the
    GPU workloads tolerate and select.
    """
    size = vm_sizes.lookup(str(get(props, "vmSize", default="")))
    if size and size.gpus:
        return True
    for taint in as_list(get(props, "nodeTaints")):
        key, value = _taint_parts(taint)
        if key == GPU_TAINT_KEY or (key, value) == GPU_TAINT_SKU:
            return True
    labels = get(props, "nodeLabels")
    return isinstance(labels, Mapping) and (
        str(get(labels, GPU_PRESENT_LABEL, default="")).lower() == "true" or PLATFORM_GPU_POOL_LABEL in labels
    )


def _check_gpu(args: StackValidationArgs, report: ReportViolation) -> None:
    config = settings(args, GPU_SCHEMA)
    gpu_pools: dict[str, set[str]] = {}  # pool name → taint keys
    for resource in args.resources:
        if resource.resource_type == AGENT_POOL and is_gpu_pool(resource.props):
            name = str(get(resource.props, "agentPoolName", default=resource.name))
            gpu_pools[name] = _pool_taint_keys(get(resource.props, "nodeTaints"))

    def check(resource: Any) -> None:
        spec = pod_spec(resource.resource_type, resource.props)
        if spec is None or not gpu_count(spec, config["gpuResourceNames"]):
            return
        workload = display_name(resource.props, resource.name)
        tolerated = set()
        for toleration in as_list(get(spec, "tolerations")):
            if get(toleration, "operator") == "Exists" and not get(toleration, "key"):
                tolerated.add("*")
            elif get(toleration, "effect") in (None, "", "NoSchedule"):
                tolerated.add(str(get(toleration, "key")))
        required = set().union(*gpu_pools.values()) if gpu_pools else set(config["gpuTaintKeys"])
        if required and not ("*" in tolerated or tolerated & required):
            report(
                f"GPU workload {workload} does not tolerate the GPU node taint "
                f"({', '.join(sorted(required))}); "
                "it cannot be scheduled on a GPU pool. Add the toleration (e.g. `key: sku, operator: Equal, "
                "value: gpu, effect: NoSchedule`).",
                resource.urn,
            )
        selector = get(spec, "nodeSelector", default={})
        selected = {str(k): str(selector[k]) for k in selector} if isinstance(selector, Mapping) else {}
        required_affinity = get(
            spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"
        )
        terms = as_list(get(required_affinity, "nodeSelectorTerms"))
        for term in terms:
            for expression in as_list(get(term, "matchExpressions")):
                values = as_list(get(expression, "values"))
                if get(expression, "operator") == "In" and len(values) == 1:
                    selected[str(get(expression, "key"))] = str(values[0])
                elif get(expression, "operator") in ("In", "Exists"):
                    selected.setdefault(str(get(expression, "key")), "")
        keys = [k for k in selected if k in config["gpuNodeLabelKeys"]]
        if not keys:
            report(
                f"GPU workload {workload} selects no GPU pool (no nodeSelector or required node affinity on "
                f"{', '.join(config['gpuNodeLabelKeys'])}). Pin it to its GPU pool, e.g. "
                "`nodeSelector: {kubernetes.azure.com/agentpool: <pool>}`.",
                resource.urn,
            )
            return
        for key in ("kubernetes.azure.com/agentpool", "agentpool"):
            pool = selected.get(key)
            if gpu_pools and pool and pool not in gpu_pools:
                report(
                    f"GPU workload {workload} selects node pool '{pool}', "
                    "which is not a GPU pool of this stack "
                    f"({', '.join(sorted(gpu_pools))}).",
                    resource.urn,
                )

    run_checks([partial(check, resource) for resource in args.resources])


gpu_workloads_on_gpu_pools = StackValidationPolicy(
    name="kiva-scheduling-gpu-workloads-on-gpu-pools",
    description=(
        "Every workload that requests GPUs tolerates the GPU node taint and is pinned to a GPU node pool, so "
        "that GPU pods land on GPU nodes and nothing else does."
    ),
    validate=_check_gpu,
    enforcement_level=MANDATORY,
    config_schema=GPU_SCHEMA,
)


# --- disruption budgets ---------------------------------------------------------------------------

REPLICATED_KINDS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _check_pdbs(args: StackValidationArgs, report: ReportViolation) -> None:
    budgets = [
        (namespace_of(r.props), get(r.props, "spec", "selector"))
        for r in args.resources
        if r.resource_type == PDB
    ]
    min_replicas: dict[tuple[str, str], float] = {}  # (namespace, workload name) → HPA minReplicas
    for r in args.resources:
        if r.resource_type == HPA:
            target = get(r.props, "spec", "scaleTargetRef", "name")
            value = get(r.props, "spec", "minReplicas", default=1)
            min_replicas[(namespace_of(r.props), str(target))] = float(value) if is_number(value) else 1

    def check(resource: Any) -> None:
        if resource.resource_type not in REPLICATED_KINDS:
            return
        namespace = namespace_of(resource.props)
        name = str(get(resource.props, "metadata", "name", default=resource.name))
        replicas = get(resource.props, "spec", "replicas", default=1)
        replicas = max(float(replicas) if is_number(replicas) else 1, min_replicas.get((namespace, name), 0))
        if replicas <= 1:
            return
        labels = pod_template_labels(resource.resource_type, resource.props)
        if not any(ns == namespace and selector_matches(selector, labels) for ns, selector in budgets):
            report(
                f"{display_name(resource.props, resource.name)} runs {replicas:g} replicas but no "
                "PodDisruptionBudget selects its pods; a node drain could stop all of them at once. Add a "
                "PodDisruptionBudget (e.g. `maxUnavailable: 1`) with the pods' labels as selector.",
                resource.urn,
            )

    run_checks([partial(check, resource) for resource in args.resources])


disruption_budgets = StackValidationPolicy(
    name="kiva-availability-disruption-budgets",
    description=(
        "Every Deployment or StatefulSet with more than one replica has a PodDisruptionBudget selecting its "
        "pods, so that maintenance never takes all replicas down at once."
    ),
    validate=_check_pdbs,
    enforcement_level=MANDATORY,
)


# --- default-deny network policies ----------------------------------------------------------------

NETWORK_SCHEMA = PolicyConfigSchema(
    properties={
        "requireEgressDeny": {
            "type": "boolean",
            "default": False,
            "description": "Also require the default-deny policy to cover Egress.",
        },
        "exemptNamespaces": string_list("Namespaces without a default-deny requirement.", ["kube-system"]),
    }
)


def is_default_deny(props: Mapping[str, Any], egress: bool) -> bool:
    selector = get(props, "spec", "podSelector", default={}) or {}
    if get(selector, "matchLabels") or get(selector, "matchExpressions"):
        return False
    types = [str(t) for t in as_list(get(props, "spec", "policyTypes"))] or ["Ingress"]
    if "Ingress" not in types or as_list(get(props, "spec", "ingress")):
        return False
    return not egress or ("Egress" in types and not as_list(get(props, "spec", "egress")))


def _check_network(args: StackValidationArgs, report: ReportViolation) -> None:
    config = settings(args, NETWORK_SCHEMA)
    denied = {
        namespace_of(r.props)
        for r in args.resources
        if r.resource_type == NETWORK_POLICY and is_default_deny(r.props, config["requireEgressDeny"])
    }
    workloads: dict[str, list[str]] = {}
    for r in args.resources:
        if r.resource_type in POD_SPEC_PATHS or r.resource_type == CNPG_CLUSTER:
            workloads.setdefault(namespace_of(r.props), []).append(display_name(r.props, r.name))
    for namespace, names in sorted(workloads.items()):
        if namespace in denied or namespace in config["exemptNamespaces"]:
            continue
        what = "Ingress and Egress" if config["requireEgressDeny"] else "Ingress"
        report(
            f"Namespace '{namespace}' runs workloads ({', '.join(sorted(names)[:5])}) "
            "but has no default-deny "
            f"NetworkPolicy (empty podSelector, policyTypes {what}, no rules). Add one, then allow only the "
            "flows the platform needs.",
            None,
        )


default_deny_network_policy = StackValidationPolicy(
    name="kiva-network-default-deny",
    description=(
        "Every namespace that runs workloads has a default-deny NetworkPolicy, so that only explicitly "
        "allowed traffic reaches the gateway, the model servers and the database."
    ),
    validate=_check_network,
    enforcement_level=MANDATORY,
    config_schema=NETWORK_SCHEMA,
)

POLICIES = [gpu_workloads_on_gpu_pools, disruption_budgets, default_deny_network_policy]
