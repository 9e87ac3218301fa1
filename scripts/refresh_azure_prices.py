"""Refresh `infra/cost/prices/azure-<region>.yaml` from the Azure Retail Prices API (run by a person).

The API (https://prices.azure.com/api/retail/prices, documented at
https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices) needs no
account. Per that page: `currencyCode='EUR'` returns EUR prices ("for your reference": Microsoft prices
in USD), `$filter` narrows by `armRegionName`, `serviceName`, `armSkuName`, `meterName` and `priceType`,
a response holds `Items` and a `NextPageLink` to the next page, and each item carries `retailPrice`,
`unitOfMeasure`, `currencyCode`, `armRegionName`, `armSkuName`, `meterName`, `productName`, `skuName`,
`type` (`Consumption`, `DevTestConsumption`, `Reservation`) and `isPrimaryMeterRegion`.
This script is not run in CI and `kiva cost` never calls the network: a person with network access
runs it, reviews the diff of the YAML, and commits it.

    python scripts/refresh_azure_prices.py --region germanywestcentral [--keep-missing]

What it refreshes (each price gets the exact meter's URL as source, today's date, `unverified: false`):

- `vmHour.<size>`: the Linux pay-as-you-go meter of `armSkuName eq '<size>'` (meter name without
  "Spot" or "Low Priority", product name without "Windows"); `vmSpotHour.<size>` from its "Spot" meter;
- `clusterTierHour.Standard`: the AKS meter "Standard Uptime SLA" (1 Hour);
- `disks.<sku>[].<tier>`: the meter "<tier> <LRS|ZRS> Disk" (1/Month), not "Disk Mount" or "Operations".

The meter names are the ones public pricing tools query ("NC4as T4 v3 Spot", "Standard Uptime SLA",
"P10 LRS Disk"); Microsoft's page documents the fields, not these names: a changed name shows as a
missing price. The table is rewritten by `yaml.safe_dump`: its leading comment block stays, comments
further down do not (review the diff).

Only `type: Consumption` items of the region in EUR count; Reservation and DevTest prices and
non-primary meters are ignored. The rest of the table (AKS Premium, network, Log Analytics, Key Vault,
blob, spot discount) is checked by hand (docs/cost.md). If a size, tier or disk has no such meter, the
script names each key path and exits 1 without writing, unless `--keep-missing` keeps those prices as
they are (still unverified). An HTTP or network error exits 1 with the URL; a missing table exits 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from infra.cost.prices import PriceError, parse_azure_prices

API = "https://prices.azure.com/api/retail/prices"
PRICES_DIR = Path(__file__).resolve().parent.parent / "infra" / "cost" / "prices"
#: The page limit guards against a NextPageLink that loops; a filtered query returns a few pages at most.
MAX_PAGES = 50

Fetch = Callable[[str], Any]


class RefreshError(Exception):
    """The API could not be read or did not return a needed meter; `str()` is the user-facing message."""


def fetch_json(url: str) -> Any:
    """GET `url` and decode its JSON body; HTTP, network and JSON errors become a RefreshError."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise RefreshError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise RefreshError(f"{url}: cannot reach the API ({error.reason})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RefreshError(f"{url}: the response is not JSON ({error})") from None


def query_url(api: str, filter_: str) -> str:
    return f"{api}?currencyCode='EUR'&$filter={urllib.parse.quote(filter_)}"


def items(api: str, filter_: str, fetch: Fetch) -> Iterator[dict[str, Any]]:
    """Every item of a filtered query, following NextPageLink page by page."""
    url: str | None = query_url(api, filter_)
    for _ in range(MAX_PAGES):
        if not url:
            return
        page = fetch(url)
        if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
            raise RefreshError(
                f'{url}: the response has no `Items` list, e.g. {{"Items": [], "NextPageLink": null}}'
            )
        yield from (item for item in page["Items"] if isinstance(item, dict))
        url = page.get("NextPageLink") or None
    raise RefreshError(f"{url}: more than {MAX_PAGES} pages; narrow the filter")


def _pay_as_you_go(item: dict[str, Any], region: str, unit: str) -> bool:
    return (
        item.get("type") == "Consumption"
        and item.get("armRegionName") == region
        and item.get("currencyCode") == "EUR"
        and item.get("unitOfMeasure") == unit
        and item.get("isPrimaryMeterRegion") is not False
        and isinstance(item.get("retailPrice"), int | float)
    )


