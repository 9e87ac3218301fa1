"""The Kubernetes Secrets the gateway, the database bootstrap, its backups and the model servers read.

On Azure the values stay in Key Vault and External Secrets copies them in (a `ClusterSecretStore` with
workload identity, one `ExternalSecret` per Secret): operators and the CNPG bootstrap need real Secrets
that exist before any pod mounts them, which the CSI driver does not provide. On `existing` clusters
the values are Pulumi secrets written into plain Secrets. Either way a value never appears in a spec,
a ConfigMap, an env literal or an output: consumers reference it with `secretKeyRef`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import (
    EXTERNAL_SECRETS_NAMESPACE,
    EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    PLATFORM_NAMESPACE,
    CloudFoundation,
    InlineSecrets,
    KeyVaultSecrets,
    S3Backups,
    SecretName,
)
from components.platform.common import (
    BACKUP_SECRET,
    DATABASE_SECRET,
    GATEWAY_SECRET,
    HUGGING_FACE_SECRET,
    child_opts,
    labels,
)
from components.platform.database_names import DATABASE_NAME, DATABASE_OWNER, database_host
from infra.settings import StackSettings

SECRET_STORE = "kiva-keyvault"
REFRESH_INTERVAL = "1h"


def provider_env(provider: str) -> str:
    """The env var (and Secret key) holding an external provider's API key."""
    return "PROVIDER_" + provider.upper().replace("-", "_") + "_API_KEY"


@dataclass(frozen=True)
class SecretSpec:
    """One Kubernetes Secret: which logical secret goes under which key, plus non-secret parts."""

    name: str
    type: str = "Opaque"
    keys: Mapping[str, str] = field(default_factory=dict)
    """Secret key -> `SecretName` (Key Vault secret name / inline value name)."""
    literals: Mapping[str, str] = field(default_factory=dict)
    """Secret key -> a value that is not secret (a user name, a region)."""
    urls: Mapping[str, str] = field(default_factory=dict)
    """Secret key -> a template whose `{key}` fields are URL-quoted values of `keys`."""


def required_secrets(settings: StackSettings, foundation: CloudFoundation) -> list[SecretSpec]:
    """Every Secret this stack's workloads read."""
    database_url = (
        f"postgresql://{DATABASE_OWNER}:{{password}}@{database_host(settings)}:5432/{DATABASE_NAME}"
    )
    gateway_keys = {
        "LITELLM_MASTER_KEY": SecretName.MASTER_KEY,
        "LITELLM_SALT_KEY": SecretName.SALT_KEY,
        "password": SecretName.DATABASE_PASSWORD,
    }
    gateway_keys |= {provider_env(p.name): SecretName.provider_api_key(p.name) for p in settings.providers}
    specs = [
        SecretSpec(
            DATABASE_SECRET,
            type="kubernetes.io/basic-auth",
            keys={"password": SecretName.DATABASE_PASSWORD},
            literals={"username": DATABASE_OWNER},
        ),
        SecretSpec(GATEWAY_SECRET, keys=gateway_keys, urls={"DATABASE_URL": database_url}),
    ]
    if any(model.gated for model in settings.models):
        specs.append(SecretSpec(HUGGING_FACE_SECRET, keys={"HF_TOKEN": SecretName.HUGGING_FACE_TOKEN}))
    if isinstance(foundation.backups, S3Backups):
        specs.append(
            SecretSpec(
                BACKUP_SECRET,
                keys={
                    "ACCESS_KEY_ID": SecretName.BACKUP_ACCESS_KEY_ID,
                    "ACCESS_SECRET_KEY": SecretName.BACKUP_SECRET_ACCESS_KEY,
                },
                literals={"REGION": foundation.backups.region},
            )
        )
    return specs


def config_fallbacks(settings: StackSettings) -> dict[str, str]:
    """`SecretName` -> the secure `kiva:` config key holding it, for values the foundation did not pass."""
    fallbacks = {
        SecretName.HUGGING_FACE_TOKEN: "huggingFaceToken",
        SecretName.BACKUP_ACCESS_KEY_ID: "backupAccessKeyId",
        SecretName.BACKUP_SECRET_ACCESS_KEY: "backupSecretAccessKey",
    }
    fallbacks |= {SecretName.provider_api_key(p.name): p.api_key_secret for p in settings.providers}
    return fallbacks


def _url_filler(template: str) -> Callable[[dict[str, str]], str]:
    """Fills `{key}` fields of a URL template with URL-quoted values (passwords may hold `@`, `/`, `:`)."""

    def fill(values: dict[str, str]) -> str:
        return template.format(**{key: quote(value, safe="") for key, value in values.items()})

    return fill


