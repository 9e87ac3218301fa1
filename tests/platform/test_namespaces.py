"""Namespaces: Pod Security labels, protection, and the platform namespace's declarations for policies."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import STACKS, _committed_plan, stack_config
from tests.platform.conftest import find, objects_of, one

#: Kubernetes label values (apimachinery `IsValidLabelValue`): at most 63 characters, no `/`.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _platform_namespace(plan) -> dict:
    return one(objects_of(plan), "Namespace", "kiva")


@pytest.mark.parametrize("stack", STACKS)
def test_namespaces_carry_pod_security_labels(stack):
    namespaces = {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in find(objects_of(_committed_plan(stack)), "Namespace")
    }
    assert namespaces["kiva"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name, labels in namespaces.items():
        # node-exporter (monitoring) reads the host's network, processes and file system; dcgm-exporter
        # (GPU metrics on device-plugin pools) runs as root with the kubelet's pod-resources socket.
        privileged = ("nvidia-device-plugin", "gpu-operator", "kiva-node-exporter", "kiva-gpu-metrics")
        expected = "privileged" if name in privileged else "restricted"
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
def test_platform_namespace_declares_region_and_jurisdiction_as_annotations(stack):
    plan = _committed_plan(stack)
    metadata = _platform_namespace(plan)["metadata"]
    assert metadata["annotations"]["kiva.platform/region"] == plan.config["kiva:region"]
    assert metadata["annotations"]["kiva.platform/jurisdiction"] == plan.config["kiva:jurisdiction"]
    assert "kiva.platform/region" not in metadata["labels"]
    assert "kiva.platform/jurisdiction" not in metadata["labels"]


def test_a_region_with_a_slash_stays_out_of_the_labels(plan_with):
    """IONOS names its regions `de/fra`: valid as an annotation, never as a label value."""
    plan = plan_with("local", {"kiva:region": "de/fra"})
    metadata = _platform_namespace(plan)["metadata"]
    assert metadata["annotations"]["kiva.platform/region"] == "de/fra"
    for namespace in find(objects_of(plan), "Namespace"):
        for key, value in namespace["metadata"].get("labels", {}).items():
            assert len(value) <= 63 and LABEL_VALUE.match(value), (namespace["metadata"]["name"], key, value)


@pytest.mark.parametrize("stack", STACKS)
def test_platform_namespace_declares_the_prerequisites(stack):
    annotation = _platform_namespace(_committed_plan(stack))["metadata"]["annotations"][
        "kiva.platform/prerequisites"
    ]
    declared = stack_config(stack).get("kiva:prerequisites", {})
    assert json.loads(annotation) == {
        "clusterIssuers": declared.get("clusterIssuers", []),
        "crds": declared.get("crds", []),
        "ingressClasses": declared.get("ingressClasses", []),
        "loadBalancers": declared.get("loadBalancers", False),
    }
    assert annotation == json.dumps(json.loads(annotation), sort_keys=True, separators=(",", ":"))


def test_declared_prerequisites_reach_the_annotation(plan_with):
    prerequisites = {
        "crds": ["podmonitors.monitoring.coreos.com"],
        "ingressClasses": ["nginx"],
        "clusterIssuers": ["letsencrypt"],
        "loadBalancers": True,
    }
    plan = plan_with("local", {"kiva:prerequisites": prerequisites})
    annotations = _platform_namespace(plan)["metadata"]["annotations"]
    assert annotations["kiva.platform/prerequisites"] == (
        '{"clusterIssuers":["letsencrypt"],"crds":["podmonitors.monitoring.coreos.com"],'
        '"ingressClasses":["nginx"],"loadBalancers":true}'
    )


def test_existing_clusters_declare_their_node_pools(plan_with):
    cluster = stack_config("local")["kiva:cluster"]
    cluster["nodePools"] = [
        {"name": "workers", "nodes": 2, "cpu": "8", "memory": "16Gi", "zones": ["a"]},
        {
            "name": "gpus",
            "nodes": 1,
            "cpu": "16",
            "memory": "60Gi",
            "gpus": 1,
            "labels": {"kiva.platform/gpu-pool": "l4"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present"}],
        },
    ]
    plan = plan_with("local", {"kiva:cluster": cluster})
    annotation = _platform_namespace(plan)["metadata"]["annotations"]["kiva.platform/node-pools"]
    assert json.loads(annotation) == [
        {
            "name": "workers",
            "nodes": 2,
            "cpu": "8",
            "memory": "16Gi",
            "pods": 110,
            "gpus": 0,
            "labels": {},
            "taints": [],
            "zones": ["a"],
        },
        {
            "name": "gpus",
            "nodes": 1,
            "cpu": "16",
            "memory": "60Gi",
            "pods": 110,
            "gpus": 1,
            "labels": {"kiva.platform/gpu-pool": "l4"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
            "zones": [],
        },
    ]
    assert annotation == json.dumps(json.loads(annotation), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_new_aks_clusters_declare_no_node_pools(stack):
    """The stack creates AKS's pools itself; only an existing cluster's nodes need declaring."""
    annotations = _platform_namespace(_committed_plan(stack))["metadata"]["annotations"]
    assert "kiva.platform/node-pools" not in annotations


def test_the_local_stack_declares_its_kind_node():
    annotations = _platform_namespace(_committed_plan("local"))["metadata"]["annotations"]
    pools = json.loads(annotations["kiva.platform/node-pools"])
    assert [(p["name"], p["nodes"], p["cpu"], p["memory"]) for p in pools] == [("workers", 1, "8", "16Gi")]
