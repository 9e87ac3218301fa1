"""Logs and metrics are kept for a stated time within the reviewer's bounds.

GDPR Art. 5(1)(e) (storage limitation) sets the maximum; BSI OPS.1.1.5 (Protokollierung) the minimum an
incident review needs. The check reads
- the log backend Grafana reads (`kiva:monitoring.logs`): the retention recorded on its datasource
  ConfigMap (annotation `kiva.platform/log-retention-days`, label `grafana_datasource`);
- a grafana/loki Release: `loki.limits_config.retention_period` with `loki.compactor.retention_enabled:
  true` (without the compactor's retention Loki keeps logs forever; grafana.com/docs/loki, "Log
  retention");
- a kube-prometheus-stack Release: `prometheus.prometheusSpec.retention` (the chart's default, 10d, is not
  evidence), against `maxMetricsDays`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from kiva_policies.base import CONFIG_MAP, MANDATORY, display_name, get, settings
from kiva_policies.observability_releases import (
    KUBE_PROMETHEUS_STACK,
    LOKI,
    is_true,
    literal,
    release_label,
    release_values,
)

RETENTION_ANNOTATION = "kiva.platform/log-retention-days"
DATASOURCE_LABEL = "grafana_datasource"

#: Prometheus and Loki durations (`15d`, `720h`, `4w`, `1y`; Prometheus `model.ParseDuration` units).
_DURATION = re.compile(r"^\s*(\d+)(ms|s|m|h|d|w|y)\s*$")
_DAYS = {"ms": 1 / 86_400_000, "s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "y": 365}

SCHEMA = PolicyConfigSchema(
    properties={
        "minDays": {"type": "integer", "minimum": 1, "default": 7, "description": "Shortest log retention."},
        "maxDays": {"type": "integer", "minimum": 1, "default": 90, "description": "Longest log retention."},
        "maxMetricsDays": {
            "type": "integer",
            "minimum": 1,
            "default": 90,
            "description": "Longest Prometheus retention (`retention` of kube-prometheus-stack).",
        },
    }
)


def duration_days(value: Any) -> float | None:
    """`15d` → 15, `720h` → 30; None when not a single-unit duration."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * _DAYS[match.group(2)] if match else None


def _log_bounds(config: Mapping[str, Any]) -> str:
    return f"[{config['minDays']}, {config['maxDays']}] days"


def _check_datasource(
    args: ResourceValidationArgs, report: ReportViolation, config: Mapping[str, Any]
) -> None:
    metadata = get(args.props, "metadata") or {}
    if DATASOURCE_LABEL not in (get(metadata, "labels") or {}):
        return
    annotations = get(metadata, "annotations") or {}
    if RETENTION_ANNOTATION not in annotations and not _is_logs_datasource(args.props):
        return
    raw = literal(get(annotations, RETENTION_ANNOTATION), f"metadata.annotations.{RETENTION_ANNOTATION}")
    name = display_name(args.props, args.name)
    days = int(raw) if isinstance(raw, str) and raw.isdigit() else None
    if days is None:
        report(
            f"Log datasource {name} does not state how long its backend keeps logs "
            f"(annotation `{RETENTION_ANNOTATION}`); set `kiva:monitoring.logs.retentionDays` within "
            f"{_log_bounds(config)}.",
            None,
        )
    elif not config["minDays"] <= days <= config["maxDays"]:
        report(
            f"Log datasource {name} keeps logs {days} days, outside the allowed {_log_bounds(config)}. "
            "Change `kiva:monitoring.logs.retentionDays` (and the backend's own retention).",
            None,
        )


def _is_logs_datasource(props: Mapping[str, Any]) -> bool:
    """A datasource ConfigMap provisioning Loki or Elasticsearch (a log backend) without the annotation."""
    data = get(props, "data") or {}
    text = " ".join(str(v) for v in data.values()) if isinstance(data, Mapping) else ""
    return bool(re.search(r"type:\s*['\"]?(loki|elasticsearch)\b", text))


def _check_loki(
    values: Mapping[str, Any], what: str, report: ReportViolation, config: Mapping[str, Any]
) -> None:
    loki = get(values, "loki") or {}
    period = literal(get(loki, "limits_config", "retention_period"), "loki.limits_config.retention_period")
    enabled = literal(get(loki, "compactor", "retention_enabled"), "loki.compactor.retention_enabled")
    days = duration_days(period)
    if not is_true(enabled) or days is None or days == 0:
        report(
            f"{what} runs Loki without a retention: set `loki.compactor.retention_enabled: true` and "
            f'`loki.limits_config.retention_period` (e.g. "{config["maxDays"] * 24}h"); otherwise Loki keeps '
            "logs forever.",
            None,
        )
    elif not config["minDays"] <= days <= config["maxDays"]:
        report(
            f"{what} keeps logs {days:g} days (`loki.limits_config.retention_period: {period}`), outside "
            f"the allowed {_log_bounds(config)}.",
            None,
        )


def _check_prometheus(values: Mapping[str, Any], what: str, report: ReportViolation, limit: int) -> None:
    path = "prometheus.prometheusSpec.retention"
    retention = literal(get(values, "prometheus", "prometheusSpec", "retention"), path)
    days = duration_days(retention)
    if days is None:
        found = "not set" if retention is None else f"'{retention}', not a Prometheus duration"
        report(
            f'{what}: `{path}` is {found}; state it (e.g. "15d") from `kiva:monitoring.retention.time`.',
            None,
        )
    elif days > limit:
        report(
            f"{what} keeps metrics {days:g} days (`{path}: {retention}`), more than the allowed {limit}. "
            "Lower `kiva:monitoring.retention.time`.",
            None,
        )


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    config = settings(args, SCHEMA)
    if args.resource_type == CONFIG_MAP:
        _check_datasource(args, report, config)
        return
    what = f"Helm release {release_label(args.props, args.name)}"
    values = release_values(args.resource_type, args.props, LOKI)
    if values is not None:
        _check_loki(values, what, report, config)
        return
    values = release_values(args.resource_type, args.props, KUBE_PROMETHEUS_STACK)
    if values is not None:
        _check_prometheus(values, what, report, config["maxMetricsDays"])


log_retention = ResourceValidationPolicy(
    name="kiva-observability-log-retention",
    description=(
        "The log backend (datasource retention or Loki's compactor retention) keeps logs for a stated number "
        "of days within the reviewer's bounds, and Prometheus states a retention no longer than allowed."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
    config_schema=SCHEMA,
)

POLICIES = [log_retention]
