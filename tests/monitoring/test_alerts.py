"""KIVA's PrometheusRule: valid for the pinned CRD, every alert routed and documented, thresholds that
follow the stack's settings (the backup schedule above all)."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.contracts import PLATFORM_NAMESPACE
from components.platform.monitoring.alerts import (
    ALERT_GROUPS,
    VLLM_JOB,
    alert_args,
    alert_groups,
    anchor,
    prometheus_rule_manifest,
)
from components.platform.monitoring.monitors import pod_monitors
from infra.settings.backup_schedule import ScheduleError, longest_interval_seconds
from tests.platform.test_manifest_schemas import _strict

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "tests" / "schemas" / "crds" / "monitoring.coreos.com_prometheusrules.yaml"
RUNBOOK = ROOT / "docs" / "operations.md"


@cache
def _validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft7Validator(_strict(copy.deepcopy(version["schema"]["openAPIV3Schema"])))


def _errors(manifest: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(manifest)]


def _rules(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _args(schedule: str = "0 0 2 * * *", **overrides: Any) -> Any:
    return alert_args(schedule, **({"spend_logs_days": 30, "model_startup_seconds": 1800} | overrides))


def test_the_prometheus_rule_validates_against_the_pinned_crd() -> None:
    manifest = prometheus_rule_manifest(ALERT_GROUPS)
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["metadata"]["namespace"] == "kiva-monitoring"
    assert _errors(manifest) == []


def test_the_crd_check_can_fail() -> None:
    manifest = prometheus_rule_manifest(copy.deepcopy(ALERT_GROUPS))
    manifest["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    manifest["spec"]["groups"][0]["rules"][1]["severity"] = "critical"  # belongs under labels
    errors = _errors(manifest)
    assert len(errors) == 2
    assert errors[0].startswith("spec.groups.0.rules.0.for: 'ten minutes' does not match")
    assert errors[1].startswith("spec.groups.0.rules.1: Additional properties are not allowed ('severity'")


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    anchors = re.findall(r'<a id="([a-z0-9-]+)"></a>\n### (\w+)\n', runbook)
    rules = _rules(ALERT_GROUPS)
    assert len(rules) == 14
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{anchor(name)}"
    # one section per alert, headed by its name, and no section for an alert that does not exist
    assert sorted(anchors) == sorted((anchor(name), name) for name in rules)


def test_anchors_are_the_alert_names_in_lower_case_hyphen_form() -> None:
    assert anchor("GatewayHighErrorRate") == "gateway-high-error-rate"
    assert anchor("ModelKvCacheSaturated") == "model-kv-cache-saturated"
    assert anchor("GpuXidError") == "gpu-xid-error"


@pytest.mark.parametrize(
    ("schedule", "interval", "threshold"),
    [
        ("0 0 2 * * *", 86400, 93600),  # daily (dev): 24 h + 2 h
        ("0 0 */6 * * *", 21600, 28800),  # every six hours: 6 h + 2 h
        ("0 30 1 * * MON,THU", 4 * 86400, 4 * 86400 + 7200),  # Thursday to Monday is the longest wait
    ],
)
def test_the_backup_age_threshold_follows_the_schedule(schedule: str, interval: int, threshold: int) -> None:
    assert longest_interval_seconds(schedule) == interval
    rule = _rules(alert_groups(_args(schedule)))["DatabaseBackupTooOld"]
    assert rule["expr"] == (
        "time() - max by (namespace) (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp) "
        f"> {threshold}"
    )


def test_the_backup_description_names_the_schedules_gap() -> None:
    rule = _rules(alert_groups(_args("0 0 */6 * * *")))["DatabaseBackupTooOld"]
    assert rule["annotations"]["description"].endswith("the schedule allows 6h between backups plus 2h.")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "0 0 2 * *",
            "'0 0 2 * *' has 5 fields, CloudNativePG needs six (seconds first), "
            'e.g. "0 0 2 * * *" (every day at 02:00:00)',
        ),
        (
            "0 0 25 * * *",
            "'25' is outside the hour field's 0-23 in '0 0 25 * * *'; use a "
            'six-field cron such as "0 0 2 * * *" (every day at 02:00:00)',
        ),
        (
            "0 0 0 30 2 *",
            "'0 0 0 30 2 *' runs less than once a year; use a six-field cron "
            'such as "0 0 2 * * *" (every day at 02:00:00)',
        ),
    ],
)
def test_a_schedule_cloudnative_pg_would_reject_is_named_with_an_example(schedule: str, message: str) -> None:
    with pytest.raises(ScheduleError) as error:
        longest_interval_seconds(schedule)
    assert str(error.value) == message


def test_the_spend_log_threshold_follows_the_retention() -> None:
    rule = _rules(alert_groups(_args(spend_logs_days=90)))["SpendLogCleanupBehind"]
    assert rule["expr"] == "max by (namespace) (cnpg_kiva_spend_logs_oldest_age_seconds) > 7948800"  # 92 days


def test_model_server_down_watches_the_job_of_the_vllm_pod_monitor() -> None:
    assert "kiva-model-servers" in pod_monitors(model_servers=True)
    assert f"{PLATFORM_NAMESPACE}/kiva-model-servers" == VLLM_JOB
    expr = _rules(ALERT_GROUPS)["ModelServerDown"]["expr"]
    # the startup budget (1800 s) plus five minutes before a server that never came up counts as down
    assert expr == (
        f'(up{{job="{VLLM_JOB}"}} == 0 and max_over_time(up{{job="{VLLM_JOB}"}}[1h]) == 1)'
        f' or (max_over_time(up{{job="{VLLM_JOB}"}}[35m]) == 0 and up{{job="{VLLM_JOB}"}} offset 35m)'
        f' or absent(up{{job="{VLLM_JOB}"}})'
    )


def test_groups_without_their_exporter_are_left_out() -> None:
    groups = alert_groups(_args(model_servers=False, gpus=False, spend_log_age=False))
    assert [group["name"] for group in groups] == ["kiva-gateway", "kiva-database", "kiva-certificates"]
    assert "SpendLogCleanupBehind" not in _rules(groups)


def test_the_shipped_stacks_register_the_rule_after_the_release_with_their_schedule() -> None:
    """dev backs up daily at 02:00 (`kiva:backups.schedule: "0 0 2 * * *"`): 24 h + 2 h."""
    from tests.conftest import _committed_plan
    from tests.platform.conftest import objects_of, one

    plan = _committed_plan("dev")
    rule = one(objects_of(plan), "PrometheusRule", "kiva-alerts")
    assert rule["metadata"]["namespace"] == "kiva-monitoring"
    assert _errors(rule) == []
    alerts = _rules(rule["spec"]["groups"])
    assert alerts["DatabaseBackupTooOld"]["expr"].endswith("> 93600")
    # with monitoring the custom query and its grant are wired (database.py, spend_log_grant.py):
    # dev keeps spend logs 30 days (`kiva:retention.spendLogsDays`), plus the 2 days of slack
    assert alerts["SpendLogCleanupBehind"]["expr"].endswith("> 2764800")
    (resource,) = [
        r for r in plan.resources if r.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    ]
    (release,) = [r for r in plan.resources if r.name == "kiva-monitoring-kube-prometheus-stack"]
    assert release.urn in resource.dependencies


def test_every_metric_of_the_alerts_is_catalogued_under_a_known_source() -> None:
    from components.platform.monitoring import metric_catalogue

    from .promql import metric_names, parse

    used = {ref.name for rule in _rules(ALERT_GROUPS).values() for ref in metric_names(parse(rule["expr"]))}
    assert {
        name: metric_catalogue.exporter_of(name)
        for name in used
        if metric_catalogue.exporter_of(name) is None
    } == {}
    assert metric_catalogue.ALERT_METRICS.keys() <= metric_catalogue.SOURCES.keys()
    # names the alerts alone use are listed as alert metrics, not left to the dashboards
    dashboards = set().union(*metric_catalogue.DASHBOARD_METRICS.values())
    assert used - dashboards == set().union(*metric_catalogue.ALERT_METRICS.values())
