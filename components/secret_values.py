"""The values the platform's secret store holds, by `SecretName`: the rows of the secrets table.

Shared by both cloud paths, so that Key Vault (Azure) and inline Kubernetes Secrets (existing clusters)
always hold the same set of names.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.settings import StackSettings
from infra.settings.secrets_table import Source, stored_secrets


def platform_secret_values(
    settings: StackSettings, config: pulumi.Config, generated: Mapping[str, pulumi.Output[str]]
) -> dict[str, pulumi.Output[str]]:
    """Generated secrets and every secure value the stack sets and can use (`stored_secrets`).

    On Azure that is the Hugging Face token (when set) and every provider's API key; on existing
    clusters also the S3 backup credentials.
    """
    values: dict[str, pulumi.Output[str]] = {}
    for row in stored_secrets(settings):
        if row.source is Source.GENERATED:
            values[row.name] = generated[row.name]
        else:
            assert row.config_key is not None, "every row not generated names its config key"
            values[row.name] = config.require_secret(row.config_key)
    return {name: pulumi.Output.secret(value) for name, value in values.items()}
