"""Platform components built from hand-written Args alone, under the mock engine.

No stack file, no `StackSettings`, no `pulumi.Config`: each component gets only its `<Component>Args`
(plain values and contract parts), as an agency's own program or a new cloud layer's test would build
it. The assertions read what the component registered with the engine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config

from components.contracts import BackupEgress, BackupTarget, GpuNodes, Scheduling
from components.platform.database import Database, DatabaseArgs, PoolerArgs, Volume
from components.platform.model_server import ModelServer, ModelServerArgs
from components.platform.namespaces import NODE_POOLS_ANNOTATION, NamespacesArgs, PlatformNamespaces
from components.platform.network_policies import NetworkPolicies, NetworkPoliciesArgs
from infra.offline.engine import STACK_TYPE, RecordingMonitor, Registration
from infra.offline.mocks import KivaMocks
from infra.settings.workloads import Model, ModelCache, ResourceAmounts, Resources

PREEMPTIBLE = {"key": "example.cloud/preemptible", "operator": "Exists", "effect": "NoSchedule"}


def register(build: Callable[[], object]) -> list[Registration]:
    """Run `build` as a Pulumi program under the mock engine; return what it registered (no stack)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.ROOT.set(None)
        set_all_config({}, [])
        monitor = RecordingMonitor(KivaMocks())
        pulumi.runtime.set_mocks(monitor.mocks, project="kiva", stack="args", preview=False, monitor=monitor)
        pulumi.runtime.test(lambda: build())()
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        runtime_settings.ROOT.set(None)
    return [r for r in monitor.registrations if r.type != STACK_TYPE]


def by_name(registrations: list[Registration]) -> dict[str, Registration]:
    return {r.name: r for r in registrations}


def _gpu_model(**overrides: Any) -> Model:
    fields: dict[str, Any] = {
        "name": "tiny",
        "hugging_face_id": "example/tiny-instruct",
        "served_name": "tiny",
        "parameters_billion": 1.0,
        "pool": "gpus",
        "replicas": 2,
        "cache": ModelCache(type="pvc", size="50Gi"),
    }
    return Model(**(fields | overrides))


