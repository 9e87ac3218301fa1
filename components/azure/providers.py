"""Explicit providers: Azure pinned to the stack's EU region, and the cluster's Kubernetes provider.

An explicit Azure provider means no resource silently follows an ambient `azure-native:location` or
`AZURE_LOCATION`. The Kubernetes provider gets a stable `cluster_identifier` (the AKS resource id), so a
rotated kubeconfig updates the provider in place instead of replacing every Kubernetes resource.
"""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s


def azure_provider(name: str, location: str) -> azure_native.Provider:
    return azure_native.Provider(f"{name}-azure", location=location)


def cluster_provider(
    name: str,
    kubeconfig: pulumi.Output[str],
    cluster_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.Provider:
    """The Kubernetes provider for a new AKS cluster; `kubeconfig` must already be a Pulumi secret."""
    return k8s.Provider(
        f"{name}-cluster",
        kubeconfig=kubeconfig,
        cluster_identifier=cluster_id,
        opts=opts,
    )
