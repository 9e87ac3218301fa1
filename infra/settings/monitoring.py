"""Metrics of the platform (`kiva:monitoring`): Prometheus, Alertmanager and Grafana, kept in the cluster.

With `enabled: true` the stack installs kube-prometheus-stack (the Prometheus Operator and its CRDs,
Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter) into `kiva-monitoring` and
scrapes the model servers, the gateway, the database and the GPU exporters. Nothing leaves the
cluster: no remote write, and Alertmanager sends to no receiver unless one is listed here.

`install: false` is for clusters that already run a Prometheus Operator: the stack then creates only
its PodMonitors and rules, whose CRDs must be declared under `kiva:prerequisites.crds`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, HttpUrl, model_validator

from infra.settings.base import DnsLabel, KivaModel, Quantity, quantity_to_gib
from infra.settings.ingress_metrics import IngressMetrics
from infra.settings.logs import Logs, check_logs

#: The CRDs the platform's monitoring objects need (PodMonitors of the model servers, the gateway and
#: the database; the operators' ServiceMonitors; the PrometheusRule of the alerts).
POD_MONITOR_CRD = "podmonitors.monitoring.coreos.com"
SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
PROMETHEUS_RULE_CRD = "prometheusrules.monitoring.coreos.com"
MONITORING_CRDS = (POD_MONITOR_CRD, SERVICE_MONITOR_CRD, PROMETHEUS_RULE_CRD)

#: Namespace the stack installs kube-prometheus-stack into.
DEFAULT_MONITORING_NAMESPACE = "kiva-monitoring"

#: Production keeps at least this many days of metrics (two weeks: a week-over-week comparison, and an
#: incident found after a long weekend is still visible).
PRODUCTION_MIN_RETENTION_DAYS = 15
#: Prometheus deletes blocks to honour `retention.size`, but the WAL and the head block come on top;
#: its storage docs advise a size of at most 80-85 % of the volume (prometheus/docs/storage.md).
MAX_RETENTION_SHARE = 0.85

#: Prometheus durations as the Prometheus CRD accepts them (`spec.retention`), one unit: `15d`, `4w`.
DURATION_PATTERN = r"^[1-9][0-9]*(h|d|w|y)$"
#: Prometheus sizes (`spec.retentionSize`, powers of two): `40GiB`, `512MB`.
SIZE_PATTERN = r"^[1-9][0-9]*(K|M|G|T|P|E)i?B$"

_HOURS = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}
_BYTES_POWER = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def duration_days(value: str) -> float:
    """`15d` → 15.0; `36h` → 1.5 (a value matching `DURATION_PATTERN`)."""
    return int(value[:-1]) * _HOURS[value[-1]] / 24


def size_gib(value: str) -> float:
    """`40GiB` → 40.0. Prometheus reads `GB` and `GiB` alike as powers of two (`units.ParseBase2Bytes`)."""
    number = int(value.rstrip("KMGTPEiB"))
    unit = value[len(str(number))]
    return number * 1024 ** _BYTES_POWER[unit] / 1024**3


class MonitoringRetention(KivaModel):
    """How much history Prometheus keeps: whichever limit is reached first deletes the oldest blocks."""

    time: Annotated[str, Field(pattern=DURATION_PATTERN, examples=["15d"])] = "15d"
    """How long, e.g. `15d`, `4w`, `1y` (Prometheus `--storage.tsdb.retention.time`); at least
    15d in production."""
    size: Annotated[str, Field(pattern=SIZE_PATTERN, examples=["40GiB"])] = "40GiB"
    """The most disk the blocks may take, e.g. `40GiB` (`--storage.tsdb.retention.size`); at most
    85 % of `storage.size`, since the WAL comes on top."""


class MonitoringStorage(KivaModel):
    """Prometheus's volume (a PVC per replica): metrics survive a restart."""

    size: Quantity = "50Gi"
    """Size of the volume, e.g. `50Gi`."""
    storage_class: str | None = None
    """Storage class of the PVC (default: the cluster's `cluster.storageClass`)."""


class MonitoringGrafana(KivaModel):
    """Grafana with the platform's dashboards (analytics, update checks and external sharing off)."""

    enabled: bool = True
    """Install Grafana (reached with `kubectl port-forward`; no Ingress)."""


class AlertReceiver(KivaModel):
    """An Alertmanager webhook receiver: every alert is posted to `url`."""

    name: DnsLabel
    """Name of the receiver, e.g. `ops-webhook`."""
    url: HttpUrl
    """Where alerts go, e.g. `https://alerts.kiva.example.de/hook`; no token in the URL (it is not a secret here)."""


