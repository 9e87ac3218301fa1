"""The LiteLLM proxy's `config.yaml`, generated from the configured models and providers.

A pure function of the settings, so tests can feed it to LiteLLM's own config parser and a config
change shows up as a checksum change on the pod template (which rolls the pods). On a gateway-only
stack (no `models`) `model_list` holds the external providers' models alone; LiteLLM 1.90's
`ProxyConfig.load_config` accepts that like any other list (tests/test_gateway_only.py runs it).
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from components.contracts import PLATFORM_NAMESPACE
from components.platform.model_costs import cost_model_info
from components.platform.secrets import provider_env
from infra.settings import StackSettings
from infra.settings.redis import redis_enabled
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
    (litellm/router.py, `set_model_list`), so the secret never appears in the ConfigMap.
    """
    params: dict[str, Any] = {provider.credential_param: f"os.environ/{provider_env(provider.name)}"}
    if provider.api_base is not None:
        params["api_base"] = str(provider.api_base).rstrip("/")
    return {**params, **provider.kind_params}


def metrics_callbacks(settings: StackSettings) -> list[str]:
    """LiteLLM's Prometheus callback where the platform is monitored: it counts requests, tokens,
    latency and spend in the proxy's own process and serves them at `/metrics` (authenticated, LiteLLM
    1.90.6's default), so nothing leaves the cluster. With several workers LiteLLM sets up
    `PROMETHEUS_MULTIPROC_DIR` itself under the temp directory, the pod's writable `/tmp`
    (`ProxyInitializationHelpers._maybe_setup_prometheus_multiproc_dir`, litellm/proxy/proxy_cli.py).
    It costs about 1 ms of CPU per request, 15–25 % of the gateway's own (docs/performance.md); limiting
    it to the families the dashboards query (`litellm_settings.prometheus_metrics_config`) measured no
    cheaper, so every metric stays."""
    return ["prometheus"] if settings.monitoring.enabled else []


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
            "callbacks": metrics_callbacks(settings),
            "json_logs": True,
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


#: The proxy's own Redis environment: `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD` (and the Sentinel
#: variables, which litellm/_redis.py reads from the environment itself), set on the gateway pods.
_REDIS_CONNECTION = {
    "host": "os.environ/REDIS_HOST",
    "port": "os.environ/REDIS_PORT",
    "password": "os.environ/REDIS_PASSWORD",
}


def redis_cache_settings(settings: StackSettings) -> dict[str, Any]:
    """`cache`/`cache_params` where the gateway has Redis.

    In LiteLLM 1.90.6 the proxy shares its usage counters (rate limits, parallel requests, spend) across
    replicas only through the Redis of `litellm_settings.cache` (`ProxyConfig._init_cache` sets
    `redis_usage_cache`, litellm/proxy/proxy_server.py); `router_settings` alone gives the router Redis.
    With the response cache off, `supported_call_types: []` keeps every response out of it
    (`_is_call_type_supported_by_cache`, litellm/caching/caching_handler.py): Redis holds counters only.
    """
    gateway = settings.gateway
    if not redis_enabled(gateway.redis, gateway.max_replicas):
        return {}
    params: dict[str, Any] = {"type": "redis", **_REDIS_CONNECTION}
    if gateway.redis.cache.enabled:
        params["ttl"] = gateway.redis.cache.ttl_seconds
    else:
        params["supported_call_types"] = []
    return {"cache": True, "cache_params": params}


def router_settings(settings: StackSettings) -> dict[str, Any]:
    """LiteLLM's `router_settings` (keys of `Router.__init__`, litellm/router.py 1.90.6): routing, retries,
    timeout, fallbacks as `[{model: [fallbacks]}]`, and the router's Redis where there is one."""
    router = settings.gateway.router
    values: dict[str, Any] = {
        "routing_strategy": router.routing_strategy,
        "num_retries": router.num_retries,
        "timeout": router.timeout_seconds,
    }
    if router.fallbacks:
        values["fallbacks"] = [{entry.model: list(entry.to)} for entry in router.fallbacks]
    gateway = settings.gateway
    if redis_enabled(gateway.redis, gateway.max_replicas):
        values |= {f"redis_{key}": value for key, value in _REDIS_CONNECTION.items()}
    return values


def render(settings: StackSettings) -> str:
    return yaml.safe_dump(litellm_config(settings), sort_keys=False)


def checksum(text: str, *more: str) -> str:
    """Of the ConfigMap's files, in order (`config.yaml`, then `log_config.json`): a change to either rolls the pods."""
    return hashlib.sha256("".join((text, *more)).encode()).hexdigest()
