"""A monthly estimate from an inventory, a price table and the stack's assumptions: arithmetic only.

Every line has a minimum, an expected and a maximum figure in EUR per month (`hoursPerMonth` hours,
730 in the tables). They differ only where autoscaling makes the bill uncertain:

- an AKS pool costs `minCount` nodes at the minimum and `maxCount` nodes at the maximum;
- expected: a CPU pool runs its `minCount` nodes (the gateway and database fit there; extra nodes are
  for bursts); a GPU pool runs its `minCount` nodes around the clock plus the nodes the planned model
  pods need beyond that (replicas × GPUs ÷ GPUs per node, at most `maxCount`) for `gpuHoursPerDay`
  hours a day; spot pools at the spot price (`vmSpotHour`, else `spotDiscount` off the regular price);
- logs follow the node count of each column; everything else is the same in all three columns.

The formulas are in docs/cost.md; tests/cost pins them on small fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.cost.assumptions import Assumptions
from infra.cost.inventory import Inventory, NodePool
from infra.cost.prices import AzurePrices, ExistingPrices, Price

DAYS_PER_MONTH_HOURS = 24


@dataclass(frozen=True)
class Line:
    component: str
    item: str
    low: float
    expected: float
    high: float
    unverified: frozenset[str] = frozenset()
    """Keys of the unverified prices this line uses."""


@dataclass
class Estimate:
    stack: str
    provider: str
    region: str
    table: str
    """Which price table (and, for existing clusters, which provider card) priced it."""
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What could not be priced or was assumed, one sentence each."""
    assumptions_file: str | None = None

    @property
    def low(self) -> float:
        return round(sum(line.low for line in self.lines), 2)

    @property
    def expected(self) -> float:
        return round(sum(line.expected for line in self.lines), 2)

    @property
    def high(self) -> float:
        return round(sum(line.high for line in self.lines), 2)

    @property
    def unverified(self) -> list[str]:
        return sorted(set().union(*(line.unverified for line in self.lines)))

    def by_component(self) -> dict[str, tuple[float, float, float]]:
        totals: dict[str, tuple[float, float, float]] = {}
        for line in self.lines:
            low, expected, high = totals.get(line.component, (0.0, 0.0, 0.0))
            totals[line.component] = (low + line.low, expected + line.expected, high + line.high)
        return {key: (round(a, 2), round(b, 2), round(c, 2)) for key, (a, b, c) in totals.items()}


class _Lines:
    """Collects lines; `add` takes the prices used so that unverified ones are remembered."""

    def __init__(self, estimate: Estimate) -> None:
        self.estimate = estimate

    def add(self, component: str, item: str, figures: tuple[float, float, float], **prices: Price) -> None:
        low, expected, high = figures
        flagged = frozenset(key for key, price in prices.items() if price.unverified)
        self.estimate.lines.append(
            Line(component, item, round(low, 2), round(expected, 2), round(high, 2), flagged)
        )


def _disk_price(prices: AzurePrices, sku: str, size_gib: float) -> tuple[str, Price] | None:
    """The tier Azure bills a disk of `size_gib` at: the smallest that holds it."""
    for tier in prices.disks[sku]:
        if tier.max_gi_b >= size_gib:
            return f"disks.{sku}.{tier.tier}", tier
    return None


def _gpu_expected(pool: NodePool, demand: int, hours_per_day: float) -> float:
    extra = max(0, min(demand, pool.max_count) - pool.min_count)
    return pool.min_count + extra * hours_per_day / DAYS_PER_MONTH_HOURS


def _node_counts(
    pool: NodePool, inventory: Inventory, assumptions: Assumptions
) -> tuple[float, float, float]:
    expected = (
        _gpu_expected(pool, inventory.gpu_demand.get(pool.name, 0), assumptions.gpu_hours_per_day)
        if pool.gpu
        else float(pool.min_count)
    )
    return float(pool.min_count), expected, float(pool.max_count)


