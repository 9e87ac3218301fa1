"""KIVA's alerts as a PrometheusRule: what an operator must hear about before users or auditors do.

Each rule names metrics the pinned software exports (checked by tests/monitoring/test_metric_contract.py)
and links its runbook section in docs/operations.md (anchor = alert name in lower-case-hyphen form).
Thresholds come from the stack's settings where a setting decides them (the backup schedule, the
spend-log retention, the model servers' startup budget); the rest are named constants with a reason.

Metric sources, read at the pinned versions:
- LiteLLM 1.108.7 `litellm/integrations/prometheus.py`, `litellm/types/integrations/prometheus.py`:
  the counter (exposed with `_total`) `litellm_proxy_total_requests_metric` (prometheus.py:441) with
  label `status_code` (types :490-505; "200" on success, prometheus.py:1576, the HTTP status on a
  failure, :2907), and the histogram `litellm_request_total_latency_metric` (prometheus.py:448, buckets
  `LATENCY_BUCKETS` ... 10, 30, 60, 120 s, types :143). Since the 1.108 line its observation adds the
  request's queue time, arrival to processing start, i.e. authentication and pre-call hooks
  (prometheus.py:2570-2594, `queue_time_seconds` from proxy/common_request_processing.py:2303-2317).
- vLLM v0.28.0 `vllm/v1/metrics/loggers.py`: gauges `vllm:num_requests_waiting`,
  `vllm:kv_cache_usage_perc` (1 = full), counter `vllm:num_preemptions`; labels `model_name`, `engine`.
- DCGM exporter 4.4.1-4.6.0 (image of gpu-operator v25.10.0's `dcgmExporter.version`),
  `etc/dcp-metrics-included.csv`, the operator's DCGM_EXPORTER_COLLECTORS: `DCGM_FI_DEV_XID_ERRORS`
  (value of the last XID; absent until one occurs), `DCGM_FI_DEV_GPU_TEMP` (°C); labels `gpu`, `UUID`,
  `modelName`, `Hostname` (internal/pkg/rendermetrics/render_metrics.go).
- CloudNativePG 1.30.0 `config/manager/default-monitoring.yaml` (`cnpg_<query>_<column>`):
  `cnpg_pg_replication_lag`, `cnpg_pg_replication_in_recovery`, `cnpg_pg_stat_archiver_last_failed_time`,
  `cnpg_pg_stat_archiver_last_archived_time`.
- Barman Cloud plugin v0.13.0 (chart 0.7.0) `internal/cnpgi/instance/metrics.go`, web/docs/observability.md:
  `barman_cloud_cloudnative_pg_io_last_available_backup_timestamp` (0 until the first backup). The
  in-core `cnpg_collector_last_available_backup_timestamp` is deprecated and only fed by the in-tree
  `barmanObjectStore`, which KIVA does not use.
- cert-manager v1.21.1 `internal/collectors/certificate_collector.go`:
  `certmanager_certificate_expiration_timestamp_seconds{name, namespace, issuer_name, ...}`.
- KIVA's custom CloudNativePG query (spend_log_query.py): `cnpg_kiva_spend_logs_oldest_age_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE
from components.platform.monitoring.spend_log_query import METRIC as SPEND_LOG_AGE_METRIC
from infra.settings.backup_schedule import longest_interval_seconds

#: Namespace of the monitoring stack (docs: issue 13 design); the PrometheusRule lives there.
MONITORING_NAMESPACE = "kiva-monitoring"
RULE_NAME = "kiva-alerts"
RUNBOOK = "docs/operations.md"
#: `job` of the vLLM targets: prometheus-operator v0.93 sets `<namespace>/<PodMonitor name>`
#: (pkg/prometheus/promcfg.go) and the PodMonitor is `kiva-model-servers` in `kiva` (monitors.py).
VLLM_JOB = f"{PLATFORM_NAMESPACE}/kiva-model-servers"

#: Share of gateway requests answered with 5xx before it pages: well above the odd upstream failure.
GATEWAY_5XX_RATIO = 0.05
#: p95 of the full request (LiteLLM measures from its arrival until the last token): 30 s is a
#: histogram bucket boundary, so the estimate is exact there, and far beyond an interactive answer.
GATEWAY_P95_SECONDS = 30
#: KV cache this full while requests are preempted: the server recomputes instead of serving.
KV_CACHE_SATURATED = 0.95
#: NVIDIA data-centre GPUs start throttling a few degrees above this (`nvidia-smi -q -d TEMPERATURE`).
GPU_TEMPERATURE_CELSIUS = 85
#: A standby further behind than this would lose more than a minute of writes on failover.
REPLICATION_LAG_SECONDS = 60
#: Time a base backup may take after its scheduled start, on top of the schedule's longest gap.
BACKUP_MARGIN_SECONDS = 2 * 3600
#: LiteLLM 1.108.7 runs its cleanup every `maximum_spend_logs_retention_interval` (default "1d", plus up
#: to 60 s; proxy/proxy_server.py:11147-11161, KIVA sets no `maximum_spend_logs_cleanup_cron`), plus one
#: day of slack (which also covers the daily partitions of a partitioned table, spend_log_query.py).
SPEND_LOG_CLEANUP_SLACK_DAYS = 2
#: Certificates closer than this to expiry were not renewed (cert-manager renews at 2/3 of the lifetime).
CERTIFICATE_EXPIRY_DAYS = 7


@dataclass(frozen=True)
class AlertArgs:
    """What the thresholds and the rule set depend on, computed from the settings by `alert_args`."""

    backup_interval_seconds: int
    """Longest gap between two runs of `kiva:backups.schedule`."""
    spend_logs_days: int
    """`kiva:retention.spendLogsDays`."""
    model_startup_seconds: int
    """How long a model server may take to load before its startup probe gives up."""
    vllm_job: str
    """`job` label of the vLLM PodMonitor's targets (prometheus-operator: `<namespace>/<name>`)."""
    model_servers: bool = True
    """The stack runs vLLM model servers (gateway-only stacks have none)."""
    gpus: bool = True
    """DCGM exporter metrics are scraped (GPU pools with the GPU operator)."""
    spend_log_age: bool = True
    """`cnpg_kiva_spend_logs_oldest_age_seconds` is exported (the custom query and its grant exist)."""


