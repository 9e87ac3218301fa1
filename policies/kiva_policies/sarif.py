"""The policy run as SARIF 2.1.0 (`kiva check --sarif FILE`), the format GitHub and GitLab code scanning read.

Shape per the OASIS SARIF 2.1.0 standard (errata 01) and its JSON schema
(`tests/schemas/sarif/sarif-schema-2.1.0.json`, from github.com/oasis-tcs/sarif-spec): one `run` whose
`tool.driver.rules` are the policies with their metadata (`kiva_policies.metadata`: rationale, control
ids as `properties.tags`, `defaultConfiguration.level` from the severity), and one `result` per finding
with the resource URN as a logical location and, when known, the stack file as the physical location.
A finding an exception waived carries a `suppressions` entry (kind `external`: the waiver lives in
`policies/exceptions/<stack>.yaml`, not in the analysed file; status `accepted`, with the justification).

The report is read duck-typed (`policies`, `findings`, `levels`): this module sits below the runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiva_policies.metadata import EXCEPTIONS_RULE, METADATA, PolicyMetadata

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "kiva-policies"
#: SARIF `level` (section 3.27.10: error, warning, note, none) of each severity.
LEVEL_OF_SEVERITY = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
#: GitHub's `security-severity` (a CVSS-like score string) per severity, so code scanning ranks alerts.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _metadata(name: str) -> PolicyMetadata:
    if name == EXCEPTIONS_RULE.id:
        return EXCEPTIONS_RULE
    return METADATA.get(name) or PolicyMetadata(name, "medium", "No review metadata declared.")


def rule(name: str, description: str = "") -> dict[str, Any]:
    """The `reportingDescriptor` of one policy."""
    meta = _metadata(name)
    controls = ", ".join(meta.controls) or "none mapped"
    entry: dict[str, Any] = {
        "id": name,
        "name": name,
        "shortDescription": {"text": meta.rationale},
        "help": {
            "text": f"{description or meta.rationale} Evidences: {controls}.",
            "markdown": f"{description or meta.rationale}\n\nEvidences: {controls}.",
        },
        "defaultConfiguration": {"level": LEVEL_OF_SEVERITY[meta.severity]},
        "properties": {
            "tags": ["security", *meta.controls],
            "severity": meta.severity,
            "security-severity": SECURITY_SEVERITY[meta.severity],
        },
    }
    if description:
        entry["fullDescription"] = {"text": description}
    return entry


def _level(finding: Any) -> str:
    if finding.status == "not-verifiable":
        return "note"
    return "error" if finding.enforcement == "mandatory" else "warning"


def _locations(urn: str, artifact_uri: str | None) -> list[dict[str, Any]]:
    location: dict[str, Any] = {}
    if artifact_uri:
        location["physicalLocation"] = {"artifactLocation": {"uri": artifact_uri}}
    if urn:
        location["logicalLocations"] = [
            {"name": urn.rsplit("::", 1)[-1], "fullyQualifiedName": urn, "kind": "resource"}
        ]
    return [location] if location else []


def result(finding: Any, rule_index: int, artifact_uri: str | None = None) -> dict[str, Any]:
    """The SARIF `result` of one finding (waived findings carry an accepted, external suppression)."""
    entry: dict[str, Any] = {
        "ruleId": finding.policy,
        "ruleIndex": rule_index,
        "level": _level(finding),
        "message": {"text": finding.message},
        "properties": {"enforcement": finding.enforcement, "status": finding.status},
    }
    locations = _locations(finding.urn, artifact_uri)
    if locations:
        entry["locations"] = locations
    if finding.status == "waived":
        entry["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": finding.waiver or "waived"}
        ]
    return entry


def to_sarif(
    report: Any,
    descriptions: Mapping[str, str] | None = None,
    artifact_uri: str | None = None,
    version: str = "",
) -> dict[str, Any]:
    """The SARIF log of one policy run; `descriptions` are the policies' own descriptions, by name."""
    descriptions = descriptions or {}
    names = list(dict.fromkeys([*report.policies, *(f.policy for f in report.findings)]))
    index = {name: i for i, name in enumerate(names)}
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "rules": [rule(name, descriptions.get(name, "")) for name in names],
    }
    if version:
        driver["version"] = version
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "results": [result(f, index[f.policy], artifact_uri) for f in report.findings],
            }
        ],
    }


def to_json(report: Any) -> dict[str, Any]:
    """The policy run as plain JSON (`kiva check --json FILE`): verdict, policies, findings, exceptions."""
    mandatory = [f for f in report.findings if f.status == "violation" and f.enforcement == "mandatory"]
    exceptions = getattr(report, "exceptions", None)
    return {
        "verdict": "fail" if mandatory else "pass",
        "mandatoryViolations": len(mandatory),
        "policyConfig": getattr(report, "config_source", ""),
        "policies": [
            {
                "id": name,
                "enforcement": report.levels.get(name, "mandatory"),
                "severity": _metadata(name).severity,
                "controls": list(_metadata(name).controls),
            }
            for name in report.policies
        ],
        "disabled": list(getattr(report, "disabled", [])),
        "findings": [
            {
                "policy": f.policy,
                "enforcement": f.enforcement,
                "status": f.status,
                "urn": f.urn,
                "message": f.message,
                **({"waiver": f.waiver} if f.status == "waived" else {}),
            }
            for f in report.findings
        ],
        "exceptions": [
            {
                "policy": e.policy,
                "resource": e.resource,
                "owner": e.owner,
                "ticket": e.ticket,
                "expires": e.expires,
                "status": e.status,
                "waived": e.waived,
                **({"problem": e.problem} if e.problem else {}),
            }
            for e in (exceptions.entries if exceptions is not None else [])
        ],
    }


__all__ = ["SCHEMA_URI", "to_json", "to_sarif"]
