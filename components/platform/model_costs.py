"""What the gateway books per token for a model served in the cluster, so that budgets stop it too.

LiteLLM prices a request from its cost map; a `hosted_vllm/` model is not in it, so without a price its
spend stays 0 and no team or key budget ever stops it. LiteLLM 1.108.7 reads `input_cost_per_token` and
`output_cost_per_token` from a deployment's `model_info` (or `litellm_params`): `Router._create_deployment`
(litellm/router.py:9738) registers them under the deployment's id (`_register_deployment_pricing`, :10895,
then `litellm.register_model`, litellm/utils.py:3718), `use_custom_pricing_for_model`
(litellm/litellm_core_utils/litellm_logging.py:5999) sees them in the request's `metadata.model_info`, and
`select_model_name_for_cost_calc` (litellm/cost_calculator.py:965, formerly `_select_model_name_for_cost_calc`,
still an alias at :1044) then prices by that id. A price also keeps the budget checks on: 1.108.7 waives
them only for a model whose price is explicitly 0 (`is_model_cost_zero`, litellm/proxy/auth/auth_checks.py:
535; tests/test_model_costs.py runs both).

LiteLLM has no currency: spend and budgets are plain numbers (its UI shows `$`). KIVA's defaults are
EUR-derived, so budgets set in EUR match them; a stack that budgets in USD sets its own prices.

Default, when `costPerMillionInputTokens`/`costPerMillionOutputTokens` are not set: what the GPUs cost
for the tokens they produce in an hour, at an assumed throughput.

    output cost per token = GPU_HOUR_PRICE × gpus / OUTPUT_TOKENS_PER_REPLICA_HOUR
    input cost per token  = output cost per token × INPUT_COST_SHARE

The constants are assumptions, not measurements of your hardware; they make a local model cost
something (so budgets bite) at a magnitude comparable to hosted open-weight models, and a real price
belongs in the stack file. A CPU model (`cpu: true`) is priced like one GPU: its throughput is lower
but so is its hardware.
"""

from __future__ import annotations

from infra.settings.workloads import Model, ProviderModel

#: EUR per GPU-hour: an on-demand data-centre GPU in an EU region, between the T4 (~0.50 €/h) and
#: A100/H100 (~3–5 €/h) figures of infra/cost/prices (unverified, like those).
GPU_HOUR_PRICE = 2.0
#: Output tokens one replica generates per hour under load with vLLM's continuous batching:
#: 1,000 tokens/s, a round figure for a 7–8 B model with many concurrent requests.
OUTPUT_TOKENS_PER_REPLICA_HOUR = 1_000 * 3_600
#: Prompt tokens are processed in parallel (prefill) and cost a fraction of a generated token; hosted
#: APIs commonly charge a quarter to a third. A quarter is assumed.
INPUT_COST_SHARE = 0.25

PER_MILLION = 1_000_000


def default_output_cost_per_token(model: Model) -> float:
    return GPU_HOUR_PRICE * model.gpus / OUTPUT_TOKENS_PER_REPLICA_HOUR


def cost_model_info(model: Model) -> dict[str, float]:
    """The `model_info` prices of a local model: from its settings, else the default above."""
    output = default_output_cost_per_token(model)
    input_ = output * INPUT_COST_SHARE
    if model.cost_per_million_output_tokens is not None:
        output = model.cost_per_million_output_tokens / PER_MILLION
    if model.cost_per_million_input_tokens is not None:
        input_ = model.cost_per_million_input_tokens / PER_MILLION
    return _per_token_prices(input_, output)


def provider_cost_model_info(model: ProviderModel) -> dict[str, float]:
    """The `model_info` prices of an external provider's model where the stack file sets them, else none:
    LiteLLM then prices it from its cost map (an OpenAI-compatible endpoint's models must have them,
    `ExternalProvider`; `kiva:gateway.refuseUnpricedModels` refuses any model the map lacks)."""
    if model.cost_per_million_input_tokens is None or model.cost_per_million_output_tokens is None:
        return {}
    return _per_token_prices(
        model.cost_per_million_input_tokens / PER_MILLION, model.cost_per_million_output_tokens / PER_MILLION
    )


def _per_token_prices(input_: float, output: float) -> dict[str, float]:
    """Prompt, generated and cached prompt tokens. Cache hits (vLLM reports them as
    `prompt_tokens_details.cached_tokens` with `--enable-prompt-tokens-details`; providers discount them)
    are booked like any prompt token, so budgets err high, and LiteLLM's `register_model` has no "cache
    costs default to 0" warning to give (`_registration_base`, litellm/utils.py:3574-3583 in 1.108.7)."""
    return {
        "input_cost_per_token": input_,
        "output_cost_per_token": output,
        "cache_read_input_token_cost": input_,
    }
