"""Dependency helpers for the day-one tests: what a registration waits for, directly or through parents."""

from __future__ import annotations

from infra.offline.engine import Plan, Registration

PLATFORM = "kiva:platform:Platform"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def ancestors(plan: Plan, registration: Registration) -> list[Registration]:
    by_urn = {r.urn: r for r in plan.resources}
    chain, parent = [], registration.parent
    while parent in by_urn:
        chain.append(by_urn[parent])
        parent = by_urn[parent].parent
    return chain


def waits_for(plan: Plan, registration: Registration, urn: str) -> bool:
    """Whether `registration` cannot be registered before `urn` is created.

    The SDK sends a resource's registration only after its parent is registered, and a parent's only
    after its `depends_on` resources are created, so dependencies of ancestors count too; so does the
    explicit provider a resource is created with.
    """
    by_urn = {r.urn: r for r in plan.resources}
    pending, seen = [registration], set()
    while pending:
        current = pending.pop()
        if current.urn in seen:
            continue
        seen.add(current.urn)
        if urn in current.dependencies:
            return True
        # A provider reference is `<provider urn>::<provider id>`.
        linked = [*current.dependencies, current.parent, current.provider.rsplit("::", 1)[0]]
        pending.extend(by_urn[u] for u in linked if u in by_urn)
    return False


def general_pool(plan: Plan) -> Registration:
    (pool,) = [r for r in plan.of_type(AGENT_POOL) if r.inputs["agentPoolName"] == "general"]
    return pool


def platform(plan: Plan) -> Registration:
    (component,) = plan.of_type(PLATFORM)
    return component
