"""Metric contract: every dashboard and alert expression is PromQL, and every metric it names is
exported by the pinned version of its exporter (issue 13, item 6).

An upgrade that renames a metric (vLLM has done so between minor versions) otherwise leaves an empty
panel and an alert that never fires. The catalogue `exported_metrics.json` is generated from the
pinned sources by `scripts/refresh_metric_catalogue.py`; the tests below also prove it is current:
its versions equal infra/versions.py, and its LiteLLM part equals a fresh extraction from the
installed litellm (so bumping litellm without refreshing fails here).

Grafana variables are replaced before parsing as tests/monitoring/promql.py documents
(`$__rate_interval` -> 5m, `$__interval` -> 1m, `$__range` -> 1h, `$model` inside a label value ->
`kiva_var_model`).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import pytest

from infra import versions

from .promql import PromQLError, metric_names, parse, substitute_grafana_variables, variable_query_promql

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_FILE = Path(__file__).with_name("exported_metrics.json")
DASHBOARD_DIR = ROOT / "components" / "platform" / "monitoring" / "dashboards"
REFRESH_SCRIPT = ROOT / "scripts" / "refresh_metric_catalogue.py"


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it is used (for messages)."""

    where: str
    expr: str
    grafana: bool = False  # dashboard text: Grafana variables are substituted first


@dataclass(frozen=True)
class Catalogue:
    exporter_of: dict[str, str]  # series name -> exporter
    recorded: frozenset[str] = frozenset()  # recording rules of alerts.py

    @classmethod
    def load(cls, path: Path = CATALOGUE_FILE, recorded: frozenset[str] = frozenset()) -> Catalogue:
        """The pinned exporters' series, plus those of the platform's own CNPG custom queries."""
        data = json.loads(path.read_text())
        exporter_of = {name: key for key, entry in data["exporters"].items() for name in entry["names"]}
        for name in platform_custom_query_metrics():
            exporter_of[name] = "cloudnative-pg (custom query of spend_log_query.py)"
        return cls(exporter_of, recorded)

    def knows(self, name: str) -> bool:
        return name in self.exporter_of or name in self.recorded


def check_expressions(expressions: list[Expression], catalogue: Catalogue) -> list[str]:
    """One message per expression that does not parse and per metric no pinned exporter exports."""
    problems: list[str] = []
    known = sorted({*catalogue.exporter_of, *catalogue.recorded})
    for item in expressions:
        try:
            text = substitute_grafana_variables(item.expr) if item.grafana else item.expr
            refs = metric_names(parse(text))
        except PromQLError as error:
            problems.append(f"{item.where}: {error} in: {item.expr}")
            continue
        for ref in refs:
            if ref.regex:
                pattern = re.compile(ref.name)
                if not any(pattern.fullmatch(name) for name in known):
                    problems.append(
                        f"{item.where}: metric regex {{__name__=~{ref.name!r}}} matches no metric "
                        f"a pinned exporter exports ({CATALOGUE_FILE.name})"
                    )
            elif not catalogue.knows(ref.name):
                close = difflib.get_close_matches(ref.name, known, n=3, cutoff=0.6)
                hint = f"; close matches: {', '.join(close)}" if close else ""
                problems.append(
                    f"{item.where}: metric {ref.name} is exported by no pinned exporter "
                    f"({CATALOGUE_FILE.name}){hint}"
                )
    return problems


# -- where the expressions live --------------------------------------------------------------------


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels, with those inside collapsed rows."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def dashboard_expressions(path: Path) -> list[Expression]:
    """targets[].expr of every panel, and the PromQL in every query variable."""
    dashboard = json.loads(path.read_text())
    name = f"dashboards/{path.name}"
    found: list[Expression] = []
    for panel in _panels(dashboard.get("panels", [])):
        title = f"panel {panel.get('title', '')!r} (id {panel.get('id')})"
        for target in panel.get("targets", []):
            if "expr" in target:
                where = f"{name} {title} target {target.get('refId', '?')}"
                found.append(Expression(where, target["expr"], grafana=True))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if not text:
            continue
        where = f"{name} variable {variable.get('name')!r}"
        try:
            promql = variable_query_promql(text)
        except PromQLError as error:
            found.append(Expression(where, f"<{error}>", grafana=True))
            continue
        if promql is not None:
            found.append(Expression(where, promql, grafana=True))
    return found


def alert_groups() -> list[dict[str, Any]]:
    from components.platform.monitoring import alerts

    return list(alerts.ALERT_GROUPS)


