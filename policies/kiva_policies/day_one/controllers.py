"""Day one, controllers and CRDs: everything the plan creates has what serves it.

- A custom resource (`kubernetes:<group>/<version>:<Kind>` outside the built-in API groups) is accepted by
  the API server only once its CRD exists. The CRD must come from a Helm release of the plan that
  installs it (`charts.py`: which values gate which CRDs) and on which the resource depends, so Pulumi
  creates it first; or from a CRD object of the plan; or be declared in the platform namespace's
  `kiva.platform/prerequisites` (`crds`). The same holds for custom resources a release renders from its
  values (a PodMonitor, ServiceMonitor, cert-manager Issuer/Certificate): the release fails without them.
- pulumi-kubernetes awaits an Ingress until `.status.loadBalancer.ingress` is set (10 minutes, then the
  update fails), which only an ingress controller for its class does: AKS application routing
  (`ingressProfile.webAppRouting.enabled`, class `webapprouting.kubernetes.azure.com`, "Managed NGINX
  ingress with the application routing add-on") or a declared ingress class.
- `cert-manager.io/cluster-issuer` must name a ClusterIssuer of the plan or a declared one
  (`cert-manager.io/issuer` an Issuer in the same namespace), else no certificate is ever issued.
- A LoadBalancer Service is awaited until it has an address: only a cloud controller gives one (the AKS
  cluster of the plan), or a declared prerequisite (`loadBalancers: true`).
- A pod naming a RuntimeClass that does not exist is refused by the API server's RuntimeClass admission
  plugin ("pod rejected: RuntimeClass %q not found", kubernetes `plugin/pkg/admission/runtimeclass`), so a
  workload's pods never appear. The class must be a RuntimeClass of the plan or declared
  (`runtimeClasses`, e.g. `nvidia`, which k3s and RKE2 register for the NVIDIA runtime). The same holds
  for the NVIDIA device plugin's DaemonSets (chart value `runtimeClassName`, k8s-device-plugin 0.18.0) and
  the DCGM exporter's (the same value, dcgm-exporter chart 4.6.0 `templates/daemonset.yaml`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import MANDATORY, SERVICE, as_list, display_name, get, namespace_of, pod_spec
from kiva_policies.day_one import charts
from kiva_policies.day_one.nodes import (
    MANAGED_CLUSTER,
    PREREQUISITES_ANNOTATION,
    platform_annotation,
    prerequisites,
)
from kiva_policies.day_one.pods import HELM_RELEASE
from kiva_policies.day_one.resources import (
    dependency_urns,
    has_dependency_data,
    parent_urn,
    props_of,
    type_of,
)

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RUNTIME_CLASS = "kubernetes:node.k8s.io/v1:RuntimeClass"
#: Charts whose pods take their RuntimeClass from the value `runtimeClassName`.
RUNTIME_CLASS_CHARTS = frozenset({"nvidia-device-plugin", "dcgm-exporter"})
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
APP_ROUTING_CLASS = "webapprouting.kubernetes.azure.com"

#: API groups the API server serves without a CRD (Kubernetes 1.34), and Pulumi's own pseudo-groups.
BUILT_IN_GROUPS = frozenset(
    {
        "core",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
        "helm.sh",
        "yaml",
        "kustomize",
        "meta",
    }
)


def plural(kind: str) -> str:
    """The CRD plural of a kind as Kubebuilder derives it (`ClusterPolicy` → `clusterpolicies`)."""
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


#: CRDs that AKS's application routing add-on installs (Azure/aks-app-routing-operator: the
#: `NginxIngressController` kind of group approuting.kubernetes.azure.com).
APP_ROUTING_CRDS = ("nginxingresscontrollers.approuting.kubernetes.azure.com",)
APP_ROUTING = "AKS application routing"


def crd_of(resource_type: str) -> str | None:
    """`kubernetes:postgresql.cnpg.io/v1:Cluster` → `clusters.postgresql.cnpg.io`; None for built-in kinds.

    Pulumi types a server-side patch of a kind as `<Kind>Patch` (`CustomResourcePatch`); it needs the
    CRD of `<Kind>` (so a custom kind whose own name ends in `Patch` would be misread).
    """
    if not resource_type.startswith("kubernetes:"):
        return None
    try:
        _, group_version, kind = resource_type.split(":", 2)
    except ValueError:
        return None
    kind = kind.removesuffix("Patch") or kind
    group = group_version.split("/", 1)[0]
    if group in BUILT_IN_GROUPS or "." not in group:
        return None
    return f"{plural(kind)}.{group}"


class Graph:
    """What each resource waits for: its dependencies, transitively; a component stands for its children."""

    def __init__(self, resources: list[Any]) -> None:
        self.children: dict[str, list[str]] = {}
        self.deps: dict[str, list[str]] = {}
        for resource in resources:
            self.deps[resource.urn] = dependency_urns(resource)
            parent = parent_urn(resource)
            if parent:
                self.children.setdefault(parent, []).append(resource.urn)
        self.available = has_dependency_data(resources)

    def waits_for(self, urn: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.deps.get(urn, []))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.deps.get(current, []))
            stack.extend(self.children.get(current, []))
        return seen


def _sources(resources: list[Any]) -> dict[str, list[tuple[str, str]]]:
    """CRD name → [(urn, what)] of the plan's releases and CRD objects that install it."""
    sources: dict[str, list[tuple[str, str]]] = {}
    for resource in resources:
        props = props_of(resource)
        if type_of(resource) == HELM_RELEASE:
            chart = charts.chart_of(get(props, "chart"), get(props, "version"))
            if chart is None:
                continue
            values = get(props, "values", default={}) or {}
            release = str(get(props, "name", default=None) or resource.name)
            for crd in charts.render(chart, values if isinstance(values, Mapping) else {}).crds:
                sources.setdefault(crd, []).append((resource.urn, f"Helm release {release}"))
        elif type_of(resource) == MANAGED_CLUSTER:
            if get(props, "ingressProfile", "webAppRouting", "enabled") is True:
                for crd in APP_ROUTING_CRDS:
                    sources.setdefault(crd, []).append((resource.urn, APP_ROUTING))
        elif type_of(resource) == CRD:
            group = get(props, "spec", "group")
            names = get(props, "spec", "names", "plural")
            if group and names:
                sources.setdefault(f"{names}.{group}", []).append((resource.urn, f"CRD {names}.{group}"))
    return sources


