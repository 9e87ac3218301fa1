"""What a plan cannot say: usage figures and contract prices, from an optional `cost/<stack>.yaml`.

A plan says what would be created (VM sizes, autoscaling bounds, volume sizes, retention), not how
much it is used (log volume, database size, hours a GPU model runs) or what an existing cluster's
nodes cost under the agency's contract. Those figures live in one small file per stack beside the
stack files, not in the stack settings, so that costing never changes what `pulumi up` does. Without
the file the defaults below apply, and docs/cost.md explains each one.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

COST_DIR = "cost"


class CostFileError(Exception):
    """The stack's cost file is malformed; `str()` is the complete, user-facing message."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class DatabaseUsage(_Model):
    """How big the database is and how much WAL it writes (for backups)."""

    used_fraction: float = Field(0.25, gt=0, le=1)
    """Share of the provisioned volume (`storage.size`) the data fills: LiteLLM's spend logs grow with
    requests until `spendLogsDays` caps them, so a year-old database fills a fair part of its volume."""
    wal_gib_per_day: float = Field(0.5, ge=0)
    """WAL archived per day (the gateway's writes: spend logs, keys); kept for the backup retention."""


class ExistingCluster(_Model):
    """Contract prices for a cluster KIVA does not create."""

    provider: str | None = None
    """A key of `infra/cost/prices/existing-clusters.yaml` (stackit, ionos, otc, on-prem); default:
    the provider whose regions include the stack's `kiva:region`."""
    node_hour_eur: dict[str, float] = {}
    """EUR per node-hour by declared node pool name (`kiva:cluster.nodePools[].name`); a pool not listed
    is priced from the provider's vCPU/GiB/GPU rates."""
    storage_gb_month_eur: float | None = Field(None, ge=0)
    object_storage_gb_month_eur: float | None = Field(None, ge=0)
    cluster_hour_eur: float | None = Field(None, ge=0)


class Assumptions(_Model):
    """Usage figures an estimate needs; every field has a documented default (docs/cost.md)."""

    gpu_hours_per_day: float = Field(24, ge=0, le=24)
    """Hours a day the GPU nodes above a pool's minimum run. The planned model pods keep their nodes up
    around the clock unless someone scales them down, hence 24; an agency that scales models to zero
    outside office hours enters e.g. 10."""
    log_gb_per_node_day: float = Field(0.25, ge=0)
    """Container Insights data ingested into Log Analytics per node and day (GB)."""
    key_vault_reads_per_secret_refresh: int = Field(1, ge=1)
    """Key Vault operations per secret key and External Secrets refresh."""
    database: DatabaseUsage = DatabaseUsage()
    existing: ExistingCluster = ExistingCluster()


def cost_file(project_dir: Path, stack: str) -> Path:
    return project_dir / COST_DIR / f"{stack}.yaml"


def load_assumptions(project_dir: Path, stack: str) -> tuple[Assumptions, Path | None]:
    """The stack's assumptions and the file they came from (None: the defaults)."""
    path = cost_file(project_dir, stack)
    if not path.is_file():
        return Assumptions(), None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise CostFileError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise CostFileError(f"{path}: expected a mapping of keys, e.g. gpuHoursPerDay: 10")
    try:
        return Assumptions.model_validate(data), path
    except ValidationError as error:
        problems = []
        for e in error.errors():
            key = ".".join(str(part) for part in e["loc"])
            problems.append(f"{path}: {key}: {e['msg']} (got {e.get('input')!r}); e.g. {_example(key)}")
        raise CostFileError("\n".join(problems)) from None


_EXAMPLES = {
    "gpuHoursPerDay": "gpuHoursPerDay: 10",
    "logGbPerNodeDay": "logGbPerNodeDay: 0.5",
    "database.usedFraction": "database: {usedFraction: 0.3}",
    "database.walGibPerDay": "database: {walGibPerDay: 1}",
    "existing.nodeHourEur": "existing: {nodeHourEur: {general: 0.35}}",
    "existing.provider": "existing: {provider: stackit}",
}


def _example(key: str) -> str:
    for prefix, example in _EXAMPLES.items():
        if key.startswith(prefix):
            return example
    return "gpuHoursPerDay: 10 (docs/cost.md lists every key)"
