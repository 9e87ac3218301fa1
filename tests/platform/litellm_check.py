"""Run LiteLLM's own config loading on a generated config (a subprocess of test_gateway_config.py).

Usage: python litellm_check.py CONFIG.yaml ARG... — prints a JSON report. Runs in its own process so
LiteLLM's module-level state and its heavy import stay out of the test process. The environment
carries `LITELLM_LOCAL_MODEL_COST_MAP=True`: without it, importing litellm downloads the cost map.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import yaml


def main(path: str, cli_args: list[str]) -> None:
    import litellm
    from litellm.proxy._types import ConfigGeneralSettings, ConfigYAML
    from litellm.proxy.proxy_cli import run_server
    from litellm.proxy.proxy_server import ProxyConfig

    with open(path, encoding="utf-8") as file:
        config = yaml.safe_load(file)
    ConfigYAML(**config)  # the proxy's own pydantic model of config.yaml

    async def load() -> tuple[list[str], dict, Any]:
        router, models, general = await ProxyConfig().load_config(router=None, config_file_path=path)
        assert router is not None
        return [m["model_name"] for m in models], general, router

    model_names, general, router = asyncio.run(load())
    options = {opt for param in run_server.params for opt in getattr(param, "opts", [])}
    report = {
        "model_names": model_names,
        "router_models": model_names,
        "general_settings": sorted(general),
        "unknown_general_settings": sorted(
            set(config["general_settings"]) - set(ConfigGeneralSettings.model_fields)
        ),
        # `cache_params` is read by the proxy itself (ProxyConfig.load_config), not a module attribute.
        "unknown_litellm_settings": sorted(
            k for k in config["litellm_settings"] if not hasattr(litellm, k) and k != "cache_params"
        ),
        "turn_off_message_logging": litellm.turn_off_message_logging,
        "unknown_cli_options": sorted(a for a in cli_args if a.startswith("--") and a not in options),
        "store_prompts_in_spend_logs": general.get("store_prompts_in_spend_logs"),
        # What the proxy made of `litellm_settings.cache` and `router_settings` (the Redis ones).
        "cache": None if litellm.cache is None else type(litellm.cache.cache).__name__,
        "cache_call_types": None if litellm.cache is None else litellm.cache.supported_call_types,
        "router_redis": router.cache.redis_cache is not None,
        "routing_strategy": router.routing_strategy,
        "num_retries": router.num_retries,
        "timeout": router.timeout,
        "fallbacks": router.fallbacks,
    }
    print("KIVA-REPORT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
