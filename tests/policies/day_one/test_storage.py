"""Day one, storage: a ReadWriteOnce claim is never shared by pods on different nodes (issue 9, defect 3)."""

from __future__ import annotations

import pytest

from tests.policies.day_one.plans import (
    DEPLOYMENT,
    STATEFUL_SET,
    by_type_and_name,
    clone,
    find,
    findings,
    mutate,
    resources_of,
)

POLICY = "kiva-day-one-rwo-claims-single-node"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def _claim(resources, modes: list[str]):
    template = find(resources, by_type_and_name("kubernetes:core/v1:Namespace", "kiva"))
    from dataclasses import replace

    props = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "shared-cache", "namespace": "kiva"},
        "spec": {"accessModes": modes, "resources": {"requests": {"storage": "10Gi"}}},
    }
    return replace(
        template,
        urn=template.urn.replace("Namespace::", "PersistentVolumeClaim::") + "-pvc",
        type=PVC,
        name="shared-cache",
        props=props,
    )


def _mount(replicas: int, strategy: dict | None = None):
    def change(props: dict) -> None:
        props["spec"]["replicas"] = replicas
        if strategy is not None:
            props["spec"]["strategy"] = strategy
        props["spec"]["template"]["spec"]["volumes"].append(
            {"name": "shared", "persistentVolumeClaim": {"claimName": "shared-cache"}}
        )

    return change


def _vllm_deployment(replicas: int, modes: list[str], strategy: dict | None = None):
    """The issue's defect: the model server as a Deployment sharing one cache claim."""
    resources = resources_of("prod")
    model = find(resources, lambda r: r.type == STATEFUL_SET and "model" in r.name)

    def as_deployment(props: dict) -> None:
        props["kind"] = "Deployment"
        props["spec"].pop("volumeClaimTemplates", None)
        props["spec"].pop("serviceName", None)
        props["spec"].pop("podManagementPolicy", None)
        props["spec"].pop("updateStrategy", None)
        _mount(replicas, strategy)(props)

    from dataclasses import replace

    deployment = clone(model, "deployment", as_deployment)
    deployment = replace(deployment, type=DEPLOYMENT)
    return [*resources, _claim(resources, modes), deployment]


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_committed_stacks_share_no_single_node_claim(stack: str) -> None:
    assert findings(resources_of(stack), POLICY) == []


def test_rwo_claim_on_a_two_replica_deployment_is_reported() -> None:
    found = findings(_vllm_deployment(2, ["ReadWriteOnce"], {"type": "Recreate"}), POLICY)
    assert len(found) == 1
    assert (
        "mounts PersistentVolumeClaim kiva/shared-cache (ReadWriteOnce), but it runs 2 replicas"
        in found[0].message
    )
    assert "Multi-Attach" in found[0].message
    assert found[0].urn.endswith("-deployment")


def test_one_replica_with_recreate_is_fine_and_a_rolling_update_is_not() -> None:
    assert findings(_vllm_deployment(1, ["ReadWriteOnce"], {"type": "Recreate"}), POLICY) == []
    found = findings(
        _vllm_deployment(1, ["ReadWriteOnce"]), POLICY
    )  # default strategy: RollingUpdate, maxSurge 25%
    assert len(found) == 1 and "maxSurge" in found[0].message
    no_surge = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert findings(_vllm_deployment(1, ["ReadWriteOnce"], no_surge), POLICY) == []


def test_read_write_many_claims_may_be_shared() -> None:
    assert findings(_vllm_deployment(2, ["ReadWriteMany"], {"type": "Recreate"}), POLICY) == []


def test_an_autoscaled_deployment_counts_its_maximum() -> None:
    resources = resources_of("prod")
    resources.append(_claim(resources, ["ReadWriteOnce"]))
    resources = mutate(
        resources, by_type_and_name(DEPLOYMENT, "kiva-gateway"), _mount(1, {"type": "Recreate"})
    )
    found = findings(resources, POLICY)
    assert len(found) == 1 and "HorizontalPodAutoscaler may scale it to 20 replicas" in found[0].message


def test_two_workloads_on_one_rwo_claim_are_reported() -> None:
    resources = _vllm_deployment(1, ["ReadWriteOnce"], {"type": "Recreate"})
    resources = mutate(
        resources, by_type_and_name(DEPLOYMENT, "kiva-gateway"), _mount(1, {"type": "Recreate"})
    )
    messages = [f.message for f in findings(resources, POLICY)]
    assert any(
        m.startswith("PersistentVolumeClaim kiva/shared-cache (ReadWriteOnce) is mounted by")
        for m in messages
    )


def test_statefulset_claim_templates_are_per_pod() -> None:
    model = find(resources_of("prod"), lambda r: r.type == STATEFUL_SET and "model" in r.name)
    assert model.props["spec"]["replicas"] == 2 and model.props["spec"]["volumeClaimTemplates"]
    assert findings(resources_of("prod"), POLICY) == []
