"""GPU time-slicing as the NVIDIA device plugin takes it: named configs, chosen per node by a label.

The k8s-device-plugin chart (0.18.0, `values.yaml` `config.map` / `config.default`, and its
`templates/daemonset-device-plugin.yml` config-manager with `NODE_LABEL=nvidia.com/device-plugin.config`)
builds a ConfigMap from `config.map`; each node runs the config its label `nvidia.com/device-plugin.config`
names, else `config.default`. So KIVA renders one `default` config (whole GPUs, as without a map) and one
config per sharing pool, and the pool's nodes carry the label with that config's name.
The config file format is the plugin's `version: v1` file (README "With CUDA Time-Slicing";
api/config/v1/replicas.go: `replicas` must be ≥ 2, `failRequestsGreaterThanOne` defaults to false).
"""

from __future__ import annotations

import yaml

#: Node label by which the device plugin's config-manager picks a node's config.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
#: Name of the config nodes without the label run: whole GPUs, no sharing.
DEFAULT_CONFIG = "default"
#: The resource the model servers request.
GPU_RESOURCE = "nvidia.com/gpu"


def device_plugin_config_name(pool: str) -> str:
    """The config (and node label value) of one sharing pool: `kiva-<pool>`, never `default`."""
    return f"kiva-{pool}"


def default_config() -> str:
    """Whole GPUs, MIG off: what the plugin does without a config file."""
    return yaml.safe_dump({"version": "v1", "flags": {"migStrategy": "none"}}, sort_keys=False)


def time_slicing_config(replicas: int) -> str:
    """Each GPU advertised `replicas` times as `nvidia.com/gpu`; a pod asking for two slices is refused
    (`failRequestsGreaterThanOne`), since two slices would not give it two GPUs' worth."""
    return yaml.safe_dump(
        {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": GPU_RESOURCE, "replicas": replicas}],
                }
            },
        },
        sort_keys=False,
    )


def device_plugin_config_values(time_slicing: dict[str, int]) -> dict[str, object]:
    """The chart's `config` values for the sharing pools (`{pool: replicas}`); `{}` when none shares."""
    if not time_slicing:
        return {}
    configs = {DEFAULT_CONFIG: default_config()}
    for pool, replicas in sorted(time_slicing.items()):
        configs[device_plugin_config_name(pool)] = time_slicing_config(replicas)
    return {"config": {"map": configs, "default": DEFAULT_CONFIG}}
