"""What the Prometheus Operator would create from a `Prometheus` and an `Alertmanager`, created by the twin instead.

No operator runs in the twin, so the chart's `Prometheus`/`Alertmanager` custom resources (kube-prometheus-stack
88.5.3, operator v0.93.1) alone yield no pod. These are the StatefulSets (and governing Services) the operator
creates, reduced to what admission and scheduling look at. Read in prometheus-operator at tag v0.93.0 (the
mirror has no v0.93.1 tag; `release-0.93` after v0.93.0 changes no code under pkg/):
- Prometheus, `pkg/prometheus/server/statefulset.go`: makeStatefulSet (l. 55-152: name, object labels incl.
  `operator.prometheus.io/mode: server`, storage: emptyDir / ephemeral / volumeClaimTemplate named
  `prometheus-<name>-db` with ReadWriteOnce by default, `spec.volumes`, PVC retention policy), makeStatefulSetSpec
  (l. 154-420: pod labels = `app.kubernetes.io/version` + `podMetadata` + selector labels incl.
  `operator.prometheus.io/shard`, l. 218-229; containers `prometheus` (port 9090, `spec.resources`, container
  security context l. 347-353) and `config-reloader`, init container `init-config-reloader`, merged with
  `spec.containers`/`spec.initContainers`; StatefulSet spec l. 374-411: serviceName `prometheus-operated`,
  replicas, podManagementPolicy Parallel, pod `securityContext`, serviceAccountName, automount token (default
  true), nodeSelector (+ the shard's zone, `promcfg.go` NodeSelectorWithTopologyZone l. 5419), schedulerName,
  priorityClassName, tolerations, affinity, topologySpreadConstraints); selector labels `server/operator.go`
  makeSelectorLabels l. 1696; shards and names `pkg/prometheus/common.go` shardsNumber/ReplicasNumberPtr/
  prometheusNameByShard l. 111-143, VolumeName/PrefixedName l. 189-195, MakeK8sTopologySpreadConstraint l. 420,
  governing Service BuildStatefulSetService l. 494 (created in `server/operator.go` l. 1004-1030 unless
  `spec.serviceName` names the user's own).
- Alertmanager, `pkg/alertmanager/statefulset.go`: makeStatefulSet (l. 84-181: replicas default 1, negative 0;
  a memory request of 200Mi unless set; storage as above, `alertmanager-<name>-db`), governing Service
  makeStatefulSetService (l. 183-228), pod labels and annotations (l. 398-413), ports (l. 435-454), the
  `alertmanager` container (l. 705-734) and config reloaders (l. 745-788), StatefulSet spec (l. 799-835);
  selector labels `pkg/alertmanager/operator.go` makeSelectorLabels l. 796.
- Both: config-reloader containers `pkg/operator/config_reloader.go` CreateConfigReloader (ports 8080/8081,
  security context l. 368-374, resources from the operator's `--config-reloader-*` flags, defaults 10m/50Mi in
  `cmd/operator/main.go` l. 103-110); default images `pkg/operator/defaults.go`, `pkg/operator/image.go`
  BuildImagePath; operator `--labels` on every object, taking precedence (`pkg/operator/config.go` Map.Merge).
The operator's flags are read from its Deployment when the same objects hold it (the chart's release).
Not reproduced: owner references, config/TLS/web-config Secret volumes and probes (the operator creates those
Secrets; the kubelet, not admission or the scheduler, looks at them), Thanos sidecars, paused resources (the
operator leaves them alone, so no shape). The operator creates no ServiceAccount: the one `serviceAccountName`
names must come from the chart (it does), or the StatefulSet controller reports the pods' `FailedCreate`.
All carry `kiva.twin/shape: prometheus-operator` and `terminationGracePeriodSeconds: 0` (pods never run here);
images are the operator's defaults at most, they are never pulled.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.twin.operator_pods import SHAPE

SHAPE_VALUE = "prometheus-operator"
GROUP = "monitoring.coreos.com/"
OPERATOR_VERSION = "v0.93.1"
#: `pkg/operator/defaults.go` at v0.93.0 (DefaultPrometheusVersion: the compatibility matrix's last entry).
DEFAULT_PROMETHEUS_VERSION = "v3.13.1"
DEFAULT_ALERTMANAGER_VERSION = "v0.33.1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "prometheus-operator"}
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
ZONE_KEY = "topology.kubernetes.io/zone"
_CONTAINER_SECURITY: dict[str, Any] = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
#: Pod-spec fields the operator copies from the custom resource as they are (both kinds).
_COPIED = (
    "securityContext",
    "serviceAccountName",
    "nodeSelector",
    "schedulerName",
    "priorityClassName",
    "tolerations",
    "affinity",
    "hostAliases",
    "hostNetwork",
    "enableServiceLinks",
    "hostUsers",
    "dnsPolicy",
    "dnsConfig",
    "imagePullSecrets",
)


@dataclass(frozen=True)
class OperatorConfig:
    """What the operator's command line decides for the pods it creates (`cmd/operator/main.go` flags)."""

    reloader_image: str = f"quay.io/prometheus-operator/prometheus-config-reloader:{OPERATOR_VERSION}"
    reloader_resources: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {
            "requests": {"cpu": "10m", "memory": "50Mi"},
            "limits": {"cpu": "10m", "memory": "50Mi"},
        }
    )
    prometheus_base_image: str = "quay.io/prometheus/prometheus"
    alertmanager_base_image: str = "quay.io/prometheus/alertmanager"
    topology_sharding: bool = True
    """Feature gate PrometheusTopologySharding, on by default since v0.92 (`pkg/operator/config.go` l. 105)."""
    labels: Mapping[str, str] = field(default_factory=dict)