class PlatformSecrets(pulumi.ComponentResource):
    """Creates the Secrets (inline) or their `ExternalSecret`s and the store (Key Vault).

    `ready` lists the resources a consumer should depend on.
    """

    ready: list[pulumi.Resource]
    store: k8s.apiextensions.CustomResource | None

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        foundation: CloudFoundation,
        config: pulumi.Config,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Secrets", name, None, opts)
        self._name = name
        specs = required_secrets(settings, foundation)
        self.store = None
        if isinstance(foundation.secrets, KeyVaultSecrets):
            self.ready = self._external(specs, foundation.secrets, depends_on)
        else:
            self.ready = self._inline(specs, foundation.secrets, settings, config, depends_on)
        self.register_outputs({"secrets": [spec.name for spec in specs]})

    # Azure: External Secrets ------------------------------------------------------------------------

    def _external(
        self, specs: list[SecretSpec], vault: KeyVaultSecrets, depends_on: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        missing = sorted({n for s in specs for n in s.keys.values()} - set(vault.names))
        if missing:
            raise ValueError(f"Key Vault holds no secret named {', '.join(missing)}; the platform reads them")
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-keyvault-reader",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                namespace=EXTERNAL_SECRETS_NAMESPACE,
                labels=labels("external-secrets", "keyvault-reader"),
                annotations={
                    "azure.workload.identity/client-id": vault.reader_client_id,
                    "azure.workload.identity/tenant-id": vault.tenant_id,
                },
            ),
            automount_service_account_token=False,
            opts=child_opts(self, depends_on=depends_on),
        )
        self.store = k8s.apiextensions.CustomResource(
            f"{self._name}-store",
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SECRET_STORE, labels=labels("external-secrets", "store")
            ),
            spec={
                "provider": {
                    "azurekv": {
                        "authType": "WorkloadIdentity",
                        "vaultUrl": vault.vault_url,
                        "tenantId": vault.tenant_id,
                        "environmentType": "PublicCloud",
                        "serviceAccountRef": {
                            "name": EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                            "namespace": EXTERNAL_SECRETS_NAMESPACE,
                        },
                    }
                },
                # Only the platform namespace may read Key Vault through this store.
                "conditions": [{"namespaces": [PLATFORM_NAMESPACE]}],
            },
            opts=child_opts(self, depends_on=[*depends_on, account]),
        )
        return [
            k8s.apiextensions.CustomResource(
                f"{self._name}-{spec.name}",
                api_version="external-secrets.io/v1",
                kind="ExternalSecret",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=spec.name, namespace=PLATFORM_NAMESPACE, labels=labels(spec.name, "secret")
                ),
                spec=self._external_spec(spec),
                opts=child_opts(self, depends_on=[*depends_on, self.store]),
            )
            for spec in specs
        ]

    @staticmethod
    def _external_spec(spec: SecretSpec) -> dict:
        template = {key: f"{{{{ .{key} }}}}" for key in spec.keys}
        template |= dict(spec.literals)
        for key, url in spec.urls.items():
            template[key] = url.format(**{k: f"{{{{ .{k} | urlquery }}}}" for k in spec.keys})
        return {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": {
                "name": spec.name,
                "creationPolicy": "Owner",
                "deletionPolicy": "Retain",
                "template": {
                    "type": spec.type,
                    "engineVersion": "v2",
                    "mergePolicy": "Replace",
                    "data": template,
                },
            },
            "data": [{"secretKey": key, "remoteRef": {"key": name}} for key, name in spec.keys.items()],
        }

    # Existing clusters: plain Secrets from Pulumi secrets ----------------------------------------------

    def _inline(
        self,
        specs: list[SecretSpec],
        inline: InlineSecrets,
        settings: StackSettings,
        config: pulumi.Config,
        depends_on: list[pulumi.Resource],
    ) -> list[pulumi.Resource]:
        fallbacks = config_fallbacks(settings)

        def value(secret_name: str) -> pulumi.Output[str]:
            if secret_name in inline.values:
                return pulumi.Output.secret(inline.values[secret_name])
            if secret_name in fallbacks:
                return config.require_secret(fallbacks[secret_name])
            raise ValueError(f"no value for the secret {secret_name!r}: the cloud layer did not provide it")

        secrets: list[pulumi.Resource] = []
        for spec in specs:
            data: dict[str, pulumi.Input[str]] = {key: value(name) for key, name in spec.keys.items()}
            data |= dict(spec.literals)
            for key, url in spec.urls.items():
                parts = {k: value(n) for k, n in spec.keys.items()}
                data[key] = pulumi.Output.secret(pulumi.Output.all(**parts).apply(_url_filler(url)))
            secrets.append(
                k8s.core.v1.Secret(
                    f"{self._name}-{spec.name}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=spec.name, namespace=PLATFORM_NAMESPACE, labels=labels(spec.name, "secret")
                    ),
                    type=spec.type,
                    string_data=data,
                    opts=child_opts(
                        self, depends_on=depends_on, additional_secret_outputs=["stringData", "data"]
                    ),
                )
            )
        return secrets
