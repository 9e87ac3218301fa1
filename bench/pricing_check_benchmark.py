"""What LiteLLM's unpriced-model gate costs per request, in-process, on a stack's generated model list.

Run: uv run python bench/pricing_check_benchmark.py [STACK] [--calls N] (default prod, 2,000 calls).

`kiva:gateway.refuseUnpricedModels` sets LiteLLM's `block_requests_for_models_without_pricing`; the
proxy then runs `_unpriced_models_in_request` (litellm/proxy/auth/auth_checks.py:802 in 1.108.7) in
`common_checks` for every request. Printed next to it, as the yardstick, `is_model_cost_zero` (:535),
the pricing look-up the proxy makes for every request anyway. Both on a real `Router` built from the
stack's generated `model_list` (secrets replaced by test values). bench/gateway_benchmark.py's
`--variant refuse-unpriced` measures the same switch in the running proxy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_benchmark import stack_gateway


def microseconds_per_call(check: Callable[..., object], calls: int, **kwargs: object) -> float:
    check(**kwargs)  # first call: imports and lazy caches
    started = time.perf_counter()
    for _ in range(calls):
        check(**kwargs)
    return (time.perf_counter() - started) / calls * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="prod")
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args(argv)

    from litellm import Router
    from litellm.proxy.auth.auth_checks import _unpriced_models_in_request, is_model_cost_zero

    model_list = stack_gateway(options.stack).config["model_list"]
    for entry in model_list:
        for key, value in entry["litellm_params"].items():
            if isinstance(value, str) and value.startswith("os.environ/"):
                entry["litellm_params"][key] = "benchmark-only"
    router = Router(model_list=model_list)
    print(f"stack {options.stack}, {len(model_list)} deployments, {options.calls} calls each")
    for entry in model_list:
        name = entry["model_name"]
        gate = microseconds_per_call(
            _unpriced_models_in_request, options.calls, model=name, llm_router=router
        )
        yardstick = microseconds_per_call(is_model_cost_zero, options.calls, model=name, llm_router=router)
        print(
            f"{name}: unpriced-model check {gate:.1f} µs/call, is_model_cost_zero {yardstick:.1f} µs/call "
            f"({gate / yardstick:.0f} ×)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
