"""The policies of the KIVA pack, in report order: `policies/__main__.py` and the offline runner use it."""

from __future__ import annotations

from pulumi_policy import Policy

from kiva_policies import (
    day_one,
    hardening,
    observability_grafana_phone_home,
    observability_log_retention,
    observability_no_external_egress,
    observability_no_prompt_logging,
    residency,
    retention,
    secret_references,
    telemetry,
    topology,
)

PACK_NAME = "kiva"

POLICIES: list[Policy] = [
    *residency.POLICIES,
    *telemetry.POLICIES,
    *retention.POLICIES,
    *observability_grafana_phone_home.POLICIES,
    *observability_no_external_egress.POLICIES,
    *observability_no_prompt_logging.POLICIES,
    *observability_log_retention.POLICIES,
    *hardening.POLICIES,
    *secret_references.POLICIES,
    *topology.POLICIES,
    *day_one.POLICIES,
]
