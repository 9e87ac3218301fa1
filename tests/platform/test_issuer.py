"""The internal CA (issue 9 #6): the ClusterIssuer the prod Ingress names exists, made by the stack."""

from __future__ import annotations

import pytest

from tests.conftest import _committed_plan, stack_config
from tests.platform.conftest import find, objects_of, one
from tests.platform.test_manifest_schemas import _validate_all, kubernetes_version

ISSUER_TYPES = ("kubernetes:cert-manager.io/v1:ClusterIssuer", "kubernetes:cert-manager.io/v1:Certificate")


def _hours(duration: str) -> int:
    assert duration.endswith("h") and duration[:-1].isdigit(), duration
    return int(duration[:-1])


def test_the_ingress_issuer_is_a_ca_issuer_of_the_configured_name():
    issuer_name = stack_config("prod")["kiva:gateway"]["ingress"]["clusterIssuer"]
    objects = objects_of(_committed_plan("prod"))
    issuer = one(objects, "ClusterIssuer", issuer_name)
    secret = issuer["spec"]["ca"]["secretName"]
    # A ClusterIssuer reads its secret from cert-manager's cluster resource namespace (its own).
    certificate = next(c for c in find(objects, "Certificate") if c["spec"]["secretName"] == secret)
    assert certificate["metadata"]["namespace"] == "cert-manager"
    assert certificate["spec"]["isCA"] is True
    root = certificate["spec"]["issuerRef"]
    assert root["kind"] == "ClusterIssuer" and root["group"] == "cert-manager.io"
    assert one(objects, "ClusterIssuer", root["name"])["spec"] == {"selfSigned": {}}


def test_the_ca_key_and_lifetime():
    certificate = find(objects_of(_committed_plan("prod")), "Certificate")[0]["spec"]
    # cert-manager v1.21 accepts RSA 2048/4096/8192 or ECDSA 256/384/521 (CRD `privateKey.size`).
    assert certificate["privateKey"]["algorithm"] == "ECDSA" and certificate["privateKey"]["size"] == 256
    duration, renew_before = _hours(certificate["duration"]), _hours(certificate["renewBefore"])
    assert 24 * 365 <= renew_before < duration


def test_issuer_objects_wait_for_cert_manager_and_each_other():
    """CRDs and webhook come with the release; the CA issuer needs the CA, the CA needs the root."""
    plan = _committed_plan("prod")
    release = next(
        r
        for r in plan.resources
        if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["name"] == "cert-manager"
    )
    created = [r for r in plan.resources if r.type in ISSUER_TYPES]
    assert len(created) == 3 and all(release.urn in r.dependencies for r in created)
    root = next(r for r in created if r.inputs["spec"] == {"selfSigned": {}})
    certificate = next(r for r in created if r.inputs["kind"] == "Certificate")
    ca_issuer = next(r for r in created if "ca" in r.inputs["spec"])
    assert root.urn in certificate.dependencies
    assert certificate.urn in ca_issuer.dependencies


def test_the_gateway_waits_for_the_issuer():
    plan = _committed_plan("prod")
    issuer = next(r for r in plan.resources if r.type == ISSUER_TYPES[0] and "ca" in r.inputs["spec"])
    gateway = next(
        r
        for r in plan.resources
        if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"] == "kiva-gateway"
    )
    assert issuer.urn in gateway.dependencies


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_no_issuer_without_an_internal_ca(stack):
    plan = _committed_plan(stack)
    assert not [r for r in plan.resources if r.type in ISSUER_TYPES]


def test_an_issuer_the_cluster_already_has_is_not_created(plan_with):
    gateway = stack_config("prod")["kiva:gateway"]
    gateway["ingress"] |= {"internalCa": False, "clusterIssuer": "letsencrypt"}
    plan = plan_with(
        "prod", {"kiva:gateway": gateway, "kiva:prerequisites": {"clusterIssuers": ["letsencrypt"]}}
    )
    assert not [r for r in plan.resources if r.type in ISSUER_TYPES]


def test_issuer_objects_match_the_cert_manager_crds():
    """Strict validation against cert-manager v1.21.1's CRDs (tests/schemas/crds)."""
    objects = [o for o in objects_of(_committed_plan("prod")) if o["apiVersion"] == "cert-manager.io/v1"]
    assert sorted(o["kind"] for o in objects) == ["Certificate", "ClusterIssuer", "ClusterIssuer"]
    assert _validate_all(objects, kubernetes_version("prod")) == []
    misspelt = objects[0] | {"spec": objects[0]["spec"] | {"isCa": True}}
    assert _validate_all([misspelt], kubernetes_version("prod"))
