"""The generated LiteLLM config is accepted by LiteLLM's own parsing, and says what the issue requires.

`litellm[proxy]` is a dev dependency pinned to the gateway image's version (infra/versions.py).
LiteLLM runs in a subprocess (see litellm_check.py), once per stack.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from components.platform.gateway_config import litellm_config
from infra import versions
from tests.conftest import STACKS, _committed_plan
from tests.litellm_report import provider_key_env, run_check
from tests.platform.conftest import objects_of, one

CHECK = Path(__file__).with_name("litellm_check.py")


def _config_map(stack: str) -> dict:
    return one(objects_of(_committed_plan(stack)), "ConfigMap", "kiva-gateway-config")


def _gateway_args(stack: str) -> list[str]:
    deployment = one(objects_of(_committed_plan(stack)), "Deployment", "kiva-gateway")
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"]


@cache
def litellm_report(stack: str, tmp: Path) -> dict:
    path = tmp / f"{stack}-config.yaml"
    path.write_text(_config_map(stack)["data"]["config.yaml"], encoding="utf-8")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LITELLM", "DATABASE"))}
    env |= {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": "sk-test-only",
        "DATABASE_URL": "postgresql://test:test@127.0.0.1:1/test",
        "LITELLM_SALT_KEY": "test-only-salt",
        # Where the stack has Redis the config names it by `os.environ/`; nothing listens on port 1.
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "1",
        "REDIS_PASSWORD": "test-only",
    }
    env |= provider_key_env(config)
    report, _ = run_check([sys.executable, str(CHECK), str(path), *_gateway_args(stack)], env)
    return report


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("litellm")


def test_litellm_test_dependency_matches_the_gateway_image():
    assert version("litellm") == versions.LITELLM_VERSION


@pytest.mark.parametrize("stack", STACKS)
def test_litellm_loads_the_generated_config(stack, tmp_dir):
    report = litellm_report(stack, tmp_dir)
    config = yaml.safe_load(_config_map(stack)["data"]["config.yaml"])
    assert report["model_names"] == [m["model_name"] for m in config["model_list"]]
    assert report["unknown_general_settings"] == []
    assert report["unknown_litellm_settings"] == []
    assert report["unknown_cli_options"] == []
    assert report["turn_off_message_logging"] is True
    assert report["store_prompts_in_spend_logs"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_local_models_are_hosted_vllm_behind_their_service(stack):
    plan = _committed_plan(stack)
    config = yaml.safe_load(_config_map(stack)["data"]["config.yaml"])
    models = yaml.safe_load(plan.config["kiva:models"])
    local = {entry["model_name"]: entry["litellm_params"] for entry in config["model_list"]}
    for model in models:
        params = local[model["servedName"]]
        assert params["model"] == f"hosted_vllm/{model['servedName']}"
        assert params["api_base"] == f"http://kiva-model-{model['name']}.kiva.svc.cluster.local:8000/v1"


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_and_no_callback_in_the_config(stack):
    config = yaml.safe_load(_config_map(stack)["data"]["config.yaml"])
    general, settings = config["general_settings"], config["litellm_settings"]
    assert general["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert general["database_url"] == "os.environ/DATABASE_URL"
    assert general["store_prompts_in_spend_logs"] is False
    assert settings["success_callback"] == settings["failure_callback"] == []
    # Only the in-process Prometheus callback, and only where the stack is monitored (dev, prod).
    assert settings["callbacks"] == (["prometheus"] if stack in ("dev", "prod") else [])
    for entry in config["model_list"]:
        key = entry["litellm_params"].get("api_key")
        assert key is None or key.startswith("os.environ/"), entry


@pytest.mark.parametrize("stack", STACKS)
def test_spend_log_retention_comes_from_config(stack):
    plan = _committed_plan(stack)
    days = yaml.safe_load(plan.config["kiva:retention"])["spendLogsDays"]
    config = yaml.safe_load(_config_map(stack)["data"]["config.yaml"])
    assert config["general_settings"]["maximum_spend_logs_retention_period"] == f"{days}d"


def test_a_config_change_changes_the_checksum(plan_with):
    """The pod template's checksum annotation follows the config, so a config change rolls the pods."""

    def checksum(plan) -> str:
        deployment = one(objects_of(plan), "Deployment", "kiva-gateway")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    retention = yaml.safe_load(_committed_plan("local").config["kiva:retention"]) | {"spendLogsDays": 3}
    assert checksum(_committed_plan("local")) != checksum(plan_with("local", {"kiva:retention": retention}))


def test_provider_keys_are_environment_references():
    plan = _committed_plan("prod")
    config = yaml.safe_load(_config_map("prod")["data"]["config.yaml"])
    providers = yaml.safe_load(plan.config["kiva:providers"])
    names = {m["name"] for p in providers for m in p["models"]}
    external = [e for e in config["model_list"] if e["model_name"] in names]
    assert external and all(
        e["litellm_params"]["api_key"].startswith("os.environ/PROVIDER_") for e in external
    )
    assert litellm_config  # the generator is importable without LiteLLM
