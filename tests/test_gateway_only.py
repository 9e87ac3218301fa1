"""Gateway-only stacks (issue 12, "cloud APIs only"): no `kiva:models`, only `kiva:providers`.

Two stack files are built from the committed ones (an existing cluster from `local`, AKS from `dev`)
with the models and GPU pools removed and one EU provider added, written to a project folder and
planned by `kiva plan` as a user runs it: the real program under the mock engine, then the policy
pack with the policy config of the stage each is built from. What a GPU-less stack must not
contain is asserted on the written plan and manifests; the gateway's config is loaded by LiteLLM itself.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from infra.cli import main
from infra.settings import ConfigError, load_settings
from tests.conftest import PROJECT_DIR, committed_stack_file, stack_config
from tests.litellm_report import provider_key_env, run_check

LITELLM_CHECK = Path(__file__).parent / "platform" / "litellm_check.py"

MISTRAL = {
    "name": "mistral-eu",
    "kind": "mistral",
    "apiKeySecret": "mistralApiKey",
    "processingJurisdiction": "FR",
    "models": [{"name": "mistral-large", "model": "mistral/mistral-large-latest"}],
}
AZURE_OPENAI = {
    "name": "azure-openai-eu",
    "kind": "azure",
    "apiKeySecret": "azureOpenaiApiKey",
    "apiBase": "https://kiva-eu.openai.azure.com",
    "processingJurisdiction": "SE",
    "models": [{"name": "gpt-4o-eu", "model": "azure/gpt-4o"}],
}
#: Stack name -> (committed stack it is built from, its provider).
STACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "gateway-existing": ("local", MISTRAL),
    "gateway-azure": ("dev", AZURE_OPENAI),
}
VLLM_LABEL = ("app.kubernetes.io/name", "vllm")


def gateway_only_config(base: str, provider: dict[str, Any]) -> dict[str, Any]:
    """The committed stack's config without models, GPU pools and Hugging Face token, plus `provider`."""
    config = stack_config(base)
    for key in ("kiva:models", "kiva:gpuPools", "kiva:huggingFaceToken"):
        config.pop(key, None)
    config["kiva:providers"] = [provider]
    # Secure values as a stack file holds them (`pulumi config set --secret`); offline they stay placeholders.
    secure = (committed_stack_file(base).secret_keys & set(config)) | {f"kiva:{provider['apiKeySecret']}"}
    for key in secure:
        config[key] = {"secure": "set-me-with-pulumi-config-set-secret"}
    return config


def write_stack(project: Path, stack: str, config: dict[str, Any]) -> None:
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))


