"""Price tables: YAML data in `infra/cost/prices/`, loaded and checked with pydantic.

Prices are data, not code, so that a person can refresh them (`scripts/refresh_azure_prices.py` for
Azure) and a reviewer can see where each figure comes from: every price carries its source and the
date it was recorded, and a figure nobody could check is marked `unverified: true` with the reason.
Nothing here reaches the network: `kiva cost` reads only these files.
"""

from __future__ import annotations

import datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

PRICES_DIR = Path(__file__).parent / "prices"
EXISTING_TABLE = "existing-clusters.yaml"


class PriceError(Exception):
    """A price table is missing or malformed; `str()` is the complete, user-facing message."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Price(_Model):
    """One figure in EUR with where it comes from."""

    eur: float = Field(ge=0)
    source: str = Field(min_length=1)
    date: datetime.date
    unverified: bool = False
    reason: str | None = None

    @model_validator(mode="after")
    def _reason_for_unverified(self) -> Price:
        if self.unverified and not self.reason:
            raise ValueError(
                "an unverified price needs a reason, e.g. reason: figure not found for the region"
            )
        return self


class DiskTier(Price):
    """A managed-disk size tier (Azure bills a disk at the smallest tier that holds it)."""

    tier: str
    max_gi_b: int = Field(gt=0, alias="maxGiB")


class AzureNetwork(_Model):
    load_balancer_hour: Price
    public_ip_hour: Price
    private_endpoint_hour: Price
    private_dns_zone_month: Price


class LogAnalytics(_Model):
    ingestion_gb: Price
    retention_gb_month: Price
    included_retention_days: int = Field(ge=0)


class KeyVault(_Model):
    ten_thousand_operations: Price


class AzurePrices(_Model):
    """Retail prices of one Azure region (`azure-<region>.yaml`)."""

    provider: Literal["azure"]
    region: str
    currency: Literal["EUR"]
    hours_per_month: float = Field(gt=0)
    vm_hour: dict[str, Price]
    spot_discount: Price
    vm_spot_hour: dict[str, Price] = {}
    cluster_tier_hour: dict[str, Price]
    disks: dict[str, list[DiskTier]]
    storage_classes: dict[str, str]
    default_storage_class: str
    os_disk_sku: str
    network: AzureNetwork
    log_analytics: LogAnalytics
    key_vault: KeyVault
    blob_gb_month: dict[str, Price]

    @model_validator(mode="after")
    def _consistent(self) -> AzurePrices:
        if self.spot_discount.eur >= 1:
            raise ValueError("spotDiscount.eur is the fraction saved, below 1, e.g. eur: 0.7")
        for name, sku in [*self.storage_classes.items(), ("osDiskSku", self.os_disk_sku)]:
            if sku not in self.disks:
                raise ValueError(f"storage class {name} maps to {sku!r}, which disks does not list")
        for sku, tiers in self.disks.items():
            sizes = [t.max_gi_b for t in tiers]
            if sizes != sorted(sizes) or not sizes:
                raise ValueError(
                    f"disks.{sku}: tiers must be listed smallest first, e.g. P1 (4 GiB) before P2"
                )
        return self


class ExistingRates(_Model):
    """What a node, a volume and a load balancer of an existing cluster cost (the agency's contract)."""

    vcpu_hour: Price
    gib_hour: Price
    gpu_hour: Price
    cluster_hour: Price
    storage_gb_month: Price
    object_storage_gb_month: Price
    load_balancer_month: Price


class ExistingProvider(_Model):
    title: str
    regions: list[str]
    rates: ExistingRates


class ExistingPrices(_Model):
    """Rate cards for existing clusters, by provider (`existing-clusters.yaml`)."""

    currency: Literal["EUR"]
    hours_per_month: float = Field(gt=0)
    providers: dict[str, ExistingProvider]

    def provider_for(self, region: str) -> str | None:
        """The provider whose regions include `region`, if any."""
        return next((key for key, p in self.providers.items() if region in p.regions), None)


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
    )


def _read(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PriceError(f"{path}: cannot read the price table ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise PriceError(f"{path}: not valid YAML: {error}") from None


def parse_azure_prices(data: object, source: str) -> AzurePrices:
    try:
        return AzurePrices.model_validate(data)
    except ValidationError as error:
        raise PriceError(f"{source}: {_problems(error)}") from None


def parse_existing_prices(data: object, source: str) -> ExistingPrices:
    try:
        return ExistingPrices.model_validate(data)
    except ValidationError as error:
        raise PriceError(f"{source}: {_problems(error)}") from None


def azure_table_path(region: str, directory: Path = PRICES_DIR) -> Path:
    return directory / f"azure-{region}.yaml"


@cache
def load_azure_prices(region: str, directory: Path = PRICES_DIR) -> AzurePrices:
    path = azure_table_path(region, directory)
    if not path.is_file():
        known = sorted(p.stem.removeprefix("azure-") for p in directory.glob("azure-*.yaml"))
        raise PriceError(
            f"no Azure price table for region {region!r} ({path.name} is missing); tables exist for "
            f"{', '.join(known)}. Write one with `python scripts/refresh_azure_prices.py --region {region}`"
        )
    return parse_azure_prices(_read(path), str(path))


@cache
def load_existing_prices(directory: Path = PRICES_DIR) -> ExistingPrices:
    path = directory / EXISTING_TABLE
    return parse_existing_prices(_read(path), str(path))
