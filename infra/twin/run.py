"""`kiva twin`: the plan, applied to a real control plane, judged by Kubernetes (see the package docstring)."""

from __future__ import annotations

import copy
import dataclasses
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiva_policies.day_one.controllers import APP_ROUTING_CRDS

from infra.offline.digest import blind, preview_digest
from infra.offline.engine import Plan, Registration
from infra.offline.manifests import kubernetes_objects
from infra.offline.preview_file import planned_resources
from infra.twin import control_plane, nodes, operator_pods, prometheus_pods, storage
from infra.twin.api import Api, TwinError, wait_for
from infra.twin.apply import (
    CRD_KIND,
    SET_ASIDE_KINDS,
    WORKLOAD_KINDS,
    Applier,
    Item,
    Unit,
    dependency_order,
    helm_order,
)
from infra.twin.report import Problem, TwinReport
from infra.twin.settle import ClusterState, settle

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CHARTS_ENV = "KIVA_CHARTS_DIR"
RUN_HOOKS = {"pre-install", "post-install"}
BUILTIN_GROUPS_SUFFIX = (".k8s.io",)


def charts_dirs(option: Path | None) -> list[Path]:
    """Where the twin looks for charts, in order: `--charts`, else the `:`-separated `KIVA_CHARTS_DIR`, else
    ~/.cache/kiva/charts; then the repository's own `charts/`. A chart found nowhere is pulled into the first."""
    from infra.twin.charts import REPO_CHARTS

    if option:
        folders = [option]
    elif os.environ.get(CHARTS_ENV):
        folders = [Path(entry).expanduser() for entry in os.environ[CHARTS_ENV].split(os.pathsep) if entry]
    else:
        folders = [Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiva" / "charts"]
    return folders + ([REPO_CHARTS] if REPO_CHARTS not in folders else [])


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so `finally` stops the control plane either way."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _objects_of(plan: Plan, resource: Registration) -> list[dict[str, Any]]:
    return kubernetes_objects(dataclasses.replace(plan, resources=[resource]))


def render_releases(
    plan: Plan, folders: Sequence[Path], failures: list[Problem]
) -> list[tuple[Registration, Any]]:
    """Render every Helm release of the plan (pulling a chart that is not cached).

    A chart that is neither cached nor pullable is a TwinError (exit 2); values the chart refuses are a
    finding about the plan (Helm would refuse the install), added to `failures`.
    """
    from infra.twin import charts

    rendered = []
    for resource in plan.of_type(HELM_RELEASE):
        props = blind(resource.inputs)
        chart, version = str(props.get("chart")), str(props.get("version"))
        try:
            release = charts.render_release(props, folders)
        except charts.ReleaseRenderError as error:
            failures.append(
                Problem(f"Helm release {props.get('name') or resource.name} ({chart} {version})", str(error))
            )
            continue
        except charts.ChartNotCached:
            repository = str((props.get("repositoryOpts") or {}).get("repo") or "")
            try:
                charts.pull_chart(folders[0], chart, version, repository)
                release = charts.render_release(props, folders)
            except Exception as error:
                raise TwinError(
                    f"kiva twin: chart {chart} {version} is not in {', '.join(map(str, folders))} and could not "
                    f"be pulled from {repository or 'its repository'}: {error}. Set --charts or {CHARTS_ENV} "
                    "(folders separated by `:`) to a folder that holds it."
                ) from None
        rendered.append((resource, release))
    return rendered


def _hook_phases(obj: Mapping[str, Any]) -> set[str] | None:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook")
    return {p.strip() for p in str(value).split(",")} if value else None


def _app_routing(resource: Registration) -> bool:
    """An AKS cluster of the plan with the application routing add-on on (it installs its CRDs)."""
    profile = (resource.inputs.get("ingressProfile") or {}).get("webAppRouting") or {}
    return resource.type == "azure-native:containerservice:ManagedCluster" and profile.get("enabled") is True


def _declared_crd(name_hint: set[str], api_version: str, kind: str) -> str | None:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    for name in name_hint:
        plural, _, crd_group = name.partition(".")
        if crd_group == group and plural in (kind.lower() + "s", kind.lower() + "es", kind.lower()):
            return name
    return None


def stand_in_crd(name: str, api_version: str, kind: str, namespaced: bool) -> dict[str, Any]:
    plural, _, group = name.partition(".")
    version = api_version.rsplit("/", 1)[-1]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": CRD_KIND,
        "metadata": {"name": name, "annotations": {"kiva.twin/stand-in": "declared prerequisite"}},
        "spec": {
            "group": group,
            "names": {"plural": plural, "kind": kind, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def _declared_runtime_classes(resources: list[Any]) -> list[str]:
    """`runtimeClasses` of the platform namespace's `kiva.platform/prerequisites` annotation."""
    from kiva_policies.day_one.nodes import PREREQUISITES_ANNOTATION, platform_annotation

    declared = platform_annotation(resources, PREREQUISITES_ANNOTATION)
    names = declared.get("runtimeClasses") if isinstance(declared, Mapping) else None
    return sorted({str(n) for n in names}) if isinstance(names, list) else []


def stand_in_runtime_class(name: str) -> dict[str, Any]:
    """A RuntimeClass the cluster is declared to have: pods naming it pass the API server's RuntimeClass
    admission plugin, which rejects a pod whose class does not exist. The handler is never run here."""
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name, "annotations": {"kiva.twin/stand-in": "declared prerequisite"}},
        "handler": name,
    }


def twin(
    plan: Plan,
    *,
    kubeconfig: Path | None = None,
    charts: Path | None = None,
    timeout: float = 300,
    progress: Callable[[str], None] = lambda _: None,
    mutate: Callable[[list[Unit]], None] | None = None,
) -> TwinReport:
    """Apply the plan to a fresh control plane (or the cluster of `kubeconfig`) and judge it.

    `mutate` may edit the units before they are applied (tests re-introduce defects with it).
    """
    started = time.monotonic()
    resources = planned_resources(preview_digest(plan))
    from kiva_policies.day_one.gpu_sharing import apply_time_slicing
    from kiva_policies.day_one.nodes import node_pools, prerequisites

    pools = node_pools(resources) or []
    # The nodes advertise what the device plugin would: time-slices and MIG slices, not whole GPUs.
    apply_time_slicing(pools, resources)
    declared_crds = set(prerequisites(resources).crds)
    if any(_app_routing(r) for r in plan.resources):
        declared_crds |= set(APP_ROUTING_CRDS)  # the add-on's NginxIngressController
    declared_runtime_classes = _declared_runtime_classes(resources)
    render_failures: list[Problem] = []
    releases = render_releases(plan, charts_dirs(charts), render_failures)
    gpu_operator = any(release.chart == "gpu-operator" for _, release in releases)
    on_aks = any(r.type == "azure-native:containerservice:ManagedCluster" for r in plan.resources)
    report = TwinReport(plan.stack, "")
    report.rejected += render_failures
    timings = report.timings

    plane = control_plane.external(kubeconfig) if kubeconfig else None
    source = None if plane else control_plane.choose()
    with _terminate_as_interrupt():
        api: Api | None = None
        try:
            t0 = time.monotonic()
            if plane is None:
                assert source is not None
                progress(f"starting the control plane ({source.kind}: {source.path})")
                plane = control_plane.start_from(source)
            report.cluster = plane.description
            api = Api(plane.kubeconfig)
            twin_nodes = nodes.twin_nodes(pools, gpu_operator)
            for node in twin_nodes:
                nodes.register(api, node)
            report.nodes = {}
            for node in twin_nodes:
                report.nodes.setdefault(node.pool, []).append(node.name)
            timings["start-up"] = time.monotonic() - t0
            t1 = time.monotonic()
            progress(f"applying to {len(twin_nodes)} nodes")
            zones = {n.name: n.labels.get(storage.ZONE_KEY, "") for n in twin_nodes}
            _apply_all(
                api,
                plan,
                releases,
                declared_crds,
                on_aks,
                report,
                mutate,
                zones,
                controllers="kube-controller-manager" not in plane.missing,
                placement=not plane.missing,
                runtime_classes=declared_runtime_classes,
            )
            timings["apply"] = time.monotonic() - t1
            if plane.missing:
                # exit 1, not 0: 0 says every pod was placed, and nothing here created or placed pods
                report.not_judged.append(
                    Problem(
                        "placement not judged",
                        f"{plane.placement_gap}: the twin checked API acceptance and admission only; "
                        "no controllers created pods and no scheduler placed them, so unscheduled pods and "
                        "DaemonSet coverage are unknown",
                    )
                )
            else:
                t2 = time.monotonic()
                progress("settling")
                state = settle(api, zones, max(5.0, timeout - (time.monotonic() - started)))
                timings["settle"] = time.monotonic() - t2
                _judge(report, state, twin_nodes, releases)
        finally:
            if api is not None:
                api.close()
            if plane is not None:
                t3 = time.monotonic()
                plane.stop()
                if plane.owned or source is not None:
                    timings["stop"] = time.monotonic() - t3
    timings["total"] = time.monotonic() - started
    return report


def _at_autoscaler_maximum(units: list[Unit], report: TwinReport) -> None:
    """Scale every autoscaled workload to its HorizontalPodAutoscaler's `maxReplicas`.

    The twin has no metrics, so its HPA controller would keep the first replica; the question the
    twin answers is whether the pools at their maximum hold the workloads at theirs.
    """
    items = [item for unit in units for item in unit.items]
    targets = {
        (
            (item.obj.get("metadata") or {}).get("namespace"),
            ((item.obj.get("spec") or {}).get("scaleTargetRef") or {}).get("kind"),
            ((item.obj.get("spec") or {}).get("scaleTargetRef") or {}).get("name"),
        ): (item.obj.get("spec") or {}).get("maxReplicas")
        for item in items
        if item.obj.get("kind") == "HorizontalPodAutoscaler"
    }
    for item in items:
        metadata = item.obj.get("metadata") or {}
        maximum = targets.get((metadata.get("namespace"), item.obj.get("kind"), metadata.get("name")))
        if isinstance(maximum, int | float) and maximum > 0:
            item.obj.setdefault("spec", {})["replicas"] = int(maximum)
            report.notes.append(
                f"{item.obj.get('kind')} {metadata.get('namespace')}/{metadata.get('name')}: "
                f"applied at its autoscaler's maxReplicas ({int(maximum)}); the twin has no metrics"
            )


PROMETHEUS_SHAPE = "Prometheus Operator shape"


def _prometheus_shape_items(objects: Sequence[Mapping[str, Any]], namespace: str) -> list[Item]:
    """What the Prometheus Operator would make of the Prometheus/Alertmanager resources among `objects`."""
    items = []
    for cr, shapes in prometheus_pods.operator_shapes(objects, namespace):
        meta = cr.get("metadata") or {}
        owner = (
            f"{PROMETHEUS_SHAPE} of {cr.get('kind')} {meta.get('namespace') or namespace}/{meta.get('name')}"
        )
        items += [Item(shape, owner, namespace) for shape in shapes]
    return items


def _apply_all(
    api: Api,
    plan: Plan,
    releases: list[tuple[Registration, Any]],
    declared_crds: set[str],
    on_aks: bool,
    report: TwinReport,
    mutate: Callable[[list[Unit]], None] | None,
    zones: Mapping[str, str],
    *,
    controllers: bool = True,
    placement: bool = True,
    runtime_classes: Sequence[str] = (),
) -> None:
    """Apply everything; without `controllers` no default ServiceAccounts are awaited (the API server then
    runs without the ServiceAccount admission plugin), without `placement` no pod verdicts are awaited."""
    applier = Applier(api)
    release_by_urn = {resource.urn: release for resource, release in releases}
    units: list[Unit] = []
    crds: list[Item] = []
    for resource in plan.resources:
        if resource.urn in release_by_urn:
            release = release_by_urn[resource.urn]
            source = f"release {release.release} ({release.chart} {release.version})"
            items: list[Item] = []
            post: list[Item] = []
            crds += [Item(copy.deepcopy(c), source) for c in release.crds]
            for obj in helm_order(release.hooks):
                phases = _hook_phases(obj) or set()
                if phases & RUN_HOOKS:
                    (items if "pre-install" in phases else post).append(
                        Item(copy.deepcopy(obj), f"{source} hook", release.namespace)
                    )
                else:
                    kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name")
                    report.notes.append(f"{source}: hook {kind} {name} ({', '.join(sorted(phases))}) not run")
            for obj in helm_order(release.objects):
                item = Item(copy.deepcopy(obj), source, release.namespace)
                (crds if obj.get("kind") == CRD_KIND else items).append(item)
            items += _prometheus_shape_items(release.objects, release.namespace)
            units.append(Unit(resource.urn, items + post, list(resource.dependencies)))
        elif resource.custom and resource.type.startswith("kubernetes:"):
            objs = _objects_of(plan, resource)
            if not objs:
                continue
            unit = Unit(resource.urn, [Item(o, "plan") for o in objs], list(resource.dependencies))
            for cr, shapes in operator_pods.operator_shapes(objs):
                owner = f"CloudNativePG shape of {cr.get('kind')} {cr['metadata'].get('namespace')}/{cr['metadata']['name']}"
                unit.items += [Item(s, owner) for s in shapes]
            unit.items += _prometheus_shape_items(objs, "default")
            units.append(unit)
    _at_autoscaler_maximum(units, report)
    if mutate:
        mutate(units)

    everything = [item.obj for unit in units for item in unit.items]
    shaped = sum(1 for u in units for i in u.items if i.source.startswith("CloudNativePG shape"))
    if shaped:
        report.notes.append(
            f"CloudNativePG operator not running: the twin created {shaped} objects in the operator's shape "
            "(instance pods with their PVCs, the initdb Job, pooler Deployments, their ServiceAccounts; "
            "CloudNativePG v1.30 pkg/specs), annotated kiva.twin/shape"
        )
    shaped = sum(1 for u in units for i in u.items if i.source.startswith(PROMETHEUS_SHAPE))
    if shaped:
        report.notes.append(
            f"Prometheus Operator not running: the twin created {shaped} objects in the operator's shape "
            "(a StatefulSet per Prometheus shard and per Alertmanager, with their volume claim templates, and "
            "the governing Services; prometheus-operator v0.93 pkg/prometheus/server, pkg/alertmanager), "
            f"annotated kiva.twin/shape: {prometheus_pods.SHAPE_VALUE}"
        )
    # 1. what the cloud or the cluster provides
    for sc in storage.stand_in_classes(everything, on_aks):
        outcome = applier.apply(Item(sc, "stand-in"))
        report.notes.append(
            f"StorageClass {sc['metadata']['name']}: stand-in for the cluster's own "
            f"({sc['provisioner']}, WaitForFirstConsumer); the twin plays its provisioner"
            + ("" if outcome.ok else f" (refused: {outcome.message})")
        )
    for name in runtime_classes:
        outcome = applier.apply(Item(stand_in_runtime_class(name), "stand-in"))
        report.notes.append(
            f"RuntimeClass {name}: declared prerequisite, installed as a stand-in (handler {name})"
            + ("" if outcome.ok else f" (refused: {outcome.message})")
        )
    # 2. CRDs
    accepted = [i.obj["metadata"]["name"] for i in crds if applier.apply(i).ok]
    not_established = applier.wait_established(accepted)
    for name in not_established:
        report.rejected.append(Problem(f"CustomResourceDefinition {name}", "never became Established"))
    # custom resources without a CRD
    missing: list[Item] = []
    stand_ins: dict[str, dict[str, Any]] = {}
    for unit in units:
        for item in unit.items:
            api_version, kind = str(item.obj.get("apiVersion")), str(item.obj.get("kind"))
            if kind in SET_ASIDE_KINDS or api.resource(api_version, kind) is not None:
                continue
            declared = _declared_crd(declared_crds, api_version, kind)
            if declared:
                namespaced = bool((item.obj.get("metadata") or {}).get("namespace"))
                stand_ins[declared] = stand_in_crd(declared, api_version, kind, namespaced)
            else:
                missing.append(item)
    for name, crd in stand_ins.items():
        applier.apply(Item(crd, "stand-in"))
        why = "AKS application routing's" if name in APP_ROUTING_CRDS else "declared prerequisite"
        report.notes.append(f"CRD {name}: {why}, installed as a stand-in accepting any spec")
    applier.wait_established(list(stand_ins))
    for item in missing:
        group = str(item.obj.get("apiVersion"))
        report.missing_prerequisites.append(
            Problem(
                f"{item.ref} ({item.source})",
                f"no CRD serves {item.obj.get('kind')} in {group}: no release installs it and "
                "kiva:prerequisites.crds does not declare it",
            )
        )
    missing_ids = {id(i) for i in missing}
    # 3. namespaces
    namespaces = [
        i for u in units for i in u.items if i.obj.get("kind") == "Namespace" and id(i) not in missing_ids
    ]
    for item in namespaces:
        applier.apply(item)
    names = [i.obj["metadata"]["name"] for i in namespaces]
    for ns in applier.wait_default_accounts(names) if controllers else []:
        report.rejected.append(Problem(f"Namespace {ns}", "its default ServiceAccount never appeared"))
    # 4. everything else, in dependency order
    set_aside: Counter[str] = Counter()
    deferred: dict[str, list[Item]] = {}
    for unit in dependency_order(units):
        for item in unit.items:
            if id(item) in missing_ids or item.obj.get("kind") in ("Namespace",):
                continue
            after = ((item.obj.get("metadata") or {}).get("annotations") or {}).get(operator_pods.AFTER)
            if after:
                deferred.setdefault(after, []).append(item)
                continue
            if item.obj.get("kind") in SET_ASIDE_KINDS:
                set_aside[f"{item.source}: {item.obj.get('kind')}"] += 1
                continue
            applier.apply(item)
    for job, items in deferred.items():
        if placement:
            _finish_job(api, job, zones, report)
        for item in items:
            if applier.apply(item).ok and placement and item.obj.get("kind") == "Pod":
                meta = item.obj["metadata"]
                _pod_verdict(api, meta["namespace"], zones, name=meta["name"])
    for what, count in sorted(set_aside.items()):
        report.notes.append(
            f"{what} ×{count} set aside: no webhook service runs in the twin, so not exercised"
        )
    _classify(api, applier, report)


def _pod_verdict(
    api: Api,
    namespace: str,
    zones: Mapping[str, str],
    selector: str = "",
    name: str = "",
    timeout: float = 30,
) -> dict[str, Any] | None:
    """Wait (playing the provisioner meanwhile) until the pod is bound or the scheduler refused it."""

    def verdict() -> dict[str, Any] | None:
        storage.provision(api, zones)
        if name:
            reply = api.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
            pods = [reply.json] if reply.ok else []
        else:
            pods = (api.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector).json or {}).get(
                "items", []
            )
        for pod in pods:
            conditions = (pod.get("status") or {}).get("conditions") or []
            if (pod.get("spec") or {}).get("nodeName") or any(
                c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conditions
            ):
                return dict(pod)
        return None

    return wait_for(verdict, timeout, interval=0.2)


