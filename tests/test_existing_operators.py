"""Clusters that already run things (issue 12, part 3).

`kiva:operators.<name>.install: false` leaves an operator to the cluster: the plan installs nothing for
it, its CRDs must be declared, and the day-one checks accept them. GPU pools of an existing cluster get
their tolerations from the declared taints, a RuntimeClass where the nodes need one, and CUDA
compatibility only when asked; an S3 endpoint behind an internal CA gets `endpointCA`.
"""

from __future__ import annotations

from typing import Any

import pytest
from kiva_policies.runner import run_pack
from pydantic import ValidationError

from components.contracts import GPU_TAINT_TOLERATIONS
from components.existing import cluster as existing
from infra.offline.digest import preview_digest
from infra.offline.engine import Plan
from infra.offline.preview_file import planned_resources
from infra.settings import GpuPool, load_settings
from infra.settings.loader import ConfigError
from tests.conftest import committed_stack_file, stack_config

CNPG_CRDS = [
    "clusters.postgresql.cnpg.io",
    "scheduledbackups.postgresql.cnpg.io",
    "objectstores.barmancloud.cnpg.io",
]
CERT_MANAGER_CRDS = ["issuers.cert-manager.io", "certificates.cert-manager.io"]
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"

#: A k3s GPU pool: labelled for the platform, tainted by its owner (a spot taint of its own).
K3S_GPU_NODES = {
    "name": "gpu",
    "nodes": 1,
    "cpu": "16",
    "memory": "60Gi",
    "gpus": 1,
    "labels": {"kiva.platform/gpu-pool": "l4"},
    "taints": [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
        {"key": "example.org/preemptible", "value": "true", "effect": "NoSchedule"},
    ],
}
GPU_POOL = {"name": "l4", "gpuType": "a10", "gpusPerNode": 1, "maxCount": 1}
GPU_MODEL = {
    "name": "qwen-2-5-0-5b",
    "huggingFaceId": "Qwen/Qwen2.5-0.5B-Instruct",
    "servedName": "qwen2.5-0.5b-instruct",
    "parametersBillion": 0.5,
    "pool": "l4",
    "maxModelLen": 4096,
}


def _local(**overrides: Any) -> dict[str, Any]:
    raw = {
        key.removeprefix("kiva:"): v for key, v in stack_config("local").items() if key.startswith("kiva:")
    }
    raw = {k: v for k, v in raw.items() if not isinstance(v, dict) or "secure" not in v}
    return raw | overrides


def _settings(raw: dict[str, Any]):
    return load_settings(raw, {"backupAccessKeyId", "backupSecretAccessKey"}, "Pulumi.test.yaml")


def _gpu_local(**overrides: Any) -> dict[str, Any]:
    cluster = _local()["cluster"] | {"nodePools": [*_local()["cluster"]["nodePools"], K3S_GPU_NODES]}
    return _local(cluster=cluster, gpuPools=[GPU_POOL], models=[GPU_MODEL]) | overrides


def _dev_error(**overrides: Any) -> str:
    raw = {key.removeprefix("kiva:"): v for key, v in stack_config("dev").items() if key.startswith("kiva:")}
    raw = {k: v for k, v in raw.items() if not isinstance(v, dict) or "secure" not in v}
    secrets = {key.removeprefix("kiva:") for key in committed_stack_file("dev").secret_keys}
    with pytest.raises((ConfigError, ValidationError)) as caught:
        load_settings(raw | overrides, secrets, "Pulumi.dev.yaml")
    return str(caught.value)


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises((ConfigError, ValidationError)) as caught:
        _settings(raw)
    return str(caught.value)


# --- settings ---------------------------------------------------------------------------------------


def test_operators_are_installed_by_default() -> None:
    operators = _settings(_local()).operators
    assert operators.not_installed() == []
    assert operators.cloudnative_pg.operator_namespace == "cnpg-system"


def test_cnpg_left_to_the_cluster_needs_its_crds_declared() -> None:
    message = _error(_local(operators={"cloudnativePg": {"install": False}}))
    assert "operators.cloudnativePg.install" in message
    assert (
        "add clusters.postgresql.cnpg.io, scheduledbackups.postgresql.cnpg.io, "
        "objectstores.barmancloud.cnpg.io to prerequisites.crds"
    ) in message


def test_cnpg_pooler_crd_is_required_with_a_pooler() -> None:
    raw = _local(
        operators={"cloudnativePg": {"install": False}},
        prerequisites={"crds": CNPG_CRDS},
        database={"instances": 1, "pooler": {"enabled": True}},
    )
    assert "add poolers.postgresql.cnpg.io to prerequisites.crds" in _error(raw)


def test_cert_manager_left_to_the_cluster_needs_the_plugin_certificate_crds() -> None:
    message = _error(_local(operators={"certManager": {"install": False}}))
    assert "operators.certManager.install" in message
    assert "add issuers.cert-manager.io, certificates.cert-manager.io to prerequisites.crds" in message
    ok = _settings(
        _local(operators={"certManager": {"install": False}}, prerequisites={"crds": CERT_MANAGER_CRDS})
    )
    assert ok.operators.not_installed() == ["certManager"]


