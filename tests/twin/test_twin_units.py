"""Parts of the twin that need no control plane: usage errors, ordering, operator shapes, warnings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import infra.offline.engine as engine
from infra.cli import main
from infra.offline.engine import Plan
from infra.twin.api import parse_warning
from infra.twin.apply import Unit, dependency_order
from infra.twin.operator_pods import cluster_shapes
from tests.conftest import PROJECT_DIR


def test_no_control_plane_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIVA_K8S_TOOLS", raising=False)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)  # envtest binaries would start a plane
    monkeypatch.setattr(engine, "run_program", lambda stack_file: Plan("kiva", "dev", {}, frozenset(), []))
    result = CliRunner().invoke(main, ["twin", "dev", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2, result.output
    assert "set KIVA_K8S_TOOLS" in result.output
    assert "KUBEBUILDER_ASSETS" in result.output
    assert "Traceback" not in result.output


def test_dependency_order_puts_dependencies_first() -> None:
    units = [Unit("a", [], ["c"]), Unit("b", []), Unit("c", [], ["b"])]
    assert [u.key for u in dependency_order(units)] == ["b", "c", "a"]


def test_warning_header_text() -> None:
    assert parse_warning('299 - "would violate PodSecurity \\"restricted:latest\\""') == (
        'would violate PodSecurity "restricted:latest"'
    )


def test_cnpg_instances_carry_the_operators_anti_affinity_and_wait_for_initdb() -> None:
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "db", "namespace": "kiva"},
        "spec": {
            "instances": 2,
            "storage": {"size": "1Gi", "storageClass": "fast"},
            "affinity": {"podAntiAffinityType": "required", "topologyKey": "topology.kubernetes.io/zone"},
        },
    }
    shapes = cluster_shapes(cluster)
    pods = [s for s in shapes if s["kind"] == "Pod"]
    assert [p["metadata"]["name"] for p in pods] == ["db-1", "db-2"]
    term = pods[0]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "topology.kubernetes.io/zone"
    assert pods[0]["metadata"]["labels"]["cnpg.io/podRole"] == "instance"
    assert pods[0]["metadata"]["annotations"]["kiva.twin/after-job"] == "kiva/db-1-initdb"
    assert pods[0]["spec"]["terminationGracePeriodSeconds"] == 0
    claims = [s for s in shapes if s["kind"] == "PersistentVolumeClaim"]
    assert {c["spec"]["storageClassName"] for c in claims} == {"fast"}
    assert any(s["kind"] == "Job" and s["metadata"]["name"] == "db-1-initdb" for s in shapes)


def test_autoscaled_workloads_are_applied_at_their_maximum() -> None:
    """Without metrics the twin's HPA would keep one replica; capacity is judged at maxReplicas."""
    from infra.twin.apply import Item
    from infra.twin.report import TwinReport
    from infra.twin.run import _at_autoscaler_maximum

    meta = {"name": "kiva-gateway", "namespace": "kiva"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dict(meta), "spec": {}}
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "kiva"}}
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": dict(meta),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "kiva-gateway"}, "maxReplicas": 10},
    }
    report = TwinReport("prod", "")
    _at_autoscaler_maximum(
        [Unit("g", [Item(deployment, "plan"), Item(other, "plan"), Item(hpa, "plan")])], report
    )
    assert deployment["spec"]["replicas"] == 10
    assert "replicas" not in other.get("spec", {})
    assert any("maxReplicas (10)" in note for note in report.notes)


def test_gpu_nodes_without_a_device_plugin_release() -> None:
    """No NVIDIA release in the plan: an existing cluster's declared GPU nodes are advertised by its own
    device plugin (`operators.nvidia.install: false`); GPU nodes the stack creates (AKS) advertise none."""
    from infra.twin.nodes import TwinNode
    from infra.twin.report import TwinReport
    from infra.twin.run import _coverage
    from infra.twin.settle import ClusterState

    def node(name: str, pool: str, declared: bool) -> TwinNode:
        return TwinNode(name, pool, {}, [], {"nvidia.com/gpu": "1"}, gpus=1, declared=declared)

    report = TwinReport(stack="s", cluster="c")
    state = ClusterState(pods=[], failed_creates={}, unsatisfied=[], daemonsets=[], claims=[])
    _coverage(report, state, [node("t4-0", "t4", True), node("aks-gpu-1", "gpu", False)], [])
    assert [p.subject for p in report.uncovered] == ["Node aks-gpu-1 (gpu)"]
    assert report.notes == [
        "the plan installs no NVIDIA device plugin: the GPUs of the declared node pools (t4) are taken as "
        "advertised by the cluster's own device plugin (kiva:operators.nvidia.install: false)"
    ]
