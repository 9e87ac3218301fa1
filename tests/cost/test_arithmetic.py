"""The estimate's arithmetic on small hand-built plans and a price table with round figures (exact euros)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from infra.cost.assumptions import Assumptions, CostFileError, load_assumptions
from infra.cost.estimate import backup_gib, estimate_azure, estimate_existing
from infra.cost.inventory import read_inventory
from infra.cost.prices import (
    PriceError,
    load_azure_prices,
    load_existing_prices,
    parse_azure_prices,
    parse_existing_prices,
)
from infra.cost.render import summary_line

SOURCE = {"source": "https://example.test/prices", "date": "2026-11-27"}


def price(eur: float, unverified: bool = False) -> dict[str, Any]:
    return {"eur": eur, **SOURCE, **({"unverified": True, "reason": "test"} if unverified else {})}


AZURE: dict[str, Any] = {
    "provider": "azure",
    "region": "testregion",
    "currency": "EUR",
    "hoursPerMonth": 100,
    "vmHour": {"Small": price(1.0), "Gpu": price(2.0, unverified=True)},
    "spotDiscount": price(0.75),
    "clusterTierHour": {"Free": price(0), "Standard": price(0.1)},
    "disks": {
        "Premium_LRS": [{"tier": "P1", "maxGiB": 32, **price(5)}, {"tier": "P2", "maxGiB": 128, **price(20)}]
    },
    "storageClasses": {"managed-csi-premium": "Premium_LRS"},
    "defaultStorageClass": "managed-csi-premium",
    "osDiskSku": "Premium_LRS",
    "network": {
        "loadBalancerHour": price(0.02),
        "publicIpHour": price(0.01),
        "privateEndpointHour": price(0.01),
        "privateDnsZoneMonth": price(0.5),
    },
    "logAnalytics": {"ingestionGb": price(3), "retentionGbMonth": price(0.1), "includedRetentionDays": 31},
    "keyVault": {"tenThousandOperations": price(0.05)},
    "blobGbMonth": {"Standard_LRS": price(0.02)},
}


def step(type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "op": "create",
        "newState": {"type": type_, "urn": f"urn::{type_}", "custom": True, "inputs": inputs},
    }


def cluster(tier: str = "Standard", **pool: Any) -> dict[str, Any]:
    profile = {"name": "system", "vmSize": "Small", "count": 1, "enableAutoScaling": True,
               "minCount": 1, "maxCount": 3, "osDiskSizeGB": 30, **pool}  # fmt: skip
    return step(
        "azure-native:containerservice:ManagedCluster",
        {"location": "testregion", "sku": {"tier": tier}, "agentPoolProfiles": [profile],
         "networkProfile": {"outboundType": "loadBalancer"}},
    )  # fmt: skip


def gpu_pool(**overrides: Any) -> dict[str, Any]:
    return step(
        "azure-native:containerservice:AgentPool",
        {"agentPoolName": "gpu", "vmSize": "Gpu", "count": 0, "enableAutoScaling": True, "minCount": 0,
         "maxCount": 2, "osDiskType": "Ephemeral", "nodeLabels": {"kiva.platform/gpu-pool": "gpu"}, **overrides},
    )  # fmt: skip


def model(replicas: int) -> dict[str, Any]:
    return step(
        "kubernetes:apps/v1:StatefulSet",
        {"metadata": {"name": "m", "labels": {"kiva.platform/model": "m"}},
         "spec": {"replicas": replicas, "template": {"spec": {"nodeSelector": {"kiva.platform/gpu-pool": "gpu"},
                  "containers": [{"resources": {"requests": {"nvidia.com/gpu": "1"}}}]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "cache"}, "spec": {"storageClassName":
                  "managed-csi-premium", "resources": {"requests": {"storage": "50Gi"}}}}]}},
    )  # fmt: skip


def azure(steps: list[dict[str, Any]], assumptions: Assumptions | None = None):
    prices = parse_azure_prices(copy.deepcopy(AZURE), "test")
    return estimate_azure(read_inventory({"steps": steps}), prices, assumptions or Assumptions(), "t")


def lines(estimate) -> dict[tuple[str, str], tuple[float, float, float]]:
    return {
        (line.component, line.item.split(" at ")[0]): (line.low, line.expected, line.high)
        for line in estimate.lines
    }


def test_cpu_pool_costs_min_nodes_expected_and_its_bounds_as_min_and_max():
    result = azure([cluster()])
    # 1–3 nodes × 1 €/h × 100 h; OS disk 30 GiB → P1 (5 €) per node.
    assert lines(result)[("node pool system", "1–3 × Small")] == (100.0, 100.0, 300.0)
    assert lines(result)[("node pool system", "OS disk 30 GiB per node (P1)")] == (5.0, 5.0, 15.0)
    assert lines(result)[("cluster", "AKS Standard tier")] == (10.0, 10.0, 10.0)
    # One outbound load balancer (0.02 €/h) and its public IP (0.01 €/h).
    assert lines(result)[("network", "1 × load balancer (Standard, outbound)")] == (2.0, 2.0, 2.0)
    assert lines(result)[("network", "1 × public IPs (outbound and LoadBalancer Services)")] == (
        1.0,
        1.0,
        1.0,
    )
    assert (result.low, result.expected, result.high) == (118.0, 118.0, 328.0)


def test_gpu_pool_expected_runs_the_nodes_the_model_pods_need_for_gpu_hours_per_day():
    result = azure([cluster(), gpu_pool(), model(replicas=1)], Assumptions(gpu_hours_per_day=12))
    # min 0 nodes, max 2; expected: 1 node needed by the model, 12 of 24 hours → 0.5 node × 2 €/h × 100 h.
    assert lines(result)[("node pool gpu", "0–2 × Gpu")] == (0.0, 100.0, 400.0)
    # Ephemeral OS disk: no disk line for the GPU pool.
    assert not [key for key in lines(result) if key[0] == "node pool gpu" and "OS disk" in key[1]]
    assert lines(result)[("model m", "1 × cache 50 GiB managed-csi-premium (Premium_LRS P2)")] == (
        20.0,
        20.0,
        20.0,
    )
    assert result.unverified == ["vmHour.Gpu"]


def test_gpu_demand_is_capped_at_max_count_and_min_nodes_always_run():
    result = azure([cluster(), gpu_pool(minCount=1, maxCount=2), model(replicas=5)])
    # expected: 1 min node + (min(5, 2) − 1) extra × 24/24 h = 2 nodes.
    assert lines(result)[("node pool gpu", "1–2 × Gpu")] == (200.0, 400.0, 400.0)


def test_spot_pool_is_priced_with_the_spot_discount():
    result = azure([cluster(), gpu_pool(scaleSetPriority="Spot", minCount=1, maxCount=1)])
    # 2 €/h × (1 − 0.75) = 0.5 €/h × 100 h.
    assert lines(result)[("node pool gpu", "1 × spot Gpu")] == (50.0, 50.0, 50.0)
    assert "spotDiscount" not in result.unverified  # the discount itself is verified in this table


def test_logs_follow_the_node_count_and_charge_retention_beyond_the_included_days():
    workspace = step("azure-native:operationalinsights:Workspace", {"retentionInDays": 61})
    result = azure([cluster(), workspace], Assumptions(log_gb_per_node_day=1))
    # 1 GB/node/day × 100/24 days × 3 €/GB, plus 1 GB/day × 30 extra days × 0.1 €/GB-month.
    low = 1 * 100 / 24 * 3 + 1 * 30 * 0.1
    high = 3 * 100 / 24 * 3 + 3 * 30 * 0.1
    key = ("logs", "Log Analytics: 1 GB per node and day, kept 61 days")
    assert lines(result)[key] == (round(low, 2), round(low, 2), round(high, 2)) == (15.5, 15.5, 46.5)


def test_backups_keep_retention_plus_soft_delete_days_of_full_backups_and_wal():
    steps = [
        cluster(),
        step("azure-native:storage:StorageAccount", {"sku": {"name": "Standard_LRS"}}),
        step("azure-native:storage:BlobServiceProperties", {"deleteRetentionPolicy": {"enabled": True, "days": 3}}),
        step("kubernetes:postgresql.cnpg.io/v1:Cluster", {"metadata": {"name": "db"}, "spec": {"instances": 2, "storage": {"size": "40Gi", "storageClass": "managed-csi-premium"}}}),
        step("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", {"spec": {"retentionPolicy": "7d"}}),
        step("kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", {"spec": {"schedule": "0 0 2 * * *"}}),
    ]  # fmt: skip
    result = azure(steps)
    # (7 + 3) days × 1 backup/day + 1 = 11 base backups of 40 GiB × 0.25, plus 10 days × 0.5 GiB WAL.
    assert backup_gib(read_inventory({"steps": steps}), Assumptions()) == 115.0
    assert lines(result)[("backups", "115 GiB in blob storage Standard_LRS")] == (2.3, 2.3, 2.3)
    # Two instances, each with its own 40 GiB volume: P2 (20 €) each.
    assert lines(result)[("database", "2 × db storage 40 GiB managed-csi-premium (Premium_LRS P2)")] == (
        40.0,
        40.0,
        40.0,
    )


def test_key_vault_operations_come_from_the_external_secrets_refresh_interval():
    secret = step(
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        {"spec": {"refreshInterval": "30m", "data": [{}, {}]}},
    )
    result = azure([cluster(), step("azure-native:keyvault:Vault", {}), secret])
    # 2 keys × 2 refreshes/h × 720 h = 2,880 operations × 0.05 € / 10,000.
    assert lines(result)[("key vault", "2,880 operations (External Secrets refreshes)")] == (0.01, 0.01, 0.01)


def test_unknown_vm_size_is_named_not_guessed():
    result = azure([cluster(vmSize="Huge")])
    assert "node pool system: no price for VM size Huge in azure-testregion.yaml; not counted" in result.notes


def namespace(pools: list[dict[str, Any]], region: str) -> dict[str, Any]:
    import json

    annotations = {"kiva.platform/node-pools": json.dumps(pools), "kiva.platform/region": region}
    return step("kubernetes:core/v1:Namespace", {"metadata": {"name": "kiva", "annotations": annotations}})


def test_existing_cluster_nodes_are_priced_per_node_hour_from_the_declared_pools(tmp_path: Path):
    table = load_existing_prices()
    pools = [{"name": "cpu", "nodes": 2, "cpu": "4", "memory": "16Gi", "gpus": 0},
             {"name": "gpu", "nodes": 1, "cpu": "8", "memory": "64Gi", "gpus": 1}]  # fmt: skip
    inventory = read_inventory({"steps": [namespace(pools, "eu01")]})
    rates = table.providers["stackit"].rates
    result = estimate_existing(inventory, table, Assumptions(), "t")
    assert result.table == "existing-clusters.yaml (stackit)"
    cpu_rate = 4 * rates.vcpu_hour.eur + 16 * rates.gib_hour.eur
    assert result.lines[0].expected == round(2 * cpu_rate * 730, 2) == 268.64
    # The agency's own node-hour price wins and uses no unverified price.
    own = Assumptions.model_validate({"existing": {"nodeHourEur": {"gpu": 3.0}}})
    gpu_line = estimate_existing(inventory, table, own, "t").lines[1]
    assert (gpu_line.expected, gpu_line.unverified) == (2190.0, frozenset())


def test_region_of_no_provider_falls_back_to_the_on_prem_card_and_says_so():
    inventory = read_inventory({"steps": [namespace([], "mars-1")]})
    result = estimate_existing(inventory, load_existing_prices(), Assumptions(), "t")
    assert result.table == "existing-clusters.yaml (on-prem)"
    assert result.notes[0].startswith("region 'mars-1' matches no provider of existing-clusters.yaml")


def test_summary_line_names_the_range_and_the_unverified_count():
    result = azure([cluster(), gpu_pool(), model(replicas=1)])
    # min: 100 nodes + 5 disk + 10 tier + 3 network + 20 cache; expected adds the GPU node 24 h (200 €);
    # max: 3 CPU nodes (300 + 15) and 2 GPU nodes (400).
    assert summary_line(result) == (
        "Cost: ~338 €/month (min 138 € – max 748 €), 1 price unverified; `kiva cost t` for details"
    )


def test_an_unverified_price_needs_a_reason():
    data = copy.deepcopy(AZURE)
    data["vmHour"]["Small"] = {"eur": 1, **SOURCE, "unverified": True}
    with pytest.raises(PriceError) as error:
        parse_azure_prices(data, "azure-testregion.yaml")
    assert str(error.value) == (
        "azure-testregion.yaml: vmHour.Small: Value error, an unverified price needs a reason, "
        "e.g. reason: figure not found for the region"
    )


def test_missing_region_table_says_how_to_write_one():
    with pytest.raises(
        PriceError,
        match=r"no Azure price table for region 'swedencentral' \(azure-swedencentral.yaml is missing\); tables exist for germanywestcentral\. Write one with `python scripts/refresh_azure_prices.py --region swedencentral`",
    ):
        load_azure_prices("swedencentral")


def test_shipped_tables_load_and_every_price_has_a_source_and_date():
    azure_table = load_azure_prices("germanywestcentral")
    assert azure_table.vm_hour["Standard_D4ds_v5"].source.startswith("https://")
    assert set(load_existing_prices().providers) == {"stackit", "ionos", "otc", "on-prem"}
    assert (
        parse_existing_prices(load_existing_prices().model_dump(by_alias=True), "x") == load_existing_prices()
    )


def test_cost_file_error_names_the_key_and_gives_an_example(tmp_path: Path):
    (tmp_path / "cost").mkdir()
    (tmp_path / "cost" / "s.yaml").write_text("gpuHoursPerDay: 30\n")
    with pytest.raises(CostFileError) as error:
        load_assumptions(tmp_path, "s")
    assert str(error.value) == (
        f"{tmp_path / 'cost' / 's.yaml'}: gpuHoursPerDay: Input should be less than or equal to 24 (got 30); "
        "e.g. gpuHoursPerDay: 10"
    )