def test_gpu_model_server_from_args() -> None:
    args = ModelServerArgs(
        model=_gpu_model(),
        storage_class="fast-ssd",
        telemetry=False,
        gpu_nodes=GpuNodes(
            tolerations=(PREEMPTIBLE,), nvidia_software="gpu-operator", cuda_compatibility=True
        ),
        gpu_kind="t4",
    )
    registered = by_name(register(lambda: ModelServer("m-tiny", args, depends_on=[])))
    assert registered["m-tiny"].type == "kiva:platform:ModelServer"
    assert {"m-tiny-statefulset", "m-tiny-pods", "m-tiny-service", "m-tiny-disruption-budget"} <= set(
        registered
    )
    assert "m-tiny-deployment" not in registered
    spec = registered["m-tiny-statefulset"].inputs["spec"]
    assert spec["replicas"] == 2
    claim = spec["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast-ssd"
    assert claim["resources"]["requests"] == {"storage": "50Gi"}
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {"kiva.platform/gpu-pool": "gpus"}
    assert pod["tolerations"] == [PREEMPTIBLE]
    container = pod["containers"][0]
    # `gpu_kind: t4` turns `dtype: auto` into half precision (Turing has no bfloat16).
    assert container["args"][container["args"].index("--dtype") + 1] == "half"
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["VLLM_ENABLE_CUDA_COMPATIBILITY"] == "1"
    assert env["VLLM_NO_USAGE_STATS"] == "1", "telemetry off"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    metadata = registered["m-tiny-statefulset"].inputs["metadata"]
    assert metadata["labels"]["kiva.platform/model-download"] == "huggingface"


def test_cpu_model_server_from_args() -> None:
    model = Model(
        name="small",
        hugging_face_id="example/small",
        served_name="small",
        parameters_billion=0.5,
        cpu=True,
        offline=False,
        cache=ModelCache(type="emptyDir", size="20Gi"),
        resources=Resources(
            requests=ResourceAmounts(cpu="1", memory="4Gi"), limits=ResourceAmounts(cpu="2", memory="8Gi")
        ),
    )
    args = ModelServerArgs(model=model, storage_class="unused", telemetry=True)
    registered = by_name(register(lambda: ModelServer("m-small", args, depends_on=[])))
    assert "m-small-deployment" in registered
    assert not {"m-small-statefulset", "m-small-pods", "m-small-disruption-budget"} & set(registered)
    pod = registered["m-small-deployment"].inputs["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    env = {var["name"]: var.get("value") for var in pod["containers"][0]["env"]}
    assert "VLLM_NO_USAGE_STATS" not in env, "telemetry on"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2", "a quarter of the 8Gi memory limit"


def test_network_policies_from_args() -> None:
    args = NetworkPoliciesArgs(
        client_namespaces=("apps", "ingress-nginx"),
        backup=BackupEgress(port=9000, namespace="minio"),
        pooled=True,
        external_providers=False,
        monitoring=False,
        model_download=False,
    )
    registered = register(lambda: NetworkPolicies("np", args, depends_on=[]))
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in registered
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    }
    assert set(policies) == {
        "kiva-default-deny",
        "kiva-allow-dns",
        "kiva-gateway-ingress",
        "kiva-gateway-egress",
        "kiva-model-servers",
        "kiva-database",
        "kiva-database-jobs",
        "kiva-pooler",
    }, "no model download, no provider egress; a pooler policy"
    clients = policies["kiva-gateway-ingress"]["ingress"][0]["from"]
    assert [c["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for c in clients] == [
        "apps",
        "ingress-nginx",
    ]
    backup = policies["kiva-database"]["egress"][-1]
    assert backup["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "minio"}
    assert backup["ports"] == [{"port": 9000, "protocol": "TCP"}]
    gateway_egress = policies["kiva-gateway-egress"]["egress"]
    assert all("ipBlock" not in peer for rule in gateway_egress for peer in rule["to"])
    assert gateway_egress[1]["to"][0]["podSelector"]["matchLabels"] == {
        "cnpg.io/poolerName": "kiva-db-pooler-rw"
    }


def test_namespaces_from_args_declare_node_pools_only_when_given() -> None:
    pools = ({"name": "workers", "nodes": 3, "cpu": "8", "memory": "32Gi"},)
    common: dict[str, Any] = {
        "region": "de/fra",
        "jurisdiction": "DE",
        "prerequisites": {"clusterIssuers": [], "crds": [], "ingressClasses": [], "loadBalancers": False},
        "external_secrets": False,
        "nvidia_software": frozenset({"gpu-operator"}),
    }
    declared = by_name(
        register(lambda: PlatformNamespaces("ns", NamespacesArgs(**common, declared_node_pools=pools)))
    )
    assert set(declared) == {"ns", "ns-kiva", "ns-cnpg-system", "ns-cert-manager", "ns-gpu-operator"}
    kiva = declared["ns-kiva"]
    assert kiva.protect
    annotations = kiva.inputs["metadata"]["annotations"]
    assert json.loads(annotations[NODE_POOLS_ANNOTATION]) == [pools[0]]
    assert annotations["kiva.platform/region"] == "de/fra"
    undeclared = by_name(register(lambda: PlatformNamespaces("ns", NamespacesArgs(**common))))
    assert NODE_POOLS_ANNOTATION not in undeclared["ns-kiva"].inputs["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("zones", "hosts", "key", "kind"),
    [
        (("a", "b", "c"), 3, "topology.kubernetes.io/zone", "required"),
        (("a",), 3, "kubernetes.io/hostname", "required"),
        (("a",), 2, "kubernetes.io/hostname", "preferred"),
    ],
)
def test_database_from_args_places_by_the_contract(
    zones: tuple[str, ...], hosts: int, key: str, kind: str
) -> None:
    args = DatabaseArgs(
        instances=3,
        postgres_major=17,
        resources=Resources(
            requests=ResourceAmounts(cpu="1", memory="2Gi"), limits=ResourceAmounts(cpu="2", memory="4Gi")
        ),
        storage=Volume("30Gi", "fast-ssd"),
        max_connections=150,
        production=True,
        scheduling=Scheduling(zones=zones, hosts=hosts),
        backup=BackupTarget(
            configuration={"destinationPath": "s3://bucket/db/"}, egress=BackupEgress(port=443)
        ),
        retention_days=14,
        backup_schedule="0 0 3 * * *",
        pooler=PoolerArgs(instances=2, max_client_conn=80, default_pool_size=20),
    )
    registered = by_name(register(lambda: Database("db", args, operators=[], secrets=[])))
    assert {"db-object-store", "db-cluster", "db-scheduled-backup", "db-pooler"} <= set(registered)
    assert "db-pod-monitor" not in registered
    cluster = registered["db-cluster"]
    assert cluster.protect
    spec = cluster.inputs["spec"]
    assert spec["affinity"]["topologyKey"] == key
    assert spec["affinity"]["podAntiAffinityType"] == kind
    assert ("topologySpreadConstraints" in spec) == (len(zones) > 1)
    assert spec["storage"] == {"size": "30Gi", "storageClass": "fast-ssd", "resizeInUseVolumes": True}
    assert spec["postgresql"]["parameters"]["max_connections"] == "150"
    assert registered["db-object-store"].inputs["spec"]["retentionPolicy"] == "14d"
    assert registered["db-scheduled-backup"].inputs["spec"]["schedule"] == "0 0 3 * * *"
    assert registered["db-pooler"].inputs["spec"]["pgbouncer"]["parameters"] == {
        "max_client_conn": "80",
        "default_pool_size": "20",
    }
