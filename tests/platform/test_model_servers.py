"""vLLM model servers: telemetry switches, GPU scheduling, probes, cache, security, and the sizing error."""

from __future__ import annotations

import pytest
import yaml

from components.platform.common import GPU_POOL_LABEL
from components.platform.gateway_config import model_service
from infra import versions
from tests.conftest import STACKS, _committed_plan, stack_config
from tests.platform.conftest import find, objects_of, one


def _model_deployments(stack: str) -> list[dict]:
    """Every model's workload: a StatefulSet (PVC cache) or a Deployment (emptyDir cache)."""
    objects = objects_of(_committed_plan(stack))
    return [
        d
        for d in find(objects, "Deployment") + find(objects, "StatefulSet")
        if d["metadata"]["name"].startswith("kiva-model-")
    ]


def _cache_type(stack: str, name: str) -> str:
    return _models(stack)[name].get("cache", {}).get("type", "pvc")


def _container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def _models(stack: str) -> dict[str, dict]:
    return {m["name"]: m for m in yaml.safe_load(_committed_plan(stack).config["kiva:models"])}


@pytest.mark.parametrize("stack", STACKS)
def test_one_workload_and_service_per_model(stack):
    """A StatefulSet with a PVC cache, a Deployment with emptyDir; the gateway's Service name either way."""
    objects = objects_of(_committed_plan(stack))
    for name in _models(stack):
        kind = "StatefulSet" if _cache_type(stack, name) == "pvc" else "Deployment"
        workload = one(objects, kind, f"kiva-model-{name}")
        assert not find(
            objects, "StatefulSet" if kind == "Deployment" else "Deployment", f"kiva-model-{name}"
        )
        service = one(objects, "Service", model_service(name))
        assert service["spec"]["ports"][0]["port"] == 8000
        assert service["spec"].get("clusterIP") != "None"
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("stack", STACKS)
def test_telemetry_switches_are_exactly_one(stack):
    for deployment in _model_deployments(stack):
        env = _env(_container(deployment))
        for key in ("VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "VLLM_DO_NOT_TRACK", "HF_HUB_DISABLE_TELEMETRY"):
            assert env[key]["value"] == "1", key
        assert env["HF_HOME"]["value"].startswith("/models")


@pytest.mark.parametrize("stack", STACKS)
def test_command_and_args(stack):
    models = _models(stack)
    for deployment in _model_deployments(stack):
        model = models[deployment["metadata"]["name"].removeprefix("kiva-model-")]
        container = _container(deployment)
        args = container["args"]
        assert container["command"] == ["vllm", "serve"]
        assert args[0] == model["huggingFaceId"]
        assert args[args.index("--served-model-name") + 1] == model["servedName"]
        assert args[args.index("--max-model-len") + 1] == str(model.get("maxModelLen", 8192))
        if model.get("cpu"):
            assert container["image"] == versions.VLLM_CPU_IMAGE
            assert "--tensor-parallel-size" not in args
        else:
            assert container["image"] == versions.VLLM_IMAGE
            assert args[args.index("--tensor-parallel-size") + 1] == str(model.get("gpus", 1))
            assert "--gpu-memory-utilization" in args


def test_t4_models_run_in_half_precision():
    args = _container(_model_deployments("dev")[0])["args"]
    assert args[args.index("--dtype") + 1] == "half"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_gpu_scheduling(stack):
    models = _models(stack)
    for deployment in _model_deployments(stack):
        model = models[deployment["metadata"]["name"].removeprefix("kiva-model-")]
        pod = deployment["spec"]["template"]["spec"]
        resources = _container(deployment)["resources"]
        assert (
            resources["requests"]["nvidia.com/gpu"]
            == resources["limits"]["nvidia.com/gpu"]
            == str(model["gpus"])
        )
        assert pod["nodeSelector"] == {GPU_POOL_LABEL: model["pool"]}
        assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod[
            "tolerations"
        ]
        assert "runtimeClassName" not in pod


def test_cpu_models_do_not_ask_for_gpus():
    deployment = _model_deployments("local")[0]
    pod = deployment["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in _container(deployment)["resources"]["limits"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert _env(_container(deployment))["VLLM_CPU_KVCACHE_SPACE"]["value"].isdigit()


@pytest.mark.parametrize("stack", STACKS)
def test_probes_allow_a_cold_start(stack):
    for deployment in _model_deployments(stack):
        container = _container(deployment)
        startup = container["startupProbe"]
        assert startup["httpGet"]["path"] == "/health"
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 15 * 60
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        if deployment["kind"] == "Deployment":  # a StatefulSet has no progress deadline
            assert (
                deployment["spec"]["progressDeadlineSeconds"]
                >= startup["periodSeconds"] * startup["failureThreshold"]
            )


@pytest.mark.parametrize("stack", STACKS)
def test_shared_memory_and_cache(stack):
    models = _models(stack)
    for workload in _model_deployments(stack):
        name = workload["metadata"]["name"].removeprefix("kiva-model-")
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
        mounts = {m["name"]: m["mountPath"] for m in _container(workload)["volumeMounts"]}
        assert mounts["shm"] == "/dev/shm" and mounts["cache"] == "/models"
        cache = models[name].get("cache", {})
        if cache.get("type", "pvc") == "pvc":
            (claim,) = workload["spec"]["volumeClaimTemplates"]
            assert claim["metadata"]["name"] == "cache" and "cache" not in volumes
            assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
            assert claim["spec"]["resources"]["requests"]["storage"] == cache.get("size", "100Gi")
        else:
            assert "emptyDir" in volumes["cache"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_replica_shares_a_read_write_once_claim(stack):
    """Issue 9 #3: one RWO claim for all replicas fails with Multi-Attach once a second node is used."""
    objects = objects_of(_committed_plan(stack))
    assert not find(objects, "PersistentVolumeClaim")
    for workload in _model_deployments(stack):
        claims = [v for v in workload["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v]
        assert claims == [], workload["metadata"]["name"]


def test_prod_replicas_each_get_their_own_cache():
    """prod: 2 replicas per model on 1-GPU nodes, each with its own claim, rolled one at a time."""
    workloads = _model_deployments("prod")
    assert workloads
    for workload in workloads:
        spec = workload["spec"]
        assert workload["kind"] == "StatefulSet" and spec["replicas"] == 2
        assert spec["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert spec["updateStrategy"] == {"type": "RollingUpdate"}
        assert spec["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("stack", STACKS)
def test_no_rollout_takes_the_model_down(stack):
    for workload in _model_deployments(stack):
        spec = workload["spec"]
        if workload["kind"] == "Deployment":
            assert spec["strategy"]["type"] == "RollingUpdate"
            assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
        else:
            assert spec["updateStrategy"]["type"] == "RollingUpdate"


def test_cached_weights_outlive_pods_and_the_statefulset():
    """The claims are kept when the StatefulSet is deleted or scaled down (they were protected PVCs)."""
    (workload,) = _model_deployments("dev")
    assert workload["kind"] == "StatefulSet"
    assert workload["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_statefulset_has_a_headless_governing_service():
    objects = objects_of(_committed_plan("dev"))
    (workload,) = _model_deployments("dev")
    governing = one(objects, "Service", workload["spec"]["serviceName"])
    assert governing["spec"]["clusterIP"] == "None"
    assert governing["metadata"]["name"] != model_service("llama-3-2-3b")
    assert governing["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()


def test_claim_template_does_not_change_with_the_download_switch(plan_with):
    """Claim templates are immutable: `offline` (which drops the download label) must not touch them."""
    models = stack_config("dev")["kiva:models"]
    models[0] |= {"offline": True}
    offline = one(
        objects_of(plan_with("dev", {"kiva:models": models})), "StatefulSet", "kiva-model-llama-3-2-3b"
    )
    (online,) = _model_deployments("dev")
    assert offline["spec"]["volumeClaimTemplates"] == online["spec"]["volumeClaimTemplates"]
    plan = _committed_plan("dev")
    (statefulset,) = [
        s for s in plan.of_type("kubernetes:apps/v1:StatefulSet") if s.name.startswith("kiva-model-")
    ]
    assert statefulset.delete_before_replace  # same name: the old one must go before its replacement


def test_cache_claims_use_the_configured_class_and_size(plan_with):
    models = stack_config("dev")["kiva:models"]
    models[0]["cache"] = {"type": "pvc", "size": "60Gi", "storageClass": "managed-csi"}
    objects = objects_of(plan_with("dev", {"kiva:models": models}))
    claim = one(objects, "StatefulSet", "kiva-model-llama-3-2-3b")["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "managed-csi"
    assert claim["spec"]["resources"]["requests"]["storage"] == "60Gi"


def test_an_emptydir_cache_keeps_a_deployment(plan_with):
    models = stack_config("dev")["kiva:models"]
    models[0]["cache"] = {"type": "emptyDir", "size": "50Gi"}
    objects = objects_of(plan_with("dev", {"kiva:models": models}))
    deployment = one(objects, "Deployment", "kiva-model-llama-3-2-3b")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["cache"]["emptyDir"]["sizeLimit"] == "50Gi"
    assert not find(objects, "StatefulSet", "kiva-model-llama-3-2-3b")
    assert not find(objects, "Service", "kiva-model-llama-3-2-3b-pods")


@pytest.mark.parametrize("stack", STACKS)
def test_security_context(stack):
    for deployment in _model_deployments(stack):
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"]["drop"] == ["ALL"]
        assert pod["automountServiceAccountToken"] is False


def test_gated_models_read_the_token_from_a_secret():
    # as a mounted file, not an env var (huggingface_hub reads the file HF_TOKEN_PATH names; CKV_K8S_35)
    deployment = _model_deployments("dev")[0]
    container = _container(deployment)
    env = _env(container)
    assert "HF_TOKEN" not in env
    assert env["HF_TOKEN_PATH"]["value"] == "/var/run/secrets/huggingface/token"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["hf-token"]["secret"]["secretName"] == "kiva-huggingface"
    assert volumes["hf-token"]["secret"]["items"] == [{"key": "HF_TOKEN", "path": "token"}]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["hf-token"] == {
        "name": "hf-token",
        "mountPath": "/var/run/secrets/huggingface",
        "readOnly": True,
    }


def test_disruption_budget_only_with_several_replicas():
    prod = objects_of(_committed_plan("prod"))
    for name in _models("prod"):
        budget = one(prod, "PodDisruptionBudget", f"kiva-model-{name}")["spec"]
        assert budget["maxUnavailable"] == 1
        pods = one(prod, "StatefulSet", f"kiva-model-{name}")["spec"]["template"]["metadata"]["labels"]
        assert budget["selector"]["matchLabels"].items() <= pods.items()
    dev = objects_of(_committed_plan("dev"))
    assert not [
        p for p in find(dev, "PodDisruptionBudget") if p["metadata"]["name"].startswith("kiva-model-")
    ]


def test_a_model_too_big_for_its_pool_is_a_configuration_error(plan_with):
    models = stack_config("dev")["kiva:models"]
    models[0] |= {"parametersBillion": 13.0}
    with pytest.raises(Exception) as error:
        plan_with("dev", {"kiva:models": models})
    message = str(error.value)
    assert "llama-3-2-3b" in message and "13B parameters" in message
    assert "26.0 GB" in message and "T4 (16 GB)" in message


def test_offline_models_neither_download_nor_get_egress(plan_with):
    models = stack_config("dev")["kiva:models"]
    models[0] |= {"offline": True}
    objects = objects_of(plan_with("dev", {"kiva:models": models}))
    deployment = one(objects, "StatefulSet", "kiva-model-llama-3-2-3b")
    env = _env(_container(deployment))
    assert env["HF_HUB_OFFLINE"]["value"] == env["TRANSFORMERS_OFFLINE"]["value"] == "1"
    assert "kiva.platform/model-download" not in deployment["spec"]["template"]["metadata"]["labels"]
    assert not find(objects, "NetworkPolicy", "kiva-model-download")


def test_downloading_models_get_https_egress_only():
    deployment = _model_deployments("dev")[0]
    assert (
        deployment["spec"]["template"]["metadata"]["labels"]["kiva.platform/model-download"] == "huggingface"
    )
    policy = one(objects_of(_committed_plan("dev")), "NetworkPolicy", "kiva-model-download")["spec"]
    assert policy["podSelector"]["matchLabels"]["kiva.platform/model-download"] == "huggingface"
    assert policy["egress"] == [
        {
            "to": [
                {
                    "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": policy["egress"][0]["to"][0]["ipBlock"]["except"],
                    }
                }
            ],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
    ]
    assert "10.0.0.0/8" in policy["egress"][0]["to"][0]["ipBlock"]["except"]


def test_offline_needs_a_persistent_cache(plan_with):
    models = stack_config("local")["kiva:models"]
    models[0] |= {"offline": True}
    with pytest.raises(Exception, match=r"offline.*cache\.type: pvc"):
        plan_with("local", {"kiva:models": models})
