"""One vLLM server per configured model: its pods, a `Service`, and a PDB when it has several replicas.

Each replica has its own weights cache. With `cache.type: pvc` the pods are a `StatefulSet` whose
`volumeClaimTemplates` give every replica its own ReadWriteOnce claim: one claim shared by replicas on
different nodes fails with a Multi-Attach error, because a ReadWriteOnce disk attaches to one node.
The claims outlive the pods and the StatefulSet (retention `Retain`), so the weights survive a
rollout, a scale-down and a redeploy. With `cache.type: emptyDir` the pods are a `Deployment`.
Either way a rollout replaces one pod at a time instead of taking the model down.

GPU models request whole GPUs, or one time-slice of a GPU on a pool with `sharing.timeSlicing`
(requests = limits, `nvidia.com/gpu` either way: the device plugin advertises the slices under that
name), tolerate the GPU taint and are pinned to their
pool by the `kiva.platform/gpu-pool` node label; CPU models (the `local` stack) use vLLM's CPU image.
The startup probe allows a cold download and load of the weights before liveness takes over.
Whether the weights fit the pool's GPUs is checked when the configuration is loaded
(`StackSettings._check_sizing`), before anything is registered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import PLATFORM_NAMESPACE, GpuNodes
from components.platform.common import (
    GPU_POOL_LABEL,
    HUGGING_FACE_SECRET,
    child_opts,
    container_security,
    empty_dir,
    env,
    gpu_tolerations,
    http_probe,
    labels,
    pod_security,
    selector,
)
from components.platform.gateway_config import MODEL_PORT, model_service
from infra import versions
from infra.settings.base import quantity_to_gib
from infra.settings.gpu_catalogue import BFLOAT16_MIN_CAPABILITY
from infra.settings.workloads import Model, ResourceAmounts, Resources

NAME = "vllm"
#: ≥ 10000 (kiva-hardening-container-uid-high): no user ID shared with the node. The image runs as root
#: by default and needs no user of its own: HOME and the caches are volumes owned via `fsGroup`.
UID = 10001
CACHE_DIR = "/models"
#: Name of the cache volume, and of the StatefulSet's claim template (claims: `cache-<pod name>`).
CACHE_VOLUME = "cache"
HOME_DIR = "/home/vllm"
#: The Hugging Face token, mounted from its Secret as a file: huggingface_hub reads the file that
#: `HF_TOKEN_PATH` names when `HF_TOKEN` is unset (`constants.HF_TOKEN_PATH`, `utils/_auth.py`).
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
HF_TOKEN_VOLUME = "hf-token"
#: Pods with this label may reach the Hugging Face Hub (network_policies.py).
DOWNLOAD_LABEL = "kiva.platform/model-download"
#: Startup probe budget: period x failures = 30 minutes for a cold download and load (≥ 15 minutes).
STARTUP_PERIOD = 10
STARTUP_FAILURES = 180
#: Only the value "1" switches these off (vllm/envs.py compares with "1").
TELEMETRY_SWITCHES = {
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


#: No prompt text in vLLM's log: request logging (which prints prompts) is off by default in v0.28.0
#: (`AsyncEngineArgs.enable_log_requests = False`, a `BooleanOptionalAction` in vllm/engine/arg_utils.py;
#: `--disable-log-requests` is deprecated), and said explicitly so a changed default cannot turn it on.
#: `--enable-log-outputs` needs request logging, so it stays off too. The policy
#: `kiva-observability-no-prompt-logging` checks the last word on the command line (`extraArgs` come after).
NO_PROMPT_LOGGING_ARGS = ("--no-enable-log-requests",)


@dataclass(frozen=True)
class ModelServerArgs:
    """One model as configured, and what the platform knows of the nodes it runs on."""

    model: Model
    """The model's declaration (`kiva:models[]`)."""
    storage_class: str
    """The class of each replica's cache claim: the model's own, else the cluster's default."""
    telemetry: bool
    """Whether vLLM and the Hugging Face libraries may report usage (`kiva:telemetry.enabled`)."""
    gpu_nodes: GpuNodes | None = None
    """The model's GPU pool as the cloud layer describes it (`None` for a CPU model)."""
    gpu_kind: str | None = None
    """The pool's GPU kind (`t4`, `a10`, ...), for what the GPU supports (`None` for a CPU model)."""
    gpu_compute_capability: str | None = None
    """Compute capability of the pool's GPUs (`"7.5"`, ...; `infra.settings.gpu_catalogue`): below 8.0
    there is no bfloat16, so `dtype: auto` becomes `half` (`None` for a CPU model)."""


