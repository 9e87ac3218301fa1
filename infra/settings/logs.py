"""Where the platform's logs go and what they may contain (`kiva:monitoring.logs`).

Backends:
- `none` (default): container logs stay where the cluster keeps them (on Azure: Container Insights in
  the Log Analytics workspace, kept `kiva:retention.logAnalyticsDays`).
- `external`: an existing Loki or Elasticsearch, reached by URL. The stack adds it to Grafana as a
  datasource; shipping the logs there is the backend operator's collector (it is not in this stack),
  and `retentionDays` records what that backend keeps, for the policy pack to judge.
- `loki`: refused for now. The smallest honest Loki (chart grafana/loki in single-binary mode with a
  filesystem PVC) still needs a log shipper DaemonSet reading every node's `/var/log/pods` (Alloy or
  fluent-bit, privileged hostPath mounts), a compactor for retention, and a vendored chart the twin can
  render; none of that is in the stack yet, and a half-configured Loki keeps logs forever (Loki's
  retention is off unless `compactor.retention_enabled` is set).

`anonymiseIps` keeps client IP addresses out of the ingress controller's access log where the stack
configures that controller (AKS application routing); see `components/platform/monitoring/logs.py`.
No prompt text is logged at the shipped log levels whatever this block says (vLLM request logging off,
LiteLLM at INFO with message logging off).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, model_validator

from infra.settings.base import KivaModel

#: Why `backend: loki` is refused; the message names the alternatives.
LOKI_NOT_SUPPORTED = (
    "backend: loki is not supported yet: an in-cluster Loki needs a log shipper on every node and a "
    "compactor for retention, which the stack does not deploy; use backend: external with the URL of an "
    "existing Loki or Elasticsearch (e.g. {backend: external, url: https://loki.kiva.example.de, "
    "retentionDays: 30}), or backend: none"
)


class Logs(KivaModel):
    """The log backend Grafana reads, how long it keeps logs, and whether client IPs are logged."""

    backend: Literal["none", "loki", "external"] = "none"
    """`none` (the cluster's own log collection), `external` (an existing Loki or Elasticsearch by
    `url`); `loki` (in-cluster) is not supported yet."""
    kind: Literal["loki", "elasticsearch"] = "loki"
    """What the external backend is (the Grafana datasource type)."""
    url: HttpUrl | None = None
    """Query URL of the external backend, e.g. `https://loki.kiva.example.de` (no credentials in it)."""
    index: str = Field("logs-*", min_length=1)
    """Elasticsearch only: the index pattern Grafana queries, e.g. `logs-*`."""
    retention_days: int | None = Field(None, ge=1, le=730)
    """How many days the external backend keeps logs (required with `external`); at most
    `kiva:retention.logAnalyticsDays`."""
    anonymise_ips: bool = False
    """Keep client IP addresses out of the ingress controller's access log (AKS application routing only:
    refused without an ingress or with another class, whose log format is the cluster's); the gateway never
    sees client IPs (see docs/operations.md#logs)."""

    @model_validator(mode="after")
    def _backend(self) -> Logs:
        if self.backend == "loki":
            raise ValueError(LOKI_NOT_SUPPORTED)
        if self.backend == "external":
            if self.url is None:
                raise ValueError(
                    "backend: external needs the backend's url, e.g. url: https://loki.kiva.example.de"
                )
            if self.url.username or self.url.password:
                raise ValueError(
                    "url must not carry credentials (it is not a secret here); e.g. "
                    "url: https://loki.kiva.example.de"
                )
            if self.retention_days is None:
                raise ValueError(
                    "backend: external needs retentionDays, the days the backend keeps logs, e.g. "
                    "retentionDays: 30"
                )
        elif self.url is not None or self.retention_days is not None:
            raise ValueError(
                "url and retentionDays describe an external backend; set backend: external, or remove them"
            )
        return self


def check_logs(
    logs: Logs, *, grafana_installed: bool, log_analytics_days: int | None = None
) -> tuple[str, str] | None:
    """The first problem of `kiva:monitoring.logs` against the rest of the stack, as (key path below
    `kiva:`, message), or None. `grafana_installed`: the stack installs Grafana (monitoring enabled,
    installed, `grafana.enabled`); `log_analytics_days`: `kiva:retention.logAnalyticsDays`."""
    if logs.backend == "external" and not grafana_installed:
        return (
            "monitoring.logs.backend",
            "external adds the backend to the stack's Grafana, so it needs monitoring.enabled: true, "
            "monitoring.install: true and monitoring.grafana.enabled: true; or set logs.backend: none",
        )
    if log_analytics_days is not None and (problem := log_retention_problem(logs, log_analytics_days)):
        return "monitoring.logs.retentionDays", problem
    return None


def log_retention_problem(logs: Logs, log_analytics_days: int) -> str | None:
    """Why `logs.retentionDays` is outside `kiva:retention` (None when within): an external backend
    keeps logs no longer than the stack's own log store (`retention.logAnalyticsDays`)."""
    if logs.retention_days is not None and logs.retention_days > log_analytics_days:
        return (
            f"retentionDays {logs.retention_days} is longer than retention.logAnalyticsDays "
            f"({log_analytics_days}), the longest the stack keeps logs; lower it, e.g. "
            f"retentionDays: {log_analytics_days}"
        )
    return None
