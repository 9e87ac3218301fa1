"""Which S3 regions may hold Pulumi state and backups: the policy pack's own EU allow-list."""

from __future__ import annotations

from kiva_policies.regions import S3_REGIONS, eu_regions

from infra.backend.errors import BackendError


def allowed_regions() -> list[str]:
    return eu_regions(S3_REGIONS)


def require_eu_region(region: str) -> str:
    """Return the region if it is on the EU allow-list; otherwise raise before anything is contacted."""
    allowed = allowed_regions()
    if region in allowed:
        return region
    known = S3_REGIONS.get(region)
    why = f"its data centres are in {known.country}" if known else "it is not a region KIVA knows"
    raise BackendError(
        f"region {region!r} is refused: {why}; allowed S3 regions (EU/EEA): {', '.join(allowed)}"
    )
