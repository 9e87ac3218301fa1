"""The cloud layers' halves of the contract: GPU pool facts, backup targets, the backup egress."""

from __future__ import annotations

from typing import Any

import pytest

from components.azure.foundation import (
    DAEMONSET_TOLERATIONS,
    SPOT_TOLERATION,
    aks_gpu_nodes,
    blob_backup_target,
)
from components.contracts import GPU_TAINT_TOLERATIONS, BackupEgress
from components.existing import cluster as existing
from infra.settings import ExistingCluster, GpuPool


def _pool(**fields: Any) -> GpuPool:
    return GpuPool.model_validate({"name": "gpu", "vmSize": "Standard_NC4as_T4_v3"} | fields)


def test_spot_pools_tolerate_the_aks_spot_taint() -> None:
    assert aks_gpu_nodes(_pool(spot=True)).tolerations == (*GPU_TAINT_TOLERATIONS, SPOT_TOLERATION)
    assert aks_gpu_nodes(_pool()).tolerations == GPU_TAINT_TOLERATIONS
    assert SPOT_TOLERATION["key"] == "kubernetes.azure.com/scalesetpriority"


def test_daemonsets_tolerate_every_gpu_taint_spot_included() -> None:
    assert set(map(str, DAEMONSET_TOLERATIONS)) == set(map(str, [*GPU_TAINT_TOLERATIONS, SPOT_TOLERATION]))


@pytest.mark.parametrize(
    ("fields", "software", "compatibility"),
    [
        ({}, "device-plugin", True),  # AKS's managed driver is older than vLLM's CUDA
        ({"vmSize": "Standard_NV36ads_A10_v5"}, "device-plugin", False),
        ({"driver": "operator"}, "gpu-operator", False),
    ],
)
def test_driver_decides_software_and_cuda_compatibility(
    fields: dict, software: str, compatibility: bool
) -> None:
    nodes = aks_gpu_nodes(_pool(**fields))
    assert (nodes.nvidia_software, nodes.cuda_compatibility) == (software, compatibility)


@pytest.mark.parametrize("spot", [False, True])
@pytest.mark.parametrize(("driver", "software"), [("aks", "device-plugin"), ("operator", "gpu-operator")])
def test_existing_pools_take_tolerations_from_declared_taints(driver: str, software: str, spot: bool) -> None:
    """An existing cluster's pool tolerates the taints declared on its nodes, never AKS's spot taint by
    default; `driver: aks` still reads as `preinstalled` (the device plugin)."""
    pool = GpuPool.model_validate(
        {"name": "gpu", "gpuType": "a100", "gpusPerNode": 1, "driver": driver, "spot": spot}
    )
    cluster = ExistingCluster.model_validate(
        {
            "provider": "existing",
            "kubernetesVersion": "1.34",
            "nodePools": [
                {"name": "cpu", "nodes": 1, "cpu": "4", "memory": "16Gi"},
                {
                    "name": "gpu",
                    "nodes": 1,
                    "cpu": "8",
                    "memory": "60Gi",
                    "gpus": 1,
                    "labels": {"kiva.platform/gpu-pool": "gpu"},
                    "taints": [{"key": "cloud.example/spot", "effect": "NoSchedule"}],
                },
            ],
        }
    )
    nodes = existing.existing_gpu_nodes(pool, cluster)
    spot_taint = {"key": "cloud.example/spot", "operator": "Exists", "effect": "NoSchedule"}
    assert nodes.tolerations == (*GPU_TAINT_TOLERATIONS, spot_taint)
    assert (nodes.nvidia_software, nodes.cuda_compatibility) == (software, False)
    assert existing.daemonset_tolerations(cluster) == (*GPU_TAINT_TOLERATIONS, spot_taint)


@pytest.mark.parametrize(
    ("endpoint", "egress"),
    [
        ("http://minio.minio.svc.cluster.local:9000", BackupEgress(port=9000, namespace="minio")),
        ("http://minio.storage.svc", BackupEgress(port=80, namespace="storage")),
        (
            "http://minio:9000",
            BackupEgress(port=9000, namespace="kiva"),
        ),  # a Service in the platform namespace
        ("https://object.storage.eu01.onstackit.cloud", BackupEgress(port=443)),
        ("https://s3.example.eu:8443", BackupEgress(port=8443)),
    ],
)
def test_s3_egress(endpoint: str, egress: BackupEgress) -> None:
    assert existing.s3_egress(endpoint) == egress


def test_s3_target_names_its_credentials_secret_and_region() -> None:
    target = existing.s3_backup_target("s3://b/p/", "https://s3.example.eu", "eu-de")
    assert target.credentials is not None
    assert set(target.credentials.keys) == {"ACCESS_KEY_ID", "ACCESS_SECRET_KEY"}
    secrets = {ref["name"] for ref in target.configuration["s3Credentials"].values()}
    assert secrets == {existing.BACKUP_SECRET}
    assert target.object_store_annotations == {"kiva.platform/region": "eu-de"}
    assert not target.pod_labels and not target.service_account_annotations


def test_blob_target_uses_workload_identity() -> None:
    target = blob_backup_target("https://a.blob.core.windows.net/c/", "client-id")  # type: ignore[arg-type]
    assert target.configuration["azureCredentials"] == {"useDefaultAzureCredentials": True}
    assert target.pod_labels == {"azure.workload.identity/use": "true"}
    assert target.service_account_annotations == {"azure.workload.identity/client-id": "client-id"}
    assert target.credentials is None
    assert target.egress == BackupEgress(port=443)