def kiva(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """`kiva plan STACK --json --manifests` for both gateway-only stacks, run once."""
    project = tmp_path_factory.mktemp("gateway-only")
    plans: dict[str, dict[str, Any]] = {}
    for stack, (base, provider) in STACKS.items():
        write_stack(project, stack, gateway_only_config(base, provider))
        policy_config = PROJECT_DIR / "policies" / "config" / f"{base}.json"
        json_file, manifest_dir = project / f"{stack}.json", project / stack
        result = kiva("plan", stack, "--project-dir", str(project),
                      "--json", str(json_file), "--manifests", str(manifest_dir),
                      "--policy-config", str(policy_config))  # fmt: skip
        assert json_file.is_file(), result.output
        objects = [yaml.safe_load(path.read_text()) for path in sorted(manifest_dir.glob("*.yaml"))]
        steps = [step["newState"] for step in json.loads(json_file.read_text())["steps"]]
        plans[stack] = {"result": result, "objects": objects, "steps": steps, "provider": provider}
    return plans


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _names(objects: list[dict[str, Any]], kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in _of_kind(objects, kind)}


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_only_stack_plans_and_passes_every_policy(planned, stack):
    result = planned[stack]["result"]
    assert result.exit_code == 0, result.output
    assert f"Policy config: {PROJECT_DIR / 'policies' / 'config' / STACKS[stack][0]}.json" in result.output
    # dev's Key Vault keeps its firewalled public endpoint: an advisory there, as in dev itself
    assert re.search(
        r"Policies: \d+ run, 0 mandatory violation\(s\), \d+ advisory, 0 not verifiable", result.output
    )
    # The day-one summary reads as a CPU-only platform: no GPU pool, no GPU count, no device plugin.
    summary = result.output.split("Day one (would it come up?):", 1)[1]
    assert "GPU" not in summary and "device plugin" not in summary, summary


@pytest.mark.parametrize("stack", STACKS)
def test_no_model_server_runs(planned, stack):
    objects = planned[stack]["objects"]
    assert _names(objects, "Deployment") == {"kiva-gateway"}
    # the only StatefulSet is the gateway's Redis (on where the gateway scales out: maxReplicas > 1)
    assert _names(objects, "StatefulSet") <= {"kiva-redis"}
    for workload in _of_kind(objects, "Deployment"):
        template = workload["spec"]["template"]
        assert VLLM_LABEL not in template["metadata"].get("labels", {}).items()
        assert all("vllm" not in c["image"] for c in template["spec"]["containers"])
    assert not [o for o in objects if o["metadata"]["name"].startswith("kiva-model-")]


@pytest.mark.parametrize("stack", STACKS)
def test_no_nvidia_software_is_installed(planned, stack):
    objects = planned[stack]["objects"]
    charts = {
        step["inputs"]["chart"]
        for step in planned[stack]["steps"]
        if step["type"] == "kubernetes:helm.sh/v3:Release"
    }
    expected = {"cloudnative-pg", "cert-manager", "plugin-barman-cloud"}
    if stack == "gateway-azure":
        expected |= {"external-secrets", "kube-prometheus-stack"}  # dev's monitoring, carried over
    assert charts == expected
    assert _of_kind(objects, "DaemonSet") == []
    assert not {"nvidia-device-plugin", "gpu-operator"} & _names(objects, "Namespace")


@pytest.mark.parametrize("stack", STACKS)
def test_no_network_policy_opens_a_path_to_model_servers(planned, stack):
    policies = _of_kind(planned[stack]["objects"], "NetworkPolicy")
    assert {"kiva-model-servers", "kiva-model-download"}.isdisjoint(p["metadata"]["name"] for p in policies)
    egress = next(p for p in policies if p["metadata"]["name"] == "kiva-gateway-egress")["spec"]["egress"]
    ports = sorted(port["port"] for rule in egress for port in rule["ports"])
    redis = [6379] if _names(planned[stack]["objects"], "StatefulSet") == {"kiva-redis"} else []
    assert ports == [443, 5432, *redis], "gateway -> database, -> external providers (and -> its Redis) only"


def test_azure_gateway_only_stack_has_no_gpu_agent_pool(planned):
    pools = [
        s["inputs"]
        for s in planned["gateway-azure"]["steps"]
        if s["type"] == "azure-native:containerservice:AgentPool"
    ]
    assert [pool["agentPoolName"] for pool in pools] == ["general"]
    assert all("gpuProfile" not in pool for pool in pools)


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_config_lists_only_the_provider_models(planned, stack, tmp_path):
    provider = planned[stack]["provider"]
    config_map = next(o for o in planned[stack]["objects"] if o["metadata"]["name"] == "kiva-gateway-config")
    text = config_map["data"]["config.yaml"]
    config = yaml.safe_load(text)
    assert [(e["model_name"], e["litellm_params"]["model"]) for e in config["model_list"]] == [
        (m["name"], m["model"]) for m in provider["models"]
    ]
    assert "hosted_vllm" not in text and "svc.cluster.local" not in text
    report = _litellm_report(text, config, tmp_path)
    assert report["model_names"] == [m["name"] for m in provider["models"]]
    assert report["unknown_general_settings"] == report["unknown_litellm_settings"] == []


def _litellm_report(text: str, config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """LiteLLM's own config loading (tests/platform/litellm_check.py) over the generated config."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LITELLM", "DATABASE"))}
    env |= {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": "sk-test-only",
        "DATABASE_URL": "postgresql://test:test@127.0.0.1:1/test",
        # where the stack has Redis the config names it by `os.environ/`; nothing listens on port 1
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "1",
        "REDIS_PASSWORD": "test-only",
    }
    env |= provider_key_env(config)
    report, _ = run_check([sys.executable, str(LITELLM_CHECK), str(path)], env)
    return report


# --- configuration errors ----------------------------------------------------------------------------


def _error(base: str, **overrides: Any) -> str:
    config = {k.removeprefix("kiva:"): v for k, v in stack_config(base).items() if k.startswith("kiva:")}
    secrets = {key.removeprefix("kiva:") for key in committed_stack_file(base).secret_keys}
    config.update(overrides)
    config = {key: value for key, value in config.items() if value is not None}
    with pytest.raises(ConfigError) as caught:
        load_settings(config, secrets, f"Pulumi.{base}.yaml")
    return str(caught.value)


NOTHING_SERVED = (
    "kiva:models: the stack serves no model: add a model served by vLLM under kiva:models (e.g. "
    "{name: qwen-2-5-7b, huggingFaceId: Qwen/Qwen2.5-7B-Instruct, servedName: qwen2.5-7b-instruct, "
    "parametersBillion: 7.6, pool: a100}) or an external provider under kiva:providers (e.g. "
    "{name: azure-openai-eu, kind: azure, apiKeySecret: azureOpenaiApiKey, "
    "apiBase: https://kiva-eu.openai.azure.com, processingJurisdiction: SE, "
    "models: [{name: gpt-4o-eu, model: azure/gpt-4o}]})"
)


@pytest.mark.parametrize("models", [None, []], ids=["models-absent", "models-empty"])
def test_no_models_and_no_providers_is_refused(models):
    assert _error("local", models=models) == f"Pulumi.local.yaml: {NOTHING_SERVED}"


def test_gpu_pool_without_models_is_refused():
    message = _error("dev", models=None, huggingFaceToken=None, providers=[AZURE_OPENAI])
    assert message == (
        "Pulumi.dev.yaml: kiva:gpuPools[0]: GPU pool 't4' runs no model: kiva:models is empty "
        "(a gateway-only stack), so its nodes would cost money and run nothing; remove kiva:gpuPools, "
        "or add a model with pool: t4 under kiva:models"
    )


def test_kiva_plan_of_a_stack_without_models_or_providers_exits_2(tmp_path):
    config = gateway_only_config("local", MISTRAL)
    del config["kiva:providers"], config["kiva:mistralApiKey"]
    write_stack(tmp_path, "nothing", config)
    result = kiva("plan", "nothing", "--project-dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"Pulumi.nothing.yaml: {NOTHING_SERVED}" in result.output
    assert "Traceback" not in result.output