def _one(candidates: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    prices = {c["retailPrice"] for c in candidates}
    if len(prices) > 1:
        meters = ", ".join(
            f"{c.get('meterName')} ({c.get('productName')}): {c['retailPrice']}" for c in candidates
        )
        raise RefreshError(f"{key}: several pay-as-you-go meters with different prices: {meters}")
    return candidates[0] if candidates else None


def vm_meters(
    found: list[dict[str, Any]], size: str, region: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The regular and the spot Linux pay-as-you-go meter of one VM size (either may be missing)."""
    regular, spot = [], []
    for item in found:
        meter = str(item.get("meterName", ""))
        if item.get("armSkuName") != size or not _pay_as_you_go(item, region, "1 Hour"):
            continue
        if "Windows" in str(item.get("productName", "")) or "Low Priority" in meter:
            continue
        (spot if meter.endswith(" Spot") else regular).append(item)
    return _one(regular, f"vmHour.{size}"), _one(spot, f"vmSpotHour.{size}")


def _meter(
    found: list[dict[str, Any]], meter: str, region: str, unit: str, key: str
) -> dict[str, Any] | None:
    return _one([i for i in found if i.get("meterName") == meter and _pay_as_you_go(i, region, unit)], key)


def _set(entry: dict[str, Any], item: dict[str, Any], api: str, today: datetime.date) -> None:
    source = query_url(
        api, f"meterId eq '{item.get('meterId')}' and armRegionName eq '{item['armRegionName']}'"
    )
    entry.update(
        eur=round(float(item["retailPrice"]), 6), source=source, date=today, unverified=False, reason=None
    )


def refresh(
    table: dict[str, Any], region: str, today: datetime.date, *, api: str = API, fetch: Fetch = fetch_json
) -> tuple[list[str], list[str]]:
    """Replace what the API returns in `table`; the key paths changed and the key paths not found."""
    changed: list[str] = []
    missing: list[str] = []
    base = f"armRegionName eq '{region}' and priceType eq 'Consumption'"
    for size, entry in table["vmHour"].items():
        found = list(
            items(api, f"{base} and serviceName eq 'Virtual Machines' and armSkuName eq '{size}'", fetch)
        )
        regular, spot = vm_meters(found, size, region)
        if regular is None:
            missing.append(f"vmHour.{size} (no Linux pay-as-you-go meter with armSkuName '{size}')")
        else:
            _set(entry, regular, api, today)
            changed.append(f"vmHour.{size}")
        if spot is not None:
            spot_table = table.get("vmSpotHour") or {}
            table["vmSpotHour"] = spot_table
            _set(spot_table.setdefault(size, {}), spot, api, today)
            changed.append(f"vmSpotHour.{size}")
    sla = "Standard Uptime SLA"
    found = list(
        items(api, f"{base} and serviceName eq 'Azure Kubernetes Service' and meterName eq '{sla}'", fetch)
    )
    item = _meter(found, sla, region, "1 Hour", "clusterTierHour.Standard")
    if item is None:
        missing.append(f"clusterTierHour.Standard (no meter '{sla}')")
    else:
        _set(table["clusterTierHour"]["Standard"], item, api, today)
        changed.append("clusterTierHour.Standard")
    for sku, tiers in table["disks"].items():
        redundancy = sku.rsplit("_", 1)[-1]
        for tier in tiers:
            meter = f"{tier['tier']} {redundancy} Disk"
            key = f"disks.{sku}.{tier['tier']}"
            found = list(items(api, f"{base} and serviceName eq 'Storage' and meterName eq '{meter}'", fetch))
            item = _meter(found, meter, region, "1/Month", key)
            if item is None:
                missing.append(f"{key} (no meter '{meter}')")
            else:
                _set(tier, item, api, today)
                changed.append(key)
    return changed, missing


def _leading_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line + "\n")
    return "".join(lines)


def main(
    argv: list[str] | None = None, *, fetch: Fetch = fetch_json, today: datetime.date | None = None
) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--region", default="germanywestcentral", help="ARM region name, e.g. germanywestcentral"
    )
    parser.add_argument("--api", default=API, help=f"Retail Prices API endpoint (default {API})")
    parser.add_argument("--prices-dir", type=Path, default=PRICES_DIR, help="directory of the price tables")
    parser.add_argument(
        "--keep-missing", action="store_true", help="keep prices the API does not return instead of failing"
    )
    args = parser.parse_args(argv)
    path = args.prices_dir / f"azure-{args.region}.yaml"
    if not path.is_file():
        print(
            f"error: {path} is missing: copy azure-germanywestcentral.yaml to it, set `region: {args.region}`, rerun",
            file=sys.stderr,
        )
        return 2
    text = path.read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    try:
        changed, missing = refresh(
            table, args.region, today or datetime.date.today(), api=args.api, fetch=fetch
        )
    except RefreshError as error:
        print(f"error: {error}; {path} is unchanged", file=sys.stderr)
        return 1
    if missing and not args.keep_missing:
        print(
            f"error: the API returned no price in {args.region} for: " + "; ".join(missing)
            + f". {path} is unchanged; rerun with --keep-missing to keep these prices as they are (unverified)",
            file=sys.stderr,
        )  # fmt: skip
        return 1
    try:
        parse_azure_prices(table, str(path))
    except PriceError as error:
        print(f"error: the refreshed table would not load: {error}; {path} is unchanged", file=sys.stderr)
        return 1
    for entry in missing:
        print(f"warning: kept as it was: {entry}", file=sys.stderr)
    path.write_text(
        _leading_comments(text) + yaml.safe_dump(table, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    print(f"{path}: {len(changed)} prices refreshed; review the diff, check the rest by hand, commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
