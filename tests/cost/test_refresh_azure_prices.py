"""scripts/refresh_azure_prices.py against a local double of the Azure Retail Prices API on 127.0.0.1.

The double serves the response shape Microsoft documents
(https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices): a page holds
`Items` and `NextPageLink`; an item has `currencyCode`, `retailPrice`, `unitOfMeasure`, `armRegionName`,
`armSkuName`, `meterName`, `meterId`, `productName`, `skuName`, `type` (Consumption, DevTestConsumption,
Reservation) and `isPrimaryMeterRegion`. It answers the `$filter` subset the script sends (`field eq
'value'` joined by `and`; it ignores `priceType` so that the script's own check of `type` is what
drops Reservation and DevTest items) and splits every answer into pages of two items, so each query follows at
least one NextPageLink. Meter names follow the API's patterns: "NC4as T4 v3", "NC4as T4 v3 Spot",
"NC4as T4 v3 Low Priority" in "Virtual Machines NCasT4 v3 Series" and "... Series Windows"; "P10 LRS
Disk" next to "P10 LRS Disk Mount"; AKS "Standard Uptime SLA".

What these tests cannot prove: that the live API still returns these meter names and fields, that
every size in the table is offered in germanywestcentral, or any EUR figure. The prices below are
made up (distinct per meter so that a wrong pick shows); only a run against the live API, reviewed by
a person, verifies a price (docs/cost.md, "Refreshing Azure prices").
"""

from __future__ import annotations

import datetime
import json
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cost.prices import PRICES_DIR, parse_azure_prices
from scripts.refresh_azure_prices import main

REGION = "germanywestcentral"
TODAY = datetime.date(2026, 11, 27)
SHIPPED = yaml.safe_load((PRICES_DIR / f"azure-{REGION}.yaml").read_text(encoding="utf-8"))
PAGE_SIZE = 2


def _item(meter: str, price: float, **fields: Any) -> dict[str, Any]:
    return {
        "currencyCode": "EUR",
        "tierMinimumUnits": 0.0,
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": REGION,
        "location": "DE West Central",
        "effectiveStartDate": "2026-11-01T00:00:00Z",
        "meterId": f"id-{meter.lower().replace(' ', '-')}-{price}",
        "meterName": meter,
        "productName": "",
        "skuName": meter,
        "serviceName": "Virtual Machines",
        "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": "",
        **fields,
    }


def _vm(size: str, meter: str, price: float, product: str, **fields: Any) -> dict[str, Any]:
    return _item(meter, price, armSkuName=size, productName=product, **fields)


def catalogue() -> list[dict[str, Any]]:
    """Every meter the shipped table needs, with a regular price of 1.0 + index/100 per VM size."""
    result: list[dict[str, Any]] = []
    for index, size in enumerate(SHIPPED["vmHour"]):
        meter = size.removeprefix("Standard_").replace("_", " ")
        result.append(_vm(size, meter, round(1 + index / 100, 4), "Virtual Machines Test Series"))
    t4, product = "Standard_NC4as_T4_v3", "Virtual Machines NCasT4 v3 Series"
    result += [
        _vm(t4, "NC4as T4 v3", 9.99, f"{product} Windows"),  # Windows licence included
        _vm(t4, "NC4as T4 v3 Spot", 0.1234, product),  # the spot price to pick
        _vm(t4, "NC4as T4 v3 Spot", 0.5555, f"{product} Windows"),
        _vm(t4, "NC4as T4 v3 Low Priority", 0.0777, product),
        _vm(t4, "NC4as T4 v3", 2222.0, product, type="Reservation", reservationTerm="1 Year"),
        _vm(t4, "NC4as T4 v3", 0.3333, product, type="DevTestConsumption"),
        _vm(t4, "NC4as T4 v3", 8.88, product, isPrimaryMeterRegion=False),
        _vm(t4, "NC4as T4 v3", 7.77, product, armRegionName="westeurope"),
    ]
    aks = {"serviceName": "Azure Kubernetes Service", "productName": "Azure Kubernetes Service"}
    result += [
        _item("Standard Uptime SLA", 0.0876, skuName="Standard", **aks),
        _item("Standard Long Term Support", 0.5, skuName="Standard", **aks),
    ]
    for sku, tiers in SHIPPED["disks"].items():
        redundancy = sku.rsplit("_", 1)[-1]
        product = "Premium SSD Managed Disks" if sku.startswith("Premium") else "Standard SSD Managed Disks"
        for index, tier in enumerate(tiers):
            disk = {"serviceName": "Storage", "productName": product, "unitOfMeasure": "1/Month"}
            result += [
                _item(f"{tier['tier']} {redundancy} Disk", 10 + index, **disk),
                _item(f"{tier['tier']} {redundancy} Disk Mount", 0.5, **disk),
            ]
    return result


