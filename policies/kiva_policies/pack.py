"""The policies of the KIVA pack, in report order: `policies/__main__.py` and the offline runner use it."""

from __future__ import annotations

from pulumi_policy import Policy

from kiva_policies import day_one, hardening, residency, retention, secret_references, telemetry, topology

PACK_NAME = "kiva"

POLICIES: list[Policy] = [
    *residency.POLICIES,
    *telemetry.POLICIES,
    *retention.POLICIES,
    *hardening.POLICIES,
    *secret_references.POLICIES,
    *topology.POLICIES,
    *day_one.POLICIES,
]
