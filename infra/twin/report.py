"""The twin's verdict: what Kubernetes refused, left unplaced or left uncovered, and where pods landed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    subject: str  # "Deployment kiva/kiva-gateway (plan)"
    message: str


@dataclass
class TwinReport:
    stack: str
    cluster: str
    nodes: dict[str, list[str]] = field(default_factory=dict)  # pool -> node names
    applied: int = 0
    rejected: list[Problem] = field(default_factory=list)
    missing_prerequisites: list[Problem] = field(default_factory=list)
    pod_security_errors: list[Problem] = field(default_factory=list)
    pod_security_warnings: list[Problem] = field(default_factory=list)
    failed_creates: list[Problem] = field(default_factory=list)
    unscheduled: list[Problem] = field(default_factory=list)
    uncovered: list[Problem] = field(default_factory=list)
    unsettled: list[Problem] = field(default_factory=list)
    not_judged: list[Problem] = field(default_factory=list)  # what this control plane could not check
    other_warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pods_per_pool: dict[str, Counter[str]] = field(default_factory=dict)  # pool -> workload -> pods
    timings: dict[str, float] = field(default_factory=dict)

    SECTIONS = (
        ("rejected", "Rejected by the API server"),
        ("missing_prerequisites", "Missing prerequisites (custom resources whose CRD nothing installs)"),
        ("pod_security_errors", "Pod Security violations in namespaces that enforce it"),
        ("failed_creates", "Pods the controllers could not create"),
        ("unscheduled", "Pods left unscheduled (the scheduler's reason)"),
        ("uncovered", "DaemonSets that do not cover the nodes they must"),
        ("unsettled", "Not settled before the timeout"),
        ("not_judged", "Not judged (this control plane cannot check it)"),
        ("pod_security_warnings", "Pod Security warnings (namespace does not enforce; informational)"),
        ("other_warnings", "Other API server warnings (informational)"),
    )
    FAILING = (
        "rejected",
        "missing_prerequisites",
        "pod_security_errors",
        "failed_creates",
        "unscheduled",
        "uncovered",
        "unsettled",
        "not_judged",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.FAILING)

    @property
    def only_unjudged(self) -> bool:
        """Nothing failed, but part of the verdict could not be reached (still exit 1: not a pass)."""
        return bool(self.not_judged) and not any(
            getattr(self, name) for name in self.FAILING if name != "not_judged"
        )

    @property
    def verdict(self) -> str:
        if self.ok:
            return "every object accepted and every pod placed"
        if self.only_unjudged:
            return "NOT JUDGED: every object accepted, but " + "; ".join(p.subject for p in self.not_judged)
        return "FAILED (see above)"

    def placed(self) -> int:
        return sum(sum(c.values()) for c in self.pods_per_pool.values())

    def text(self) -> str:
        lines = [f"Twin of stack {self.stack} on {self.cluster}"]
        lines.append(
            "Nodes: "
            + ", ".join(f"{pool} {len(names)}" for pool, names in self.nodes.items())
            + f"; {self.applied} objects applied, {self.placed()} pods placed"
        )
        for name, title in self.SECTIONS:
            problems = getattr(self, name)
            if problems:
                lines.append(f"{title}: {len(problems)}")
                lines += [f"  - {p.subject}: {p.message}" for p in problems]
        lines.append("Pods per node pool:")
        for pool, counter in self.pods_per_pool.items():
            detail = ", ".join(f"{w} {n}" for w, n in sorted(counter.items()))
            lines.append(f"  {pool}: {sum(counter.values())} ({detail})" if counter else f"  {pool}: 0")
        if self.notes:
            lines.append("Twin notes (what the twin stood in for or did not exercise):")
            lines += [f"  - {note}" for note in self.notes]
        if self.timings:
            lines.append("Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items()))
        lines.append(f"Result: {self.verdict}")
        return "\n".join(lines)

    def markdown(self) -> str:
        out = [f"# Twin of stack `{self.stack}`", "", f"Cluster: {self.cluster}", ""]
        out.append(
            f"**Result: {'passed' if self.ok else 'not judged' if self.only_unjudged else 'failed'}** — "
            f"{self.applied} objects applied, "
            f"{self.placed()} pods placed."
        )
        out += ["", "## Nodes", "", "| pool | nodes |", "| --- | --- |"]
        out += [f"| {pool} | {len(names)} |" for pool, names in self.nodes.items()]
        for name, title in self.SECTIONS:
            problems = getattr(self, name)
            if problems:
                out += ["", f"## {title}", "", "| subject | message |", "| --- | --- |"]
                out += [f"| {_cell(p.subject)} | {_cell(p.message)} |" for p in problems]
        out += ["", "## Pods per node pool", "", "| pool | pods | workloads |", "| --- | --- | --- |"]
        for pool, counter in self.pods_per_pool.items():
            detail = ", ".join(f"{w} {n}" for w, n in sorted(counter.items()))
            out.append(f"| {pool} | {sum(counter.values())} | {_cell(detail)} |")
        if self.notes:
            out += ["", "## What the twin stood in for or did not exercise", ""]
            out += [f"- {note}" for note in self.notes]
        if self.timings:
            out += ["", "## Timings", "", "| phase | seconds |", "| --- | --- |"]
            out += [f"| {k} | {v:.1f} |" for k, v in self.timings.items()]
        return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
