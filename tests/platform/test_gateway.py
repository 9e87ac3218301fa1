"""LiteLLM gateway: telemetry switches, probes, security context, scaling, Service, Ingress."""

from __future__ import annotations

import pytest
from kiva_policies.telemetry import TELEMETRY_SWITCHES as POLICY_SWITCHES

from components.platform.database_names import gateway_workers
from components.platform.gateway import CONTROLLER_NAMESPACE_ANNOTATION, TELEMETRY_SWITCHES
from infra import versions
from infra.settings import StackSettings, load_settings
from infra.settings.base import quantity_to_cores
from tests.conftest import STACKS, _committed_plan, committed_stack_file, stack_config
from tests.platform.conftest import objects_of, one


def load(stack: str, **overrides: dict) -> StackSettings:
    """The committed stack's settings, with top-level `kiva:` keys merged into."""
    base = committed_stack_file(stack)
    raw = {key.removeprefix("kiva:"): value for key, value in stack_config(stack).items()
           if key.startswith("kiva:")}  # fmt: skip
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    secrets = {key.removeprefix("kiva:") for key in base.secret_keys}
    return load_settings(raw, secrets, f"Pulumi.{stack}.yaml")


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
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"]["value"] == "True"
    for key, value in TELEMETRY_SWITCHES.items():
        assert env[key]["value"] == value
    assert env["LITELLM_MODE"]["value"] == "PRODUCTION"


@pytest.mark.parametrize("stack", STACKS)
def test_sets_only_switches_litellm_reads(stack):
    """Read by nothing in LiteLLM 1.90.6: setting them would only look like a control."""
    env = _env(stack)
    assert "LITELLM_TELEMETRY_DISABLED" not in env
    assert "USE_PRISMA_MIGRATE" not in env
    assert set(TELEMETRY_SWITCHES) == {
        s.env for p in POLICY_SWITCHES if p.name == "LiteLLM" for s in p.switches
    }, "the gateway sets exactly the LiteLLM rows of the policy pack's switch table"


@pytest.mark.parametrize("stack", STACKS)
def test_failed_migration_stops_the_pod(stack):
    """LiteLLM 1.90.6 continues on a failed migration unless ENFORCE_PRISMA_MIGRATION_CHECK is true."""
    assert _env(stack)["ENFORCE_PRISMA_MIGRATION_CHECK"]["value"] == "true"


def test_enforce_flag_is_what_the_pinned_litellm_reads():
    """The installed litellm (same version as the image) exits on a failed migration only with it."""
    from litellm.proxy.proxy_cli import run_server

    option = next(p for p in run_server.params if p.name == "enforce_prisma_migration_check")
    assert option.envvar == "ENFORCE_PRISMA_MIGRATION_CHECK" and option.is_flag
    assert option.type.convert("true", option, None) is True


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

    files = config["data"]["config.yaml"] + config["data"]["log_config.json"]
    expected = hashlib.sha256(files.encode()).hexdigest()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == expected
    args = _container(stack)["args"]
    assert args[args.index("--config") + 1] == "/etc/litellm/config.yaml"
    assert args[args.index("--log_config") + 1] == "/etc/litellm/log_config.json"
    # Longer than ingress-nginx's idle upstream keep-alive (60 s), so NGINX, not uvicorn, closes first.
    assert args[args.index("--keepalive_timeout") + 1] == "75"
    assert int(args[args.index("--num_workers") + 1]) == gateway_workers(load(stack))
    # Ignored by the uvicorn the pinned image ships (0.33.0 < 0.37): the worker count does the job.
    assert "--timeout_worker_healthcheck" not in args


@pytest.mark.parametrize(
    ("cpu", "workers"), [("100m", 1), ("500m", 1), ("1", 1), ("1500m", 1), ("2", 2), ("3500m", 3), ("8", 8)]
)
def test_workers_never_exceed_the_requested_cores(cpu, workers):
    settings = load("prod", gateway={"resources": {"requests": {"cpu": cpu, "memory": "4Gi"},
                                                   "limits": {"cpu": "8", "memory": "4Gi"}}})  # fmt: skip
    assert gateway_workers(settings) == workers


def test_workers_keep_concurrent_imports_inside_the_health_check(monkeypatch):
    """Each worker's share of the request must finish the import (with margin) within the window."""
    import components.platform.database_names as names

    settings = load("prod")
    cores = quantity_to_cores(settings.gateway.resources.requests.cpu)
    workers = gateway_workers(settings)
    assert workers * names.LITELLM_IMPORT_CPU_SECONDS * names.IMPORT_MARGIN <= (
        cores * names.UVICORN_HEALTHCHECK_SECONDS
    )
    # A heavier import (a future image) must lower the count rather than loop killing workers.
    monkeypatch.setattr(names, "LITELLM_IMPORT_CPU_SECONDS", 6.0)
    assert gateway_workers(settings) == 1


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
    assert ingress["metadata"]["annotations"][CONTROLLER_NAMESPACE_ANNOTATION] == "app-routing-system"
    assert not [o for o in objects_of(_committed_plan("dev")) if o["kind"] == "Ingress"]


def test_ingress_class_issuer_and_controller_namespace_come_from_settings(plan_with):
    ingress_settings = {
        "className": "nginx",
        "host": "llm.example.de",
        "clusterIssuer": "letsencrypt",
        "controllerNamespace": "ingress-nginx",
    }
    gateway = {**stack_config("prod")["kiva:gateway"], "ingress": ingress_settings}
    prerequisites = {"ingressClasses": ["nginx"], "clusterIssuers": ["letsencrypt"]}
    # anonymiseIps patches only the AKS add-on's controller, so a stack with another class turns it off
    monitoring = {**stack_config("prod")["kiva:monitoring"], "logs": {"anonymiseIps": False}}
    plan = plan_with(
        "prod", {"kiva:gateway": gateway, "kiva:prerequisites": prerequisites, "kiva:monitoring": monitoring}
    )
    ingress = one(objects_of(plan), "Ingress", "kiva-gateway")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt",
        CONTROLLER_NAMESPACE_ANNOTATION: "ingress-nginx",
    }
