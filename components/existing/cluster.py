"""An existing Kubernetes cluster as the cloud layer: no cloud resource at all, only a provider and secrets.

Agencies without an Azure account (or with a sovereign provider such as STACKIT, IONOS or Open Telekom
Cloud) bring a cluster. KIVA then needs three things, and nothing else from the cloud:
- a Kubernetes provider, from the secure config value `kiva:kubeconfig`, or else from the ambient
  kubeconfig and `kiva:cluster.context`;
- the platform's secrets as Pulumi secrets, which the platform layer writes into Kubernetes Secrets;
- S3-compatible object storage for database backups, with credentials from secure config.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import CloudFoundation, InlineSecrets, S3Backups, SecretName
from components.secret_values import platform_secret_values
from infra.settings import ExistingCluster, StackSettings


class ExistingClusterAccess(pulumi.ComponentResource):
    """The Kubernetes provider for a cluster KIVA did not create."""

    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        cluster: ExistingCluster,
        kubeconfig: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:existing:ExistingClusterAccess", name, None, opts)
        child_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        # A stable identifier: rotating the kubeconfig (new token, new CA) must not replace every resource.
        identifier = f"{pulumi.get_stack()}-{cluster.context or 'kubeconfig'}"
        self.provider = k8s.Provider(
            f"{name}-cluster",
            kubeconfig=kubeconfig,
            context=cluster.context,
            cluster_identifier=identifier,
            opts=child_opts,
        )
        self.register_outputs({})


def build_existing_foundation(
    name: str, settings: StackSettings, config: pulumi.Config, generated: Mapping[str, pulumi.Output[str]]
) -> CloudFoundation:
    cluster = settings.cluster
    assert isinstance(cluster, ExistingCluster)
    store = settings.backups.object_store
    assert store is not None, "validated: existing clusters name their backup object store"
    kubeconfig = config.get_secret("kubeconfig") if "kubeconfig" in settings.secret_keys else None
    access = ExistingClusterAccess(name, cluster, kubeconfig)

    values = platform_secret_values(settings, config, generated)
    values[SecretName.BACKUP_ACCESS_KEY_ID] = pulumi.Output.secret(config.require_secret("backupAccessKeyId"))
    values[SecretName.BACKUP_SECRET_ACCESS_KEY] = pulumi.Output.secret(
        config.require_secret("backupSecretAccessKey")
    )

    return CloudFoundation(
        kubernetes=access.provider,
        secrets=InlineSecrets(values),
        backups=S3Backups(
            destination_path=f"s3://{store.bucket}/{store.path.strip('/')}/",
            endpoint_url=str(store.endpoint).rstrip("/"),
            region=store.region,
        ),
    )
