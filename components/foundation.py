"""Chooses the cloud layer for a stack: a new AKS cluster on Azure, or an existing cluster.

A thin dispatcher: both paths end in the same `CloudFoundation`, so the platform layer never asks
which cloud it runs on.
"""

from __future__ import annotations

import pulumi

from components.azure.foundation import build_azure_foundation
from components.contracts import CloudFoundation
from components.existing.cluster import build_existing_foundation
from components.generated_secrets import GeneratedSecrets
from infra.settings import AzureCluster, StackSettings

NAME = "kiva"


def build_foundation(settings: StackSettings, config: pulumi.Config) -> CloudFoundation:
    """The cloud layer of the stack: Azure resources for `provider: azure`, none for `provider: existing`."""
    generated = GeneratedSecrets(NAME)
    if isinstance(settings.cluster, AzureCluster):
        return build_azure_foundation(NAME, settings, config, generated.values)
    return build_existing_foundation(NAME, settings, config, generated.values)