def alert_expressions(groups: list[dict[str, Any]]) -> list[Expression]:
    return [
        Expression(
            f"alerts.py group {group['name']!r} {'alert' if 'alert' in rule else 'record'} "
            f"{rule.get('alert') or rule.get('record')!r}",
            rule["expr"],
        )
        for group in groups
        for rule in group["rules"]
    ]


def recorded_names(groups: list[dict[str, Any]]) -> frozenset[str]:
    return frozenset(rule["record"] for group in groups for rule in group["rules"] if "record" in rule)


def platform_custom_query_metrics() -> list[str]:
    """Series the pinned CloudNativePG exports for the custom queries the platform itself configures,
    named by the same function the catalogue uses for the default queries."""
    from components.platform.monitoring.spend_log_query import spend_log_queries

    script = _load_refresh_script()
    families = script.cnpg_query_metrics(spend_log_queries())
    return [name for family, kind in families.items() for name in script.go_client_samples(family, kind)]


def _load_refresh_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("refresh_metric_catalogue", REFRESH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the contract on the real dashboards and alerts ---------------------------------------------


def _dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def test_the_dashboards_and_alerts_exist_and_have_expressions() -> None:
    files = _dashboard_files()
    assert files, f"no dashboard JSON in {DASHBOARD_DIR}"
    for path in files:
        assert dashboard_expressions(path), f"dashboards/{path.name}: no panel target has an expr"
    assert alert_expressions(alert_groups()), "alerts.ALERT_GROUPS has no rule"


@pytest.mark.parametrize("path", _dashboard_files(), ids=lambda p: p.name)
def test_every_dashboard_expression_parses_and_names_exported_metrics(path: Path) -> None:
    catalogue = Catalogue.load(recorded=recorded_names(alert_groups()))
    problems = check_expressions(dashboard_expressions(path), catalogue)
    assert not problems, "\n".join(problems)


def test_every_alert_expression_parses_and_names_exported_metrics() -> None:
    groups = alert_groups()
    catalogue = Catalogue.load(recorded=recorded_names(groups))
    problems = check_expressions(alert_expressions(groups), catalogue)
    assert not problems, "\n".join(problems)


# -- the catalogue is current ------------------------------------------------------------------


def test_catalogue_versions_are_the_pinned_versions() -> None:
    exporters = json.loads(CATALOGUE_FILE.read_text())["exporters"]
    script = _load_refresh_script()
    assert set(script.PINNED_BY) <= set(exporters)
    for key, pin in script.PINNED_BY.items():
        pinned = getattr(versions, pin)
        expected = pinned.version if isinstance(pinned, versions.HelmChart) else pinned
        assert exporters[key]["version"] == expected, (
            f"{CATALOGUE_FILE.name}: {key} was extracted from {exporters[key]['version']} but "
            f"infra/versions.py {pin} pins {expected}: run scripts/refresh_metric_catalogue.py"
        )
        assert exporters[key]["pinned_by"] == f"infra/versions.py {pin}"


def test_the_catalogue_module_names_the_pinned_litellm() -> None:
    """metric_catalogue.SOURCES cites the LiteLLM version the dashboards were checked against."""
    from components.platform.monitoring.metric_catalogue import SOURCES

    assert SOURCES["litellm"].version == versions.LITELLM_VERSION
    assert SOURCES["litellm"].origin.startswith(f"litellm=={versions.LITELLM_VERSION} ")


def test_litellm_part_equals_a_fresh_extraction_from_the_installed_litellm() -> None:
    recorded = json.loads(CATALOGUE_FILE.read_text())["exporters"]["litellm"]
    live = _load_refresh_script().litellm_metrics()
    live["pinned_by"] = recorded["pinned_by"]
    assert recorded == live, "litellm changed: run scripts/refresh_metric_catalogue.py"
    assert live["version"] == versions.LITELLM_VERSION


def test_refreshing_only_litellm_keeps_the_other_exporters(tmp_path: Path) -> None:
    """`--only litellm` (a LiteLLM bump) needs no vLLM wheel or mirror and rewrites no other entry."""
    output = tmp_path / "exported_metrics.json"
    output.write_text(CATALOGUE_FILE.read_text())
    assert _load_refresh_script().main(["--only", "litellm", "--output", str(output)]) == 0
    assert json.loads(output.read_text()) == json.loads(CATALOGUE_FILE.read_text())


def test_refresh_names_the_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _load_refresh_script()
    output = tmp_path / "exported_metrics.json"
    output.write_text(CATALOGUE_FILE.read_text())
    assert script.main(["--only", "vllm", "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        "refresh_metric_catalogue: --vllm-wheel is required to refresh vllm (the wheel "
        "vllm-<VLLM_VERSION>-*.whl downloaded as this script's docstring shows, e.g. --vllm-wheel "
        "/tmp/vllm/vllm-0.28.0-*.whl), or refresh others only: --only litellm\n"
    )
    assert script.main(["--only", "litelm", "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        "refresh_metric_catalogue: --only: unknown exporter litelm; one of vllm, litellm, cloudnative-pg, "
        "barman-cloud-plugin, dcgm-exporter, cert-manager\n"
    )
    assert json.loads(output.read_text()) == json.loads(CATALOGUE_FILE.read_text())  # left as it was


def test_catalogue_holds_the_series_the_platform_relies_on() -> None:
    """Spot checks against upstream docs, so a broken extractor cannot pass with an empty file."""
    exporters = json.loads(CATALOGUE_FILE.read_text())["exporters"]
    expected = {
        # docs.vllm.ai "Production metrics" (v0.28.0)
        "vllm": {
            "vllm:num_requests_waiting",
            "vllm:kv_cache_usage_perc",
            "vllm:time_to_first_token_seconds_bucket",
            "vllm:generation_tokens_total",
            "vllm:iteration_tokens_total_bucket",  # a histogram whose name ends in _total
        },
        # docs.litellm.ai "Prometheus" (proxy metrics)
        "litellm": {
            "litellm_proxy_total_requests_metric_total",
            "litellm_proxy_failed_requests_metric_total",
            "litellm_request_total_latency_metric_bucket",
            "litellm_spend_metric_total",
        },
        # cloudnative-pg.io/documentation/1.30/monitoring/
        "cloudnative-pg": {
            "cnpg_collector_up",
            "cnpg_pg_replication_lag",
            "cnpg_pg_stat_archiver_failed_count",
            "cnpg_collector_last_available_backup_timestamp",
        },
        "barman-cloud-plugin": {"barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"},
        "dcgm-exporter": {"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_GPU_UTIL"},
        "cert-manager": {"certmanager_certificate_expiration_timestamp_seconds"},
        "kubelet": {"kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"},
    }
    for exporter, names in expected.items():
        assert names <= set(exporters[exporter]["names"]), (
            exporter,
            names - set(exporters[exporter]["names"]),
        )
    # vLLM's histograms expose no bare family name and its counters only `_total` series
    assert "vllm:time_to_first_token_seconds" not in exporters["vllm"]["names"]
    assert "vllm:generation_tokens" not in exporters["vllm"]["names"]
    for entry in exporters.values():
        assert entry["names"] == sorted(entry["names"])
    assert platform_custom_query_metrics() == ["cnpg_kiva_spend_logs_oldest_age_seconds"]


# -- LiteLLM's labels ----------------------------------------------------------------------------

#: Labels a series gets from its scrape target (the PodMonitor), never from LiteLLM.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "service", "endpoint"})


def litellm_families() -> dict[str, str]:
    """Series name -> LiteLLM metric family, as prometheus_client names the series (catalogue)."""
    entry = json.loads(CATALOGUE_FILE.read_text())["exporters"]["litellm"]
    script = _load_refresh_script()
    return {
        sample: family
        for family, kind in entry["families"].items()
        for sample in script.python_client_samples(family, kind)
    }


def litellm_label_uses(expressions: list[Expression]) -> dict[str, set[str]]:
    """Family -> the labels the expressions match on or group by (`by (...)`) for its series; `le` of a
    histogram's buckets and the target labels left out. Families used without any label map to {}."""
    families = litellm_families()
    uses: dict[str, set[str]] = {}

    def families_in(node: Any) -> set[str]:
        return {families[ref.name] for ref in metric_names(node) if ref.name in families}

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            for family in families_in(node):
                uses.setdefault(family, set()).update(
                    m.name for m in node.matchers.matchers if m.name != "__name__"
                )
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            for family in families_in(node.expr):
                uses.setdefault(family, set()).update(node.modifier.labels)

    for item in expressions:
        text = substitute_grafana_variables(item.expr) if item.grafana else item.expr
        promql_parser.walk(parse(text), visit)
    return {family: labels - {"le"} - TARGET_LABELS for family, labels in uses.items()}


def check_litellm_labels(uses: dict[str, set[str]], exported: dict[str, set[str]]) -> list[str]:
    """One message per label a family is queried by that LiteLLM does not put on it."""
    return [
        f"LiteLLM metric {family}: label {label} is not one of its labels "
        f"({', '.join(sorted(exported[family])) or 'none'})"
        for family, labels in sorted(uses.items())
        for label in sorted(labels - exported.get(family, set()))
    ]


def _all_expressions() -> list[Expression]:
    found = [e for path in _dashboard_files() for e in dashboard_expressions(path)]
    return found + alert_expressions(alert_groups())


def test_litellm_labels_table_is_what_dashboards_and_alerts_use() -> None:
    """metric_catalogue.LITELLM_LABELS (what the gateway's callback config must keep) is exact."""
    from components.platform.monitoring.metric_catalogue import DASHBOARD_METRICS, LITELLM_LABELS

    uses = litellm_label_uses(_all_expressions())
    assert uses == {family: set(labels) for family, labels in LITELLM_LABELS.items()}
    families = litellm_families()
    assert {families[name] for name in DASHBOARD_METRICS["litellm"]} == set(LITELLM_LABELS)


def test_litellm_labels_exist_in_the_installed_litellm() -> None:
    """Every label queried is one the installed LiteLLM's callback puts on that family by default
    (litellm/types/integrations/prometheus.py `PrometheusMetricLabels.get_labels`)."""
    from litellm.types.integrations.prometheus import PrometheusMetricLabels

    from components.platform.monitoring.metric_catalogue import LITELLM_LABELS

    exported = {
        family: set(PrometheusMetricLabels.get_labels(family))
        for family in LITELLM_LABELS
        if family != "litellm_in_flight_requests"  # the middleware's gauge: no labels at all
    } | {"litellm_in_flight_requests": set()}
    assert check_litellm_labels({f: set(labels) for f, labels in LITELLM_LABELS.items()}, exported) == []
    # the defaults checked against the 1.108.7 source, so a changed helper cannot pass silently
    assert {"status_code", "requested_model", "team_alias"} <= exported["litellm_proxy_total_requests_metric"]
    assert "model" in exported["litellm_spend_metric"]


def test_a_label_litellm_does_not_export_fails() -> None:
    uses = litellm_label_uses(
        [
            Expression("a", "sum by (tenant) (rate(litellm_spend_metric_total[5m]))"),
            Expression("b", 'litellm_in_flight_requests{team_alias="x"}'),
        ]
    )
    assert uses == {"litellm_spend_metric": {"tenant"}, "litellm_in_flight_requests": {"team_alias"}}
    assert check_litellm_labels(
        uses, {"litellm_spend_metric": {"model", "team_alias"}, "litellm_in_flight_requests": set()}
    ) == [
        "LiteLLM metric litellm_in_flight_requests: label team_alias is not one of its labels (none)",
        "LiteLLM metric litellm_spend_metric: label tenant is not one of its labels (model, team_alias)",
    ]


# -- the checker can fail (mutation tests on synthetic input) -----------------------------------


def test_a_renamed_metric_fails_with_where_and_close_matches() -> None:
    catalogue = Catalogue.load()
    renamed = Expression(
        "dashboards/models.json panel 'Queue' (id 2) target A",
        'sum by (model_name) (vllm:num_requests_waitin{model_name=~"$model"})',
        grafana=True,
    )
    assert check_expressions([renamed], catalogue) == [
        "dashboards/models.json panel 'Queue' (id 2) target A: metric vllm:num_requests_waitin is "
        "exported by no pinned exporter (exported_metrics.json); close matches: "
        "vllm:num_requests_waiting, vllm:num_requests_running, vllm:num_requests_waiting_by_reason"
    ]


def test_a_histogram_suffix_counts_only_on_a_histogram() -> None:
    catalogue = Catalogue.load()
    assert (
        check_expressions([Expression("a", "rate(vllm:e2e_request_latency_seconds_sum[5m])")], catalogue)
        == []
    )
    problems = check_expressions([Expression("a", "vllm:num_requests_running_bucket")], catalogue)
    assert problems and problems[0].startswith("a: metric vllm:num_requests_running_bucket is exported by no")


def test_an_unparsable_expression_fails_with_the_parser_message() -> None:
    broken = Expression(
        "alerts.py group 'kiva-models' alert 'ModelQueueGrowing'", "deriv(vllm:num_requests_waiting[10m] > 0"
    )
    assert check_expressions([broken], Catalogue.load()) == [
        "alerts.py group 'kiva-models' alert 'ModelQueueGrowing': PromQL does not parse: "
        "unclosed left parenthesis in: deriv(vllm:num_requests_waiting[10m] > 0"
    ]


def test_a_grafana_variable_outside_a_label_value_fails() -> None:
    problems = check_expressions([Expression("d", "topk($n, up)", grafana=True)], Catalogue.load())
    assert problems == [
        "d: Grafana variable $n outside a quoted label value; use it as a label value (e.g. "
        'model_name=~"$n") or one of $__rate_interval, $__interval, $__auto, $__range, '
        "$__interval_ms, $__range_s, $__range_ms in: topk($n, up)"
    ]


def test_a_name_regex_must_match_an_exported_metric() -> None:
    catalogue = Catalogue.load()
    assert check_expressions([Expression("a", '{__name__=~"DCGM_FI_DEV_GPU_.*"}')], catalogue) == []
    assert check_expressions([Expression("a", '{__name__=~"vllm:gpu_cache_.*"}')], catalogue) == [
        "a: metric regex {__name__=~'vllm:gpu_cache_.*'} matches no metric a pinned exporter exports "
        "(exported_metrics.json)"
    ]


def test_recording_rules_of_alerts_py_count_as_known() -> None:
    groups = [{"name": "g", "rules": [{"record": "kiva:gateway_5xx:rate5m", "expr": "up"}]}]
    catalogue = Catalogue.load(recorded=recorded_names(groups))
    assert check_expressions([Expression("a", "kiva:gateway_5xx:rate5m > 0")], catalogue) == []


def test_the_parser_takes_the_prometheus_syntax_dashboards_use() -> None:
    expressions = [
        "histogram_quantile(0.95, sum by (le, model_name) "
        '(rate(vllm:time_to_first_token_seconds_bucket{model_name=~"$model"}[$__rate_interval])))',
        "sum without (instance) (rate(litellm_proxy_failed_requests_metric_total[5m])) "
        "/ ignoring (status) group_left sum(rate(litellm_proxy_total_requests_metric_total[5m]))",
        "max_over_time(DCGM_FI_DEV_GPU_TEMP[${__range}:1m] offset 5m) > bool 85",
        'label_replace(up, "pod", "$1", "instance", "(.*):.*") == 0',
        "absent(cnpg_collector_up) or time() - cnpg_collector_last_available_backup_timestamp > 86400",
        "increase(vllm:prompt_tokens_total[$__range] @ end())",
    ]
    problems = check_expressions(
        [Expression(f"e{i}", e, grafana=True) for i, e in enumerate(expressions)], Catalogue.load()
    )
    assert problems == []
    # the parser is strict: an unknown function or a bare `$__rate_interval` is not PromQL
    with pytest.raises(PromQLError, match="PromQL does not parse"):
        parse("rate_of(up[5m])")
    with pytest.raises(PromQLError, match="PromQL does not parse"):
        parse("rate(up[$__rate_interval])")


def test_grafana_variable_queries_yield_their_promql() -> None:
    assert variable_query_promql("label_values(vllm:num_requests_running, model_name)") == (
        "vllm:num_requests_running"
    )
    assert (
        variable_query_promql("query_result(topk(5, DCGM_FI_DEV_GPU_UTIL))")
        == "topk(5, DCGM_FI_DEV_GPU_UTIL)"
    )
    assert variable_query_promql("label_values(namespace)") is None
    with pytest.raises(PromQLError, match=r"not a Grafana Prometheus variable query: 'up'"):
        variable_query_promql("up")


def test_the_extractor_names_series_as_prometheus_client_does() -> None:
    script = _load_refresh_script()
    source = (
        "from prometheus_client import Counter, Histogram\n"
        "A = Counter('x_requests_total', 'doc')\n"
        "def f(self):\n"
        "    name = 'x_latency_seconds'\n"
        "    self._histogram_cls(name=name, documentation='d')\n"
        "    for n in ['x_other']:\n"
        "        self._gauge_cls(name=n)\n"
    )
    families = script.python_metrics(source, "x_")
    assert families == {"x_requests_total": "counter", "x_latency_seconds": "histogram", "x_other": "gauge"}
    assert script.python_client_samples("x_requests_total", "counter") == ["x_requests_total"]
    assert script.python_client_samples("x_requests", "counter") == ["x_requests_total"]
    assert script.go_client_samples("x_requests", "counter") == ["x_requests"]
