"""S3 region names collide across providers: the endpoint decides which provider's table is read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kiva_policies.regions import S3_REGIONS, s3_location

from infra.backend.errors import BackendError
from infra.backend.region import allowed_regions, require_eu_region
from infra.backend.url import parse_s3_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("region", "endpoint", "provider", "country"),
    [
        ("eu-central-2", None, "AWS", "CH"),  # Zurich
        ("eu-central-2", "https://s3.eu-central-2.ionoscloud.com", "IONOS", "DE"),  # Berlin
        ("eu-central-2", "s3-eu-central-2.ionoscloud.com", "IONOS", "DE"),
        ("de", "https://s3-eu-central-1.ionoscloud.com", "IONOS", "DE"),  # Frankfurt
        ("eu-central-3", "https://s3.eu-central-3.ionoscloud.com", "IONOS", "DE"),
        ("eu-south-2", "https://s3-eu-south-2.ionoscloud.com", "IONOS", "ES"),  # Logroño
        ("us-central-1", "https://s3.us-central-1.ionoscloud.com", "IONOS", "US"),  # Lenexa
        ("eu01", "https://object.storage.eu01.onstackit.cloud", "STACKIT", "DE"),
        ("eu-de", "https://obs.eu-de.otc.t-systems.com", "Open Telekom Cloud", "DE"),
        ("eu-nl", "https://obs.eu-nl.otc.t-systems.com", "Open Telekom Cloud", "NL"),
        ("eu-central-1", "https://s3.eu-central-1.amazonaws.com", "AWS", "DE"),
        ("eu-de", "http://minio.local:9000", "", "DE"),  # unknown host: the unambiguous name
    ],
)
def test_country_depends_on_the_provider(
    region: str, endpoint: str | None, provider: str, country: str
) -> None:
    location = s3_location(region, endpoint)
    assert (location.provider, location.country, location.problem) == (provider, country, "")


def test_an_ambiguous_name_is_not_judged_without_a_known_endpoint() -> None:
    assert "eu-central-2" not in S3_REGIONS
    location = s3_location("eu-central-2", "http://minio.local:9000")
    assert location.country == ""
    assert location.problem == (
        "region 'eu-central-2' is in different countries at different providers (AWS CH, IONOS DE) and "
        "endpoint minio.local is none of them"
    )


def test_an_endpoint_of_another_region_is_refused() -> None:
    with pytest.raises(BackendError) as caught:
        require_eu_region("de", "https://s3-eu-central-2.ionoscloud.com")
    assert str(caught.value) == (
        "region 'de' is refused: endpoint s3-eu-central-2.ionoscloud.com serves IONOS region 'eu-central-2', "
        "not 'de'; allowed S3 regions (EU/EEA) here: de, eu-central-2, eu-central-3, eu-south-2"
    )


def test_backend_allows_ionos_berlin_but_not_aws_zurich() -> None:
    assert require_eu_region("eu-central-2", "https://s3.eu-central-2.ionoscloud.com") == "eu-central-2"
    with pytest.raises(BackendError) as caught:
        require_eu_region("eu-central-2", None)
    assert "its data centres at AWS are in CH" in str(caught.value)
    assert "eu-central-2" in allowed_regions("https://s3.eu-central-2.ionoscloud.com")
    assert "eu-central-2" not in allowed_regions(None)


def test_an_unknown_ionos_region_is_refused() -> None:
    with pytest.raises(BackendError) as caught:
        require_eu_region("eu-central-4", "https://s3.eu-central-4.ionoscloud.com")
    assert "'eu-central-4' is not one of the IONOS object-storage regions KIVA knows" in str(caught.value)


# --- every s3:// URL the documentation shows passes our own allow-list, with the right country -----------

#: Country each documented endpoint host (or AWS, no endpoint) stands for.
EXPECTED = {
    "s3.eu-central-2.ionoscloud.com": "DE",
    "s3-eu-central-1.ionoscloud.com": "DE",
    "object.storage.eu01.onstackit.cloud": "DE",
    "obs.eu-de.otc.t-systems.com": "DE",
    "minio.local:9000": "DE",
    None: "DE",
}
_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]+[a-z0-9](?:/[^\s'\"?`)]*)?\?[^\s'\"`)]+")


def documented_urls() -> list[tuple[str, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = []
    for path in files:
        for url in _URL.findall(path.read_text(encoding="utf-8")):
            if "BUCKET" not in url and "…" not in url:  # placeholders
                found.append((path.name, url))
    return found


def test_the_documentation_shows_s3_urls() -> None:
    assert len(documented_urls()) >= 5


@pytest.mark.parametrize(("where", "text"), documented_urls())
def test_documented_url_passes_the_allow_list_with_the_expected_country(where: str, text: str) -> None:
    url = parse_s3_url(text)
    assert url.region, f"{where}: {text} names no region"
    host = url.endpoint_url.split("://", 1)[1] if url.endpoint_url else None
    assert host in EXPECTED, f"{where}: {text}: add the expected country of {host} to EXPECTED"
    assert require_eu_region(url.region, url.endpoint_url) == url.region
    location = s3_location(url.region, url.endpoint_url)
    assert location.country == EXPECTED[host], f"{where}: {text} is in {location.country}"
