"""The gateway's log level and access log (`kiva:gateway.logLevel`, `accessLog`), uvicorn's logging config,
and the Prometheus callback that stays (issue 14, docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from kiva_policies.observability_no_prompt_logging import litellm_problems, logging_config_problems

from components.platform.assembly import gateway_args
from components.platform.gateway import gateway_env
from components.platform.gateway_logging import LOG_CONFIG_FILE, uvicorn_log_config
from infra.settings import ConfigError, load_settings
from infra.settings.workloads import Gateway
from tests.conftest import _committed_plan, committed_stack_file, stack_config
from tests.platform.conftest import objects_of, one


def _settings(stack: str = "prod", **gateway: Any):
    raw = {k.removeprefix("kiva:"): v for k, v in stack_config(stack).items() if k.startswith("kiva:")}
    raw["gateway"] = {**raw.get("gateway", {}), **gateway}
    secrets = {k.removeprefix("kiva:") for k in committed_stack_file(stack).secret_keys}
    return load_settings(raw, secrets, f"Pulumi.{stack}.yaml")


def _error(**gateway: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _settings(**gateway)
    return str(caught.value)


# --- the settings --------------------------------------------------------------------------------------


def test_defaults_keep_warnings_and_errors_without_an_access_log() -> None:
    gateway = Gateway()
    assert (gateway.log_level, gateway.access_log) == ("WARNING", False)


def test_level_is_read_in_any_case() -> None:
    assert _settings(logLevel="info").gateway.log_level == "INFO"


@pytest.mark.parametrize("level", ["DEBUG", "debug", "NOTSET", "TRACE"])
def test_levels_that_log_prompts_are_refused_with_the_reason_and_an_example(level: str) -> None:
    assert _error(logLevel=level) == (
        f"Pulumi.prod.yaml: kiva:gateway.logLevel: {level!r} logs request bodies, prompts included (LiteLLM "
        "logs them at DEBUG); use INFO, e.g. logLevel: INFO"
    )


def test_an_unknown_level_names_the_valid_ones() -> None:
    assert _error(logLevel="verbose") == (
        "Pulumi.prod.yaml: kiva:gateway.logLevel: must be one of 'INFO', 'WARNING' or 'ERROR' (got 'VERBOSE')"
    )


def test_access_log_must_be_a_boolean() -> None:
    assert _error(accessLog="sometimes") == (
        "Pulumi.prod.yaml: kiva:gateway.accessLog: must be true or false (got 'sometimes')"
    )


# --- the pod -------------------------------------------------------------------------------------------


def _plain_env(**gateway: Any) -> dict[str, str]:
    return {v.name: v.value for v in gateway_env(gateway_args(_settings(**gateway))) if v.value is not None}


@pytest.mark.parametrize("level", ["INFO", "WARNING", "ERROR"])
@pytest.mark.parametrize("access", [True, False])
def test_each_level_sets_litellm_and_uvicorn(level: str, access: bool) -> None:
    env = _plain_env(logLevel=level, accessLog=access)
    assert (env["LITELLM_LOG"], env["JSON_LOGS"]) == (level, "True")
    loggers = json.loads(gateway_args(_settings(logLevel=level, accessLog=access)).log_config_json)["loggers"]
    assert {name: entry["level"] for name, entry in loggers.items()} == {
        "uvicorn": level,
        "uvicorn.error": level,
        "uvicorn.access": "INFO" if access else "WARNING",
    }
    assert "root" not in json.loads(gateway_args(_settings(logLevel=level)).log_config_json)


def test_prod_ships_warning_with_its_logging_config_mounted_and_in_the_checksum() -> None:
    import hashlib

    objects = objects_of(_committed_plan("prod"))
    deployment = one(objects, "Deployment", "kiva-gateway")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    data = one(objects, "ConfigMap", "kiva-gateway-config")["data"]
    assert {e["name"]: e.get("value") for e in container["env"]}["LITELLM_LOG"] == "WARNING"
    args = container["args"]
    assert args[args.index("--log_config") + 1] == f"/etc/litellm/{LOG_CONFIG_FILE}"
    assert json.loads(data[LOG_CONFIG_FILE]) == uvicorn_log_config("WARNING", False)
    expected = hashlib.sha256((data["config.yaml"] + data[LOG_CONFIG_FILE]).encode()).hexdigest()
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == expected
    assert litellm_problems(container, args) == []
    assert logging_config_problems({"data": data}) == []


def test_the_logging_config_loads_in_python_with_litellms_formatter() -> None:
    """uvicorn hands the file to `logging.config.dictConfig`; the formatter must import from the image's
    LiteLLM. Run apart so the test process's logging stays as it is."""
    script = (
        "import json, logging, logging.config, sys\n"
        "logging.config.dictConfig(json.loads(sys.stdin.read()))\n"
        "access = logging.getLogger('uvicorn.access')\n"
        "print(access.getEffectiveLevel(), type(access.handlers[0].formatter).__name__)\n"
    )
    for access, level in ((True, "20"), (False, "30")):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(uvicorn_log_config("WARNING", access)),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert done.stdout.split() == [level, "JsonFormatter"]


def test_litellms_redaction_filters_survive_the_logging_config() -> None:
    """LiteLLM 1.108.7 redacts secrets in uvicorn's error log and credentials in its access log by
    filters on those loggers (litellm/_logging.py `_redact_third_party_loggers`). uvicorn applies the
    ConfigMap's config after LiteLLM is imported (the supervisor) and before (each worker); `dictConfig`
    must leave the filters in place either way."""
    script = (
        "import json, logging, logging.config, sys\n"
        "config = json.loads(sys.stdin.read())\n"
        "if sys.argv[1] == 'worker':\n"
        "    logging.config.dictConfig(config)\n"
        "import litellm._logging\n"
        "if sys.argv[1] == 'supervisor':\n"
        "    logging.config.dictConfig(config)\n"
        "for name in ('uvicorn.access', 'uvicorn.error'):\n"
        "    print(name, *sorted(type(f).__name__ for f in logging.getLogger(name).filters))\n"
    )
    for order in ("supervisor", "worker"):
        done = subprocess.run(
            [sys.executable, "-c", script, order],
            input=json.dumps(uvicorn_log_config("WARNING", True)),
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
            check=True,
        )
        assert done.stdout.splitlines() == [
            "uvicorn.access AccessLogPathFilter AccessLogRedactionFilter",
            "uvicorn.error SecretRedactionFilter",
        ], order
