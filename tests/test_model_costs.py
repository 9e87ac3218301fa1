"""Issue 14, part 3: every model the gateway serves has a price, so budgets stop local models too.

The LiteLLM part runs in a subprocess (tests/model_cost_check.py) with LiteLLM 1.108.7 loading the
generated config, pricing a request and running the proxy's key-budget check on what it booked; the
stack is the committed dev stack plus an Azure provider, so that the Azure deployment's `base_model` is
covered as well.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.platform import model_costs
from components.platform.gateway_config import litellm_config, render
from infra.settings.loader import ConfigError, load_settings
from tests.conftest import committed_stack_file, stack_config
from tests.litellm_report import run_check

AZURE = {
    "name": "azure-openai-eu",
    "kind": "azure",
    "apiKeySecret": "azureOpenaiApiKey",
    "apiBase": "https://kiva-eu.openai.azure.com",
    "processingJurisdiction": "SE",
    "models": [{"name": "gpt-4o-eu", "model": "azure/gpt-4o"}],
}
#: An OpenAI-compatible endpoint (STACKIT AI Model Serving's, in Germany): LiteLLM's cost map cannot know
#: what it serves, so the stack file prices its models.
OPENAI_COMPATIBLE = {
    "name": "stackit",
    "kind": "openai",
    "apiKeySecret": "stackitApiKey",
    "apiBase": "https://api.openai-compat.model-serving.eu01.onstackit.cloud/v1",
    "processingJurisdiction": "DE",
    "models": [
        {
            "name": "llama-3.3-70b",
            "model": "openai/cortecs/Llama-3.3-70B-Instruct-FP8-Dynamic",
            "costPerMillionInputTokens": 0.45,
            "costPerMillionOutputTokens": 0.65,
        },
    ],
}
#: A provider's model that LiteLLM's cost map (1.108.7) lacks, e.g. one released after the pinned version.
UNMAPPED = {
    "name": "mistral-eu",
    "kind": "mistral",
    "apiKeySecret": "mistralApiKey",
    "processingJurisdiction": "FR",
    "models": [{"name": "mistral-unmapped", "model": "mistral/mistral-released-after-the-pin"}],
}
#: litellm's model_prices_and_context_window_backup.json (1.108.7, the map `LITELLM_LOCAL_MODEL_COST_MAP`
#: loads), `azure/gpt-4o`: 2.5 and 10 per million.
AZURE_GPT_4O = (2.5e-6, 1e-5)


def settings(
    model_overrides: dict[str, Any] | None = None,
    providers: list[dict] | None = None,
    gateway: dict[str, Any] | None = None,
):
    raw = {
        key.removeprefix("kiva:"): value
        for key, value in stack_config("dev").items()
        if key.startswith("kiva:")
    }
    raw["gateway"] = {**raw.get("gateway", {}), **(gateway or {})}
    raw["models"] = [{**model, **(model_overrides or {})} for model in raw["models"]]
    raw["providers"] = providers or []
    secrets = {key.removeprefix("kiva:") for key in committed_stack_file("dev").secret_keys}
    secrets |= {provider["apiKeySecret"] for provider in providers or []}
    return load_settings(raw, secrets, "test")


def entry(config: dict, name: str) -> dict:
    return next(item for item in config["model_list"] if item["model_name"] == name)


def test_default_prices_follow_the_gpu_hour_formula():
    config = litellm_config(settings())
    info = entry(config, "llama-3.2-3b-instruct")["model_info"]
    # 2 €/GPU-hour × 1 GPU ÷ 3.6 M tokens/hour; prompt tokens a quarter of that.
    assert info["output_cost_per_token"] == pytest.approx(2.0 / 3_600_000)
    assert info["input_cost_per_token"] == pytest.approx(0.5 / 3_600_000)
    assert info["cache_read_input_token_cost"] == info["input_cost_per_token"]


def test_more_gpus_per_replica_cost_more_per_token():
    model = settings().models[0].model_copy(update={"gpus": 2})
    assert model_costs.default_output_cost_per_token(model) == pytest.approx(4.0 / 3_600_000)


def test_prices_from_the_stack_file_win():
    config = litellm_config(settings({"costPerMillionInputTokens": 0.2, "costPerMillionOutputTokens": 0.8}))
    info = entry(config, "llama-3.2-3b-instruct")["model_info"]
    assert info["input_cost_per_token"] == pytest.approx(2e-7)
    assert info["output_cost_per_token"] == pytest.approx(8e-7)


@pytest.mark.parametrize("price", [-1, 0])
def test_a_price_that_would_waive_budgets_is_refused_with_its_key_path(price):
    """LiteLLM 1.108.7 skips every budget check for a model whose prices are all 0 (`is_model_cost_zero`,
    litellm/proxy/auth/auth_checks.py:535)."""
    with pytest.raises(ConfigError) as error:
        settings({"costPerMillionOutputTokens": price})
    assert str(error.value) == (
        f"test: kiva:models[0].costPerMillionOutputTokens: must be greater than 0.0 (got {price})"
    )


def test_azure_deployments_name_their_base_model():
    config = litellm_config(settings(providers=[AZURE]))
    assert entry(config, "gpt-4o-eu")["litellm_params"]["base_model"] == "azure/gpt-4o"


def without_redis(config: dict) -> dict:
    """The config without the gateway's Redis (pricing needs none, and nothing would listen)."""
    for key in ("cache", "cache_params"):
        config["litellm_settings"].pop(key, None)
    router = config.get("router_settings", {})
    for key in [key for key in router if key.startswith("redis_")]:
        del router[key]
    return config


