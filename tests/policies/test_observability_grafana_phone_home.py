"""kiva-observability-grafana-phone-home-off: every Grafana switch off, in kube-prometheus-stack or the grafana chart."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.policies.harness import RELEASE, compliant_plan, res, run, violations

POLICY = "kiva-observability-grafana-phone-home-off"

GRAFANA_INI: dict[str, Any] = {
    "analytics": {
        "reporting_enabled": False,
        "check_for_updates": False,
        "check_for_plugin_updates": False,
        "feedback_links_enabled": False,
    },
    "security": {"disable_gravatar": True},
    "snapshots": {"external_enabled": False},
}


def stack_release(values: dict[str, Any] | None = None, chart: str = "kube-prometheus-stack") -> Any:
    if values is None:
        values = {"grafana": {"enabled": True, "grafana.ini": copy.deepcopy(GRAFANA_INI)}}
    props = {"name": "kube-prometheus-stack", "chart": chart, "version": "88.5.3", "namespace": "kiva-monitoring",
             "values": values}  # fmt: skip
    return res(RELEASE, "kube-prometheus-stack", props)


def messages(values: dict[str, Any] | None = None, chart: str = "kube-prometheus-stack") -> list[str]:
    return [f.message for f in violations(run([*compliant_plan(), stack_release(values, chart)]), POLICY)]


def test_all_switches_off_passes() -> None:
    assert messages() == []


@pytest.mark.parametrize(
    "chart", ["prometheus-community/kube-prometheus-stack", "./charts/kube-prometheus-stack-88.5.3"]
)
def test_the_chart_is_recognised_however_it_is_named(chart: str) -> None:
    values = {"grafana": {"grafana.ini": {"analytics": {}}}}
    assert len(messages(values, chart)) == 1


@pytest.mark.parametrize(
    ("section", "key", "value", "shown"),
    [
        ("analytics", "reporting_enabled", True, "True"),
        ("analytics", "check_for_updates", "true", "'true'"),
        ("analytics", "check_for_plugin_updates", None, "not set"),
        ("analytics", "feedback_links_enabled", None, "not set"),
        ("security", "disable_gravatar", False, "False"),
        ("snapshots", "external_enabled", None, "not set"),
    ],
)
def test_each_switch_left_on_is_named(section: str, key: str, value: Any, shown: str) -> None:
    ini = copy.deepcopy(GRAFANA_INI)
    if value is None:
        del ini[section][key]
    else:
        ini[section][key] = value
    expected = "false" if section != "security" else "true"
    assert messages({"grafana": {"grafana.ini": ini}}) == [
        "Helm release kiva-monitoring/kube-prometheus-stack deploys Grafana that calls out to grafana.com, "
        f"gravatar.com or raintank.io: `grafana.grafana.ini.{section}.{key}` is {shown} (must be {expected}). "
        "Set each in the release's values."
    ]


def test_string_false_counts_as_off() -> None:
    ini = copy.deepcopy(GRAFANA_INI)
    ini["analytics"]["reporting_enabled"] = "false"
    assert messages({"grafana": {"grafana.ini": ini}}) == []


def test_no_grafana_no_finding() -> None:
    assert messages({"grafana": {"enabled": False}}) == []


def test_the_grafana_chart_reads_top_level_values() -> None:
    assert messages({"grafana.ini": copy.deepcopy(GRAFANA_INI)}, chart="grafana") == []
    found = messages({"grafana.ini": {}}, chart="grafana")
    assert len(found) == 1 and "`grafana.ini.analytics.reporting_enabled` is not set" in found[0]


def test_blinded_values_are_not_verifiable() -> None:
    from tests.policies.harness import unverifiable

    report = run([*compliant_plan(), stack_release("[secret]")])  # type: ignore[arg-type]
    assert [f.message for f in unverifiable(report, POLICY)] == [
        "not verifiable: secret value at .values is blinded in the plan and can't be verified"
    ]
