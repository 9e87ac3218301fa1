"""Runs a check script against the installed LiteLLM in a fresh interpreter and reads its report.

Each check (tests/platform/litellm_check.py, tests/model_cost_check.py, tests/redis_sentinel_check.py)
prints one line `KIVA-REPORT <json>`. A fresh process keeps LiteLLM's module-level state (settings set
with `setattr(litellm, …)`, callbacks, caches) out of the test process and out of the other checks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = "KIVA-REPORT "


def provider_key_env(config: Mapping[str, Any]) -> dict[str, str]:
    """A test value for every provider key the config names by `os.environ/`."""
    keys = (entry["litellm_params"].get("api_key", "") for entry in config["model_list"])
    return {key.removeprefix("os.environ/"): "test-only" for key in keys if key.startswith("os.environ/")}


def run_check(command: list[str], env: Mapping[str, str]) -> tuple[Any, str]:
    """The check's report and its stderr; a failed check fails the test with the end of its stderr."""
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=dict(env), check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith(MARKER))
    return json.loads(line.removeprefix(MARKER)), result.stderr