def default_resources(model: Model) -> Resources:
    """Per GPU: CPU and host memory to load weights; CPU models: enough for a small model."""
    if model.cpu:
        return Resources(
            requests=ResourceAmounts(cpu="2", memory="6Gi"), limits=ResourceAmounts(cpu="4", memory="8Gi")
        )
    gpus = model.gpus
    return Resources(
        requests=ResourceAmounts(cpu=str(2 * gpus), memory=f"{12 * gpus}Gi"),
        limits=ResourceAmounts(cpu=str(4 * gpus), memory=f"{20 * gpus}Gi"),
    )


def _has_bfloat16(server: ModelServerArgs) -> bool:
    """Compute capability ≥ 8.0 (vLLM refuses bfloat16 below); a T4 pool without a known capability too."""
    if server.gpu_compute_capability is None:
        return server.gpu_kind != "t4"
    major, minor = (int(part) for part in server.gpu_compute_capability.split("."))
    return (major, minor) >= BFLOAT16_MIN_CAPABILITY


def vllm_args(server: ModelServerArgs) -> list[str]:
    model = server.model
    args = [
        model.hugging_face_id,
        "--served-model-name",
        model.served_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(MODEL_PORT),
        "--max-model-len",
        str(model.max_model_len),
        *NO_PROMPT_LOGGING_ARGS,
    ]
    dtype = model.dtype
    if not model.cpu:
        args += [
            "--tensor-parallel-size",
            str(model.gpus),
            "--gpu-memory-utilization",
            str(model.gpu_memory_utilization),
        ]
        if dtype == "auto" and not _has_bfloat16(server):
            dtype = "half"  # Volta and Turing have no bfloat16
        if model.max_num_seqs is not None:
            args += ["--max-num-seqs", str(model.max_num_seqs)]
    if dtype != "auto":
        args += ["--dtype", dtype]
    return [*args, *model.extra_args]


def hf_token_mounts(model: Model) -> list[k8s.core.v1.VolumeMountArgs]:
    """A gated model's token as a read-only file (not an env var: checkov CKV_K8S_35)."""
    if not model.gated:
        return []
    return [k8s.core.v1.VolumeMountArgs(name=HF_TOKEN_VOLUME, mount_path=HF_TOKEN_DIR, read_only=True)]


def hf_token_volumes(model: Model) -> list[k8s.core.v1.VolumeArgs]:
    """The Secret's `HF_TOKEN` key as the file `token`, readable by the pod's group only."""
    if not model.gated:
        return []
    source = k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=HUGGING_FACE_SECRET,
        items=[k8s.core.v1.KeyToPathArgs(key="HF_TOKEN", path="token")],
        default_mode=0o440,
    )
    return [k8s.core.v1.VolumeArgs(name=HF_TOKEN_VOLUME, secret=source)]


