"""Exceptions as code: reviewed waivers that expire; expired or malformed ones are violations."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kiva_policies.exceptions import ExceptionsFileError, load_exceptions, parse_exceptions
from kiva_policies.pack import POLICIES
from kiva_policies.report import render_report
from kiva_policies.runner import Finding, PolicyReport, apply_exceptions

TODAY = date(2026, 11, 27)
KNOWN = {p.name for p in POLICIES}
URN = "urn:pulumi:prod::kiva::kubernetes:apps/v1:Deployment::kiva-gateway"


def entry(**overrides: object) -> dict:
    base = {
        "policy": "kiva-hardening-container-image-pinned",
        "resource": "urn:pulumi:prod::kiva::*::kiva-gateway",
        "reason": "vendor publishes no digest yet",
        "owner": "platform-team@example.org",
        "ticket": "KIVA-123",
        "expires": date(2027, 3, 31),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def parse(*entries: dict) -> object:
    return parse_exceptions({"exceptions": list(entries)}, "prod.yaml", TODAY, KNOWN)


def report() -> PolicyReport:
    return PolicyReport(
        policies=["kiva-hardening-container-image-pinned", "kiva-network-default-deny"],
        findings=[
            Finding("kiva-hardening-container-image-pinned", "mandatory", "violation", URN, "tag `latest`"),
            Finding("kiva-network-default-deny", "mandatory", "violation", "", "namespace kiva: no deny"),
        ],
        levels={
            "kiva-hardening-container-image-pinned": "mandatory",
            "kiva-network-default-deny": "mandatory",
        },
    )


def test_a_matching_exception_waives_the_finding_with_its_justification() -> None:
    result = apply_exceptions(report(), parse(entry()))
    waived = result.findings_of("kiva-hardening-container-image-pinned")[0]
    assert waived.status == "waived"
    assert waived.waiver == (
        "vendor publishes no digest yet (owner platform-team@example.org, ticket KIVA-123, expires 2027-03-31)"
    )
    assert [f.policy for f in result.mandatory_violations] == ["kiva-network-default-deny"]
    assert result.exceptions is not None and result.exceptions.entries[0].waived == 1


def test_a_glob_matches_stack_findings_and_an_exact_urn_matches_one_resource() -> None:
    exact = apply_exceptions(report(), parse(entry(resource=URN)))
    assert exact.findings[0].status == "waived"
    other = apply_exceptions(report(), parse(entry(resource=URN + "-2")))
    assert other.findings[0].status == "violation"
    stack = apply_exceptions(report(), parse(entry(policy="kiva-network-default-deny", resource="*")))
    assert stack.findings[1].status == "waived"
    assert stack.mandatory_violations[0].policy == "kiva-hardening-container-image-pinned"


def test_an_expired_exception_waives_nothing_and_is_a_violation() -> None:
    result = apply_exceptions(report(), parse(entry(expires=date(2026, 11, 26))))
    assert result.findings[0].status == "violation"
    problem = result.findings_of("kiva-exceptions-valid")
    assert [f.message for f in problem] == [
        "prod.yaml: exceptions[0]: exception for kiva-hardening-container-image-pinned on "
        "urn:pulumi:prod::kiva::*::kiva-gateway (ticket KIVA-123) expired on 2026-11-26; renew it after "
        "review or remove it"
    ]
    assert problem[0].enforcement == "mandatory" and problem[0].status == "violation"


def test_expiry_today_is_still_valid_and_365_days_is_the_limit() -> None:
    assert parse(entry(expires=TODAY)).entries[0].status == "active"
    assert parse(entry(expires=date(2027, 11, 27))).entries[0].status == "active"
    too_far = parse(entry(expires=date(2027, 11, 28))).entries[0]
    assert too_far.status == "invalid"
    assert too_far.problem == (
        "prod.yaml: exceptions[0].expires: 2027-11-28 is more than 365 days after 2026-11-27 "
        "(latest allowed: 2027-11-27); review the exception again instead"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"owner": None},
            "prod.yaml: exceptions[0].owner: missing or empty; e.g. `owner: platform-team@example.org`",
        ),
        ({"ticket": "  "}, "prod.yaml: exceptions[0].ticket: missing or empty; e.g. `ticket: KIVA-123`"),
        (
            {"policy": "kiva-nope"},
            "prod.yaml: exceptions[0].policy: 'kiva-nope' is not a policy of this pack; "
            "e.g. `policy: kiva-hardening-container-image-pinned`",
        ),
        (
            {"expires": "next year"},
            "prod.yaml: exceptions[0].expires: 'next year' is not a date (YYYY-MM-DD); e.g. `expires: 2027-03-31`",
        ),
        (
            {"resource": "kiva-gateway"},
            "prod.yaml: exceptions[0].resource: 'kiva-gateway' is neither a URN (`urn:pulumi:…`) nor a glob "
            "pattern; e.g. `resource: urn:pulumi:prod::kiva::*::litellm`",
        ),
        (
            {"approved_by": "me"},
            "prod.yaml: exceptions[0]: unknown key(s) approved_by (allowed: policy, resource, reason, owner, "
            "ticket, expires)",
        ),
    ],
)
def test_a_malformed_exception_is_a_violation_naming_the_key(overrides: dict, message: str) -> None:
    result = apply_exceptions(report(), parse(entry(**overrides)))
    assert result.findings[0].status == "violation"
    assert [f.message for f in result.findings_of("kiva-exceptions-valid")] == [message]


def test_a_file_of_the_wrong_shape_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text("- policy: x\n", encoding="utf-8")
    with pytest.raises(ExceptionsFileError, match=r"must be a mapping with the single key `exceptions`"):
        load_exceptions(path, TODAY, KNOWN)
    path.write_text("exceptions: [\n", encoding="utf-8")
    with pytest.raises(ExceptionsFileError, match=r"prod.yaml: not YAML"):
        load_exceptions(path, TODAY, KNOWN)
    path.write_text("exceptions:\n", encoding="utf-8")
    assert load_exceptions(path, TODAY, KNOWN).entries == []


def test_the_report_lists_every_exception_and_marks_waived_findings() -> None:
    result = apply_exceptions(report(), parse(entry(), entry(ticket="KIVA-9", expires=date(2025, 1, 1))))
    text = render_report(result, [])
    assert (
        "| 0 | `kiva-hardening-container-image-pinned` | `urn:pulumi:prod::kiva::*::kiva-gateway` | " in text
    )
    assert "| KIVA-123 | 2027-03-31 | active | 1 |" in text
    assert "| KIVA-9 | 2025-01-01 | expired: prod.yaml: exceptions[1]: exception for" in text
    assert "**mandatory waived** `kiva-hardening-container-image-pinned`" in text
    assert "— waived: vendor publishes no digest yet (owner platform-team@example.org" in text
    assert "1 waived by exceptions" in text


def _preview(tmp_path: Path) -> Path:
    """A one-Deployment plan of a stack without config or exceptions file (every policy mandatory)."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "kiva"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}},
    }
    urn = "urn:pulumi:exc::kiva::kubernetes:apps/v1:Deployment::web"
    state = {"urn": urn, "type": "kubernetes:apps/v1:Deployment", "custom": True, "inputs": deployment}
    path = tmp_path / "preview.json"
    path.write_text(
        json.dumps({"steps": [{"op": "create", "urn": urn, "newState": state}]}), encoding="utf-8"
    )
    return path


