"""Where data may live: EU/EEA jurisdictions and the provider regions KIVA knows.

One module serves the configuration model (zone support, region → country), the policy pack
(data-residency allow-list) and `kiva backend` (which S3 regions may hold state). A region that is
not listed here is unknown, and unknown regions are never treated as EU. Object-storage regions are
kept per provider (`S3_PROVIDERS`), because providers reuse each other's region names.
"""

from __future__ import annotations

import re
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

#: S3 region names collide across providers (AWS `eu-central-2` is Zurich, IONOS `eu-central-2` is Berlin),
#: so object-storage regions are kept per provider and found through the endpoint host (`s3_location`).
#: Sources: AWS, botocore `endpoints.json` and the AWS region list; IONOS, docs.ionos.com "Object Storage →
#: Buckets → Bucket region" (Berlin `eu-central-2`/`eu-central-3`, Frankfurt `de`, Logroño `eu-south-2`,
#: Lenexa `us-central-1`) and its endpoint table (`s3-eu-central-1.ionoscloud.com` is Frankfurt, region `de`),
#: also rclone `backend/s3/provider/IONOS.yaml`; STACKIT, the STACKIT Terraform provider's S3 backend
#: example (`object.storage.eu01.onstackit.cloud`, region `eu01`, Germany); Open Telekom Cloud,
#: opentelekomcloud-docs/regions-and-endpoints (OBS `obs.eu-de.otc.t-systems.com`, `obs.eu-nl…`).
#: IONOS `eu-central-4` is left out: its location was not found in IONOS's documentation.


@dataclass(frozen=True)
class S3Provider:
    """One object-storage provider: its endpoint host suffixes, regions and documented endpoint hosts."""

    name: str
    host_suffixes: tuple[str, ...]
    regions: dict[str, Region]
    endpoints: dict[str, str]
    """Documented endpoint host → the region it serves (`s3-eu-central-1.ionoscloud.com` → `de`)."""


AWS_S3 = S3Provider(
    "AWS",
    (".amazonaws.com",),
    _regions(
        ("eu-central-1", "DE", True),  # Frankfurt
        ("eu-central-2", "CH", True),  # Zurich (not EEA)
        ("eu-west-1", "IE", True),
        ("eu-west-2", "GB", True),
        ("eu-west-3", "FR", True),
        ("eu-north-1", "SE", True),
        ("eu-south-1", "IT", True),
        ("eu-south-2", "ES", True),
        ("us-east-1", "US", True),
        ("us-west-2", "US", True),
    ),
    {},
)
IONOS_S3 = S3Provider(
    "IONOS",
    (".ionoscloud.com", ".profitbricks.com"),
    _regions(
        ("de", "DE", False),  # Frankfurt
        ("eu-central-2", "DE", False),  # Berlin
        ("eu-central-3", "DE", False),  # Berlin (contract-owned buckets)
        ("eu-south-2", "ES", False),  # Logroño
        ("us-central-1", "US", False),  # Lenexa
    ),
    {
        "s3-eu-central-1.ionoscloud.com": "de",
        "s3.eu-central-1.ionoscloud.com": "de",
        "s3-de-central.profitbricks.com": "de",
        "s3-eu-central-2.ionoscloud.com": "eu-central-2",
        "s3.eu-central-2.ionoscloud.com": "eu-central-2",
        "s3.eu-central-3.ionoscloud.com": "eu-central-3",
        "s3-eu-south-2.ionoscloud.com": "eu-south-2",
        "s3.eu-south-2.ionoscloud.com": "eu-south-2",
        "s3.us-central-1.ionoscloud.com": "us-central-1",
    },
)
STACKIT_S3 = S3Provider(
    "STACKIT",
    (".onstackit.cloud",),
    _regions(("eu01", "DE", True)),
    {"object.storage.eu01.onstackit.cloud": "eu01"},
)
OTC_S3 = S3Provider(
    "Open Telekom Cloud",
    (".otc.t-systems.com",),
    _regions(("eu-de", "DE", True), ("eu-nl", "NL", True)),
    {"obs.eu-de.otc.t-systems.com": "eu-de", "obs.eu-nl.otc.t-systems.com": "eu-nl"},
)
S3_PROVIDERS: tuple[S3Provider, ...] = (AWS_S3, IONOS_S3, STACKIT_S3, OTC_S3)


