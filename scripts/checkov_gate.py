"""Compare checkov's findings on the rendered manifests with the reviewed list of accepted findings.

CI runs checkov (in its own environment, `.venv-checkov`: its pins clash with pulumi's) on the manifests of
each stack and hands the JSON reports here. A finding not in `policies/checkov-accepted.yaml` fails the
gate with its check id and resource; an accepted finding that no longer occurs is reported as stale, so
the list only shrinks. Usage:

    python scripts/checkov_gate.py --accepted policies/checkov-accepted.yaml [--summary FILE] STACK=REPORT.json ...

`--summary FILE` also writes what the reviewer's report shows under "Third-party scan (checkov)" (`kiva check
PREVIEW --report R.md --third-party-scan FILE`): the checkov version pinned in policies/checkov.lock, per stack
the passed and failed checks, the accepted findings with their reasons and the new ones, and the stale
entries. It is written whatever the verdict, so a failing gate still leaves its evidence.

Exit 0 when every finding is accepted, 1 when a new finding occurs, 2 on malformed input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = "- {check: CKV_K8S_43, resource: Deployment.kiva.kiva-gateway, reason: '…'}"
LOCK = Path("policies/checkov.lock")
#: Shape of the summary file (`kiva_policies.report` reads it; bump on an incompatible change).
SUMMARY_FORMAT = 1


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


@dataclass
class StackScan:
    """One stack's checkov report: its failed checks (with checkov's check names) and its counts."""

    findings: set[Finding] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    resources: int = 0
    versions: set[str] = field(default_factory=set)


def _count(summary: Any, key: str) -> int:
    value = summary.get(key, 0) if isinstance(summary, dict) else 0
    return value if isinstance(value, int) else 0


def load_findings(path: Path) -> set[Finding]:
    """Failed checks of one checkov JSON report (one framework: an object; several: a list)."""
    return load_scan(path).findings


def load_scan(path: Path) -> StackScan:
    """The findings and counts of one checkov JSON report (checkov 3.3.30 `-o json`: `summary` holds
    passed/failed/skipped/resource_count/checkov_version; with `--compact` only `results.failed_checks`
    is listed, each with check_id, check_name and resource)."""
    try:
        document: Any = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise GateInputError(f"{path}: cannot read the checkov report ({error})") from None
    reports = document if isinstance(document, list) else [document]
    scan = StackScan()
    for index, report in enumerate(reports):
        failed = report.get("results", {}).get("failed_checks") if isinstance(report, dict) else None
        if report.get("summary", {}).get("parsing_errors", 0) if isinstance(report, dict) else False:
            raise GateInputError(
                f"{path}: [{index}].summary.parsing_errors: checkov could not parse a manifest"
            )
        if failed is None and isinstance(report, dict) and "results" not in report and "passed" in report:
            scan.passed += _count(report, "passed")  # checkov's empty report: {"passed": 0, "failed": 0, ...}
            continue
        if not isinstance(failed, list):
            raise GateInputError(
                f"{path}: [{index}].results.failed_checks is missing; run checkov with -o json"
            )
        summary = report.get("summary")
        scan.passed += _count(summary, "passed")
        scan.failed += _count(summary, "failed") or len(failed)
        scan.skipped += _count(summary, "skipped")
        scan.resources += _count(summary, "resource_count")
        if isinstance(summary, dict) and isinstance(summary.get("checkov_version"), str):
            scan.versions.add(summary["checkov_version"])
        for item in failed:
            finding = Finding(str(item["check_id"]), str(item["resource"]))
            scan.findings.add(finding)
            if isinstance(item.get("check_name"), str):
                scan.names[finding.check] = item["check_name"]
    return scan


def locked_version(lock: Path) -> str:
    """The checkov version `policies/checkov.lock` pins (`checkov==X.Y.Z`)."""
    try:
        match = re.search(r"^checkov==(\S+)", lock.read_text(), re.MULTILINE)
    except OSError as error:
        raise GateInputError(f"{lock}: cannot read the checkov lock ({error})") from None
    if match is None:
        raise GateInputError(f"{lock}: pins no `checkov==VERSION`, e.g. checkov==3.3.30")
    return match.group(1)


def summary(
    version: str, accepted_path: Path, accepted: dict[Finding, str], scans: dict[str, StackScan]
) -> dict[str, Any]:
    """The machine-readable summary the reviewer's report renders (`--summary`)."""
    seen = set().union(*(s.findings for s in scans.values())) if scans else set()

    def row(finding: Finding, names: dict[str, str], **extra: str) -> dict[str, str]:
        return {
            "check": finding.check,
            "resource": finding.resource,
            "name": names.get(finding.check, ""),
            **extra,
        }

    stacks: dict[str, dict[str, Any]] = {}
    for stack, scan in sorted(scans.items()):
        ordered = sorted(scan.findings, key=lambda f: (f.check, f.resource))
        stacks[stack] = {
            "checkovVersion": ", ".join(sorted(scan.versions)) or version,
            "passed": scan.passed,
            "failed": scan.failed,
            "skipped": scan.skipped,
            "resources": scan.resources,
            "accepted": [row(f, scan.names, reason=accepted[f]) for f in ordered if f in accepted],
            "new": [row(f, scan.names) for f in ordered if f not in accepted],
        }
    stale = [
        {"check": f.check, "resource": f.resource, "reason": reason}
        for f, reason in accepted.items()
        if f not in seen
    ]
    new = sum(len(s["new"]) for s in stacks.values())
    return {
        "format": SUMMARY_FORMAT,
        "tool": "checkov",
        "version": version,
        "acceptedList": accepted_path.as_posix(),
        "verdict": "fail" if new else "pass",
        "stacks": stacks,
        "stale": stale,
    }


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
    parser.add_argument("--summary", type=Path, help="also write the reviewer report's JSON summary here")
    parser.add_argument("--lock", type=Path, default=LOCK, help="the checkov lock (its version is reported)")
    parser.add_argument("reports", nargs="+", help="STACK=checkov-report.json")
    options = parser.parse_args(argv)
    try:
        accepted = load_accepted(options.accepted)
        scans: dict[str, StackScan] = {}
        for item in options.reports:
            stack, sep, file = item.partition("=")
            if not sep or not stack or not file:
                raise GateInputError(
                    f"report argument '{item}' must be STACK=FILE, e.g. prod=checkov-prod.json"
                )
            scans[stack] = load_scan(Path(file))
        version = locked_version(options.lock) if options.summary else ""
    except GateInputError as error:
        print(f"checkov gate: {error}", file=sys.stderr)
        return 2
    reports = {stack: scan.findings for stack, scan in scans.items()}
    for stack, scan in sorted(scans.items()):
        if version and scan.versions and scan.versions != {version}:
            print(
                f"checkov gate: warning: {stack} was scanned by checkov {', '.join(sorted(scan.versions))}, "
                f"{options.lock} pins {version}"
            )
    if options.summary:
        document = summary(version, options.accepted, accepted, scans)
        options.summary.parent.mkdir(parents=True, exist_ok=True)
        options.summary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"checkov gate: summary for the reviewer report written to {options.summary}")
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
