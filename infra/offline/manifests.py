"""Every Kubernetes object of a plan as a manifest: what the cluster would receive, secrets redacted."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
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


#: First line of every file `write_manifests` writes: how it recognises its own files on the next run.
MARKER = "# Written by `kiva plan --manifests`: regenerated on every run, do not edit."


def manifest_names(manifests: list[dict[str, Any]]) -> list[str]:
    """A stable file name per object: `<kind>-<namespace>-<name>.yaml`, lowercase, no running numbers.

    Names depend only on the objects, never on their order, so the same plan gives the same files and a
    changed plan shows up as changed files. Objects whose names collide after lowercasing (two API groups
    with the same kind, say) get a suffix from a hash of their `apiVersion`, kind, namespace and name.
    """
    slugs = []
    for manifest in manifests:
        metadata = manifest["metadata"]
        parts = [manifest.get("kind", "object"), metadata.get("namespace", "cluster"), metadata["name"]]
        slugs.append(re.sub(r"[^a-z0-9.-]+", "-", "-".join(str(p) for p in parts).lower()).strip("-."))
    counts = Counter(slugs)
    names = []
    for slug, manifest in zip(slugs, manifests, strict=True):
        if counts[slug] > 1:
            metadata = manifest["metadata"]
            identity = "/".join(
                str(v)
                for v in (
                    manifest.get("apiVersion"),
                    manifest.get("kind"),
                    metadata.get("namespace"),
                    metadata["name"],
                )
            )
            slug = f"{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"
        names.append(slug)
    # The same object twice (a plan error that apply would reject): numbered in registration order.
    seen: Counter[str] = Counter()
    unique = []
    for name in names:
        seen[name] += 1
        unique.append(f"{name}.yaml" if seen[name] == 1 else f"{name}-{seen[name]}.yaml")
    return unique


def _written_here(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as file:
            return file.readline().rstrip("\n") == MARKER
    except (OSError, UnicodeDecodeError):
        return False


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    """Write one YAML file per object (see `manifest_names`) and delete this tool's files of earlier runs.

    Only `*.yaml` files whose first line is `MARKER` are deleted or overwritten, so the folder can hold
    other files; one of those in the way of a manifest is an error, not overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    manifests = kubernetes_objects(plan)
    paths = [directory / name for name in manifest_names(manifests)]
    foreign = [path.name for path in paths if path.exists() and not _written_here(path)]
    if foreign:
        raise FileExistsError(
            f"{directory}: not written by `kiva plan --manifests`, so not overwritten: {', '.join(foreign)}"
        )
    for stale in sorted(set(directory.glob("*.yaml")) - set(paths)):
        if stale.is_file() and _written_here(stale):
            stale.unlink()
    for path, manifest in zip(paths, manifests, strict=True):
        path.write_text(f"{MARKER}\n" + yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return paths
