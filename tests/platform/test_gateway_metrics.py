"""The gateway's Prometheus callback, started by the pinned LiteLLM with the prod ConfigMap's settings.

The callback runs in a subprocess: prometheus_client registers every metric in a process-wide registry,
and a second logger in the test process would collide with the first. The subprocess sets the
`litellm_settings` of the generated `config.yaml` on the `litellm` module the way the proxy does
(`setattr(litellm, key, value)`, litellm/proxy/proxy_server.py:6711 in 1.108.7) and starts
`PrometheusLogger`; what it cannot show is the proxy's own start-up order around it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import get_args

import yaml

from components.platform.gateway_metrics import BUDGET_GAUGES, PERSONAL_LABELS
from tests.conftest import _committed_plan
from tests.platform.conftest import objects_of, one

#: Starts the callback with the settings on stdin and reports what it made of them. The five budget
#: look-ups are replaced by a recorder: LiteLLM must not reach them with the budget gauges off.
CALLBACK = """
import asyncio, json, sys
import litellm
for key, value in json.loads(sys.stdin.read()).items():
    setattr(litellm, key, value)
from litellm.integrations.prometheus import PrometheusLogger
from litellm.types.integrations.prometheus import NoOpMetric
logger = PrometheusLogger()
looked_up = []
async def record(**kwargs):
    looked_up.append(kwargs)
for owner in ("api_key", "team", "user", "org", "customer"):
    setattr(logger, f"_set_{owner}_budget_metrics_after_api_request", record)
asyncio.run(logger._increment_remaining_budget_metrics(
    user_api_team="team-1", user_api_team_alias="team", user_api_key="hashed", user_api_key_alias="key",
    litellm_params={"metadata": {}}, response_cost=0.5, user_id="user-1", user_api_key_org_id="org-1",
    end_user_id="citizen-1",
))
requests = logger.litellm_proxy_total_requests_metric
print(json.dumps({
    "look_ups": len(looked_up),
    "off": sorted(name for name, value in vars(logger).items() if isinstance(value, NoOpMetric)),
    "request_labels": list(getattr(requests, "_metric", requests)._labelnames),
}))
"""


def _litellm_settings(stack: str) -> dict:
    config_map = one(objects_of(_committed_plan(stack)), "ConfigMap", "kiva-gateway-config")
    return yaml.safe_load(config_map["data"]["config.yaml"])["litellm_settings"]


def _start_callback(settings: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CALLBACK],
        input=json.dumps(settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_every_budget_gauge_of_the_pinned_litellm_is_excluded() -> None:
    """A budget gauge that a later LiteLLM adds and the list misses would bring the look-ups back."""
    from litellm.types.integrations.prometheus import DEFINED_PROMETHEUS_METRICS

    budget_metrics = {name for name in get_args(DEFINED_PROMETHEUS_METRICS) if "budget" in name}
    assert set(BUDGET_GAUGES) == budget_metrics
    assert len(BUDGET_GAUGES) == 15


def test_the_exclusions_spare_every_family_and_label_the_dashboards_and_alerts_use() -> None:
    from components.platform.monitoring.metric_catalogue import LITELLM_LABELS

    assert not set(BUDGET_GAUGES) & set(LITELLM_LABELS)
    assert not set(PERSONAL_LABELS) & set().union(*LITELLM_LABELS.values())


def test_prod_exports_metrics_without_budget_look_ups_or_personal_labels() -> None:
    settings = _litellm_settings("prod")
    assert settings["callbacks"] == ["prometheus"]
    started = _start_callback(settings)
    assert started["look_ups"] == 0
    assert started["off"] == sorted(BUDGET_GAUGES)
    labels = started["request_labels"]
    assert not set(PERSONAL_LABELS) & set(labels)
    assert {"team_alias", "requested_model", "status_code", "api_key_alias"} <= set(labels)


def test_without_the_exclusions_litellm_looks_budgets_up_after_each_request() -> None:
    """The counter-check: the same callback with LiteLLM's defaults does the five look-ups."""
    settings = {
        key: value for key, value in _litellm_settings("prod").items() if not key.startswith("prometheus_")
    }
    started = _start_callback(settings)
    assert started["look_ups"] == 5
    assert started["off"] == []
    assert set(PERSONAL_LABELS) <= set(started["request_labels"])


def test_an_unmonitored_stack_has_no_callback() -> None:
    """local runs without the monitoring stack (`kiva:monitoring` off by default): nothing to scrape."""
    settings = _litellm_settings("local")
    assert settings["callbacks"] == []
    assert not {key for key in settings if key.startswith("prometheus_")}
