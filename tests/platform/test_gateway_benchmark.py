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
    assert set(bench.VARIANTS) == {"info", "access-log", "info-access-log", "no-metrics", "all-metrics"}
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


def test_the_minimal_proxy_loads_its_config_and_listens_on_the_polled_port(bench: ModuleType) -> None:
    assert bench.pod_command(["--num_workers", "2"], {"config.yaml": Path("/m/config.yaml")}, 4321) == [
        "--num_workers", "2", "--config", "/m/config.yaml", "--port", "4321",
        "--host", "127.0.0.1", "--timeout_worker_healthcheck", "120",
    ]  # fmt: skip
