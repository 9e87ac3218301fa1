"""Chooses the cloud layer for a stack: a new AKS cluster on Azure, or an existing cluster."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import CloudFoundation, InlineSecrets, S3Backups, SecretName
from components.generated_secrets import GeneratedSecrets
from infra.settings import StackSettings


def build_foundation(settings: StackSettings, config: pulumi.Config) -> CloudFoundation:
    """The cloud layer of the stack. (Skeleton: issue "Azure cloud layer" fills in the Azure path.)"""
    generated = GeneratedSecrets("kiva")
    kubeconfig = config.get_secret("kubeconfig")
    context = getattr(settings.cluster, "context", None)
    provider = k8s.Provider(
        "kiva-cluster",
        kubeconfig=kubeconfig,
        context=context,
        cluster_identifier=context or "kiva",
    )
    store = settings.backups.object_store
    backups = S3Backups(
        destination_path=f"s3://{store.bucket}/{store.path}/" if store else "",
        endpoint_url=str(store.endpoint) if store else "",
        region=store.region if store else "",
    )
    values = dict(generated.values)
    for key, name in (("huggingFaceToken", SecretName.HUGGING_FACE_TOKEN),):
        if key in settings.secret_keys:
            values[name] = config.require_secret(key)
    return CloudFoundation(kubernetes=provider, secrets=InlineSecrets(values), backups=backups)
