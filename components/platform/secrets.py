"""The Kubernetes Secrets the gateway, the database bootstrap, its backups and the model servers read.

Which Secret holds which value under which key is the secrets table (`infra.settings.secrets_table`);
the backup store's credentials Secret is what the backup target names. Where the values come from is
the cloud layer's secret store: an `ExternalSecretsStore` (a cloud secret manager such as Key Vault)
gets a `ClusterSecretStore` and one `ExternalSecret` per Secret, since operators and the CNPG bootstrap
need real Secrets that exist before any pod mounts them, which the CSI driver does not provide;
`InlineSecrets` are Pulumi secrets written into plain Secrets. Either way a value never appears in a
spec, a ConfigMap, an env literal or an output: consumers reference it with `secretKeyRef`.
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
    ExternalSecretsStore,
    InlineSecrets,
)
from components.platform.common import child_opts, labels
from infra.settings.secrets_table import provider_env as provider_env

#: Names kept from the first (Key Vault) store: renaming them would replace the resources.
SECRET_STORE = "kiva-keyvault"
REFRESH_INTERVAL = "1h"


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


@dataclass(frozen=True)
class SecretsArgs:
    """The Secrets to make, and where their values come from (the cloud layer's secret store)."""

    specs: tuple[SecretSpec, ...]
    store: ExternalSecretsStore | InlineSecrets


def _url_filler(template: str) -> Callable[[dict[str, str]], str]:
    """Fills `{key}` fields of a URL template with URL-quoted values (passwords may hold `@`, `/`, `:`)."""

    def fill(values: dict[str, str]) -> str:
        return template.format(**{key: quote(value, safe="") for key, value in values.items()})

    return fill


class PlatformSecrets(pulumi.ComponentResource):
    """Creates the Secrets (inline) or their `ExternalSecret`s and the `ClusterSecretStore`.

    `ready` lists the resources a consumer should depend on.
    """

    ready: list[pulumi.Resource]
    store: k8s.apiextensions.CustomResource | None

    def __init__(
        self,
        name: str,
        args: SecretsArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Secrets", name, None, opts)
        self._name = name
        specs = list(args.specs)
        self.store = None
        if isinstance(args.store, ExternalSecretsStore):
            self.ready = self._external(specs, args.store, depends_on)
        else:
            self.ready = self._inline(specs, args.store, depends_on)
        self.register_outputs({"secrets": [spec.name for spec in specs]})

    # A secret manager, read by External Secrets -------------------------------------------------------

    def _external(
        self, specs: list[SecretSpec], store: ExternalSecretsStore, depends_on: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        missing = sorted({n for s in specs for n in s.keys.values()} - set(store.names))
        if missing:
            raise ValueError(
                f"the secret store holds no secret named {', '.join(missing)}; the platform reads them"
            )
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-keyvault-reader",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                namespace=EXTERNAL_SECRETS_NAMESPACE,
                labels=labels("external-secrets", "keyvault-reader"),
                annotations=dict(store.reader_annotations),
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
                "provider": dict(store.provider),
                # Only the platform namespace may read the secret manager through this store.
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

    # No secret manager: plain Secrets from Pulumi secrets ---------------------------------------------

    def _inline(
        self, specs: list[SecretSpec], inline: InlineSecrets, depends_on: list[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        def value(secret_name: str) -> pulumi.Output[str]:
            if secret_name not in inline.values:
                raise ValueError(
                    f"no value for the secret {secret_name!r}: the cloud layer did not provide it"
                )
            return pulumi.Output.secret(inline.values[secret_name])

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
