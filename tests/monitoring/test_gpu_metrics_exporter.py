"""The DCGM exporter for device-plugin GPU pools (components/platform/monitoring/gpu_metrics.py): planned,
pinned and placed on exactly those pools where monitoring is on; absent on GPU-operator-only stacks and
without monitoring; scraped through its ServiceMonitor and admitted by its ingress policy; rendered by the
vendored chart into a pod that adds no capability and exports every DCGM series KIVA queries."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from components.platform.monitoring.gpu_metrics import (
    COUNTERS,
    DCGM_EXPORTER_POD_LABELS,
    GpuMetricsArgs,
    scrape_policy,
)
from components.platform.monitoring.metric_catalogue import catalogued
from infra import versions
from infra.offline.engine import Plan, run_program
from infra.twin.charts import REPO_CHARTS, render_release
from infra.twin.nodes import TwinNode
from infra.twin.report import TwinReport
from infra.twin.run import _gpu_metrics_coverage
from infra.twin.settle import ClusterState, PodState
from tests.conftest import _committed_plan, stack_config, stack_file_with
from tests.platform.conftest import find, objects_of, one

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kiva-gpu-metrics"
PROMETHEUS = {
    "app.kubernetes.io/name": "prometheus",
    "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
}
CATALOGUE_FILE = "tests/monitoring/exported_metrics.json"


def _releases(plan: Plan, chart: str) -> list[Any]:
    return [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == chart]


def _exporter(plan: Plan) -> dict[str, Any]:
    (release,) = _releases(plan, "dcgm-exporter")
    return release.inputs


def _affinity_pools(values: dict[str, Any]) -> list[str]:
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (term,) = terms["nodeSelectorTerms"]
    (expression,) = term["matchExpressions"]
    assert (expression["key"], expression["operator"]) == ("kiva.platform/gpu-pool", "In")
    return list(expression["values"])


@cache
def _mixed_plan() -> Plan:
    """dev with a second, GPU-operator pool running a model of its own next to the device-plugin pool t4."""
    pools = [
        *stack_config("dev")["kiva:gpuPools"],
        {
            "name": "a100",
            "vmSize": "Standard_NC24ads_A100_v4",
            "minCount": 0,
            "maxCount": 1,
            "driver": "operator",
        },
    ]
    (model,) = stack_config("dev")["kiva:models"]
    models = [
        model,
        {
            **model,
            "name": "qwen-2-5-7b",
            "huggingFaceId": "Qwen/Qwen2.5-7B-Instruct",
            "servedName": "qwen",
            "parametersBillion": 7.6,
            "pool": "a100",
            "gated": False,
        },
    ]
    return run_program(stack_file_with("dev", {"kiva:gpuPools": pools, "kiva:models": models}))


def test_dev_plans_the_pinned_exporter_in_its_privileged_namespace_after_the_monitoring_release() -> None:
    plan = _committed_plan("dev")
    (release,) = _releases(plan, "dcgm-exporter")
    inputs = release.inputs
    assert (inputs["name"], inputs["namespace"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (
        "dcgm-exporter",
        NAMESPACE,
        "4.6.0",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
    )
    assert inputs["version"] == versions.DCGM_EXPORTER.version
    assert inputs["values"]["image"] == {
        "repository": "nvcr.io/nvidia/k8s/dcgm-exporter",
        "tag": "4.4.1-4.6.0-distroless",
    }
    (monitoring,) = _releases(plan, "kube-prometheus-stack")
    assert monitoring.urn in release.dependencies
    namespace = one(objects_of(plan), "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_the_exporter_runs_the_image_the_gpu_operator_runs_on_its_pools() -> None:
    """Both kinds of pool export the same series: the tag the metric catalogue was extracted from."""
    exporters = json.loads((REPO_CHARTS.parent / CATALOGUE_FILE).read_text())["exporters"]
    assert exporters["dcgm-exporter"]["app_version"] == versions.DCGM_EXPORTER_TAG


def test_dev_selects_exactly_the_device_plugin_pools_and_tolerates_what_the_device_plugin_does() -> None:
    plan = _committed_plan("dev")
    values = _exporter(plan)["values"]
    (plugin,) = _releases(plan, "nvidia-device-plugin")
    assert _affinity_pools(values) == ["t4"] == _affinity_pools(plugin.inputs["values"])
    assert values["tolerations"] == plugin.inputs["values"]["tolerations"]
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in values[
        "tolerations"
    ]
    assert "runtimeClassName" not in values  # AKS: the GPU nodes' default runtime is NVIDIA's
    assert values["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }


def test_a_stack_with_both_kinds_of_pool_runs_the_exporter_on_the_device_plugin_pool_only() -> None:
    plan = _mixed_plan()
    assert _affinity_pools(_exporter(plan)["values"]) == ["t4"]
    (operator,) = _releases(plan, "gpu-operator")
    assert operator.inputs["values"]["dcgmExporter"] == {"serviceMonitor": {"enabled": True}}


def test_gpu_operator_only_stacks_plan_no_exporter_of_their_own() -> None:
    plan = _committed_plan("prod")
    assert _releases(plan, "gpu-operator") and not _releases(plan, "dcgm-exporter")
    assert not find(objects_of(plan), "Namespace", NAMESPACE)


@pytest.mark.parametrize("stack", ["local", "dev-without-monitoring"])
def test_no_exporter_without_monitoring(stack: str) -> None:
    if stack == "local":
        plan = _committed_plan("local")
    else:
        plan = run_program(stack_file_with("dev", {"kiva:monitoring": {"enabled": False}}))
        assert _releases(plan, "nvidia-device-plugin")  # the pool is still there
    assert not _releases(plan, "dcgm-exporter")
    assert not find(objects_of(plan), "Namespace", NAMESPACE)


def test_only_prometheus_reaches_the_exporter_port() -> None:
    objects = objects_of(_committed_plan("dev"))
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in find(objects, "NetworkPolicy")
        if p["metadata"]["namespace"] == NAMESPACE
    }
    assert policies["kiva-gpu-metrics-default-deny-ingress"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }
    assert policies["kiva-gpu-metrics-dcgm-exporter"] == {
        "podSelector": {"matchLabels": DCGM_EXPORTER_POD_LABELS},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kiva-monitoring"}
                        },
                        "podSelector": {"matchLabels": PROMETHEUS},
                    }
                ],
                "ports": [{"port": 9400, "protocol": "TCP"}],
            }
        ],
    }


def test_with_the_clusters_own_prometheus_its_namespace_reaches_the_exporter() -> None:
    """`monitoring.install: false` (existing clusters only): Prometheus's pods are the cluster's, so by namespace."""
    args = GpuMetricsArgs(("t4",), (), prometheus_namespace="monitoring", prometheus_pods=False)
    (rule,) = scrape_policy(args).ingress
    (peer,) = rule.from_
    assert peer.namespace_selector.match_labels == {"kubernetes.io/metadata.name": "monitoring"}
    assert peer.pod_selector is None
    assert [(port.port, port.protocol) for port in rule.ports] == [(9400, "TCP")]


@cache
def _rendered() -> dict[tuple[str, str], dict[str, Any]]:
    """The dev release rendered by the vendored chart, as `kiva twin` renders it."""
    rendered = render_release(_exporter(_committed_plan("dev")), [REPO_CHARTS])
    assert not rendered.hooks and not rendered.crds
    return {(o["kind"], o["metadata"]["name"]): o for o in rendered.objects}


def test_the_servicemonitor_selects_the_service_that_selects_the_policys_pods() -> None:
    objects = _rendered()
    monitor = objects[("ServiceMonitor", "dcgm-exporter")]
    service = objects[("Service", "dcgm-exporter")]
    daemonset = objects[("DaemonSet", "dcgm-exporter")]
    assert monitor["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kiva"
    assert monitor["metadata"]["labels"]["app.kubernetes.io/component"] == "monitoring"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0] == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "30s",
        "honorLabels": False,
        "relabelings": [],
        "metricRelabelings": [],
    }
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9400, "targetPort": 9400, "protocol": "TCP"}
    ]
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert DCGM_EXPORTER_POD_LABELS.items() <= pod_labels.items()


def test_the_exporter_pod_adds_no_capability_and_mounts_only_the_pod_resources_directory() -> None:
    spec = _rendered()[("DaemonSet", "dcgm-exporter")]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == "nvcr.io/nvidia/k8s/dcgm-exporter:4.4.1-4.6.0-distroless"
    assert container["securityContext"] == {
        "runAsNonRoot": False,
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": [], "drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"name": "NO_SETCAP", "value": "true"} in container["env"]
    host_paths = [v for v in spec["volumes"] if "hostPath" in v]
    assert host_paths == [
        {"name": "pod-gpu-resources", "hostPath": {"path": "/var/lib/kubelet/pod-resources"}}
    ]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "pod-gpu-resources"]
    assert mount["readOnly"] is True
    assert not spec.get("hostPID") and not spec.get("hostNetwork")


def test_the_counters_export_every_catalogued_dcgm_series_and_no_profiling_field() -> None:
    objects = _rendered()
    csv = objects[("ConfigMap", "exporter-metrics-config-map")]["data"]["metrics"]
    fields = {
        line.split(",")[0].strip() for line in csv.splitlines() if line.strip() and not line.startswith("#")
    }
    assert fields == {field for field, _, _ in COUNTERS}
    assert catalogued()["dcgm-exporter"] <= fields
    assert not {f for f in fields if f.startswith("DCGM_FI_PROF_")}
    # Every series of the operator's exporter (the catalogue's extraction) but the profiling ones, same types.
    families = json.loads((REPO_CHARTS.parent / CATALOGUE_FILE).read_text())["exporters"]["dcgm-exporter"][
        "families"
    ]
    assert {f: kind for f, kind, _ in COUNTERS if kind != "label"} == {
        name: kind for name, kind in families.items() if not name.startswith("DCGM_FI_PROF_")
    }


def _coverage_problems(bound_nodes: list[str]) -> list[str]:
    """The twin's coverage check on the rendered dev DaemonSet, two t4 nodes, one general node."""
    daemonset = {**_rendered()[("DaemonSet", "dcgm-exporter")]}
    daemonset["metadata"] = {**daemonset["metadata"], "namespace": NAMESPACE}
    gpu = {"kiva.platform/gpu-pool": "t4"}
    twin_nodes = [
        TwinNode("t4-0", "t4", gpu, [], {}, gpus=1),
        TwinNode("t4-1", "t4", gpu, [], {}, gpus=1),
        TwinNode("general-0", "general", {}, [], {}),
    ]
    owner = f"DaemonSet {NAMESPACE}/dcgm-exporter"
    pods = [PodState(NAMESPACE, f"dcgm-exporter-{n}", owner, n, "True", "") for n in bound_nodes]
    report = TwinReport("dev", "twin")
    _gpu_metrics_coverage(report, ClusterState(pods, {}, [], [daemonset], []), twin_nodes)
    return [problem.subject for problem in report.uncovered]


def test_the_twin_reports_a_device_plugin_gpu_node_without_an_exporter_pod() -> None:
    assert _coverage_problems(["t4-0", "t4-1"]) == []
    assert _coverage_problems(["t4-0"]) == [f"DaemonSet {NAMESPACE}/dcgm-exporter on node t4-1 (t4)"]
