"""The gateway's Redis: settings and their rules, LiteLLM's config for it, and the Kubernetes objects."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.contracts import Scheduling
from components.platform.gateway_config import litellm_config
from components.platform.redis import RedisArgs, pod_host, sentinel_script, server_script
from infra import versions
from infra.settings.redis import GatewayRedis, redis_enabled, redis_replicas
from tests.conftest import _committed_plan
from tests.litellm_report import provider_key_env, run_check
from tests.platform.conftest import find, objects_of, one
from tests.platform.test_gateway_config import litellm_report
from tests.test_config_messages import _error, _load


def _gateway(stack: str, **fields: Any) -> dict[str, Any]:
    from tests.conftest import stack_config

    return {**stack_config(stack)["kiva:gateway"], **fields}


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_replicas", "enabled"), [(1, False), (2, True), (10, True)])
def test_redis_is_on_by_default_above_one_gateway_replica(max_replicas: int, enabled: bool) -> None:
    assert redis_enabled(GatewayRedis(), max_replicas) is enabled
    assert redis_enabled(GatewayRedis(enabled=False), max_replicas) is False


def test_shipped_stages_run_redis_where_the_gateway_scales() -> None:
    assert redis_enabled(_load("dev").gateway.redis, _load("dev").gateway.max_replicas)
    assert _load("prod").gateway.redis.replicas == 3
    assert not _load("local").gateway.redis.enabled and _load("local").gateway.max_replicas == 1
    assert not any(_load(s).gateway.redis.cache.enabled for s in ("dev", "prod", "local"))


def test_production_above_one_replica_needs_redis() -> None:
    message = _error("prod", gateway=_gateway("prod", redis={"enabled": False}))
    assert (
        "gateway.redis.enabled: production with gateway.maxReplicas 20 needs Redis, or rate limits and "
        "budgets are counted per pod (set enabled: true)" in message
    )


def test_production_needs_sentinel() -> None:
    message = _error("prod", gateway=_gateway("prod", redis={"replicas": 1}))
    assert "gateway.redis.replicas: production needs 3 (a primary, 2 replicas, Sentinel)" in message


def test_the_response_cache_needs_redis() -> None:
    message = _error("local", gateway=_gateway("local", redis={"cache": {"enabled": True}}))
    assert "gateway.redis.cache.enabled: the response cache needs Redis (enabled: true)" in message


def test_a_fallback_must_name_a_served_model() -> None:
    router = {"fallbacks": [{"model": "qwen2.5-0.5b-instruct", "to": ["gpt-9"]}]}
    message = _error("local", gateway=_gateway("local", router=router))
    assert (
        "gateway.router.fallbacks[0]: 'gpt-9' is not a served model; served: qwen2.5-0.5b-instruct" in message
    )


def test_an_unknown_routing_strategy_names_the_allowed_ones() -> None:
    message = _error("local", gateway=_gateway("local", router={"routingStrategy": "round-robin"}))
    assert "gateway.router.routingStrategy" in message
    assert "simple-shuffle" in message and "usage-based-routing-v2" in message


# --- LiteLLM config ------------------------------------------------------------------------------


def test_dev_shares_counters_in_redis_without_caching_responses() -> None:
    config = litellm_config(_load("dev"))
    assert config["litellm_settings"]["cache"] is True
    assert config["litellm_settings"]["cache_params"] == {
        "type": "redis",
        "host": "os.environ/REDIS_HOST",
        "port": "os.environ/REDIS_PORT",
        "password": "os.environ/REDIS_PASSWORD",
        "supported_call_types": [],
    }
    assert config["router_settings"] == {
        "routing_strategy": "simple-shuffle",
        "num_retries": 2,
        "timeout": 600.0,
        "redis_host": "os.environ/REDIS_HOST",
        "redis_port": "os.environ/REDIS_PORT",
        "redis_password": "os.environ/REDIS_PASSWORD",
    }


def test_without_redis_no_cache_and_no_redis_keys() -> None:
    config = litellm_config(_load("local"))
    assert "cache" not in config["litellm_settings"] and "cache_params" not in config["litellm_settings"]
    assert not [key for key in config["router_settings"] if key.startswith("redis_")]


def test_the_response_cache_and_fallbacks_when_asked_for() -> None:
    router = {"fallbacks": [{"model": "qwen2.5-0.5b-instruct", "to": ["qwen2.5-0.5b-instruct"]}]}
    gateway = _gateway(
        "local", maxReplicas=2, redis={"cache": {"enabled": True, "ttlSeconds": 120}}, router=router
    )
    config = litellm_config(_load("local", gateway=gateway))
    params = config["litellm_settings"]["cache_params"]
    assert params["ttl"] == 120 and "supported_call_types" not in params
    assert config["router_settings"]["fallbacks"] == [{"qwen2.5-0.5b-instruct": ["qwen2.5-0.5b-instruct"]}]


def test_litellm_uses_redis_for_the_proxy_and_the_router(tmp_path: Path) -> None:
    """LiteLLM 1.108.7 itself, on dev's generated config: a RedisCache that caches no call type."""
    report = litellm_report("dev", tmp_path)
    assert report["cache"] == "RedisCache"
    assert report["cache_call_types"] == []
    assert report["router_redis"] is True
    assert (report["routing_strategy"], report["num_retries"], report["timeout"]) == (
        "simple-shuffle",
        2,
        600.0,
    )