def model_env(server: ModelServerArgs, resources: Resources) -> list[k8s.core.v1.EnvVarArgs]:
    """The server's environment; `server.gpu_nodes` is the model's GPU pool as the cloud layer describes it."""
    model, nodes = server.model, server.gpu_nodes
    variables = [env("HF_HOME", f"{CACHE_DIR}/huggingface"), env("HOME", HOME_DIR)]
    if model.gated:
        variables.append(env("HF_TOKEN_PATH", f"{HF_TOKEN_DIR}/token"))
    if model.offline:
        variables += [env("HF_HUB_OFFLINE", "1"), env("TRANSFORMERS_OFFLINE", "1")]
    if not server.telemetry:
        variables += [env(key, value) for key, value in TELEMETRY_SWITCHES.items()]
    if model.cpu:
        kv_cache_gib = max(1, math.floor(quantity_to_gib(resources.limits.memory) / 4))
        variables.append(env("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib)))
    elif nodes is not None and nodes.cuda_compatibility:
        # The nodes' driver is older than the vLLM image's CUDA (the cloud layer knows which).
        variables.append(env("VLLM_ENABLE_CUDA_COMPATIBILITY", "1"))
    return variables


def shm_size(model: Model) -> str:
    """Memory-backed /dev/shm: PyTorch shares tensors between tensor-parallel workers through it."""
    if model.cpu:
        return "4Gi"
    return "2Gi" if model.gpus == 1 else f"{8 * model.gpus}Gi"


def cache_claim(
    server: ModelServerArgs, claim_labels: dict[str, str]
) -> k8s.core.v1.PersistentVolumeClaimArgs:
    """The claim template of one replica's cache: ReadWriteOnce, size and class from the model's config."""
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=CACHE_VOLUME, labels=claim_labels),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=server.storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                requests={"storage": server.model.cache.size}
            ),
        ),
    )


