"""CloudNativePG: cluster shape, bootstrap secret, backups with retention, pooler, monitoring, protection."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from components.existing.cluster import declared_scheduling
from components.platform.assembly import database_args
from components.platform.database import affinity
from infra import versions
from infra.settings import ExistingCluster, load_settings
from tests.conftest import STACKS, _committed_plan, stack_config
from tests.platform.conftest import BLOB_PATH, _azure_plan, find, objects_of, one


def _cluster(plan) -> dict:
    return one(objects_of(plan), "Cluster", "kiva-db")["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_shape(stack):
    plan = _committed_plan(stack)
    database = yaml.safe_load(plan.config["kiva:database"])
    spec = _cluster(plan)
    assert spec["instances"] == database["instances"]
    assert spec["imageName"] in versions.POSTGRES_IMAGES.values()
    assert all(isinstance(v, str) for v in spec["postgresql"]["parameters"].values())
    assert spec["bootstrap"]["initdb"] == {
        "database": "litellm",
        "owner": "litellm",
        "secret": {"name": "kiva-db-app"},
        "dataChecksums": True,
    }
    assert spec["storage"]["size"] == database["storage"]["size"]
    assert ("walStorage" in spec) == ("walStorage" in database)
    assert (
        spec["plugins"][0]["name"] == "barman-cloud.cloudnative-pg.io" and spec["plugins"][0]["isWALArchiver"]
    )


def test_production_spreads_over_zones():
    # prod: 3 instances over the general pool's 3 zones -> one per zone, required.
    spec = _cluster(_committed_plan("prod"))
    assert spec["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
    assert spec["affinity"]["podAntiAffinityType"] == "required"


def _prod_with_general_zones(plan_with, zones: list[str]):
    cluster = stack_config("prod")["kiva:cluster"]
    cluster["generalPool"]["zones"] = zones
    return plan_with("prod", {"kiva:cluster": cluster})


def test_fewer_zones_than_instances_never_requires_one_per_zone(plan_with):
    """Required zone anti-affinity with 2 zones and 3 instances would leave one instance Pending."""
    spec = _cluster(_prod_with_general_zones(plan_with, ["1", "2"]))
    assert spec["instances"] == 3
    assert not (
        spec["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"
        and spec["affinity"]["podAntiAffinityType"] == "required"
    )
    assert spec["affinity"] == {
        "enablePodAntiAffinity": True,
        "topologyKey": "kubernetes.io/hostname",
        "podAntiAffinityType": "required",
    }
    spread = spec["topologySpreadConstraints"]
    assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in spread] == [
        ("topology.kubernetes.io/zone", "ScheduleAnyway")
    ]


def test_zones_are_the_general_pools_not_the_clusters(plan_with):
    # The system pool spans 3 zones, the general pool (where PostgreSQL runs) only one.
    spec = _cluster(_prod_with_general_zones(plan_with, ["1"]))
    assert spec["affinity"]["topologyKey"] == "kubernetes.io/hostname"
    assert "topologySpreadConstraints" not in spec


def test_required_per_node_only_when_the_pool_can_hold_every_instance(plan_with):
    cluster = stack_config("prod")["kiva:cluster"]
    cluster["generalPool"] |= {"zones": ["1", "2"], "minCount": 2, "maxCount": 2}
    spec = _cluster(plan_with("prod", {"kiva:cluster": cluster}))
    assert spec["affinity"]["topologyKey"] == "kubernetes.io/hostname"
    assert spec["affinity"]["podAntiAffinityType"] == "preferred"


def test_single_instance_has_no_disruption_budget():
    """One instance with enablePDB would block every node drain (AKS node-image upgrades)."""
    for stack in ("dev", "local"):
        spec = _cluster(_committed_plan(stack))
        assert spec["instances"] == 1
        assert spec["enablePDB"] is False, "omitting it means true (CRD default)"


def test_replicated_cluster_keeps_its_disruption_budgets():
    spec = _cluster(_committed_plan("prod"))
    assert spec["instances"] == 3 and spec["enablePDB"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_is_protected_and_waits_for_its_operator(stack):
    plan = _committed_plan(stack)
    cluster = next(r for r in plan.resources if r.type == "kubernetes:postgresql.cnpg.io/v1:Cluster")
    assert cluster.protect
    releases = {r.urn for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"}
    assert any(urn.endswith("cloudnative-pg") for urn in set(cluster.dependencies) & releases)


@pytest.mark.parametrize("stack", STACKS)
def test_backup_retention_and_schedule(stack):
    plan = _committed_plan(stack)
    objects = objects_of(plan)
    days = yaml.safe_load(plan.config["kiva:retention"])["backupDays"]
    store = one(objects, "ObjectStore", "kiva-db-backups")["spec"]
    assert store["retentionPolicy"] == f"{days}d"
    backup = one(objects, "ScheduledBackup", "kiva-db-daily")["spec"]
    assert len(backup["schedule"].split()) == 6
    assert (
        backup["method"] == "plugin"
        and backup["pluginConfiguration"]["name"] == "barman-cloud.cloudnative-pg.io"
    )


def test_s3_backups_use_the_backup_secret():
    store = one(objects_of(_committed_plan("local")), "ObjectStore", "kiva-db-backups")["spec"][
        "configuration"
    ]
    assert store["destinationPath"] == "s3://kiva-backups/local/"
    assert store["endpointURL"] == "http://minio.minio.svc.cluster.local:9000"
    assert store["s3Credentials"]["secretAccessKey"] == {"name": "kiva-db-backup", "key": "ACCESS_SECRET_KEY"}


def test_blob_backups_use_workload_identity():
    plan = _azure_plan("prod")
    store = one(objects_of(plan), "ObjectStore", "kiva-db-backups")["spec"]["configuration"]
    assert store["destinationPath"] == BLOB_PATH
    assert store["azureCredentials"] == {"useDefaultAzureCredentials": True}
    spec = _cluster(plan)
    assert spec["inheritedMetadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert "azure.workload.identity/client-id" in spec["serviceAccountTemplate"]["metadata"]["annotations"]


def test_connections_are_sized_to_the_gateway_or_pooled():
    # prod: 10 gateway replicas x 2 workers x 10 connections = 200, over 2 PgBouncer instances in session
    # mode (100 server connections each); PostgreSQL gets 200 x 1.25 + 20 reserved.
    prod = objects_of(_committed_plan("prod"))
    pooler = one(prod, "Pooler", "kiva-db-pooler-rw")["spec"]
    assert pooler["type"] == "rw" and pooler["instances"] == 2
    assert pooler["pgbouncer"]["poolMode"] == "session"
    assert pooler["pgbouncer"]["parameters"]["default_pool_size"] == "100"
    assert _cluster(_committed_plan("prod"))["postgresql"]["parameters"]["max_connections"] == "270"
    # dev: 2 replicas x 1 worker x 10 = 20 connections, far below PostgreSQL's usual 100.
    assert not find(objects_of(_committed_plan("dev")), "Pooler")
    assert _cluster(_committed_plan("dev"))["postgresql"]["parameters"]["max_connections"] == "100"


def test_pod_monitor_only_with_monitoring(plan_with):
    monitored = plan_with("local", {"kiva:monitoring": {"enabled": True}})
    assert one(objects_of(monitored), "PodMonitor", "kiva-db")
    assert one(objects_of(_committed_plan("prod")), "PodMonitor", "kiva-db")
    assert not find(objects_of(_committed_plan("local")), "PodMonitor")


def test_existing_cluster_uses_declared_zones_and_untainted_nodes():
    local = stack_config("local")
    cluster = local["kiva:cluster"] | {"zones": ["a", "b"]}
    cluster["nodePools"] = [
        {"name": "workers", "nodes": 2, "cpu": "8", "memory": "16Gi", "zones": ["a", "b"]},
        {"name": "gpus", "nodes": 4, "cpu": "8", "memory": "16Gi", "gpus": 1,
         "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
    ]  # fmt: skip
    raw = {key.removeprefix("kiva:"): value for key, value in local.items() if key.startswith("kiva:")}
    raw |= {"cluster": cluster, "database": raw["database"] | {"instances": 3}}
    settings = load_settings(raw, {"backupAccessKeyId", "backupSecretAccessKey"}, "Pulumi.local.yaml")
    assert isinstance(settings.cluster, ExistingCluster)
    scheduling = declared_scheduling(settings.cluster)
    assert scheduling.zones == ("a", "b")
    assert scheduling.hosts == 2, "the tainted GPU nodes cannot run PostgreSQL"
    # 2 zones < 3 instances, and 2 nodes < 3 instances: nothing required, one per node preferred.
    foundation = SimpleNamespace(scheduling=scheduling, backup=None)
    assert affinity(database_args(settings, foundation)) == {
        "enablePodAntiAffinity": True,
        "topologyKey": "kubernetes.io/hostname",
        "podAntiAffinityType": "preferred",
    }


def test_s3_object_store_declares_its_bucket_region():
    """The region is in a Secret; the annotation is what the backup-destination policy can check."""
    store = one(objects_of(_committed_plan("local")), "ObjectStore", "kiva-db-backups")
    assert store["metadata"]["annotations"]["kiva.platform/region"] == "eu-de"
