"""kiva-observability-no-prompt-logging: vLLM and LiteLLM flags and levels that keep prompts out of logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.policies.harness import (
    GATEWAY_IMAGE,
    VLLM_IMAGE,
    compliant_plan,
    container,
    mutate,
    run,
    set_env,
    set_litellm,
    violations,
)

POLICY = "kiva-observability-no-prompt-logging"
VLLM = f"Container 'llama-3-1-8b' ({VLLM_IMAGE}) of kiva/llama-3-1-8b may log prompt text: "
LITELLM = f"Container 'kiva-gateway' ({GATEWAY_IMAGE}) of kiva/kiva-gateway may log prompt text: "


def messages(name: str, change: Any) -> list[str]:
    return [f.message for f in violations(run(mutate(compliant_plan(), name, change)), POLICY)]


def test_compliant_plan_passes() -> None:
    assert [f.message for f in violations(run(compliant_plan()), POLICY)] == []


def _args(props: dict[str, Any], args: list[str]) -> None:
    container(props)["args"] = args


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--port", "8000"], "request logging is not switched off explicitly (add `--no-enable-log-requests`)"),
        (["--no-enable-log-requests", "--enable-log-requests"],
         "request logging is on (the last flag turns it on; use `--no-enable-log-requests`)"),
        (["--disable-log-requests", "--no-disable-log-requests"],
         "request logging is on (the last flag turns it on; use `--no-enable-log-requests`)"),
        (["--no-enable-log-requests", "--enable-log-outputs"], "`--enable-log-outputs` logs the generated text"),
    ],
)  # fmt: skip
def test_vllm_request_logging(args: list[str], problem: str) -> None:
    assert messages("llama-3-1-8b", lambda p: _args(p, args)) == [f"{VLLM}{problem}."]


def test_the_deprecated_off_flag_counts_as_off() -> None:
    assert messages("llama-3-1-8b", lambda p: _args(p, ["--disable-log-requests"])) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("VLLM_LOGGING_LEVEL", "DEBUG", "`VLLM_LOGGING_LEVEL` is 'DEBUG' (use INFO or higher)"),
        ("VLLM_DEBUG_LOG_API_SERVER_RESPONSE", "true",
         "`VLLM_DEBUG_LOG_API_SERVER_RESPONSE` is 'true' (must be unset or false)"),
    ],
)  # fmt: skip
def test_vllm_debug_environment(name: str, value: str, problem: str) -> None:
    assert messages("llama-3-1-8b", lambda p: set_env(p, name, value)) == [f"{VLLM}{problem}."]
    assert messages("llama-3-1-8b", lambda p: set_env(p, name, "INFO" if "LEVEL" in name else "false")) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "`LITELLM_LOG` is not set, and LiteLLM's default is DEBUG (set `LITELLM_LOG=INFO`)"),
        ("DEBUG", "`LITELLM_LOG` is 'DEBUG' (use INFO or higher, as a literal value)"),
    ],
)
def test_litellm_log_level(value: str | None, problem: str) -> None:
    assert messages("kiva-gateway", lambda p: set_env(p, "LITELLM_LOG", value)) == [f"{LITELLM}{problem}."]


def test_litellm_debug_flags() -> None:
    found = messages(
        "kiva-gateway", lambda p: _args(p, ["--config", "/etc/litellm/config.yaml", "--detailed_debug"])
    )
    assert found == [f"{LITELLM}`--detailed_debug` turn on debug logging of request bodies."]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["litellm_settings"].pop("turn_off_message_logging"),
         "`litellm_settings.turn_off_message_logging` must be `true`"),
        (lambda d: d["litellm_settings"].update(set_verbose=True),
         "`litellm_settings.set_verbose: true` logs request bodies"),
    ],
)  # fmt: skip
def test_litellm_config(change: Any, problem: str) -> None:
    found = messages("kiva-gateway-config", lambda p: set_litellm(p, change))
    assert found == [f"LiteLLM config 'kiva-gateway-config': {problem}."]


@pytest.mark.parametrize("level", ["WARNING", "ERROR", "warning"])
def test_litellm_quieter_levels_pass(level: str) -> None:
    """`kiva:gateway.logLevel` offers INFO, WARNING and ERROR: none logs a request body."""
    assert messages("kiva-gateway", lambda p: set_env(p, "LITELLM_LOG", level)) == []


BELOW_INFO = "(use INFO or higher: below it LiteLLM logs request bodies)"


def _with_file(key: str, document: dict[str, Any]) -> Any:
    def change(props: dict[str, Any]) -> None:
        props["data"][key] = json.dumps(document) if key.endswith(".json") else yaml.safe_dump(document)

    return change


@pytest.mark.parametrize(
    ("key", "document", "problem"),
    [
        ("log_config.json", {"version": 1, "root": {"level": "DEBUG"}},
         f"`log_config.json` sets root to level DEBUG {BELOW_INFO}"),
        ("log_config.json", {"version": 1, "loggers": {"": {"level": "NOTSET"}}},
         f"`log_config.json` sets root to level NOTSET {BELOW_INFO}"),
        ("log_config.yaml", {"version": 1, "loggers": {"LiteLLM Proxy": {"level": 10}}},
         f"`log_config.yaml` sets loggers.LiteLLM Proxy to level 10 {BELOW_INFO}"),
        ("log_config.json", {"version": 1, "loggers": {"uvicorn.access": {"level": "debug"}}},
         f"`log_config.json` sets loggers.uvicorn.access to level debug {BELOW_INFO}"),
    ],
)  # fmt: skip
def test_litellm_logging_config_below_info(key: str, document: dict[str, Any], problem: str) -> None:
    """A `--log_config` beside the LiteLLM config reaches LiteLLM's loggers (the root's level is theirs)."""
    found = messages("kiva-gateway-config", _with_file(key, document))
    assert found == [f"LiteLLM config 'kiva-gateway-config': {problem}."]


def test_litellm_logging_config_as_generated_passes() -> None:
    document = {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {"uvicorn": {"level": "WARNING"}, "uvicorn.access": {"level": "INFO"}},
    }
    assert messages("kiva-gateway-config", _with_file("log_config.json", document)) == []
    # Not a logging config (no `version: 1`): not judged.
    assert messages("kiva-gateway-config", _with_file("other.json", {"root": {"level": "DEBUG"}})) == []
