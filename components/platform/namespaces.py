"""Namespaces of the platform and its operators, each with Pod Security Admission labels.

`restricted` wherever the workload allows it: the platform namespace and the operators that ship
restricted-compatible pods. Only the NVIDIA components, which need host paths and privileged
containers to reach the GPU driver, get `privileged`, and they live in namespaces of their own.
The platform namespace holds the database, so it is protected: deleting it would delete the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import EXTERNAL_SECRETS_NAMESPACE, PLATFORM_NAMESPACE
from components.platform.common import PART_OF, child_opts

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


@dataclass(frozen=True)
class NamespacesArgs:
    """What decides the platform's namespaces and the declarations on the platform namespace."""

    region: str
    jurisdiction: str
    prerequisites: Mapping[str, Any]
    """What the cluster must already have, as the policy pack reads it (`clusterIssuers`, `crds`,
    `ingressClasses`, `loadBalancers`)."""
    external_secrets: bool
    """External Secrets is installed (in a namespace of its own)."""
    nvidia_software: frozenset[str]
    """What the platform installs on the GPU pools that run a model (`device-plugin`, `gpu-operator`)."""
    declared_node_pools: tuple[Mapping[str, Any], ...] | None = None
    """The node pools an existing cluster is declared to offer (`Scheduling.declared_node_pools`)."""
    cloudnative_pg: bool = True
    """The stack installs CloudNativePG (its namespace is the stack's; else the cluster's own)."""
    cert_manager: bool = True
    """The stack installs cert-manager (its namespace is the stack's; else the cluster's own)."""
    secret_keys: tuple[Mapping[str, str], ...] = ()
    """The Kubernetes Secret keys (`{"secret", "key"}`) that hold the secrets table's values on this
    stack, in table order, for the policy that checks they are only ever read by reference."""


def planned_namespaces(args: NamespacesArgs) -> list[NamespacePlan]:
    """Which namespaces this stack needs, and at which Pod Security level."""
    plans = [NamespacePlan(PLATFORM_NAMESPACE, "restricted", protect=True)]
    # An operator the cluster already runs lives in a namespace the stack neither creates nor owns.
    if args.cloudnative_pg:
        plans.append(NamespacePlan(CNPG_NAMESPACE, "restricted"))
    if args.cert_manager:
        plans.append(NamespacePlan(CERT_MANAGER_NAMESPACE, "restricted"))
    if args.external_secrets:
        plans.append(NamespacePlan(EXTERNAL_SECRETS_NAMESPACE, "restricted"))
    if "device-plugin" in args.nvidia_software:
        plans.append(NamespacePlan(DEVICE_PLUGIN_NAMESPACE, "privileged"))
    if "gpu-operator" in args.nvidia_software:
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
#: The Secret keys holding the secrets table's values, for the secrets-by-reference check.
SECRET_KEYS_ANNOTATION = "kiva.platform/secret-keys"


def _compact_json(value: Any) -> str:
    """One stable spelling (compact, sorted keys), so an unchanged setting never shows up as a diff."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def platform_annotations(args: NamespacesArgs) -> dict[str, str]:
    """The platform namespace's declarations, which policies read from the plan alone.

    The policy pack sees resources, not the stack's settings; these annotations carry what it needs
    to judge data residency and whether the plan can come up: the region and jurisdiction, the
    prerequisites the cluster is declared to have, on existing clusters the nodes it offers, and
    which Secret keys hold secrets (the secrets table, so the pack need not guess from names).
    """
    annotations = {
        REGION_ANNOTATION: args.region,
        JURISDICTION_ANNOTATION: args.jurisdiction,
        PREREQUISITES_ANNOTATION: _compact_json(dict(args.prerequisites)),
        SECRET_KEYS_ANNOTATION: _compact_json([dict(k) for k in args.secret_keys]),
    }
    if args.declared_node_pools is not None:
        annotations[NODE_POOLS_ANNOTATION] = _compact_json([dict(p) for p in args.declared_node_pools])
    return annotations


class PlatformNamespaces(pulumi.ComponentResource):
    """Creates the namespaces; `by_name[...]` is the Namespace resource to depend on.

    The platform namespace also declares, as annotations, the stack's region and jurisdiction (so a
    reviewer's policy run knows where the data lives even on clusters that have no cloud location),
    its prerequisites, on existing clusters its node pools, and the Secret keys holding secrets (see
    `platform_annotations`).
    """

    by_name: dict[str, k8s.core.v1.Namespace]

    def __init__(
        self,
        name: str,
        args: NamespacesArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:Namespaces", name, None, opts)
        self.by_name = {}
        for plan in planned_namespaces(args):
            annotations = platform_annotations(args) if plan.name == PLATFORM_NAMESPACE else None
            self.by_name[plan.name] = k8s.core.v1.Namespace(
                f"{name}-{plan.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=plan.name, labels=psa_labels(plan.level), annotations=annotations
                ),
                opts=child_opts(self, protect=plan.protect),
            )
        self.register_outputs({"namespaces": list(self.by_name)})
