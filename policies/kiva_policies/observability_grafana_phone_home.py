"""Grafana phones nowhere: usage reporting, update checks, feedback links, Gravatar and external snapshots off.

Grafana's defaults send anonymous usage statistics to stats.grafana.org, poll grafana.com for Grafana
and plugin updates, load avatars from gravatar.com with a hash of the user's e-mail, and offer to
publish dashboard snapshots to snapshots.raintank.io (grafana/grafana `conf/defaults.ini`, sections
`[analytics]`, `[security]`, `[snapshots]`). Each is a transfer of metadata out of the platform (GDPR
Art. 5(1)(c), Art. 44 ff.). The check reads the `grafana.ini` values of the Grafana the Helm releases
deploy: kube-prometheus-stack's `grafana.grafana.ini` (unless `grafana.enabled: false`), or a
`grafana` chart's `grafana.ini`. A key left out counts as on: Grafana's default is not evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY, get
from kiva_policies.observability_releases import (
    GRAFANA,
    KUBE_PROMETHEUS_STACK,
    is_false,
    is_true,
    literal,
    release_label,
    release_values,
)

#: (section, key, value that keeps Grafana from calling out) in `grafana.ini`.
PHONE_HOME_SWITCHES: tuple[tuple[str, str, bool], ...] = (
    ("analytics", "reporting_enabled", False),
    ("analytics", "check_for_updates", False),
    ("analytics", "check_for_plugin_updates", False),
    ("analytics", "feedback_links_enabled", False),
    ("security", "disable_gravatar", True),
    ("snapshots", "external_enabled", False),
)


def grafana_ini(resource_type: str, props: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(`values path prefix`, `grafana.ini` mapping) of the Grafana a Release deploys; None if it deploys none."""
    values = release_values(resource_type, props, KUBE_PROMETHEUS_STACK)
    if values is not None:
        grafana = get(values, "grafana") or {}
        if is_false(get(grafana, "enabled")):
            return None
        return "grafana.grafana.ini", get(grafana, "grafana.ini") or {}
    values = release_values(resource_type, props, GRAFANA)
    if values is not None:
        return "grafana.ini", get(values, "grafana.ini") or {}
    return None


def wrong_switches(ini: Mapping[str, Any], prefix: str) -> list[str]:
    """The switches not at their off value, as `path is …` phrases."""
    wrong = []
    for section, key, off in PHONE_HOME_SWITCHES:
        path = f"{prefix}.{section}.{key}"
        value = literal(get(ini, section, key), path)
        if not (is_false(value) if off is False else is_true(value)):
            found = "not set" if value is None else f"{value!r}"
            wrong.append(f"`{path}` is {found} (must be {str(off).lower()})")
    return wrong


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    found = grafana_ini(args.resource_type, args.props)
    if found is None:
        return
    prefix, ini = found
    wrong = wrong_switches(ini, prefix)
    if wrong:
        report(
            f"Helm release {release_label(args.props, args.name)} deploys Grafana that calls out to "
            f"grafana.com, gravatar.com or raintank.io: {'; '.join(wrong)}. Set each in the release's values.",
            None,
        )


grafana_phone_home_off = ResourceValidationPolicy(
    name="kiva-observability-grafana-phone-home-off",
    description=(
        "Every Grafana a Helm release deploys has usage reporting, update checks, feedback links, Gravatar "
        "and external snapshot publishing switched off in its grafana.ini values."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [grafana_phone_home_off]
