"""Day one, controllers and CRDs: issue 9 defects 6 (Ingress without controller/issuer) and 7 (PodMonitor)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from functools import cache

import pytest
from kiva_policies.day_one.controllers import crd_of, plural
from kiva_policies.runner import PlannedResource

from infra.offline.digest import preview_digest
from infra.offline.engine import run_program
from infra.offline.preview_file import planned_resources
from tests.conftest import stack_file_with
from tests.policies.day_one.plans import (
    CNPG_CLUSTER,
    MANAGED_CLUSTER,
    RELEASE,
    by_type_and_name,
    clone,
    find,
    findings,
    mutate,
    resources_of,
)

CRDS = "kiva-day-one-crds-installed"
CONTROLLERS = "kiva-day-one-controllers-present"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NAMESPACE = "kubernetes:core/v1:Namespace"


def _declare(**prerequisites):
    def change(props: dict) -> None:
        annotations = props["metadata"].setdefault("annotations", {})
        current = json.loads(annotations.get("kiva.platform/prerequisites", "{}"))
        current.update(prerequisites)
        annotations["kiva.platform/prerequisites"] = json.dumps(current)

    return change


def _platform_namespace(r) -> bool:
    return r.type == NAMESPACE and r.props["metadata"]["name"] == "kiva"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_have_every_crd_and_controller(stack: str) -> None:
    resources = resources_of(stack)
    assert findings(resources, CRDS) == []
    assert findings(resources, CONTROLLERS) == []


def test_crd_names_follow_the_kubernetes_plural() -> None:
    assert crd_of("kubernetes:postgresql.cnpg.io/v1:Cluster") == "clusters.postgresql.cnpg.io"
    assert crd_of("kubernetes:nvidia.com/v1:ClusterPolicy") == "clusterpolicies.nvidia.com"
    assert crd_of("kubernetes:apps/v1:Deployment") is None
    assert crd_of("kubernetes:networking.k8s.io/v1:Ingress") is None
    assert crd_of("kubernetes:gateway.networking.k8s.io/v1:Gateway") == "gateways.gateway.networking.k8s.io"
    assert plural("PodMonitor") == "podmonitors"


# --- defect 7: PodMonitors without the Prometheus Operator CRDs ------------------------------------


@cache
def _unmonitored_prod() -> tuple[PlannedResource, ...]:
    """prod with monitoring off: no release installs the Prometheus Operator's CRDs."""
    plan = run_program(stack_file_with("prod", {"kiva:monitoring": {"enabled": False}}))
    return tuple(planned_resources(preview_digest(plan)))


def unmonitored_prod() -> list[PlannedResource]:
    return [replace(r, props=copy.deepcopy(r.props)) for r in _unmonitored_prod()]


def test_cloudnative_pg_pod_monitor_without_its_crd_is_reported() -> None:
    resources = mutate(
        unmonitored_prod(),
        by_type_and_name(RELEASE, "cloudnative-pg"),
        lambda p: p["values"].setdefault("monitoring", {}).update(podMonitorEnabled=True),
    )
    found = findings(resources, CRDS)
    assert len(found) == 1
    assert "Helm release cloudnative-pg (cloudnative-pg 0.29.0) renders a PodMonitor" in found[0].message
    assert "podmonitors.monitoring.coreos.com" in found[0].message
    assert found[0].urn.endswith("::kiva-operators-cloudnative-pg")
    declared = mutate(resources, _platform_namespace, _declare(crds=["podmonitors.monitoring.coreos.com"]))
    assert findings(declared, CRDS) == []


def test_a_pod_monitor_of_the_plan_without_its_crd_is_reported() -> None:
    resources = unmonitored_prod()
    cluster = find(resources, by_type_and_name(CNPG_CLUSTER, "kiva-db"))
    monitor = replace(clone(cluster, "monitor"), type="kubernetes:monitoring.coreos.com/v1:PodMonitor")
    found = findings([*resources, monitor], CRDS)
    assert len(found) == 1 and found[0].message.startswith("PodMonitor kiva/kiva-db-monitor needs the CRD")


def test_other_chart_monitors_are_known() -> None:
    resources = mutate(
        unmonitored_prod(),
        by_type_and_name(RELEASE, "cert-manager"),
        lambda p: p["values"].update(prometheus={"enabled": True, "servicemonitor": {"enabled": True}}),
    )
    assert "servicemonitors.monitoring.coreos.com" in findings(resources, CRDS)[0].message
    skipped = mutate(
        unmonitored_prod(),
        by_type_and_name(RELEASE, "external-secrets"),
        lambda p: p["values"].update(serviceMonitor={"enabled": True}),
    )
    assert findings(skipped, CRDS) == []  # renderMode skipIfMissing leaves them out


