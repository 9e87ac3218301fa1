"""Operators: pinned Helm releases, skipped where not needed, scheduled onto the nodes they serve."""

from __future__ import annotations

import pytest

from infra import versions
from tests.conftest import STACKS, _committed_plan


def _releases(stack: str) -> dict[str, dict]:
    plan = _committed_plan(stack)
    return {r.inputs["name"]: r.inputs for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"}


@pytest.mark.parametrize("stack", STACKS)
def test_releases_are_pinned_and_atomic(stack):
    charts = (versions.CLOUDNATIVE_PG, versions.BARMAN_CLOUD_PLUGIN, versions.CERT_MANAGER)
    charts += (versions.EXTERNAL_SECRETS, versions.NVIDIA_DEVICE_PLUGIN, versions.GPU_OPERATOR)
    charts += (versions.KUBE_PROMETHEUS_STACK, versions.DCGM_EXPORTER)
    pinned = {chart.name: chart for chart in charts}
    for release in _releases(stack).values():
        chart = pinned[release["chart"]]
        assert release["version"] == chart.version
        assert release["repositoryOpts"]["repo"] == chart.repository
        assert release["atomic"] and release["cleanupOnFail"] and release["timeout"] > 0


def test_cnpg_chart_is_the_0_29_line():
    assert versions.CLOUDNATIVE_PG.version.startswith("0.29.")
    assert versions.BARMAN_CLOUD_PLUGIN.version == "0.7.0"


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (
            "dev",
            {"cloudnative-pg", "cert-manager", "barman-cloud", "external-secrets", "nvidia-device-plugin"}
            | {"kube-prometheus-stack", "dcgm-exporter"},  # GPU metrics of the device-plugin pool
        ),
        (
            "prod",
            {"cloudnative-pg", "cert-manager", "barman-cloud", "external-secrets", "gpu-operator"}
            | {"kube-prometheus-stack"},
        ),
        ("local", {"cloudnative-pg", "cert-manager", "barman-cloud"}),
    ],
)
def test_which_operators_each_stack_gets(stack, expected):
    """External Secrets only on Azure; device plugin or GPU operator per pool driver; none without GPUs."""
    assert set(_releases(stack)) == expected


def test_barman_plugin_lives_with_the_operator_and_after_cert_manager():
    plan = _committed_plan("dev")
    releases = {r.inputs["name"]: r for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"}
    plugin = releases["barman-cloud"]
    assert plugin.inputs["namespace"] == releases["cloudnative-pg"].inputs["namespace"] == "cnpg-system"
    assert {releases["cert-manager"].urn, releases["cloudnative-pg"].urn} <= set(plugin.dependencies)


SPOT = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def test_device_plugin_runs_on_the_spot_gpu_pool():
    """dev's T4 pool is spot: AKS taints it, and the chart's tolerations are replaced by ours wholesale."""
    values = _releases("dev")["nvidia-device-plugin"]["values"]
    assert SPOT in values["tolerations"] and GPU_TAINT in values["tolerations"]


def test_device_plugin_affinity_replaces_the_charts_nfd_terms():
    """Helm replaces lists: our one term (the pool label AKS sets) is all that is left, no NFD label."""
    affinity = _releases("dev")["nvidia-device-plugin"]["values"]["affinity"]
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "kiva.platform/gpu-pool", "operator": "In", "values": ["t4"]}]}
    ]


def test_gpu_operator_daemonsets_and_nfd_worker_tolerate_gpu_and_spot_taints():
    """The operator copies `daemonsets.tolerations` onto every operand; the NFD worker must label GPU nodes."""
    values = _releases("prod")["gpu-operator"]["values"]
    for tolerations in (
        values["daemonsets"]["tolerations"],
        values["node-feature-discovery"]["worker"]["tolerations"],
    ):
        assert SPOT in tolerations and GPU_TAINT in tolerations