def test_namespace_of_the_operator_only_with_install_false() -> None:
    message = _error(_local(operators={"cloudnativePg": {"namespace": "postgres-operator"}}))
    assert "namespace names where the cluster's own operator runs, so it needs install: false" in message


def test_azure_refuses_operators_left_out() -> None:
    message = _dev_error(operators={"nvidia": {"install": False}})
    assert "operators.nvidia.install" in message
    assert "this stack creates the cluster (provider: azure)" in message


def test_aks_driver_is_a_deprecated_alias_of_preinstalled() -> None:
    pool = GpuPool.model_validate({"name": "gpu", "vmSize": "Standard_NC4as_T4_v3", "driver": "aks"})
    assert pool.driver == "preinstalled"
    with pytest.raises(ValidationError) as caught:
        GpuPool.model_validate({"name": "gpu", "vmSize": "Standard_NC4as_T4_v3", "driver": "nvidia"})
    assert "'preinstalled' or 'operator'" in str(caught.value)


def test_runtime_class_must_be_declared() -> None:
    raw = _gpu_local(gpuPools=[GPU_POOL | {"runtimeClassName": "nvidia"}])
    message = _error(raw)
    assert "gpuPools[0].runtimeClassName" in message
    assert "add it to prerequisites.runtimeClasses" in message
    assert (
        _settings(raw | {"prerequisites": {"runtimeClasses": ["nvidia"]}}).gpu_pools[0].runtime_class_name
        == "nvidia"
    )


def test_runtime_class_refused_on_azure() -> None:
    pools = stack_config("dev")["kiva:gpuPools"]
    message = _dev_error(gpuPools=[pools[0] | {"runtimeClassName": "nvidia"}])
    assert "gpuPools[0].runtimeClassName" in message
    assert "AKS runs GPU pods with its nodes' default runtime" in message


def test_ca_bundle_must_be_pem_or_a_secret() -> None:
    store = _local()["backups"]["objectStore"]
    message = _error(_local(backups={"objectStore": store | {"caBundle": "not a certificate"}}))
    assert "must be PEM certificates" in message
    ok = _settings(_local(backups={"objectStore": store | {"caBundle": {"secret": "s3-ca"}}}))
    assert ok.backups.object_store is not None
    assert existing.endpoint_ca(ok.backups.object_store.ca_bundle) == existing.EndpointCa("s3-ca", "ca.crt")


# --- the existing cluster's contract -------------------------------------------------------------------


def test_gpu_tolerations_come_from_the_declared_taints() -> None:
    settings = _settings(_gpu_local())
    nodes = existing.existing_gpu_nodes(settings.gpu_pools[0], settings.cluster)
    # nvidia.com/gpu=present is covered by the GPU tolerations; the owner's preemptible taint is added.
    assert nodes.tolerations == (
        *GPU_TAINT_TOLERATIONS,
        {"key": "example.org/preemptible", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    )
    assert not any(t["key"] == "kubernetes.azure.com/scalesetpriority" for t in nodes.tolerations)
    assert existing.daemonset_tolerations(settings.cluster) == nodes.tolerations


def test_spot_on_an_existing_cluster_adds_no_aks_toleration() -> None:
    settings = _settings(_gpu_local(gpuPools=[GPU_POOL | {"spot": True}]))
    nodes = existing.existing_gpu_nodes(settings.gpu_pools[0], settings.cluster)
    assert "kubernetes.azure.com/scalesetpriority" not in {t["key"] for t in nodes.tolerations}


@pytest.mark.parametrize(("setting", "expected"), [(None, False), (True, True), (False, False)])
def test_cuda_compatibility_is_a_pool_setting_on_existing_clusters(
    setting: bool | None, expected: bool
) -> None:
    pool = GPU_POOL | ({} if setting is None else {"cudaCompatibility": setting})
    settings = _settings(_gpu_local(gpuPools=[pool]))
    assert existing.existing_gpu_nodes(settings.gpu_pools[0], settings.cluster).cuda_compatibility is expected


def test_s3_target_with_an_inline_ca_bundle() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    target = existing.s3_backup_target("s3://b/p/", "https://s3.internal.example", "eu-de", pem)
    assert target.configuration["endpointCA"] == {"name": "kiva-db-backup-ca", "key": "ca.crt"}
    assert target.endpoint_ca == existing.EndpointCa("kiva-db-backup-ca", "ca.crt", pem)
    assert (
        "endpointCA"
        not in existing.s3_backup_target("s3://b/p/", "https://s3.example.eu", "eu-de").configuration
    )


# --- plans and the day-one checks ----------------------------------------------------------------------


def _releases(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in plan.resources if r.type == RELEASE}


def _namespaces(plan: Plan) -> set[str]:
    return {r.inputs["metadata"]["name"] for r in plan.resources if r.type == NAMESPACE}


def _violations(plan: Plan, policy: str) -> list[str]:
    report = run_pack(planned_resources(preview_digest(plan)), {})
    return [f.message for f in report.findings if f.status == "violation" and f.policy == policy]


def _kind(plan: Plan, kind: str, name: str) -> dict[str, Any]:
    return next(
        r.inputs
        for r in plan.resources
        if r.type.endswith(f":{kind}") and r.inputs["metadata"]["name"] == name
    )


def test_operators_left_to_the_cluster_are_not_installed(plan_with) -> None:
    plan = plan_with(
        "local",
        {
            "kiva:operators": {
                "cloudnativePg": {"install": False, "namespace": "postgres-operator"},
                "certManager": {"install": False},
            },
            "kiva:prerequisites": {"crds": CNPG_CRDS},
        },
    )
    assert set(_releases(plan)) == set()
    assert _namespaces(plan) == {"kiva"}
    # The cluster's own operator reaches the instances from its namespace.
    database = _kind(plan, "NetworkPolicy", "kiva-database")
    sources = [peer for rule in database["spec"]["ingress"] for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "postgres-operator"}}
    } in sources
    assert not any(
        p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
        == "cnpg-system"
        for p in sources
    )
    assert _violations(plan, "kiva-day-one-crds-installed") == []