def test_dcgm_exporter_service_monitor_needs_the_prometheus_crds() -> None:
    resources = [r for r in resources_of("dev") if not by_type_and_name(RELEASE, "kube-prometheus-stack")(r)]
    exporter = find(resources, by_type_and_name(RELEASE, "dcgm-exporter"))
    found = [f.message for f in findings(resources, CRDS) if f.urn == exporter.urn]
    assert found == [
        "Helm release dcgm-exporter (dcgm-exporter 4.6.0) renders a ServiceMonitor for the exporter "
        "(serviceMonitor.enabled) and needs the CRD servicemonitors.monitoring.coreos.com, which no Helm release "
        "or CRD of the plan installs and which is not declared in kiva:prerequisites.crds; the API server rejects "
        "it. Install it (e.g. the operator's chart with its CRDs), declare it if the cluster has it, or turn the "
        "feature off."
    ]


def test_dcgm_exporter_runtime_class_must_exist() -> None:
    resources = mutate(
        resources_of("dev"),
        by_type_and_name(RELEASE, "dcgm-exporter"),
        lambda p: p["values"].update(runtimeClassName="nvidia-missing"),
    )
    exporter = find(resources, by_type_and_name(RELEASE, "dcgm-exporter"))
    found = [f.message for f in findings(resources, CONTROLLERS) if f.urn == exporter.urn]
    assert len(found) == 1
    assert found[0].startswith(
        "Helm release dcgm-exporter (its DaemonSets) names RuntimeClass 'nvidia-missing', which the plan does "
        "not create"
    )


def test_a_custom_resource_whose_release_does_not_install_its_crds_is_reported() -> None:
    resources = mutate(
        resources_of("dev"),
        by_type_and_name(RELEASE, "cloudnative-pg"),
        lambda p: p["values"]["crds"].update(create=False),
    )
    text = "\n".join(f.message for f in findings(resources, CRDS))
    assert "Cluster kiva/kiva-db needs the CRD clusters.postgresql.cnpg.io" in text


def test_a_custom_resource_that_does_not_wait_for_its_release_is_reported() -> None:
    resources = resources_of("dev")
    cluster = find(resources, by_type_and_name(CNPG_CLUSTER, "kiva-db"))
    detached = replace(cluster, dependencies=(), parent="")
    resources = [detached if r.urn == cluster.urn else r for r in resources]
    found = [f for f in findings(resources, CRDS) if f.urn == cluster.urn]
    assert len(found) == 1 and "does not depend on it" in found[0].message
    assert "Helm release cloudnative-pg" in found[0].message


# --- defect 6: Ingress that nothing serves ---------------------------------------------------------


def test_ingress_of_a_class_without_controller_is_reported() -> None:
    resources = mutate(
        resources_of("prod"),
        lambda r: r.type == INGRESS,
        lambda p: p["spec"].update(ingressClassName="nginx"),
    )
    found = findings(resources, CONTROLLERS)
    assert len(found) == 1
    assert "Ingress kiva/kiva-gateway uses ingress class 'nginx'" in found[0].message
    assert found[0].urn.endswith("::kiva-gateway-ingress")
    declared = mutate(resources, _platform_namespace, _declare(ingressClasses=["nginx"]))
    assert findings(declared, CONTROLLERS) == []


def test_app_routing_class_needs_the_add_on() -> None:
    resources = mutate(
        resources_of("prod"), lambda r: r.type == MANAGED_CLUSTER, lambda p: p.pop("ingressProfile", None)
    )
    assert "webapprouting.kubernetes.azure.com" in findings(resources, CONTROLLERS)[0].message


def test_ingress_naming_an_issuer_nothing_provides_is_reported() -> None:
    resources = mutate(
        resources_of("prod"),
        lambda r: r.type == INGRESS,
        lambda p: p["metadata"]["annotations"].update({"cert-manager.io/cluster-issuer": "letsencrypt"}),
    )
    found = findings(resources, CONTROLLERS)
    assert len(found) == 1 and "ClusterIssuer 'letsencrypt'" in found[0].message


def test_load_balancer_service_needs_a_cloud() -> None:
    resources = mutate(
        resources_of("local"),
        lambda r: r.type == "kubernetes:core/v1:Service" and "gateway" in r.name,
        lambda p: p["spec"].update(type="LoadBalancer"),
    )
    found = findings(resources, CONTROLLERS)
    assert len(found) == 1 and "is of type LoadBalancer" in found[0].message
    on_azure = mutate(
        resources_of("prod"),
        lambda r: r.type == "kubernetes:core/v1:Service" and "gateway" in r.name,
        lambda p: p["spec"].update(type="LoadBalancer"),
    )
    assert findings(on_azure, CONTROLLERS) == []


def test_a_patch_needs_the_crd_of_the_kind_it_patches() -> None:
    assert (
        crd_of("kubernetes:approuting.kubernetes.azure.com/v1alpha1:NginxIngressControllerPatch")
        == "nginxingresscontrollers.approuting.kubernetes.azure.com"
    )
