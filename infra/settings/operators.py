"""Which operators the stack installs, and which the cluster already runs (`kiva:operators`).

Agencies bring clusters that already run cert-manager, CloudNativePG or the NVIDIA software. Installing
a second copy would fight the first (two controllers reconciling the same CRDs, two webhooks), so each
operator can be left out with `install: false`. The stack then relies on the cluster's copy, and says
so: what the platform's objects need from it (CRDs, a RuntimeClass, GPUs on the nodes) must be declared
under `kiva:prerequisites` and `kiva:cluster.nodePools`, where the day-one checks and `kiva twin` read
it. On a cluster this stack creates (`provider: azure`) nothing can run before the stack, so
`install: false` is refused there (`check_operators`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import model_validator

from infra.settings.base import DnsLabel, KivaModel
from infra.settings.cluster import GpuPool

#: Namespace the stack installs CloudNativePG (and the Barman Cloud plugin) into.
DEFAULT_CNPG_NAMESPACE = "cnpg-system"

#: CRDs of the kinds the platform creates through CloudNativePG and its Barman Cloud plugin (CRD files
#: `postgresql.cnpg.io_clusters.yaml`, `..._scheduledbackups.yaml`, `..._poolers.yaml` of CloudNativePG
#: 1.30 and `barmancloud.cnpg.io_objectstores.yaml` of plugin-barman-cloud 0.7.0).
CNPG_CRDS = (
    "clusters.postgresql.cnpg.io",
    "scheduledbackups.postgresql.cnpg.io",
    "objectstores.barmancloud.cnpg.io",
)
CNPG_POOLER_CRD = "poolers.postgresql.cnpg.io"
#: What the Barman Cloud plugin chart (0.7.0) renders from cert-manager: a self-signed Issuer and the
#: client and server Certificates of its gRPC endpoint.
PLUGIN_CERT_MANAGER_CRDS = ("issuers.cert-manager.io", "certificates.cert-manager.io")
#: What `internalCa: true` creates (`components/platform/certificate_issuer.py`): ClusterIssuers and a
#: Certificate for the CA.
INTERNAL_CA_CRDS = ("clusterissuers.cert-manager.io", "certificates.cert-manager.io")


class CertManager(KivaModel):
    """cert-manager (chart `cert-manager`): certificates of the Barman Cloud plugin, the internal CA and
    the gateway's Ingress."""

    install: bool = True
    """`false`: the cluster already runs cert-manager; declare the CRDs the platform uses under
    `kiva:prerequisites.crds` (`issuers.cert-manager.io` and `certificates.cert-manager.io` while the
    stack installs the Barman Cloud plugin, `clusterissuers.cert-manager.io` with `internalCa: true`)."""


class CloudNativePg(KivaModel):
    """CloudNativePG (chart `cloudnative-pg`) and its Barman Cloud plugin (chart `plugin-barman-cloud`):
    they run the gateway's database and its backups."""

    install: bool = True
    """`false`: the cluster already runs CloudNativePG and the Barman Cloud plugin (the plugin must run
    in the operator's namespace); declare `clusters.postgresql.cnpg.io`,
    `scheduledbackups.postgresql.cnpg.io`, `objectstores.barmancloud.cnpg.io` (and
    `poolers.postgresql.cnpg.io` with `database.pooler.enabled`) under `kiva:prerequisites.crds`."""
    namespace: DnsLabel | None = None
    """Namespace of the cluster's own operator (only with `install: false`; default `cnpg-system`): the
    database's network policy lets the operator in from there."""

    @model_validator(mode="after")
    def _namespace_only_when_present(self) -> CloudNativePg:
        if self.install and self.namespace not in (None, DEFAULT_CNPG_NAMESPACE):
            raise ValueError(
                f"namespace names where the cluster's own operator runs, so it needs install: false; the "
                f"stack installs CloudNativePG into {DEFAULT_CNPG_NAMESPACE} (e.g. "
                "{install: false, namespace: postgres-operator})"
            )
        return self

    @property
    def operator_namespace(self) -> str:
        return self.namespace or DEFAULT_CNPG_NAMESPACE


class ExternalSecrets(KivaModel):
    """External Secrets (chart `external-secrets`): copies the cloud secret manager's values into
    Secrets. Only stacks whose secrets live in a secret manager (Azure Key Vault) use it; on existing
    clusters the platform writes its Secrets itself and installs nothing either way."""

    install: bool = True
    """`false`: the cluster already runs External Secrets (refused on Azure, where the stack creates
    the cluster)."""


class Nvidia(KivaModel):
    """The NVIDIA device plugin (`driver: preinstalled` pools) and GPU operator (`driver: operator`)."""

    install: bool = True
    """`false`: the cluster's GPU nodes already advertise `nvidia.com/gpu` (its own device plugin or GPU
    operator); each GPU pool's nodes are then declared under `cluster.nodePools` with their `gpus`."""


