"""How the gateway logs: LiteLLM's level (`LITELLM_LOG`) and uvicorn's logging config (`--log_config`).

What LiteLLM 1.108.7 writes per request (read in the installed package, litellm/…):
- at INFO, three lines of its own: "SESSION REUSE: Attached shared aiohttp session"
  (proxy/route_llm_request.py:452), "LiteLLM completion() model= …" (utils.py:4887) and the router's
  "litellm.acompletion(model=…) 200 OK" (router.py:4213). Their loggers are set to INFO only when
  `LITELLM_LOG` is INFO (proxy/proxy_server.py:9396-9424, in `initialize`); at any other level they keep
  the root logger's WARNING. With `json_logs` every line goes through `JsonFormatter`
  (_logging.py:735-794), which looks for a JSON object or a Python dict in each message and parses it
  with `ast.literal_eval` (_logging.py:685-718), after the secret-redaction filter (_logging.py:158-169);
  1.108.7 also attaches that filter, and an access-log redaction filter, to uvicorn's own loggers
  (`_redact_third_party_loggers`, _logging.py:914-958), and a logging config keeps them: `dictConfig`
  replaces a configured logger's handlers, not its filters (CPython logging/config.py
  `common_logger_config`);
- uvicorn's access log ("GET /v1/chat/completions 200"), through the logging config LiteLLM builds
  when `json_logs` is on and no `--log_config` is given (`_get_uvicorn_json_log_config`,
  _logging.py:1005-1062, used by proxy/proxy_cli.py:320-325): all uvicorn loggers at `LITELLM_LOG`'s
  level, so `WARNING` also silences the access log.

So the gateway gets its own uvicorn logging config (a file of the ConfigMap, `--log_config`; uvicorn
reads a `.json` file with `logging.config.dictConfig`, uvicorn/config.py:399-402, in the supervisor and
again in every worker, uvicorn/_subprocess.py:76, both as of the 0.54.0 locked here): the same JSON
formatter and loggers as LiteLLM's, uvicorn's own loggers at `logLevel` and the access log on or off by
`accessLog`, whatever the level.
It configures uvicorn's loggers only: LiteLLM's keep their level from `LITELLM_LOG`, and the root
logger is left alone (below INFO it would turn LiteLLM's loggers to DEBUG, which the policy pack
refuses: kiva-observability-no-prompt-logging).
"""

from __future__ import annotations

import json
from typing import Any

#: The key of the ConfigMap, mounted next to `config.yaml`; uvicorn picks the parser by the suffix.
LOG_CONFIG_FILE = "log_config.json"
#: LiteLLM's own JSON formatter, so uvicorn's lines look like LiteLLM's (litellm/_logging.py `JsonFormatter`).
JSON_FORMATTER = "litellm._logging.JsonFormatter"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
ACCESS_LOGGER = "uvicorn.access"


def uvicorn_log_config(log_level: str, access_log: bool) -> dict[str, Any]:
    """A `logging.config.dictConfig` document for uvicorn (the shape of LiteLLM's own, see above)."""
    stdout = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    loggers = {name: {"handlers": ["default"], "level": log_level, "propagate": False}
               for name in UVICORN_LOGGERS}  # fmt: skip
    loggers[ACCESS_LOGGER] = {
        "handlers": ["default"],
        # uvicorn logs each request at INFO (uvicorn/protocols/http/*_impl.py); WARNING drops them.
        "level": "INFO" if access_log else "WARNING",
        "propagate": False,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSON_FORMATTER}},
        "handlers": {"default": stdout},
        "loggers": loggers,
    }


def render_log_config(log_level: str, access_log: bool) -> str:
    return json.dumps(uvicorn_log_config(log_level, access_log), indent=2) + "\n"
