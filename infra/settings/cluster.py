"""Where the platform runs: a new AKS cluster, or an existing cluster reached by kubeconfig."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from infra.settings.base import DnsLabel, KivaModel
from infra.settings.gpu_catalogue import (
    GPU_CATALOGUE,
    OTHER,
    GpuModel,
    GpuType,
    MigProfile,
    mig_gpus,
    mig_profiles,
)
from infra.settings.gpu_sharing import AKS_MIG_INSTANCES, aks_gpu_instance_profile
from infra.settings.gpu_skus import GPU_SKUS, GpuSku

KubernetesVersion = Annotated[str, Field(pattern=r"^1\.[0-9]{2}(\.[0-9]+)?$")]
Zone = Literal["1", "2", "3"]


class GeneralPool(KivaModel):
    """The AKS user pool for everything that is neither a critical add-on nor a model server.

    Operators (CloudNativePG, cert-manager, External Secrets, the GPU operator's controller), the
    gateway and PostgreSQL run here: the system pool repels them (`CriticalAddonsOnly`) and GPU pools
    are tainted for model servers only. Autoscaled; spread over the cluster's zones unless `zones` says
    otherwise.
    """

    vm_size: str = "Standard_D4ds_v5"
    """VM size of the general nodes."""
    min_count: int = Field(1, ge=1, le=100)
    """Fewest general nodes (autoscaler)."""
    max_count: int = Field(5, ge=1, le=100)
    """Most general nodes (autoscaler)."""
    os_disk_size_gb: int = Field(128, ge=30, le=2048)
    """OS disk of each general node, in GB."""
    zones: list[Literal["1", "2", "3"]] | None = None
    """Availability zones of the pool (default: the cluster's `zones`)."""

    @model_validator(mode="after")
    def _min_le_max(self) -> GeneralPool:
        if self.min_count > self.max_count:
            raise ValueError(f"minCount ({self.min_count}) must not exceed maxCount ({self.max_count})")
        return self


class SystemPool(KivaModel):
    """The AKS system node pool: runs CriticalAddonsOnly workloads (CoreDNS, operators' webhooks)."""

    vm_size: str = "Standard_D4ds_v5"
    """VM size of the system nodes."""
    min_count: int = Field(1, ge=1, le=100)
    """Fewest system nodes (autoscaler)."""
    max_count: int = Field(3, ge=1, le=100)
    """Most system nodes (autoscaler)."""
    os_disk_size_gb: int = Field(128, ge=30, le=2048)
    """OS disk of each system node, in GB."""

    @model_validator(mode="after")
    def _min_le_max(self) -> SystemPool:
        if self.min_count > self.max_count:
            raise ValueError(f"minCount ({self.min_count}) must not exceed maxCount ({self.max_count})")
        return self


def _check_cidrs(ranges: list[str]) -> list[str]:
    for value in ranges:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"must be CIDR ranges such as 203.0.113.0/24 (got {value!r})") from None
    return ranges


class ApiServer(KivaModel):
    """How the Kubernetes API server is reached: privately, or from authorised IP ranges only."""

    private: bool = False
    """A private API server, reachable only from the virtual network."""
    authorized_ip_ranges: list[str] = Field(default_factory=list)
    """CIDR ranges allowed to reach a public API server; never `0.0.0.0/0` in production."""

    @field_validator("authorized_ip_ranges")
    @classmethod
    def _cidrs(cls, ranges: list[str]) -> list[str]:
        return _check_cidrs(ranges)

    @model_validator(mode="after")
    def _one_mode(self) -> ApiServer:
        if self.private and self.authorized_ip_ranges:
            raise ValueError(
                "a private API server takes no authorizedIpRanges (AKS rejects both together); remove one"
            )
        return self


class MaintenanceWindow(KivaModel):
    """When AKS may patch the control plane and roll node images (weekly, in UTC offset given)."""

    day_of_week: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = (
        "Sunday"
    )
    start_hour: int = Field(2, ge=0, le=23)
    """Hour (0-23, local to `utcOffset`) the weekly window opens."""
    duration_hours: int = Field(4, ge=4, le=24)
    """Length of the window (AKS requires at least 4 hours)."""
    utc_offset: str = Field("+01:00", pattern=r"^[+-][0-9]{2}:[0-9]{2}$")
    """UTC offset of the window, e.g. `+01:00`."""


class KeyVaultAccess(KivaModel):
    """Network access to the Key Vault: a private endpoint, or a default-deny firewall with allowed IPs."""

    private_endpoint: bool = False
    """Close the vault to public networks and reach it through a private endpoint (production)."""
    allowed_ips: list[str] = Field(default_factory=list)
    """IPs or CIDR ranges let through the vault firewall (only without a private endpoint)."""

    @field_validator("allowed_ips")
    @classmethod
    def _cidrs(cls, ranges: list[str]) -> list[str]:
        return _check_cidrs(ranges)

    @model_validator(mode="after")
    def _one_mode(self) -> KeyVaultAccess:
        if self.private_endpoint and self.allowed_ips:
            raise ValueError(
                "with privateEndpoint: true public access is disabled, so allowedIps would have no effect; "
                "remove allowedIps"
            )
        return self


class BackupStorageAccess(KivaModel):
    """Network access to the database's backup storage account."""

    private_endpoint: bool | None = None
    """Close the account to public networks (`publicNetworkAccess: Disabled`, firewall default deny) and
    reach it through a private endpoint. Default: as `keyVault.privateEndpoint` (on in prod)."""


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ObjectId = Annotated[str, Field(pattern=_GUID)]
"""An Entra ID object id (a GUID)."""


class AzureNetwork(KivaModel):
    """Address ranges of the cluster's virtual network (Azure CNI overlay: pods do not use VNet IPs).

    The node and private-endpoint subnets must lie inside the VNet and not overlap; pod and service
    ranges must not overlap the VNet or each other, and the DNS service IP lies in the service range.
    """

    vnet_cidr: str = "10.240.0.0/16"
    """Address space of the virtual network."""
    node_subnet_cidr: str = "10.240.0.0/20"
    """Subnet of the nodes (inside the virtual network)."""
    private_endpoint_subnet_cidr: str = "10.240.16.0/24"
    """Subnet of private endpoints (inside the virtual network)."""
    pod_cidr: str = "10.244.0.0/16"
    """Pod addresses (Azure CNI overlay; outside the virtual network)."""
    service_cidr: str = "10.0.0.0/16"
    """Kubernetes service addresses (outside the virtual network)."""
    dns_service_ip: str = "10.0.0.10"
    """Cluster DNS address, inside the service range."""

    @field_validator(
        "vnet_cidr", "node_subnet_cidr", "private_endpoint_subnet_cidr", "pod_cidr", "service_cidr"
    )
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(
                f"must be an IPv4 CIDR range with no host bits set, e.g. 10.240.0.0/16 (got {value!r})"
            ) from None
        return value

    @model_validator(mode="after")
    def _layout(self) -> AzureNetwork:
        net = ipaddress.IPv4Network
        vnet = net(self.vnet_cidr)
        nodes, endpoints = net(self.node_subnet_cidr), net(self.private_endpoint_subnet_cidr)
        pods, services = net(self.pod_cidr), net(self.service_cidr)
        for key, subnet in (("nodeSubnetCidr", nodes), ("privateEndpointSubnetCidr", endpoints)):
            if not subnet.subnet_of(vnet):
                raise ValueError(f"{key} {subnet} must lie inside vnetCidr {vnet}")
        if nodes.overlaps(endpoints):
            raise ValueError(f"nodeSubnetCidr {nodes} and privateEndpointSubnetCidr {endpoints} overlap")
        for key, other in (("podCidr", pods), ("serviceCidr", services)):
            if other.overlaps(vnet):
                raise ValueError(f"{key} {other} must not overlap vnetCidr {vnet}")
        if pods.overlaps(services):
            raise ValueError(f"podCidr {pods} and serviceCidr {services} overlap")
        try:
            dns_ip = ipaddress.IPv4Address(self.dns_service_ip)
        except ValueError:
            raise ValueError(f"dnsServiceIp must be an IPv4 address (got {self.dns_service_ip!r})") from None
        if dns_ip not in services or dns_ip in (services.network_address, services.broadcast_address):
            raise ValueError(f"dnsServiceIp {dns_ip} must be a host address inside serviceCidr {services}")
        return self


class AzureCluster(KivaModel):
    """A new, hardened AKS cluster with its Key Vault, Log Analytics workspace and backup storage."""

    provider: Literal["azure"]
    """`azure`: create a new AKS cluster."""
    kubernetes_version: KubernetesVersion
    """Pinned Kubernetes version, e.g. `"1.34"` (quote it in YAML)."""
    system_pool: SystemPool = SystemPool()
    """The system node pool (tainted CriticalAddonsOnly)."""
    general_pool: GeneralPool = GeneralPool()
    """The untainted user pool for operators, the gateway and PostgreSQL."""
    zones: list[Zone] = Field(default_factory=list)
    """Availability zones for the system and general pools; at least 2 in production."""
    api_server: ApiServer = ApiServer()
    """How the Kubernetes API server is reached."""
    admin_group_object_ids: list[ObjectId] = Field(default_factory=list)
    """Entra ID groups that become cluster admins (Azure RBAC); local accounts are disabled."""
    network_policy: Literal["cilium", "azure"] = "cilium"
    """Network policy engine of the cluster."""
    network: AzureNetwork = AzureNetwork()
    """Address ranges of the virtual network, pods and services."""
    sku_tier: Literal["Free", "Standard", "Premium"] = "Free"
    """AKS tier; production needs `Standard` or `Premium`."""
    maintenance: MaintenanceWindow = MaintenanceWindow()
    """Weekly window for automatic patch and node-image upgrades."""
    key_vault: KeyVaultAccess = KeyVaultAccess()
    """Network access to the Key Vault."""
    backup_storage: BackupStorageAccess = BackupStorageAccess()
    """Network access to the backup storage account."""
    storage_class: str = "managed-csi-premium"
    """Storage class for the database and model caches."""

    @property
    def backup_private_endpoint(self) -> bool:
        """Whether the backup storage account is private: its own switch, else the Key Vault's."""
        own = self.backup_storage.private_endpoint
        return self.key_vault.private_endpoint if own is None else own

    @property
    def general_zones(self) -> list[str]:
        """Zones of the general pool: its own, else the cluster's."""
        return list(self.general_pool.zones if self.general_pool.zones is not None else self.zones)


_LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
LabelKey = Annotated[str, Field(pattern=_LABEL_KEY, max_length=316)]
LabelValue = Annotated[str, Field(pattern=_LABEL_VALUE, max_length=63)]


class Taint(KivaModel):
    """A node taint, as `kubectl describe node` shows it."""

    key: LabelKey
    """Taint key, e.g. `nvidia.com/gpu`."""
    value: LabelValue = ""
    """Taint value (may be empty)."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """Taint effect."""


class NodePool(KivaModel):
    """A group of identical nodes of an existing cluster, as the platform may use them.

    The stack cannot see an existing cluster's nodes, so it takes this declaration as the truth for
    its day-one checks (scheduling, zones) and for `kiva twin`'s fake nodes. Declare what the nodes
    really carry: a wrong declaration makes a green plan that does not come up.
    """

    name: DnsLabel
    """Name of the group (for messages and the summary)."""
    nodes: int = Field(ge=1, le=1000)
    """How many nodes (at most, with an autoscaler)."""
    cpu: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?m?$")]
    """Allocatable CPU per node, e.g. `3800m` or `8`."""
    memory: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti)?$")]
    """Allocatable memory per node, e.g. `28Gi`."""
    pods: int = Field(110, ge=1, le=1000)
    """Allocatable pods per node."""
    gpus: int = Field(0, ge=0, le=16)
    """Allocatable `nvidia.com/gpu` per node (0 on CPU nodes)."""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Labels the nodes carry (a GPU pool's nodes carry `kiva.platform/gpu-pool=<name>`)."""
    taints: list[Taint] = Field(default_factory=list)
    """Taints the nodes carry."""
    zones: list[LabelValue] = Field(default_factory=list)
    """Zones (`topology.kubernetes.io/zone`) the nodes are spread over."""


class ExistingCluster(KivaModel):
    """An existing cluster (STACKIT SKE, IONOS, OTC CCE, k3s, kind…) reached by kubeconfig or context.

    The kubeconfig itself is the secure config value `kiva:kubeconfig`; without it the provider uses
    the ambient kubeconfig (`KUBECONFIG`) and `context`.
    """

    provider: Literal["existing"]
    """`existing`: deploy onto a cluster that already exists."""
    kubernetes_version: KubernetesVersion
    """The cluster's Kubernetes version, e.g. `"1.34"`: manifests are validated against it."""
    context: str | None = None
    """kubeconfig context to use (otherwise the current context, or the secure `kiva:kubeconfig`)."""
    storage_class: str = "standard"
    """Storage class for the database and model caches."""
    zones: list[str] = Field(default_factory=list)
    """Zone names of the cluster's nodes, for spreading replicas."""
    node_pools: list[NodePool] = Field(min_length=1)
    """The nodes the platform may use, as the cluster offers them (GPU pools included)."""


Cluster = Annotated[AzureCluster | ExistingCluster, Field(discriminator="provider")]


class TimeSlicing(KivaModel):
    """CUDA time-slicing: the NVIDIA device plugin advertises each GPU `replicas` times.

    Rendered as the plugin's config file (k8s-device-plugin v0.18.0 README, "With CUDA
    Time-Slicing"): `sharing.timeSlicing.resources: [{name: nvidia.com/gpu, replicas: N}]`, with
    `failRequestsGreaterThanOne: true` so a pod cannot ask for two slices and believe it has two GPUs.
    Slices share the GPU's memory with no isolation: each model's `gpuMemoryUtilization` is its share.
    """

    replicas: int = Field(ge=2, le=16)
    """Slices per GPU (the plugin requires at least 2), e.g. `2` for two small models per card."""


class Mig(KivaModel):
    """Multi-Instance GPU, MIG "single" strategy: every GPU of the pool's nodes is cut into slices of one
    profile, each with its own memory and compute, and each advertised as one `nvidia.com/gpu`.

    A100 and H100 only (profiles per GPU in `infra/settings/gpu_catalogue.py`, from NVIDIA's MIG user
    guide). Who cuts the GPUs: AKS (`gpuInstanceProfile` on the agent pool) for `driver: preinstalled`
    pools on Azure; the GPU operator's MIG manager (node label `nvidia.com/mig.config=all-<profile>`)
    for `driver: operator`; on an existing cluster with `preinstalled`, the nodes' owner beforehand.
    """

    profile: Annotated[str, Field(pattern=r"^[1-7]g\.[0-9]{1,3}gb$", examples=["1g.10gb"])]
    """MIG profile of every slice, e.g. `1g.10gb` (seven 10 GB slices of an 80 GB A100 or H100)."""


class GpuSharing(KivaModel):
    """How the pool's GPUs are shared between model servers (default: one server per whole GPU)."""

    time_slicing: TimeSlicing | None = None
    """Time-slicing through the NVIDIA device plugin, e.g. `{replicas: 2}`."""
    mig: Mig | None = None
    """Multi-Instance GPU slices of one profile, e.g. `{profile: 1g.10gb}` (A100 and H100 pools)."""

    @model_validator(mode="after")
    def _one_way(self) -> GpuSharing:
        if self.mig is not None and self.time_slicing is not None:
            raise ValueError(
                "choose one way of sharing: timeSlicing or mig, e.g. sharing: {mig: {profile: 1g.10gb}}"
            )
        if self.mig is None and self.time_slicing is None:
            raise ValueError(
                "name the way of sharing, e.g. sharing: {timeSlicing: {replicas: 2}} or "
                "sharing: {mig: {profile: 1g.10gb}}"
            )
        return self


_COMPUTE_CAPABILITY = r"^[0-9]{1,2}\.[0-9]$"


def _driver_alias(value: object) -> object:
    """`aks` named who installs the driver on AKS; the neutral name says what the nodes bring."""
    return "preinstalled" if value == "aks" else value


GpuDriver = Annotated[Literal["preinstalled", "operator"], BeforeValidator(_driver_alias)]
"""Who puts the NVIDIA driver on a GPU pool's nodes (`aks` is read as `preinstalled`)."""


class GpuPool(KivaModel):
    """A pool of GPU nodes. On Azure it is created from `vmSize`; on an existing cluster it is described
    by `gpuType` and `gpusPerNode` and selected by its `kiva.platform/gpu-pool` node label.

    `gpuType` is an id of the GPU catalogue (`infra/settings/gpu_catalogue.py`), or `other` for a GPU
    the catalogue does not know: the pool then states `gpuMemoryGb` and `computeCapability` itself.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,11}$")]
    """Pool name (lowercase, at most 12 characters); nodes carry the label `kiva.platform/gpu-pool=<name>`."""
    vm_size: str | None = None
    """Azure GPU VM size, from the known table (e.g. `Standard_NC4as_T4_v3`, `Standard_NC24ads_A100_v4`)."""
    gpu_type: GpuType | None = None
    """GPU type of an existing cluster's pool: `t4`, `v100-16gb`, `v100-32gb`, `a10`, `l4`, `l40s`, `a100` (= `a100-80gb`), `a100-40gb`, `a100-80gb`, `h100` (80 GB), `h100-nvl` (94 GB), `h200`, or `other`."""
    gpu_memory_gb: float | None = Field(None, gt=0, le=1024)
    """Memory of one GPU in GB; only with `gpuType: other` (the catalogue knows its own types)."""
    compute_capability: Annotated[str, Field(pattern=_COMPUTE_CAPABILITY)] | None = None
    """CUDA compute capability of the GPU, e.g. `"8.9"` (quote it); only with `gpuType: other`."""
    gpus_per_node: int | None = Field(None, ge=1, le=8)
    """GPUs per node of an existing cluster's pool."""
    min_count: int = Field(0, ge=0, le=100)
    """Fewest nodes; 0 lets an idle pool cost nothing."""
    max_count: int = Field(1, ge=1, le=100)
    """Most nodes."""
    driver: GpuDriver = "preinstalled"
    """`preinstalled`: the nodes already have the NVIDIA driver (AKS installs it on pools it creates; on
    an existing cluster the node image or its owner does), and the stack adds the device plugin;
    `operator`: the NVIDIA GPU operator installs driver and toolkit. `aks` is still read, as
    `preinstalled` (deprecated)."""
    runtime_class_name: DnsLabel | None = None
    """RuntimeClass of the pool's GPU pods (model servers, and the device plugin's DaemonSets), e.g.
    `nvidia` on k3s/RKE2 nodes whose default runtime is not the NVIDIA one; list it under
    `kiva:prerequisites.runtimeClasses`. Existing clusters only."""
    cuda_compatibility: bool | None = None
    """Run vLLM's CUDA in forward-compatibility mode (`VLLM_ENABLE_CUDA_COMPATIBILITY`) because the
    nodes' driver is older than the image's CUDA. Default: on for `preinstalled` pools on Azure except
    A10 (AKS's managed driver), off elsewhere."""
    spot: bool = False
    """Run on spot VMs (cheap, evictable: for dev)."""
    os_disk_size_gb: int = Field(256, ge=128, le=2048)
    """OS disk per node in GB, sized for vLLM images."""
    zones: list[Zone] = Field(default_factory=list)
    """Availability zones of the pool."""
    sharing: GpuSharing | None = None
    """Share each GPU between model servers: `{timeSlicing: {replicas: 2}}` (device plugin pools only), or
    MIG slices `{mig: {profile: 1g.10gb}}` (A100 and H100 pools)."""

    @model_validator(mode="after")
    def _shape(self) -> GpuPool:
        if self.name == "system":
            raise ValueError("the name 'system' is taken by the AKS system pool; choose another")
        if self.min_count > self.max_count:
            raise ValueError(f"minCount ({self.min_count}) must not exceed maxCount ({self.max_count})")
        if self.vm_size is not None and self.vm_size not in GPU_SKUS:
            raise ValueError(f"vmSize {self.vm_size!r} is not a known GPU size; known: {', '.join(GPU_SKUS)}")
        if self.vm_size is None and (self.gpu_type is None or self.gpus_per_node is None):
            raise ValueError("set either vmSize (Azure) or both gpuType and gpusPerNode (existing cluster)")
        own_figures = [
            key
            for key, value in (
                ("gpuMemoryGb", self.gpu_memory_gb),
                ("computeCapability", self.compute_capability),
            )
            if value is not None
        ]
        if self.gpu_type == OTHER and self.vm_size is None:
            missing = {"gpuMemoryGb", "computeCapability"} - set(own_figures)
            if missing:
                raise ValueError(
                    f"gpuType: other needs {' and '.join(sorted(missing))}: the catalogue does not know the GPU, "
                    'e.g. gpuMemoryGb: 48 and computeCapability: "8.6"'
                )
        elif own_figures:
            known = self.kind
            raise ValueError(
                f"{' and '.join(own_figures)} only go with gpuType: other; the catalogue knows {known!r} "
                f"({self.gpu.memory_gb:g} GB, compute capability {self.gpu.compute_capability}): remove "
                f"{' and '.join(own_figures)}, or use gpuType: other"
            )
        if self.sharing is not None and self.sharing.time_slicing and self.driver == "operator":
            raise ValueError(
                "sharing is rendered as the NVIDIA device plugin's config, which pools with driver: operator "
                "do not run (the GPU operator brings its own); use driver: aks, or remove sharing"
            )
        self._check_mig()
        return self

    def _check_mig(self) -> None:
        """The profile exists on the pool's GPU (and, on AKS with its driver, as a `gpuInstanceProfile`)."""
        mig = self.sharing.mig if self.sharing else None
        if mig is None:
            return
        gpu = self.gpu
        profiles = mig_profiles(gpu)
        if not profiles:
            raise ValueError(
                f"sharing.mig: {gpu.name} GPUs ({self.kind}) have no MIG profiles; MIG needs an A100 or H100 "
                f"(gpuType {mig_gpus()}); share this pool with sharing: {{timeSlicing: {{replicas: 2}}}} instead"
            )
        profile = profiles.get(mig.profile)
        if profile is None:
            listed = ", ".join(f"{p.name} ({p.per_gpu} per GPU)" for p in profiles.values())
            raise ValueError(
                f"sharing.mig.profile: {mig.profile!r} is not a MIG profile of the {gpu.name} "
                f"({gpu.memory_gb:g} GB); its profiles: {listed}; e.g. sharing: {{mig: {{profile: "
                f"{next(iter(profiles))}}}}}"
            )
        if self.vm_size is not None and self.driver == "preinstalled":
            aks = aks_gpu_instance_profile(profile)
            if aks is None:
                made = next(
                    p.name
                    for p in profiles.values()
                    if aks_gpu_instance_profile(p) is not None and p.compute_slices == profile.compute_slices
                )
                raise ValueError(
                    f"sharing.mig.profile: AKS cuts the GPUs of a pool it installs the driver on by "
                    f"gpuInstanceProfile, whose MIG{profile.compute_slices}g makes "
                    f"{AKS_MIG_INSTANCES[profile.compute_slices]} × {made}, not {profile.per_gpu} × {profile.name}; "
                    f"use profile {made}, or driver: operator (the GPU operator's MIG manager cuts {profile.name})"
                )

    @property
    def sku(self) -> GpuSku | None:
        return GPU_SKUS.get(self.vm_size) if self.vm_size else None

    @property
    def kind(self) -> GpuType:
        """The GPU type id (`t4`, `l40s`, `a100-80gb`, ..., `other`), the value of the `kiva.platform/gpu` label."""
        if self.sku:
            return self.sku.gpu_type
        assert self.gpu_type is not None
        return self.gpu_type

    @property
    def gpu(self) -> GpuModel:
        """What one GPU of the pool is: the VM size's memory, else the catalogue's, else the pool's own figures."""
        if self.kind == OTHER:
            return GpuModel(
                OTHER, "GPU (gpuType: other)", self.gpu_memory_gb or 0, self.compute_capability or "0.0"
            )
        known = GPU_CATALOGUE[self.kind]
        if self.sku and self.sku.gpu_memory_gb != known.memory_gb:
            return GpuModel(
                known.id,
                f"{known.name} ({self.sku.vm_size})",
                self.sku.gpu_memory_gb,
                known.compute_capability,
            )
        return known

    @property
    def gpus(self) -> int:
        """Physical GPUs on one node of this pool."""
        if self.sku:
            return self.sku.gpus
        assert self.gpus_per_node is not None
        return self.gpus_per_node

    @property
    def replicas_per_gpu(self) -> int:
        """Model servers one GPU can take by time-slicing: its replicas, else 1 (MIG: see `slices_per_gpu`)."""
        slicing = self.sharing.time_slicing if self.sharing else None
        return slicing.replicas if slicing else 1

    @property
    def mig_profile(self) -> MigProfile | None:
        """The MIG profile every GPU of the pool is cut into (validated against the GPU), else None."""
        mig = self.sharing.mig if self.sharing else None
        return mig_profiles(self.gpu).get(mig.profile) if mig else None

    @property
    def mig_largest(self) -> str:
        """The pool's GPU's largest MIG profile (a whole GPU's memory in one slice), for messages."""
        return max(mig_profiles(self.gpu).values(), key=lambda p: p.memory_gb).name

    @property
    def slices_per_gpu(self) -> int:
        """`nvidia.com/gpu` one physical GPU advertises: MIG slices, time-slicing replicas, else 1."""
        profile = self.mig_profile
        return profile.per_gpu if profile else self.replicas_per_gpu

    @property
    def allocatable_gpus(self) -> int:
        """`nvidia.com/gpu` one node advertises: physical GPUs × slices per GPU (MIG or time-slicing)."""
        return self.gpus * self.slices_per_gpu

    @property
    def memory_per_gpu_gb(self) -> float:
        """Memory of what one `nvidia.com/gpu` of this pool is: a MIG slice's, else one GPU's, in GB."""
        profile = self.mig_profile
        return profile.memory_gb if profile else self.gpu.memory_gb

    @property
    def unit(self) -> str:
        """What one `nvidia.com/gpu` of the pool is, for messages: `MIG 1g.10gb slice of A100 (10 GB)`."""
        profile = self.mig_profile
        if profile:
            return f"MIG {profile.name} slice of {self.kind.upper()} ({profile.memory_gb:g} GB)"
        return f"{self.kind.upper()} ({self.gpu.memory_gb:g} GB)"


__all__ = [
    "AzureCluster",
    "Cluster",
    "DnsLabel",
    "ExistingCluster",
    "GeneralPool",
    "GpuPool",
    "GpuSharing",
    "Mig",
    "NodePool",
    "Taint",
    "TimeSlicing",
]
