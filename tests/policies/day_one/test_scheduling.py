"""Day one, scheduling: every pod finds a node; re-introduced defects of issue 9 (1, 4, 14) are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kiva_policies.day_one import scheduling, vm_sizes
from kiva_policies.day_one.nodes import Taint
from kiva_policies.day_one.pods import PodGroup
from kiva_policies.day_one.scheduling import _expression_holds, tolerates

from infra.cli import main
from infra.settings.gpu_skus import GPU_SKUS
from tests.policies.day_one.plans import (
    AGENT_POOL,
    CNPG_CLUSTER,
    RELEASE,
    STATEFUL_SET,
    by_type_and_name,
    clone,
    find,
    findings,
    mutate,
    resources_of,
    without,
)

PLACED = "kiva-day-one-pods-placed"
COVERED = "kiva-day-one-gpu-nodes-covered"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def messages(found) -> str:
    return "\n".join(f.message for f in found)


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_place_every_pod(stack: str) -> None:
    resources = resources_of(stack)
    assert findings(resources, PLACED) == []
    assert findings(resources, COVERED) == []
    lines = scheduling.summary(resources)
    assert lines and all("unplaced" not in line for line in lines), lines


def test_summary_names_pools_nodes_and_pods() -> None:
    lines = scheduling.summary(resources_of("prod"))
    general = next(line for line in lines if line.startswith("pool general:"))
    assert "Standard_D8ds_v5" in general and "kiva-gateway ×20" in general and "kiva-db ×3" in general
    a100 = next(line for line in lines if line.startswith("pool a100:"))
    assert "GPUs 4/4" in a100


# --- defect 1: no node for non-GPU pods ------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_without_the_general_pool_gateway_database_and_operators_are_unplaceable(stack: str) -> None:
    resources = without(resources_of(stack), by_type_and_name(AGENT_POOL, "general"))
    found = findings(resources, PLACED)
    text = messages(found)
    for workload in (
        "Deployment kiva/kiva-gateway",
        "CloudNativePG Cluster kiva/kiva-db",
        "Deployment cloudnative-pg",
    ):
        assert f"{workload}" in text, text
    assert "taint CriticalAddonsOnly=true:NoSchedule not tolerated" in text
    assert all(f.enforcement == "mandatory" for f in found)
    gateway = next(f for f in found if "kiva/kiva-gateway" in f.message)
    assert gateway.urn.endswith("::kiva-gateway-deployment")


def test_a_tainted_general_pool_is_no_home_for_untolerating_pods() -> None:
    resources = mutate(
        resources_of("prod"),
        by_type_and_name(AGENT_POOL, "general"),
        lambda p: p.update(nodeTaints=["dedicated=infra:NoSchedule"]),
    )
    assert "taint dedicated=infra:NoSchedule not tolerated" in messages(findings(resources, PLACED))


def test_a_node_selector_no_pool_matches_is_reported() -> None:
    def pin(props: dict) -> None:
        props["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.azure.com/agentpool": "nope"}

    resources = mutate(resources_of("prod"), by_type_and_name(DEPLOYMENT, "kiva-gateway"), pin)
    assert "labels do not match kubernetes.azure.com/agentpool=nope" in messages(findings(resources, PLACED))


# --- defect 4: device plugin on a spot pool ---------------------------------------------------------


def test_device_plugin_without_the_spot_toleration_leaves_the_spot_pool_uncovered() -> None:
    def drop_spot(props: dict) -> None:
        props["values"]["tolerations"] = [
            t
            for t in props["values"]["tolerations"]
            if t.get("key") != "kubernetes.azure.com/scalesetpriority"
        ]

    resources = mutate(resources_of("dev"), by_type_and_name(RELEASE, "nvidia-device-plugin"), drop_spot)
    found = findings(resources, COVERED)
    assert len(found) == 1
    assert "GPU node pool t4 (Standard_NC4as_T4_v3)" in found[0].message
    assert "kubernetes.azure.com/scalesetpriority=spot:NoSchedule not tolerated" in found[0].message
    assert found[0].urn.endswith("::kiva-operators-nvidia-device-plugin")
    placed = messages(findings(resources, PLACED))
    assert "kiva/kiva-model-llama-3-2-3b" in placed and "no device plugin advertises nvidia.com/gpu" in placed


# --- the DCGM exporter: a DaemonSet on the device-plugin GPU pools -----------------------------------

DCGM = "DaemonSet dcgm-exporter of Helm release dcgm-exporter (dcgm-exporter 4.6.0)"


def _pool_line(lines: list[str], pool: str) -> str:
    return next(line for line in lines if line.startswith(f"pool {pool}:"))


def test_dev_places_the_dcgm_exporter_once_on_each_t4_node_and_nowhere_else() -> None:
    resources = resources_of("dev")
    analysis = scheduling.analyse(resources)
    assert analysis.pools is not None
    t4 = next(p for p in analysis.pools if p.name == "t4")
    per_pool = {p.name: [n.holds.get(DCGM, 0) for n in analysis.nodes if n.pool is p] for p in analysis.pools}
    assert per_pool == {"system": [0, 0, 0], "general": [0, 0, 0], "t4": [1] * t4.max_nodes}
    assert t4.max_nodes == 2
    lines = scheduling.summary(resources)
    assert "dcgm-exporter ×2" in _pool_line(lines, "t4")
    assert all("dcgm-exporter" not in _pool_line(lines, pool) for pool in ("system", "general"))
    assert analysis.unplaced == {}


def test_dcgm_exporter_requests_count_against_every_t4_node() -> None:
    def free(resources) -> list[tuple[int, int]]:
        return [(n.cpu, n.memory) for n in scheduling.analyse(resources).nodes if n.pool.name == "t4"]

    resources = resources_of("dev")
    with_exporter = free(resources)
    without_exporter = free(without(resources, by_type_and_name(RELEASE, "dcgm-exporter")))
    # The release's requests (cpu 100m, memory 256Mi), taken off each node before the model is packed.
    assert [
        (c0 - c1, m0 - m1) for (c0, m0), (c1, m1) in zip(without_exporter, with_exporter, strict=True)
    ] == [(100, 256 * 2**20)] * 2


def test_dcgm_exporter_without_the_gpu_taint_toleration_is_reported_unplaced() -> None:
    def drop_gpu_toleration(props: dict) -> None:
        props["values"]["tolerations"] = [
            t for t in props["values"]["tolerations"] if t.get("key") != "nvidia.com/gpu"
        ]

    resources = mutate(resources_of("dev"), by_type_and_name(RELEASE, "dcgm-exporter"), drop_gpu_toleration)
    found = findings(resources, PLACED)
    assert [f.message for f in found] == [
        f"{DCGM}: its node selection picks the nodes of pool t4 (Standard_NC4as_T4_v3), but it does not "
        "tolerate their taint nvidia.com/gpu=present:NoSchedule, so none of its pods runs there. Add a "
        "toleration for the taint to the release's values, or leave the pool out of its node selection."
    ]
    assert found[0].urn.endswith("::kiva-monitoring-gpu-metrics-dcgm-exporter")
    assert found[0].enforcement == "mandatory"
    lines = scheduling.summary(resources)
    assert "dcgm-exporter" not in _pool_line(lines, "t4")
    assert lines[-1] == "unplaced pods: dcgm-exporter ×2"
    assert findings(resources, COVERED) == []  # the device plugin still runs there


def test_a_daemon_set_that_selects_every_node_may_skip_tainted_pools() -> None:
    """node-feature-discovery's worker does not tolerate the system pool's taint: by design, not a finding."""
    analysis = scheduling.analyse(resources_of("prod"))
    assert analysis.pools is not None
    worker = next(g for g in analysis.groups if g.short == "node-feature-discovery-worker")
    system = next(p for p in analysis.pools if p.name == "system")
    assert scheduling.refusal(system, worker) == "taint CriticalAddonsOnly=true:NoSchedule not tolerated"
    assert analysis.findings == [] and analysis.unplaced == {}


def test_gpu_operator_whose_node_feature_discovery_skips_gpu_nodes_covers_nothing() -> None:
    def no_nfd_toleration(props: dict) -> None:
        props["values"]["node-feature-discovery"] = {"worker": {"tolerations": []}}

    resources = mutate(resources_of("prod"), by_type_and_name(RELEASE, "gpu-operator"), no_nfd_toleration)
    found = findings(resources, COVERED)
    assert found and "GPU node pool a100" in found[0].message


def test_a_gpu_pool_without_any_device_plugin_is_reported() -> None:
    resources = without(resources_of("dev"), by_type_and_name(RELEASE, "nvidia-device-plugin"))
    assert "installs no NVIDIA device plugin" in messages(findings(resources, COVERED))


# --- defect 14: GPUs summed per pool, whole GPUs per node, zones vs anti-affinity -------------------


def _model(resources):
    return find(resources, lambda r: r.type == STATEFUL_SET and "model" in r.name)


def test_two_one_gpu_models_on_a_one_gpu_pool_do_not_fit() -> None:
    resources = mutate(
        resources_of("dev"), by_type_and_name(AGENT_POOL, "t4"), lambda p: p.update(maxCount=1)
    )
    assert findings(resources, PLACED) == []
    resources.append(clone(_model(resources), "second"))
    found = findings(resources, PLACED)
    assert len(found) == 1, messages(found)
    assert "1 of its 1 pods" in found[0].message and "pool t4" in found[0].message
    assert "nvidia.com/gpu 1" in found[0].message


def test_a_four_gpu_and_a_one_gpu_model_do_not_share_one_four_gpu_node() -> None:
    resources = mutate(
        resources_of("prod"),
        by_type_and_name(AGENT_POOL, "a100"),
        lambda p: p.update(vmSize="Standard_NC96ads_A100_v4", maxCount=1, minCount=1, count=1),
    )
    models = [r for r in resources if r.type == STATEFUL_SET and "model" in r.name]

    def gpus(count: int):
        def change(props: dict) -> None:
            props["spec"]["replicas"] = 1
            container = props["spec"]["template"]["spec"]["containers"][0]
            for section in ("requests", "limits"):
                container["resources"][section]["nvidia.com/gpu"] = str(count)

        return change

    resources = mutate(resources, lambda r: r.urn == models[0].urn, gpus(4))
    resources = mutate(resources, lambda r: r.urn == models[1].urn, gpus(1))
    found = findings(resources, PLACED)
    assert len(found) == 1, messages(found)
    assert "1 of its 1 pods" in found[0].message and "nvidia.com/gpu 1" in found[0].message


def test_three_instances_with_required_zone_anti_affinity_need_three_zones() -> None:
    resources = mutate(
        resources_of("prod"),
        by_type_and_name(AGENT_POOL, "general"),
        lambda p: p.update(availabilityZones=["1", "2"]),
    )
    found = findings(resources, PLACED)
    assert len(found) == 1, messages(found)
    assert found[0].message.startswith(
        "CloudNativePG Cluster kiva/kiva-db: 3 pods with required anti-affinity"
    )
    assert "span 2" in found[0].message
    assert found[0].urn.endswith("::kiva-database-cluster")


def test_required_host_anti_affinity_needs_as_many_nodes() -> None:
    def on_hosts(props: dict) -> None:
        props["spec"]["affinity"] = {"enablePodAntiAffinity": True, "podAntiAffinityType": "required"}
        props["spec"]["instances"] = 4

    resources = mutate(resources_of("dev"), by_type_and_name(CNPG_CLUSTER, "kiva-db"), on_hosts)
    found = findings(resources, PLACED)
    assert "1 of its 4 pods" in messages(found) and "kubernetes.io/hostname" in messages(found)


def test_a_pod_larger_than_any_node_is_reported() -> None:
    def huge(props: dict) -> None:
        props["spec"]["template"]["spec"]["containers"][0]["resources"] = {
            "requests": {"cpu": "64", "memory": "1Gi"}
        }

    resources = mutate(resources_of("prod"), by_type_and_name(DEPLOYMENT, "kiva-gateway"), huge)
    text = messages(findings(resources, PLACED))
    assert "Deployment kiva/kiva-gateway: its pods request cpu 64" in text


def test_cpu_totals_beyond_the_pool_at_its_maximum_are_reported() -> None:
    resources = mutate(
        resources_of("prod"), lambda r: r.type == HPA, lambda p: p["spec"].update(maxReplicas=80)
    )
    text = messages(findings(resources, PLACED))
    assert "Deployment kiva/kiva-gateway:" in text and "of its 80 pods" in text
    assert "pool general (Standard_D8ds_v5) has at most 6 node(s)" in text


def test_declared_pools_of_an_existing_cluster_are_the_truth() -> None:
    def taint(props: dict) -> None:
        annotations = props["metadata"]["annotations"]
        pools = json.loads(annotations["kiva.platform/node-pools"])
        pools[0]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
        annotations["kiva.platform/node-pools"] = json.dumps(pools)

    resources = mutate(
        resources_of("local"),
        lambda r: r.type == "kubernetes:core/v1:Namespace" and r.props["metadata"]["name"] == "kiva",
        taint,
    )
    text = messages(findings(resources, PLACED))
    assert "workers: taint dedicated=gpu:NoSchedule not tolerated" in text


# --- Kubernetes semantics ---------------------------------------------------------------------------

SPOT = Taint("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")


@pytest.mark.parametrize(
    ("toleration", "expected"),
    [
        ({"operator": "Exists"}, True),
        ({"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists"}, True),
        ({"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}, True),
        ({"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "regular"}, False),
        (
            {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists", "effect": "NoExecute"},
            False,
        ),
        ({"key": "other", "operator": "Exists"}, False),
    ],
)
def test_toleration_matching_follows_kubernetes(toleration: dict, expected: bool) -> None:
    assert tolerates(toleration, SPOT) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"key": "pool", "operator": "In", "values": ["a", "b"]}, True),
        ({"key": "pool", "operator": "In", "values": ["c"]}, False),
        ({"key": "pool", "operator": "NotIn", "values": ["c"]}, True),
        ({"key": "absent", "operator": "NotIn", "values": ["c"]}, True),
        ({"key": "pool", "operator": "Exists"}, True),
        ({"key": "pool", "operator": "DoesNotExist"}, False),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, True),
        ({"key": "cores", "operator": "Lt", "values": ["8"]}, False),
    ],
)
def test_node_affinity_operators_follow_kubernetes(expression: dict, expected: bool) -> None:
    assert _expression_holds(expression, {"pool": "a", "cores": "16"}) is expected


def test_gpu_sizes_match_the_stack_settings_table() -> None:
    for name, sku in GPU_SKUS.items():
        size = vm_sizes.lookup(name)
        assert size is not None, name
        assert (size.vcpus, size.memory_gib, size.gpus) == (sku.vcpus, sku.memory_gib, sku.gpus), name


def test_allocatable_follows_aks_reservations() -> None:
    size = vm_sizes.lookup("Standard_D4ds_v5")
    assert size is not None
    cpu, memory = vm_sizes.allocatable(size, 250)
    assert cpu == 4000 - 140
    # 20 MB × 250 + 50 MB exceeds 25 % of 16 GiB, so 4 GiB is reserved, plus the 100 Mi eviction threshold.
    assert memory == 16 * 2**30 - 4 * 2**30 - 100 * 2**20
    cpu, memory = vm_sizes.allocatable(vm_sizes.lookup("Standard_D8ds_v5"), 30)  # type: ignore[arg-type]
    assert cpu == 8000 - 180 and memory == 32 * 2**30 - 650 * 2**20 - 100 * 2**20


def test_pod_group_is_a_plain_record() -> None:
    group = PodGroup("urn", "Deployment a/b", "b", 2)
    assert group.replicas == 2 and group.node_terms is None and not group.daemon


# --- the CLI ---------------------------------------------------------------------------------------


def test_kiva_check_exits_one_naming_the_unplaceable_resource(tmp_path: Path) -> None:
    from infra.offline.digest import preview_digest
    from tests.conftest import _committed_plan

    digest = preview_digest(_committed_plan("prod"))
    digest["steps"] = [
        step
        for step in digest["steps"]
        if not (
            step["newState"]["type"] == AGENT_POOL
            and step["newState"]["inputs"].get("agentPoolName") == "general"
        )
    ]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(digest))
    result = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "kiva-day-one-pods-placed" in result.output
    assert "Deployment kiva/kiva-gateway: no node pool admits its pods" in result.output
    assert "(kiva-gateway-deployment)" in result.output
    assert "unplaced pods:" in result.output
