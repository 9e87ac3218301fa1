"""The operators the platform's custom resources need, as Helm releases at pinned chart versions.

Vendor software with its own hooks and CRDs is installed as `helm.v3.Release` (real Helm, hooks run);
KIVA's own workloads are first-class objects elsewhere so the policy pack sees their pod specs.
Releases are atomic: a failed install or upgrade rolls back instead of leaving half an operator.
Custom resources `depends_on` the release that installs their CRD and admission webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import EXTERNAL_SECRETS_NAMESPACE, Toleration
from components.platform.common import GPU_POOL_LABEL, child_opts, pinned_release
from components.platform.namespaces import (
    CERT_MANAGER_NAMESPACE,
    CNPG_NAMESPACE,
    DEVICE_PLUGIN_NAMESPACE,
    GPU_OPERATOR_NAMESPACE,
)
from infra import versions
from infra.settings.gpu_sharing import MIG_STRATEGY, device_plugin_config_values

#: Seconds Helm may take per release before the (atomic) install is rolled back.
RELEASE_TIMEOUT = 600


@dataclass(frozen=True)
class OperatorsArgs:
    """Which operators the stack needs, and what the NVIDIA DaemonSets must tolerate."""

    monitoring: bool
    """The operators' metrics are scraped (PodMonitors/ServiceMonitors, whose CRDs the cluster has)."""
    external_secrets: bool
    """The secret store is read through External Secrets (`CloudFoundation.needs_external_secrets`)."""
    cloudnative_pg: bool = True
    """The stack installs CloudNativePG and the Barman Cloud plugin (`False`: the cluster runs them)."""
    cert_manager: bool = True
    """The stack installs cert-manager (`False`: the cluster runs it)."""
    device_plugin_runtime_class: str | None = None
    """RuntimeClass of the device plugin's DaemonSets (chart value `runtimeClassName`, k8s-device-plugin
    0.18.0: set on the device plugin, GFD and MPS DaemonSets), the one its pools' GPU pods name."""
    device_plugin_pools: tuple[str, ...] = ()
    """GPU pools running a model whose nodes get the NVIDIA device plugin (sorted)."""
    gpu_operator_pools: tuple[str, ...] = ()
    """GPU pools running a model whose nodes get the NVIDIA GPU operator (sorted)."""
    time_slicing: tuple[tuple[str, int], ...] = ()
    """Device-plugin pools that time-slice their GPUs, with the slices per GPU (sorted by pool).

    Rendered as the chart's `config.map` (`infra.settings.gpu_sharing`); their nodes carry the label
    `nvidia.com/device-plugin.config=kiva-<pool>`. Empty: the chart's values stay as they were.
    """
    mig: tuple[str, ...] = ()
    """Device-plugin pools whose GPUs are cut into MIG slices (sorted): each gets a config with
    `migStrategy: single`, picked by the same node label as time-slicing's."""
    gpu_operator_mig: bool = False
    """A GPU-operator pool is cut into MIG slices: the operator's values state `mig.strategy: single`
    and `migManager.enabled: true` (gpu-operator v25.10.0 defaults, stated so a change of defaults
    cannot silently turn MIG off); the nodes' `nvidia.com/mig.config` label names the profile."""
    gpu_tolerations: tuple[Toleration, ...] = ()
    """Tolerations of the NVIDIA DaemonSets: every taint a GPU node of the cluster may carry.

    The charts replace their tolerations list wholesale with the one passed (k8s-device-plugin 0.18.0
    `tolerations`, gpu-operator v25.10.0 `daemonsets.tolerations` copied onto every operand DaemonSet
    by the operator, its NFD worker's `worker.tolerations`), so the list must be complete: the cloud
    layer states it (`CloudFoundation.gpu_daemonset_tolerations`), spot taints included. A toleration
    only permits; the node affinity (or the operator's node labels) decides which nodes.
    """


def gpu_node_tolerations(args: OperatorsArgs) -> list[dict[str, str]]:
    """The DaemonSets' tolerations in the charts' values shape."""
    return [dict(toleration) for toleration in args.gpu_tolerations]


def device_plugin_runtime(args: OperatorsArgs) -> dict[str, str]:
    """The chart value `runtimeClassName` where the pools' GPU pods need a RuntimeClass (else none, so
    the chart's default `null` stands and shipped stacks keep their values)."""
    runtime = args.device_plugin_runtime_class
    return {"runtimeClassName": runtime} if runtime else {}