class MonitoringAlerting(KivaModel):
    """Where Alertmanager sends alerts: nowhere outside the cluster unless listed."""

    receivers: list[AlertReceiver] = Field(default_factory=list)
    """Webhook receivers; none by default (alerts are seen in Alertmanager and Grafana only)."""

    @model_validator(mode="after")
    def _unique(self) -> MonitoringAlerting:
        names = [receiver.name for receiver in self.receivers]
        duplicate = next((name for name in names if names.count(name) > 1), None)
        if duplicate is not None:
            raise ValueError(f"duplicate receiver name {duplicate!r}; give each receiver its own name")
        return self


class Monitoring(KivaModel):
    """Metrics, dashboards and alerts in the cluster (kube-prometheus-stack)."""

    enabled: bool = False
    """Install the monitoring stack and scrape the platform (model servers, gateway, database, GPUs, nodes);
    on in dev and prod. On a laptop (`local`) it is off; turn it on with e.g. `kiva:monitoring: {enabled:
    true, retention: {time: 3d, size: 4GiB}, storage: {size: 5Gi}}` (about 1 CPU and 3 GiB more)."""
    install: bool = True
    """`false`: the cluster already runs a Prometheus Operator; the stack creates only its PodMonitors
    and rules, and `podmonitors.monitoring.coreos.com`, `servicemonitors.monitoring.coreos.com` and
    `prometheusrules.monitoring.coreos.com` must be listed under `kiva:prerequisites.crds`."""
    namespace: DnsLabel | None = None
    """Namespace of the cluster's own Prometheus (only with `install: false`; default
    `kiva-monitoring`): the platform's network policies let scrapes in from there."""
    retention: MonitoringRetention = MonitoringRetention()
    """How much history Prometheus keeps."""
    storage: MonitoringStorage = MonitoringStorage()
    """Prometheus's volume."""
    grafana: MonitoringGrafana = MonitoringGrafana()
    """Grafana."""
    alerting: MonitoringAlerting = MonitoringAlerting()
    """Alert receivers outside the cluster (none by default)."""
    logs: Logs = Logs()
    """Log backend Grafana reads (none by default), its retention, and IP anonymisation."""
    ingress_metrics: IngressMetrics | None = None
    """The ingress controller's metrics endpoint, scraped by a PodMonitor. On Azure the AKS application
    routing controller (`app-routing-system`, pods `app: nginx`, port 10254, `/metrics`) is scraped without
    it; an existing cluster's controller only when declared, e.g. `{namespace: kube-system, podLabels:
    {app.kubernetes.io/name: traefik}, port: 9100, path: /metrics}`."""

    @property
    def prometheus_namespace(self) -> str:
        return self.namespace or DEFAULT_MONITORING_NAMESPACE


def check_monitoring(monitoring: Monitoring, log_analytics_days: int | None = None) -> tuple[str, str] | None:
    """The first problem within `kiva:monitoring`, as (key path below `kiva:`, message), or None;
    `log_analytics_days` (`kiva:retention.logAnalyticsDays`) bounds an external log backend's retention."""
    if monitoring.install and monitoring.namespace not in (None, DEFAULT_MONITORING_NAMESPACE):
        return (
            "monitoring.namespace",
            "names where the cluster's own Prometheus runs, so it needs install: false; the stack installs "
            f"its own into {DEFAULT_MONITORING_NAMESPACE} (e.g. {{install: false, namespace: monitoring}})",
        )
    size, volume = size_gib(monitoring.retention.size), quantity_to_gib(monitoring.storage.size)
    if monitoring.install and size > volume * MAX_RETENTION_SHARE:
        room = volume * MAX_RETENTION_SHARE
        example = f"{int(room)}GiB" if room >= 1 else f"{max(int(room * 1024), 1)}MiB"
        return (
            "monitoring.retention.size",
            f"{monitoring.retention.size} leaves no room for the WAL on the {monitoring.storage.size} volume "
            f"(storage.size): Prometheus's storage docs advise at most {int(MAX_RETENTION_SHARE * 100)} % of it; "
            f"e.g. retention.size: {example}, or a larger storage.size",
        )
    grafana = monitoring.enabled and monitoring.install and monitoring.grafana.enabled
    return check_logs(monitoring.logs, grafana_installed=grafana, log_analytics_days=log_analytics_days)