def _flags(args: Sequence[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for arg in args:
        name, has_value, value = str(arg).lstrip("-").partition("=")
        if has_value:
            flags[name] = value
    return flags


def operator_config(objects: Sequence[Mapping[str, Any]]) -> OperatorConfig:
    """The operator's settings from its Deployment's args among `objects`; the operator's defaults otherwise."""
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in template.get("containers") or []:
            if "prometheus-operator/prometheus-operator" not in str(container.get("image", "")):
                continue
            flags = _flags(container.get("args") or [])
            defaults = OperatorConfig()
            resources: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
            for section, key, default in (
                ("requests", "cpu", "10m"),
                ("limits", "cpu", "10m"),
                ("requests", "memory", "50Mi"),
                ("limits", "memory", "50Mi"),
            ):
                value = flags.get(f"config-reloader-{key}-{section[:-1]}", default)
                if value != "0":  # "0" configures none (the flag's help text)
                    resources[section][key] = value
            gates = dict(g.partition("=")[::2] for g in flags.get("feature-gates", "").split(",") if g)
            labels = dict(p.partition("=")[::2] for p in flags.get("labels", "").split(",") if p)
            return OperatorConfig(
                reloader_image=flags.get("prometheus-config-reloader", defaults.reloader_image),
                reloader_resources={k: v for k, v in resources.items() if v},
                prometheus_base_image=flags.get(
                    "prometheus-default-base-image", defaults.prometheus_base_image
                ),
                alertmanager_base_image=flags.get(
                    "alertmanager-default-base-image", defaults.alertmanager_base_image
                ),
                topology_sharding=gates.get("PrometheusTopologySharding", "true").lower() != "false",
                labels=labels,
            )
    return OperatorConfig()


def _semver(version: str) -> str:
    """`semver.ParseTolerant(v).String()`: no leading `v`, missing minor/patch as 0, pre-release kept."""
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$", version.strip())
    if not match:
        return version.lstrip("v")
    major, minor, patch, rest = match.groups()
    return f"{major}.{minor or 0}.{patch or 0}{rest}"


def _image(spec: Mapping[str, Any], base_default: str, version: str) -> str:
    """`pkg/operator/image.go` BuildImagePath: `image`, else base with its own tag, else `@sha256:`, tag, version."""
    if str(spec.get("image") or "").strip():
        return str(spec["image"])
    base = str(spec.get("baseImage") or base_default)
    if re.search(r"(@sha256:|:[^/]+$)", base):
        return base
    if spec.get("sha"):
        return f"{base}@sha256:{spec['sha']}"
    return f"{base}:{spec.get('tag') or version}"


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge of one container, approximated: mappings merged key by key, everything else replaced."""
    if isinstance(base, Mapping) and isinstance(patch, Mapping):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(patch)


def _merge_containers(
    ours: list[dict[str, Any]], theirs: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`pkg/k8s` MergePatchContainers: the resource's containers patch the operator's by name, or are added."""
    merged = {c["name"]: c for c in ours}
    order = [c["name"] for c in ours]
    for container in theirs or []:
        name = str(container.get("name"))
        if name in merged:
            merged[name] = _merge(merged[name], container)
        else:
            merged[name] = copy.deepcopy(dict(container))
            order.append(name)
    return [merged[name] for name in order]


def _mounts(volume: str, path: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The data volume at `path`, then the resource's own `volumeMounts` (of its `volumes`)."""
    return [{"name": volume, "mountPath": path}, *copy.deepcopy(list(spec.get("volumeMounts") or []))]


def _reloader(
    name: str, port_name: str, port: int, listen_local: bool, config: OperatorConfig
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": config.reloader_image,
        "command": ["/bin/prometheus-config-reloader"],
        "resources": copy.deepcopy(dict(config.reloader_resources)),
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
        "volumeMounts": [],
    }
    if not listen_local:
        container["ports"] = [{"name": port_name, "containerPort": port, "protocol": "TCP"}]
    return container


def _data_volume(spec: Mapping[str, Any], default_name: str) -> tuple[str, dict[str, Any] | None, list[Any]]:
    """(volume name, the pod volume or None, the volumeClaimTemplates) for `spec.storage`."""
    storage = spec.get("storage")
    if storage is None:
        return default_name, {"name": default_name, "emptyDir": {}}, []
    if storage.get("emptyDir") is not None:
        return default_name, {"name": default_name, "emptyDir": copy.deepcopy(storage["emptyDir"])}, []
    if storage.get("ephemeral") is not None:
        return default_name, {"name": default_name, "ephemeral": copy.deepcopy(storage["ephemeral"])}, []
    template = storage.get("volumeClaimTemplate") or {}
    meta = template.get("metadata") or {}
    claim_spec = copy.deepcopy(template.get("spec") or {})
    claim_spec["accessModes"] = claim_spec.get("accessModes") or ["ReadWriteOnce"]
    name = str(meta.get("name") or default_name)
    claim_meta: dict[str, Any] = {"name": name}
    for key in ("labels", "annotations"):
        if meta.get(key):
            claim_meta[key] = dict(meta[key])
    return (
        name,
        None,
        [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta, "spec": claim_spec}],
    )


def _object_meta(
    name: str,
    namespace: str,
    cr_meta: Mapping[str, Any],
    labels: Mapping[str, str],
    config: OperatorConfig,
) -> dict[str, Any]:
    annotations = {
        k: v
        for k, v in (cr_meta.get("annotations") or {}).items()
        if not k.startswith("kubectl.kubernetes.io/")
    }
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**(cr_meta.get("labels") or {}), **labels, **config.labels},
        "annotations": {**annotations, SHAPE: SHAPE_VALUE},
    }