def test_undeclared_crds_fail_the_day_one_check(plan_with) -> None:
    """The settings would refuse this; the pack catches it on a plan that got past them."""
    plan = plan_with(
        "local",
        {
            "kiva:operators": {"cloudnativePg": {"install": False}},
            "kiva:prerequisites": {"crds": CNPG_CRDS},
        },
    )
    resources = [r for r in planned_resources(preview_digest(plan))]
    namespace = next(r for r in resources if r.type == NAMESPACE and r.props["metadata"]["name"] == "kiva")
    namespace.props["metadata"]["annotations"]["kiva.platform/prerequisites"] = '{"crds":[]}'
    report = run_pack(resources, {})
    messages = [
        f.message
        for f in report.findings
        if f.status == "violation" and f.policy == "kiva-day-one-crds-installed"
    ]
    assert any("needs the CRD clusters.postgresql.cnpg.io" in m for m in messages)


def test_gpu_pool_with_a_runtime_class(plan_with) -> None:
    raw = _gpu_local(
        gpuPools=[GPU_POOL | {"runtimeClassName": "nvidia"}], prerequisites={"runtimeClasses": ["nvidia"]}
    )
    plan = plan_with(
        "local",
        {
            f"kiva:{key}": value
            for key, value in raw.items()
            if key in ("cluster", "gpuPools", "models", "prerequisites")
        },
    )
    server = next(
        r.inputs
        for r in plan.resources
        if r.type.endswith(":StatefulSet") or r.type.endswith(":Deployment")
        if "vllm" in str(r.inputs["metadata"])
    )
    assert server["spec"]["template"]["spec"]["runtimeClassName"] == "nvidia"
    assert _releases(plan)["nvidia-device-plugin"]["values"]["runtimeClassName"] == "nvidia"
    assert _violations(plan, "kiva-day-one-controllers-present") == []


def test_undeclared_runtime_class_fails_the_day_one_check(plan_with) -> None:
    raw = _gpu_local(
        gpuPools=[GPU_POOL | {"runtimeClassName": "nvidia"}], prerequisites={"runtimeClasses": ["nvidia"]}
    )
    plan = plan_with(
        "local",
        {
            f"kiva:{key}": value
            for key, value in raw.items()
            if key in ("cluster", "gpuPools", "models", "prerequisites")
        },
    )
    resources = planned_resources(preview_digest(plan))
    namespace = next(r for r in resources if r.type == NAMESPACE and r.props["metadata"]["name"] == "kiva")
    namespace.props["metadata"]["annotations"]["kiva.platform/prerequisites"] = '{"crds":[]}'
    report = run_pack(resources, {})
    messages = [
        f.message
        for f in report.findings
        if f.status == "violation" and f.policy == "kiva-day-one-controllers-present"
    ]
    assert len(messages) == 2  # the model server and the device plugin's DaemonSets
    assert any("names RuntimeClass 'nvidia', which the plan does not create" in m for m in messages)


def test_nvidia_left_to_the_cluster_installs_no_gpu_software(plan_with) -> None:
    raw = _gpu_local(operators={"nvidia": {"install": False}})
    plan = plan_with(
        "local",
        {
            f"kiva:{key}": value
            for key, value in raw.items()
            if key in ("cluster", "gpuPools", "models", "operators")
        },
    )
    assert "nvidia-device-plugin" not in _releases(plan)
    assert "nvidia-device-plugin" not in _namespaces(plan)


def test_inline_ca_bundle_becomes_a_secret_and_endpoint_ca(plan_with) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    store = _local()["backups"]["objectStore"] | {"caBundle": pem}
    plan = plan_with("local", {"kiva:backups": {"schedule": "0 0 3 * * *", "objectStore": store}})
    object_store = _kind(plan, "ObjectStore", "kiva-db-backups")
    assert object_store["spec"]["configuration"]["endpointCA"] == {
        "name": "kiva-db-backup-ca",
        "key": "ca.crt",
    }
    secret = _kind(plan, "Secret", "kiva-db-backup-ca")
    assert secret["metadata"]["namespace"] == "kiva"
