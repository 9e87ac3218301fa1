"""A bounded pause between granting the deployer its AKS role and the first Kubernetes API call.

With local accounts disabled, `pulumi up` reaches the Kubernetes API only through the deployer's Azure
RBAC role on the cluster (AKS RBAC Cluster Admin), and that role is created in the same run. Azure's
AKS docs ("Use Azure RBAC for Kubernetes Authorization") state that new role assignments can take up to
five minutes to propagate and be updated by the authorization server; until then the API server answers
403, and pulumi-kubernetes does not retry a Forbidden create. `RbacPropagation` is a dynamic resource
that depends on the role assignment and, when created, waits `seconds` (default 300: the documented
five minutes). The Kubernetes provider and the platform depend on it, so the first Kubernetes call
happens after that window.

The wait happens only on create, i.e. on the first `pulumi up` and when the role assignment is
replaced; updates, refreshes and deletes do not wait, and `pulumi preview` never calls `create`.
The provider class is pickled by reference: keep this module's path stable (the state names it).
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

#: The AKS docs' upper bound for a new Azure RBAC role assignment to reach the cluster's authorizer.
DEFAULT_PROPAGATION_SECONDS = 300
#: Never wait longer than this, whatever the caller asks (the wait blocks the whole deployment).
MAX_PROPAGATION_SECONDS = 900


class RbacPropagationProvider(ResourceProvider):
    """Creates nothing: `create` sleeps for the requested number of seconds, once."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(min(int(props["seconds"]), MAX_PROPAGATION_SECONDS))
        return CreateResult(id_=str(props["roleAssignmentId"]), outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        # A new role assignment needs a new wait; a changed duration alone does not.
        replaced = _olds.get("roleAssignmentId") != _news.get("roleAssignmentId")
        changed = replaced or _olds.get("seconds") != _news.get("seconds")
        return DiffResult(changes=changed, replaces=["roleAssignmentId"] if replaced else [])

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_news)


class RbacPropagation(Resource, module="kiva", name="RbacPropagation"):
    """Completes `seconds` after `role_assignment` exists (on first creation only)."""

    def __init__(
        self,
        name: str,
        role_assignment: pulumi.CustomResource,
        seconds: int = DEFAULT_PROPAGATION_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if not 0 <= seconds <= MAX_PROPAGATION_SECONDS:
            raise ValueError(f"seconds must be between 0 and {MAX_PROPAGATION_SECONDS} (got {seconds})")
        super().__init__(
            RbacPropagationProvider(),
            name,
            {"roleAssignmentId": role_assignment.id, "seconds": seconds},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role_assignment])),
        )
