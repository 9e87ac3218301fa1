"""Let the controller-manager and the scheduler work, then read back what they did.

Settled means: every workload's controller has created its pods (or recorded why it could not, as a
`FailedCreate` event), every pod is bound to a node or carries the scheduler's `PodScheduled=False`
verdict, and nothing changed for `QUIET` seconds. Meanwhile the twin plays the volume provisioner
(`storage.provision`), since the scheduler waits for it before binding pods with delayed-binding claims.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.twin import storage
from infra.twin.api import Api

QUIET = 2.0
INTERVAL = 0.4


@dataclass
class PodState:
    namespace: str
    name: str
    owner: str  # "ReplicaSet kiva/kiva-gateway-5d8f…", "" for bare pods
    node: str
    scheduled: str  # "True", "False", "" (no verdict yet)
    reason: str
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ClusterState:
    pods: list[PodState]
    failed_creates: dict[str, str]  # "StatefulSet kiva/x" -> the controller's message
    unsatisfied: list[str]  # workloads whose controller has not created all pods yet
    daemonsets: list[Mapping[str, Any]]
    claims: list[Mapping[str, Any]]
    settled: bool = True


def _pods(api: Api) -> list[PodState]:
    items = (api.get("/api/v1/pods").json or {}).get("items", [])
    states = []
    for pod in items:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        owner = next(iter(meta.get("ownerReferences") or []), None)
        scheduled: Mapping[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
        )
        states.append(
            PodState(
                namespace=meta["namespace"],
                name=meta["name"],
                owner=f"{owner['kind']} {meta['namespace']}/{owner['name']}" if owner else "",
                node=spec.get("nodeName") or "",
                scheduled="True" if spec.get("nodeName") else str(scheduled.get("status") or ""),
                reason=str(scheduled.get("message") or scheduled.get("reason") or ""),
                annotations=dict(meta.get("annotations") or {}),
                labels=dict(meta.get("labels") or {}),
            )
        )
    return states


def _failed_creates(api: Api) -> dict[str, str]:
    events = (api.get("/api/v1/events", fieldSelector="reason=FailedCreate").json or {}).get("items", [])
    failed = {}
    for event in events:
        involved = event.get("involvedObject") or {}
        failed[f"{involved.get('kind')} {involved.get('namespace')}/{involved.get('name')}"] = str(
            event.get("message") or ""
        )
    return failed


def _unsatisfied(api: Api) -> tuple[list[str], list[Mapping[str, Any]]]:
    waiting = []
    for kind, path in (
        ("Deployment", "deployments"),
        ("StatefulSet", "statefulsets"),
        ("DaemonSet", "daemonsets"),
    ):
        for item in (api.get(f"/apis/apps/v1/{path}").json or {}).get("items", []):
            meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
            ref = f"{kind} {meta['namespace']}/{meta['name']}"
            if status.get("observedGeneration", 0) < meta.get("generation", 1):
                waiting.append(ref)
            elif kind == "DaemonSet":
                if status.get("currentNumberScheduled", 0) < status.get("desiredNumberScheduled", 0):
                    waiting.append(ref)
            elif kind == "StatefulSet" and spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady":
                if status.get("replicas", 0) < min(1, spec.get("replicas", 1)):
                    waiting.append(ref)  # OrderedReady stops after -0: no pod ever becomes Ready here
            elif status.get("replicas", 0) < spec.get("replicas", 1):
                waiting.append(ref)
    for item in (api.get("/apis/batch/v1/jobs").json or {}).get("items", []):
        meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
        if status.get("active", 0) + status.get("succeeded", 0) < min(
            spec.get("parallelism", 1), spec.get("completions") or 1
        ):
            waiting.append(f"Job {meta['namespace']}/{meta['name']}")
    daemonsets = (api.get("/apis/apps/v1/daemonsets").json or {}).get("items", [])
    return waiting, daemonsets


def observe(api: Api) -> ClusterState:
    failed = _failed_creates(api)
    waiting, daemonsets = _unsatisfied(api)
    claims = (api.get("/api/v1/persistentvolumeclaims").json or {}).get("items", [])
    # a Deployment's pods are created by its ReplicaSets: their FailedCreate decides it too
    replica_sets = [
        ref.replace("ReplicaSet ", "Deployment ", 1) for ref in failed if ref.startswith("ReplicaSet ")
    ]
    waiting = [
        w for w in waiting if w not in failed and not any(rs.startswith(f"{w}-") for rs in replica_sets)
    ]
    return ClusterState(_pods(api), failed, waiting, daemonsets, claims)


def settle(api: Api, node_zones: Mapping[str, str], timeout: float) -> ClusterState:
    deadline = time.monotonic() + timeout
    last_signature: Any = None
    quiet_since = time.monotonic()
    while True:
        storage.provision(api, node_zones)
        state = observe(api)
        signature = (
            sorted((p.namespace, p.name, p.node, p.scheduled, p.reason) for p in state.pods),
            sorted(state.failed_creates.items()),
            sorted(state.unsatisfied),
            sorted((c["metadata"]["uid"], (c.get("status") or {}).get("phase")) for c in state.claims),
        )
        now = time.monotonic()
        if signature != last_signature:
            last_signature, quiet_since = signature, now
        decided = all(p.scheduled in ("True", "False") for p in state.pods) and not state.unsatisfied
        if decided and now - quiet_since >= QUIET:
            return state
        if now >= deadline:
            state.settled = False
            return state
        time.sleep(INTERVAL)
