"""The reviewer's report (`kiva check PREVIEW.json --report REPORT.md`): evidence a security officer files.

It states, for one plan: the verdict and a pass/fail line per policy, every finding, the inventory of
resources by region, the telemetry switches found on each workload and the retention values in force.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

from kiva_policies.base import (
    BLINDED_SECRET,
    LABEL_REGION,
    NAMESPACE,
    containers,
    declared_location,
    engine_props,
    get,
    normalize_location,
    pod_spec,
)
from kiva_policies.metadata import (
    APP_4_4,
    APP_4_4_COVERAGE,
    EXCEPTIONS_RULE,
    policies_for,
)
from kiva_policies.retention import retention_values
from kiva_policies.runner import CONFIG_DIR, PlannedResource, PolicyReport, resolve_config
from kiva_policies.telemetry import switch_states

_UNKNOWN = {
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
}
DECLARATION_POLICY = "kiva-residency-declared-region-in-allow-list"


def _cell(value: Any) -> str:
    if isinstance(value, str) and value in _UNKNOWN:
        return "(unknown at preview)"
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _stack_of(resources: list[PlannedResource]) -> str:
    for resource in resources:
        if resource.urn.startswith("urn:pulumi:") and "::" in resource.urn:
            return resource.urn.removeprefix("urn:pulumi:").split("::", 1)[0]
    return "unknown"


def _policy_rows(report: PolicyReport) -> list[str]:
    rows = ["| Policy | Enforcement | Result | Findings |", "|---|---|---|---|"]
    for name in report.policies:
        findings = report.findings_of(name)
        violations = [f for f in findings if f.status == "violation"]
        unverifiable = [f for f in findings if f.status == "not-verifiable"]
        waived = [f for f in findings if f.status == "waived"]
        level = report.levels.get(name, "mandatory")
        if violations:
            result = "FAIL" if level == "mandatory" else "WARN (advisory)"
        elif unverifiable:
            result = "NOT VERIFIABLE"
        else:
            result = "PASS"
        counts = ", ".join(
            part
            for part in (
                f"{len(violations)} violation(s)" if violations else "",
                f"{len(unverifiable)} not verifiable" if unverifiable else "",
                f"{len(waived)} waived" if waived else "",
            )
            if part
        )
        rows.append(f"| `{name}` | {level} | **{result}** | {counts or '—'} |")
    for name in report.disabled:
        rows.append(f"| `{name}` | disabled | **NOT RUN** | disabled by the policy config |")
    return rows


def _finding_lines(report: PolicyReport, names: dict[str, str]) -> list[str]:
    order = {"mandatory": 0, "advisory": 1}
    findings = sorted(
        report.findings, key=lambda f: (f.status != "violation", order.get(f.enforcement, 2), f.policy)
    )
    if not findings:
        return ["No findings."]
    lines = []
    for f in findings:
        mark = {"violation": "✗", "waived": "~"}.get(f.status, "?")
        where = names.get(f.urn, f.urn.rsplit("::", 1)[-1] if f.urn else "stack")
        why = f" — waived: {_cell(f.waiver)}" if f.status == "waived" else ""
        lines.append(
            f"- {mark} **{f.enforcement} {f.status}** `{f.policy}` on `{where}`: {_cell(f.message)}{why}"
        )
    return lines


def _declared(resources: list[tuple[PlannedResource, Any]], report: PolicyReport) -> tuple[str, str]:
    for resource, props in resources:
        if resource.type == NAMESPACE:
            declared = declared_location(props)
            if declared is not None and declared[0]:
                return str(declared[0]), f"annotation `{LABEL_REGION}` on Namespace {resource.name}"
    configured = report.settings.get(DECLARATION_POLICY, {}).get("declaredRegion")
    if configured:
        return str(configured), "`declaredRegion` in the policy config"
    return "", ""


def _inventory(resources: list[tuple[PlannedResource, Any]], report: PolicyReport) -> list[str]:
    declared, source = _declared(resources, report)
    by_region: dict[str, Counter[str]] = defaultdict(Counter)
    for resource, props in resources:
        location = props.get("location") if isinstance(props, Mapping) else None
        if isinstance(location, str) and location:
            region = normalize_location(location) if location not in _UNKNOWN else "(unknown at preview)"
        elif resource.type.startswith("kubernetes:"):
            region = f"{declared} (cluster, declared)" if declared else "cluster (region not declared)"
        else:
            region = "no location (logical resource, component or provider)"
        by_region[region][resource.type] += 1
    lines = []
    if declared:
        lines.append(f"Declared region of the cluster: **{declared}** (from {source}).")
        lines.append("")
    lines += ["| Region | Resources | Types |", "|---|---|---|"]
    for region in sorted(by_region):
        types = by_region[region]
        listing = ", ".join(f"`{t}` x{n}" if n > 1 else f"`{t}`" for t, n in sorted(types.items()))
        lines.append(f"| {region} | {sum(types.values())} | {listing} |")
    return lines


def _telemetry(resources: list[tuple[PlannedResource, Any]]) -> list[str]:
    rows = [
        "| Workload | Container | Image | Product | Switch | Required | Found | State |",
        "|---|---|---|---|---|---|---|---|",
    ]
    count = 0
    for resource, props in resources:
        spec = pod_spec(resource.type, props)
        for ref in containers(spec):
            workload = f"{get(props, 'metadata', 'namespace', default='default')}/{resource.name}"
            env = ref.container.get("env")
            if isinstance(env, str) and (env in _UNKNOWN or env == BLINDED_SECRET):
                count += 1
                rows.append(
                    f"| {_cell(workload)} | {_cell(ref.name)} | `{_cell(ref.image)}` | — | (all) | — | "
                    "env unknown at preview | not verifiable |"
                )
                continue
            for state in switch_states(ref.container, ref.image):
                count += 1
                found = state.note or state.found
                verdict = "off" if state.off else "ON (not the exact off value)"
                if (isinstance(state.found, str) and state.found in _UNKNOWN) or state.note == "secret":
                    verdict = "not verifiable"
                rows.append(
                    f"| {_cell(workload)} | {_cell(ref.name)} | `{_cell(ref.image)}` | {state.product} | "
                    f"`{state.switch}` | `{state.expected}` | {_cell(found)} | {verdict} |"
                )
    if not count:
        return ["No container of a known product (see the switch table in `kiva_policies/telemetry.py`)."]
    return rows


def _retention(resources: list[tuple[PlannedResource, Any]], report: PolicyReport) -> list[str]:
    values = retention_values([(r.type, r.name, p) for r, p in resources if isinstance(p, Mapping)])
    lines = ["| Setting | Resource | Value in force |", "|---|---|---|"]
    lines += [f"| {v.setting} | `{_cell(v.resource)}` | {_cell(v.value)} |" for v in values]
    if not values:
        lines = ["No retention setting found in this plan."]
    bounds = []
    for name in report.policies:
        if name.startswith("kiva-retention-") and report.settings.get(name):
            settings = ", ".join(f"{k}={v}" for k, v in sorted(report.settings[name].items()))
            bounds.append(f"- `{name}`: {settings}")
    if bounds:
        lines += ["", "Bounds the policies applied:", "", *bounds]
    return lines


def _limits(resources: list[tuple[PlannedResource, Any]]) -> list[str]:
    releases = sorted(r.name for r, _ in resources if r.type.startswith("kubernetes:helm.sh/"))
    lines = [
        "- Objects the operators create at run time (CloudNativePG pods and Services, External Secrets' "
        "Secrets) are not in the plan; the policies check the custom resources that declare them.",
    ]
    if releases:
        lines.append(
            f"- {len(releases)} Helm release(s) ({', '.join(releases)}): their rendered objects are not "
            "part of the plan, so their pod specs are not checked here; chart versions are pinned in code."
        )
    return lines


def render_report(
    report: PolicyReport,
    resources: list[PlannedResource],
    now: datetime | None = None,
    sections: Sequence[tuple[str, Sequence[str]]] = (),
    third_party_scan: Mapping[str, Any] | None = None,
) -> str:
    """The report as Markdown text.

    `sections` are extra (heading, lines) the caller renders, e.g. the CLI's cost estimate: the pack
    never imports `infra`, so what it cannot compute itself is passed in as text. `third_party_scan` is
    the checkov gate's summary (`load_scan_summary`); without it the section says how to produce it.
    """
    plain = [(r, engine_props(r.props or {})) for r in resources]
    names = {r.urn: f"{r.name} ({r.type})" for r in resources}
    mandatory = len(report.mandatory_violations)
    advisory = sum(1 for f in report.findings if f.status == "violation" and f.enforcement != "mandatory")
    unverifiable = sum(1 for f in report.findings if f.status == "not-verifiable")
    waived = sum(1 for f in report.findings if f.status == "waived")
    verdict = "FAIL" if mandatory else "PASS"
    timestamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# KIVA policy report: stack `{_stack_of(resources)}`",
        "",
        f"- Generated: {timestamp}",
        f"- Resources checked: {len(resources)}",
        f"- Policies run: {len(report.policies)}"
        + (f" (disabled: {len(report.disabled)})" if report.disabled else ""),
        *([f"- Policy config: {_cell(report.config_source)}"] if report.config_source else []),
        f"- **Verdict: {verdict}**: {mandatory} mandatory violation(s), {advisory} advisory violation(s), "
        f"{unverifiable} not verifiable" + (f", {waived} waived by exceptions" if waived else ""),
        "",
        "A value that is unknown until deployment, or a blinded secret, is reported as *not verifiable*: "
        "it is neither a pass nor a violation and must be checked after `pulumi up`.",
        "",
        "## Policy results",
        "",
        *_policy_rows(report),
        "",
        "## Findings",
        "",
        *_finding_lines(report, names),
        "",
        "## Exceptions",
        "",
        *_exception_lines(report),
        "",
        "## BSI IT-Grundschutz APP.4.4 coverage",
        "",
        *coverage_lines(report.policies),
        "",
        f"## {SCAN_HEADING}",
        "",
        *third_party_scan_lines(third_party_scan, _stack_of(resources)),
        "",
        "## Inventory by region",
        "",
        *_inventory(plain, report),
        "",
        "## Telemetry switches per workload",
        "",
        *_telemetry(plain),
        "",
        "## Retention values in force",
        "",
        *_retention(plain, report),
        "",
        "## Not inspected by this check",
        "",
        *_limits(plain),
        "",
    ]
    for heading, body in sections:
        lines.extend([f"## {heading}", "", *body, ""])
    return "\n".join(lines)


def _exception_lines(report: PolicyReport) -> list[str]:
    exceptions = report.exceptions
    if exceptions is None:
        return ["No exceptions file for this stack (`policies/exceptions/<stack>.yaml`): nothing is waived."]
    lines = [f"From `{_cell(exceptions.source)}`."]
    if not exceptions.entries:
        return [*lines, "", "The file lists no exceptions: nothing is waived."]
    lines += [
        "",
        "| # | Policy | Resource | Owner | Ticket | Expires | Status | Waived findings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in exceptions.entries:
        status = e.status if not e.problem else f"{e.status}: {e.problem}"
        lines.append(
            f"| {e.index} | `{_cell(e.policy)}` | `{_cell(e.resource)}` | {_cell(e.owner)} | {_cell(e.ticket)} "
            f"| {_cell(e.expires)} | {_cell(status)} | {e.waived} |"
        )
    return lines


def coverage_lines(ran: Sequence[str] | None = None) -> list[str]:
    """The APP.4.4 coverage table: every requirement, its status, the policies evidencing it, the reason.

    `ran` are the policies that ran; a policy named by the metadata but disabled in this run is marked.
    """
    lines = [
        "Status per requirement of APP.4.4 Kubernetes (IT-Grundschutz-Kompendium Edition 2023; "
        "B basic, S standard, H high protection needs). *Automated*: the listed policies check it on "
        "every plan; *partly automated*: they check part of it, the rest is organisational.",
        "",
        "| Requirement | Title | Level | Status | Policies | Reason |",
        "|---|---|---|---|---|---|",
    ]
    for requirement, (title, level) in APP_4_4.items():
        coverage = APP_4_4_COVERAGE[requirement]
        policies = policies_for(requirement)
        if requirement == EXCEPTIONS_RULE.app_4_4[0]:
            policies = [*policies, EXCEPTIONS_RULE.id]
        listed = ", ".join(f"`{p}`" + ("" if ran is None or p in ran else " (not run)") for p in policies)
        lines.append(
            f"| {requirement} | {title} | {level} | {coverage.status} | {listed or '—'} | "
            f"{_cell(coverage.reason)} |"
        )
    return lines


def write_report(
    report: PolicyReport,
    resources: list[PlannedResource],
    path: Path,
    sections: Sequence[tuple[str, Sequence[str]]] = (),
    third_party_scan: Mapping[str, Any] | None = None,
) -> None:
    """Write the reviewer's Markdown report of one policy run to `path` (with the caller's `sections`)."""
    text = render_report(report, resources, sections=sections, third_party_scan=third_party_scan)
    Path(path).write_text(text, encoding="utf-8")


# --- the third-party scan (checkov) ---------------------------------------------------------------------

SCAN_HEADING = "Third-party scan (checkov)"
#: How CI produces the summary (`.ci/run`); the section names it when no summary was given.
SCAN_COMMANDS = (
    "uv run kiva plan STACK --json plan-out/STACK.json --manifests plan-out/STACK-manifests",
    ".venv-checkov/bin/checkov --quiet --compact --skip-download --framework kubernetes -o json "
    "-d plan-out/STACK-manifests > plan-out/checkov-STACK.json",
    "uv run python scripts/checkov_gate.py --accepted policies/checkov-accepted.yaml "
    "--summary plan-out/checkov-summary.json STACK=plan-out/checkov-STACK.json",
    "uv run kiva check plan-out/STACK.json --report REPORT.md --third-party-scan plan-out/checkov-summary.json",
)
_SCAN_EXAMPLE = (
    '{"format": 1, "tool": "checkov", "version": "3.3.30", "stacks": {"prod": {...}}, "stale": []}'
)


class ScanSummaryError(ValueError):
    """The third-party scan summary cannot be read; the message names the file and the key."""


def load_scan_summary(path: Path) -> dict[str, Any]:
    """The checkov gate's `--summary` file, checked for the keys the report reads."""
    import json

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ScanSummaryError(f"{path}: cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise ScanSummaryError(
            f"{path}: not JSON ({error}); write it with scripts/checkov_gate.py --summary"
        ) from None
    if not isinstance(document, dict) or document.get("format") != 1 or document.get("tool") != "checkov":
        raise ScanSummaryError(
            f"{path}: not a checkov gate summary (format 1), e.g. {_SCAN_EXAMPLE}; "
            "write it with scripts/checkov_gate.py --summary"
        )
    stacks = document.get("stacks")
    if not isinstance(stacks, dict):
        raise ScanSummaryError(f"{path}: stacks must be an object of stack names, e.g. {_SCAN_EXAMPLE}")
    for stack, scan in stacks.items():
        for key in ("passed", "failed"):
            if not isinstance(scan, dict) or not isinstance(scan.get(key), int):
                raise ScanSummaryError(f"{path}: stacks.{stack}.{key} must be a number, e.g. 366")
        for key in ("accepted", "new"):
            if not isinstance(scan.get(key), list):
                raise ScanSummaryError(f"{path}: stacks.{stack}.{key} must be a list of findings, e.g. []")
    if not isinstance(document.get("stale", []), list):
        raise ScanSummaryError(f"{path}: stale must be a list of entries, e.g. []")
    return document


