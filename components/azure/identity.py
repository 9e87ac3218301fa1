"""A user-assigned identity federated with one Kubernetes service account (workload identity)."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import managedidentity

from components.azure.common import WORKLOAD_IDENTITY_AUDIENCE, AzureContext


class FederatedIdentity(pulumi.ComponentResource):
    """A user-assigned identity that one Kubernetes service account can act as (workload identity).

    No secret ever leaves Azure: the pod exchanges its projected service-account token, issued by the
    cluster's OIDC issuer, for an Entra ID token of this identity.
    """

    identity: managedidentity.UserAssignedIdentity
    credential: managedidentity.FederatedIdentityCredential
    client_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        identity_name: str,
        ctx: AzureContext,
        resource_group_name: pulumi.Input[str],
        oidc_issuer_url: pulumi.Input[str],
        namespace: str,
        service_account: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:azure:FederatedIdentity", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self.identity = managedidentity.UserAssignedIdentity(
            name,
            resource_name_=identity_name,
            resource_group_name=resource_group_name,
            location=ctx.location,
            tags=ctx.tags,
            opts=child_opts,
        )
        self.credential = managedidentity.FederatedIdentityCredential(
            f"{name}-federation",
            federated_identity_credential_resource_name=f"{namespace}-{service_account}",
            resource_group_name=resource_group_name,
            resource_name_=self.identity.name,
            issuer=oidc_issuer_url,
            subject=f"system:serviceaccount:{namespace}:{service_account}",
            audiences=[WORKLOAD_IDENTITY_AUDIENCE],
            opts=child_opts,
        )
        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.register_outputs({"clientId": self.client_id})