def _pod_spec(
    spec: Mapping[str, Any],
    containers: list[dict[str, Any]],
    init_containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": _merge_containers(containers, spec.get("containers") or []),
        "initContainers": _merge_containers(init_containers, spec.get("initContainers") or []),
        "terminationGracePeriodSeconds": 0,
        "volumes": volumes + copy.deepcopy(list(spec.get("volumes") or [])),
    }
    for key in _COPIED:
        value = spec.get(key)
        if value is not None and value != {} and value != []:
            pod[key] = copy.deepcopy(value)
    if pod.get("hostNetwork") and "dnsPolicy" not in pod:
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    if not pod["volumes"]:
        del pod["volumes"]
    return pod


def _governing_service(
    name: str, namespace: str, ports: list[dict[str, Any]], app: str, config: OperatorConfig, **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {f"operated-{app}": "true", **config.labels},
            "annotations": {SHAPE: SHAPE_VALUE},
        },
        "spec": {
            "clusterIP": "None",
            "ports": ports,
            "selector": {"app.kubernetes.io/name": app},
            **extra,
        },
    }


def _statefulset(
    name: str,
    namespace: str,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    object_labels: Mapping[str, str],
    selector: Mapping[str, str],
    pod_labels: Mapping[str, str],
    pod_annotations: Mapping[str, str],
    pod: dict[str, Any],
    replicas: int,
    service: str,
    claims: list[Any],
    config: OperatorConfig,
) -> dict[str, Any]:
    final_selector = {**selector, **config.labels}
    body: dict[str, Any] = {
        "serviceName": service,
        "replicas": replicas,
        "podManagementPolicy": spec.get("podManagementPolicy") or "Parallel",
        "minReadySeconds": int(spec.get("minReadySeconds") or 0),
        "selector": {"matchLabels": final_selector},
        "template": {
            "metadata": {
                "labels": {**pod_labels, **config.labels},
                "annotations": {**pod_annotations, SHAPE: SHAPE_VALUE},
            },
            "spec": pod,
        },
    }
    if claims:
        body["volumeClaimTemplates"] = claims
    if spec.get("persistentVolumeClaimRetentionPolicy"):
        body["persistentVolumeClaimRetentionPolicy"] = copy.deepcopy(
            spec["persistentVolumeClaimRetentionPolicy"]
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _object_meta(name, namespace, meta, {**object_labels, **final_selector}, config),
        "spec": body,
    }


