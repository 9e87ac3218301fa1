"""Throughput of the gateway as a stack generates it, against LiteLLM with a minimal config, same run.

Run: uv run python bench/gateway_benchmark.py [STACK] [--seconds S] [--max-requests N]
(default: prod, 6 s and at most 3,000 requests per concurrency level; about 2 minutes on 2 cores).

What runs: the real LiteLLM proxy of .venv (the version pinned in infra/versions.py, with the `proxy`
extra), started like the gateway pod (`litellm --config … --num_workers N`, the Deployment's arguments
and its plain environment) with the stack's generated `config.yaml`, then the same proxy with a minimal
config (one model, the master key, nothing else; same workers, LiteLLM's default logging). Both call a
fake OpenAI-compatible backend on 127.0.0.1 that answers every request with a fixed chat completion, so
only the gateway is measured. For each, requests at concurrency 1, 10 and 50 give req/s and p50/p99
latency, and the CPU time of the proxy's processes (main and workers, from /proc/PID/stat) per request.

Changed for the benchmark, and why:
- no database: `database_url` and the settings that need it are removed (the proxy then keeps no spend
  logs and checks the master key only); the pod's migration variables are not set;
- no Redis: `cache`/`cache_params` and the router's `redis_*` settings are removed (nothing listens);
- every `api_base` points at the fake backend; secrets are test values.
The load generator and the backend share the machine with the proxy: on 2 cores the absolute figures
are a floor, the ratio between the two configs is the number to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-benchmark-only"
CONCURRENCY = (1, 10, 50)
#: uvicorn ≥ 0.37 kills a worker that does not answer its supervisor's ping within 5 s; importing
#: LiteLLM's proxy takes longer than that on a busy 2-core machine, and the workers would be restarted
#: forever (uvicorn/supervisors/multiprocess.py). Given to both proxies alike.
HEALTHCHECK = ["--timeout_worker_healthcheck", "120"]
#: The pod's variables that only make sense with a database.
DATABASE_ENV = {"DATABASE_URL", "ENFORCE_PRISMA_MIGRATION_CHECK", "LITELLM_MIGRATION_DIR"}
DATABASE_SETTINGS = {
    "database_url",
    "database_connection_pool_limit",
    "store_model_in_db",
    "maximum_spend_logs_retention_period",
}
COMPLETION = {
    "id": "chatcmpl-benchmark",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "benchmark",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
}


# ---- the fake backend (runs as its own process: `--backend PORT`) ----


def serve_backend(port: int) -> None:
    from aiohttp import web

    body = json.dumps(COMPLETION).encode()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---- the stack's gateway, from the offline plan ----


def stack_gateway(stack: str) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The generated config, the container's arguments and its plain environment."""
    from infra.offline.engine import run_program
    from infra.offline.manifests import kubernetes_objects
    from infra.offline.stackfile import read_stack_file

    objects = kubernetes_objects(run_program(read_stack_file(PROJECT_DIR, stack)))
    config_map = next(
        o for o in objects if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "kiva-gateway-config"
    )
    deployment = next(
        o for o in objects if o.get("kind") == "Deployment" and o["metadata"]["name"] == "kiva-gateway"
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    plain_env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    return yaml.safe_load(config_map["data"]["config.yaml"]), list(container["args"]), plain_env


def for_benchmark(config: dict[str, Any], backend: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for entry in config["model_list"]:
        entry["litellm_params"]["api_base"] = backend
    general = config.setdefault("general_settings", {})
    for key in DATABASE_SETTINGS:
        general.pop(key, None)
    general["master_key"] = "os.environ/LITELLM_MASTER_KEY"
    for key in ("cache", "cache_params"):
        config.get("litellm_settings", {}).pop(key, None)
    router = config.get("router_settings", {})
    for key in [key for key in router if key.startswith("redis_")]:
        del router[key]
    return config


def minimal(model_name: str, backend: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": model_name,
                "litellm_params": {"model": f"hosted_vllm/{model_name}", "api_base": backend},
            }
        ],
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }


