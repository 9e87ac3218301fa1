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
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import (
    BACKUP_REGION_ANNOTATION,
    BACKUP_SECRET,
    GPU_TAINT_TOLERATIONS,
    PLATFORM_NAMESPACE,
    BackupCredentials,
    BackupEgress,
    BackupTarget,
    CloudFoundation,
    EndpointCa,
    GpuNodes,
    InlineSecrets,
    Scheduling,
    Toleration,
)
from components.secret_values import platform_secret_values
from infra.settings import ExistingCluster, GpuPool, StackSettings
from infra.settings.cluster import Taint
from infra.settings.secrets_table import BACKUP_ACCESS_KEY_ID, BACKUP_SECRET_ACCESS_KEY, KUBECONFIG_KEY
from infra.settings.workloads import CaBundle, CaBundleSecret

#: The label the nodes of a GPU pool carry (`kiva.platform/gpu-pool=<name>`, checked by the settings).
GPU_POOL_LABEL = "kiva.platform/gpu-pool"


def _tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    """Whether one of `tolerations` already tolerates `taint` (same key and effect, value or Exists)."""
    return any(
        t["key"] == taint.key
        and t.get("effect", taint.effect) == taint.effect
        and (t["operator"] == "Exists" or t.get("value", "") == taint.value)
        for t in tolerations
    )


def taint_tolerations(taints: list[Taint]) -> tuple[Toleration, ...]:
    """Tolerations for the declared taints the GPU tolerations do not cover, in declaration order."""
    found: list[Toleration] = []
    for taint in taints:
        if _tolerated(taint, (*GPU_TAINT_TOLERATIONS, *found)):
            continue
        toleration: dict[str, str] = {"key": taint.key, "operator": "Equal", "value": taint.value}
        if not taint.value:
            toleration = {"key": taint.key, "operator": "Exists"}
        found.append({**toleration, "effect": taint.effect})
    return tuple(found)


def declared_gpu_taints(cluster: ExistingCluster, pool: str | None = None) -> list[Taint]:
    """The taints declared on the nodes of GPU pool `pool` (of every GPU pool when `None`)."""
    return [
        taint
        for declared in cluster.node_pools
        if (label := declared.labels.get(GPU_POOL_LABEL)) is not None and pool in (None, label)
        for taint in declared.taints
    ]


def existing_gpu_nodes(pool: GpuPool, cluster: ExistingCluster) -> GpuNodes:
    """What a pod needs on a declared GPU pool.

    Tolerations: the GPU taints every cloud layer tolerates, plus each taint `cluster.nodePools`
    declares on the pool's nodes (a spot or preemptible taint included: the stack cannot know another
    provider's taints, so they come from the declaration, never from AKS's). `driver: preinstalled`
    means the nodes bring the NVIDIA driver and the platform installs the device plugin;
    `driver: operator` leaves driver and toolkit to the NVIDIA GPU operator. CUDA compatibility mode
    only where the pool asks for it (`cudaCompatibility`): the driver of a brought cluster is its owner's.
    """
    return GpuNodes(
        tolerations=(*GPU_TAINT_TOLERATIONS, *taint_tolerations(declared_gpu_taints(cluster, pool.name))),
        nvidia_software="device-plugin" if pool.driver == "preinstalled" else "gpu-operator",
        cuda_compatibility=bool(pool.cuda_compatibility),
        runtime_class=pool.runtime_class_name,
    )


def daemonset_tolerations(cluster: ExistingCluster) -> tuple[Toleration, ...]:
    """Every taint any declared GPU node carries: the NVIDIA charts replace their tolerations wholesale,
    so the list covers all of them; the node affinity decides which nodes."""
    return (*GPU_TAINT_TOLERATIONS, *taint_tolerations(declared_gpu_taints(cluster)))


#: Host name endings of in-cluster Services (`<service>.<namespace>.svc[.cluster.local]`).
CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local")
#: The Secret the platform writes an inline CA bundle into, and its key.
BACKUP_CA_SECRET, BACKUP_CA_KEY = "kiva-db-backup-ca", "ca.crt"


