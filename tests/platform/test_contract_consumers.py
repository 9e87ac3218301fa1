"""The platform takes what it knows about the cloud from the `CloudFoundation` alone.

A made-up provider fills the contract with values no cloud layer of ours produces (its own spot taint,
its own backup credentials and egress, no External Secrets, the GPU operator on a pool whose settings
say `driver: preinstalled`); every platform function must follow the contract, not the stack's cloud.
"""

from __future__ import annotations

from typing import Any, cast

import pulumi_kubernetes as k8s

from components.contracts import (
    BackupEgress,
    BackupTarget,
    CloudFoundation,
    GpuNodes,
    InlineSecrets,
    Scheduling,
)
from components.platform import assembly, database, model_server, namespaces, network_policies, operators
from infra.settings import load_settings
from tests.conftest import committed_stack_file, stack_config

SPOT = {"key": "example.cloud/preemptible", "operator": "Exists", "effect": "NoSchedule"}
STORE = {
    "destinationPath": "s3://bucket/kiva/",
    "endpointURL": "https://objects.example.cloud",
    "s3Credentials": {"inheritFromIAMRole": True},
}


def _dev_settings() -> Any:
    """dev's settings: an Azure cluster with a spot T4 pool (`driver: preinstalled`) and one model on it."""
    file = committed_stack_file("dev")
    raw = {key[5:]: value for key, value in stack_config("dev").items() if key.startswith("kiva:")}
    secret_keys = {key[5:] for key in file.secret_keys if key.startswith("kiva:")}
    return load_settings(raw, secret_keys, "Pulumi.dev.yaml")


def _foundation(**overrides: Any) -> CloudFoundation:
    fields: dict[str, Any] = {
        # The pure functions below never touch the provider; a real one needs the Pulumi runtime.
        "kubernetes": cast(k8s.Provider, None),
        "secrets": InlineSecrets({}),
        "backup": BackupTarget(
            configuration=STORE,
            egress=BackupEgress(port=8443, namespace="object-store"),
            pod_labels={"example.cloud/identity": "on"},
            service_account_annotations={"example.cloud/role": "kiva-backup"},
        ),
        "scheduling": Scheduling(zones=("north", "south"), hosts=5),
        "gpu_pools": {
            "t4": GpuNodes(tolerations=(SPOT,), nvidia_software="gpu-operator", cuda_compatibility=False)
        },
        "gpu_daemonset_tolerations": (SPOT,),
        "needs_external_secrets": False,
    }
    return CloudFoundation(**(fields | overrides))


def test_backup_target_goes_into_the_object_store_and_cluster() -> None:
    settings, foundation = _dev_settings(), _foundation()
    args = assembly.database_args(settings, foundation)
    configuration = database.object_store_configuration(args.backup)
    assert configuration["s3Credentials"] == {"inheritFromIAMRole": True}
    assert configuration["destinationPath"] == "s3://bucket/kiva/"
    assert configuration["wal"]["compression"] == "gzip"
    spec = database.cluster_spec(args)
    assert spec["inheritedMetadata"]["labels"]["example.cloud/identity"] == "on"
    assert "azure.workload.identity/use" not in spec["inheritedMetadata"]["labels"]
    assert spec["serviceAccountTemplate"] == {
        "metadata": {"annotations": {"example.cloud/role": "kiva-backup"}}
    }


def test_no_service_account_template_when_the_target_needs_none() -> None:
    target = BackupTarget(configuration=STORE, egress=BackupEgress(port=443))
    spec = database.cluster_spec(assembly.database_args(_dev_settings(), _foundation(backup=target)))
    assert "serviceAccountTemplate" not in spec
    assert spec["inheritedMetadata"]["labels"] == {"app.kubernetes.io/part-of": "kiva"}


def test_database_egress_follows_the_target() -> None:
    settings = _dev_settings()
    egress = assembly.network_policies_args(settings, _foundation()).backup
    assert network_policies.backup_port(egress) == 8443
    peer = network_policies.backup_peer(egress)
    assert peer.namespace_selector is not None
    outside = _foundation(backup=BackupTarget(configuration=STORE, egress=BackupEgress(port=443)))
    egress = assembly.network_policies_args(settings, outside).backup
    assert network_policies.backup_peer(egress).ip_block is not None


def test_database_placement_follows_the_contract() -> None:
    """dev's Azure settings name one zone; the contract's two zones and five hosts decide instead."""
    dev = _dev_settings()
    database_settings = dev.database.model_copy(update={"instances": 2})
    settings = dev.model_copy(update={"environment": "production", "database": database_settings})
    spec = database.cluster_spec(assembly.database_args(settings, _foundation()))
    assert spec["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    one_zone = _foundation(scheduling=Scheduling(zones=("north",), hosts=1))
    spec = database.cluster_spec(assembly.database_args(settings, one_zone))
    assert spec["affinity"]["podAntiAffinityType"] == "preferred"
    assert "topologySpreadConstraints" not in spec


def test_gpu_pool_facts_come_from_the_contract() -> None:
    settings, foundation = _dev_settings(), _foundation()
    model = settings.models[0]
    tolerations = model_server.gpu_tolerations(foundation.gpu_pools["t4"])
    assert [(t.key, t.operator) for t in tolerations] == [("example.cloud/preemptible", "Exists")]
    resources = model_server.default_resources(model)
    server = assembly.model_server_args(settings, foundation, model)
    names = {var.name for var in model_server.model_env(server, resources)}
    # dev's pool says `driver: preinstalled`, but this cloud's nodes need no compatibility mode.
    assert "VLLM_ENABLE_CUDA_COMPATIBILITY" not in names
    operator_args = assembly.operators_args(settings, foundation)
    assert operator_args.gpu_operator_pools == ("t4",)
    assert operator_args.device_plugin_pools == ()
    assert operators.gpu_node_tolerations(operator_args) == [SPOT]
    planned = {
        plan.name for plan in namespaces.planned_namespaces(assembly.namespaces_args(settings, foundation))
    }
    assert "gpu-operator" in planned and "nvidia-device-plugin" not in planned
    # dev is an Azure stack, but this store is not read through External Secrets.
    assert "external-secrets" not in planned