def estimate_azure(
    inventory: Inventory, prices: AzurePrices, assumptions: Assumptions, stack: str
) -> Estimate:
    hours = prices.hours_per_month
    result = Estimate(stack, "azure", inventory.region, f"azure-{prices.region}.yaml")
    out = _Lines(result)
    all_nodes = [0.0, 0.0, 0.0]
    for pool in inventory.pools:
        counts = _node_counts(pool, inventory, assumptions)
        all_nodes = [a + b for a, b in zip(all_nodes, counts, strict=True)]
        component = f"node pool {pool.name}"
        bounds = (
            f"{pool.min_count}–{pool.max_count}" if pool.min_count != pool.max_count else str(pool.min_count)
        )
        regular = prices.vm_hour.get(pool.vm_size)
        if regular is None:
            result.notes.append(
                f"{component}: no price for VM size {pool.vm_size} in {result.table}; not counted"
            )
        else:
            used: dict[str, Price] = {f"vmHour.{pool.vm_size}": regular}
            rate = regular.eur
            if pool.spot:
                spot = prices.vm_spot_hour.get(pool.vm_size)
                if spot is not None:
                    used = {f"vmSpotHour.{pool.vm_size}": spot}
                    rate = spot.eur
                else:
                    used["spotDiscount"] = prices.spot_discount
                    rate = regular.eur * (1 - prices.spot_discount.eur)
            kind = "spot " if pool.spot else ""
            out.add(
                component,
                f"{bounds} × {kind}{pool.vm_size} at {rate:.4f} €/h",
                tuple(n * rate * hours for n in counts),  # type: ignore[arg-type]
                **used,
            )
        if not pool.os_disk_ephemeral:
            disk = _disk_price(prices, prices.os_disk_sku, pool.os_disk_gib)
            if disk:
                key, price = disk
                out.add(
                    component,
                    f"OS disk {pool.os_disk_gib} GiB per node ({key.rsplit('.', 1)[-1]})",
                    tuple(n * price.eur for n in counts),  # type: ignore[arg-type]
                    **{key: price},
                )
    if inventory.cluster_tier is not None:
        tier = prices.cluster_tier_hour.get(inventory.cluster_tier)
        if tier is None:
            result.notes.append(f"cluster: no price for AKS tier {inventory.cluster_tier}; not counted")
        else:
            monthly = tier.eur * hours
            out.add(
                "cluster",
                f"AKS {inventory.cluster_tier} tier",
                (monthly, monthly, monthly),
                **{f"clusterTierHour.{inventory.cluster_tier}": tier},
            )
    _azure_network(out, inventory, prices)
    for volume in inventory.volumes:
        storage_class = volume.storage_class or prices.default_storage_class
        sku = prices.storage_classes.get(storage_class)
        disk = _disk_price(prices, sku, volume.gib) if sku else None
        if disk is None:
            result.notes.append(
                f"{volume.component}: no disk price for storage class {storage_class} ({volume.gib:g} GiB); not counted"
            )
            continue
        key, price = disk
        monthly = volume.count * price.eur
        out.add(
            volume.component,
            f"{volume.count} × {volume.name} {volume.gib:g} GiB {storage_class} ({sku} {key.rsplit('.', 1)[-1]})",
            (monthly, monthly, monthly),
            **{key: price},
        )
    if inventory.backups and inventory.blob_sku:
        blob = prices.blob_gb_month.get(inventory.blob_sku)
        if blob is None:
            result.notes.append(
                f"backups: no price for storage account SKU {inventory.blob_sku}; not counted"
            )
        else:
            stored = backup_gib(inventory, assumptions)
            monthly = stored * blob.eur
            out.add(
                "backups",
                f"{stored:g} GiB in blob storage {inventory.blob_sku}",
                (monthly,) * 3,
                **{f"blobGbMonth.{inventory.blob_sku}": blob},
            )
    if inventory.log_retention_days is not None:
        _azure_logs(out, inventory, prices, assumptions, all_nodes)
    if inventory.has_key_vault:
        operations = (
            inventory.key_vault_secret_reads_per_month * assumptions.key_vault_reads_per_secret_refresh
        )
        price = prices.key_vault.ten_thousand_operations
        monthly = operations / 10_000 * price.eur
        out.add(
            "key vault",
            f"{operations:,.0f} operations (External Secrets refreshes)",
            (monthly,) * 3,
            **{"keyVault.tenThousandOperations": price},
        )
    return result


def _azure_network(out: _Lines, inventory: Inventory, prices: AzurePrices) -> None:
    hours, network = prices.hours_per_month, prices.network
    rows = (
        (
            "load balancer (Standard, outbound)",
            inventory.load_balancers,
            "network.loadBalancerHour",
            network.load_balancer_hour,
            hours,
        ),
        (
            "public IPs (outbound and LoadBalancer Services)",
            inventory.public_ips + inventory.load_balancer_services,
            "network.publicIpHour",
            network.public_ip_hour,
            hours,
        ),
        (
            "private endpoints",
            inventory.private_endpoints,
            "network.privateEndpointHour",
            network.private_endpoint_hour,
            hours,
        ),
        (
            "private DNS zones",
            inventory.private_dns_zones,
            "network.privateDnsZoneMonth",
            network.private_dns_zone_month,
            1,
        ),
    )
    for item, count, key, price, factor in rows:
        if count:
            monthly = count * price.eur * factor
            out.add("network", f"{count} × {item}", (monthly, monthly, monthly), **{key: price})