def _spread(spec: Mapping[str, Any], selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """`common.go` MakeK8sTopologySpreadConstraint: `additionalLabelSelectors` becomes selector labels
    (`OnResource`: all but the shard label; `OnShard`: all), and is dropped (it is no core field)."""
    constraints = []
    for tsc in spec.get("topologySpreadConstraints") or []:
        constraint = copy.deepcopy(dict(tsc))
        mode = constraint.pop("additionalLabelSelectors", None)
        if mode is not None:
            match = constraint.setdefault("labelSelector", {}).setdefault("matchLabels", {})
            for key, value in selector.items():
                if not (mode == "OnResource" and key == "operator.prometheus.io/shard"):
                    match[key] = value
        constraints.append(constraint)
    return constraints


def prometheus_shapes(
    prometheus: Mapping[str, Any], config: OperatorConfig | None = None
) -> list[dict[str, Any]]:
    """The governing Service and one StatefulSet per shard the operator makes of a `Prometheus`."""
    config = config or OperatorConfig()
    meta, spec = prometheus.get("metadata") or {}, prometheus.get("spec") or {}
    if spec.get("paused"):
        return []
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "default")
    shards = max(1, int(spec.get("shards") or 1))
    replicas = 1 if spec.get("replicas") is None or int(spec["replicas"]) < 0 else int(spec["replicas"])
    version = _semver(str(spec.get("version") or DEFAULT_PROMETHEUS_VERSION))
    image = _image(spec, config.prometheus_base_image, f"v{version}")
    port_name = str(spec.get("portName") or "web")
    listen_local = bool(spec.get("listenLocal"))
    volume_name, volume, claims = _data_volume(spec, f"prometheus-{name}-db")
    objects: list[dict[str, Any]] = []
    if not spec.get("serviceName"):
        port = {"name": port_name, "port": 9090, "targetPort": port_name}
        objects.append(_governing_service("prometheus-operated", namespace, [port], "prometheus", config))
    metadata = spec.get("podMetadata") or {}
    sharding = spec.get("shardingStrategy") or {}
    zones = list((sharding.get("topology") or {}).get("values") or [])
    topology = config.topology_sharding and sharding.get("mode") == "Topology" and bool(zones)
    for shard in range(shards):
        selector = {
            **MANAGED_BY,
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/instance": name,
            "operator.prometheus.io/name": name,
            "prometheus": name,
            "operator.prometheus.io/shard": str(shard),
        }
        main = {
            "name": "prometheus",
            "image": image,
            "resources": copy.deepcopy(spec.get("resources") or {}),
            "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
            "volumeMounts": _mounts(volume_name, "/prometheus", spec),
        }
        if not listen_local:
            main["ports"] = [{"name": port_name, "containerPort": 9090, "protocol": "TCP"}]
        pod = _pod_spec(
            spec,
            [main, _reloader("config-reloader", "reloader-web", 8080, listen_local, config)],
            [_reloader("init-config-reloader", "reloader-init", 8081, listen_local, config)],
            [volume] if volume else [],
        )
        pod["automountServiceAccountToken"] = spec.get("automountServiceAccountToken", True) is not False
        if spec.get("reloadStrategy") == "ProcessSignal":
            pod["shareProcessNamespace"] = True
        if topology:
            pod["nodeSelector"] = {**(pod.get("nodeSelector") or {}), ZONE_KEY: zones[shard % len(zones)]}
        spread = _spread(spec, {**selector, **config.labels})
        if spread:
            pod["topologySpreadConstraints"] = spread
        objects.append(
            _statefulset(
                f"prometheus-{name}" + (f"-shard-{shard}" if shard else ""),
                namespace,
                meta,
                spec,
                object_labels={"operator.prometheus.io/mode": "server"},
                selector=selector,
                pod_labels={
                    "app.kubernetes.io/version": version,
                    **(metadata.get("labels") or {}),
                    **selector,
                },
                pod_annotations={DEFAULT_CONTAINER: "prometheus", **(metadata.get("annotations") or {})},
                pod=pod,
                replicas=replicas,
                service=str(spec.get("serviceName") or "prometheus-operated"),
                claims=copy.deepcopy(claims),
                config=config,
            )
        )
    return objects


