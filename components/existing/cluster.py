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
    GpuNodes,
    InlineSecrets,
    Scheduling,
    Toleration,
)
from components.secret_values import platform_secret_values
from infra.settings import ExistingCluster, GpuPool, StackSettings
from infra.settings.secrets_table import BACKUP_ACCESS_KEY_ID, BACKUP_SECRET_ACCESS_KEY, KUBECONFIG_KEY

#: `spot: true` on an existing cluster names an AKS spot pool (an AKS cluster brought by kubeconfig):
#: AKS taints its nodes so. Taints of other providers' spot nodes are not known here.
AKS_SPOT_TOLERATION: Toleration = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
#: The NVIDIA DaemonSets replace their tolerations wholesale, so the list covers every taint a GPU
#: node may carry, spot included; the node affinity decides which nodes.
DAEMONSET_TOLERATIONS: tuple[Toleration, ...] = (*GPU_TAINT_TOLERATIONS, AKS_SPOT_TOLERATION)
#: Host name endings of in-cluster Services (`<service>.<namespace>.svc[.cluster.local]`).
CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local")


def existing_gpu_nodes(pool: GpuPool) -> GpuNodes:
    """What a pod needs on a declared GPU pool.

    `driver: aks` means the nodes bring the NVIDIA driver and the platform installs the device plugin;
    the vLLM image's CUDA then runs in forward-compatibility mode on all but A10 GPUs, as on AKS's
    managed driver. `driver: operator` leaves driver and toolkit to the NVIDIA GPU operator.
    """
    return GpuNodes(
        tolerations=(*GPU_TAINT_TOLERATIONS, AKS_SPOT_TOLERATION) if pool.spot else GPU_TAINT_TOLERATIONS,
        nvidia_software="device-plugin" if pool.driver == "aks" else "gpu-operator",
        cuda_compatibility=pool.driver == "aks" and pool.kind != "a10",
    )


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


def s3_backup_target(destination_path: str, endpoint_url: str, region: str) -> BackupTarget:
    """Backups to S3-compatible storage with access keys from the `BACKUP_*` secrets.

    The bucket's region sits in the credentials Secret, where the policy pack cannot see it, so the
    ObjectStore also declares it as an annotation, checked against the EU allow-list.
    """
    return BackupTarget(
        configuration={
            "destinationPath": destination_path,
            "endpointURL": endpoint_url,
            "s3Credentials": {
                "accessKeyId": {"name": BACKUP_SECRET, "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": BACKUP_SECRET, "key": "ACCESS_SECRET_KEY"},
                "region": {"name": BACKUP_SECRET, "key": "REGION"},
            },
        },
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
        backup=s3_backup_target(destination_path, endpoint_url, store.region),
        scheduling=declared_scheduling(cluster),
        gpu_pools={pool.name: existing_gpu_nodes(pool) for pool in settings.gpu_pools},
        gpu_daemonset_tolerations=DAEMONSET_TOLERATIONS,
        needs_external_secrets=False,
    )
