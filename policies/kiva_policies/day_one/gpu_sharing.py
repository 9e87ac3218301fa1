"""Time-sliced GPUs as the plan declares them: a node pool advertises `nvidia.com/gpu` × replicas.

The NVIDIA device plugin (chart `nvidia-device-plugin`) runs, on each node, the config its label
`nvidia.com/device-plugin.config` names among the release's `config.map` (else `config.default`);
a config with `sharing.timeSlicing.resources: [{name: nvidia.com/gpu, replicas: N}]` makes every GPU
count N times (k8s-device-plugin v0.18.0 README, "With CUDA Time-Slicing"). The scheduling check must
see those slices, or two model servers on one shared card look unschedulable. Read from the plan only:
the policy pack never imports the stack's settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from kiva_policies.base import get
from kiva_policies.day_one.nodes import NodePool
from kiva_policies.day_one.resources import props_of, type_of

DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
CONFIG_LABEL = "nvidia.com/device-plugin.config"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


def _replicas(config_text: Any) -> int:
    """Slices per GPU of one config file (1 when it does not time-slice `nvidia.com/gpu`)."""
    try:
        config = yaml.safe_load(str(config_text)) if config_text else None
    except yaml.YAMLError:
        return 1
    for resource in get(config, "sharing", "timeSlicing", "resources", default=None) or []:
        if isinstance(resource, Mapping) and resource.get("name") == "nvidia.com/gpu":
            replicas = resource.get("replicas")
            return replicas if isinstance(replicas, int) and replicas > 1 else 1
    return 1


def slices_by_config(resources: Iterable[Any]) -> tuple[dict[str, int], str]:
    """The device plugin release's configs as slices per GPU, and its default config's name."""
    for resource in resources:
        props = props_of(resource)
        if type_of(resource) in HELM_RELEASES and str(get(props, "chart", default="")) == DEVICE_PLUGIN_CHART:
            configs = get(props, "values", "config", "map", default=None) or {}
            default = str(get(props, "values", "config", "default", default="") or "")
            if isinstance(configs, Mapping):
                return {str(name): _replicas(text) for name, text in configs.items()}, default
    return {}, ""


def apply_time_slicing(pools: list[NodePool], resources: Iterable[Any]) -> None:
    """Multiply each pool's GPUs by the slices of the config its nodes run (AKS pools of this plan)."""
    slices, default = slices_by_config(resources)
    if not slices:
        return
    for pool in pools:
        if pool.source != "aks" or not pool.gpus:
            continue
        pool.gpus *= slices.get(pool.labels.get(CONFIG_LABEL, default), 1)
