"""The metric names the dashboards (and alerts) query, per exporter, with where each pinned version defines them.

A dashboard that names a metric its exporter does not export draws an empty panel and nobody notices; an
upgrade that renames one (vLLM dropped `vllm:gpu_cache_usage_perc` for `vllm:kv_cache_usage_perc`) does the
same silently. So every name the dashboards use is listed here under the exporter that exports it, and the
contract test (tests/monitoring/test_metric_contract.py) checks both directions: every name in a dashboard
or alert expression is catalogued, and every catalogued name is exported by the pinned version (the
generated tests/monitoring/exported_metrics.json, whose exporter keys the `exporter` fields below match).

Names are the sample names PromQL sees, not the family names in the source: a prometheus_client `Counter`
named `x` is exposed as `x_total`, a `Histogram` as `x_bucket`/`x_sum`/`x_count`. CloudNativePG's
custom-query metrics are `cnpg_<query>_<column>` with no suffix, whatever their usage (COUNTER or GAUGE).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExporterSource:
    """Where a pinned exporter version defines its metrics (read at that tag, never at a branch head)."""

    #: Key of this exporter in tests/monitoring/exported_metrics.json.
    exporter: str
    #: The `infra/versions.py` pin that decides the version (or the reason there is none).
    pinned_by: str
    version: str
    #: `owner/repo@tag`, or the package the files were read from.
    origin: str
    files: tuple[str, ...]


SOURCES: dict[str, ExporterSource] = {
    "vllm": ExporterSource(
        exporter="vllm",
        pinned_by="VLLM_VERSION",
        version="v0.28.0",
        origin="vllm-project/vllm@v0.28.0 (PyPI sdist vllm-0.28.0.tar.gz)",
        # Labels: model_name, engine (+ finished_reason on request_success). No vllm:gpu_cache_usage_perc.
        files=("vllm/v1/metrics/loggers.py",),
    ),
    "litellm": ExporterSource(
        exporter="litellm",
        pinned_by="LITELLM_VERSION",
        version="1.108.7",
        origin="litellm==1.108.7 (PyPI, the test dependency in pyproject.toml)",
        # Families: integrations/prometheus.py:435-502 (`_counter_factory`/`_histogram_factory`), the
        # in-flight gauge proxy/middleware/in_flight_requests_middleware.py:72-83. Labels (LITELLM_LABELS):
        # types/integrations/prometheus.py PrometheusMetricLabels (:441 ttft, :456 total latency, :490 total
        # requests, :507 failed requests, :597 spend, :624/:652 tokens), names UserAPIKeyLabelNames :198-220.
        files=(
            "litellm/integrations/prometheus.py",
            "litellm/types/integrations/prometheus.py",
            "litellm/proxy/middleware/in_flight_requests_middleware.py",
        ),
    ),
    "cloudnative-pg": ExporterSource(
        exporter="cloudnative-pg",
        pinned_by="CLOUDNATIVE_PG",
        version="1.30.0 (chart 0.29.0)",
        origin="cloudnative-pg/cloudnative-pg@v1.30.0 and the chart's default queries",
        # cnpg_collector_*: built into the instance manager; cnpg_<query>_<column>: the chart's
        # `monitoringQueriesConfigMap.queries` (ConfigMap cnpg-default-monitoring), named by
        # pkg/management/postgres/metrics/mappings.go.
        files=(
            "pkg/management/postgres/webserver/metricserver/pg_collector.go",
            "pkg/management/postgres/webserver/metricserver/wal.go",
            "pkg/management/postgres/metrics/mappings.go",
            "charts cloudnative-pg-0.29.0 values.yaml (monitoringQueriesConfigMap.queries)",
        ),
    ),
    "barman-cloud-plugin": ExporterSource(
        exporter="barman-cloud-plugin",
        pinned_by="BARMAN_CLOUD_PLUGIN",
        version="v0.13.0 (chart 0.7.0)",
        origin="cloudnative-pg/plugin-barman-cloud@v0.13.0",
        # Exposed by the instance manager's /metrics through the CNPG-I metrics interface; the prefix is
        # the plugin name barman-cloud.cloudnative-pg.io with '.' and '-' replaced by '_'.
        files=("internal/cnpgi/instance/metrics.go", "internal/cnpgi/metadata/constants.go"),
    ),
    "dcgm-exporter": ExporterSource(
        exporter="dcgm-exporter",
        pinned_by="GPU_OPERATOR",
        version="4.4.1-4.6.0 (gpu-operator v25.10.0 values dcgmExporter.version)",
        origin="NVIDIA/dcgm-exporter@4.4.1-4.6.0",
        # Both counter lists hold every field used here; labels gpu, UUID, device, modelName, Hostname
        # (internal/pkg/rendermetrics/render_metrics.go). Device-plugin pools run the same image
        # (infra/versions.py DCGM_EXPORTER_TAG, chart DCGM_EXPORTER 4.6.0, monitoring/gpu_metrics.py).
        files=("etc/dcp-metrics-included.csv", "etc/default-counters.csv"),
    ),
    "kubelet": ExporterSource(
        exporter="kubelet",
        pinned_by="none: the cluster's Kubernetes version (names unchanged across supported releases)",
        version="cluster",
        origin="kubernetes/kubernetes; scraped by kube-prometheus-stack 88.5.3's kubelet ServiceMonitor, "
        "whose own rules (templates/prometheus/rules-1.14/kubernetes-storage.yaml) query the same names",
        # Labels namespace, persistentvolumeclaim.
        files=("pkg/kubelet/metrics/collectors/volume_stats.go",),
    ),
    "cert-manager": ExporterSource(
        exporter="cert-manager",
        pinned_by="CERT_MANAGER",
        version="v1.21.1",
        origin="cert-manager/cert-manager@v1.21.1",
        # Labels name, namespace, issuer_name, issuer_kind, issuer_group.
        files=("internal/collectors/certificate_collector.go",),
    ),
    "prometheus": ExporterSource(
        exporter="prometheus",
        pinned_by="KUBE_PROMETHEUS_STACK",
        version="Prometheus of kube-prometheus-stack 88.5.3",
        origin="prometheus/prometheus: the synthetic per-target series `up`",
        files=("scrape/scrape.go",),
    ),
    "kiva-custom-query": ExporterSource(
        exporter="cloudnative-pg",
        pinned_by="CLOUDNATIVE_PG",
        version="1.30.0",
        origin="components/platform/monitoring/spend_log_query.py, run by CloudNativePG's exporter",
        files=("components/platform/monitoring/spend_log_query.py",),
    ),
}

#: Sample names the dashboards in dashboards/*.json query, per exporter (key of SOURCES).
DASHBOARD_METRICS: dict[str, frozenset[str]] = {
    "vllm": frozenset(
        {
            "vllm:num_requests_waiting",
            "vllm:num_requests_running",
            "vllm:kv_cache_usage_perc",
            "vllm:time_to_first_token_seconds_bucket",
            "vllm:inter_token_latency_seconds_bucket",
            "vllm:e2e_request_latency_seconds_bucket",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:request_success_total",
            "vllm:num_preemptions_total",
        }
    ),
    "litellm": frozenset(
        {
            "litellm_proxy_total_requests_metric_total",
            "litellm_proxy_failed_requests_metric_total",
            "litellm_request_total_latency_metric_bucket",
            "litellm_llm_api_time_to_first_token_metric_bucket",
            "litellm_input_tokens_metric_total",
            "litellm_output_tokens_metric_total",
            "litellm_spend_metric_total",
            "litellm_in_flight_requests",
        }
    ),
    "cloudnative-pg": frozenset(
        {
            "cnpg_collector_up",
            "cnpg_collector_pg_wal_archive_status",
            "cnpg_pg_replication_lag",
            "cnpg_pg_replication_streaming_replicas",
            "cnpg_pg_stat_replication_replay_lag_seconds",
            "cnpg_backends_total",
            "cnpg_pg_settings_setting",
            "cnpg_pg_stat_archiver_seconds_since_last_archival",
            "cnpg_pg_stat_archiver_failed_count",
            "cnpg_pg_database_size_bytes",
        }
    ),
    "barman-cloud-plugin": frozenset(
        {
            "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
            "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
        }
    ),
    "dcgm-exporter": frozenset(
        {
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_GPU_TEMP",
            "DCGM_FI_DEV_POWER_USAGE",
            "DCGM_FI_DEV_XID_ERRORS",
        }
    ),
    "kubelet": frozenset({"kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"}),
}

#: The labels the dashboards and alerts use on each LiteLLM metric family (beyond `le` of a histogram's
#: buckets and the target labels Prometheus adds). The gateway's callback must keep these families and
#: labels (components/platform/gateway_metrics.py excludes neither, tests/platform/test_gateway_metrics.py);
#: the contract test
#: (tests/monitoring/test_metric_contract.py) derives the same table from the expressions and checks it
#: against `PrometheusMetricLabels.get_labels` of the installed litellm. `litellm_in_flight_requests` is
#: the in-flight middleware's own unlabelled gauge, which `prometheus_metrics_config` does not govern.
LITELLM_LABELS: dict[str, frozenset[str]] = {
    "litellm_proxy_total_requests_metric": frozenset({"status_code", "requested_model", "team_alias"}),
    "litellm_proxy_failed_requests_metric": frozenset({"exception_status", "exception_class", "team_alias"}),
    "litellm_request_total_latency_metric": frozenset({"requested_model"}),
    "litellm_llm_api_time_to_first_token_metric": frozenset({"model"}),
    "litellm_input_tokens_metric": frozenset({"requested_model"}),
    "litellm_output_tokens_metric": frozenset({"requested_model"}),
    "litellm_spend_metric": frozenset({"team_alias", "model"}),
    "litellm_in_flight_requests": frozenset(),
}

#: Sample names the alert rules (alerts.py ALERT_GROUPS) query beyond the dashboards', per exporter.
ALERT_METRICS: dict[str, frozenset[str]] = {
    # default queries pg_replication, pg_stat_archiver (config/manager/default-monitoring.yaml @v1.30.0)
    "cloudnative-pg": frozenset(
        {
            "cnpg_pg_replication_in_recovery",
            "cnpg_pg_stat_archiver_last_failed_time",
            "cnpg_pg_stat_archiver_last_archived_time",
        }
    ),
    # KIVA's own custom query (spend_log_query.py), run by the pinned CloudNativePG's exporter.
    "kiva-custom-query": frozenset({"cnpg_kiva_spend_logs_oldest_age_seconds"}),
    # cert-manager/cert-manager@v1.21.1 internal/collectors/certificate_collector.go
    "cert-manager": frozenset({"certmanager_certificate_expiration_timestamp_seconds"}),
    # Prometheus' own per-target series (`up` of the vLLM PodMonitor's job).
    "prometheus": frozenset({"up"}),
}


def catalogued() -> dict[str, frozenset[str]]:
    """Every catalogued name per exporter: dashboards' and alerts' together."""
    exporters = DASHBOARD_METRICS.keys() | ALERT_METRICS.keys()
    return {
        exporter: DASHBOARD_METRICS.get(exporter, frozenset()) | ALERT_METRICS.get(exporter, frozenset())
        for exporter in sorted(exporters)
    }


def exporter_of(metric: str) -> str | None:
    """The exporter a metric name is catalogued under, or None when it is not catalogued."""
    for exporter, names in catalogued().items():
        if metric in names:
            return exporter
    return None
