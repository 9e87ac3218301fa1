"""Operators: pinned Helm releases, skipped where not needed; namespaces with Pod Security labels."""

from __future__ import annotations

import pytest

from infra import versions
from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import find, objects_of


def _releases(stack: str) -> dict[str, dict]:
    plan = _committed_plan(stack)
    return {r.inputs["name"]: r.inputs for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"}


@pytest.mark.parametrize("stack", STACKS)
def test_releases_are_pinned_and_atomic(stack):
    charts = (versions.CLOUDNATIVE_PG, versions.BARMAN_CLOUD_PLUGIN, versions.CERT_MANAGER)
    charts += (versions.EXTERNAL_SECRETS, versions.NVIDIA_DEVICE_PLUGIN, versions.GPU_OPERATOR)
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
            {"cloudnative-pg", "cert-manager", "barman-cloud", "external-secrets", "nvidia-device-plugin"},
        ),
        ("prod", {"cloudnative-pg", "cert-manager", "barman-cloud", "external-secrets", "gpu-operator"}),
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


@pytest.mark.parametrize("stack", STACKS)
def test_namespaces_carry_pod_security_labels(stack):
    namespaces = {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in find(objects_of(_committed_plan(stack)), "Namespace")
    }
    assert namespaces["kiva"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name, labels in namespaces.items():
        expected = "privileged" if name in ("nvidia-device-plugin", "gpu-operator") else "restricted"
        assert labels["pod-security.kubernetes.io/enforce"] == expected, name


def test_platform_namespace_is_protected():
    plan = _committed_plan("dev")
    namespace = next(
        r
        for r in plan.resources
        if r.type == "kubernetes:core/v1:Namespace" and r.inputs["metadata"]["name"] == "kiva"
    )
    assert namespace.protect


@pytest.mark.parametrize("stack", STACKS)
def test_platform_namespace_declares_region_and_jurisdiction(stack):
    plan = _committed_plan(stack)
    namespace = next(n for n in find(objects_of(plan), "Namespace") if n["metadata"]["name"] == "kiva")
    assert namespace["metadata"]["labels"]["kiva.platform/region"] == plan.config["kiva:region"]
    assert namespace["metadata"]["labels"]["kiva.platform/jurisdiction"] == plan.config["kiva:jurisdiction"]
