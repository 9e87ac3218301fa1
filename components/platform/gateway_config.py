"""The LiteLLM proxy's `config.yaml`, generated from the configured models and providers.

A pure function of the settings, so tests can feed it to LiteLLM's own config parser and a config
change shows up as a checksum change on the pod template (which rolls the pods). On a gateway-only
stack (no `models`) `model_list` holds the external providers' models alone; LiteLLM 1.108.7's
`ProxyConfig.load_config` accepts that like any other list (tests/test_gateway_only.py runs it).
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from components.contracts import PLATFORM_NAMESPACE
from components.platform.gateway_metrics import gateway_metrics_settings
from components.platform.model_costs import cost_model_info, provider_cost_model_info
from components.platform.secrets import provider_env
from infra.settings import StackSettings
from infra.settings.redis import redis_enabled, redis_replicas
from infra.settings.workloads import ExternalProvider

MODEL_PORT = 8000


def model_service(model_name: str) -> str:
    """Name of the Service in front of a model's vLLM pods."""
    return f"kiva-model-{model_name}"


def model_api_base(model_name: str) -> str:
    return f"http://{model_service(model_name)}.{PLATFORM_NAMESPACE}.svc.cluster.local:{MODEL_PORT}/v1"


def _provider_params(provider: ExternalProvider) -> dict[str, Any]:
    """The credential, `api_base` and the kind-specific `litellm_params` of an external provider.

    Every `os.environ/` value is resolved by LiteLLM's router when it loads the model list
    (`Router.set_model_list`, litellm/router.py:10357-10361 in 1.108.7), so the secret never appears in
    the ConfigMap.
    """
    params: dict[str, Any] = {provider.credential_param: f"os.environ/{provider_env(provider.name)}"}
    if provider.api_base is not None:
        params["api_base"] = str(provider.api_base).rstrip("/")
    return {**params, **provider.kind_params}


def litellm_config(settings: StackSettings) -> dict[str, Any]:
    """`model_list`, `litellm_settings` and `general_settings`; every secret as an `os.environ/` reference."""
    model_list: list[dict[str, Any]] = [
        {
            "model_name": model.served_name,
            "litellm_params": {
                "model": f"hosted_vllm/{model.served_name}",
                "api_base": model_api_base(model.name),
            },
            # Prices per token, so that budgets count local models too (components/platform/model_costs.py).
            "model_info": cost_model_info(model),
        }
        for model in settings.models
    ]
    for provider in settings.providers:
        for entry in provider.models:
            params: dict[str, Any] = {
                "model": entry.model,
                **_provider_params(provider),
                **provider.model_params(entry.model),
            }
            # Read by the policy pack's residency check (policies/README.md); LiteLLM ignores unknown keys.
            info = {
                "kiva_provider": provider.name,
                "kiva_processing_jurisdiction": provider.processing_jurisdiction,
                **provider_cost_model_info(entry),
            }
            model_list.append({"model_name": entry.name, "litellm_params": params, "model_info": info})
    return {
        "model_list": model_list,
        "litellm_settings": {
            # No prompt or response reaches a logging integration, and none is configured anyway.
            "turn_off_message_logging": True,
            "redact_user_api_key_info": True,
            "success_callback": [],
            "failure_callback": [],
            **gateway_metrics_settings(settings),
            "json_logs": True,
            # A model LiteLLM cannot price would be booked at 0 and pass every budget; where asked, refuse it
            # (HTTP 403 naming the model, `common_checks`, litellm/proxy/auth/auth_checks.py:1136-1146 in
            # 1.108.7), at ~0.5 ms of CPU per request (docs/performance.md).
            **(
                {"block_requests_for_models_without_pricing": True}
                if settings.gateway.refuse_unpriced_models
                else {}
            ),
            **redis_cache_settings(settings),
        },
        "router_settings": router_settings(settings),
        "general_settings": {
            "master_key": "os.environ/LITELLM_MASTER_KEY",
            "database_url": "os.environ/DATABASE_URL",
            "database_connection_pool_limit": settings.gateway.database_connection_pool_limit,
            "store_model_in_db": False,
            # Prompts and responses are never written to the spend logs (LiteLLM's default, made explicit).
            "store_prompts_in_spend_logs": False,
            "maximum_spend_logs_retention_period": f"{settings.retention.spend_logs_days}d",
            # Only admins may use the UI, where store_prompts_in_spend_logs could be switched on.
            "ui_access_mode": "admin_only",
            # `/health` would call every model; nothing runs it in the background either.
            "background_health_checks": False,
        },
    }


