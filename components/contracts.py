"""What the cloud layer hands to the platform layer.

The cloud layer (Azure, or an existing cluster) ends in a `CloudFoundation`: a capability contract
saying what the platform can use, not which cloud provides it: a Kubernetes provider, where the
platform's secrets come from, the backup target as the Barman Cloud plugin and the database pods need
it, where the platform's own pods can be scheduled, what a pod needs to land on each GPU pool, and
whether External Secrets must be installed. The platform layer knows nothing else about the cloud,
which is what lets an agency swap AKS for STACKIT without touching it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

# The secrets table names the Secret of a backup store's credentials (`BackupCredentials`) and every
# secret's logical name; the contract re-exports them for the cloud layers.
from infra.settings.secrets_table import BACKUP_SECRET as BACKUP_SECRET
from infra.settings.secrets_table import SecretName as SecretName

#: Namespace of the gateway, the model servers and the database cluster.
PLATFORM_NAMESPACE = "kiva"
#: Name of the CloudNativePG cluster; its pods run as the service account of the same name.
DATABASE_CLUSTER_NAME = "kiva-db"
#: Namespace and service account External Secrets uses to read Key Vault (workload identity).
EXTERNAL_SECRETS_NAMESPACE = "external-secrets"
EXTERNAL_SECRETS_SERVICE_ACCOUNT = "kiva-keyvault-reader"
#: Annotation declaring where a backup store keeps its data, for the policy pack's residency check.
BACKUP_REGION_ANNOTATION = "kiva.platform/region"


@dataclass(frozen=True)
class ExternalSecretsStore:
    """The values stay in the cloud's secret manager; External Secrets copies them into Secrets.

    The platform creates a `ClusterSecretStore` with `provider` and the service account
    `EXTERNAL_SECRETS_SERVICE_ACCOUNT` it reads as, annotated with `reader_annotations`.
    """

    provider: Mapping[str, Any]
    """`ClusterSecretStore.spec.provider` (external-secrets.io/v1), e.g. `{"azurekv": {...}}`."""
    reader_annotations: Mapping[str, pulumi.Input[str]]
    """Annotations of the reader service account, e.g. the workload identity it authenticates as."""
    names: frozenset[str]
    """The `SecretName`s the store holds."""


@dataclass(frozen=True)
class ServiceKeyStore:
    """The cloud's secret manager, for values the platform creates at `pulumi up` (gateway service keys).

    External Secrets only reads the store; `write` is the cloud layer's own write path, run by the
    deployer, so the platform layer delivers a key there without any cloud SDK of its own.
    """

    location: str
    """Where the keys land, for documentation and the plan, e.g. `Azure Key Vault`."""
    write: Callable[[str, str, pulumi.Output[str], pulumi.ResourceOptions], pulumi.Resource]
    """`write(resource_name, secret_name, value, opts)`: one secret holding `value` (a Pulumi secret)."""


@dataclass(frozen=True)
class InlineSecrets:
    """No secret manager: the platform writes the values, Pulumi secrets, into Kubernetes Secrets."""

    values: Mapping[str, pulumi.Output[str]]
    """Secret values by `SecretName`; every value is a Pulumi secret."""


@dataclass(frozen=True)
class BackupEgress:
    """Where the database pods must be allowed to connect to reach the backup target."""

    port: int
    namespace: str | None = None
    """The namespace of an in-cluster store; `None`: a store outside the cluster."""
    cidr: str | None = None
    """Outside the cluster, the address range the store's name resolves to (a private endpoint's
    subnet); `None`: any address."""


@dataclass(frozen=True)
class BackupCredentials:
    """The store's credentials as a Secret (`BACKUP_SECRET`) the platform writes for the plugin."""

    keys: Mapping[str, str]
    """Secret key -> `SecretName` of the value."""
    literals: Mapping[str, str] = field(default_factory=dict)
    """Secret key -> a value that is not secret (e.g. the bucket's region)."""


@dataclass(frozen=True)
class EndpointCa:
    """The Secret (in the platform namespace) holding the backup endpoint's CA bundle.

    `ObjectStore.spec.configuration.endpointCA` is a Secret key selector (`name`, `key`; CRD
    `objectstores.barmancloud.cnpg.io`, plugin-barman-cloud 0.7.0).
    """

    secret: str
    key: str
    pem: str | None = None
    """The bundle, for the platform to write into `secret`; `None`: the Secret exists already."""


