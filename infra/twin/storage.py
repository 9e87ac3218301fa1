"""Storage the cloud (or the existing cluster) provides, stood in for: StorageClasses and a fake provisioner.

The twin has no CSI driver. Without one, every PVC stays Pending and every pod that mounts one is left
unscheduled for that reason alone, hiding whether it would fit a node (the vLLM StatefulSets, the
database). So the twin:
- creates each StorageClass the plan names but does not create, as the cloud ships it: on AKS the
  built-in classes use `disk.csi.azure.com` with `volumeBindingMode: WaitForFirstConsumer` ("Use the
  Azure Disk CSI driver in AKS"); on an existing cluster the class is a stand-in with the same binding
  mode, and the report says so;
- acts as the external provisioner: with `WaitForFirstConsumer`, kube-scheduler picks a node first and
  records it on the claim (`volume.kubernetes.io/selected-node`), then waits in PreBind until the claim
  is bound. The twin then creates a PersistentVolume pre-bound to the claim (`claimRef`), pinned to the
  node's zone, as a zonal disk would be; the PV controller binds the two and the scheduler binds the pod.
Capacity, quotas and attach limits are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from infra.twin.api import Api

AKS_PROVISIONER = "disk.csi.azure.com"
STAND_IN_PROVISIONER = "kiva.twin/stand-in-provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
ZONE_KEY = "topology.kubernetes.io/zone"


def referenced_classes(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """StorageClass names the plan's objects use (PVCs, StatefulSet claim templates, CloudNativePG storage)."""
    names: set[str] = set()
    for obj in objects:
        kind, spec = obj.get("kind"), obj.get("spec") or {}
        if kind == "PersistentVolumeClaim" and spec.get("storageClassName"):
            names.add(str(spec["storageClassName"]))
        elif kind == "StatefulSet":
            for template in spec.get("volumeClaimTemplates") or []:
                name = (template.get("spec") or {}).get("storageClassName")
                if name:
                    names.add(str(name))
        elif kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            for key in ("storage", "walStorage"):
                name = (spec.get(key) or {}).get("storageClass")
                if name:
                    names.add(str(name))
    return names


def stand_in_classes(objects: Sequence[Mapping[str, Any]], on_aks: bool) -> list[dict[str, Any]]:
    created = {str(o.get("metadata", {}).get("name")) for o in objects if o.get("kind") == "StorageClass"}
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name, "annotations": {"kiva.twin/stand-in": "provided by the cluster"}},
            "provisioner": AKS_PROVISIONER if on_aks else STAND_IN_PROVISIONER,
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Delete",
            "allowVolumeExpansion": True,
        }
        for name in sorted(referenced_classes(objects) - created)
    ]


def provision(api: Api, node_zones: Mapping[str, str]) -> int:
    """Create a PV for every claim the scheduler has chosen a node for; returns how many it created."""
    claims = api.get("/api/v1/persistentvolumeclaims").json or {}
    made = 0
    for claim in claims.get("items", []):
        meta, spec = claim["metadata"], claim.get("spec") or {}
        node = (meta.get("annotations") or {}).get(SELECTED_NODE)
        if not node or spec.get("volumeName") or (claim.get("status") or {}).get("phase") == "Bound":
            continue
        zone = node_zones.get(node)
        pv_name = f"pvc-{meta['uid']}"
        term_key, term_value = (ZONE_KEY, zone) if zone else ("kubernetes.io/hostname", node)
        volume = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": "kiva-twin"}},
            "spec": {
                "capacity": {
                    "storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
                },
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "storageClassName": spec.get("storageClassName") or "",
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "persistentVolumeReclaimPolicy": "Delete",
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
                "csi": {"driver": "kiva.twin", "volumeHandle": pv_name},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": term_key, "operator": "In", "values": [term_value]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
        reply = api.request("POST", "/api/v1/persistentvolumes", volume)
        if reply.ok:
            made += 1
    return made
