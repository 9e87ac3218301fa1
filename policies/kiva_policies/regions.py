"""Where data may live: EU/EEA jurisdictions and the provider regions KIVA knows.

One table serves the configuration model (zone support, region → country), the policy pack
(data-residency allow-list) and `kiva backend` (which S3 regions may hold state). A region that is
not listed here is unknown, and unknown regions are never treated as EU.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ISO 3166-1 alpha-2 codes of the EU member states and the other EEA states (IS, LI, NO).
EU_EEA_COUNTRIES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        "IS", "LI", "NO",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Region:
    """A provider region: the country its data centres are in, and whether it has availability zones."""

    name: str
    country: str
    zones: bool


def _regions(*rows: tuple[str, str, bool]) -> dict[str, Region]:
    return {name: Region(name, country, zones) for name, country, zones in rows}


#: Azure regions by ARM name. Non-EU regions are listed so that the policy can name them, not allow them.
AZURE_REGIONS: dict[str, Region] = _regions(
    ("germanywestcentral", "DE", True),
    ("germanynorth", "DE", False),
    ("westeurope", "NL", True),
    ("northeurope", "IE", True),
    ("francecentral", "FR", True),
    ("francesouth", "FR", False),
    ("swedencentral", "SE", True),
    ("swedensouth", "SE", False),
    ("norwayeast", "NO", True),
    ("norwaywest", "NO", False),
    ("polandcentral", "PL", True),
    ("italynorth", "IT", True),
    ("spaincentral", "ES", True),
    ("belgiumcentral", "BE", True),
    ("switzerlandnorth", "CH", True),
    ("uksouth", "GB", True),
    ("eastus", "US", True),
    ("westus2", "US", True),
)

#: S3-compatible object-storage regions (AWS and the European providers' own region names).
S3_REGIONS: dict[str, Region] = _regions(
    ("eu-central-1", "DE", True),  # AWS Frankfurt
    ("eu-central-2", "CH", True),  # AWS Zurich (not EEA)
    ("eu-west-1", "IE", True),
    ("eu-west-3", "FR", True),
    ("eu-north-1", "SE", True),
    ("eu-south-1", "IT", True),
    ("eu-south-2", "ES", True),
    ("eu-west-2", "GB", True),
    ("us-east-1", "US", True),
    ("us-west-2", "US", True),
    ("de", "DE", False),  # IONOS Frankfurt
    ("eu01", "DE", True),  # STACKIT
    ("eu-de", "DE", True),  # Open Telekom Cloud
    ("eu-nl", "NL", True),  # Open Telekom Cloud
)

#: Kubernetes provider regions for `existing` clusters (STACKIT SKE, IONOS, OTC CCE);
#: on-prem declares a country.
KUBERNETES_REGIONS: dict[str, Region] = _regions(
    ("eu01", "DE", True),  # STACKIT
    ("de/fra", "DE", True),  # IONOS
    ("de/txl", "DE", True),  # IONOS
    ("eu-de", "DE", True),  # Open Telekom Cloud
    ("eu-nl", "NL", True),
    ("on-prem", "", False),  # jurisdiction comes from kiva:jurisdiction
)


def is_eu(country: str) -> bool:
    return country.upper() in EU_EEA_COUNTRIES


def eu_regions(table: dict[str, Region]) -> list[str]:
    """The regions of a table whose data centres are in the EU/EEA: the default allow-list."""
    return sorted(name for name, region in table.items() if is_eu(region.country))
