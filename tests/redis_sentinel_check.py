"""Load a generated config with LiteLLM's proxy and report how it reaches Redis (a subprocess of test_redis.py).

Usage: python -m tests.redis_sentinel_check CONFIG.yaml — prints a JSON report. The environment is the
gateway pod's (the Redis variables of the stack's Deployment, passwords test-only). Nothing needs to
listen: building the clients connects to nothing, and the start-up pings only log their failure
(`RedisCache._setup_health_pings`, litellm/caching/redis_cache.py). The report names what LiteLLM built
for the proxy's coordination Redis (`redis_usage_cache`) and whether the router shares it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def _client_report(cache: Any) -> dict[str, Any]:
    """The sync client of a `RedisCache`: its pool kind, the Sentinel service and who has a password."""
    pool = cache.redis_client.connection_pool
    sentinels = getattr(getattr(pool, "sentinel_manager", None), "sentinels", [])
    return {
        "class": type(cache).__name__,
        "pool": type(pool).__name__,
        "service_name": getattr(pool, "service_name", None),
        "data_password": bool(pool.connection_kwargs.get("password")),
        "sentinels": [
            [s.connection_pool.connection_kwargs.get("host"), s.connection_pool.connection_kwargs.get("port")]
            for s in sentinels
        ],
        "sentinel_passwords": [bool(s.connection_pool.connection_kwargs.get("password")) for s in sentinels],
    }


async def report(path: str) -> dict[str, Any]:
    import litellm
    from litellm.proxy import proxy_server

    router, _, _ = await proxy_server.ProxyConfig().load_config(router=None, config_file_path=path)
    assert router is not None
    usage = proxy_server.redis_usage_cache
    return {
        "response_cache_call_types": None if litellm.cache is None else litellm.cache.supported_call_types,
        "usage_cache": None if usage is None else _client_report(usage),
        "router_shares_usage_cache": usage is not None and router.cache.redis_cache is usage,
    }


if __name__ == "__main__":
    print("KIVA-REPORT " + json.dumps(asyncio.run(report(sys.argv[1]))))
