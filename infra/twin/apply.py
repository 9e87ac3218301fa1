"""What the twin applies, in which order, and what the API server said about each object.

Order (as Pulumi plus Helm would bring things up): stand-ins for what the cloud provides (StorageClasses),
CRDs (waited for until Established), Namespaces (waited for until their `default` ServiceAccount exists,
which the ServiceAccount admission plugin needs for any pod), then every other unit in dependency order:
a plan resource, a Helm release (its pre-install hooks, its objects in Helm's kind order, its post-install
hooks; after the release's own dependencies), or what an operator makes of a custom resource (right after
it; `operator_pods.py`, `prometheus_pods.py`). Every write is a server-side apply with `fieldValidation=Strict`.

Set aside, and reported as not exercised: admission webhook configurations and APIServices of the
charts (their services never run here, and a `failurePolicy: Fail` webhook would refuse everything),
and hooks of other phases than install (upgrade, delete, test).
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.twin.api import Api, Reply, wait_for

#: Helm's install order (helm pkg/release/v1/util/kind_sorter.go InstallOrder); unknown kinds go last.
HELM_INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
]  # fmt: skip
_ORDER = {kind: index for index, kind in enumerate(HELM_INSTALL_ORDER)}
SET_ASIDE_KINDS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService"}
WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
PLACEHOLDER = "kiva-twin-placeholder"
CRD_KIND = "CustomResourceDefinition"


def helm_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=lambda o: _ORDER.get(str(o.get("kind")), len(_ORDER)))


@dataclass
class Item:
    obj: dict[str, Any]
    source: str  # "plan", "release cert-manager", "CloudNativePG shape of Cluster kiva/kiva-db", "stand-in"
    default_namespace: str = "default"
    """Where a namespaced object without `metadata.namespace` goes (Pulumi: `default`; Helm: the release's)."""

    @property
    def ref(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind')} {ns}{meta.get('name')}"


@dataclass
class Unit:
    """What one plan resource brings: its objects, in order, after the units it depends on."""

    key: str
    items: list[Item]
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    item: Item
    status: int
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def placeholder_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """Secrets are redacted in the plan's manifests: the twin sends placeholders the API accepts."""
    out = copy.deepcopy(obj)
    encoded = base64.b64encode(PLACEHOLDER.encode()).decode()
    if isinstance(out.get("data"), Mapping):
        out["data"] = dict.fromkeys(out["data"], encoded)
    if isinstance(out.get("stringData"), Mapping):
        out["stringData"] = dict.fromkeys(out["stringData"], PLACEHOLDER)
    return out


def dependency_order(units: list[Unit]) -> list[Unit]:
    """Units after everything they depend on, otherwise in registration order (a stable topological sort)."""
    by_key = {u.key: u for u in units}
    done: set[str] = set()
    visiting: set[str] = set()
    ordered: list[Unit] = []

    def visit(unit: Unit) -> None:
        if unit.key in done or unit.key in visiting:
            return  # a cycle cannot come from Pulumi; never loop on one
        visiting.add(unit.key)
        for dep in unit.depends_on:
            if dep in by_key:
                visit(by_key[dep])
        visiting.discard(unit.key)
        done.add(unit.key)
        ordered.append(unit)

    for unit in units:
        visit(unit)
    return ordered


class Applier:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.outcomes: list[Outcome] = []

    def apply(self, item: Item) -> Outcome:
        obj = item.obj
        meta = obj.setdefault("metadata", {})
        resource = self.api.resource(str(obj.get("apiVersion")), str(obj.get("kind")))
        if resource is None:
            outcome = Outcome(
                item, 404, f"the API server serves no {obj.get('kind')} in {obj.get('apiVersion')}"
            )
        else:
            if resource.namespaced:
                meta.setdefault("namespace", item.default_namespace)
            else:
                meta.pop("namespace", None)
            path = f"{self.api.collection_path(resource, meta.get('namespace'))}/{meta.get('name')}"
            body = (
                placeholder_secret(obj)
                if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"
                else obj
            )
            reply: Reply = self.api.apply(body, path)
            outcome = Outcome(item, reply.status, "" if reply.ok else reply.message, reply.warnings)
        self.outcomes.append(outcome)
        return outcome

    def wait_established(self, names: list[str], timeout: float = 60) -> list[str]:
        """Wait until every named CRD is Established; returns those that are not."""

        def pending() -> list[str]:
            left = []
            for name in names:
                reply = self.api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conditions = (
                    ((reply.json or {}).get("status") or {}).get("conditions") or [] if reply.ok else []
                )
                if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    left.append(name)
            return left

        left = pending()
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = pending()
        if names:
            self.api.discover()
        return left

    def wait_default_accounts(self, namespaces: list[str], timeout: float = 30) -> list[str]:
        def missing() -> list[str]:
            return [
                ns
                for ns in namespaces
                if not self.api.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default").ok
            ]

        wait_for(lambda: not missing() or None, timeout)
        return missing()
