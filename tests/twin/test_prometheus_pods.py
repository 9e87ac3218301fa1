"""The Prometheus Operator's StatefulSets, as the twin creates them (`infra/twin/prometheus_pods.py`).

Unit tests build the shapes from hand-written `Prometheus`/`Alertmanager` resources and compare them with what
prometheus-operator v0.93 `pkg/prometheus/server/statefulset.go` and `pkg/alertmanager/statefulset.go` make.
The end-to-end test runs the twin on the `dev` stack with monitoring on and reads back, from the control
plane, where the Prometheus and Alertmanager pods were bound and whether their claims were bound.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.offline.engine import run_program
from infra.twin import control_plane
from infra.twin.api import Api
from infra.twin.nodes import POOL_LABEL
from infra.twin.prometheus_pods import (
    OperatorConfig,
    alertmanager_shapes,
    operator_config,
    operator_shapes,
    prometheus_shapes,
)
from infra.twin.run import twin
from tests.conftest import stack_config, stack_file_with

PROMETHEUS: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Prometheus",
    "metadata": {"name": "main", "namespace": "mon", "labels": {"release": "kps"}},
    "spec": {
        "replicas": 2,
        "shards": 2,
        "version": "v3.14.0-distroless",
        "image": "quay.io/prometheus/prometheus:v3.14.0-distroless",
        "portName": "http-web",
        "serviceAccountName": "kps-prometheus",
        "priorityClassName": "monitoring",
        "nodeSelector": {"kiva.platform/pool": "general"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "additionalLabelSelectors": "OnResource",
            }
        ],
        "podMetadata": {"labels": {"team": "platform"}, "annotations": {"note": "x"}},
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
        "securityContext": {
            "runAsUser": 1000,
            "runAsGroup": 2000,
            "fsGroup": 2000,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "storage": {
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": "managed-csi-premium",
                    "resources": {"requests": {"storage": "10Gi"}},
                }
            }
        },
    },
}
ALERTMANAGER: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Alertmanager",
    "metadata": {"name": "main", "namespace": "mon"},
    "spec": {
        "serviceAccountName": "kps-alertmanager",
        "resources": {"requests": {"cpu": "50m"}},
        "storage": {
            "volumeClaimTemplate": {
                "metadata": {"name": "am-data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        },
    },
}
PROMETHEUS_SELECTOR = {
    "app.kubernetes.io/managed-by": "prometheus-operator",
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/instance": "main",
    "operator.prometheus.io/name": "main",
    "prometheus": "main",
}
RESTRICTED_CONTAINER = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def _sets(shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in shapes if s["kind"] == "StatefulSet"]


def _pod(statefulset: dict[str, Any]) -> dict[str, Any]:
    return statefulset["spec"]["template"]["spec"]


def _container(statefulset: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in _pod(statefulset)["containers"] if c["name"] == name)


def test_prometheus_one_statefulset_per_shard_with_the_operators_labels() -> None:
    shapes = prometheus_shapes(PROMETHEUS)
    sets = _sets(shapes)
    assert [s["metadata"]["name"] for s in sets] == ["prometheus-main", "prometheus-main-shard-1"]
    assert [s["spec"]["replicas"] for s in sets] == [2, 2]
    for shard, statefulset in enumerate(sets):
        selector = {**PROMETHEUS_SELECTOR, "operator.prometheus.io/shard": str(shard)}
        assert statefulset["spec"]["selector"] == {"matchLabels": selector}
        assert statefulset["spec"]["template"]["metadata"]["labels"] == {
            "app.kubernetes.io/version": "3.14.0-distroless",
            "team": "platform",
            **selector,
        }
        assert statefulset["metadata"]["labels"] == {
            "release": "kps",
            "operator.prometheus.io/mode": "server",
            **selector,
        }
        assert statefulset["spec"]["serviceName"] == "prometheus-operated"
        assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    annotations = sets[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "kubectl.kubernetes.io/default-container": "prometheus",
        "note": "x",
        "kiva.twin/shape": "prometheus-operator",
    }
    services = [s for s in shapes if s["kind"] == "Service"]
    assert [(s["metadata"]["name"], s["spec"]["selector"]) for s in services] == [
        ("prometheus-operated", {"app.kubernetes.io/name": "prometheus"})
    ]
    assert services[0]["spec"]["ports"] == [{"name": "http-web", "port": 9090, "targetPort": "http-web"}]


def test_prometheus_storage_becomes_the_statefulsets_claim_template() -> None:
    statefulset = _sets(prometheus_shapes(PROMETHEUS))[0]
    assert statefulset["spec"]["volumeClaimTemplates"] == [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "prometheus-main-db"},
            "spec": {
                "storageClassName": "managed-csi-premium",
                "resources": {"requests": {"storage": "10Gi"}},
                "accessModes": ["ReadWriteOnce"],
            },
        }
    ]
    assert _container(statefulset, "prometheus")["volumeMounts"] == [
        {"name": "prometheus-main-db", "mountPath": "/prometheus"}
    ]
    assert "volumes" not in _pod(statefulset)
    without = copy.deepcopy(PROMETHEUS)
    del without["spec"]["storage"]
    pod = _pod(_sets(prometheus_shapes(without))[0])
    assert pod["volumes"] == [{"name": "prometheus-main-db", "emptyDir": {}}]
    assert "volumeClaimTemplates" not in _sets(prometheus_shapes(without))[0]["spec"]


def test_prometheus_scheduling_fields_are_carried_over() -> None:
    pod = _pod(_sets(prometheus_shapes(PROMETHEUS))[1])
    spec = PROMETHEUS["spec"]
    assert pod["nodeSelector"] == {"kiva.platform/pool": "general"}
    assert pod["tolerations"] == spec["tolerations"]
    assert pod["affinity"] == spec["affinity"]
    assert pod["priorityClassName"] == "monitoring"
    assert pod["serviceAccountName"] == "kps-prometheus"
    assert pod["automountServiceAccountToken"] is True
    # `OnResource`: the resource's selector labels but the shard's; the field itself is no core field.
    assert pod["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": PROMETHEUS_SELECTOR},
        }
    ]
    assert _container(_sets(prometheus_shapes(PROMETHEUS))[0], "prometheus")["resources"] == spec["resources"]


def test_prometheus_topology_sharding_pins_each_shard_to_its_zone() -> None:
    zoned = copy.deepcopy(PROMETHEUS)
    zoned["spec"]["shardingStrategy"] = {"mode": "Topology", "topology": {"values": ["zone-a", "zone-b"]}}
    selectors = [_pod(s)["nodeSelector"] for s in _sets(prometheus_shapes(zoned))]
    assert selectors == [
        {"kiva.platform/pool": "general", "topology.kubernetes.io/zone": "zone-a"},
        {"kiva.platform/pool": "general", "topology.kubernetes.io/zone": "zone-b"},
    ]
    gated = OperatorConfig(topology_sharding=False)
    assert _pod(_sets(prometheus_shapes(zoned, gated))[0])["nodeSelector"] == {
        "kiva.platform/pool": "general"
    }


def test_security_contexts_are_the_resources_and_the_operators() -> None:
    for statefulset in [*_sets(prometheus_shapes(PROMETHEUS)), *_sets(alertmanager_shapes(ALERTMANAGER))]:
        pod = _pod(statefulset)
        assert pod["terminationGracePeriodSeconds"] == 0
        containers = pod["containers"] + pod["initContainers"]
        assert [c["securityContext"] for c in containers] == [RESTRICTED_CONTAINER] * 3
    assert (
        _pod(_sets(prometheus_shapes(PROMETHEUS))[0])["securityContext"]
        == PROMETHEUS["spec"]["securityContext"]
    )
    assert "securityContext" not in _pod(_sets(alertmanager_shapes(ALERTMANAGER))[0])


def test_alertmanager_statefulset_service_and_defaults() -> None:
    shapes = alertmanager_shapes(ALERTMANAGER)
    (statefulset,) = _sets(shapes)
    selector = {
        "app.kubernetes.io/name": "alertmanager",
        "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": "main",
        "alertmanager": "main",
    }
    assert statefulset["metadata"]["name"] == "alertmanager-main"
    assert statefulset["spec"]["replicas"] == 1
    assert statefulset["spec"]["selector"] == {"matchLabels": selector}
    assert statefulset["spec"]["template"]["metadata"]["labels"] == {
        "app.kubernetes.io/version": "0.33.1",
        **selector,
    }
    main = _container(statefulset, "alertmanager")
    assert main["image"] == "quay.io/prometheus/alertmanager:v0.33.1"
    assert main["resources"] == {"requests": {"cpu": "50m", "memory": "200Mi"}}
    assert [p["name"] for p in main["ports"]] == ["web", "mesh-tcp", "mesh-udp"]
    assert main["volumeMounts"] == [{"name": "am-data", "mountPath": "/alertmanager"}]
    assert [c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]] == ["am-data"]
    assert _pod(statefulset)["serviceAccountName"] == "kps-alertmanager"
    (service,) = [s for s in shapes if s["kind"] == "Service"]
    assert service["metadata"]["name"] == "alertmanager-operated"
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("web", 9093, "TCP"),
        ("tcp-mesh", 9094, "TCP"),
        ("udp-mesh", 9094, "UDP"),
    ]
    assert statefulset["spec"]["serviceName"] == "alertmanager-operated"


def test_resource_containers_patch_the_operators_by_name() -> None:
    patched = copy.deepcopy(ALERTMANAGER)
    patched["spec"]["containers"] = [
        {"name": "config-reloader", "resources": {"limits": {"memory": "99Mi"}}},
        {"name": "sidecar", "image": "example.org/sidecar:1"},
    ]
    pod = _pod(_sets(alertmanager_shapes(patched, OperatorConfig()))[0])
    assert [c["name"] for c in pod["containers"]] == ["alertmanager", "config-reloader", "sidecar"]
    assert pod["containers"][1]["resources"] == {
        "requests": {"cpu": "10m", "memory": "50Mi"},
        "limits": {"cpu": "10m", "memory": "99Mi"},
    }


def test_operator_flags_come_from_its_deployment() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kps-operator", "namespace": "mon"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "operator",
                            "image": "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
                            "args": [
                                "--prometheus-config-reloader=example.org/reloader:v1",
                                "--config-reloader-cpu-request=10m",
                                "--config-reloader-cpu-limit=0",
                                "--config-reloader-memory-request=32Mi",
                                "--config-reloader-memory-limit=64Mi",
                                "--labels=owner=kiva",
                            ],
                        }
                    ]
                }
            }
        },
    }
    config = operator_config([deployment])
    assert config.reloader_image == "example.org/reloader:v1"
    assert config.reloader_resources == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"memory": "64Mi"},
    }
    assert config.labels == {"owner": "kiva"}
    assert operator_config([]) == OperatorConfig()
    (statefulset,) = _sets(alertmanager_shapes(ALERTMANAGER, config))
    assert statefulset["spec"]["selector"]["matchLabels"]["owner"] == "kiva"
    assert _container(statefulset, "config-reloader")["image"] == "example.org/reloader:v1"


def test_operator_shapes_share_the_governing_service_and_skip_paused_resources() -> None:
    second = copy.deepcopy(PROMETHEUS)
    second["metadata"]["name"] = "other"
    paused = copy.deepcopy(ALERTMANAGER)
    paused["spec"]["paused"] = True
    no_namespace = copy.deepcopy(ALERTMANAGER)
    del no_namespace["metadata"]["namespace"]
    shapes = operator_shapes([PROMETHEUS, second, paused, no_namespace, {"kind": "ConfigMap"}], "release-ns")
    kinds = [
        [(s["kind"], s["metadata"]["namespace"], s["metadata"]["name"]) for s in made] for _, made in shapes
    ]
    assert kinds == [
        [
            ("Service", "mon", "prometheus-operated"),
            ("StatefulSet", "mon", "prometheus-main"),
            ("StatefulSet", "mon", "prometheus-main-shard-1"),
        ],
        [("StatefulSet", "mon", "prometheus-other"), ("StatefulSet", "mon", "prometheus-other-shard-1")],
        [],
        [
            ("Service", "release-ns", "alertmanager-operated"),
            ("StatefulSet", "release-ns", "alertmanager-main"),
        ],
    ]


@pytest.mark.twin
def test_twin_places_prometheus_and_alertmanager_on_the_general_pool(twin_env: dict) -> None:
    """dev with monitoring on (a stack-file fixture, so this holds whatever dev's file says about monitoring)."""
    monitoring = dict(stack_config("dev").get("kiva:monitoring") or {})
    monitoring["enabled"] = True
    plan = run_program(stack_file_with("dev", {"kiva:monitoring": monitoring}))
    plane = control_plane.start(twin_env["tools"])
    try:
        report = twin(plan, kubeconfig=plane.kubeconfig)
        api = Api(plane.kubeconfig)
        try:
            pods = (api.get("/api/v1/namespaces/kiva-monitoring/pods").json or {})["items"]
            claims = (api.get("/api/v1/namespaces/kiva-monitoring/persistentvolumeclaims").json or {})[
                "items"
            ]
            pools = {
                n["metadata"]["name"]: n["metadata"]["labels"][POOL_LABEL]
                for n in (api.get("/api/v1/nodes").json or {})["items"]
            }
        finally:
            api.close()
    finally:
        plane.stop()
    shaped = {
        p["metadata"]["name"]: p
        for p in pods
        if (p["metadata"].get("annotations") or {}).get("kiva.twin/shape") == "prometheus-operator"
    }
    assert sorted(shaped) == [
        "alertmanager-kube-prometheus-stack-alertmanager-0",
        "prometheus-kube-prometheus-stack-prometheus-0",
    ], report.text()
    placed = {name: pools.get(pod["spec"].get("nodeName") or "", "unbound") for name, pod in shaped.items()}
    assert placed == dict.fromkeys(shaped, "general"), report.text()
    assert {(c["metadata"]["name"], c["status"]["phase"]) for c in claims} >= {
        (
            "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
            "Bound",
        )
    }, report.text()
    mentioned = [
        p for p in report.rejected + report.unscheduled + report.failed_creates if "prometheus" in p.subject
    ]
    assert mentioned == []
    assert any("Prometheus Operator not running" in note for note in report.notes)