def alertmanager_shapes(
    alertmanager: Mapping[str, Any], config: OperatorConfig | None = None
) -> list[dict[str, Any]]:
    """The governing Service and the StatefulSet the operator makes of an `Alertmanager`."""
    config = config or OperatorConfig()
    meta, spec = alertmanager.get("metadata") or {}, alertmanager.get("spec") or {}
    if spec.get("paused"):
        return []
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "default")
    replicas = 1 if spec.get("replicas") is None else max(0, int(spec["replicas"]))
    version = str(spec.get("version") or DEFAULT_ALERTMANAGER_VERSION)
    image = _image(spec, config.alertmanager_base_image, version)
    port_name = str(spec.get("portName") or "web")
    listen_local = bool(spec.get("listenLocal"))
    resources = copy.deepcopy(spec.get("resources") or {})
    resources.setdefault("requests", {}).setdefault("memory", "200Mi")
    volume_name, volume, claims = _data_volume(spec, f"alertmanager-{name}-db")
    objects: list[dict[str, Any]] = []
    if not spec.get("serviceName"):
        ports = [
            {"name": port_name, "port": 9093, "targetPort": port_name, "protocol": "TCP"},
            {"name": "tcp-mesh", "port": 9094, "targetPort": "mesh-tcp", "protocol": "TCP"},
            {"name": "udp-mesh", "port": 9094, "targetPort": "mesh-udp", "protocol": "UDP"},
        ]
        objects.append(
            _governing_service(
                "alertmanager-operated",
                namespace,
                ports,
                "alertmanager",
                config,
                publishNotReadyAddresses=True,
            )
        )
    selector = {
        "app.kubernetes.io/name": "alertmanager",
        **MANAGED_BY,
        "app.kubernetes.io/instance": name,
        "alertmanager": name,
    }
    ports = [
        {"name": "mesh-tcp", "containerPort": 9094, "protocol": "TCP"},
        {"name": "mesh-udp", "containerPort": 9094, "protocol": "UDP"},
    ]
    if not listen_local:
        ports.insert(0, {"name": port_name, "containerPort": 9093, "protocol": "TCP"})
    main = {
        "name": "alertmanager",
        "image": image,
        "ports": ports,
        "resources": resources,
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
        "volumeMounts": _mounts(volume_name, "/alertmanager", spec),
    }
    pod = _pod_spec(
        spec,
        [main, _reloader("config-reloader", "reloader-web", 8080, listen_local, config)],
        [_reloader("init-config-reloader", "reloader-init", 8081, listen_local, config)],
        [volume] if volume else [],
    )
    if spec.get("automountServiceAccountToken") is not None:
        pod["automountServiceAccountToken"] = bool(spec["automountServiceAccountToken"])
    if spec.get("topologySpreadConstraints"):
        pod["topologySpreadConstraints"] = copy.deepcopy(spec["topologySpreadConstraints"])
    metadata = spec.get("podMetadata") or {}
    objects.append(
        _statefulset(
            f"alertmanager-{name}",
            namespace,
            meta,
            spec,
            object_labels={},
            selector=selector,
            pod_labels={
                "app.kubernetes.io/version": _semver(version),
                **(metadata.get("labels") or {}),
                **selector,
            },
            pod_annotations={**(metadata.get("annotations") or {}), DEFAULT_CONTAINER: "alertmanager"},
            pod=pod,
            replicas=replicas,
            service=str(spec.get("serviceName") or "alertmanager-operated"),
            claims=claims,
            config=config,
        )
    )
    return objects


def operator_shapes(
    objects: Sequence[Mapping[str, Any]], default_namespace: str = "default"
) -> list[tuple[Mapping[str, Any], list[dict[str, Any]]]]:
    """(custom resource, the objects the operator would create) for every Prometheus and Alertmanager.

    A governing Service is shared by all resources of a kind in a namespace, so it comes once, with the first.
    """
    config = operator_config(objects)
    seen: set[tuple[str, str]] = set()
    shapes: list[tuple[Mapping[str, Any], list[dict[str, Any]]]] = []
    for obj in objects:
        if not str(obj.get("apiVersion", "")).startswith(GROUP):
            continue
        make = {"Prometheus": prometheus_shapes, "Alertmanager": alertmanager_shapes}.get(
            str(obj.get("kind"))
        )
        if make is None:
            continue
        resource = copy.deepcopy(dict(obj))
        resource.setdefault("metadata", {}).setdefault("namespace", default_namespace)
        made = []
        for shape in make(resource, config):
            key = (shape["metadata"]["namespace"], shape["metadata"]["name"])
            if shape["kind"] == "Service":
                if key in seen:
                    continue
                seen.add(key)
            made.append(shape)
        shapes.append((obj, made))
    return shapes
