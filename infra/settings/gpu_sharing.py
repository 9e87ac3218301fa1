"""GPU time-slicing as the NVIDIA device plugin takes it: named configs, chosen per node by a label.

The k8s-device-plugin chart (0.18.0, `values.yaml` `config.map` / `config.default`, and its
`templates/daemonset-device-plugin.yml` config-manager with `NODE_LABEL=nvidia.com/device-plugin.config`)
builds a ConfigMap from `config.map`; each node runs the config its label `nvidia.com/device-plugin.config`
names, else `config.default`. So KIVA renders one `default` config (whole GPUs, as without a map) and one
config per sharing pool, and the pool's nodes carry the label with that config's name.
The config file format is the plugin's `version: v1` file (README "With CUDA Time-Slicing";
api/config/v1/replicas.go: `replicas` must be ≥ 2, `failRequestsGreaterThanOne` defaults to false).

MIG pools get a config of their own with `flags.migStrategy: single` (the chart's `values.yaml`
example `mig-single`; plugin README "Configuration Option Details": with `single` every MIG device is
advertised as `nvidia.com/gpu`). The plugin does not cut the GPUs: AKS does (`gpuInstanceProfile`),
the GPU operator's MIG manager does (node label `nvidia.com/mig.config`), or the nodes' owner has.
"""

from __future__ import annotations

import yaml

from infra.settings.gpu_catalogue import MigProfile

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


def mig_single_config() -> str:
    """Every MIG slice of the node advertised as one `nvidia.com/gpu` (all GPUs cut alike)."""
    return yaml.safe_dump({"version": "v1", "flags": {"migStrategy": "single"}}, sort_keys=False)


def device_plugin_config_values(time_slicing: dict[str, int], mig: tuple[str, ...] = ()) -> dict[str, object]:
    """The chart's `config` values for the sharing pools (`{pool: replicas}`, and the MIG pools);
    `{}` when none shares."""
    if not time_slicing and not mig:
        return {}
    configs = {DEFAULT_CONFIG: default_config()}
    for pool, replicas in sorted(time_slicing.items()):
        configs[device_plugin_config_name(pool)] = time_slicing_config(replicas)
    for pool in sorted(mig):
        configs[device_plugin_config_name(pool)] = mig_single_config()
    return {"config": {"map": configs, "default": DEFAULT_CONFIG}}


#: Node label by which the GPU operator's MIG manager picks the mig-parted config of a node (GPU
#: operator docs "GPU Operator with MIG"; k8s-mig-manager watches `nvidia.com/mig.config`).
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
#: The MIG strategy KIVA renders: every GPU of a node cut alike, each slice an `nvidia.com/gpu`
#: (gpu-operator v25.10.0 `values.yaml` `mig.strategy: single`, its default).
MIG_STRATEGY = "single"


def mig_config_name(profile: MigProfile) -> str:
    """The operator's default mig-parted config that cuts every GPU into `profile`: `all-<profile>`
    (`default-mig-parted-config`, NVIDIA/gpu-operator assets/state-mig-manager/0400_configmap.yaml)."""
    return f"all-{profile.name}"


#: AKS's `gpuInstanceProfile` MIG<n>g and the slices it makes per GPU (AKS "Create a multi-instance
#: GPU node pool", https://learn.microsoft.com/azure/aks/gpu-multi-instance: MIG 1g.5gb × 7,
#: 2g.10gb × 3, 3g.20gb × 2, 4g.20gb × 1, 7g.40gb × 1 on the A100; values MIG1g, MIG2g, MIG3g, MIG4g,
#: MIG7g in azure-native's `containerservice.GPUInstanceProfile`). So MIG1g is the 1g profile with an
#: eighth of the memory, never the 1g profile with a quarter (1g.20gb, 1g.24gb).
AKS_MIG_INSTANCES: dict[int, int] = {1: 7, 2: 3, 3: 2, 4: 1, 7: 1}


def aks_gpu_instance_profile(profile: MigProfile) -> str | None:
    """The agent pool's `gpuInstanceProfile` that cuts every GPU into `profile`, or None if none does."""
    if AKS_MIG_INSTANCES.get(profile.compute_slices) != profile.per_gpu:
        return None
    return f"MIG{profile.compute_slices}g"
