"""Where the platform runs: a new AKS cluster, or an existing cluster reached by kubeconfig."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from infra.settings.base import DnsLabel, KivaModel
from infra.settings.gpu_skus import GPU_MEMORY_GB, GPU_SKUS, GpuSku, GpuType

KubernetesVersion = Annotated[str, Field(pattern=r"^1\.[0-9]{2}(\.[0-9]+)?$")]
Zone = Literal["1", "2", "3"]


class SystemPool(KivaModel):
    """The AKS system node pool: runs CriticalAddonsOnly workloads (CoreDNS, operators' webhooks)."""

    vm_size: str = "Standard_D4ds_v5"
    min_count: int = Field(1, ge=1, le=100)
    max_count: int = Field(3, ge=1, le=100)
    os_disk_size_gb: int = Field(128, ge=30, le=2048)

    @model_validator(mode="after")
    def _min_le_max(self) -> SystemPool:
        if self.min_count > self.max_count:
            raise ValueError(f"minCount ({self.min_count}) must not exceed maxCount ({self.max_count})")
        return self


class ApiServer(KivaModel):
    """How the Kubernetes API server is reached: privately, or from authorised IP ranges only."""

    private: bool = False
    authorized_ip_ranges: list[str] = Field(default_factory=list)

    @field_validator("authorized_ip_ranges")
    @classmethod
    def _cidrs(cls, ranges: list[str]) -> list[str]:
        for value in ranges:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"must be CIDR ranges such as 203.0.113.0/24 (got {value!r})") from None
        return ranges


class MaintenanceWindow(KivaModel):
    """When AKS may patch the control plane and roll node images (weekly, in UTC offset given)."""

    day_of_week: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = "Sunday"
    start_hour: int = Field(2, ge=0, le=23)
    duration_hours: int = Field(4, ge=4, le=24)
    utc_offset: str = Field("+01:00", pattern=r"^[+-][0-9]{2}:[0-9]{2}$")


class KeyVaultAccess(KivaModel):
    """Network access to the Key Vault: a private endpoint, or a default-deny firewall with allowed IPs."""

    private_endpoint: bool = False
    allowed_ips: list[str] = Field(default_factory=list)


class AzureCluster(KivaModel):
    """A new, hardened AKS cluster with its Key Vault, Log Analytics workspace and backup storage."""

    provider: Literal["azure"]
    kubernetes_version: KubernetesVersion
    system_pool: SystemPool = SystemPool()
    zones: list[Zone] = Field(default_factory=list)
    api_server: ApiServer = ApiServer()
    admin_group_object_ids: list[str] = Field(default_factory=list)
    network_policy: Literal["cilium", "azure"] = "cilium"
    sku_tier: Literal["Free", "Standard", "Premium"] = "Free"
    maintenance: MaintenanceWindow = MaintenanceWindow()
    key_vault: KeyVaultAccess = KeyVaultAccess()
    storage_class: str = "managed-csi-premium"


class ExistingCluster(KivaModel):
    """An existing cluster (STACKIT SKE, IONOS, OTC CCE, k3s, kind…) reached by kubeconfig or context.

    The kubeconfig itself is the secure config value `kiva:kubeconfig`; without it the provider uses
    the ambient kubeconfig (`KUBECONFIG`) and `context`.
    """

    provider: Literal["existing"]
    kubernetes_version: KubernetesVersion
    context: str | None = None
    storage_class: str = "standard"
    zones: list[str] = Field(default_factory=list)


Cluster = Annotated[AzureCluster | ExistingCluster, Field(discriminator="provider")]


class GpuPool(KivaModel):
    """A pool of GPU nodes. On Azure it is created from `vmSize`; on an existing cluster it is described
    by `gpuType` and `gpusPerNode` and selected by its `kiva.platform/gpu-pool` node label."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,11}$")]
    vm_size: str | None = None
    gpu_type: GpuType | None = None
    gpus_per_node: int | None = Field(None, ge=1, le=8)
    min_count: int = Field(0, ge=0, le=100)
    max_count: int = Field(1, ge=1, le=100)
    driver: Literal["aks", "operator"] = "aks"
    spot: bool = False
    os_disk_size_gb: int = Field(256, ge=128, le=2048)
    zones: list[Zone] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> GpuPool:
        if self.min_count > self.max_count:
            raise ValueError(f"minCount ({self.min_count}) must not exceed maxCount ({self.max_count})")
        if self.vm_size is not None and self.vm_size not in GPU_SKUS:
            raise ValueError(f"vmSize {self.vm_size!r} is not a known GPU size; known: {', '.join(GPU_SKUS)}")
        if self.vm_size is None and (self.gpu_type is None or self.gpus_per_node is None):
            raise ValueError("set either vmSize (Azure) or both gpuType and gpusPerNode (existing cluster)")
        return self

    @property
    def sku(self) -> GpuSku | None:
        return GPU_SKUS.get(self.vm_size) if self.vm_size else None

    @property
    def kind(self) -> GpuType:
        """The GPU type (`t4`, `a10`, `a100`, `h100`), the value of the `kiva.platform/gpu` label."""
        if self.sku:
            return self.sku.gpu_type
        assert self.gpu_type is not None
        return self.gpu_type

    @property
    def gpus(self) -> int:
        """GPUs on one node of this pool."""
        if self.sku:
            return self.sku.gpus
        assert self.gpus_per_node is not None
        return self.gpus_per_node

    @property
    def gpu_memory_gb(self) -> int:
        """Memory of one GPU of this pool."""
        return self.sku.gpu_memory_gb if self.sku else GPU_MEMORY_GB[self.kind]


__all__ = ["AzureCluster", "Cluster", "DnsLabel", "ExistingCluster", "GpuPool"]