def _litellm_report(config: dict, tmp: Path) -> dict:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(without_redis(config), sort_keys=False), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LITELLM", "DATABASE"))}
    env |= {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": "sk-test-only",
        "DATABASE_URL": "postgresql://test:test@127.0.0.1:1/test",
        "PROVIDER_AZURE_OPENAI_EU_API_KEY": "test-only",
        "PROVIDER_STACKIT_API_KEY": "test-only",
        "PROVIDER_MISTRAL_EU_API_KEY": "test-only",
    }
    # As a module from the repository root: run as a file, tests/platform would shadow `platform`.
    report, stderr = run_check([sys.executable, "-m", "tests.model_cost_check", str(path)], env)
    return {"report": report, "stderr": stderr}


@pytest.fixture(scope="module")
def priced(tmp_path_factory) -> tuple[dict, dict]:
    config = yaml.safe_load(render(settings(providers=[AZURE])))
    return config, _litellm_report(copy.deepcopy(config), tmp_path_factory.mktemp("priced"))


def test_litellm_prices_a_local_model_request_from_the_generated_config(priced):
    config, result = priced
    info = entry(config, "llama-3.2-3b-instruct")["model_info"]
    local = result["report"]["llama-3.2-3b-instruct"]
    prompt, completion = local["usage"]
    expected = prompt * info["input_cost_per_token"] + completion * info["output_cost_per_token"]
    assert local["response_cost"] == pytest.approx(expected)
    assert local["response_cost"] > 0
    assert local["completion_cost"] == pytest.approx(
        1000 * info["input_cost_per_token"] + 500 * info["output_cost_per_token"]
    )
    # Prefix-cache hits are priced too, so LiteLLM 1.108.7 has no "cache costs default to 0" warning to
    # give (`_registration_base`, litellm/utils.py:3574-3583); without the price it does.
    assert "register_model:" not in result["stderr"]


def test_a_key_budget_stops_a_local_model_after_its_first_request(priced):
    """The proxy's own gate (`virtual_key_max_budget_check`): the request's cost is booked, so a key whose
    budget it exceeds is refused; and a priced local model never waives budget checks."""
    _, result = priced
    budget = result["report"]["llama-3.2-3b-instruct"]["budget"]
    assert budget["waived"] is False
    assert budget["stopped"] is True
    assert budget["message"].startswith("Budget has been exceeded! Key=key Current cost: ")
    assert budget["message"].endswith(", Max budget: 1e-09")