def _matches(item: dict[str, Any], filter_: str) -> bool:
    for clause in filter_.split(" and "):
        field, op, value = clause.split(" ", 2)
        assert op == "eq" and value.startswith("'") and value.endswith("'"), clause
        if field == "priceType":
            continue  # ignored on purpose: the script's own check must drop Reservation and DevTest items
        if item.get(field) != value[1:-1]:
            return False
    return True


class PricesDouble:
    """The documented API shape, served from a list of items; records every request."""

    def __init__(self, meters: list[dict[str, Any]], *, status: int = 200) -> None:
        self.meters, self.status, self.requests = meters, status, []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                double.requests.append(self.path)
                if double.status != 200:
                    self.send_error(double.status, "Service Unavailable")
                    return
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                found = [i for i in double.meters if _matches(i, query["$filter"][0])]
                skip = int(query.get("$skip", ["0"])[0])
                more = skip + PAGE_SIZE < len(found)
                body = {
                    "BillingCurrency": "EUR",
                    "CustomerEntityId": "Default",
                    "CustomerEntityType": "Retail",
                    "Items": found[skip : skip + PAGE_SIZE],
                    "NextPageLink": f"{double.url}?{urllib.parse.urlencode({**{k: v[0] for k, v in query.items()}, '$skip': skip + PAGE_SIZE})}"
                    if more
                    else None,
                    "Count": len(found[skip : skip + PAGE_SIZE]),
                }
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/retail/prices"


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[PricesDouble] = []

    def start(meters: list[dict[str, Any]], status: int = 200) -> PricesDouble:
        double = PricesDouble(meters, status=status)
        threading.Thread(target=double.server.serve_forever, daemon=True).start()
        started.append(double)
        return double

    yield start
    for double in started:
        double.server.shutdown()
        double.server.server_close()


@pytest.fixture
def prices_dir(tmp_path: Path) -> Path:
    shutil.copy(PRICES_DIR / f"azure-{REGION}.yaml", tmp_path)
    return tmp_path


def _run(double: PricesDouble, prices_dir: Path, *extra: str) -> int:
    return main(
        ["--region", REGION, "--api", double.url, "--prices-dir", str(prices_dir), *extra], today=TODAY
    )


def test_picks_the_linux_pay_as_you_go_meters_and_writes_source_and_date(serve, prices_dir: Path, capsys):
    double = serve(catalogue())
    assert _run(double, prices_dir) == 0
    path = prices_dir / f"azure-{REGION}.yaml"
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    parse_azure_prices(table, str(path))  # the written table loads
    t4 = table["vmHour"]["Standard_NC4as_T4_v3"]
    index = list(SHIPPED["vmHour"]).index("Standard_NC4as_T4_v3")
    # Not Windows (9.99), not Reservation (2222), DevTest (0.3333), non-primary (8.88) or westeurope (7.77).
    assert t4["eur"] == round(1 + index / 100, 4)
    assert t4["unverified"] is False and t4["reason"] is None and t4["date"] == TODAY
    assert t4["source"] == (
        f"{double.url}?currencyCode='EUR'&$filter="
        + urllib.parse.quote(f"meterId eq 'id-nc4as-t4-v3-{t4['eur']}' and armRegionName eq '{REGION}'")
    )
    # Spot from the Linux "Spot" meter (not Windows 0.5555, not Low Priority 0.0777); others have none.
    assert list(table["vmSpotHour"]) == ["Standard_NC4as_T4_v3"]
    assert table["vmSpotHour"]["Standard_NC4as_T4_v3"]["eur"] == 0.1234
    assert table["clusterTierHour"]["Standard"]["eur"] == 0.0876
    assert table["clusterTierHour"]["Premium"] == SHIPPED["clusterTierHour"]["Premium"], "checked by hand"
    p10 = next(t for t in table["disks"]["Premium_LRS"] if t["tier"] == "P10")
    assert p10["eur"] == 15 and p10["unverified"] is False, "P10 LRS Disk, not its Disk Mount meter (0.5)"
    assert table["network"] == SHIPPED["network"] and table["blobGbMonth"] == SHIPPED["blobGbMonth"]
    # Every query asks for EUR, Consumption in the region, and paging was followed.
    queries = [urllib.parse.unquote_plus(r) for r in double.requests]
    assert all("currencyCode='EUR'" in q and f"armRegionName eq '{REGION}'" in q for q in queries)
    assert all("priceType eq 'Consumption'" in q for q in queries)
    assert any("$skip=2" in q for q in queries), "NextPageLink followed"
    assert path.read_text(encoding="utf-8").startswith("# Azure retail prices for germanywestcentral")
    assert "prices refreshed" in capsys.readouterr().out


