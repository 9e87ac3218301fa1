"""Price requests the way LiteLLM's proxy does, on a generated config (a subprocess of test_model_costs.py).

Usage: python -m tests.model_cost_check CONFIG.yaml — prints a JSON report. The config is loaded by the
proxy's `ProxyConfig.load_config`; each model is then called through the resulting router with
`mock_response` (no network), so the cost comes from LiteLLM's own logging path
(`response_cost_calculator`, litellm/cost_calculator.py) and lands in `_hidden_params["response_cost"]`,
the value the proxy adds to a key's and a team's spend. `completion_cost` is also called directly on a
fake response of 1,000 prompt and 500 completion tokens, with the deployment's id and `base_model` as
the proxy passes them.

Then the proxy's own budget gate, as LiteLLM 1.108.7 runs it before a call (litellm/proxy/auth/
auth_checks.py): whether the model waives budget checks (`request_skips_budget_checks`, :1063, through
`is_model_cost_zero`, :535), and whether a key with a budget of `BUDGET` that has made this one request
(its spend is the request's `response_cost`) is stopped (`virtual_key_max_budget_check`, :6380, raises
`BudgetExceededError`).

Last, the proxy's gate for unpriced models as `common_checks` runs it (auth_checks.py:1136-1146): whether
the loaded config switched it on (`litellm.block_requests_for_models_without_pricing`), whether it
refuses the model (`_unpriced_models_in_request`), and with what message.
"""

from __future__ import annotations

import asyncio
import json
import sys

#: A key's budget, below what one priced request costs.
BUDGET = 1e-9


async def budget_check(model_name: str, spend: float, router: object) -> dict:
    """Whether the proxy waives budgets for the model, and whether a key that spent `spend` is stopped."""
    import litellm
    from litellm.proxy._types import UserAPIKeyAuth
    from litellm.proxy.auth import auth_checks
    from litellm.proxy.proxy_server import proxy_logging_obj

    waived = auth_checks.request_skips_budget_checks(
        route="/chat/completions", model=model_name, llm_router=router
    )
    key = UserAPIKeyAuth(token=f"test-key-{model_name}", max_budget=BUDGET, spend=spend)
    try:
        await auth_checks.virtual_key_max_budget_check(valid_token=key, proxy_logging_obj=proxy_logging_obj)
    except litellm.BudgetExceededError as error:
        return {"waived": waived, "stopped": True, "message": str(error)[:300]}
    return {"waived": waived, "stopped": False, "message": None}


def pricing_gate(model_name: str, router: object) -> dict:
    import litellm
    from litellm.proxy.auth import auth_checks

    unpriced = auth_checks._unpriced_models_in_request(model=model_name, llm_router=router)
    return {
        "enabled": litellm.block_requests_for_models_without_pricing,
        "refused": bool(unpriced),
        "message": auth_checks._unpriced_models_block_message(unpriced) if unpriced else None,
    }


async def report(path: str) -> dict:
    import litellm
    from litellm.proxy.proxy_server import ProxyConfig

    router, _, _ = await ProxyConfig().load_config(router=None, config_file_path=path)
    assert router is not None
    out: dict[str, dict] = {}
    for deployment in router.model_list:
        info = deployment["model_info"]
        response = await router.acompletion(
            model=deployment["model_name"],
            messages=[{"role": "user", "content": "hi"}],
            mock_response="hello",
        )
        fake = litellm.ModelResponse(
            model=deployment["litellm_params"]["model"],
            usage=litellm.Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500),
        )
        try:
            cost: float | str = litellm.completion_cost(
                completion_response=fake,
                model=deployment["litellm_params"]["model"],
                custom_pricing=True if info.get("input_cost_per_token") is not None else None,
                router_model_id=info["id"],
                base_model=deployment["litellm_params"].get("base_model"),
            )
        except Exception as error:  # LiteLLM raises for a model it cannot price
            cost = f"{type(error).__name__}: {error}"[:300]
        response_cost = response._hidden_params.get("response_cost")
        out[deployment["model_name"]] = {
            "response_cost": response_cost,
            "usage": [response.usage.prompt_tokens, response.usage.completion_tokens],
            "completion_cost": cost,
            "budget": await budget_check(deployment["model_name"], float(response_cost or 0.0), router),
            "gate": pricing_gate(deployment["model_name"], router),
        }
    return out


if __name__ == "__main__":
    print("KIVA-REPORT " + json.dumps(asyncio.run(report(sys.argv[1]))))
