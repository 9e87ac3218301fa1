"""Day-one checks: the network paths the platform needs, judged by the plan's NetworkPolicies.

`flows.required_flows` declares what must talk to what (derived from which resources the plan holds);
`network_policy_eval` applies Kubernetes NetworkPolicy semantics. Three policies follow from that:
every required flow is allowed; every rule of every NetworkPolicy carries at least one required flow
(nothing else open); and no ingress rule opens the database to all namespaces or all addresses.
The cloud-reachability, names-and-labels and backup-destination checks of the day-one set are exported
here as well (`POLICIES`), so the package's `__init__` needs only this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from kiva_policies.base import MANDATORY, get
from kiva_policies.day_one import backup_destinations, names, reachability
from kiva_policies.day_one.flows import Matrix, required_flows, view
from kiva_policies.day_one.network_policy_eval import Pod, describe_rule, evaluate, rule_carries


def _blocked(matrix: Matrix) -> list[tuple[Any, Any]]:
    result = []
    for flow in matrix.flows:
        verdict = evaluate(flow, matrix.policies, matrix.namespaces)
        if not verdict.allowed:
            result.append((flow, verdict))
    return result


def _urn_of(matrix: Matrix, policy_name: str) -> str | None:
    for policy in matrix.policies:
        if str(policy) == policy_name:
            return policy.urn
    return None


def _check_required(args: StackValidationArgs, report: ReportViolation) -> None:
    matrix = required_flows(view(args.resources))
    for flow, verdict in _blocked(matrix):
        report(
            f"Required flow {flow} is blocked: the {verdict.side} is isolated by NetworkPolicy "
            f"{', '.join(verdict.blocked_by)} and no rule of those policies admits "
            f"{flow.protocol} {flow.port} {'to' if verdict.side.startswith('egress') else 'from'} "
            f"{flow.target if verdict.side.startswith('egress') else flow.source}. Add a rule for this path.",
            _urn_of(matrix, verdict.blocked_by[0]) if verdict.blocked_by else None,
        )


required_flows_allowed = StackValidationPolicy(
    name="kiva-network-required-flows-allowed",
    description=(
        "Every flow the platform needs on a real cluster (clients to the gateway, gateway to models, database "
        "and providers, CloudNativePG operator, instances, Jobs and pooler to each other and to the API "
        "server, backups to the object store, External Secrets to Key Vault, DNS) is allowed by the "
        "NetworkPolicies of the plan under Kubernetes semantics."
    ),
    validate=_check_required,
    enforcement_level=MANDATORY,
)


def _check_nothing_else(args: StackValidationArgs, report: ReportViolation) -> None:
    matrix = required_flows(view(args.resources))
    for policy in matrix.policies:
        for rule in policy.rules:
            if not any(rule_carries(rule, flow, matrix.namespaces) for flow in matrix.flows):
                report(
                    f"NetworkPolicy {policy}: rule {rule.direction}[{rule.index}] ({describe_rule(rule)}) "
                    "carries no flow the platform needs; it only opens a path. Remove it, or narrow it to "
                    "the flow it is meant for.",
                    policy.urn,
                )


nothing_else_open = StackValidationPolicy(
    name="kiva-network-nothing-else-open",
    description=(
        "Every rule of every NetworkPolicy in the plan carries at least one flow the platform needs, so that "
        "no rule opens a path nobody uses."
    ),
    validate=_check_nothing_else,
    enforcement_level=MANDATORY,
)


def _opens_to_all(peer: Mapping[str, Any]) -> str | None:
    block = get(peer, "ipBlock")
    if block is not None:
        cidr = str(get(block, "cidr", default=""))
        return f"all addresses (ipBlock {cidr})" if cidr.endswith("/0") else None
    selector = get(peer, "namespaceSelector")
    if (
        isinstance(selector, Mapping)
        and not get(selector, "matchLabels")
        and not get(selector, "matchExpressions")
    ):
        return "all namespaces (empty namespaceSelector)"
    return None


def _check_database(args: StackValidationArgs, report: ReportViolation) -> None:
    matrix = required_flows(view(args.resources))
    for policy in matrix.policies:
        selected = [p for p in matrix.database_pods if isinstance(p, Pod) and policy.selects(p)]
        if not selected or "Ingress" not in policy.types:
            continue
        for rule in policy.rules:
            if rule.direction != "ingress":
                continue
            reasons = (
                ["every source (the rule has no `from`)"]
                if rule.peers is None
                else [r for r in (_opens_to_all(peer) for peer in rule.peers) if r]
            )
            for reason in reasons:
                report(
                    f"NetworkPolicy {policy}: rule ingress[{rule.index}] opens the database pods "
                    f"({', '.join(str(p) for p in selected)}) to {reason}. Admit only the pods that need "
                    "PostgreSQL (gateway or pooler, operator, instances, CloudNativePG Jobs).",
                    policy.urn,
                )


database_not_open = StackValidationPolicy(
    name="kiva-network-database-not-open-to-all",
    description=(
        "No ingress rule admits all namespaces or all addresses to the database instances or the pooler, so "
        "that PostgreSQL is reachable only from the pods that need it."
    ),
    validate=_check_database,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [
    required_flows_allowed,
    nothing_else_open,
    database_not_open,
    *reachability.POLICIES,
    *names.POLICIES,
    *backup_destinations.POLICIES,
]


def summary(resources: list[Any]) -> list[str]:
    """For `kiva plan`: how many required flows the NetworkPolicies allow, and each blocked one."""
    from pulumi_policy.proxy import unknown_checking_proxy

    from kiva_policies.base import engine_props

    class _Proxied:
        def __init__(self, resource: Any) -> None:
            self.type = getattr(resource, "resource_type", None) or resource.type
            self.props = unknown_checking_proxy(engine_props(resource.props or {}))
            self.urn, self.name = resource.urn, resource.name
            self.dependencies = getattr(resource, "dependencies", ())

    try:
        matrix = required_flows(view(_Proxied(r) for r in resources))
        blocked = _blocked(matrix)
    except UnknownValueError as error:
        return [f"flows: not verifiable ({error.message})"]
    lines = [f"flows: {len(matrix.flows)} required, {len(matrix.flows) - len(blocked)} allowed"]
    for flow, verdict in blocked:
        lines.append(
            f"blocked: {flow.source} → {flow.target}:{flow.port}/{flow.protocol} ({flow.purpose}), "
            f"by {', '.join(verdict.blocked_by)} ({verdict.side})"
        )
    return lines
