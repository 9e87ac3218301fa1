"""bench/gateway_benchmark.py starts the proxy exactly as the pod does: same arguments in the same order
(only the mounted files' paths and the port differ), the ConfigMap's files, the pod's plain environment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import _committed_plan
from tests.platform.conftest import objects_of, one

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway_benchmark.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_benchmark", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _pod(stack: str) -> tuple[dict, dict]:
    objects = objects_of(_committed_plan(stack))
    container = one(objects, "Deployment", "kiva-gateway")["spec"]["template"]["spec"]["containers"][0]
    return container, one(objects, "ConfigMap", "kiva-gateway-config")["data"]


def test_the_benchmark_reads_the_pods_arguments_files_and_environment(bench: ModuleType) -> None:
    container, data = _pod("prod")
    gateway = bench.stack_gateway("prod")
    assert gateway.args == container["args"]
    assert gateway.files == data
    assert gateway.env == {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert gateway.env["LITELLM_LOG"] == "WARNING"


def test_the_command_is_the_pods_with_local_paths_and_port(bench: ModuleType) -> None:
    container, _ = _pod("prod")
    paths = {"config.yaml": Path("/b/config.yaml"), "log_config.json": Path("/b/log_config.json")}
    command = bench.pod_command(container["args"], paths, 5555)
    pod = [str(a) for a in container["args"]]
    expected = [
        "/b/config.yaml" if pod[i - 1] == "--config"
        else "/b/log_config.json" if pod[i - 1] == "--log_config"
        else "5555" if pod[i - 1] == "--port"
        else arg
        for i, arg in enumerate(pod)
    ]  # fmt: skip
    assert command == [*expected, "--host", "127.0.0.1", "--timeout_worker_healthcheck", "120"]
    assert "--log_config" in command and "--num_workers" in command


def test_a_file_the_configmap_lacks_stops_the_benchmark(bench: ModuleType) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.pod_command(["--log_config", "/etc/litellm/log_config.json"], {}, 1)
    assert str(stopped.value) == (
        "--log_config /etc/litellm/log_config.json: the ConfigMap has no file 'log_config.json'"
    )


def test_a_variant_is_the_stack_with_one_setting_changed(bench: ModuleType) -> None:
    gateway = bench.stack_gateway("prod", {"logLevel": "INFO", "accessLog": True})
    assert gateway.env["LITELLM_LOG"] == "INFO"
    assert '"level": "INFO"' in gateway.files["log_config.json"]
    assert set(bench.VARIANTS) == {
        "info", "access-log", "info-access-log", "no-metrics", "all-metrics", "no-redaction", "refuse-unpriced"
    }  # fmt: skip
    gated = bench.stack_gateway("prod", bench.VARIANTS["refuse-unpriced"]).config["litellm_settings"]
    assert gated["block_requests_for_models_without_pricing"] is True
    assert "block_requests_for_models_without_pricing" not in gateway.config["litellm_settings"]
    assert gateway.config["litellm_settings"]["callbacks"] == ["prometheus"]
    without = bench.apply_variant(gateway.config, "drop the Prometheus callback")["litellm_settings"]
    assert without["callbacks"] == []
    assert gateway.config["litellm_settings"]["callbacks"] == ["prometheus"]  # a copy was changed
    every = bench.apply_variant(gateway.config, "export every Prometheus family and label")[
        "litellm_settings"
    ]
    assert every["callbacks"] == ["prometheus"]
    assert not {key for key in every if key.startswith("prometheus_exclude")}
    assert gateway.config["litellm_settings"]["prometheus_exclude_metrics"]
    assert gateway.config["litellm_settings"]["turn_off_message_logging"] is True
    unredacted = bench.apply_variant(gateway.config, "let logging callbacks see the messages")
    assert unredacted["litellm_settings"]["turn_off_message_logging"] is False
    assert gateway.config["litellm_settings"]["turn_off_message_logging"] is True


def _levels(bench: ModuleType, *cpu_ms: float) -> list:
    return [
        bench.Level(
            concurrency=c, requests=100, errors=0, seconds=1.0, p50_ms=1.0, p99_ms=2.0, cpu_ms_per_request=ms
        )
        for c, ms in zip(bench.CONCURRENCY, cpu_ms, strict=True)
    ]


def test_rounds_are_compared_pairwise_and_summarised_by_their_median(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    results = {
        "generated": [_levels(bench, 11, 11, 12), _levels(bench, 12, 10, 12), _levels(bench, 10, 11, 13)],
        "minimal": [_levels(bench, 10, 10, 10), _levels(bench, 10, 10, 12), _levels(bench, 10, 10, 10)],
    }
    ratios = bench.cpu_ratios(results, "generated")
    assert ratios == {1: [1.1, 1.2, 1.0], 10: [1.1, 1.0, 1.1], 50: [1.2, 1.0, 1.3]}
    bench.report("prod", "1", "WARNING", results)
    out = capsys.readouterr().out
    assert "generated/minimal at  1: CPU per request 1.10 (median of 3, 1.00–1.20)" in out
    assert "generated/minimal at 50: CPU per request 1.20 (median of 3, 1.00–1.30)" in out
    assert "    3  minimal" in out and "3 round(s)" in out
    bench.report("prod", "1", "WARNING", {label: rounds[:1] for label, rounds in results.items()})
    assert "generated/minimal at 10: CPU per request 1.10\n" in capsys.readouterr().out


def test_zero_rounds_are_refused_before_anything_starts(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.main(["prod", "--rounds", "0"])
    assert stopped.value.code == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err


def test_the_minimal_proxy_loads_its_config_and_listens_on_the_polled_port(bench: ModuleType) -> None:
    assert bench.pod_command(["--num_workers", "2"], {"config.yaml": Path("/m/config.yaml")}, 4321) == [
        "--num_workers", "2", "--config", "/m/config.yaml", "--port", "4321",
        "--host", "127.0.0.1", "--timeout_worker_healthcheck", "120",
    ]  # fmt: skip