def alert_args(
    backup_schedule: str,
    spend_logs_days: int,
    model_startup_seconds: int,
    vllm_job: str = VLLM_JOB,
    *,
    model_servers: bool = True,
    gpus: bool = True,
    spend_log_age: bool = True,
) -> AlertArgs:
    """`AlertArgs` from setting values; the schedule is parsed as CloudNativePG does (backup_schedule.py)."""
    return AlertArgs(
        backup_interval_seconds=longest_interval_seconds(backup_schedule),
        spend_logs_days=spend_logs_days,
        model_startup_seconds=model_startup_seconds,
        vllm_job=vllm_job,
        model_servers=model_servers,
        gpus=gpus,
        spend_log_age=spend_log_age,
    )


def anchor(alert: str) -> str:
    """`GatewayHighErrorRate` -> `gateway-high-error-rate` (the runbook heading's anchor)."""
    out = ""
    for index, char in enumerate(alert):
        if (
            char.isupper()
            and index
            and (not alert[index - 1].isupper() or alert[index + 1 : index + 2].islower())
        ):
            out += "-"
        out += char.lower()
    return out


def _rule(
    alert: str, expr: str, duration: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{RUNBOOK}#{anchor(alert)}",
        },
    }


def _duration(seconds: int) -> str:
    """A Prometheus duration in whole hours or minutes (`26h`, `35m`), rounded up to the minute."""
    minutes = -(-seconds // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _gateway() -> dict[str, Any]:
    total = "litellm_proxy_total_requests_metric_total"
    latency = "litellm_request_total_latency_metric_bucket"
    return {
        "name": "kiva-gateway",
        "rules": [
            _rule(
                "GatewayHighErrorRate",
                f'sum(rate({total}{{status_code=~"5.."}}[5m])) / sum(rate({total}[5m])) > {GATEWAY_5XX_RATIO}',
                "10m",
                "critical",
                "More than 5% of gateway requests fail with a server error",
                "{{ $value | humanizePercentage }} of requests to the LiteLLM gateway returned 5xx over 5 minutes.",
            ),
            _rule(
                "GatewayHighLatency",
                f"histogram_quantile(0.95, sum by (le) (rate({latency}[5m]))) > {GATEWAY_P95_SECONDS}",
                "15m",
                "warning",
                f"Gateway p95 latency above {GATEWAY_P95_SECONDS} s",
                "95% of gateway requests take up to {{ $value | humanizeDuration }} (LiteLLM total latency).",
            ),
        ],
    }


def _models(args: AlertArgs) -> dict[str, Any]:
    up = f'up{{job="{args.vllm_job}"}}'
    startup = _duration(args.model_startup_seconds + 300)
    return {
        "name": "kiva-models",
        "rules": [
            _rule(
                "ModelQueueGrowing",
                "min_over_time(vllm:num_requests_waiting[10m]) > 0 and delta(vllm:num_requests_waiting[10m]) > 0",
                "5m",
                "warning",
                "Requests queue up in front of a model server",
                "{{ $labels.model_name }} on {{ $labels.pod }}: the queue never emptied in 10 minutes and "
                "is longer than 10 minutes ago ({{ $value }} more waiting).",
            ),
            _rule(
                "ModelKvCacheSaturated",
                f"max_over_time(vllm:kv_cache_usage_perc[10m]) > {KV_CACHE_SATURATED} "
                "and increase(vllm:num_preemptions_total[10m]) > 0",
                "10m",
                "warning",
                "A model server's KV cache is full and it preempts requests",
                "{{ $labels.model_name }} on {{ $labels.pod }} has used more than 95% of its KV cache and "
                "preempted requests in the last 10 minutes.",
            ),
            _rule(
                "ModelServerDown",
                # Down after having served within the hour, or never up within the startup budget, or no
                # target at all.
                f"({up} == 0 and max_over_time({up}[1h]) == 1)"
                f" or (max_over_time({up}[{startup}]) == 0 and {up} offset {startup})"
                f" or absent({up})",
                "5m",
                "critical",
                "A model server does not answer its metrics endpoint",
                "{{ $labels.pod }} (job " + args.vllm_job + ") cannot be scraped: its model is unavailable.",
            ),
        ],
    }


def _gpus() -> dict[str, Any]:
    xid = "DCGM_FI_DEV_XID_ERRORS"
    return {
        "name": "kiva-gpus",
        "rules": [
            _rule(
                "GpuXidError",
                # The gauge holds the last XID and appears with the first one: alert on a change or a new series.
                f"changes({xid}[10m]) > 0 or ({xid} > 0 unless {xid} offset 10m)",
                "0m",
                "warning",
                "A GPU reported an XID error",
                "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on {{ $labels.Hostname }} reported XID errors; "
                "see DCGM_FI_DEV_XID_ERRORS for the code.",
            ),
            _rule(
                "GpuTemperatureHigh",
                f"DCGM_FI_DEV_GPU_TEMP > {GPU_TEMPERATURE_CELSIUS}",
                "10m",
                "warning",
                f"A GPU is hotter than {GPU_TEMPERATURE_CELSIUS} °C",
                "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is at {{ $value }} °C.",
            ),
        ],
    }


def _database(args: AlertArgs) -> dict[str, Any]:
    backup_age = args.backup_interval_seconds + BACKUP_MARGIN_SECONDS
    rules = [
        _rule(
            "DatabaseReplicationLag",
            f"cnpg_pg_replication_lag > {REPLICATION_LAG_SECONDS}",
            "5m",
            "warning",
            f"A database standby is more than {REPLICATION_LAG_SECONDS} s behind",
            "{{ $labels.pod }} replays WAL {{ $value | humanizeDuration }} behind the primary.",
        ),
        _rule(
            "DatabaseFailover",
            "changes(cnpg_pg_replication_in_recovery[15m]) > 0",
            "0m",
            "warning",
            "The database primary changed (failover or switchover)",
            "{{ $labels.pod }} changed role in the last 15 minutes.",
        ),
        _rule(
            "DatabaseWithoutPrimary",
            "sum by (namespace) (1 - cnpg_pg_replication_in_recovery) < 1",
            "5m",
            "critical",
            "No database instance is primary",
            "Every reporting instance in {{ $labels.namespace }} is in recovery: the gateway cannot write.",
        ),
        _rule(
            "DatabaseBackupTooOld",
            "time() - max by (namespace) (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp) "
            f"> {backup_age}",
            "15m",
            "critical",
            "The last database backup is older than its schedule allows",
            f"The last base backup is {{{{ $value | humanizeDuration }}}} old; the schedule allows "
            f"{_duration(args.backup_interval_seconds)} between backups plus {_duration(BACKUP_MARGIN_SECONDS)}.",
        ),
        _rule(
            "DatabaseWalArchivingFailing",
            "cnpg_pg_stat_archiver_last_failed_time > cnpg_pg_stat_archiver_last_archived_time",
            "5m",
            "critical",
            "WAL archiving to the object store fails",
            "{{ $labels.pod }}: the last WAL archiving attempt failed; point-in-time recovery stops at the "
            "last archived segment.",
        ),
    ]
    if args.spend_log_age:
        days = args.spend_logs_days + SPEND_LOG_CLEANUP_SLACK_DAYS
        rules.append(
            _rule(
                "SpendLogCleanupBehind",
                f"max by (namespace) ({SPEND_LOG_AGE_METRIC}) > {days * 86400}",
                "1h",
                "warning",
                "Spend logs are kept longer than the retention allows",
                f"The oldest LiteLLM spend log is {{{{ $value | humanizeDuration }}}} old; retention is "
                f"{args.spend_logs_days} days.",
            )
        )
    return {"name": "kiva-database", "rules": rules}


def _certificates() -> dict[str, Any]:
    return {
        "name": "kiva-certificates",
        "rules": [
            _rule(
                "CertificateExpiringSoon",
                f"certmanager_certificate_expiration_timestamp_seconds - time() < {CERTIFICATE_EXPIRY_DAYS * 86400}",
                "1h",
                "critical",
                f"A certificate expires in less than {CERTIFICATE_EXPIRY_DAYS} days",
                "Certificate {{ $labels.name }} (issuer {{ $labels.issuer_name }}) expires in "
                "{{ $value | humanizeDuration }} and was not renewed.",
            ),
        ],
    }


def alert_groups(args: AlertArgs) -> list[dict[str, Any]]:
    """PrometheusRule `spec.groups`: only groups whose metrics the stack exports."""
    groups = [_gateway()]
    if args.model_servers:
        groups.append(_models(args))
    if args.gpus:
        groups.append(_gpus())
    groups += [_database(args), _certificates()]
    return groups


#: Every alert KIVA can ship (all optional groups on), for the metric contract test and the runbook check.
ALERT_GROUPS: list[dict[str, Any]] = alert_groups(
    alert_args("0 0 2 * * *", spend_logs_days=30, model_startup_seconds=1800)
)


def prometheus_rule_manifest(
    groups: list[dict[str, Any]], namespace: str = MONITORING_NAMESPACE
) -> dict[str, Any]:
    """The PrometheusRule object (monitoring.coreos.com/v1, prometheus-operator v0.93)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULE_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "kiva", "app.kubernetes.io/component": "alerts"},
        },
        "spec": {"groups": groups},
    }


def prometheus_rule(
    name: str,
    args: AlertArgs,
    namespace: str = MONITORING_NAMESPACE,
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.apiextensions.CustomResource:
    """Register the PrometheusRule; `opts` should depend on the Helm release that installs its CRD.

    Without the stack's own release (`kiva:monitoring.install: false`) the rule goes to the platform
    namespace, which the cluster's Prometheus must watch anyway for the PodMonitors.
    """
    manifest = prometheus_rule_manifest(alert_groups(args), namespace)
    return k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(**manifest["metadata"]),
        spec=manifest["spec"],
        opts=opts,
    )
