"""GPU metrics on device-plugin pools: NVIDIA's DCGM exporter as a Helm release, scraped by Prometheus.

Pools served by the GPU operator get a DCGM exporter from the operator (`dcgmExporter.serviceMonitor`,
`components/platform/operators.py`). Pools served by the NVIDIA device plugin (`driver: preinstalled`, the
AKS default) get nothing from it, so with monitoring on this module installs the dcgm-exporter chart 4.6.0
(vendored as `charts/dcgm-exporter-4.6.0`, provenance in charts/README.md) onto exactly those pools, with
the image gpu-operator v25.10.0 runs on its own (`infra.versions.DCGM_EXPORTER_TAG`), so dashboards and
alerts read the same series from both kinds of pool.

What the chart's DaemonSet needs (`templates/daemonset.yaml` and `values.yaml` at tag 4.4.1-4.6.0 of
NVIDIA/dcgm-exporter), and what is kept of it:
- the GPUs: the image sets `NVIDIA_VISIBLE_DEVICES=all` (`docker/Dockerfile.distroless`), and the node's
  NVIDIA container runtime injects every GPU of the node. On AKS that runtime is the GPU nodes' default,
  so AKS's guide ("Monitor GPU metrics from NVIDIA DCGM exporter", learn.microsoft.com/azure/aks/
  monitor-gpu-metrics) sets only a node selector and the GPU taint's toleration; where the device-plugin
  pools name a RuntimeClass (`runtimeClass` of a GPU pool), the exporter names the same one.
- pod attribution: a read-only `hostPath` of the kubelet's pod-resources directory
  (`/var/lib/kubelet/pod-resources`, chart value `kubeletPath`), always mounted by the template, whose
  `kubelet.sock` says which pod holds which GPU. The socket belongs to root, so the container runs as
  uid 0 (`runAsUser: 0`, the chart's default).
- capabilities: the chart adds `SYS_ADMIN`, which only the profiling (DCP, `DCGM_FI_PROF_*`) fields need
  (`docker/dcgm-exporter-entrypoint.sh` warns and goes on without it). KIVA uses none of them
  (`metric_catalogue.py`), so the counters below leave them out and the container drops every
  capability, cannot escalate, and runs the runtime's default seccomp profile; `NO_SETCAP` keeps the
  entrypoint from trying to set file capabilities it could not use.
The hostPath and uid 0 need Pod Security `privileged`, so the exporter lives in a namespace of its own
(`kiva-gpu-metrics`), as node-exporter does; the rest of the monitoring stack stays `restricted`.

Policies: `kiva-hardening-no-host-access` checks the pods the plan registers, and states that vendor
charts' releases (node-exporter, the NVIDIA charts) are out of its scope because they need host access;
this release is one of them, so nothing is weakened. Checkov reads the plan's manifests, which hold the
Release but not what it renders, so it sees this namespace and its NetworkPolicies only.

Scraping: the chart's ServiceMonitor (every 30 s, like the PodMonitors, labelled like them) selects the
chart's Service; an ingress policy admits only Prometheus's pods (or, with the cluster's own Prometheus,
its namespace) to the exporter's port 9400, the rest of the namespace's ingress is denied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import Toleration
from components.platform.common import GPU_POOL_LABEL, child_opts, labels, network_policies, pinned_release
from components.platform.monitoring.monitors import SCRAPE_INTERVAL
from components.platform.monitoring.values import PROMETHEUS_POD_LABELS
from components.platform.namespaces import psa_labels
from infra import versions

#: The exporter's namespace: the hostPath and uid 0 need Pod Security `privileged`.
GPU_METRICS_NAMESPACE = "kiva-gpu-metrics"
#: The Release name: it contains the chart's name, so the chart's fullname is this (`dcgm-exporter.fullname`).
RELEASE_NAME = "dcgm-exporter"
#: The exporter's pods, as the chart's `dcgm-exporter.selectorLabels` labels them.
DCGM_EXPORTER_POD_LABELS = {
    "app.kubernetes.io/name": "dcgm-exporter",
    "app.kubernetes.io/instance": RELEASE_NAME,
}
#: The exporter's metrics port (chart `service.port`, `service.address` `:9400`).
DCGM_EXPORTER_PORT = 9400
#: Seconds Helm may take before the (atomic) install is rolled back: the image pull and the probes' 45 s
#: initial delay on every running GPU node (none while the pools are scaled to zero).
RELEASE_TIMEOUT = 600
IMAGE_REPOSITORY = "nvcr.io/nvidia/k8s/dcgm-exporter"

#: The fields exported: `etc/default-counters.csv` of the image (NVIDIA/dcgm-exporter@4.4.1-4.6.0) without
#: the profiling fields `DCGM_FI_PROF_*`, which need `SYS_ADMIN`. Format: field, Prometheus type, help.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
    (
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "counter",
        "Total number of NVLink bandwidth counters for all lanes.",
    ),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"),
    (
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "counter",
        "Number of remapped rows for uncorrectable errors",
    ),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
    ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version"),
)


@dataclass(frozen=True)
class GpuMetricsArgs:
    """Where the exporter runs and who scrapes it."""

    pools: tuple[str, ...]
    """The device-plugin GPU pools (sorted): exactly their nodes run an exporter pod."""
    tolerations: tuple[Toleration, ...]
    """Every taint a GPU node may carry (`CloudFoundation.gpu_daemonset_tolerations`, as the device plugin's)."""
    prometheus_namespace: str
    """Where Prometheus runs."""
    prometheus_pods: bool
    """Prometheus is the stack's own (its pods' labels are known); `False`: the cluster's, by namespace only."""
    runtime_class: str | None = None
    """The RuntimeClass the device-plugin pools' GPU pods name (`None`: the node's default runtime)."""


def counters_csv() -> str:
    """The chart's `customMetrics`: the counters file the exporter reads (`-f`, from the chart's ConfigMap)."""
    return "".join(f"{field}, {kind}, {text}\n" for field, kind, text in COUNTERS)


def pool_affinity(pools: Sequence[str]) -> dict[str, Any]:
    """Only the nodes of `pools`, by the pool label the cloud layer puts on GPU nodes."""
    term = {"matchExpressions": [{"key": GPU_POOL_LABEL, "operator": "In", "values": list(pools)}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def dcgm_exporter_values(args: GpuMetricsArgs) -> dict[str, Any]:
    """The release's values (dcgm-exporter chart 4.6.0 `values.yaml`; unset keys keep the chart's default)."""
    values: dict[str, Any] = {
        "image": {"repository": IMAGE_REPOSITORY, "tag": versions.DCGM_EXPORTER_TAG},
        "customMetrics": counters_csv(),
        "securityContext": {
            # uid 0 for the root-owned kubelet socket; no capability (the chart's SYS_ADMIN is for DCP only).
            "runAsNonRoot": False,
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": [], "drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "extraEnv": [{"name": "NO_SETCAP", "value": "true"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "affinity": pool_affinity(args.pools),
        "tolerations": [dict(toleration) for toleration in args.tolerations],
        "serviceMonitor": {
            "enabled": True,
            "interval": SCRAPE_INTERVAL,
            "additionalLabels": labels("kiva", "monitoring"),
        },
        # Pod labels and UIDs on the series would need a ClusterRole reading every pod: off (chart default).
        "kubernetes": {"enablePodLabels": False, "enablePodUID": False},
    }
    if args.runtime_class:
        values["runtimeClassName"] = args.runtime_class
    return values


def scrape_policy(args: GpuMetricsArgs) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Ingress to the exporter's pods: Prometheus, on the metrics port, and nothing else."""
    namespace = k8s.meta.v1.LabelSelectorArgs(
        match_labels={"kubernetes.io/metadata.name": args.prometheus_namespace}
    )
    pods = (
        k8s.meta.v1.LabelSelectorArgs(match_labels=dict(PROMETHEUS_POD_LABELS))
        if args.prometheus_pods
        else None
    )
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(DCGM_EXPORTER_POD_LABELS)),
        policy_types=["Ingress"],
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=namespace, pod_selector=pods)
                ],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=DCGM_EXPORTER_PORT, protocol="TCP")],
            )
        ],
    )


class GpuMetrics(pulumi.ComponentResource):
    """The `kiva-gpu-metrics` namespace, the dcgm-exporter release and its ingress policies.

    `depends_on`: what provides the ServiceMonitor CRD (the kube-prometheus-stack release, when the stack
    installs it).
    """

    def __init__(
        self,
        name: str,
        args: GpuMetricsArgs,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:GpuMetrics", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GPU_METRICS_NAMESPACE, labels=psa_labels("privileged")),
            opts=child_opts(self),
        )
        deny_ingress = k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
        )
        self.network_policies = network_policies(
            self,
            name,
            "kiva-gpu-metrics",
            GPU_METRICS_NAMESPACE,
            {"default-deny-ingress": deny_ingress, "dcgm-exporter": scrape_policy(args)},
            [self.namespace],
        )
        chart = versions.DCGM_EXPORTER
        self.release = k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            pinned_release(
                RELEASE_NAME, chart, GPU_METRICS_NAMESPACE, dcgm_exporter_values(args), RELEASE_TIMEOUT
            ),
            opts=child_opts(self, depends_on=[self.namespace, *depends_on]),
        )
        self.register_outputs({})
