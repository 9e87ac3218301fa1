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
from kiva_policies.retention import retention_values
from kiva_policies.runner import PlannedResource, PolicyReport
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
        mark = "✗" if f.status == "violation" else "?"
        where = names.get(f.urn, f.urn.rsplit("::", 1)[-1] if f.urn else "stack")
        lines.append(f"- {mark} **{f.enforcement} {f.status}** `{f.policy}` on `{where}`: {_cell(f.message)}")
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
) -> str:
    """The report as Markdown text.

    `sections` are extra (heading, lines) the caller renders, e.g. the CLI's cost estimate: the pack
    never imports `infra`, so what it cannot compute itself is passed in as text.
    """
    plain = [(r, engine_props(r.props or {})) for r in resources]
    names = {r.urn: f"{r.name} ({r.type})" for r in resources}
    mandatory = len(report.mandatory_violations)
    advisory = sum(1 for f in report.findings if f.status == "violation" and f.enforcement != "mandatory")
    unverifiable = sum(1 for f in report.findings if f.status == "not-verifiable")
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
        f"{unverifiable} not verifiable",
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


def write_report(
    report: PolicyReport,
    resources: list[PlannedResource],
    path: Path,
    sections: Sequence[tuple[str, Sequence[str]]] = (),
) -> None:
    """Write the reviewer's Markdown report of one policy run to `path` (with the caller's `sections`)."""
    Path(path).write_text(render_report(report, resources, sections=sections), encoding="utf-8")


__all__ = ["render_report", "write_report"]
