"""What every Azure component shares: names, tags, built-in role ids and workload-identity plumbing.

Kept in one place so that a tag key or a role id cannot drift between components.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

#: Audience of every federated identity credential for Kubernetes workload identity.
WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange"


class BuiltInRole:
    """Ids of the Azure built-in roles KIVA assigns (stable across tenants; checked against Azure's
    built-in roles reference, where a wrong id fails only at `pulumi up`)."""

    KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
    STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
    NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
    )


def resource_prefix(name: str) -> str:
    """`<name>-<stack>`, the stem of every Azure resource name of this stack (e.g. `kiva-prod`)."""
    return f"{name}-{pulumi.get_stack()}"


@dataclass(frozen=True)
class AzureContext:
    """Where and how Azure resources of this stack are created; handed to every Azure component.

    Only what every component needs (region, tags, the deploying identity and its tenant): what a
    single component needs from the stack's settings is in that component's own `Args`.
    """

    location: str
    tags: Mapping[str, str]
    tenant_id: pulumi.Output[str]
    subscription_id: pulumi.Output[str]
    deployer_object_id: pulumi.Output[str]


def role_assignment(
    name: str,
    ctx: AzureContext,
    scope: pulumi.Input[str],
    role: str,
    principal_id: pulumi.Input[str],
    service_principal: bool,
    opts: pulumi.ResourceOptions,
) -> authorization.RoleAssignment:
    """Assign a built-in role; managed identities are `ServicePrincipal`, the deployer may be a user."""
    return authorization.RoleAssignment(
        name,
        scope=scope,
        role_definition_id=role_definition_id(ctx.subscription_id, role),
        principal_id=principal_id,
        principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL if service_principal else None,
        opts=opts,
    )