# ---- the proxy ----


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and its descendants (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Level:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def _load(
    url: str, model: str, concurrency: int, seconds: float, max_requests: int
) -> tuple[list[float], int]:
    import aiohttp

    payload = {"model": model, "messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 4}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    started = 0

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors, started
            while time.monotonic() < deadline and started < max_requests:
                started += 1
                t0 = time.perf_counter()
                async with session.post(url, json=payload, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def measure(pid: int, url: str, model: str, concurrency: int, seconds: float, max_requests: int) -> Level:
    asyncio.run(_load(url, model, concurrency, 1.0, 50))  # warm-up: connections, first-call paths
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    latencies, errors = asyncio.run(_load(url, model, concurrency, seconds, max_requests))
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    latencies.sort()
    return Level(
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        cpu_ms_per_request=1000 * cpu / max(len(latencies), 1),
    )


def run_proxy(
    label: str,
    config: dict[str, Any],
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    seconds: float,
    cap: int,
) -> list[Level]:
    path = workdir / f"{label}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    port = free_port()
    proxy_args = [*args, "--config", str(path), "--port", str(port), "--host", "127.0.0.1", *HEALTHCHECK]
    log = (workdir / f"{label}.log").open("w")
    litellm = shutil.which("litellm", path=str(Path(sys.executable).parent)) or "litellm"
    process = subprocess.Popen([litellm, *proxy_args], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health/readiness", process, workdir / f"{label}.log")
        model = config["model_list"][0]["model_name"]
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        return [measure(process.pid, url, model, c, seconds, cap) for c in CONCURRENCY]
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the proxy exited ({process.returncode}); its log ends:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the proxy was not ready after {timeout:.0f} s; its log ends:\n{_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _without(args: list[str], options: set[str]) -> list[str]:
    """The container's arguments without the given options and their values."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        else:
            out.append(arg)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="prod")
    parser.add_argument("--seconds", type=float, default=6.0, help="per concurrency level (default 6)")
    parser.add_argument("--max-requests", type=int, default=3000, help="per concurrency level (default 3000)")
    parser.add_argument(
        "--litellm-log",
        metavar="LEVEL",
        help="override the pod's LITELLM_LOG for the generated config, e.g. WARNING",
    )
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.backend:
        serve_backend(options.backend)
        return 0

    config, container_args, pod_env = stack_gateway(options.stack)
    args = _without(container_args, {"--config", "--port"})
    workers = args[args.index("--num_workers") + 1] if "--num_workers" in args else "1"
    backend_port = free_port()
    backend = subprocess.Popen([sys.executable, __file__, "--backend", str(backend_port)])
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM", "DATABASE", "REDIS"))}
    base_env |= {"LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for entry in config["model_list"]:
        for value in entry["litellm_params"].values():
            if isinstance(value, str) and value.startswith("os.environ/"):
                base_env[value.removeprefix("os.environ/")] = "benchmark-only"
    stack_env = base_env | {
        k: v for k, v in pod_env.items() if k not in DATABASE_ENV and not k.startswith("REDIS")
    }
    if options.litellm_log:
        stack_env["LITELLM_LOG"] = options.litellm_log
    try:
        url = f"http://127.0.0.1:{backend_port}/v1"
        generated = for_benchmark(config, url)
        local = next(
            e for e in generated["model_list"] if e["litellm_params"]["model"].startswith("hosted_vllm/")
        )
        generated["model_list"].sort(key=lambda e: e is not local)  # the benchmark calls the first model
        with tempfile.TemporaryDirectory(prefix="kiva-gateway-bench-") as tmp:
            workdir = Path(tmp)
            results = {
                "generated": run_proxy(
                    "generated", generated, args, stack_env, workdir, options.seconds, options.max_requests
                ),
                "minimal": run_proxy(
                    "minimal",
                    minimal(local["model_name"], url),
                    ["--num_workers", workers],
                    base_env,
                    workdir,
                    options.seconds,
                    options.max_requests,
                ),
            }
    finally:
        backend.terminate()
        backend.wait(timeout=10)
    report(options.stack, workers, stack_env.get("LITELLM_LOG", "unset"), results)
    return 0


def report(stack: str, workers: str, log_level: str, results: dict[str, list[Level]]) -> None:
    print(
        f"LiteLLM gateway, stack {stack} (LITELLM_LOG={log_level}), {workers} worker(s), "
        "fake backend on 127.0.0.1, no database, no Redis"
    )
    print(
        f"{'config':<11}{'conc':>5}{'requests':>10}{'errors':>8}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>12}"
    )
    for label, levels in results.items():
        for level in levels:
            print(
                f"{label:<11}{level.concurrency:>5}{level.requests:>10}{level.errors:>8}{level.rps:>8.0f}"
                f"{level.p50_ms:>8.1f}{level.p99_ms:>8.1f}{level.cpu_ms_per_request:>12.2f}"
            )
    for gen, mini in zip(results["generated"], results["minimal"], strict=True):
        print(
            f"generated/minimal at {gen.concurrency:>2}: req/s {gen.rps / mini.rps:.2f}, "
            f"CPU per request {gen.cpu_ms_per_request / mini.cpu_ms_per_request:.2f}"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
