"""Compare checkov's findings on the rendered manifests with the reviewed list of accepted findings.

CI runs checkov (in its own environment, `.venv-checkov`: its pins clash with pulumi's) on the manifests of
each stack and hands the JSON reports here. A finding not in `policies/checkov-accepted.yaml` fails the
gate with its check id and resource; an accepted finding that no longer occurs is reported as stale, so
the list only shrinks. Usage:

    python scripts/checkov_gate.py --accepted policies/checkov-accepted.yaml STACK=REPORT.json ...

Exit 0 when every finding is accepted, 1 when a new finding occurs, 2 on malformed input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = "- {check: CKV_K8S_43, resource: Deployment.kiva.kiva-gateway, reason: '…'}"


class GateInputError(ValueError):
    """Malformed accepted list or checkov report: the message names the file and key path."""


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str


def load_accepted(path: Path) -> dict[Finding, str]:
    """`{finding: reason}` from the reviewed list; every entry needs check, resource and a reason."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise GateInputError(f"{path}: cannot read the accepted findings ({error})") from None
    entries = document.get("accepted") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise GateInputError(f"{path}: `accepted` must be a list, e.g.\naccepted:\n  {EXAMPLE}")
    accepted: dict[Finding, str] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: accepted[{index}]"
        if not isinstance(entry, dict):
            raise GateInputError(f"{where} must be a mapping, e.g. {EXAMPLE}")
        for key in ("check", "resource", "reason"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise GateInputError(f"{where}.{key} must be a non-empty string, e.g. {EXAMPLE}")
        finding = Finding(entry["check"], entry["resource"])
        if finding in accepted:
            raise GateInputError(f"{where} repeats {finding.check} on {finding.resource}")
        accepted[finding] = entry["reason"]
    return accepted


def load_findings(path: Path) -> set[Finding]:
    """Failed checks of one checkov JSON report (one framework: an object; several: a list)."""
    try:
        document: Any = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise GateInputError(f"{path}: cannot read the checkov report ({error})") from None
    reports = document if isinstance(document, list) else [document]
    found: set[Finding] = set()
    for index, report in enumerate(reports):
        failed = report.get("results", {}).get("failed_checks") if isinstance(report, dict) else None
        if report.get("summary", {}).get("parsing_errors", 0) if isinstance(report, dict) else False:
            raise GateInputError(
                f"{path}: [{index}].summary.parsing_errors: checkov could not parse a manifest"
            )
        if failed is None and isinstance(report, dict) and "results" not in report and "passed" in report:
            continue  # checkov's empty report: {"passed": 0, "failed": 0, ...}
        if not isinstance(failed, list):
            raise GateInputError(
                f"{path}: [{index}].results.failed_checks is missing; run checkov with -o json"
            )
        found |= {Finding(str(item["check_id"]), str(item["resource"])) for item in failed}
    return found


def gate(accepted: dict[Finding, str], reports: dict[str, set[Finding]]) -> tuple[list[str], list[str]]:
    """(new findings, stale accepted entries) as readable lines."""
    new = [
        f"{stack}: {finding.check} on {finding.resource} is new: fix it or add it with a reason to the list"
        for stack, findings in sorted(reports.items())
        for finding in sorted(findings, key=lambda f: (f.check, f.resource))
        if finding not in accepted
    ]
    seen = set().union(*reports.values()) if reports else set()
    stale = [
        f"{finding.check} on {finding.resource} no longer occurs: remove it from the list"
        for finding in accepted
        if finding not in seen
    ]
    return new, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accepted", type=Path, required=True)
    parser.add_argument("reports", nargs="+", help="STACK=checkov-report.json")
    options = parser.parse_args(argv)
    try:
        accepted = load_accepted(options.accepted)
        reports: dict[str, set[Finding]] = {}
        for item in options.reports:
            stack, sep, file = item.partition("=")
            if not sep or not stack or not file:
                raise GateInputError(
                    f"report argument '{item}' must be STACK=FILE, e.g. prod=checkov-prod.json"
                )
            reports[stack] = load_findings(Path(file))
    except GateInputError as error:
        print(f"checkov gate: {error}", file=sys.stderr)
        return 2
    new, stale = gate(accepted, reports)
    for line in stale:
        print(f"checkov gate: stale: {line}")
    for line in new:
        print(f"checkov gate: NEW: {line}")
    total = sum(len(f) for f in reports.values())
    print(
        f"checkov gate: {total} finding(s) on {', '.join(sorted(reports))}; {len(new)} new, {len(stale)} stale"
    )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