def _finish_job(api: Api, job: str, zones: Mapping[str, str], report: TwinReport) -> None:
    """Play the kubelet for an operator's bootstrap Job: once its pod is bound, report it Succeeded.

    CloudNativePG creates the instance pods only after the initdb Job completed, and then one at a time
    (each new replica clones the one before), so they are not judged side by side with the Job (the
    instances' required anti-affinity would keep the Job's pod out) nor with each other.
    """
    namespace, name = job.split("/", 1)
    pod = _pod_verdict(api, namespace, zones, selector=f"job-name={name}")
    if pod and (pod.get("spec") or {}).get("nodeName"):
        reply = api.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status",
            {"status": {"phase": "Succeeded"}},
            content_type="application/merge-patch+json",
        )
        if reply.ok:
            report.notes.append(
                f"Job {job}: its pod was bound, then reported Succeeded by the twin before the instance pods "
                "were created one by one (as the operator does)"
            )


def _enforcing(api: Api, namespace: str, cache: dict[str, str]) -> str:
    if namespace not in cache:
        reply = api.get(f"/api/v1/namespaces/{namespace}")
        labels = ((reply.json or {}).get("metadata") or {}).get("labels") or {} if reply.ok else {}
        cache[namespace] = str(labels.get("pod-security.kubernetes.io/enforce", "privileged"))
    return cache[namespace]