#: The proxy's own Redis environment, set on the gateway pods (components/platform/redis.py,
#: `gateway_redis_env`): `REDIS_HOST`/`REDIS_PORT` for a single instance; with Sentinel only
#: `REDIS_SENTINEL_NODES`/`REDIS_SERVICE_NAME`/`REDIS_SENTINEL_PASSWORD`, which litellm/_redis.py reads
#: from the environment itself (`_get_redis_client_logic`, :551-566), and no host or port, which
#: 1.108.7 would pass to the Sentinel client as well and fail on.
_REDIS_HOST_PORT = {"host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT"}
_REDIS_PASSWORD = {"password": "os.environ/REDIS_PASSWORD"}


def _redis_sentinel(settings: StackSettings) -> bool:
    return redis_replicas(settings.gateway.redis, settings.production) > 1


def redis_cache_settings(settings: StackSettings) -> dict[str, Any]:
    """`cache`/`cache_params` where the gateway has Redis (LiteLLM 1.108.7, litellm/proxy/proxy_server.py).

    `cache: true` builds `litellm.cache` from `cache_params` (`os.environ/` values resolved, :6421-6492);
    `ProxyConfig.init_cache` (:6067) then uses its `RedisCache` as the proxy's coordination Redis
    (`redis_usage_cache`: rate limits, parallel requests, spend counters, :6089-6093, wired in by
    `_attach_redis_usage_cache`, :5031), and the router borrows it when `router_settings` gave it none
    (:7152-7153). 1.108.7 also has `general_settings.coordination_redis` (:5974) and a fallback to bare
    `REDIS_*` variables that silently stays per-pod when Redis is not reachable at start (:6011); the
    `cache` block is kept because it is explicit and proven here by LiteLLM itself (tests/test_redis.py).
    With the response cache off, `supported_call_types: []` keeps every response out of Redis: each
    read and write is gated by `_is_call_type_supported_by_cache` (litellm/caching/caching_handler.py:
    1270-1288, through `should_store_result_in_cache`, :1224-1243, also for streamed Responses and Anthropic
    messages), so Redis holds counters only. LiteLLM's own default would cache every completion and
    embedding (`DEFAULT_CACHING_SUPPORTED_CALL_TYPES`, litellm/types/caching.py:44).
    """
    gateway = settings.gateway
    if not redis_enabled(gateway.redis, gateway.max_replicas):
        return {}
    connection = _REDIS_PASSWORD if _redis_sentinel(settings) else {**_REDIS_HOST_PORT, **_REDIS_PASSWORD}
    params: dict[str, Any] = {"type": "redis", **connection}
    if gateway.redis.cache.enabled:
        params["ttl"] = gateway.redis.cache.ttl_seconds
    else:
        params["supported_call_types"] = []
    return {"cache": True, "cache_params": params}


def router_settings(settings: StackSettings) -> dict[str, Any]:
    """LiteLLM's `router_settings` (keys of `Router.__init__`, litellm/router.py:1103 in 1.108.7): routing,
    retries, timeout, fallbacks as `[{model: [fallbacks]}]` (`validate_fallbacks`, :2588), and the
    router's Redis for a single instance. The router builds its own Redis only from a host and a port
    (:1279); with Sentinel it gets none here and borrows the proxy's (`redis_cache_settings`). Cooldowns
    stay LiteLLM's defaults, kept in the router's cache (shared through Redis): 3 allowed failures
    (`litellm.allowed_fails`, litellm/__init__.py:554), then 5 s (`DEFAULT_COOLDOWN_TIME_SECONDS`,
    litellm/constants.py:138; router.py:1393-1398)."""
    router = settings.gateway.router
    values: dict[str, Any] = {
        "routing_strategy": router.routing_strategy,
        "num_retries": router.num_retries,
        "timeout": router.timeout_seconds,
    }
    if router.fallbacks:
        values["fallbacks"] = [{entry.model: list(entry.to)} for entry in router.fallbacks]
    gateway = settings.gateway
    if redis_enabled(gateway.redis, gateway.max_replicas) and not _redis_sentinel(settings):
        connection = {**_REDIS_HOST_PORT, **_REDIS_PASSWORD}
        values |= {f"redis_{key}": value for key, value in connection.items()}
    return values


def render(settings: StackSettings) -> str:
    return yaml.safe_dump(litellm_config(settings), sort_keys=False)


def checksum(text: str, *more: str) -> str:
    """Of the ConfigMap's files, in order (`config.yaml`, then `log_config.json`): a change to either rolls the pods."""
    return hashlib.sha256("".join((text, *more)).encode()).hexdigest()
