"""LiteLLM gateway: telemetry switches, probes, security context, scaling, Service, Ingress."""

from __future__ import annotations

import pytest

from components.platform.gateway import TELEMETRY_SWITCHES
from infra import versions
from tests.conftest import STACKS, _committed_plan
from tests.platform.conftest import objects_of, one


def _gateway(stack: str) -> dict:
    return one(objects_of(_committed_plan(stack)), "Deployment", "kiva-gateway")


def _container(stack: str) -> dict:
    return _gateway(stack)["spec"]["template"]["spec"]["containers"][0]


def _env(stack: str) -> dict[str, dict]:
    return {e["name"]: e for e in _container(stack)["env"]}


@pytest.mark.parametrize("stack", STACKS)
def test_image_is_a_pinned_release(stack):
    image = _container(stack)["image"]
    assert image == versions.LITELLM_IMAGE
    tag = image.rsplit(":", 1)[1]
    assert tag[0].isdigit() and not tag.startswith("main") and tag != "latest"


@pytest.mark.parametrize("stack", STACKS)
def test_telemetry_switches(stack):
    env = _env(stack)
    assert env["LITELLM_TELEMETRY_DISABLED"]["value"] == "true"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"]["value"] == "True"
    for key, value in TELEMETRY_SWITCHES.items():
        assert env[key]["value"] == value
    assert env["LITELLM_MODE"]["value"] == "PRODUCTION"


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_come_from_secret_references(stack):
    env = _env(stack)
    for key in ("LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "DATABASE_URL"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "kiva-gateway", "key": key}
        assert "value" not in env[key]


@pytest.mark.parametrize("stack", STACKS)
def test_probes_never_call_health(stack):
    container = _container(stack)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert container["startupProbe"]["httpGet"]["path"] in ("/health/readiness", "/health/liveliness")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] != "/health"


@pytest.mark.parametrize("stack", STACKS)
def test_hardened_pod(stack):
    pod = _gateway(stack)["spec"]["template"]["spec"]
    container = _container(stack)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert {"/tmp", "/.cache"} <= writable
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {"topology.kubernetes.io/zone"}


@pytest.mark.parametrize("stack", STACKS)
def test_config_checksum_and_workers(stack):
    deployment = _gateway(stack)
    config = one(objects_of(_committed_plan(stack)), "ConfigMap", "kiva-gateway-config")
    import hashlib

    expected = hashlib.sha256(config["data"]["config.yaml"].encode()).hexdigest()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == expected
    args = _container(stack)["args"]
    assert args[args.index("--config") + 1] == "/etc/litellm/config.yaml"
    assert int(args[args.index("--num_workers") + 1]) >= 1


def test_service_autoscaler_and_disruption_budget():
    objects = objects_of(_committed_plan("prod"))
    assert one(objects, "Service", "kiva-gateway")["spec"]["ports"][0]["port"] == 4000
    hpa = one(objects, "HorizontalPodAutoscaler", "kiva-gateway")["spec"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] == 10
    assert one(objects, "PodDisruptionBudget", "kiva-gateway")["spec"]["maxUnavailable"] == 1
    assert "replicas" not in one(objects, "Deployment", "kiva-gateway")["spec"], "the HPA owns replicas"


def test_ingress_with_tls_from_config():
    ingress = one(objects_of(_committed_plan("prod")), "Ingress", "kiva-gateway")
    assert ingress["spec"]["ingressClassName"] == "webapprouting.kubernetes.azure.com"
    assert ingress["spec"]["tls"][0]["hosts"] == ["llm.example.de"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "kiva-internal-ca"
    assert not [o for o in objects_of(_committed_plan("dev")) if o["kind"] == "Ingress"]
