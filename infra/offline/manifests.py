"""Every Kubernetes object of a plan as a manifest: what the cluster would receive, secrets redacted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.offline.digest import blind, is_secret
from infra.offline.engine import Plan

REDACTED = "[redacted]"
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """The plan's Kubernetes objects (custom resources included) in registration order.

    Helm releases are not objects (Helm renders them on the cluster). An object without
    `metadata.name` gets the name Pulumi's auto-naming would start with (`<resource name>-<suffix>`).
    """
    objects = []
    for resource in plan.resources:
        if not resource.custom or not resource.type.startswith("kubernetes:"):
            continue
        if resource.type.startswith(_NOT_OBJECTS):
            continue
        manifest = blind(resource.inputs)
        metadata = manifest.setdefault("metadata", {})
        metadata.setdefault("name", f"{resource.name}-xxxxxxxx")
        if manifest.get("kind") == "Secret":
            for field in ("data", "stringData"):
                values = resource.inputs.get(field)
                if values is not None and is_secret(values):  # one secret map: its keys are worth showing
                    values = values["value"]
                if isinstance(values, Mapping):
                    manifest[field] = dict.fromkeys(values, REDACTED)
        objects.append(manifest)
    return objects


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    """Write one YAML file per object: `NNN-<kind>-<namespace>-<name>.yaml`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, manifest in enumerate(kubernetes_objects(plan)):
        metadata = manifest["metadata"]
        parts = [manifest.get("kind", "object"), metadata.get("namespace", "cluster"), metadata["name"]]
        slug = re.sub(r"[^a-z0-9.-]+", "-", "-".join(str(p) for p in parts).lower())
        path = directory / f"{index:03d}-{slug}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths
