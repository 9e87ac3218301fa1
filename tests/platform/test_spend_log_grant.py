"""The spend-log metric end to end in the plan: custom-queries ConfigMap wired into the Cluster, the grant
CronJob (hardened, secrets by file), its network path, and the SpendLogCleanupBehind alert."""

from __future__ import annotations

import pytest
import yaml

from components.contracts import BackupEgress
from components.platform.monitoring.spend_log_query import CONFIG_MAP_KEY, spend_log_queries
from components.platform.network_policies import DATABASE_PODS, NetworkPoliciesArgs, policies
from components.platform.spend_log_grant import GRANT_SQL, POD_LABELS
from infra import versions
from tests.conftest import _committed_plan
from tests.platform.conftest import find, objects_of, one
from tests.policies.day_one.network_fixtures import committed, edit, messages, run

MONITORED = ("dev", "prod")


def _grant_pod(stack: str) -> dict:
    job = one(objects_of(_committed_plan(stack)), "CronJob", "kiva-spend-log-grant")
    return job["spec"]["jobTemplate"]["spec"]["template"]


@pytest.mark.parametrize("stack", MONITORED)
def test_the_custom_queries_config_map_is_wired_into_the_cluster(stack: str) -> None:
    objects = objects_of(_committed_plan(stack))
    cluster = one(objects, "Cluster", "kiva-db")["spec"]
    assert cluster["monitoring"] == {
        "customQueriesConfigMap": [{"name": "kiva-db-monitoring", "key": "queries.yaml"}]
    }
    config_map = one(objects, "ConfigMap", "kiva-db-monitoring")
    assert config_map["metadata"]["namespace"] == "kiva"  # the Cluster's namespace (CNPG requires it)
    assert config_map["metadata"]["labels"]["cnpg.io/reload"] == "true"
    assert yaml.safe_load(config_map["data"][CONFIG_MAP_KEY]) == spend_log_queries()


@pytest.mark.parametrize("stack", MONITORED)
def test_the_grant_cron_job_is_hardened_and_reads_the_password_from_a_file(stack: str) -> None:
    plan = _committed_plan(stack)
    job = one(objects_of(plan), "CronJob", "kiva-spend-log-grant")
    assert job["metadata"]["namespace"] == "kiva"
    spec = job["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("17 * * * *", "Forbid")
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 3)
    template = _grant_pod(stack)
    assert template["metadata"]["labels"].items() >= POD_LABELS.items()
    pod = template["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
    [container] = pod["containers"]
    assert container["image"] in versions.POSTGRES_IMAGES.values()
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    env = {e["name"]: e for e in container["env"]}
    assert env["PGHOST"]["value"] == "kiva-db-rw" and env["PGDATABASE"]["value"] == "litellm"
    assert "PGPASSWORD" not in env and all("valueFrom" not in e for e in env.values())
    [secret] = [v for v in pod["volumes"] if "secret" in v]
    assert secret["secret"]["secretName"] == "kiva-db-app"
    assert {i["key"] for i in secret["secret"]["items"]} == {"username", "password"}
    assert GRANT_SQL in container["command"][-1]


def test_the_cron_job_runs_the_clusters_own_image() -> None:
    objects = objects_of(_committed_plan("prod"))
    image = one(objects, "Cluster", "kiva-db")["spec"]["imageName"]
    assert _grant_pod("prod")["spec"]["containers"][0]["image"] == image


def test_without_monitoring_there_is_no_query_no_grant_and_no_path() -> None:
    objects = objects_of(_committed_plan("local"))
    assert "monitoring" not in one(objects, "Cluster", "kiva-db")["spec"]
    assert find(objects, "CronJob") == []
    assert find(objects, "ConfigMap", "kiva-db-monitoring") == []
    assert find(objects, "NetworkPolicy", "kiva-spend-log-grant") == []
    specs = policies(NetworkPoliciesArgs(client_namespaces=(), backup=_backup(), monitoring=False))
    assert "spend-log-grant" not in specs


def _backup() -> BackupEgress:
    return BackupEgress(port=443)


def test_the_grant_pods_reach_only_the_instances_on_5432_and_the_instances_admit_them() -> None:
    specs = policies(NetworkPoliciesArgs(client_namespaces=(), backup=_backup(), monitoring=True))
    grant = specs["spend-log-grant"]
    assert grant.pod_selector.match_labels == POD_LABELS
    assert grant.policy_types == ["Egress"]
    [rule] = grant.egress
    assert rule.to[0].pod_selector.match_labels == DATABASE_PODS
    assert [(p.port, p.protocol) for p in rule.ports] == [(5432, "TCP")]
    admitted = [
        r
        for r in specs["database"].ingress
        if any(p.pod_selector and p.pod_selector.match_labels == POD_LABELS for p in r.from_)
    ]
    assert [[(p.port, p.protocol) for p in r.ports] for r in admitted] == [[(5432, "TCP")]]


@pytest.mark.parametrize("stack", MONITORED)
def test_the_alert_is_on_with_monitoring(stack: str) -> None:
    rules = one(objects_of(_committed_plan(stack)), "PrometheusRule", "kiva-alerts")["spec"]["groups"]
    names = {rule.get("alert") for group in rules for rule in group["rules"]}
    assert "SpendLogCleanupBehind" in names


def test_the_flow_check_knows_the_grant_and_blocks_it_without_its_rule() -> None:
    """The policy pack derives the flow from the CronJob's `PGHOST` (flows.libpq_clients)."""
    required = "kiva-network-required-flows-allowed"
    assert run(committed("dev"), required).findings == []
    resources = edit(
        committed("dev"),
        "kiva-network-policies-database",
        lambda p: p["spec"].update(
            ingress=[r for r in p["spec"]["ingress"] if "spend-log-grant" not in str(r)]
        ),
    )
    found = [m for m in messages(run(resources, required)) if "kiva-spend-log-grant" in m]
    assert found and "kiva/kiva-db-1 (primary):5432" in found[0], found