def test_a_missing_sku_names_the_key_path_exits_1_and_writes_nothing(serve, prices_dir: Path, capsys):
    meters = [m for m in catalogue() if m["armSkuName"] != "Standard_NC40ads_H100_v5"]
    path = prices_dir / f"azure-{REGION}.yaml"
    before = path.read_text(encoding="utf-8")
    assert _run(serve(meters), prices_dir) == 1
    assert path.read_text(encoding="utf-8") == before
    assert capsys.readouterr().err == (
        "error: the API returned no price in germanywestcentral for: vmHour.Standard_NC40ads_H100_v5 (no Linux "
        "pay-as-you-go meter with armSkuName 'Standard_NC40ads_H100_v5'). "
        f"{path} is unchanged; rerun with --keep-missing to keep these prices as they are (unverified)\n"
    )


def test_keep_missing_keeps_the_old_unverified_price(serve, prices_dir: Path, capsys):
    meters = [m for m in catalogue() if m["armSkuName"] != "Standard_NC40ads_H100_v5"]
    assert _run(serve(meters), prices_dir, "--keep-missing") == 0
    table = yaml.safe_load((prices_dir / f"azure-{REGION}.yaml").read_text(encoding="utf-8"))
    assert table["vmHour"]["Standard_NC40ads_H100_v5"] == SHIPPED["vmHour"]["Standard_NC40ads_H100_v5"]
    assert table["vmHour"]["Standard_D4ds_v5"]["unverified"] is False
    assert "warning: kept as it was: vmHour.Standard_NC40ads_H100_v5" in capsys.readouterr().err


def test_an_http_error_names_the_url_exits_1_and_writes_nothing(serve, prices_dir: Path, capsys):
    path = prices_dir / f"azure-{REGION}.yaml"
    before = path.read_text(encoding="utf-8")
    double = serve(catalogue(), status=503)
    assert _run(double, prices_dir) == 1
    assert path.read_text(encoding="utf-8") == before
    err = capsys.readouterr().err
    assert err.startswith(f"error: {double.url}?currencyCode='EUR'&$filter=") and err.endswith(
        f": HTTP 503 Service Unavailable; {path} is unchanged\n"
    )


def test_two_linux_meters_with_different_prices_are_ambiguous(serve, prices_dir: Path, capsys):
    meters = [*catalogue(), _vm("Standard_D2ds_v5", "D2ds v5", 4.2, "Virtual Machines Dv5 Series")]
    assert _run(serve(meters), prices_dir) == 1
    assert (
        "vmHour.Standard_D2ds_v5: several pay-as-you-go meters with different prices"
        in capsys.readouterr().err
    )


def test_a_region_without_a_table_is_a_usage_error(prices_dir: Path, capsys):
    assert main(["--region", "swedencentral", "--prices-dir", str(prices_dir)]) == 2
    assert capsys.readouterr().err == (
        f"error: {prices_dir / 'azure-swedencentral.yaml'} is missing: copy azure-germanywestcentral.yaml to it, "
        "set `region: swedencentral`, rerun\n"
    )
