"""The platform's secret values by `SecretName`: generated ones plus those supplied as secure config.

Shared by both cloud paths, so that Key Vault (Azure) and inline Kubernetes Secrets (existing clusters)
always hold the same set of names.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.contracts import SecretName
from infra.settings import StackSettings


def platform_secret_values(
    settings: StackSettings, config: pulumi.Config, generated: Mapping[str, pulumi.Output[str]]
) -> dict[str, pulumi.Output[str]]:
    """Generated secrets, the Hugging Face token (when set) and every external provider's API key."""
    values = dict(generated)
    if "huggingFaceToken" in settings.secret_keys:
        values[SecretName.HUGGING_FACE_TOKEN] = config.require_secret("huggingFaceToken")
    for provider in settings.providers:
        values[SecretName.provider_api_key(provider.name)] = config.require_secret(provider.api_key_secret)
    return {name: pulumi.Output.secret(value) for name, value in values.items()}
