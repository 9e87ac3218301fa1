"""Retention: logs, spend logs, backups and deleted secrets are kept exactly as long as the rules allow.

GDPR Art. 5(1)(e) (storage limitation) sets the maximum; BSI IT-Grundschutz OPS.1.1.5 (Protokollierung),
CON.3 (Datensicherungskonzept) and CON.6 (Löschen und Vernichten) set the minimum needed for audit and
restore. Every value must be explicit: a platform default is not evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from kiva_policies.base import (
    BLINDED_SECRET,
    CNPG_CLUSTER,
    CNPG_OBJECT_STORE,
    CONFIG_MAP,
    MANDATORY,
    BlindedValueError,
    as_list,
    display_name,
    get,
    is_number,
    namespace_of,
    run_checks,
    settings,
)
from kiva_policies.litellm import litellm_config

LOG_ANALYTICS_WORKSPACE = "azure-native:operationalinsights:Workspace"
KEY_VAULT = "azure-native:keyvault:Vault"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy]|mo)\s*$")
_DAYS_PER_UNIT = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "mo": 30, "y": 365}
_CNPG_RETENTION = re.compile(r"^([1-9][0-9]*)([dwm])$")
_CNPG_DAYS = {"d": 1, "w": 7, "m": 30}


def litellm_duration_days(value: Any) -> float | None:
    """LiteLLM durations (`7d`, `24h`, `60m`, `3600s`) in days; None when not of that format."""
    if is_number(value):
        return float(value) / 86400  # a bare number is seconds
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if not match:
        return None
    return int(match.group(1)) * _DAYS_PER_UNIT[match.group(2)]


def cnpg_retention_days(value: Any) -> int | None:
    """CloudNativePG `retentionPolicy` (`XXd`, `XXw`, `XXm`, m = months ≈ 30 days) in days."""
    if not isinstance(value, str):
        return None
    match = _CNPG_RETENTION.match(value)
    return int(match.group(1)) * _CNPG_DAYS[match.group(2)] if match else None


def _number(value: Any, path: str) -> float | None:
    if value == BLINDED_SECRET:
        raise BlindedValueError(path)
    return float(value) if is_number(value) else None


# --- Log Analytics --------------------------------------------------------------------------------

LOG_ANALYTICS_SCHEMA = PolicyConfigSchema(
    properties={
        "minDays": {"type": "integer", "minimum": 4, "default": 30, "description": "Shortest log retention."},
        "maxDays": {
            "type": "integer",
            "maximum": 4383,
            "default": 90,
            "description": "Longest log retention.",
        },
    }
)


def _check_log_analytics(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LOG_ANALYTICS_WORKSPACE:
        return
    config = settings(args, LOG_ANALYTICS_SCHEMA)
    days = _number(get(args.props, "retentionInDays"), "retentionInDays")
    bounds = f"[{config['minDays']:g}, {config['maxDays']:g}]"
    if days is None:
        report(
            f"Log Analytics workspace '{args.name}' does not set `retentionInDays`; Azure's default is not "
            f"evidence. Set it from `kiva:retention.logAnalyticsDays` within {bounds} days.",
            None,
        )
    elif not config["minDays"] <= days <= config["maxDays"]:
        report(
            f"Log Analytics workspace '{args.name}' keeps logs {days:g} days, outside the allowed {bounds} "
            "days. Change `kiva:retention.logAnalyticsDays`.",
            None,
        )


log_analytics_retention = ResourceValidationPolicy(
    name="kiva-retention-log-analytics-days",
    description=(
        "Every Log Analytics workspace sets its retention explicitly, within the minimum and maximum number "
        "of days the reviewer allows."
    ),
    validate=_check_log_analytics,
    enforcement_level=MANDATORY,
    config_schema=LOG_ANALYTICS_SCHEMA,
)


# --- LiteLLM spend logs and prompt storage --------------------------------------------------------

SPEND_LOG_SCHEMA = PolicyConfigSchema(
    properties={
        "maxDays": {
            "type": "number",
            "minimum": 1,
            "default": 90,
            "description": "Longest spend-log retention.",
        },
    }
)


def _check_spend_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    document = litellm_config(args.props)
    if document is None:
        return
    max_days = settings(args, SPEND_LOG_SCHEMA)["maxDays"]
    general = document.get("general_settings") or {}
    if general.get("disable_spend_logs") is True:
        return  # nothing is written, so nothing is retained
    period = general.get("maximum_spend_logs_retention_period")
    days = litellm_duration_days(period)
    if period is None:
        report(
            f"LiteLLM config '{args.name}' sets no "
            "`general_settings.maximum_spend_logs_retention_period`, so "
            f'spend logs are kept forever. Set it (e.g. "{max_days:g}d") from '
            "`kiva:retention.spendLogsDays`.",
            None,
        )
    elif days is None:
        report(
            f"LiteLLM config '{args.name}' sets `maximum_spend_logs_retention_period` to '{period}', "
            "which is "
            "not a LiteLLM duration (7d, 24h, 60m, 3600s).",
            None,
        )
    elif days > max_days:
        report(
            f"LiteLLM config '{args.name}' keeps spend logs {days:g} days ('{period}'), "
            "more than the allowed "
            f"{max_days:g} days. Lower `kiva:retention.spendLogsDays`.",
            None,
        )


spend_log_retention = ResourceValidationPolicy(
    name="kiva-retention-litellm-spend-logs",
    description=(
        "The LiteLLM gateway deletes spend logs after a retention period that is set and no longer than the "
        "maximum the reviewer allows."
    ),
    validate=_check_spend_logs,
    enforcement_level=MANDATORY,
    config_schema=SPEND_LOG_SCHEMA,
)


def _check_prompts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    document = litellm_config(args.props)
    if document is None:
        return
    general = document.get("general_settings") or {}
    value = general.get("store_prompts_in_spend_logs")
    if value is not False:
        found = "is not set" if value is None else f"is {value!r}"
        report(
            f"LiteLLM config '{args.name}': `general_settings.store_prompts_in_spend_logs` {found}; "
            "it must be "
            "`false` so that prompts and responses are never written to the database.",
            None,
        )
    settings_ = document.get("litellm_settings") or {}
    if settings_.get("turn_off_message_logging") is False:
        report(
            f"LiteLLM config '{args.name}' sets `litellm_settings.turn_off_message_logging: false`; "
            "remove it "
            "or set it to `true` so that no callback receives prompts or responses.",
            None,
        )


prompts_not_stored = ResourceValidationPolicy(
    name="kiva-retention-prompts-not-stored",
    description=(
        "The LiteLLM gateway is configured not to store prompts and responses: "
        "`store_prompts_in_spend_logs` is explicitly false and message logging is not turned on."
    ),
    validate=_check_prompts,
    enforcement_level=MANDATORY,
)


# --- database backups -----------------------------------------------------------------------------

BACKUP_SCHEMA = PolicyConfigSchema(
    properties={
        "minDays": {
            "type": "integer",
            "minimum": 1,
            "default": 7,
            "description": "Shortest backup retention.",
        },
        "maxDays": {
            "type": "integer",
            "minimum": 1,
            "default": 30,
            "description": "Longest backup retention.",
        },
    }
)


def _check_backups(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == CNPG_OBJECT_STORE:
        value, where = get(args.props, "spec", "retentionPolicy"), "`spec.retentionPolicy`"
    elif args.resource_type == CNPG_CLUSTER and get(args.props, "spec", "backup", "barmanObjectStore"):
        value, where = get(args.props, "spec", "backup", "retentionPolicy"), "`spec.backup.retentionPolicy`"
    else:
        return
    config = settings(args, BACKUP_SCHEMA)
    bounds = f"[{config['minDays']:g}, {config['maxDays']:g}]"
    days = cnpg_retention_days(value)
    if value is None:
        report(
            f"Backup store '{args.name}' sets no {where}, so base backups and WAL are kept forever. Set it "
            f'(e.g. "{config["maxDays"]}d") from `kiva:retention.backupDays` within {bounds} days.',
            None,
        )
    elif days is None:
        report(f"Backup store '{args.name}': {where} '{value}' is not of the form XXd, XXw or XXm.", None)
    elif not config["minDays"] <= days <= config["maxDays"]:
        report(
            f"Backup store '{args.name}' keeps backups {days} days ('{value}'), outside the allowed {bounds} "
            "days. Change `kiva:retention.backupDays`.",
            None,
        )


backup_retention = ResourceValidationPolicy(
    name="kiva-retention-database-backups",
    description=(
        "Every CloudNativePG backup store (Barman Cloud ObjectStore, or an in-tree barmanObjectStore) sets a "
        "retention policy within the minimum and maximum number of days the reviewer allows."
    ),
    validate=_check_backups,
    enforcement_level=MANDATORY,
    config_schema=BACKUP_SCHEMA,
)


BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"


def _check_backups_configured(args: StackValidationArgs, report: ReportViolation) -> None:
    stores = {
        (namespace_of(r.props), str(get(r.props, "metadata", "name", default=r.name)))
        for r in args.resources
        if r.resource_type == CNPG_OBJECT_STORE
    }

    def check(resource: Any) -> None:
        if resource.resource_type != CNPG_CLUSTER:
            return
        name = display_name(resource.props, resource.name)
        if get(resource.props, "spec", "backup", "barmanObjectStore"):
            return
        plugins = [
            p
            for p in as_list(get(resource.props, "spec", "plugins"))
            if get(p, "name") == BARMAN_PLUGIN and get(p, "enabled", default=True) is not False
        ]
        store = next((get(p, "parameters", "barmanObjectName") for p in plugins), None)
        if not store:
            report(
                f"Database cluster {name} has no backup: neither `spec.backup.barmanObjectStore` nor the "
                f"`{BARMAN_PLUGIN}` plugin with `parameters.barmanObjectName`. Configure `kiva:backups`.",
                resource.urn,
            )
        elif (namespace_of(resource.props), str(store)) not in stores:
            report(
                f"Database cluster {name} archives to ObjectStore '{store}', which is not part of this "
                "stack, so its retention cannot be verified. Declare the ObjectStore with the cluster.",
                resource.urn,
            )

    run_checks([partial(check, resource) for resource in args.resources])


backups_configured = StackValidationPolicy(
    name="kiva-retention-database-backups-configured",
    description=(
        "Every CloudNativePG database cluster backs up to an object store declared in the same stack, so "
        "that its backups exist and their retention is checked."
    ),
    validate=_check_backups_configured,
    enforcement_level=MANDATORY,
)


# --- Key Vault soft delete ------------------------------------------------------------------------

KEY_VAULT_SCHEMA = PolicyConfigSchema(
    properties={
        "minSoftDeleteDays": {
            "type": "integer",
            "minimum": 7,
            "maximum": 90,
            "default": 90,
            "description": "Shortest soft-delete retention of deleted secrets (Azure allows 7 to 90).",
        },
        "requirePurgeProtection": {
            "type": "boolean",
            "default": True,
            "description": "Purge protection on: deleted secrets cannot be purged before retention ends.",
        },
    }
)


def _check_key_vault_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KEY_VAULT:
        return
    config = settings(args, KEY_VAULT_SCHEMA)
    properties = get(args.props, "properties", default={})

    def soft_delete() -> None:
        days = _number(get(properties, "softDeleteRetentionInDays"), "properties.softDeleteRetentionInDays")
        if days is None:
            report(
                f"Key Vault '{args.name}' does not set `properties.softDeleteRetentionInDays`; set it from "
                f"`kiva:retention.keyVaultSoftDeleteDays` (at least {config['minSoftDeleteDays']:g} days).",
                None,
            )
        elif days < config["minSoftDeleteDays"]:
            report(
                f"Key Vault '{args.name}' keeps deleted secrets {days:g} days, fewer than the required "
                f"{config['minSoftDeleteDays']:g}. Raise `kiva:retention.keyVaultSoftDeleteDays`.",
                None,
            )
        if get(properties, "enableSoftDelete") is False:
            report(f"Key Vault '{args.name}' sets `enableSoftDelete: false`; soft delete must stay on.", None)

    def purge_protection() -> None:
        if config["requirePurgeProtection"] and get(properties, "enablePurgeProtection") is not True:
            report(
                f"Key Vault '{args.name}' does not enable purge protection "
                "(`properties.enablePurgeProtection: true`); deleted secrets could be purged before the "
                "retention period ends.",
                None,
            )

    run_checks([soft_delete, purge_protection])


key_vault_retention = ResourceValidationPolicy(
    name="kiva-retention-key-vault-soft-delete",
    description=(
        "Every Key Vault keeps deleted secrets for at least the minimum soft-delete retention and has purge "
        "protection on, so that a deleted secret can be recovered."
    ),
    validate=_check_key_vault_retention,
    enforcement_level=MANDATORY,
    config_schema=KEY_VAULT_SCHEMA,
)


# --- blob soft delete on the backup storage -------------------------------------------------------

BLOB_SCHEMA = PolicyConfigSchema(
    properties={
        "minDays": {
            "type": "integer",
            "minimum": 1,
            "maximum": 365,
            "default": 7,
            "description": "Shortest blob soft delete.",
        },
    }
)


def _check_blob_service(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != BLOB_SERVICE:
        return
    min_days = settings(args, BLOB_SCHEMA)["minDays"]
    policy = get(args.props, "deleteRetentionPolicy", default={})
    enabled = get(policy, "enabled")
    days = _number(get(policy, "days"), "deleteRetentionPolicy.days")
    if enabled is not True:
        report(
            f"Blob service '{args.name}' does not enable blob soft delete (`deleteRetentionPolicy.enabled: "
            "true`); a deleted backup could not be recovered.",
            None,
        )
    elif days is None or days < min_days:
        found = "no `deleteRetentionPolicy.days`" if days is None else f"{days:g} days"
        report(
            f"Blob service '{args.name}' keeps deleted blobs {found}; at least {min_days:g} days are "
            "required. Set `kiva:retention.blobSoftDeleteDays`.",
            None,
        )


def _check_blob_service_present(args: StackValidationArgs, report: ReportViolation) -> None:
    accounts = [r for r in args.resources if r.resource_type == STORAGE_ACCOUNT]
    services = [r for r in args.resources if r.resource_type == BLOB_SERVICE]
    if accounts and not services:
        for account in accounts:
            report(
                f"Storage account '{account.name}' has no BlobServiceProperties resource, "
                "so blob soft delete "
                "is not configured. Add `storage.BlobServiceProperties` with `deleteRetentionPolicy`.",
                account.urn,
            )


blob_soft_delete = ResourceValidationPolicy(
    name="kiva-retention-blob-soft-delete",
    description=(
        "The blob service of the backup storage account enables soft delete for at least the minimum number "
        "of days, so that a deleted or overwritten backup can be recovered."
    ),
    validate=_check_blob_service,
    enforcement_level=MANDATORY,
    config_schema=BLOB_SCHEMA,
)

blob_soft_delete_configured = StackValidationPolicy(
    name="kiva-retention-blob-soft-delete-configured",
    description=(
        "Every stack with an Azure storage account also configures that account's blob service, so that blob "
        "soft delete cannot be forgotten."
    ),
    validate=_check_blob_service_present,
    enforcement_level=MANDATORY,
)


# --- what the report shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionValue:
    setting: str
    resource: str
    value: str


def retention_values(resources: list[tuple[str, str, Mapping[str, Any]]]) -> list[RetentionValue]:
    """Retention values in force, from `(type, name, plain props)` triples (no proxies, no raising)."""
    rows: list[RetentionValue] = []

    def text(value: Any) -> str:
        return "not set" if value is None else str(value)

    for resource_type, name, props in resources:
        try:
            if resource_type == LOG_ANALYTICS_WORKSPACE:
                rows.append(
                    RetentionValue("Log Analytics retention (days)", name, text(props.get("retentionInDays")))
                )
            elif resource_type == KEY_VAULT:
                p = props.get("properties") or {}
                rows.append(
                    RetentionValue(
                        "Key Vault soft delete (days)", name, text(p.get("softDeleteRetentionInDays"))
                    )
                )
                rows.append(
                    RetentionValue("Key Vault purge protection", name, text(p.get("enablePurgeProtection")))
                )
            elif resource_type == BLOB_SERVICE:
                p = props.get("deleteRetentionPolicy") or {}
                value = f"{p.get('days')} days" if p.get("enabled") else "off"
                rows.append(RetentionValue("Blob soft delete", name, value))
            elif resource_type == CNPG_OBJECT_STORE:
                rows.append(
                    RetentionValue(
                        "Database backups (ObjectStore)", name, text(get(props, "spec", "retentionPolicy"))
                    )
                )
            elif resource_type == CNPG_CLUSTER and get(props, "spec", "backup", "barmanObjectStore"):
                rows.append(
                    RetentionValue(
                        "Database backups (Cluster)",
                        name,
                        text(get(props, "spec", "backup", "retentionPolicy")),
                    )
                )
            elif resource_type == CONFIG_MAP:
                document = litellm_config(props)
                if document is not None:
                    general = document.get("general_settings") or {}
                    rows.append(
                        RetentionValue(
                            "LiteLLM spend logs",
                            name,
                            text(general.get("maximum_spend_logs_retention_period")),
                        )
                    )
                    rows.append(
                        RetentionValue(
                            "LiteLLM stores prompts", name, text(general.get("store_prompts_in_spend_logs"))
                        )
                    )
        except Exception:  # a blinded or malformed value: show it as such rather than fail the report
            rows.append(RetentionValue("(unreadable retention setting)", name, "not verifiable"))
    return rows


POLICIES = [
    log_analytics_retention,
    spend_log_retention,
    prompts_not_stored,
    backup_retention,
    backups_configured,
    key_vault_retention,
    blob_soft_delete,
    blob_soft_delete_configured,
]
