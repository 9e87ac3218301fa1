"""The estimate of one plan: pick the price table from what the plan creates, then do the arithmetic.

An AKS plan is priced with `azure-<location of the ManagedCluster>.yaml`; a plan for an existing
cluster with the rate card of the provider its region belongs to (`existing-clusters.yaml`), with the
agency's own figures from `cost/<stack>.yaml` taking precedence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.cost.assumptions import load_assumptions
from infra.cost.estimate import Estimate, estimate_azure, estimate_existing
from infra.cost.inventory import read_inventory
from infra.cost.prices import PRICES_DIR, PriceError, load_azure_prices, load_existing_prices


def cost_of(
    digest: Mapping[str, Any], stack: str, project_dir: Path, prices_dir: Path = PRICES_DIR
) -> Estimate:
    """The monthly estimate of a plan. Raises `PriceError` or `CostFileError` with a user-facing message."""
    inventory = read_inventory(digest)
    assumptions, source = load_assumptions(project_dir, stack)
    if inventory.provider == "azure":
        result = estimate_azure(
            inventory, load_azure_prices(inventory.region, prices_dir), assumptions, stack
        )
    else:
        try:
            result = estimate_existing(inventory, load_existing_prices(prices_dir), assumptions, stack)
        except ValueError as error:
            raise PriceError(f"{source}: {error}") from None
    result.assumptions_file = str(source) if source else None
    return result