def _azure_logs(
    out: _Lines, inventory: Inventory, prices: AzurePrices, assumptions: Assumptions, nodes: list[float]
) -> None:
    days = prices.hours_per_month / 24
    table = prices.log_analytics
    retention = inventory.log_retention_days or 0
    extra_days = max(0, retention - table.included_retention_days)
    figures = []
    for count in nodes:
        per_day = count * assumptions.log_gb_per_node_day
        ingestion = per_day * days * table.ingestion_gb.eur
        retained = per_day * extra_days * table.retention_gb_month.eur
        figures.append(ingestion + retained)
    used = {"logAnalytics.ingestionGb": table.ingestion_gb}
    if extra_days:
        used["logAnalytics.retentionGbMonth"] = table.retention_gb_month
    out.add(
        "logs",
        f"Log Analytics: {assumptions.log_gb_per_node_day:g} GB per node and day, kept {retention} days",
        tuple(figures),  # type: ignore[arg-type]
        **used,
    )


def backup_gib(inventory: Inventory, assumptions: Assumptions) -> float:
    """GiB the object store holds: base backups and WAL for the retention plus the soft-delete days.

    A base backup is `usedFraction` × the database volume (Barman Cloud writes full base backups);
    one more than the retention window holds is kept, because the oldest is needed to restore to the
    start of the window. Deleted blobs stay for the soft-delete days (Azure `deleteRetentionPolicy`).
    """
    backups = inventory.backups
    if backups is None:
        return 0.0
    kept_days = backups.retention_days + inventory.blob_soft_delete_days
    full = backups.database_gib * assumptions.database.used_fraction
    stored = (kept_days * backups.full_per_day + 1) * full + kept_days * assumptions.database.wal_gib_per_day
    return round(stored, 2)


def estimate_existing(
    inventory: Inventory, table: ExistingPrices, assumptions: Assumptions, stack: str
) -> Estimate:
    chosen = assumptions.existing.provider or table.provider_for(inventory.region)
    notes = []
    if chosen is None:
        chosen = "on-prem"
        notes.append(
            f"region {inventory.region!r} matches no provider of existing-clusters.yaml: priced with the "
            "on-prem card; set existing.provider in cost/<stack>.yaml"
        )
    if chosen not in table.providers:
        raise ValueError(
            f"existing.provider: {chosen!r} is not in existing-clusters.yaml; known: {', '.join(table.providers)}"
        )
    rates = table.providers[chosen].rates
    own = assumptions.existing
    result = Estimate(stack, "existing", inventory.region, f"existing-clusters.yaml ({chosen})", notes=notes)
    out = _Lines(result)
    hours = table.hours_per_month
    if not inventory.declared_pools:
        result.notes.append("no node pools declared (kiva:cluster.nodePools): nodes not counted")
    for pool in inventory.declared_pools:
        if pool.name in own.node_hour_eur:
            rate = own.node_hour_eur[pool.name]
            used: dict[str, Price] = {}
            how = "your price"
        else:
            rate = (
                pool.cpu * rates.vcpu_hour.eur
                + pool.memory_gib * rates.gib_hour.eur
                + pool.gpus * rates.gpu_hour.eur
            )
            used = {"rates.vcpuHour": rates.vcpu_hour, "rates.gibHour": rates.gib_hour}
            if pool.gpus:
                used["rates.gpuHour"] = rates.gpu_hour
            how = f"{pool.cpu:g} vCPU, {pool.memory_gib:g} GiB, {pool.gpus} GPU"
        monthly = pool.nodes * rate * hours
        out.add(
            f"node pool {pool.name}", f"{pool.nodes} × node at {rate:.4f} €/h ({how})", (monthly,) * 3, **used
        )
    cluster_rate = own.cluster_hour_eur if own.cluster_hour_eur is not None else rates.cluster_hour.eur
    if cluster_rate:
        monthly = cluster_rate * hours
        out.add(
            "cluster",
            "cluster management",
            (monthly,) * 3,
            **({} if own.cluster_hour_eur is not None else {"rates.clusterHour": rates.cluster_hour}),
        )
    storage = own.storage_gb_month_eur
    for volume in inventory.volumes:
        rate = storage if storage is not None else rates.storage_gb_month.eur
        monthly = volume.count * volume.gib * rate
        out.add(
            volume.component,
            f"{volume.count} × {volume.name} {volume.gib:g} GiB ({volume.storage_class or 'default class'})",
            (monthly,) * 3,
            **({} if storage is not None else {"rates.storageGbMonth": rates.storage_gb_month}),
        )
    if inventory.backups:
        stored = backup_gib(inventory, assumptions)
        own_rate = own.object_storage_gb_month_eur
        rate = own_rate if own_rate is not None else rates.object_storage_gb_month.eur
        out.add(
            "backups",
            f"{stored:g} GiB in the object store",
            (stored * rate,) * 3,
            **({} if own_rate is not None else {"rates.objectStorageGbMonth": rates.object_storage_gb_month}),
        )
    if inventory.load_balancer_services:
        monthly = inventory.load_balancer_services * rates.load_balancer_month.eur
        out.add(
            "network",
            f"{inventory.load_balancer_services} × Service of type LoadBalancer",
            (monthly,) * 3,
            **{"rates.loadBalancerMonth": rates.load_balancer_month},
        )
    return result