def s3_egress(endpoint_url: str) -> BackupEgress:
    """The endpoint's port, and the namespace of an in-cluster store (else any address).

    An `ipBlock` is meant for addresses outside the cluster: whether it matches pod IPs is up to the
    network plugin (Kubernetes docs, NetworkPolicy `ipBlock`), so an in-cluster S3 store such as
    `minio.minio.svc.cluster.local` is named by its namespace instead.
    """
    url = urlparse(endpoint_url)
    port = url.port or (80 if url.scheme == "http" else 443)
    host = url.hostname or ""
    if host.endswith(CLUSTER_SUFFIXES) or (host and "." not in host):
        parts = host.split(".")
        return BackupEgress(port=port, namespace=parts[1] if len(parts) > 1 else PLATFORM_NAMESPACE)
    return BackupEgress(port=port)


def endpoint_ca(ca_bundle: CaBundle | None) -> EndpointCa | None:
    """The Secret holding the endpoint's CA: written by the platform from an inline PEM bundle, or the
    one the stack names."""
    if ca_bundle is None:
        return None
    if isinstance(ca_bundle, CaBundleSecret):
        return EndpointCa(secret=ca_bundle.secret, key=ca_bundle.key)
    return EndpointCa(secret=BACKUP_CA_SECRET, key=BACKUP_CA_KEY, pem=ca_bundle)


def s3_backup_target(
    destination_path: str, endpoint_url: str, region: str, ca_bundle: CaBundle | None = None
) -> BackupTarget:
    """Backups to S3-compatible storage with access keys from the `BACKUP_*` secrets.

    The bucket's region sits in the credentials Secret, where the policy pack cannot see it, so the
    ObjectStore also declares it as an annotation, checked against the EU allow-list. An endpoint
    behind an internal CA gets `endpointCA` (a Secret key selector, plugin-barman-cloud 0.7.0 CRD).
    """
    ca = endpoint_ca(ca_bundle)
    return BackupTarget(
        configuration={
            "destinationPath": destination_path,
            "endpointURL": endpoint_url,
            **({"endpointCA": {"name": ca.secret, "key": ca.key}} if ca else {}),
            "s3Credentials": {
                "accessKeyId": {"name": BACKUP_SECRET, "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": BACKUP_SECRET, "key": "ACCESS_SECRET_KEY"},
                "region": {"name": BACKUP_SECRET, "key": "REGION"},
            },
        },
        endpoint_ca=ca,
        egress=s3_egress(endpoint_url),
        object_store_annotations={BACKUP_REGION_ANNOTATION: region},
        credentials=BackupCredentials(
            keys={
                where.key: row.name
                for row in (BACKUP_ACCESS_KEY_ID, BACKUP_SECRET_ACCESS_KEY)
                for where in row.lands_in
            },
            literals={"REGION": region},
        ),
    )


#: Taint effects that keep the platform's pods (which tolerate none) off a node.
REPELLING_EFFECTS = ("NoSchedule", "NoExecute")


def declared_scheduling(cluster: ExistingCluster) -> Scheduling:
    """The declared zones, the nodes of the untainted declared pools, and the pools themselves.

    The pools are handed on as declared (camelCase, as in the stack file), so the policy pack can
    judge from the plan whether the workloads fit the nodes the cluster is said to offer.
    """
    return Scheduling(
        zones=tuple(cluster.zones),
        hosts=sum(
            pool.nodes
            for pool in cluster.node_pools
            if not any(taint.effect in REPELLING_EFFECTS for taint in pool.taints)
        ),
        declared_node_pools=tuple(pool.model_dump(mode="json", by_alias=True) for pool in cluster.node_pools),
    )


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
    kubeconfig = config.get_secret(KUBECONFIG_KEY) if KUBECONFIG_KEY in settings.secret_keys else None
    access = ExistingClusterAccess(name, cluster, kubeconfig)

    values = platform_secret_values(settings, config, generated)

    destination_path = f"s3://{store.bucket}/{store.path.strip('/')}/"
    endpoint_url = str(store.endpoint).rstrip("/")
    return CloudFoundation(
        kubernetes=access.provider,
        secrets=InlineSecrets(values),
        backup=s3_backup_target(destination_path, endpoint_url, store.region, store.ca_bundle),
        scheduling=declared_scheduling(cluster),
        gpu_pools={pool.name: existing_gpu_nodes(pool, cluster) for pool in settings.gpu_pools},
        gpu_daemonset_tolerations=daemonset_tolerations(cluster),
        needs_external_secrets=False,
    )
