"""Chooses the cloud layer for a stack: a new AKS cluster on Azure, or an existing cluster.

A thin dispatcher: both paths end in the same `CloudFoundation`, so the platform layer never asks
which cloud it runs on.
"""

from __future__ import annotations

import dataclasses

import pulumi

from components.azure.foundation import build_azure_foundation
from components.contracts import CloudFoundation, SecretName
from components.existing.cluster import build_existing_foundation
from components.generated_secrets import GeneratedSecrets
from infra.settings import AzureCluster, StackSettings
from infra.settings.redis import redis_enabled

NAME = "kiva"


def build_foundation(settings: StackSettings, config: pulumi.Config) -> CloudFoundation:
    """The cloud layer of the stack: Azure resources for `provider: azure`, none for `provider: existing`."""
    gateway = settings.gateway
    generated = GeneratedSecrets(NAME, redis_password=redis_enabled(gateway.redis, gateway.max_replicas))
    if isinstance(settings.cluster, AzureCluster):
        foundation = build_azure_foundation(NAME, settings, config, generated.values)
    else:
        foundation = build_existing_foundation(NAME, settings, config, generated.values)
    # The same value on every cloud: the gateway reads it from the secret store, `pulumi up` from here.
    return dataclasses.replace(foundation, gateway_master_key=generated.values[SecretName.MASTER_KEY])
