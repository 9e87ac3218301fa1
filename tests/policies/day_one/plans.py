"""The committed stacks as the policies see them, and resource-level mutations of them.

Tests change props of single resources (deep copies), never the components, so they do not depend
on how the components build the plan today.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from kiva_policies.runner import Finding, PlannedResource, run_pack

from infra.offline.digest import preview_digest
from infra.offline.preview_file import planned_resources
from tests.conftest import _committed_plan

AGENT_POOL = "azure-native:containerservice:AgentPool"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"


@cache
def _stack(stack: str) -> tuple[PlannedResource, ...]:
    return tuple(planned_resources(preview_digest(_committed_plan(stack))))


def resources_of(stack: str) -> list[PlannedResource]:
    """The committed stack's resources, as `kiva plan` hands them to the pack (fresh deep copies)."""
    return [replace(r, props=copy.deepcopy(r.props)) for r in _stack(stack)]


def find(resources: list[PlannedResource], predicate: Callable[[PlannedResource], bool]) -> PlannedResource:
    matches = [r for r in resources if predicate(r)]
    assert matches, "no resource matches"
    return matches[0]


def by_type_and_name(resource_type: str, name: str) -> Callable[[PlannedResource], bool]:
    """Match a resource by type and by its name (URN tail, agentPoolName, release name or metadata.name)."""

    def predicate(r: PlannedResource) -> bool:
        if r.type != resource_type:
            return False
        props: dict[str, Any] = r.props
        names = {
            r.name,
            props.get("agentPoolName"),
            props.get("name"),
            props.get("chart"),
            (props.get("metadata") or {}).get("name"),
        }
        return name in names

    return predicate


def mutate(
    resources: list[PlannedResource],
    predicate: Callable[[PlannedResource], bool],
    change: Callable[[dict], Any],
) -> list[PlannedResource]:
    """The resources with `change(props)` applied to a copy of the props of each matching one."""
    result = []
    hit = False
    for r in resources:
        if predicate(r):
            props = copy.deepcopy(r.props)
            change(props)
            r = replace(r, props=props)
            hit = True
        result.append(r)
    assert hit, "mutation matched no resource"
    return result


def without(
    resources: list[PlannedResource], predicate: Callable[[PlannedResource], bool]
) -> list[PlannedResource]:
    kept = [r for r in resources if not predicate(r)]
    assert len(kept) < len(resources), "nothing removed"
    return kept


def clone(
    resource: PlannedResource, suffix: str, change: Callable[[dict], Any] | None = None
) -> PlannedResource:
    """A copy under a new URN and metadata.name (`<name>-<suffix>`)."""
    props = copy.deepcopy(resource.props)
    metadata = props.setdefault("metadata", {})
    if "name" in metadata:
        metadata["name"] = f"{metadata['name']}-{suffix}"
    if change:
        change(props)
    return replace(resource, urn=f"{resource.urn}-{suffix}", name=f"{resource.name}-{suffix}", props=props)


def findings(resources: list[PlannedResource], policy: str) -> list[Finding]:
    """What one policy of the pack finds (the others disabled, as `--policy-config` would)."""
    report = run_pack(resources, {"all": "disabled", policy: "mandatory"})
    assert report.policies == [policy]
    return [f for f in report.findings if f.policy == policy]
