"""What `kiva plan` and `kiva check` print: the component tree with resource counts, then the verdicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kiva_policies.runner import PlannedResource, PolicyReport


def component_tree(resources: Iterable[PlannedResource]) -> list[str]:
    """Components (and the stack) as a tree, each with the number of resources below it."""
    resources = list(resources)
    children: dict[str, list[PlannedResource]] = defaultdict(list)
    for resource in resources:
        children[resource.parent].append(resource)

    def count(urn: str) -> int:
        """Custom resources below `urn`, at any depth (components themselves are not counted)."""
        return sum(int(not is_component(child)) + count(child.urn) for child in children[urn])

    def is_component(resource: PlannedResource) -> bool:
        return resource.type.startswith(("kiva:", "pulumi:pulumi:"))

    lines: list[str] = []

    def walk(resource: PlannedResource, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        total = count(resource.urn)
        noun = "resource" if total == 1 else "resources"
        lines.append(f"{prefix}{branch}{resource.name} ({resource.type}): {total} {noun}")
        components = [c for c in children[resource.urn] if is_component(c)]
        for index, child in enumerate(components):
            walk(
                child,
                prefix if root else prefix + ("   " if last else "│  "),
                index == len(components) - 1,
                False,
            )

    for root in children.get("", []):
        walk(root, "", True, True)
    return lines


_MARK = {"violation": "✗", "not-verifiable": "?"}


def policy_lines(report: PolicyReport) -> list[str]:
    mandatory = len(report.mandatory_violations)
    advisory = sum(1 for f in report.findings if f.status == "violation" and f.enforcement != "mandatory")
    unverifiable = sum(1 for f in report.findings if f.status == "not-verifiable")
    waived = sum(1 for f in report.findings if f.status == "waived")
    lines = [
        f"Policies: {len(report.policies)} run, {mandatory} mandatory violation(s), "
        f"{advisory} advisory, {unverifiable} not verifiable" + (f", {waived} waived" if waived else "")
    ]
    order = {"mandatory": 0, "advisory": 1}
    for finding in sorted(report.findings, key=lambda f: (order.get(f.enforcement, 2), f.policy, f.urn)):
        name = finding.urn.rsplit("::", 1)[-1]
        # a waived finding names the exception that accepts it (reason, owner, ticket, expiry)
        accepted = f"; waived: {finding.waiver}" if finding.status == "waived" else ""
        lines.append(
            f"  {_MARK.get(finding.status, '-')} [{finding.enforcement}] {finding.policy}: "
            f"{finding.message} ({name}){accepted}"
        )
    return lines