def _classify(api: Api, applier: Applier, report: TwinReport) -> None:
    cache: dict[str, str] = {}
    for outcome in applier.outcomes:
        subject = f"{outcome.item.ref} ({outcome.item.source})"
        if outcome.ok:
            report.applied += 1
        else:
            report.rejected.append(Problem(subject, f"HTTP {outcome.status}: {outcome.message}"))
        for warning in outcome.warnings:
            if "PodSecurity" in warning and outcome.item.obj.get("kind") in WORKLOAD_KINDS:
                namespace = str((outcome.item.obj.get("metadata") or {}).get("namespace") or "default")
                level = _enforcing(api, namespace, cache)
                problem = Problem(subject, f"{warning} (namespace {namespace} enforces {level})")
                (
                    report.pod_security_errors if level != "privileged" else report.pod_security_warnings
                ).append(problem)
            else:
                report.other_warnings.append(Problem(subject, warning))


def _judge(
    report: TwinReport,
    state: ClusterState,
    twin_nodes: list[nodes.TwinNode],
    releases: list[tuple[Registration, Any]],
) -> None:
    pool_of = {n.name: n.pool for n in twin_nodes}
    report.pods_per_pool = {pool: Counter() for pool in report.nodes}
    for pod in state.pods:
        workload = pod.owner.split(" ", 1)[-1].split("/", 1)[-1] if pod.owner else pod.name
        if pod.owner.startswith("ReplicaSet "):
            workload = workload.rsplit("-", 1)[0]
        if pod.node:
            report.pods_per_pool.setdefault(pool_of.get(pod.node, pod.node), Counter())[workload] += 1
        elif pod.scheduled == "False":
            shape = " [twin shape]" if pod.annotations.get(operator_pods.SHAPE) else ""
            report.unscheduled.append(Problem(f"Pod {pod.namespace}/{pod.name}{shape}", pod.reason))
        else:
            report.unsettled.append(Problem(f"Pod {pod.namespace}/{pod.name}", "no scheduling verdict yet"))
    for ref, message in sorted(state.failed_creates.items()):
        report.failed_creates.append(Problem(ref, message))
    if not state.settled:
        for ref in state.unsatisfied:
            report.unsettled.append(Problem(ref, "its controller had not created all its pods"))
    _coverage(report, state, twin_nodes, releases)
    _gpu_metrics_coverage(report, state, twin_nodes)


