"""No prompt or completion text in any container log at the shipped log levels.

Prompts are personal data of the highest sensitivity in public administration (they quote citizens'
files). Container logs are kept by the cluster's log store and read by operators, so they must not hold
them (GDPR Art. 5(1)(c) and 32; BSI OPS.1.1.5). What writes prompts to stdout, per pinned version:
- vLLM v0.28.0: request logging (`--enable-log-requests`, a `BooleanOptionalAction` whose default is
  off; `--disable-log-requests` is its deprecated inverse) prints each request's prompt and parameters;
  `--enable-log-outputs` adds the generated text; `VLLM_DEBUG_LOG_API_SERVER_RESPONSE=true` logs every
  response body; `VLLM_LOGGING_LEVEL=DEBUG` logs prompt inputs (vllm/engine/arg_utils.py,
  vllm/entrypoints/openai/cli_args.py, vllm/envs.py). The last flag on the command line wins, and request
  logging must be switched off explicitly (`--no-enable-log-requests`): a default is not evidence.
- LiteLLM 1.108.7: logs request and response bodies at DEBUG; `LITELLM_LOG` unset means DEBUG
  (litellm/_logging.py:660: `os.getenv("LITELLM_LOG", "DEBUG")`), as does `--detailed_debug`
  (litellm/proxy/proxy_server.py:9384-9395; `--debug` sets INFO there, :9371-9382, and is refused as well),
  and `litellm_settings.set_verbose: true` prints every verbose line to stdout (`print_verbose`,
  litellm/utils.py:558-572); `turn_off_message_logging: true` keeps messages from every logging
  callback (litellm/litellm_core_utils/redact_messages.py:498-547).
  A logging config the proxy loads (`--log_config FILE`, a `logging.config.dictConfig` document that
  uvicorn applies in every worker before LiteLLM is imported) reaches LiteLLM's loggers too: the root
  logger or a LiteLLM logger (`LiteLLM`, `LiteLLM Proxy`, `LiteLLM Router`) below INFO there logs
  request bodies at `LITELLM_LOG=WARNING` or `ERROR`: LiteLLM sets its loggers' level only for `INFO`
  and `DEBUG` (`initialize`, litellm/proxy/proxy_server.py:9396-9424, run as each worker starts); at
  other levels they follow the root logger. So a logging config in the gateway's ConfigMap
  must not go below INFO anywhere (a level below INFO on uvicorn's loggers logs no body, but nothing
  needs it in production either).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import (
    BLINDED_SECRET,
    CONFIG_MAP,
    MANDATORY,
    ContainerRef,
    as_list,
    containers,
    display_name,
    env_values,
    parse_yaml,
    pod_spec,
    run_checks,
)
from kiva_policies.litellm import litellm_config

#: vLLM flags → whether request logging is on after the flag.
VLLM_REQUEST_LOG_FLAGS = {
    "--enable-log-requests": True,
    "--no-enable-log-requests": False,
    "--disable-log-requests": False,
    "--no-disable-log-requests": True,
}
VLLM_OUTPUT_LOG_FLAGS = {"--enable-log-outputs": True, "--no-enable-log-outputs": False}
#: LiteLLM levels at which no request body is logged.
LITELLM_QUIET_LEVELS = ("INFO", "WARNING", "ERROR", "CRITICAL")
LITELLM_DEBUG_FLAGS = ("--debug", "--detailed_debug")
#: `logging` levels below INFO, by name and number (NOTSET on the root logger lets everything through).
BELOW_INFO = {"NOTSET": 0, "TRACE": 5, "DEBUG": 10}
LOG_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def last_state(command: list[str], flags: Mapping[str, bool]) -> bool | None:
    """The switch's state after the command line (the last matching flag wins); None if none is given."""
    state = None
    for token in command:
        if token in flags:
            state = flags[token]
    return state


def _literal_env(container: Mapping[str, Any], name: str) -> str | None:
    entry = env_values(container).get(name)
    if entry is None:
        return None
    if "valueFrom" in entry:
        return "valueFrom"
    value = entry.get("value")
    return "secret" if value == BLINDED_SECRET else str(value or "")


def vllm_problems(container: Mapping[str, Any], command: list[str]) -> list[str]:
    problems = []
    requests = last_state(command, VLLM_REQUEST_LOG_FLAGS)
    if requests is None:
        problems.append("request logging is not switched off explicitly (add `--no-enable-log-requests`)")
    elif requests:
        problems.append("request logging is on (the last flag turns it on; use `--no-enable-log-requests`)")
    if last_state(command, VLLM_OUTPUT_LOG_FLAGS):
        problems.append("`--enable-log-outputs` logs the generated text")
    level = _literal_env(container, "VLLM_LOGGING_LEVEL")
    if level is not None and level.upper() not in LITELLM_QUIET_LEVELS:
        problems.append(f"`VLLM_LOGGING_LEVEL` is '{level}' (use INFO or higher)")
    response = _literal_env(container, "VLLM_DEBUG_LOG_API_SERVER_RESPONSE")
    if response is not None and response.lower() != "false":
        problems.append(f"`VLLM_DEBUG_LOG_API_SERVER_RESPONSE` is '{response}' (must be unset or false)")
    return problems


