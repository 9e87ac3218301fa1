"""What the security review checks: retention periods, telemetry, ownership tags."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from infra.settings.base import KivaModel


class Retention(KivaModel):
    """How long anything is kept. Every value is explicit: there is no default retention."""

    log_analytics_days: int = Field(ge=30, le=730)
    """Log Analytics (AKS audit and container logs); Azure stacks only but always stated."""
    spend_logs_days: int = Field(ge=1, le=3650)
    """LiteLLM spend logs (`maximum_spend_logs_retention_period`)."""
    backup_days: int = Field(ge=1, le=3650)
    """Database backups (`ObjectStore.retentionPolicy`) and the backup storage lifecycle."""
    key_vault_soft_delete_days: int = Field(ge=7, le=90)
    """Key Vault soft-delete retention (Azure allows 7 to 90 days)."""
    blob_soft_delete_days: int = Field(ge=1, le=365)
    """Soft delete of backup blobs (Azure stacks)."""


class Telemetry(KivaModel):
    """Usage telemetry of every component. Off; switching it on needs a written justification."""

    enabled: bool = False
    """Usage telemetry on; requires `overrideJustification`."""
    override_justification: str | None = Field(None, min_length=20)
    """Who approved sending usage data, and why (at least 20 characters)."""

    @model_validator(mode="after")
    def _explicit_override(self) -> Telemetry:
        if self.enabled and not self.override_justification:
            raise ValueError(
                "telemetry stays off unless overrideJustification explains (at least 20 characters) "
                "who approved sending usage data and why"
            )
        return self


class Tags(KivaModel):
    """Tags put on every cloud resource (and as labels where Kubernetes allows)."""

    owner: str = Field(min_length=1)
    """Team or mailbox that owns the stack."""
    cost_center: str = Field(min_length=1)
    """Cost centre billed."""
    data_classification: Literal["public", "internal", "confidential", "VS-NfD"]
    """Highest classification of data processed."""
    extra: dict[str, str] = Field(default_factory=dict)
    """More tags, as given."""