#: The DCGM exporter's pods (chart dcgm-exporter 4.6.0 `selectorLabels`; monitoring/gpu_metrics.py).
DCGM_EXPORTER_NAME = "dcgm-exporter"


def _term_admits(term: Mapping[str, Any], node_labels: Mapping[str, str]) -> bool:
    """A `nodeSelectorTerm`'s label expressions against a node's labels (`In`, `NotIn`, `Exists`, `DoesNotExist`)."""
    for expression in term.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        checks = {
            "In": key in node_labels and node_labels[key] in values,
            "NotIn": key not in node_labels or node_labels[key] not in values,
            "Exists": key in node_labels,
            "DoesNotExist": key not in node_labels,
        }
        if not checks.get(operator, True):
            return False
    return True


def _gpu_metrics_coverage(report: TwinReport, state: ClusterState, twin_nodes: list[nodes.TwinNode]) -> None:
    """Every GPU node that the DCGM exporter's DaemonSet selects (its nodeSelector and required node affinity)
    runs an exporter pod: where the scheduler refused one, those GPUs have no metrics."""
    sets = [
        d
        for d in state.daemonsets
        if ((d.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name") == DCGM_EXPORTER_NAME
    ]
    bound = {(p.owner, p.node) for p in state.pods if p.node}
    for daemonset in sets:
        ref = f"DaemonSet {daemonset['metadata']['namespace']}/{daemonset['metadata']['name']}"
        spec = daemonset["spec"]["template"]["spec"]
        selector = spec.get("nodeSelector") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = required.get("nodeSelectorTerms") or [{}]
        for node in twin_nodes:
            selected = all(node.labels.get(k) == v for k, v in selector.items()) and any(
                _term_admits(term, node.labels) for term in terms
            )
            if node.gpus and selected and (ref, node.name) not in bound:
                report.uncovered.append(
                    Problem(
                        f"{ref} on node {node.name} ({node.pool})",
                        "no DCGM exporter pod is bound there (its tolerations do not admit the node's taints "
                        f"{[t['key'] for t in node.taints]}), so the node's GPUs have no metrics",
                    )
                )


def _coverage(
    report: TwinReport,
    state: ClusterState,
    twin_nodes: list[nodes.TwinNode],
    releases: list[tuple[Registration, Any]],
) -> None:
    """Every GPU node needs a device plugin pod (and, with the GPU operator, an NFD worker pod).

    Nodes of an existing cluster's declared pools advertise their declared GPUs without one when the
    plan installs no NVIDIA software: the cluster's own device plugin does (`install: false`), as the
    day-one scheduling check assumes too.
    """
    gpu_nodes = [n for n in twin_nodes if n.gpus]
    if not gpu_nodes:
        return
    charts = {release.chart for _, release in releases}
    required: list[tuple[str, Callable[[str], bool]]] = []
    if "nvidia-device-plugin" in charts:
        required.append(("NVIDIA device plugin", lambda n: "device-plugin" in n and "mps" not in n))
    if "gpu-operator" in charts:
        required.append(("node-feature-discovery worker", lambda n: "feature-discovery-worker" in n))
        report.notes.append(
            "gpu-operator: its operands (driver, toolkit, device plugin) are DaemonSets the operator creates "
            "from the ClusterPolicy; the twin does not run the operator, so it checks the NFD worker that "
            "labels GPU nodes for them, not the operands"
        )
    if not required:
        declared = [n.name for n in gpu_nodes if n.declared]
        if declared:
            report.notes.append(
                "the plan installs no NVIDIA device plugin: the GPUs of the declared node pools "
                f"({', '.join(sorted({n.pool for n in gpu_nodes if n.declared}))}) are taken as advertised by "
                "the cluster's own device plugin (kiva:operators.nvidia.install: false)"
            )
        for node in (n for n in gpu_nodes if not n.declared):
            report.uncovered.append(
                Problem(
                    f"Node {node.name} ({node.pool})",
                    "no NVIDIA device plugin release in the plan: no GPU is advertised",
                )
            )
        return
    bound = {(p.owner, p.node) for p in state.pods if p.node}
    for label, matches in required:
        sets = [d for d in state.daemonsets if matches(d["metadata"]["name"])]
        if not sets:
            report.uncovered.append(Problem(label, "the chart rendered no such DaemonSet"))
            continue
        for node in gpu_nodes:
            refs = [f"DaemonSet {d['metadata']['namespace']}/{d['metadata']['name']}" for d in sets]
            if not any((ref, node.name) in bound for ref in refs):
                report.uncovered.append(
                    Problem(
                        f"{', '.join(refs)} on node {node.name} ({node.pool})",
                        f"no {label} pod is bound there (its tolerations, nodeSelector or affinity do not admit "
                        f"the node's taints {[t['key'] for t in node.taints]} and labels), so the node "
                        "advertises no nvidia.com/gpu on a real cluster",
                    )
                )
