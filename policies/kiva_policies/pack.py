"""The policies of the KIVA pack, in report order: `policies/__main__.py` and the offline runner use it."""

from __future__ import annotations

from pulumi_policy import Policy

from kiva_policies import (
    budgets_cover_local_models,
    day_one,
    hardening,
    hardening_container_uid_high,
    hardening_images_pinned_by_digest,
    hardening_key_vault_public_access_disabled,
    hardening_no_host_access,
    hardening_service_account_token_not_mounted,
    hardening_storage_account_public_access_disabled,
    hardening_storage_account_tls12,
    hardening_tokens_as_files,
    observability_grafana_phone_home,
    observability_log_retention,
    observability_no_external_egress,
    observability_no_prompt_logging,
    redis_private,
    residency,
    retention,
    secret_references,
    teams_have_budgets,
    telemetry,
    topology,
)

PACK_NAME = "kiva"

POLICIES: list[Policy] = [
    *residency.POLICIES,
    *telemetry.POLICIES,
    *retention.POLICIES,
    *observability_grafana_phone_home.POLICIES,
    *observability_no_external_egress.POLICIES,
    *observability_no_prompt_logging.POLICIES,
    *observability_log_retention.POLICIES,
    *hardening.POLICIES,
    *hardening_key_vault_public_access_disabled.POLICIES,
    *hardening_storage_account_tls12.POLICIES,
    *hardening_storage_account_public_access_disabled.POLICIES,
    *hardening_no_host_access.POLICIES,
    *hardening_service_account_token_not_mounted.POLICIES,
    *hardening_container_uid_high.POLICIES,
    *hardening_tokens_as_files.POLICIES,
    *hardening_images_pinned_by_digest.POLICIES,
    *secret_references.POLICIES,
    *topology.POLICIES,
    *teams_have_budgets.POLICIES,
    *budgets_cover_local_models.POLICIES,
    *redis_private.POLICIES,
    *day_one.POLICIES,
]
