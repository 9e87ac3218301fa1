"""What the gateway's Prometheus callback exports: the `litellm_settings` keys of the proxy's config.

LiteLLM's callback counts requests, tokens, latency and spend in the proxy's own process and serves them
at `/metrics`, so nothing leaves the cluster. It runs on every request, and two things it exports by
default are left out:

- **The budget gauges** (remaining budget, maximum budget and hours to the reset, per key, team, user,
  organisation and customer). To set them after each request LiteLLM looks the key, team, user and
  organisation up (`_increment_remaining_budget_metrics`, litellm/integrations/prometheus.py:2066 in
  1.108.7), which was about half of the callback's CPU in the profile of docs/performance.md; it skips the
  look-ups only when every one of these gauges is switched off (:2078-2085, BerriAI/litellm PR #32834,
  first in 1.93.0). Budgets are enforced all the same; spend per key and team stays in
  `litellm_spend_metric` and the spend logs, and `/key/info` and `/team/info` give the remaining budget.
- **Labels that identify a person or a device**: `end_user` (the `user` field a client sends),
  `user_email`, `client_ip` and `user_agent` (on the request counters, litellm/types/integrations/
  prometheus.py:490-527). Metrics are kept for the retention period like any other data, so they
  carry no more personal data than the logs, which hold no client address either. LiteLLM drops an
  excluded label from every metric that has it (`_LabeledMetric`, prometheus.py:174).

Both lists are checked by LiteLLM when the callback starts: an unknown name stops the proxy
(`_parse_exclude_config`, prometheus.py:1066-1089), and tests/platform/test_gateway_metrics.py starts the
callback of the pinned version with them.
"""

from __future__ import annotations

from typing import Any

from infra.settings import StackSettings

BUDGET_GAUGES: tuple[str, ...] = tuple(
    f"litellm_{name}"
    for owner in ("api_key", "team", "user", "org", "customer")
    for name in (f"remaining_{owner}_budget_metric", f"{owner}_max_budget_metric",
                 f"{owner}_budget_remaining_hours_metric")
)  # fmt: skip

PERSONAL_LABELS: tuple[str, ...] = ("end_user", "user_email", "client_ip", "user_agent")


def gateway_metrics_settings(settings: StackSettings) -> dict[str, Any]:
    """The callback where the platform is monitored, without the budget gauges and personal labels."""
    if not settings.monitoring.enabled:
        return {"callbacks": []}
    return {
        "callbacks": ["prometheus"],
        "prometheus_exclude_metrics": list(BUDGET_GAUGES),
        "prometheus_exclude_labels": list(PERSONAL_LABELS),
    }