def test_litellm_prices_the_azure_deployment_by_its_base_model(priced):
    _, result = priced
    azure = result["report"]["gpt-4o-eu"]
    assert azure["completion_cost"] == pytest.approx(1000 * AZURE_GPT_4O[0] + 500 * AZURE_GPT_4O[1])


def test_litellm_finds_a_price_for_every_model_of_the_stack(priced):
    """LiteLLM's own pricing check (`_unpriced_models_in_request`) passes the local and the Azure model; its
    gate is off unless `refuseUnpricedModels` asks for it (it costs CPU on every request)."""
    _, result = priced
    gates = {name: model["gate"] for name, model in result["report"].items()}
    assert set(gates) == {"llama-3.2-3b-instruct", "gpt-4o-eu"}
    assert all(gate == {"enabled": False, "refused": False, "message": None} for gate in gates.values()), (
        gates
    )


def test_an_openai_compatible_endpoint_s_model_without_prices_is_refused_at_plan_time():
    unpriced = {**OPENAI_COMPATIBLE, "models": [{"name": "llama-3.3-70b", "model": "openai/meta/llama-3.3"}]}
    with pytest.raises(ConfigError) as error:
        settings(providers=[unpriced])
    assert str(error.value) == (
        "test: kiva:providers[0]: LiteLLM knows no price for the models of an OpenAI-compatible endpoint and "
        "would book llama-3.3-70b at 0, past every budget: set costPerMillionInputTokens and "
        "costPerMillionOutputTokens for each"
    )


@pytest.fixture(scope="module")
def provider_models(tmp_path_factory) -> dict:
    chosen = settings(providers=[OPENAI_COMPATIBLE, UNMAPPED], gateway={"refuseUnpricedModels": True})
    config = yaml.safe_load(render(chosen))
    return _litellm_report(config, tmp_path_factory.mktemp("provider-models"))["report"]


def test_prices_in_the_stack_file_let_a_provider_model_through_and_are_booked(provider_models):
    priced_model = provider_models["llama-3.3-70b"]
    assert priced_model["gate"] == {"enabled": True, "refused": False, "message": None}
    assert priced_model["completion_cost"] == pytest.approx(1000 * 0.45e-6 + 500 * 0.65e-6)
    prompt, completion = priced_model["usage"]
    assert priced_model["response_cost"] == pytest.approx(prompt * 0.45e-6 + completion * 0.65e-6)


def test_refuse_unpriced_models_stops_a_model_the_cost_map_lacks_instead_of_booking_it_at_0(provider_models):
    unmapped = provider_models["mistral-unmapped"]
    assert not unmapped["response_cost"]  # what would be booked without the gate: nothing
    assert unmapped["gate"]["enabled"] and unmapped["gate"]["refused"]
    assert unmapped["gate"]["message"].startswith(
        "Model 'mistral-unmapped' has no pricing in the cost map, so litellm cannot price the request."
    )


def test_a_provider_model_with_one_price_only_is_refused_with_its_key_path():
    half = {**UNMAPPED, "models": [{"name": "m", "model": "mistral/m", "costPerMillionInputTokens": 1}]}
    with pytest.raises(ConfigError) as error:
        settings(providers=[half])
    assert str(error.value) == (
        "test: kiva:providers[0].models[0]: set both costPerMillionInputTokens and costPerMillionOutputTokens, "
        "or neither (LiteLLM's cost map then prices the model)"
    )


def test_without_prices_litellm_cannot_price_a_local_model(tmp_path):
    """What the prices fix: the same config without them books the local model at 0."""
    config = litellm_config(settings())
    for item in config["model_list"]:
        item.pop("model_info", None)
    local = _litellm_report(config, tmp_path)["report"]["llama-3.2-3b-instruct"]
    # LiteLLM 1.108.7 books a `hosted_vllm/` model it has no price for at 0: no budget ever stops it.
    assert not local["response_cost"]
    assert local["completion_cost"] == 0.0
    assert local["budget"] == {"waived": False, "stopped": False, "message": None}