def third_party_scan_lines(scan: Mapping[str, Any] | None, stack: str) -> list[str]:
    """The checkov section: version, counts per stack, this stack's accepted and new findings, stale entries."""
    if scan is None:
        return [
            "No third-party scan summary was given to this report, so checkov's view of the manifests is not "
            "part of this evidence. CI (`.ci/run`) produces it; by hand, with STACK the stack of this report:",
            "",
            "```sh",
            *SCAN_COMMANDS,
            "```",
        ]
    stacks: Mapping[str, Any] = scan.get("stacks", {})
    verdict = "PASS" if scan.get("verdict") == "pass" else "FAIL"
    lines = [
        f"checkov {_cell(scan.get('version'))} (pinned in `policies/checkov.lock`) on the rendered manifests; "
        f"findings judged against `{_cell(scan.get('acceptedList'))}`. **Gate: {verdict}.**",
        "",
        "| Stack | Checks passed | Checks failed | Accepted | New |",
        "|---|---|---|---|---|",
    ]
    for name, item in sorted(stacks.items()):
        lines.append(
            f"| {_cell(name)} | {item['passed']} | {item['failed']} | {len(item['accepted'])} | {len(item['new'])} |"
        )
    this = stacks.get(stack)
    if this is None:
        return [*lines, "", f"The summary has no scan of stack `{stack}`: its manifests were not scanned."]
    lines += ["", f"Accepted findings of `{stack}` (reviewed, with their reasons):", ""]
    if this["accepted"]:
        lines += ["| Check | Resource | Name | Reason |", "|---|---|---|---|"]
        lines += [
            f"| `{_cell(f.get('check'))}` | `{_cell(f.get('resource'))}` | {_cell(f.get('name'))} | "
            f"{_cell(f.get('reason'))} |"
            for f in this["accepted"]
        ]
    else:
        lines.append("None.")
    lines += ["", f"New findings of `{stack}` (not accepted: the gate fails on them):", ""]
    lines += [
        f"- ✗ `{_cell(f.get('check'))}` on `{_cell(f.get('resource'))}`: {_cell(f.get('name'))}"
        for f in this["new"]
    ] or ["None."]
    stale = scan.get("stale", [])
    lines += [
        "",
        "Stale entries of the accepted list (no longer found in any scanned stack; remove them):",
        "",
    ]
    lines += [f"- `{_cell(e.get('check'))}` on `{_cell(e.get('resource'))}`" for e in stale] or ["None."]
    return lines