def test_with_sentinel_the_config_names_no_host_or_port() -> None:
    """LiteLLM 1.108.7 hands a host and port to its Sentinel client too, which then fails (redis.py)."""
    config = litellm_config(_load("prod"))
    assert config["litellm_settings"]["cache_params"] == {
        "type": "redis",
        "password": "os.environ/REDIS_PASSWORD",
        "supported_call_types": [],
    }
    assert not [key for key in config["router_settings"] if key.startswith("redis_")]


def _sentinel_report(tmp: Path, env_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """LiteLLM's proxy on prod's generated config, in the gateway pod's Redis environment."""
    objects = _objects("prod")
    path = tmp / "prod-config.yaml"
    path.write_text(one(objects, "ConfigMap", "kiva-gateway-config")["data"]["config.yaml"], encoding="utf-8")
    container = one(objects, "Deployment", "kiva-gateway")["spec"]["template"]["spec"]["containers"][0]
    pod = {e["name"]: e.get("value", "test-only") for e in container["env"] if e["name"].startswith("REDIS_")}
    # The same Sentinels on this machine, where nothing listens: nothing needs to be resolved or reached.
    nodes = json.loads(pod["REDIS_SENTINEL_NODES"])
    pod["REDIS_SENTINEL_NODES"] = json.dumps([["127.0.0.1", 1 + i] for i in range(len(nodes))])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM", "DATABASE", "REDIS"))}
    env |= pod | (env_overrides or {})
    env |= {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": "sk-test-only",
        "LITELLM_SALT_KEY": "test-only-salt",
        "DATABASE_URL": "postgresql://test:test@127.0.0.1:1/test",
    }
    env |= provider_key_env(yaml.safe_load(path.read_text(encoding="utf-8")))
    report: dict[str, Any]
    report, _ = run_check([sys.executable, "-m", "tests.redis_sentinel_check", str(path)], env)
    return report


def test_litellm_reaches_prods_redis_through_the_sentinels_with_passwords(tmp_path: Path) -> None:
    """LiteLLM 1.108.7 itself, on prod's config and the gateway pod's variables: one Sentinel client,
    the password on the data nodes and on the Sentinels, shared by the router; no response cached."""
    report = _sentinel_report(tmp_path)
    assert report["usage_cache"] == {
        "class": "RedisCache",
        "pool": "SentinelConnectionPool",
        "service_name": "kiva-redis",
        "data_password": True,
        "sentinels": [["127.0.0.1", 1], ["127.0.0.1", 2], ["127.0.0.1", 3]],
        "sentinel_passwords": [True, True, True],
    }
    assert report["router_shares_usage_cache"] is True
    assert report["response_cache_call_types"] == []


def test_a_host_next_to_the_sentinels_breaks_litellm(tmp_path: Path) -> None:
    """Why prod's gateway gets no REDIS_HOST/REDIS_PORT: with them LiteLLM 1.108.7 cannot build the client."""
    with pytest.raises(AssertionError, match=r"got multiple values for (keyword )?argument '(host|port)'"):
        _sentinel_report(tmp_path, {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379"})


# --- Kubernetes objects --------------------------------------------------------------------------


def _objects(stack: str) -> list[dict[str, Any]]:
    return objects_of(_committed_plan(stack))


def test_prod_runs_three_valkey_pods_with_sentinels() -> None:
    objects = _objects("prod")
    statefulset = one(objects, "StatefulSet", "kiva-redis")
    spec = statefulset["spec"]["template"]["spec"]
    assert statefulset["spec"]["replicas"] == 3
    assert [c["name"] for c in spec["containers"]] == ["valkey", "sentinel"]
    assert {c["image"] for c in spec["containers"]} == {f"valkey/valkey:{versions.VALKEY_VERSION}-alpine"}
    assert spec["securityContext"]["runAsUser"] == 10001
    assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in spec["containers"])
    # Nothing on disk: every writable volume is memory.
    assert all(v["emptyDir"]["medium"] == "Memory" for v in spec["volumes"] if "emptyDir" in v)
    assert one(objects, "PodDisruptionBudget", "kiva-redis")["spec"]["maxUnavailable"] == 1


def test_dev_runs_one_instance_behind_a_cluster_ip_service() -> None:
    objects = _objects("dev")
    assert one(objects, "StatefulSet", "kiva-redis")["spec"]["replicas"] == 1
    assert one(objects, "Service", "kiva-redis")["spec"]["type"] == "ClusterIP"
    assert find(objects, "PodDisruptionBudget", "kiva-redis") == []


def test_local_has_no_redis() -> None:
    assert find(_objects("local"), "StatefulSet", "kiva-redis") == []


def test_the_gateway_reaches_redis_through_the_sentinels() -> None:
    gateway = one(_objects("prod"), "Deployment", "kiva-gateway")
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    nodes = json.loads(env["REDIS_SENTINEL_NODES"]["value"])
    assert nodes == [[pod_host(i), 26379] for i in range(3)]
    assert env["REDIS_SERVICE_NAME"]["value"] == "kiva-redis"
    # LiteLLM 1.108.7 would hand these to its Sentinel client too (components/platform/redis.py).
    assert "REDIS_HOST" not in env and "REDIS_PORT" not in env
    for name in ("REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "kiva-gateway", "key": "REDIS_PASSWORD"}


def test_the_password_is_only_in_secrets() -> None:
    objects = _objects("prod")
    scripts = one(objects, "ConfigMap", "kiva-redis-scripts")["data"]
    assert "requirepass" in scripts["server.sh"] and '"$REDIS_PASSWORD"' in scripts["server.sh"]
    external = one(objects, "ExternalSecret", "kiva-redis")
    assert external["spec"]["data"] == [
        {"secretKey": "REDIS_PASSWORD", "remoteRef": {"key": "redis-password"}}
    ]


def test_no_persistence_in_the_server_config() -> None:
    script = server_script(RedisArgs(replicas=3, scheduling=Scheduling(zones=(), hosts=3)))
    for line in ('save ""', "appendonly no", "repl-diskless-sync yes", "repl-diskless-load swapdb"):
        assert line in script
    assert "replicaof $primary 6379" in script
    assert "sentinel monitor kiva-redis $primary 6379 2" in sentinel_script(
        RedisArgs(3, Scheduling(zones=(), hosts=3))
    )


def test_only_the_gateway_reaches_redis() -> None:
    policy = one(_objects("prod"), "NetworkPolicy", "kiva-redis")
    rules = policy["spec"]["ingress"]
    assert rules[0]["from"] == [
        {
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": "litellm", "app.kubernetes.io/component": "gateway"}
            }
        }
    ]
    assert [p["port"] for p in rules[0]["ports"]] == [6379, 26379]
    assert yaml.safe_dump(policy).count("ipBlock") == 0


def test_production_defaults_to_sentinel_and_development_to_one_pod() -> None:
    """A production fork that only scales the gateway out gets 3 Redis pods without saying so."""
    assert redis_replicas(GatewayRedis(), production=True) == 3
    assert redis_replicas(GatewayRedis(), production=False) == 1
    assert redis_replicas(GatewayRedis(replicas=1), production=False) == 1
    assert redis_replicas(GatewayRedis(replicas=3), production=False) == 3