def _check_crds(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    declared = prerequisites(resources)
    sources = _sources(resources)
    graph = Graph(resources)
    order_note = "" if graph.available else " (dependencies are not in this view: only presence was checked)"

    def check(urn: str, what: str, crd: str) -> None:
        if crd in declared.crds:
            return
        providers = sources.get(crd, [])
        if not providers:
            report(
                f"{what} needs the CRD {crd}, which no Helm release or CRD of the plan installs and which is "
                "not declared in kiva:prerequisites.crds; the API server rejects it. Install it (e.g. the "
                "operator's chart with its CRDs), declare it if the cluster has it, or turn the feature off.",
                urn,
            )
            return
        if any(source == APP_ROUTING for _, source in providers):
            return  # the cluster's add-on: every Kubernetes resource waits for the cluster (its provider)
        if graph.available and urn not in (p for p, _ in providers):
            waits = graph.waits_for(urn)
            if not any(p in waits for p, _ in providers):
                report(
                    f"{what} needs the CRD {crd} from {', '.join(w for _, w in providers)}, but does not depend on "
                    "it, so Pulumi may create it before the CRD exists. Add the release to its dependsOn.",
                    urn,
                )

    for resource in resources:
        crd = crd_of(type_of(resource))
        if crd:
            props = props_of(resource)
            kind = type_of(resource).rsplit(":", 1)[-1]
            check(resource.urn, f"{kind} {display_name(props, resource.name)}{order_note}", crd)
        if type_of(resource) == HELM_RELEASE:
            props = props_of(resource)
            chart = charts.chart_of(get(props, "chart"), get(props, "version"))
            if chart is None:
                continue
            values = get(props, "values", default={}) or {}
            release = str(get(props, "name", default=None) or resource.name)
            for need in charts.render(chart, values if isinstance(values, Mapping) else {}).needs:
                check(
                    resource.urn,
                    f"Helm release {release} ({chart.name} {chart.version}) renders {need.what} and{order_note}",
                    need.crd,
                )


def _check_controllers(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    declared = prerequisites(resources)
    classes = set(declared.ingress_classes)
    clouds = [r for r in resources if type_of(r) == MANAGED_CLUSTER]
    for cluster in clouds:
        if get(props_of(cluster), "ingressProfile", "webAppRouting", "enabled") is True:
            classes.add(APP_ROUTING_CLASS)
    issuers = set(declared.cluster_issuers)
    namespaced_issuers: set[tuple[str, str]] = set()
    for resource in resources:
        props = props_of(resource)
        kind = type_of(resource)
        if kind.startswith("kubernetes:cert-manager.io/") and kind.endswith(":ClusterIssuer"):
            issuers.add(str(get(props, "metadata", "name", default=resource.name)))
        if kind.startswith("kubernetes:cert-manager.io/") and kind.endswith(":Issuer"):
            namespaced_issuers.add(
                (namespace_of(props), str(get(props, "metadata", "name", default=resource.name)))
            )
    load_balancers = bool(clouds) or _declares_load_balancers(resources)
    for resource in resources:
        props = props_of(resource)
        kind = type_of(resource)
        name = display_name(props, resource.name)
        if kind == INGRESS:
            annotations = get(props, "metadata", "annotations", default={}) or {}
            ingress_class = get(props, "spec", "ingressClassName") or get(
                annotations, "kubernetes.io/ingress.class"
            )
            if not ingress_class:
                report(
                    f"Ingress {name} names no ingress class, and the plan provides no default one; no controller "
                    "will admit it and Pulumi waits for its address until the update fails. Set ingressClassName.",
                    resource.urn,
                )
            elif ingress_class not in classes:
                offered = ", ".join(sorted(classes)) or "none"
                report(
                    f"Ingress {name} uses ingress class {ingress_class!r}, for which the plan runs no controller "
                    f"(provided or declared: {offered}); Pulumi waits for its load-balancer address until the "
                    "update fails. Enable AKS application routing (class webapprouting.kubernetes.azure.com), "
                    "install a controller, or declare the class in kiva:prerequisites.ingressClasses.",
                    resource.urn,
                )
            issuer = get(annotations, "cert-manager.io/cluster-issuer")
            if issuer and issuer not in issuers:
                report(
                    f"Ingress {name} asks cert-manager for ClusterIssuer {issuer!r}, which the plan does not create "
                    "and kiva:prerequisites.clusterIssuers does not declare; no certificate would be issued.",
                    resource.urn,
                )
            namespaced = get(annotations, "cert-manager.io/issuer")
            if namespaced and (namespace_of(props), namespaced) not in namespaced_issuers:
                report(
                    f"Ingress {name} asks cert-manager for Issuer {namespaced!r} in its namespace, which the plan "
                    "does not create; no certificate would be issued.",
                    resource.urn,
                )
        if kind == SERVICE and get(props, "spec", "type") == "LoadBalancer" and not load_balancers:
            report(
                f"Service {name} is of type LoadBalancer, but the plan has no cloud cluster to provision one and no "
                "declared load-balancer prerequisite; Pulumi waits for its address until the update fails.",
                resource.urn,
            )


def runtime_classes(resources: list[Any]) -> set[str]:
    """RuntimeClasses that will exist: those of the plan and those declared (`runtimeClasses`)."""
    declared = platform_annotation(resources, PREREQUISITES_ANNOTATION)
    names = (
        {str(v) for v in as_list(declared.get("runtimeClasses"))} if isinstance(declared, Mapping) else set()
    )
    for resource in resources:
        if type_of(resource) == RUNTIME_CLASS:
            names.add(str(get(props_of(resource), "metadata", "name", default=resource.name)))
    return names


def _pods_runtime_class(resource: Any) -> tuple[str, str] | None:
    """(what, RuntimeClass name) of a workload's pods, or of a chart's DaemonSets, where one is named."""
    props, kind = props_of(resource), type_of(resource)
    spec = pod_spec(kind, props)
    if spec is not None:
        name = spec.get("runtimeClassName")
        what = f"{kind.rsplit(':', 1)[-1]} {display_name(props, resource.name)}"
        return (what, str(name)) if name else None
    if kind == HELM_RELEASE and str(get(props, "chart", default="")) in RUNTIME_CLASS_CHARTS:
        name = get(props, "values", "runtimeClassName")
        release = str(get(props, "name", default=None) or resource.name)
        return (f"Helm release {release} (its DaemonSets)", str(name)) if name else None
    return None


def _check_runtime_classes(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    known = runtime_classes(resources)
    for resource in resources:
        found = _pods_runtime_class(resource)
        if found is None or found[1] in known:
            continue
        what, name = found
        offered = ", ".join(sorted(known)) or "none"
        report(
            f"{what} names RuntimeClass {name!r}, which the plan does not create and "
            f"kiva:prerequisites.runtimeClasses does not declare (known: {offered}); the API server rejects "
            'its pods ("pod rejected: RuntimeClass not found"). Declare it if the cluster has it '
            "(kubectl get runtimeclass), or remove the pool's runtimeClassName.",
            resource.urn,
        )


def _check_controllers_and_runtime_classes(args: StackValidationArgs, report: ReportViolation) -> None:
    _check_controllers(args, report)
    _check_runtime_classes(args, report)


def _declares_load_balancers(resources: list[Any]) -> bool:
    declared = platform_annotation(resources, PREREQUISITES_ANNOTATION)
    return isinstance(declared, Mapping) and declared.get("loadBalancers") is True


crds_installed = StackValidationPolicy(
    name="kiva-day-one-crds-installed",
    description=(
        "Every custom resource of the plan, and every custom resource a Helm release renders from its values, "
        "has its CRD installed by a release or CRD of the plan that it depends on, or declared as a cluster "
        "prerequisite, because the API server rejects a kind it does not know."
    ),
    validate=_check_crds,
    enforcement_level=MANDATORY,
)

controllers_present = StackValidationPolicy(
    name="kiva-day-one-controllers-present",
    description=(
        "Every object Pulumi awaits has a controller: each Ingress an ingress controller for its class and the "
        "cert-manager issuer it names, each LoadBalancer Service a cloud load-balancer controller, each "
        "pod's RuntimeClass an existing RuntimeClass, either provided by the plan or declared as a cluster "
        "prerequisite."
    ),
    validate=_check_controllers_and_runtime_classes,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [crds_installed, controllers_present]
