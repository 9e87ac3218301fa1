"""Refresh `infra/cost/prices/azure-<region>.yaml` from the Azure Retail Prices API (run by a person).

The API (https://prices.azure.com/api/retail/prices, documented at
https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices) needs no
account; `currencyCode='EUR'` returns EUR reference prices, `$filter` narrows by `armRegionName`,
`serviceName`, `armSkuName` and `priceType`, and `NextPageLink` pages through 100 items at a time.
This script is not run in CI and `kiva cost` never calls the network: a person with network access
runs it, reviews the diff of the YAML, and commits it.

    python scripts/refresh_azure_prices.py --region germanywestcentral

Only prices the script finds are replaced: each gets the API's meter as its source, today's date and
`unverified: false`. A price the API does not return keeps its old figure and stays as it was.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

API = "https://prices.azure.com/api/retail/prices"
PRICES_DIR = Path(__file__).resolve().parent.parent / "infra" / "cost" / "prices"


def items(filter_: str) -> Iterator[dict[str, Any]]:
    url: str | None = f"{API}?currencyCode='EUR'&$filter={urllib.parse.quote(filter_)}"
    while url:
        with urllib.request.urlopen(url, timeout=60) as response:
            page = json.load(response)
        yield from page.get("Items", [])
        url = page.get("NextPageLink")


def _set(entry: dict[str, Any], eur: float, meter: str, today: str) -> None:
    entry.update(eur=round(eur, 6), source=f"{API} ({meter})", date=today, unverified=False, reason=None)


def refresh(table: dict[str, Any], region: str, today: str) -> list[str]:
    """Replace what the API returns; the names of the prices changed."""
    changed: list[str] = []
    base = f"armRegionName eq '{region}' and priceType eq 'Consumption'"
    for size, entry in table["vmHour"].items():
        for item in items(f"{base} and serviceName eq 'Virtual Machines' and armSkuName eq '{size}'"):
            if "Windows" in item.get("productName", "") or "Low Priority" in item["meterName"]:
                continue
            if item["meterName"].endswith("Spot"):
                spot = table.setdefault("vmSpotHour", {}).setdefault(size, {})
                _set(spot, item["retailPrice"], item["meterName"], today)
                changed.append(f"vmSpotHour.{size}")
            else:
                _set(entry, item["retailPrice"], item["meterName"], today)
                changed.append(f"vmHour.{size}")
    for tier_name in ("Standard", "Premium"):
        for item in items(
            f"{base} and serviceName eq 'Azure Kubernetes Service' and skuName eq '{tier_name}'"
        ):
            if item.get("unitOfMeasure") == "1 Hour":
                _set(table["clusterTierHour"][tier_name], item["retailPrice"], item["meterName"], today)
                changed.append(f"clusterTierHour.{tier_name}")
    for sku, tiers in table["disks"].items():
        redundancy = sku.split("_")[-1]
        for tier in tiers:
            meter = f"{tier['tier']} {redundancy} Disk"
            for item in items(f"{base} and serviceName eq 'Storage' and meterName eq '{meter}'"):
                _set(tier, item["retailPrice"], meter, today)
                changed.append(f"disks.{sku}.{tier['tier']}")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="germanywestcentral")
    args = parser.parse_args()
    path = PRICES_DIR / f"azure-{args.region}.yaml"
    if not path.is_file():
        print(f"{path} is missing: copy azure-germanywestcentral.yaml to it and change `region`, then rerun",
              file=sys.stderr)  # fmt: skip
        return 2
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    changed = refresh(table, args.region, datetime.date.today().isoformat())
    header = "".join(
        line + "\n" for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")
    )
    path.write_text(header + yaml.safe_dump(table, sort_keys=False, allow_unicode=True), encoding="utf-8")
    print(f"{path}: {len(changed)} prices refreshed; review the diff, check the rest by hand, commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
