"""`kiva check --sarif`: a SARIF 2.1.0 log that validates against the OASIS JSON schema."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from kiva_policies.exceptions import parse_exceptions
from kiva_policies.metadata import METADATA
from kiva_policies.runner import Finding, PolicyReport, apply_exceptions
from kiva_policies.sarif import to_json, to_sarif

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif" / "sarif-schema-2.1.0.json"
URN = "urn:pulumi:prod::kiva::kubernetes:apps/v1:Deployment::kiva-gateway"
PINNED = "kiva-hardening-container-image-pinned"
DENY = "kiva-network-default-deny"


def report() -> PolicyReport:
    result = PolicyReport(
        policies=[PINNED, DENY, "kiva-residency-location-in-allow-list"],
        findings=[
            Finding(PINNED, "mandatory", "violation", URN, "image tag `latest` is not pinned"),
            Finding(DENY, "advisory", "violation", "", "namespace kiva has no default deny"),
            Finding(DENY, "advisory", "not-verifiable", "", "not verifiable: unknown"),
        ],
        levels={PINNED: "mandatory", DENY: "advisory"},
    )
    exceptions = {
        "exceptions": [
            {
                "policy": PINNED,
                "resource": URN,
                "reason": "no digest upstream",
                "owner": "ops@example.org",
                "ticket": "KIVA-1",
                "expires": "2027-01-31",
            }
        ]
    }
    return apply_exceptions(result, parse_exceptions(exceptions, "prod.yaml", date(2026, 11, 27), None))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    return jsonschema.Draft4Validator(schema)


def test_the_sarif_log_validates_against_the_official_schema(validator: jsonschema.Draft4Validator) -> None:
    document = to_sarif(report(), {PINNED: "Every image is pinned."}, "Pulumi.prod.yaml")
    errors = sorted(validator.iter_errors(document), key=str)
    assert errors == []
    assert document["version"] == "2.1.0"


def test_a_broken_log_does_not_validate(validator: jsonschema.Draft4Validator) -> None:
    document = to_sarif(report())
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(document)


def test_rules_carry_the_metadata() -> None:
    document = to_sarif(report(), {PINNED: "Every image is pinned."})
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert list(rules) == [PINNED, DENY, "kiva-residency-location-in-allow-list", "kiva-exceptions-valid"]
    pinned = rules[PINNED]
    assert pinned["shortDescription"]["text"] == METADATA[PINNED].rationale
    assert pinned["fullDescription"]["text"] == "Every image is pinned."
    assert pinned["defaultConfiguration"]["level"] == "warning"  # severity medium
    assert pinned["properties"]["tags"] == ["security", "SYS.1.6.A6", "C5:RB-22", "GDPR:Art.32"]
    assert rules["kiva-residency-location-in-allow-list"]["defaultConfiguration"]["level"] == "error"


def test_results_have_levels_locations_and_suppressions() -> None:
    results = to_sarif(report(), artifact_uri="Pulumi.prod.yaml")["runs"][0]["results"]
    waived, advisory, unknown = results
    assert waived["ruleId"] == PINNED and waived["ruleIndex"] == 0 and waived["level"] == "error"
    assert waived["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "no digest upstream (owner ops@example.org, ticket KIVA-1, expires 2027-01-31)",
        }
    ]
    assert waived["locations"] == [
        {
            "physicalLocation": {"artifactLocation": {"uri": "Pulumi.prod.yaml"}},
            "logicalLocations": [{"name": "kiva-gateway", "fullyQualifiedName": URN, "kind": "resource"}],
        }
    ]
    assert advisory["level"] == "warning" and "suppressions" not in advisory
    assert advisory["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "Pulumi.prod.yaml"}}}]
    assert unknown["level"] == "note"


def test_json_output_has_the_verdict_findings_and_exceptions() -> None:
    document = to_json(report())
    assert document["verdict"] == "pass" and document["mandatoryViolations"] == 0
    assert document["findings"][0]["status"] == "waived"
    assert document["findings"][0]["waiver"].startswith("no digest upstream")
    assert document["exceptions"] == [
        {
            "policy": PINNED,
            "resource": URN,
            "owner": "ops@example.org",
            "ticket": "KIVA-1",
            "expires": "2027-01-31",
            "status": "active",
            "waived": 1,
        }
    ]