def litellm_problems(container: Mapping[str, Any], command: list[str]) -> list[str]:
    problems = []
    level = _literal_env(container, "LITELLM_LOG")
    if level is None:
        problems.append("`LITELLM_LOG` is not set, and LiteLLM's default is DEBUG (set `LITELLM_LOG=INFO`)")
    elif level.upper() not in LITELLM_QUIET_LEVELS:
        problems.append(f"`LITELLM_LOG` is '{level}' (use INFO or higher, as a literal value)")
    flags = [flag for flag in LITELLM_DEBUG_FLAGS if flag in command]
    if flags:
        problems.append(f"{', '.join(f'`{f}`' for f in flags)} turn on debug logging of request bodies")
    return problems


def _check_container(ref: ContainerRef, workload: str, report: ReportViolation) -> None:
    image = ref.image.lower()
    command = [str(a) for a in (*as_list(ref.container.get("command")), *as_list(ref.container.get("args")))]
    problems = []
    if "vllm" in image:
        problems += vllm_problems(ref.container, command)
    if "litellm" in image:
        problems += litellm_problems(ref.container, command)
    if problems:
        report(
            f"Container '{ref.name}' ({ref.image}) of {workload} may log prompt text: "
            + "; ".join(problems)
            + ".",
            None,
        )


def config_problems(document: Mapping[str, Any]) -> list[str]:
    settings_ = document.get("litellm_settings") or {}
    problems = []
    # An explicit `false` is reported by kiva-retention-prompts-not-stored already; here: left unset.
    if settings_.get("turn_off_message_logging") not in (True, False):
        problems.append("`litellm_settings.turn_off_message_logging` must be `true`")
    if settings_.get("set_verbose") is True:
        problems.append("`litellm_settings.set_verbose: true` logs request bodies")
    return problems


def _below_info(level: Any) -> bool:
    if isinstance(level, bool):
        return False
    if isinstance(level, int):
        return level < 20
    return isinstance(level, str) and level.strip().upper() in BELOW_INFO


def log_config_problems(key: str, document: Any) -> list[str]:
    """Levels below INFO in a `logging.config.dictConfig` document (`version: 1`) held at `data.<key>`."""
    if not isinstance(document, Mapping) or document.get("version") != 1:
        return []
    places: list[tuple[str, Any]] = []
    root = document.get("root")
    if isinstance(root, Mapping):
        places.append(("root", root))
    loggers = document.get("loggers")
    if isinstance(loggers, Mapping):
        places += [(f"loggers.{name}" if name else "root", entry) for name, entry in loggers.items()]
    return [
        f"`{key}` sets {place} to level {entry['level']} (use INFO or higher: below it LiteLLM logs request bodies)"
        for place, entry in places
        if isinstance(entry, Mapping) and _below_info(entry.get("level"))
    ]


def logging_config_problems(props: Mapping[str, Any]) -> list[str]:
    """The logging configs (`.json`/`.yaml` files that are dictConfig documents) beside a LiteLLM config."""
    data = props.get("data")
    if not isinstance(data, Mapping):
        return []
    problems = []
    for key, text in data.items():
        readable = isinstance(text, str) and text != BLINDED_SECRET
        if readable and key != "config.yaml" and str(key).endswith(LOG_CONFIG_SUFFIXES):
            problems += log_config_problems(str(key), parse_yaml(text))
    return problems


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == CONFIG_MAP:
        document = litellm_config(args.props)
        if document is None:
            return
        problems = config_problems(document) + logging_config_problems(args.props)
        if problems:
            report(f"LiteLLM config '{args.name}': " + "; ".join(problems) + ".", None)
        return
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    workload = display_name(args.props, args.name)
    run_checks([partial(_check_container, ref, workload, report) for ref in containers(spec)])


no_prompt_logging = ResourceValidationPolicy(
    name="kiva-observability-no-prompt-logging",
    description=(
        "Model servers (vLLM) run with request and output logging off, explicitly, and no debug logging; the "
        "gateway (LiteLLM) runs at INFO or higher (also in the logging config beside its config), without "
        "debug flags, with message logging off: no prompt text reaches a log."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [no_prompt_logging]
