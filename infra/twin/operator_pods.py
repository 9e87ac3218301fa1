"""What the CloudNativePG operator would create from a `Cluster` and a `Pooler`, created by the twin instead.

No operator runs in the twin, so a `Cluster` alone yields no pod. These are the shapes CloudNativePG v1.30
creates (`pkg/specs/pods.go` buildInstance/createClusterPodSpec/CreateAffinitySection, `pkg/specs/jobs.go`,
`pkg/specs/pgbouncer/deployments.go`, `pkg/specs/containers.go` GetSecurityContext), reduced to what
admission and scheduling look at:
- per instance `<cluster>-N`: a Pod with the operator's labels, `spec.inheritedMetadata`, the pod and
  container security contexts, `resources`, `affinity.nodeSelector`/`tolerations`/`nodeAffinity`, the
  generated pod anti-affinity (`enablePodAntiAffinity`, `podAntiAffinityType`, `topologyKey`) plus
  `additionalPodAntiAffinity`, `topologySpreadConstraints`, and its PVCs `<cluster>-N` (and `-wal`) in
  the cluster's StorageClass, so volume binding is judged as for any StatefulSet (see `storage.py`);
- the initdb Job `<cluster>-1-initdb`, placed by the same rules and mounting instance 1's volumes;
- the ServiceAccount `<cluster>` (and `<pooler>`), which admission needs before a pod can name it;
- per Pooler a Deployment `<pooler>` of `spec.instances` PgBouncer pods from `spec.template`.
All carry `kiva.twin/shape: cloudnative-pg` and `terminationGracePeriodSeconds: 0` (pods never run
here); images are the operator's defaults at most, they are never pulled.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

SHAPE = "kiva.twin/shape"
SHAPE_VALUE = "cloudnative-pg"
AFTER = "kiva.twin/after-job"
"""On instance pods: the initdb Job that must finish first (the operator creates instances after it)."""
CNPG_GROUP = "postgresql.cnpg.io/"
POSTGRES_UID = 26
OPERATOR_IMAGE = "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0"
PGBOUNCER_IMAGE = "ghcr.io/cloudnative-pg/pgbouncer:1.24.1"


def _container_security(spec: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        spec.get("securityContext")
        or {
            "seccompProfile": {"type": "RuntimeDefault"},
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        }
    )


def _pod_security(spec: Mapping[str, Any], uid: int, gid: int) -> dict[str, Any]:
    defined = dict(spec.get("podSecurityContext") or {})
    defined.setdefault("runAsUser", uid)
    defined.setdefault("runAsGroup", gid)
    defined.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    if not spec.get("podSecurityContext"):
        defined.update({"runAsNonRoot": True, "fsGroup": gid})
    return defined


def _affinity(name: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
    affinity: dict[str, Any] = {}
    if config.get("enablePodAntiAffinity", True) is not False:
        term = {
            "labelSelector": {
                "matchExpressions": [
                    {"key": "cnpg.io/cluster", "operator": "In", "values": [name]},
                    {"key": "cnpg.io/podRole", "operator": "In", "values": ["instance"]},
                ]
            },
            "topologyKey": config.get("topologyKey") or "kubernetes.io/hostname",
        }
        kind = config.get("podAntiAffinityType") or "preferred"
        if kind == "required":
            affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        elif kind == "preferred":
            affinity["podAntiAffinity"] = {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
            }
    if config.get("additionalPodAffinity"):
        affinity["podAffinity"] = copy.deepcopy(config["additionalPodAffinity"])
    extra = config.get("additionalPodAntiAffinity") or {}
    for key in (
        "requiredDuringSchedulingIgnoredDuringExecution",
        "preferredDuringSchedulingIgnoredDuringExecution",
    ):
        if extra.get(key):
            anti = affinity.setdefault("podAntiAffinity", {})
            anti[key] = [*anti.get(key, []), *copy.deepcopy(extra[key])]
    if config.get("nodeAffinity"):
        affinity["nodeAffinity"] = copy.deepcopy(config["nodeAffinity"])
    return affinity or None


def _labels(cluster: str, **extra: str) -> dict[str, str]:
    return {
        "cnpg.io/cluster": cluster,
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": "cloudnative-pg",
        **extra,
    }


def _meta(name: str, namespace: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": dict(labels or {}),
        "annotations": {SHAPE: SHAPE_VALUE},
    }


def _claim(name: str, namespace: str, cluster: str, storage: Mapping[str, Any], role: str) -> dict[str, Any]:
    template = dict(storage.get("pvcTemplate") or {})
    spec: dict[str, Any] = {
        "accessModes": template.get("accessModes") or ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.get("size") or "1Gi"}},
    }
    if storage.get("storageClass") or template.get("storageClassName"):
        spec["storageClassName"] = storage.get("storageClass") or template.get("storageClassName")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(name, namespace, _labels(cluster, **{"cnpg.io/pvcRole": role})),
        "spec": spec,
    }


def cluster_shapes(cluster: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta, spec = cluster.get("metadata") or {}, cluster.get("spec") or {}
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "default")
    config = spec.get("affinity") or {}
    inherited = spec.get("inheritedMetadata") or {}
    instances = int(spec.get("instances") or 1)
    uid, gid = int(spec.get("postgresUID") or POSTGRES_UID), int(spec.get("postgresGID") or POSTGRES_UID)
    account_meta = _meta(name, namespace, _labels(name))
    account: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account_meta}
    template_meta = (spec.get("serviceAccountTemplate") or {}).get("metadata") or {}
    account_meta["annotations"].update(template_meta.get("annotations") or {})
    account_meta["labels"].update(template_meta.get("labels") or {})
    objects: list[dict[str, Any]] = [account]

    def pod_spec(volumes: list[str]) -> dict[str, Any]:
        pod: dict[str, Any] = {
            "serviceAccountName": name,
            "terminationGracePeriodSeconds": 0,
            "securityContext": _pod_security(spec, uid, gid),
            "containers": [
                {
                    "name": "postgres",
                    "image": spec.get("imageName") or "ghcr.io/cloudnative-pg/postgresql:18",
                    "command": ["/controller/manager", "instance", "run"],
                    "resources": copy.deepcopy(spec.get("resources") or {}),
                    "securityContext": _container_security(spec),
                    "volumeMounts": [{"name": "pgdata", "mountPath": "/var/lib/postgresql/data"}]
                    + (
                        [{"name": "pg-wal", "mountPath": "/var/lib/postgresql/wal"}]
                        if len(volumes) > 1
                        else []
                    ),
                }
            ],
            "volumes": [
                {"name": volume_name, "persistentVolumeClaim": {"claimName": claim}}
                for volume_name, claim in zip(("pgdata", "pg-wal"), volumes, strict=False)
            ],
        }
        for key, value in (
            ("affinity", _affinity(name, config)),
            ("tolerations", config.get("tolerations")),
            ("nodeSelector", config.get("nodeSelector")),
            ("topologySpreadConstraints", spec.get("topologySpreadConstraints")),
            ("priorityClassName", spec.get("priorityClassName")),
            ("schedulerName", spec.get("schedulerName")),
        ):
            if value:
                pod[key] = copy.deepcopy(value)
        return pod

    initdb = (spec.get("bootstrap") or {}).get("initdb") is not None or not spec.get("bootstrap")
    first_volumes: list[str] = []
    for serial in range(1, instances + 1):
        instance = f"{name}-{serial}"
        volumes = [instance]
        objects.append(_claim(instance, namespace, name, spec.get("storage") or {}, "PG_DATA"))
        if spec.get("walStorage"):
            volumes.append(f"{instance}-wal")
            objects.append(_claim(f"{instance}-wal", namespace, name, spec["walStorage"], "PG_WAL"))
        if serial == 1:
            first_volumes = volumes
        labels = {
            **(inherited.get("labels") or {}),
            **_labels(name, **{"cnpg.io/instanceName": instance, "cnpg.io/podRole": "instance"}),
        }
        metadata = _meta(instance, namespace, labels)
        metadata["annotations"].update(inherited.get("annotations") or {})
        metadata["annotations"]["cnpg.io/nodeSerial"] = str(serial)
        if initdb:
            metadata["annotations"][AFTER] = f"{namespace}/{name}-1-initdb"
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec(volumes)})

    if initdb:
        job_labels = {
            **(inherited.get("labels") or {}),
            **_labels(name, **{"cnpg.io/instanceName": f"{name}-1", "cnpg.io/jobRole": "initdb"}),
        }
        job_pod = pod_spec(first_volumes)
        job_pod["restartPolicy"] = "Never"
        job_pod["containers"][0]["name"] = "initdb"
        objects.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": _meta(f"{name}-1-initdb", namespace, job_labels),
                "spec": {
                    "backoffLimit": 6,
                    "template": {
                        "metadata": {"labels": job_labels, "annotations": {SHAPE: SHAPE_VALUE}},
                        "spec": job_pod,
                    },
                },
            }
        )
    return objects


def pooler_shapes(
    pooler: Mapping[str, Any], clusters: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    meta, spec = pooler.get("metadata") or {}, pooler.get("spec") or {}
    name, namespace = str(meta["name"]), str(meta.get("namespace") or "default")
    cluster_name = str((spec.get("cluster") or {}).get("name") or "")
    cluster_spec = (clusters.get((namespace, cluster_name)) or {}).get("spec") or {}
    labels = {
        "cnpg.io/poolerName": name,
        "cnpg.io/cluster": cluster_name,
        "cnpg.io/podRole": "pooler",
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": cluster_name,
        "app.kubernetes.io/component": "pooler",
        "app.kubernetes.io/managed-by": "cloudnative-pg",
    }
    template = copy.deepcopy(spec.get("template") or {})
    pod = template.get("spec") or {}
    template_meta = template.get("metadata") or {}
    containers = pod.get("containers") or []
    pgbouncer = next((c for c in containers if c.get("name") == "pgbouncer"), None)
    if pgbouncer is None:
        pgbouncer = {"name": "pgbouncer"}
        containers.append(pgbouncer)
    pgbouncer.setdefault("image", PGBOUNCER_IMAGE)
    pgbouncer["securityContext"] = _container_security(cluster_spec)
    pod["containers"] = containers
    pod["initContainers"] = [
        {
            "name": "bootstrap-controller",
            "image": OPERATOR_IMAGE,
            "command": ["/manager", "bootstrap", "/controller/manager"],
            "resources": copy.deepcopy(pgbouncer.get("resources") or {}),
            "securityContext": _container_security(cluster_spec),
        }
    ]
    pod["securityContext"] = _pod_security({}, 998, 996)
    pod["serviceAccountName"] = name
    pod["terminationGracePeriodSeconds"] = 0
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, namespace, labels)}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, labels),
        "spec": {
            "replicas": int(spec.get("instances") or 1),
            "selector": {"matchLabels": {"cnpg.io/poolerName": name}},
            "template": {
                "metadata": {
                    "labels": {**(template_meta.get("labels") or {}), **labels},
                    "annotations": {**(template_meta.get("annotations") or {}), SHAPE: SHAPE_VALUE},
                },
                "spec": pod,
            },
        },
    }
    return [account, deployment]


def operator_shapes(
    objects: Sequence[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], list[dict[str, Any]]]]:
    """(custom resource, the objects its operator would create) for every CloudNativePG Cluster and Pooler."""
    clusters = {
        (str(o["metadata"].get("namespace") or "default"), str(o["metadata"]["name"])): o
        for o in objects
        if o.get("kind") == "Cluster" and str(o.get("apiVersion", "")).startswith(CNPG_GROUP)
    }
    shapes: list[tuple[Mapping[str, Any], list[dict[str, Any]]]] = []
    for obj in objects:
        if not str(obj.get("apiVersion", "")).startswith(CNPG_GROUP):
            continue
        if obj.get("kind") == "Cluster":
            shapes.append((obj, cluster_shapes(obj)))
        elif obj.get("kind") == "Pooler":
            shapes.append((obj, pooler_shapes(obj, clusters)))
    return shapes