def _pool_affinity(pools: list[str]) -> dict[str, Any]:
    """Only the nodes of `pools`. Helm merges maps but replaces lists, so this `nodeSelectorTerms`
    replaces the chart's default terms (NFD's `pci-10de.present`, `cpu-model.vendor_id`,
    `nvidia.com/gpu.present`) instead of being ORed with them."""
    term = {"matchExpressions": [{"key": GPU_POOL_LABEL, "operator": "In", "values": pools}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


class Operators(pulumi.ComponentResource):
    """CloudNativePG, cert-manager, the Barman Cloud plugin, External Secrets and NVIDIA components.

    Each unless the cluster already runs it (`kiva:operators.<name>.install: false`, then the release is
    None and its CRDs are declared prerequisites); External Secrets only when the cloud layer's secret
    store is read through it; the NVIDIA device plugin and GPU operator only for the pools whose nodes
    need them (`OperatorsArgs`).

    Public attributes are the releases (or None when the stack does not need them).
    """

    cloudnative_pg: k8s.helm.v3.Release | None
    cert_manager: k8s.helm.v3.Release | None
    barman_cloud: k8s.helm.v3.Release | None
    external_secrets: k8s.helm.v3.Release | None
    device_plugin: k8s.helm.v3.Release | None
    gpu_operator: k8s.helm.v3.Release | None

    def __init__(
        self,
        name: str,
        args: OperatorsArgs,
        namespaces: Mapping[str, k8s.core.v1.Namespace],
        after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`after`: what every release waits for (the monitoring stack, whose CRDs the charts' PodMonitors
        and ServiceMonitors need when monitoring is on)."""
        super().__init__("kiva:platform:Operators", name, None, opts)
        self._name = name
        self._namespaces = namespaces
        self._after = list(after)
        monitoring = args.monitoring

        self.cloudnative_pg = (
            self._release(
                "cloudnative-pg",
                versions.CLOUDNATIVE_PG,
                CNPG_NAMESPACE,
                {
                    "crds": {"create": True},
                    "config": {"clusterWide": True},
                    "monitoring": {"podMonitorEnabled": monitoring},
                },
            )
            if args.cloudnative_pg
            else None
        )
        self.cert_manager = (
            self._release(
                "cert-manager",
                versions.CERT_MANAGER,
                CERT_MANAGER_NAMESPACE,
                {
                    "crds": {"enabled": True},
                    # the ServiceMonitor feeds the CertificateExpiringSoon alert (monitoring/alerts.py)
                    "prometheus": {"enabled": monitoring, "servicemonitor": {"enabled": monitoring}},
                },
            )
            if args.cert_manager
            else None
        )
        # The plugin must live in the operator's namespace and needs cert-manager's CRDs for its
        # certificates; a cluster that runs its own CloudNativePG runs the plugin beside it.
        self.barman_cloud = (
            self._release(
                "barman-cloud",
                versions.BARMAN_CLOUD_PLUGIN,
                CNPG_NAMESPACE,
                {},
                depends_on=[r for r in (self.cloudnative_pg, self.cert_manager) if r is not None],
            )
            if self.cloudnative_pg is not None
            else None
        )
        self.external_secrets = (
            self._release(
                "external-secrets",
                versions.EXTERNAL_SECRETS,
                EXTERNAL_SECRETS_NAMESPACE,
                {"installCRDs": True, "serviceMonitor": {"enabled": monitoring}},
            )
            if args.external_secrets
            else None
        )
        plugin_pools = list(args.device_plugin_pools)
        self.device_plugin = (
            self._release(
                "nvidia-device-plugin",
                versions.NVIDIA_DEVICE_PLUGIN,
                DEVICE_PLUGIN_NAMESPACE,
                {
                    "tolerations": gpu_node_tolerations(args),
                    "affinity": _pool_affinity(plugin_pools),
                    **device_plugin_runtime(args),
                    **device_plugin_config_values(dict(args.time_slicing), args.mig),
                },
            )
            if plugin_pools
            else None
        )
        operator_pools = list(args.gpu_operator_pools)
        self.gpu_operator = (
            self._release(
                "gpu-operator",
                versions.GPU_OPERATOR,
                GPU_OPERATOR_NAMESPACE,
                {
                    "driver": {"enabled": True},
                    "toolkit": {"enabled": True},
                    "daemonsets": {"tolerations": gpu_node_tolerations(args)},
                    # The NFD worker labels GPU nodes, which is what the operand DaemonSets select on.
                    "node-feature-discovery": {"worker": {"tolerations": gpu_node_tolerations(args)}},
                    "dcgmExporter": {"serviceMonitor": {"enabled": monitoring}},
                    **(
                        {"mig": {"strategy": MIG_STRATEGY}, "migManager": {"enabled": True}}
                        if args.gpu_operator_mig
                        else {}
                    ),
                },
            )
            if operator_pools
            else None
        )
        self.register_outputs({})

    def _release(
        self,
        release: str,
        chart: versions.HelmChart,
        namespace: str,
        values: dict[str, Any],
        depends_on: list[pulumi.Resource] | None = None,
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            f"{self._name}-{release}",
            pinned_release(release, chart, namespace, values, RELEASE_TIMEOUT),
            opts=child_opts(
                self, depends_on=[self._namespaces[namespace], *self._after, *(depends_on or [])]
            ),
        )