def _unambiguous(providers: tuple[S3Provider, ...]) -> dict[str, Region]:
    countries: dict[str, set[str]] = {}
    for provider in providers:
        for name, region in provider.regions.items():
            countries.setdefault(name, set()).add(region.country)
    merged: dict[str, Region] = {}
    for provider in providers:
        for name, region in provider.regions.items():
            if len(countries[name]) == 1:
                merged.setdefault(name, region)
    return merged


#: S3 region names whose country is the same at every provider that uses the name: what a bare name
#: (no endpoint, or a self-hosted store such as MinIO) can be judged by. `eu-central-2` is not here.
S3_REGIONS: dict[str, Region] = _unambiguous(S3_PROVIDERS)


@dataclass(frozen=True)
class S3Location:
    """Where an object-storage region is, as far as the endpoint and the region name tell."""

    region: str
    provider: str
    """The provider the endpoint belongs to, or `""` when the endpoint is no provider KIVA knows."""
    country: str
    """ISO country code, or `""` when it cannot be told."""
    problem: str = ""
    """Why the country cannot be told (unknown or ambiguous region, endpoint of another region)."""


#: AWS S3 endpoint hosts name their region: `s3.eu-central-1.amazonaws.com`, `s3-eu-west-1.amazonaws.com`.
_AWS_HOST = re.compile(r"(?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$")


def s3_provider(host: str | None) -> S3Provider | None:
    """The provider of an endpoint host; `None` (no endpoint) is AWS; an unknown host gives `None`."""
    if not host:
        return AWS_S3
    host = host.lower().rstrip(".")
    for provider in S3_PROVIDERS:
        if any(host.endswith(suffix) or host == suffix.lstrip(".") for suffix in provider.host_suffixes):
            return provider
    return None


def _host(endpoint: str | None) -> str | None:
    """The host of an endpoint given as a URL (`https://h:443/`) or as `host[:port]`."""
    if not endpoint:
        return None
    rest = endpoint.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0].lower() or None


def s3_location(region: str, endpoint: str | None) -> S3Location:
    """The country of `region` at `endpoint` (`None`: AWS itself).

    The endpoint's host decides the provider; a documented endpoint host must serve the region given
    (IONOS `s3-eu-central-1.ionoscloud.com` serves `de`). For a host of no known provider (MinIO,
    on-premises) only a region name with the same country at every provider counts.
    """
    host = _host(endpoint)
    provider = s3_provider(host)
    if provider is None:
        return s3_location_by_name(region, f"endpoint {host} is none of them")
    served = provider.endpoints.get(host or "")
    aws = _AWS_HOST.search(host or "") if provider is AWS_S3 else None
    if aws:
        served = aws.group(1)
    if served is not None and served != region:
        return S3Location(
            region,
            provider.name,
            "",
            f"endpoint {host} serves {provider.name} region {served!r}, not {region!r}",
        )
    known = provider.regions.get(region)
    if known is None:
        return S3Location(
            region,
            provider.name,
            "",
            f"{region!r} is not one of the {provider.name} object-storage regions KIVA knows "
            f"(known: {', '.join(provider.regions)})",
        )
    return S3Location(region, provider.name, known.country)


def s3_location_by_name(region: str, why_ambiguous: str = "no endpoint says which") -> S3Location:
    """The country of a bare region name: known only when every provider using the name agrees."""
    known = S3_REGIONS.get(region)
    if known is not None:
        return S3Location(region, "", known.country)
    at = [f"{p.name} {p.regions[region].country}" for p in S3_PROVIDERS if region in p.regions]
    if at:
        return S3Location(
            region,
            "",
            "",
            f"region {region!r} is in different countries at different providers ({', '.join(at)}) and "
            f"{why_ambiguous}",
        )
    return S3Location(region, "", "", f"region {region!r} is not a region KIVA knows")


def eu_s3_regions(endpoint: str | None) -> list[str]:
    """The EU/EEA region names valid at `endpoint` (`None`: AWS; an unknown host: the unambiguous names)."""
    provider = s3_provider(_host(endpoint))
    return eu_regions(provider.regions if provider else S3_REGIONS)


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
