"""LiteLLM gateway: telemetry switches, start-up and migrations, probes, security context, scaling,
Service, Ingress."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

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


#: A LiteLLM release tag: `v1.108.7` (the form of the LTS release notes and of infra/versions.py) or the
#: older `1.90.6`. Floating tags (`main-latest`, `main-stable`, `latest`, `lts`, a bare `v1.108`, nightly
#: and release-candidate builds) do not match.
RELEASE_TAG = re.compile(r"v?\d+\.\d+\.\d+")


@pytest.mark.parametrize("tag", ["v1.108.7", "1.90.6"])
def test_release_tags_are_accepted(tag):
    assert RELEASE_TAG.fullmatch(tag)


@pytest.mark.parametrize(
    "tag",
    [
        "main-latest",
        "main-stable",
        "latest",
        "lts",
        "v1.108",
        "main-v1.108.7",
        "v1.108.7-nightly",
        "v1.108.7.rc1",
    ],
)
def test_floating_tags_are_refused(tag):
    assert not RELEASE_TAG.fullmatch(tag)


@pytest.mark.parametrize("stack", STACKS)
def test_image_is_a_pinned_release(stack):
    image = _container(stack)["image"]
    assert image == versions.LITELLM_IMAGE
    tag = image.split("@", 1)[0].rsplit(":", 1)[1]  # `repository:tag`, or `repository:tag@sha256:…`
    assert RELEASE_TAG.fullmatch(tag), f"{tag!r} is not a release tag"
    assert tag.removeprefix("v") == versions.LITELLM_VERSION, "the image runs the litellm the tests load"


@pytest.mark.parametrize("stack", STACKS)
def test_telemetry_switches(stack):
    env = _env(stack)
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"]["value"] == "True"
    for key, value in TELEMETRY_SWITCHES.items():
        assert env[key]["value"] == value
    assert env["LITELLM_MODE"]["value"] == "PRODUCTION"


@pytest.mark.parametrize("stack", STACKS)
def test_sets_only_switches_litellm_reads(stack):
    """`USE_PRISMA_MIGRATE` and `ENFORCE_PRISMA_MIGRATION_CHECK` are read by nothing in LiteLLM 1.108.7
    (see below): setting them would only look like a control."""
    env = _env(stack)
    assert "USE_PRISMA_MIGRATE" not in env
    assert "ENFORCE_PRISMA_MIGRATION_CHECK" not in env
    assert env["LITELLM_TELEMETRY_DISABLED"]["value"] == "True"
    policy_rows = {s.env for p in POLICY_SWITCHES if p.name == "LiteLLM" for s in p.switches}
    assert set(TELEMETRY_SWITCHES) == policy_rows, (
        "the gateway sets exactly the LiteLLM rows of the policy pack's switch table"
    )


def test_nothing_in_the_pinned_litellm_reads_the_dropped_switches():
    """Grep the installed litellm, litellm_proxy_extras and litellm_enterprise (the image's versions):
    1.108.7 names `--enforce_prisma_migration_check` as a CLI option only, without an env var."""
    from importlib.util import find_spec

    roots = []
    for name in ("litellm", "litellm_proxy_extras", "litellm_enterprise"):
        spec = find_spec(name)
        assert spec is not None and spec.origin is not None, name
        roots.append(Path(spec.origin).parent)
    sources = [path for root in roots for path in root.rglob("*.py") if "tests" not in path.parts]
    assert len(sources) > 1000
    for switch in ("ENFORCE_PRISMA_MIGRATION_CHECK", "USE_PRISMA_MIGRATE"):
        assert not [path for path in sources if switch in path.read_text(encoding="utf-8")], switch


def test_telemetry_veto_locks_litellms_usage_telemetry_off(monkeypatch):
    """1.108.7 records usage telemetry once an admin opts in on the UI's Telemetry page; the veto refuses
    the opt-in (litellm/proxy/telemetry/settings.py `TelemetrySettings`, `EnvPolicy.locked_off`)."""
    from litellm.proxy.telemetry.settings import TelemetrySettings, env_policy

    monkeypatch.delenv("LITELLM_TELEMETRY_DISABLED", raising=False)
    assert env_policy(TelemetrySettings()).locked_off is False
    monkeypatch.setenv("LITELLM_TELEMETRY_DISABLED", TELEMETRY_SWITCHES["LITELLM_TELEMETRY_DISABLED"])
    assert env_policy(TelemetrySettings()).locked_off is True


def test_autorouter_presets_come_from_the_image(monkeypatch):
    """The unauthenticated `/public/autorouter_presets` fetches its catalogue from GitHub unless the
    switch is on (litellm/proxy/public_endpoints/public_endpoints.py `_resolve_autorouter_presets`)."""
    from litellm.proxy.public_endpoints.public_endpoints import _resolve_autorouter_presets

    url = "https://example.invalid/presets.json"
    fetched: list[str] = []

    async def fetch(address: str) -> dict:
        fetched.append(address)
        return {"fetched": {}}

    monkeypatch.delenv("LITELLM_LOCAL_AUTOROUTER_PRESETS", raising=False)
    assert asyncio.run(_resolve_autorouter_presets(url=url, fetch=fetch)) == {"fetched": {}}
    monkeypatch.setenv(
        "LITELLM_LOCAL_AUTOROUTER_PRESETS", TELEMETRY_SWITCHES["LITELLM_LOCAL_AUTOROUTER_PRESETS"]
    )
    bundled = asyncio.run(_resolve_autorouter_presets(url=url, fetch=fetch))
    assert bundled and "fetched" not in bundled
    assert fetched == [url], "fetched without the switch only"


START_CHECK = Path(__file__).with_name("litellm_start_check.py")


@cache
def litellm_start(stack: str, outcome: str, tmp: Path) -> tuple[int, str, dict | None]:
    """The stack's container args, env, config and a `DATABASE_URL` through 1.108.7's `run_server`, the
    database set-up replaced by `outcome` (litellm_start_check.py): exit code, output, what would serve."""
    config = one(objects_of(_committed_plan(stack)), "ConfigMap", "kiva-gateway-config")["data"][
        "config.yaml"
    ]
    path = tmp / f"{stack}-config.yaml"
    path.write_text(config, encoding="utf-8")
    args = list(_container(stack)["args"])
    args[args.index("--config") + 1] = str(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM", "DATABASE", "PROMETHEUS"))}
    env |= {e["name"]: e["value"] for e in _container(stack)["env"] if "value" in e}
    env |= {
        "LITELLM_MASTER_KEY": "sk-test-only",
        "DATABASE_URL": "postgresql://test:test@127.0.0.1:1/test",
        "TMPDIR": str(tmp),
    }
    done = subprocess.run(
        [sys.executable, str(START_CHECK), outcome, *args],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    served = [json.loads(line.removeprefix("KIVA-SERVED ")) for line in done.stdout.splitlines()
              if line.startswith("KIVA-SERVED ")]  # fmt: skip
    return done.returncode, done.stdout + done.stderr, served[0] if served else None


@pytest.fixture(scope="module")
def start_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("litellm-start")


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_switches_migrations_off_or_to_db_push(stack):
    """The proxy migrates at start-up (`prisma migrate deploy`, v2 resolver) unless told otherwise."""
    env, args = _env(stack), _container(stack)["args"]
    assert not {"DISABLE_SCHEMA_UPDATE", "USE_V2_MIGRATION_RESOLVER", "LITELLM_PGBOUNCER_ENABLED"} & set(env)
    assert not {"--use_prisma_db_push", "--use_legacy_migration_resolver", "--skip_server_startup"} & set(
        args
    )
    assert env["LITELLM_MIGRATION_DIR"]["value"] == "/var/lib/litellm/migrations"


@pytest.mark.parametrize(
    ("outcome", "code", "message"),
    [
        ("failed", 1, "Database setup failed after multiple retries. The proxy cannot start safely."),
        ("unrecoverable", 2, "Database migration cannot proceed. kiva test: a migration failed"),
        ("no-prisma", 1, "a database URL is set but the prisma CLI is neither on PATH nor importable"),
    ],
)
def test_a_failed_database_setup_stops_the_pod(outcome, code, message, start_dir):
    """1.108.7 exits whenever database set-up fails at start (litellm/proxy/proxy_cli.py:1509-1541) with
    nothing switched on: the pod never becomes ready and the rollout stops with the old pods serving."""
    returncode, output, served = litellm_start("prod", outcome, start_dir)
    assert (returncode, served) == (code, None), output[-3000:]
    assert message in output


def test_a_migrated_database_serves_with_the_pods_arguments(start_dir):
    """Set-up succeeds: migrate deploy with the v2 resolver, the spend-log index build in the background,
    then uvicorn with the keep-alive, logging config and workers of the container's args."""
    returncode, output, served = litellm_start("prod", "migrated", start_dir)
    assert returncode == 0 and served is not None, output[-3000:]
    assert served["events"][:2] == [
        "setup_database(use_migrate=True, use_v2_resolver=True)",
        "start_request_log_index_build",
    ]
    args, uvicorn = _container("prod")["args"], served["uvicorn"]
    assert uvicorn["timeout_keep_alive"] == int(args[args.index("--keepalive_timeout") + 1]) == 75
    assert uvicorn["log_config"] == "/etc/litellm/log_config.json"
    assert uvicorn["workers"] == int(args[args.index("--num_workers") + 1])
    assert uvicorn["port"] == 4000
    # LiteLLM drains in-flight requests for GRACEFUL_SHUTDOWN_TIMEOUT (30 s) on SIGTERM, well inside the
    # pod's grace period, so a draining pod is not killed mid-request.
    grace = _gateway("prod")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert uvicorn["timeout_graceful_shutdown"] < grace
    # 1.108.7's in-container pgbouncer stays off unless LITELLM_PGBOUNCER_ENABLED is set.
    assert "pgbouncer" not in output.lower()


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
    # The window the worker count is sized for (components/platform/database_names.py).
    assert args[args.index("--timeout_worker_healthcheck") + 1] == "30"


@pytest.mark.parametrize(
    ("cpu", "workers"), [("100m", 1), ("500m", 1), ("1", 1), ("1500m", 1), ("2", 2), ("3500m", 3), ("8", 8)]
)
def test_workers_never_exceed_the_requested_cores(cpu, workers):
    settings = load("prod", gateway={"resources": {"requests": {"cpu": cpu, "memory": "4Gi"},
                                                   "limits": {"cpu": "8", "memory": "4Gi"}}})  # fmt: skip
    assert gateway_workers(settings) == workers


def _two_cores() -> StackSettings:
    """prod with the CPU request of a fork that runs two workers per pod (prod itself runs one)."""
    amounts = {"cpu": "2", "memory": "4Gi"}
    return load("prod", gateway={"resources": {"requests": amounts, "limits": amounts}})


def test_workers_keep_concurrent_imports_inside_the_health_check(monkeypatch):
    """Each worker's share of the request must finish the import (with margin) within the window."""
    import components.platform.database_names as names

    settings = _two_cores()
    cores = quantity_to_cores(settings.gateway.resources.requests.cpu)
    workers = gateway_workers(settings)
    assert workers == 2
    assert workers * names.LITELLM_IMPORT_CPU_SECONDS * names.IMPORT_MARGIN <= (
        cores * names.UVICORN_HEALTHCHECK_SECONDS
    )
    # Within uvicorn's default 5 s two workers could not import 1.108.7 on two busy cores.
    assert workers * names.LITELLM_IMPORT_CPU_SECONDS * names.IMPORT_MARGIN > cores * 5
    # A heavier import (a future image) must lower the count rather than loop killing workers.
    monkeypatch.setattr(names, "LITELLM_IMPORT_CPU_SECONDS", 30.0)
    assert gateway_workers(settings) == 1


def test_the_pod_sets_the_health_check_window_the_worker_count_assumes():
    import components.platform.database_names as names

    args = _container("prod")["args"]
    assert (
        args[args.index("--timeout_worker_healthcheck") + 1] == str(names.UVICORN_HEALTHCHECK_SECONDS) == "30"
    )


def test_prod_runs_one_worker_per_pod_and_scales_by_replicas():
    """One worker per 1-CPU pod: no supervisor, no multiprocess metrics, the least CPU per request
    (docs/performance.md); the same 20 cores at full scale as 10 pods of 2 workers."""
    settings = load("prod")
    args = _container("prod")["args"]
    assert args[args.index("--num_workers") + 1] == "1" == str(gateway_workers(settings))
    assert settings.gateway.max_replicas * quantity_to_cores(settings.gateway.resources.requests.cpu) == 20


def test_service_autoscaler_and_disruption_budget():
    objects = objects_of(_committed_plan("prod"))
    assert one(objects, "Service", "kiva-gateway")["spec"]["ports"][0]["port"] == 4000
    hpa = one(objects, "HorizontalPodAutoscaler", "kiva-gateway")["spec"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] == 20
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
