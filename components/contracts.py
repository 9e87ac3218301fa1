"""What the cloud layer hands to the platform layer.

The cloud layer (Azure, or an existing cluster) ends in a `CloudFoundation`: a Kubernetes provider,
where the platform's secrets come from, and where database backups go. The platform layer knows
nothing else about the cloud, which is what lets an agency swap AKS for STACKIT without touching it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

#: Namespace of the gateway, the model servers and the database cluster.
PLATFORM_NAMESPACE = "kiva"
#: Name of the CloudNativePG cluster; its pods run as the service account of the same name.
DATABASE_CLUSTER_NAME = "kiva-db"
#: Namespace and service account External Secrets uses to read Key Vault (workload identity).
EXTERNAL_SECRETS_NAMESPACE = "external-secrets"
EXTERNAL_SECRETS_SERVICE_ACCOUNT = "kiva-keyvault-reader"


class SecretName:
    """Logical names of the platform's secrets: Key Vault secret names and Kubernetes Secret keys alike."""

    MASTER_KEY = "litellm-master-key"
    SALT_KEY = "litellm-salt-key"
    DATABASE_PASSWORD = "database-password"
    HUGGING_FACE_TOKEN = "huggingface-token"
    BACKUP_ACCESS_KEY_ID = "backup-access-key-id"
    BACKUP_SECRET_ACCESS_KEY = "backup-secret-access-key"

    @staticmethod
    def provider_api_key(provider: str) -> str:
        return f"provider-{provider}-api-key"


@dataclass(frozen=True)
class KeyVaultSecrets:
    """Secrets live in Azure Key Vault; the platform syncs them with External Secrets (workload identity)."""

    vault_url: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    reader_client_id: pulumi.Output[str]
    """Client id of the user-assigned identity federated with the External Secrets service account."""
    names: frozenset[str]
    """The `SecretName`s stored in the vault."""


@dataclass(frozen=True)
class InlineSecrets:
    """Secrets are Pulumi secrets; the platform writes them into Kubernetes Secrets (existing clusters)."""

    values: Mapping[str, pulumi.Output[str]]
    """Secret values by `SecretName`; every value is a Pulumi secret."""


@dataclass(frozen=True)
class AzureBlobBackups:
    """Backups to an Azure storage container, authenticated by workload identity."""

    destination_path: pulumi.Output[str]
    """`https://<account>.blob.core.windows.net/<container>/`"""
    client_id: pulumi.Output[str]
    """Client id of the identity federated with the database cluster's service account."""


@dataclass(frozen=True)
class S3Backups:
    """Backups to S3-compatible storage; the credentials are the `BACKUP_*` inline secrets."""

    destination_path: str
    """`s3://<bucket>/<path>/`"""
    endpoint_url: str
    region: str


@dataclass(frozen=True)
class CloudFoundation:
    """Everything the platform layer needs from the cloud layer."""

    kubernetes: k8s.Provider
    secrets: KeyVaultSecrets | InlineSecrets
    backups: AzureBlobBackups | S3Backups
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Resources the platform must wait for (e.g. GPU node pools, role assignments)."""
    outputs: dict[str, pulumi.Output] = field(default_factory=dict)
    """Stack outputs of the cloud layer (no secret in plain text)."""