def test_kiva_check_applies_the_exceptions_file_and_fails_on_an_expired_one(tmp_path: Path) -> None:
    from infra.cli import main

    preview = _preview(tmp_path)
    first = CliRunner().invoke(main, ["check", str(preview), "--json", str(tmp_path / "a.json")])
    assert first.exit_code == 1, first.output
    violated = sorted(
        {
            f["policy"]
            for f in json.loads((tmp_path / "a.json").read_text())["findings"]
            if f["status"] == "violation" and f["enforcement"] == "mandatory"
        }
    )
    assert violated
    expiry = (date.today() + __import__("datetime").timedelta(days=30)).isoformat()
    entries = [entry(policy=p, resource="*", expires=expiry) for p in violated]
    exceptions = tmp_path / "exc.yaml"
    exceptions.write_text(yaml.safe_dump({"exceptions": entries}), encoding="utf-8")
    waived = CliRunner().invoke(
        main, ["check", str(preview), "--exceptions", str(exceptions), "--json", str(tmp_path / "b.json")]
    )
    assert waived.exit_code == 0, waived.output
    document = json.loads((tmp_path / "b.json").read_text())
    assert document["verdict"] == "pass"
    assert {e["status"] for e in document["exceptions"]} == {"active"}
    entries[0]["expires"] = "2020-01-01"
    exceptions.write_text(yaml.safe_dump({"exceptions": entries}), encoding="utf-8")
    expired = CliRunner().invoke(main, ["check", str(preview), "--exceptions", str(exceptions)])
    assert expired.exit_code == 1
    assert "expired on 2020-01-01; renew it after review or remove it" in expired.output
    exceptions.write_text("exceptions: {}\nother: 1\n", encoding="utf-8")
    broken = CliRunner().invoke(main, ["check", str(preview), "--exceptions", str(exceptions)])
    assert broken.exit_code == 2
    assert "must be a mapping with the single key `exceptions`" in broken.output
    assert "Traceback" not in broken.output
