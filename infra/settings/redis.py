"""The gateway's shared state and routing: Redis (Valkey) for several replicas, and LiteLLM's router.

LiteLLM counts rate limits (TPM/RPM), parallel requests, spend and its router state per process unless
a Redis is shared by every replica (BerriAI/litellm#2730, #27736, #33325). `kiva:gateway.redis` runs one
in the platform namespace; `kiva:gateway.router` sets how the router picks, retries and falls back.
Whether these rules hold for a stack (production needs Redis above one replica, fallbacks name served
models) is checked with the whole stack in view: `redis_rules`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from infra.settings.base import KivaModel

#: A model name as clients send it (`servedName`, `providers[].models[].name`).
ServedName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.:-]{0,127}$", examples=["qwen2.5-7b-instruct"])]

#: `Router(routing_strategy=...)` in litellm 1.108.7: the values of its Literal `RoutingStrategyName`
#: (litellm/types/litellm_params.py:45, checked by `validate_routing_strategy`,
#: litellm/router_utils/routing_groups.py:23). Left out: `usage-based-routing` (v1; LiteLLM's docs point
#: to v2) and `lar1` (new in 1.108.x: routes by a confidence the client sends in its metadata,
#: litellm/router_strategy/lar1_routing.py, not a load-balancing strategy).
RoutingStrategy = Literal[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
]


class ResponseCache(KivaModel):
    """LiteLLM's response cache in Redis: identical requests answered from the cache.

    Prompts and responses are personal data under the GDPR: with the cache on they sit in Redis's memory
    (never on disk: persistence is off) for `ttlSeconds`. Off by default and in every shipped stage.
    """

    enabled: bool = False
    """Cache responses in Redis (holds prompts and responses: personal data)."""
    ttl_seconds: int = Field(600, ge=1, le=86_400)
    """How long a cached response lives (`cache_params.ttl`)."""


class GatewayRedis(KivaModel):
    """A Redis-compatible store (Valkey, BSD-3) shared by the gateway's replicas; nothing written to disk."""

    enabled: bool | None = None
    """Run Redis for the gateway; default: on when `gateway.maxReplicas` > 1 (production requires it then)."""
    replicas: Literal[1, 3] | None = None
    """`1`: a single instance; `3`: a primary, two replicas and three Sentinels (automatic failover).
    Default: 3 in production (which requires it), 1 otherwise."""
    cache: ResponseCache = ResponseCache()
    """Response cache (off; it holds personal data)."""


class Fallback(KivaModel):
    """Models tried, in order, when every deployment of `model` failed."""

    model: ServedName
    """The model clients asked for."""
    to: list[ServedName] = Field(min_length=1)
    """Models to try instead, e.g. `[gpt-4o-eu]`."""


class Router(KivaModel):
    """LiteLLM's router: how a deployment is picked, and what happens when it fails (`router_settings`)."""

    routing_strategy: RoutingStrategy = "simple-shuffle"
    """How a model's deployments are picked (LiteLLM `routing_strategy`)."""
    num_retries: int = Field(2, ge=0, le=10)
    """Retries of a failed call (`num_retries`)."""
    timeout_seconds: float = Field(600, gt=0, le=3600)
    """Timeout of a call to a model (`timeout`)."""
    fallbacks: list[Fallback] = Field(default_factory=list)
    """Fallbacks between served models, e.g. `[{model: qwen2.5-7b-instruct, to: [gpt-4o-eu]}]`."""


def redis_replicas(redis: GatewayRedis, production: bool) -> int:
    """Redis pods: as configured, else 3 (Sentinel) in production and 1 elsewhere."""
    return redis.replicas if redis.replicas is not None else 3 if production else 1


def redis_enabled(redis: GatewayRedis, max_replicas: int) -> bool:
    """Whether the stack runs Redis: as configured, else when the gateway may run more than one pod."""
    return redis.enabled if redis.enabled is not None else max_replicas > 1


def redis_rules(
    redis: GatewayRedis, router: Router, *, max_replicas: int, production: bool, served: set[str]
) -> list[tuple[str, str]]:
    """`(key path, message)` for each rule the stack breaks, in reporting order."""
    problems: list[tuple[str, str]] = []
    on = redis_enabled(redis, max_replicas)
    if production and max_replicas > 1 and not on:
        problems.append(
            (
                "gateway.redis.enabled",
                f"production with gateway.maxReplicas {max_replicas} needs Redis, or rate limits and "
                "budgets are counted per pod (set enabled: true)",
            )
        )
    if production and on and redis_replicas(redis, production) < 3:
        problems.append(("gateway.redis.replicas", "production needs 3 (a primary, 2 replicas, Sentinel)"))
    if redis.cache.enabled and not on:
        problems.append(("gateway.redis.cache.enabled", "the response cache needs Redis (enabled: true)"))
    for index, fallback in enumerate(router.fallbacks):
        for name in [fallback.model, *fallback.to]:
            if name not in served:
                problems.append(
                    (
                        f"gateway.router.fallbacks[{index}]",
                        f"{name!r} is not a served model; served: {', '.join(sorted(served)) or 'none'}",
                    )
                )
                break
    return problems
