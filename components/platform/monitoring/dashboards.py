"""Grafana dashboards provisioned from the repository: one ConfigMap per JSON file in `dashboards/`.

Grafana keeps no hand-made state: its dashboard sidecar (grafana chart 12.11.1, `sidecar.dashboards`) loads
every ConfigMap in the monitoring namespace labelled `grafana_dashboard: "1"` and writes its data keys as
files Grafana reads, so a dashboard changes only through a commit to `dashboards/*.json`. The JSON names
the Prometheus datasource by its provisioned uid (`prometheus`) and uses only the metric names listed in
`metric_catalogue.py`, which the contract test checks against what the pinned exporters export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.platform.common import labels
from components.platform.monitoring.values import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE

#: The dashboards, one Grafana dashboard JSON model per file (file stem = ConfigMap suffix).
DASHBOARD_DIR = Path(__file__).parent / "dashboards"
#: A ConfigMap's data may not exceed 1 MiB (Kubernetes `MaxSecretSize`, applied to ConfigMaps too).
CONFIG_MAP_LIMIT_BYTES = 1024 * 1024


def dashboard_files() -> list[Path]:
    """The dashboard JSON files, in name order (so the plan is stable)."""
    return sorted(DASHBOARD_DIR.glob("*.json"))


def config_map_name(path: Path) -> str:
    """`kiva-dashboard-<stem>`: one name per file, stable across plans."""
    return f"kiva-dashboard-{path.stem}"


def dashboard_config_map_manifests(namespace: str) -> list[dict[str, Any]]:
    """The ConfigMaps as plain manifests: each holds one dashboard, compact, under the key `<stem>.json`.

    The JSON is parsed and re-serialised so a malformed file fails the plan here, naming the file, rather
    than in Grafana's log.
    """
    manifests = []
    for path in dashboard_files():
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path.name}: not valid JSON ({error})") from error
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": config_map_name(path),
                    "namespace": namespace,
                    "labels": {
                        **labels("dashboards", "monitoring"),
                        DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE,
                    },
                },
                "data": {path.name: json.dumps(model, separators=(",", ":"), sort_keys=True)},
            }
        )
    return manifests


def dashboard_config_maps(namespace: str, opts: pulumi.ResourceOptions) -> list[k8s.core.v1.ConfigMap]:
    """One typed ConfigMap resource per dashboard in `namespace` (the namespace Grafana's sidecar searches)."""
    maps = []
    for manifest in dashboard_config_map_manifests(namespace):
        metadata = manifest["metadata"]
        maps.append(
            k8s.core.v1.ConfigMap(
                metadata["name"],
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=metadata["name"], namespace=metadata["namespace"], labels=metadata["labels"]
                ),
                data=manifest["data"],
                opts=opts,
            )
        )
    return maps
