"""kiva-hardening-storage-account-public-access-disabled: a public storage account fails, with its message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.policies.harness import compliant_plan, mutate, run, violations

POLICY = "kiva-hardening-storage-account-public-access-disabled"
CONFIG = Path(__file__).resolve().parents[2] / "policies" / "config"
HINT = (
    "Set `kiva:cluster.backupStorage.privateEndpoint: true`, which disables public access and reaches the "
    "account through a private endpoint."
)


def test_the_private_account_of_the_compliant_plan_passes() -> None:
    report = run(compliant_plan())
    assert POLICY in report.policies
    assert violations(report, POLICY) == []
    # the private account is still reachable: endpoint, zone linked to the VNet, zone group
    assert violations(report, "kiva-reachability-cloud-firewalls") == []


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda p: p.update(publicNetworkAccess="Enabled"), "is 'Enabled'"),
        (lambda p: p.pop("publicNetworkAccess"), "is not set (the service default is public)"),
        (lambda p: p.update(publicNetworkAccess="SecuredByPerimeter"), "is 'SecuredByPerimeter'"),
    ],
)
def test_a_public_account_fails_with_its_message(change: Callable[[dict[str, Any]], Any], found: str) -> None:
    report = run(mutate(compliant_plan(), "kivaprodbackups", change))
    assert [f.message for f in violations(report, POLICY)] == [
        f"Storage account 'kivaprodbackups' keeps a public endpoint: `publicNetworkAccess` {found}. {HINT}"
    ]


@pytest.mark.parametrize(
    ("stage", "level"), [("prod", "mandatory"), ("dev", "advisory"), ("local", "advisory")]
)
def test_mandatory_in_prod_advisory_elsewhere(stage: str, level: str) -> None:
    config = json.loads((CONFIG / f"{stage}.json").read_text())
    assert config[POLICY] == level
    report = run(mutate(compliant_plan(), "kivaprodbackups", lambda p: p.pop("publicNetworkAccess")), config)
    assert [f.enforcement for f in report.findings if f.policy == POLICY] == [level]
