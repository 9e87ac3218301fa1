"""Which S3 regions may hold Pulumi state and backups: the policy pack's own EU allow-list.

Region names mean different places at different providers (AWS `eu-central-2` is Zurich, IONOS
`eu-central-2` is Berlin), so the endpoint decides which provider's table is read
(`kiva_policies.regions.s3_location`).
"""

from __future__ import annotations

from kiva_policies.regions import (
    S3_REGIONS,
    eu_regions,
    eu_s3_regions,
    is_eu,
    s3_location,
    s3_location_by_name,
)

from infra.backend.errors import BackendError

#: Marks "no endpoint known" (judge the bare name), as opposed to `None` (AWS itself).
NO_ENDPOINT = ""


def allowed_regions(endpoint_url: str | None = NO_ENDPOINT) -> list[str]:
    """EU/EEA region names valid at `endpoint_url` (`None`: AWS; `""`: names that mean one country everywhere)."""
    if endpoint_url == NO_ENDPOINT:
        return eu_regions(S3_REGIONS)
    return eu_s3_regions(endpoint_url)


def require_eu_region(region: str, endpoint_url: str | None = NO_ENDPOINT) -> str:
    """Return the region if it is on the EU allow-list at `endpoint_url`; otherwise raise before anything is contacted."""
    if endpoint_url == NO_ENDPOINT:
        location = s3_location_by_name(region, "the URL names no endpoint (add endpoint=…)")
    else:
        location = s3_location(region, endpoint_url)
    if location.country and is_eu(location.country):
        return region
    if location.country:
        at = f" at {location.provider}" if location.provider else ""
        why = f"its data centres{at} are in {location.country}"
    else:
        why = location.problem
    allowed = allowed_regions(endpoint_url)
    raise BackendError(
        f"region {region!r} is refused: {why}; allowed S3 regions (EU/EEA) here: {', '.join(allowed)}"
    )