class Operators(KivaModel):
    """The operators the platform needs; each is installed by the stack unless `install: false`."""

    cert_manager: CertManager = CertManager()
    """cert-manager."""
    cloudnative_pg: CloudNativePg = CloudNativePg()
    """CloudNativePG and the Barman Cloud plugin."""
    external_secrets: ExternalSecrets = ExternalSecrets()
    """External Secrets."""
    nvidia: Nvidia = Nvidia()
    """The NVIDIA device plugin and GPU operator."""

    def not_installed(self) -> list[str]:
        """The camelCase keys of the operators the cluster is said to run already."""
        installs = {
            "certManager": self.cert_manager.install,
            "cloudnativePg": self.cloudnative_pg.install,
            "externalSecrets": self.external_secrets.install,
            "nvidia": self.nvidia.install,
        }
        return [key for key, install in installs.items() if not install]


@dataclass(frozen=True)
class Uses:
    """What of the operators' APIs this stack uses (from the rest of the settings)."""

    pooler: bool
    """`database.pooler.enabled`: a CloudNativePG Pooler."""
    internal_ca: bool
    """`gateway.ingress.internalCa`: ClusterIssuers and a Certificate."""


def required_crds(operators: Operators, uses: Uses) -> dict[str, list[str]]:
    """Per operator left to the cluster (camelCase key), the CRDs the platform's objects need from it."""
    needs: dict[str, list[str]] = {}
    if not operators.cloudnative_pg.install:
        needs["cloudnativePg"] = [*CNPG_CRDS, *([CNPG_POOLER_CRD] if uses.pooler else [])]
    if not operators.cert_manager.install:
        crds: list[str] = []
        if operators.cloudnative_pg.install:
            crds += PLUGIN_CERT_MANAGER_CRDS
        if uses.internal_ca:
            crds += [crd for crd in INTERNAL_CA_CRDS if crd not in crds]
        if crds:
            needs["certManager"] = crds
    return needs


def check_operators(
    operators: Operators, *, creates_cluster: bool, declared_crds: list[str], uses: Uses
) -> tuple[str, str] | None:
    """The first problem with `kiva:operators`, as (key path below `kiva:`, message), or None.

    On a cluster the stack creates, nothing runs before the stack: an operator left out would never be
    there when the platform's custom resources are applied, so the plan could not come up. Elsewhere,
    what the platform needs from an operator the cluster runs must be declared.
    """
    missing = operators.not_installed()
    if creates_cluster and missing:
        key = missing[0]
        return (
            f"operators.{key}.install",
            "this stack creates the cluster (provider: azure), so nothing else can have installed the "
            f"operator before the platform needs it; remove operators.{key}.install: false, or deploy onto "
            "a cluster that runs it with provider: existing",
        )
    declared = set(declared_crds)
    for key, crds in required_crds(operators, uses).items():
        absent = [crd for crd in crds if crd not in declared]
        if absent:
            return (
                f"operators.{key}.install",
                "the stack does not install it, so the cluster must serve what the platform creates "
                f"through it; add {', '.join(absent)} to prerequisites.crds (e.g. prerequisites: "
                f"{{crds: [{', '.join(crds)}]}}) if the cluster has them, or set install: true",
            )
    return None


def check_runtime_classes(
    pools: list[GpuPool], *, creates_cluster: bool, declared: list[str]
) -> tuple[str, str] | None:
    """The first problem with the GPU pools' `runtimeClassName`, as (key path, message), or None.

    The API server's RuntimeClass admission plugin rejects a pod whose RuntimeClass does not exist
    ("pod rejected: RuntimeClass %q not found", kubernetes `plugin/pkg/admission/runtimeclass`), so the
    class must be declared. The device plugin is one Helm release with one `runtimeClassName` for all
    its DaemonSets (k8s-device-plugin 0.18.0 `values.yaml`), so its pools must agree on one.
    """
    for i, pool in enumerate(pools):
        name = pool.runtime_class_name
        if name is None:
            continue
        if creates_cluster:
            return (
                f"gpuPools[{i}].runtimeClassName",
                "AKS runs GPU pods with its nodes' default runtime and registers no RuntimeClass for "
                "them; remove runtimeClassName (it is for existing clusters, e.g. k3s: nvidia)",
            )
        if name not in declared:
            return (
                f"gpuPools[{i}].runtimeClassName",
                f"no RuntimeClass {name!r} is declared, and the API server rejects pods naming one that "
                f"does not exist; add it to prerequisites.runtimeClasses (e.g. prerequisites: "
                f"{{runtimeClasses: [{name}]}}) if the cluster has it (kubectl get runtimeclass)",
            )
    plugin_pools = [pool for pool in pools if pool.driver == "preinstalled"]
    classes = {pool.runtime_class_name for pool in plugin_pools}
    if len(classes) > 1:
        index = pools.index(plugin_pools[-1])
        spelled = ", ".join(f"{p.name}: {p.runtime_class_name or 'none'}" for p in plugin_pools)
        return (
            f"gpuPools[{index}].runtimeClassName",
            f"the pools with driver: preinstalled share one device plugin, whose DaemonSets take one "
            f"RuntimeClass, but they name different ones ({spelled}); use the same runtimeClassName on all",
        )
    return None
