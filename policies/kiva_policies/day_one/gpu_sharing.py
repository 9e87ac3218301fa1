"""Time-sliced GPUs as the plan declares them: a node pool advertises `nvidia.com/gpu` × replicas.

The NVIDIA device plugin (chart `nvidia-device-plugin`) runs, on each node, the config its label
`nvidia.com/device-plugin.config` names among the release's `config.map` (else `config.default`);
a config with `sharing.timeSlicing.resources: [{name: nvidia.com/gpu, replicas: N}]` makes every GPU
count N times (k8s-device-plugin v0.18.0 README, "With CUDA Time-Slicing"). The scheduling check must
see those slices, or two model servers on one shared card look unschedulable. Read from the plan only:
the policy pack never imports the stack's settings.

MIG slices ("single" strategy: every slice an `nvidia.com/gpu`) are counted the same way, from what
cuts the GPUs of an AKS pool: the agent pool's `gpuInstanceProfile` (AKS "Create a multi-instance GPU
node pool": MIG1g × 7, MIG2g × 3, MIG3g × 2, MIG4g × 1, MIG7g × 1), or its node label
`nvidia.com/mig.config=all-<profile>` read by the GPU operator's MIG manager (its default mig-parted
config, NVIDIA/gpu-operator assets/state-mig-manager/0400_configmap.yaml, for the GPUs AKS rents:
A100 80GB and H100 NVL). Declared pools of existing clusters state their slices as their `gpus`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from kiva_policies.base import get
from kiva_policies.day_one.nodes import AGENT_POOL, NodePool
from kiva_policies.day_one.resources import props_of, type_of

DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
#: Slices per GPU by AKS `gpuInstanceProfile` (copied as data: the pack never imports `infra`).
AKS_MIG_SLICES = {"MIG1g": 7, "MIG2g": 3, "MIG3g": 2, "MIG4g": 1, "MIG7g": 1}
#: Slices per GPU by the GPU operator's `all-<profile>` config, on the A100 80GB and H100 NVL (94 GB)
#: that Azure rents (`infra/settings/gpu_catalogue.py` MIG_PROFILES holds every GPU's table).
OPERATOR_MIG_SLICES = {
    "all-1g.10gb": 7,
    "all-1g.20gb": 4,
    "all-2g.20gb": 3,
    "all-3g.40gb": 2,
    "all-4g.40gb": 1,
    "all-7g.80gb": 1,
    "all-1g.12gb": 7,
    "all-1g.24gb": 4,
    "all-2g.24gb": 3,
    "all-3g.47gb": 2,
    "all-4g.47gb": 1,
    "all-7g.94gb": 1,
}
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


def mig_slices(pool: NodePool, instance_profiles: Mapping[str, str]) -> int:
    """MIG slices per GPU of one AKS pool (1 when its GPUs are whole)."""
    aks = instance_profiles.get(pool.urn)
    if aks:
        return AKS_MIG_SLICES.get(aks, 1)
    return OPERATOR_MIG_SLICES.get(pool.labels.get(MIG_CONFIG_LABEL, ""), 1)


def apply_time_slicing(pools: list[NodePool], resources: Iterable[Any]) -> None:
    """Multiply each pool's GPUs by the time-slices of the config its nodes run, or by the MIG slices
    its GPUs are cut into (AKS pools of this plan)."""
    resources = list(resources)
    slices, default = slices_by_config(resources)
    instance_profiles = {
        str(resource.urn): str(profile)
        for resource in resources
        if type_of(resource) == AGENT_POOL
        and (profile := get(props_of(resource), "gpuInstanceProfile", default=None))
    }
    for pool in pools:
        if pool.source != "aks" or not pool.gpus:
            continue
        pool.gpus *= slices.get(pool.labels.get(CONFIG_LABEL, default), 1) * mig_slices(
            pool, instance_profiles
        )