# --- the README's generated policy table ----------------------------------------------------------------

START = "<!-- policy-metadata:start -->"
END = "<!-- policy-metadata:end -->"
STAGES = ("dev", "prod", "local")


def stage_levels() -> dict[str, dict[str, str]]:
    """Enforcement level per policy and stage, resolved from `policies/config/<stage>.json` like a run."""
    import json

    levels: dict[str, dict[str, str]] = {}
    for stage in STAGES:
        path = CONFIG_DIR / f"{stage}.json"
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        for name, (level, _) in resolve_config(config, source=str(path)).items():
            levels.setdefault(name, {})[stage] = level
    return levels


def render_policy_table() -> str:
    """The README block: per policy its severity, enforcement per stage and the controls it evidences."""
    from kiva_policies.metadata import METADATA
    from kiva_policies.pack import POLICIES

    levels = stage_levels()
    lines = [
        START,
        "<!-- Generated by `uv run python -m kiva_policies.report --write policies/README.md`; "
        "edit kiva_policies/metadata.py or config/<stage>.json instead. -->",
        "",
        "| Policy | Severity | dev | prod | local | APP.4.4 | SYS.1.6 | C5:2020 | GDPR | Rationale |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for policy in POLICIES:
        meta = METADATA[policy.name]
        stage = levels[policy.name]
        lines.append(
            f"| `{meta.id}` | {meta.severity} | {stage['dev']} | {stage['prod']} | {stage['local']} | "
            f"{', '.join(meta.app_4_4) or '—'} | {', '.join(meta.sys_1_6) or '—'} | "
            f"{', '.join(meta.c5) or '—'} | {', '.join(f'Art. {a}' for a in meta.gdpr) or '—'} | "
            f"{_cell(meta.rationale)} |"
        )
    lines += ["", "#### APP.4.4 coverage", "", *coverage_lines(), END]
    return "\n".join(lines)


def replace_block(text: str) -> str:
    """`text` with its generated block replaced (the markers must be present once)."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the file has no {START} … {END} block")
    return text[:start] + render_policy_table() + text[end + len(END) :]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate the policy table of policies/README.md.")
    parser.add_argument("--write", type=Path, action="append", default=[], help="replace the block in FILE")
    targets = parser.parse_args().write
    if not targets:
        print(render_policy_table())
    for target in targets:
        target.write_text(replace_block(target.read_text(encoding="utf-8")), encoding="utf-8")


__all__ = [
    "ScanSummaryError",
    "coverage_lines",
    "load_scan_summary",
    "render_policy_table",
    "render_report",
    "third_party_scan_lines",
    "write_report",
]


if __name__ == "__main__":
    main()