class ModelServer(pulumi.ComponentResource):
    """vLLM for one model: StatefulSet (PVC cache) or Deployment (emptyDir cache), Service, PDB.

    `headless_service` is the StatefulSet's governing Service (None for a Deployment); `service` is
    the one the gateway calls (`gateway_config.model_service`).
    """

    workload: k8s.apps.v1.StatefulSet | k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    headless_service: k8s.core.v1.Service | None
    disruption_budget: k8s.policy.v1.PodDisruptionBudget | None

    def __init__(
        self,
        name: str,
        args: ModelServerArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:ModelServer", name, None, opts)
        model, gpu_nodes = args.model, args.gpu_nodes
        resource_name = model_service(model.name)
        component = f"model-{model.name}"
        meta_labels = labels(NAME, component) | {"kiva.platform/model": model.name}
        if not model.offline:
            meta_labels[DOWNLOAD_LABEL] = "huggingface"  # selects the egress policy for the download
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=resource_name, namespace=PLATFORM_NAMESPACE, labels=meta_labels
        )
        pod_selector = k8s.meta.v1.LabelSelectorArgs(match_labels=selector(NAME, component))
        resources = model.resources or default_resources(model)
        persistent = model.cache.type == "pvc"

        requests = {"cpu": resources.requests.cpu, "memory": resources.requests.memory}
        limits = {"cpu": resources.limits.cpu, "memory": resources.limits.memory}
        if not model.cpu:
            requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(model.gpus)
        container = k8s.core.v1.ContainerArgs(
            name=NAME,
            image=versions.VLLM_CPU_IMAGE if model.cpu else versions.VLLM_IMAGE,
            image_pull_policy="IfNotPresent",
            command=["vllm", "serve"],
            args=vllm_args(args),
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=MODEL_PORT, protocol="TCP")],
            env=model_env(args, resources),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=requests, limits=limits),
            startup_probe=http_probe("/health", "http", period=STARTUP_PERIOD, failures=STARTUP_FAILURES),
            readiness_probe=http_probe("/health", "http", period=10, failures=3),
            liveness_probe=http_probe("/health", "http", period=20, failures=3, timeout=10),
            security_context=container_security(read_only_root=True),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name=CACHE_VOLUME, mount_path=CACHE_DIR),
                k8s.core.v1.VolumeMountArgs(name="shm", mount_path="/dev/shm"),
                k8s.core.v1.VolumeMountArgs(name="home", mount_path=HOME_DIR),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                *hf_token_mounts(model),
            ],
        )
        scratch = [
            empty_dir("shm", shm_size(model), medium="Memory"),
            empty_dir("home", "10Gi"),
            empty_dir("tmp", "2Gi"),
            *hf_token_volumes(model),
        ]
        pod = k8s.core.v1.PodSpecArgs(
            automount_service_account_token=False,
            security_context=pod_security(UID),
            containers=[container],
            termination_grace_period_seconds=60,
            # A StatefulSet mounts the claim of its volumeClaimTemplates under the same name.
            volumes=scratch if persistent else [empty_dir(CACHE_VOLUME, model.cache.size), *scratch],
            node_selector=None if model.cpu else {GPU_POOL_LABEL: model.pool or ""},
            tolerations=None if gpu_nodes is None else gpu_tolerations(gpu_nodes),
            # Where the nodes' default runtime is not NVIDIA's (k3s/RKE2 register it as RuntimeClass
            # `nvidia`, K3s docs "Alternative Container Runtime Support"), the pool's GPU pods name it.
            runtime_class_name=None if gpu_nodes is None else gpu_nodes.runtime_class,
        )
        template = k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=meta_labels), spec=pod
        )
        # A cold start (download + load + CUDA graphs) takes longer than Pulumi's default 10 minutes.
        timeouts = pulumi.CustomTimeouts(create="45m", update="45m")

        self.headless_service = None
        if persistent:
            # apps/v1 wants a governing Service for the pods' network identity (`serviceName`, required
            # before Kubernetes 1.33); headless, so Pulumi does not wait for ready pods behind it.
            self.headless_service = k8s.core.v1.Service(
                f"{name}-pods",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{resource_name}-pods", namespace=PLATFORM_NAMESPACE, labels=meta_labels
                ),
                spec=k8s.core.v1.ServiceSpecArgs(
                    cluster_ip="None",
                    selector=selector(NAME, component),
                    ports=[
                        k8s.core.v1.ServicePortArgs(
                            name="http", port=MODEL_PORT, target_port="http", protocol="TCP"
                        )
                    ],
                ),
                opts=child_opts(self, depends_on=depends_on),
            )
            self.workload = k8s.apps.v1.StatefulSet(
                f"{name}-statefulset",
                metadata=metadata,
                spec=k8s.apps.v1.StatefulSetSpecArgs(
                    replicas=model.replicas,
                    selector=pod_selector,
                    service_name=f"{resource_name}-pods",
                    # Replicas are independent servers: start them together, not one after another.
                    pod_management_policy="Parallel",
                    # One pod at a time, highest ordinal first; the others keep serving.
                    update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                    # Deleting the StatefulSet or scaling it down keeps the claims and their weights.
                    persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                        when_deleted="Retain", when_scaled="Retain"
                    ),
                    # Only stable labels: the claim templates of a StatefulSet are immutable.
                    volume_claim_templates=[
                        cache_claim(args, selector(NAME, component) | {"kiva.platform/model": model.name})
                    ],
                    revision_history_limit=3,
                    template=template,
                ),
                opts=pulumi.ResourceOptions.merge(
                    child_opts(
                        self, depends_on=[*depends_on, self.headless_service], custom_timeouts=timeouts
                    ),
                    # A change to an immutable field (the claim template: cache size or class) replaces
                    # the StatefulSet under the same name, so the old one must go first; the retained
                    # claims (`cache-<pod>`) are adopted again by the new pods, at their old size.
                    pulumi.ResourceOptions(delete_before_replace=True),
                ),
            )
        else:
            self.workload = k8s.apps.v1.Deployment(
                f"{name}-deployment",
                metadata=metadata,
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=model.replicas,
                    selector=pod_selector,
                    # GPUs are scarce: replace pods one at a time instead of asking for a spare GPU.
                    strategy=k8s.apps.v1.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                            max_surge=0, max_unavailable=1
                        ),
                    ),
                    revision_history_limit=3,
                    progress_deadline_seconds=STARTUP_PERIOD * STARTUP_FAILURES + 600,
                    template=template,
                ),
                opts=child_opts(self, depends_on=depends_on, custom_timeouts=timeouts),
            )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata,
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector(NAME, component),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=MODEL_PORT, target_port="http", protocol="TCP"
                    )
                ],
            ),
            # Pulumi awaits ready endpoints behind a ClusterIP Service (10 minutes by default); a cold
            # start takes longer, so the Service follows the pods' own (longer) await.
            opts=child_opts(self, depends_on=[self.workload]),
        )
        self.disruption_budget = None
        if model.replicas > 1:
            self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
                f"{name}-disruption-budget",
                metadata=metadata,
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(max_unavailable=1, selector=pod_selector),
                opts=child_opts(self),
            )
        self.register_outputs({"service": resource_name, "servedName": model.served_name})