@dataclass(frozen=True)
class BackupTarget:
    """Where database backups go, in the terms the Barman Cloud plugin and the database pods need.

    Built by the cloud layer, which alone knows how its object storage authenticates (workload
    identity, access keys); the platform only places these pieces into its ObjectStore, Cluster and
    NetworkPolicy.
    """

    configuration: Mapping[str, Any]
    """`ObjectStore.spec.configuration` (barmancloud.cnpg.io/v1) without compression: `destinationPath`,
    and `endpointURL` and the credentials block (`azureCredentials`, `s3Credentials`) where needed."""
    egress: BackupEgress
    object_store_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations of the ObjectStore, e.g. `BACKUP_REGION_ANNOTATION` where the store's region is not
    visible in the plan otherwise."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels every database pod needs (`Cluster.spec.inheritedMetadata.labels`), e.g. to opt into
    workload identity."""
    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations of the database cluster's service account (`Cluster.spec.serviceAccountTemplate`)."""
    credentials: BackupCredentials | None = None
    """The Secret the configuration's credentials block reads, or `None` when it reads none."""
    endpoint_ca: EndpointCa | None = None
    """The CA bundle the configuration's `endpointCA` names, where the store's endpoint has a
    certificate of an internal CA; `None`: the public trust store suffices."""


#: A Kubernetes `Toleration` in its API shape (`key`, `operator`, `value`, `effect`).
Toleration = Mapping[str, str]
#: The GPU taints cloud layers tolerate on every GPU pool: `sku=gpu:NoSchedule` from AKS's GPU docs,
#: which clusters brought from elsewhere often follow, and the GPU operator's `nvidia.com/gpu`.
GPU_TAINT_TOLERATIONS: tuple[Toleration, ...] = (
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
)


@dataclass(frozen=True)
class GpuNodes:
    """What the platform needs to know about one GPU pool's nodes."""

    tolerations: tuple[Toleration, ...]
    """Every toleration a pod needs to land on the pool's nodes (GPU taints, spot taints)."""
    nvidia_software: Literal["device-plugin", "gpu-operator"]
    """What the platform installs on the nodes: the device plugin where the node image brings the
    NVIDIA driver, the GPU operator where it installs driver and toolkit itself."""
    cuda_compatibility: bool
    """Whether vLLM must run CUDA in forward-compatibility mode (`VLLM_ENABLE_CUDA_COMPATIBILITY`),
    because the nodes' driver is older than the image's CUDA."""
    runtime_class: str | None = None
    """RuntimeClass the pool's GPU pods must name (`runtimeClassName`), e.g. `nvidia` where the nodes'
    default container runtime is not the NVIDIA one (k3s, RKE2); `None`: the default runtime."""


@dataclass(frozen=True)
class Scheduling:
    """Where the platform's own pods (the database, the gateway) can run, as the cloud layer knows it."""

    zones: tuple[str, ...]
    """Zones whose nodes can run them; fewer than two means no zone spread is possible."""
    hosts: int
    """The most nodes that can run them (a pool's maximum, or the untainted declared nodes)."""
    declared_node_pools: tuple[Mapping[str, Any], ...] | None = None
    """The node pools a cluster brought from elsewhere is declared to offer (as in the stack file), for
    the policy pack's day-one scheduling check; `None` where the cloud layer creates the nodes itself."""


@dataclass(frozen=True)
class CloudFoundation:
    """Everything the platform layer needs from the cloud layer."""

    kubernetes: k8s.Provider
    secrets: ExternalSecretsStore | InlineSecrets
    """Where the values of the secrets table (`infra.settings.secrets_table`) come from."""
    backup: BackupTarget
    scheduling: Scheduling
    gpu_pools: Mapping[str, GpuNodes]
    """By GPU pool name (every configured GPU pool)."""
    gpu_daemonset_tolerations: tuple[Toleration, ...]
    """Tolerations of the NVIDIA DaemonSets: every taint any GPU node of the cluster may carry."""
    needs_external_secrets: bool
    """Whether the secret store is read through External Secrets, so the platform installs it."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Resources the platform must wait for (e.g. GPU node pools, role assignments)."""
    outputs: dict[str, pulumi.Output] = field(default_factory=dict)
    """Stack outputs of the cloud layer (no secret in plain text)."""
    gateway_master_key: pulumi.Output[str] | None = None
    """The gateway's master key (a Pulumi secret) for calls to its management API from where `pulumi up`
    runs (teams and keys as code); `None`: not available, so no team is reconciled."""
    service_key_store: ServiceKeyStore | None = None
    """Where gateway service keys (`kiva:teams`) are delivered; `None`: Kubernetes Secrets in the platform
    namespace (clusters without a secret manager the deployer can write to)."""
