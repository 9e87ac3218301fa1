"""Namespaces of the platform and its operators, each with Pod Security Admission labels.

`restricted` wherever the workload allows it: the platform namespace and the operators that ship
restricted-compatible pods. Only the NVIDIA components, which need host paths and privileged
containers to reach the GPU driver, get `privileged`, and they live in namespaces of their own.
The platform namespace holds the database, so it is protected: deleting it would delete the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import EXTERNAL_SECRETS_NAMESPACE, PLATFORM_NAMESPACE, CloudFoundation
from components.platform.common import PART_OF, child_opts
from infra.settings import StackSettings
from infra.settings.cluster import ExistingCluster

PSA_VERSION = "latest"
CNPG_NAMESPACE = "cnpg-system"
CERT_MANAGER_NAMESPACE = "cert-manager"
DEVICE_PLUGIN_NAMESPACE = "nvidia-device-plugin"
GPU_OPERATOR_NAMESPACE = "gpu-operator"


def psa_labels(level: str) -> dict[str, str]:
    """Enforce `level`; warn and audit at `restricted` so anything weaker stays visible."""
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": PSA_VERSION,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
        "app.kubernetes.io/part-of": PART_OF,
    }


@dataclass(frozen=True)
class NamespacePlan:
    name: str
    level: str
    protect: bool = False


def planned_namespaces(settings: StackSettings, foundation: CloudFoundation) -> list[NamespacePlan]:
    """Which namespaces this stack needs, and at which Pod Security level."""
    plans = [
        NamespacePlan(PLATFORM_NAMESPACE, "restricted", protect=True),
        NamespacePlan(CNPG_NAMESPACE, "restricted"),
        NamespacePlan(CERT_MANAGER_NAMESPACE, "restricted"),
    ]
    if foundation.needs_external_secrets:
        plans.append(NamespacePlan(EXTERNAL_SECRETS_NAMESPACE, "restricted"))
    software = {
        nodes.nvidia_software
        for pool, nodes in foundation.gpu_pools.items()
        if any(m.pool == pool for m in settings.models)
    }
    if "device-plugin" in software:
        plans.append(NamespacePlan(DEVICE_PLUGIN_NAMESPACE, "privileged"))
    if "gpu-operator" in software:
        plans.append(NamespacePlan(GPU_OPERATOR_NAMESPACE, "privileged"))
    return plans


#: Annotations on the platform namespace declaring where its data is kept (read by the policy pack).
#: Annotations, not labels: a region such as IONOS's `de/fra` is no valid label value.
REGION_ANNOTATION = "kiva.platform/region"
JURISDICTION_ANNOTATION = "kiva.platform/jurisdiction"
#: What the cluster must already have (settings.prerequisites), for the policy pack's day-one checks.
PREREQUISITES_ANNOTATION = "kiva.platform/prerequisites"
#: The declared node pools of an existing cluster, for the day-one scheduling check.
NODE_POOLS_ANNOTATION = "kiva.platform/node-pools"


def _compact_json(value: Any) -> str:
    """One stable spelling (compact, sorted keys), so an unchanged setting never shows up as a diff."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def platform_annotations(settings: StackSettings) -> dict[str, str]:
    """The platform namespace's declarations, which policies read from the plan alone.

    The policy pack sees resources, not the stack's settings; these annotations carry what it needs
    to judge data residency and whether the plan can come up: the region and jurisdiction, the
    prerequisites the cluster is declared to have, and on existing clusters the nodes it offers.
    """
    prerequisites = settings.prerequisites
    annotations = {
        REGION_ANNOTATION: settings.region,
        JURISDICTION_ANNOTATION: settings.jurisdiction,
        PREREQUISITES_ANNOTATION: _compact_json(
            {
                "clusterIssuers": list(prerequisites.cluster_issuers),
                "crds": list(prerequisites.crds),
                "ingressClasses": list(prerequisites.ingress_classes),
                "loadBalancers": prerequisites.load_balancers,
            }
        ),
    }
    if isinstance(settings.cluster, ExistingCluster):
        annotations[NODE_POOLS_ANNOTATION] = _compact_json(
            [pool.model_dump(mode="json", by_alias=True) for pool in settings.cluster.node_pools]
        )
    return annotations


class PlatformNamespaces(pulumi.ComponentResource):
    """Creates the namespaces; `by_name[...]` is the Namespace resource to depend on.

    The platform namespace also declares, as annotations, the stack's region and jurisdiction (so a
    reviewer's policy run knows where the data lives even on clusters that have no cloud location),
    its prerequisites and, on existing clusters, its node pools (see `platform_annotations`).
    """

    by_name: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        foundation: CloudFoundation,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Namespaces", name, None, opts)
        self.by_name = {}
        for plan in planned_namespaces(settings, foundation):
            annotations = platform_annotations(settings) if plan.name == PLATFORM_NAMESPACE else None
            self.by_name[plan.name] = k8s.core.v1.Namespace(
                f"{name}-{plan.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=plan.name, labels=psa_labels(plan.level), annotations=annotations
                ),
                opts=child_opts(self, protect=plan.protect),
            )
        self.register_outputs({"namespaces": list(self.by_name)})
