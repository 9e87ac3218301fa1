"""The one table of secrets drives validation, the store's values, the platform's Secrets and the docs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import components.existing.cluster as existing
from components.platform import common
from components.platform.assembly import required_secrets
from infra.offline.engine import run_program
from infra.settings import ConfigError, StackSettings, load_settings
from infra.settings.reference import SECRETS_END, SECRETS_START, render_secrets
from infra.settings.secrets_table import (
    DATABASE_SECRET,
    GATEWAY_SECRET,
    HUGGING_FACE_SECRET,
    REDIS_SECRET,
    TABLE,
    SecretKey,
    Source,
    secrets_of,
    stored_secrets,
)
from tests.conftest import PROJECT_DIR, stack_config, stack_file_with


def settings_with(stack: str, secrets: set[str], **overrides: Any) -> StackSettings:
    """A committed stack's settings with exactly `secrets` set as secure values."""
    secure = {key.removeprefix("kiva:") for key in stack_file_with(stack).secret_keys}
    config = {
        key.removeprefix("kiva:"): value
        for key, value in stack_config(stack).items()
        if key.startswith("kiva:") and key.removeprefix("kiva:") not in secure
    }
    config.update(overrides)
    return load_settings(config, secrets, f"Pulumi.{stack}.yaml")


BACKUP_KEYS = {"backupAccessKeyId", "backupSecretAccessKey"}
GENERATED = {"litellm-master-key", "litellm-salt-key", "database-password"}


def test_configuration_docs_secrets_table_is_generated_from_the_table():
    """docs/configuration.md lists exactly the rows of the table."""
    text = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    block = text[text.index(SECRETS_START) : text.index(SECRETS_END) + len(SECRETS_END)]
    assert block == render_secrets(), (
        "run `uv run python -m infra.settings.reference --write docs/configuration.md`"
    )
    assert all(f"`{row.name}`" in block for row in TABLE)


def test_every_row_is_complete():
    for row in TABLE:
        assert row.meaning.endswith(".") and row.readers, row.name
        assert (row.config_key is None) == (row.source is Source.GENERATED), row.name
        assert row.lands_in or not row.stored, f"{row.name} is stored but no Secret reads it"


def test_platform_secret_names_match_what_the_workloads_reference():
    """The workloads reference the Secrets by the names in `common`; the table must use the same ones."""
    assert (common.DATABASE_SECRET, common.GATEWAY_SECRET, common.HUGGING_FACE_SECRET) == (
        DATABASE_SECRET,
        GATEWAY_SECRET,
        HUGGING_FACE_SECRET,
    )


def test_a_secure_key_outside_the_table_is_rejected():
    with pytest.raises(ConfigError, match=r"kiva:someToken: unknown secret; known: backupAccessKeyId, "):
        settings_with("local", {"someToken", *BACKUP_KEYS})


def test_missing_values_are_reported_in_the_old_order():
    """A provider's key first, then the Hugging Face token; backup keys with their location."""
    with pytest.raises(ConfigError, match=r"kiva:providers\[0\]\.apiKeySecret: set the key with `pulumi"):
        settings_with("prod", set())
    with pytest.raises(ConfigError, match="kiva:models: a gated model needs `pulumi config set --secret"):
        settings_with("prod", {"azureOpenaiApiKey"})
    expected = "kiva:backups.objectStore: set `pulumi config set --secret kiva:backupSecretAccessKey …`"
    with pytest.raises(ConfigError) as caught:
        settings_with("local", {"backupAccessKeyId"})
    assert expected in str(caught.value)


def test_the_store_holds_a_set_hugging_face_token_even_without_gated_models():
    settings = settings_with("local", {"huggingFaceToken", *BACKUP_KEYS})
    assert not any(model.gated for model in settings.models)
    assert {row.name for row in stored_secrets(settings)} == {
        *GENERATED,
        "huggingface-token",
        "backup-access-key-id",
        "backup-secret-access-key",
    }


def test_backup_credentials_are_stored_only_where_backups_go_to_s3():
    """On Azure backups authenticate by workload identity: set S3 keys are allowed but not stored."""
    settings = settings_with("dev", {"huggingFaceToken", *BACKUP_KEYS})
    # dev's gateway scales to 2 replicas, so it has Redis and its generated password (local has neither).
    assert {row.name for row in stored_secrets(settings)} == {
        *GENERATED,
        "redis-password",
        "huggingface-token",
    }


def test_the_provider_row_is_expanded_once_per_provider():
    providers = stack_config("prod")["kiva:providers"]
    second = {**providers[0], "name": "second-eu", "apiKeySecret": "secondApiKey"}
    settings = settings_with(
        "prod", {"azureOpenaiApiKey", "secondApiKey", "huggingFaceToken"}, providers=[*providers, second]
    )
    rows = [row for row in secrets_of(settings) if row.source is Source.PROVIDER_CONFIG]
    assert [(row.name, row.config_key, row.required_by) for row in rows] == [
        ("provider-azure-openai-eu-api-key", "azureOpenaiApiKey", "providers[0].apiKeySecret"),
        ("provider-second-eu-api-key", "secondApiKey", "providers[1].apiKeySecret"),
    ]
    assert rows[1].lands_in[0] == SecretKey(GATEWAY_SECRET, "PROVIDER_SECOND_EU_API_KEY")


def test_secret_keys_keep_their_order():
    """`ExternalSecret.spec.data` is a list: the table's row order must give the old key order."""
    settings = settings_with("prod", {"azureOpenaiApiKey", "huggingFaceToken"})
    no_backup_secret = SimpleNamespace(backup=SimpleNamespace(credentials=None))
    specs = required_secrets(settings, no_backup_secret)  # type: ignore[arg-type]
    assert [spec.name for spec in specs] == [
        DATABASE_SECRET,
        GATEWAY_SECRET,
        HUGGING_FACE_SECRET,
        REDIS_SECRET,
    ]
    # The Redis password (a newer row) comes after every older key.
    assert list(specs[1].keys.items()) == [
        ("LITELLM_MASTER_KEY", "litellm-master-key"),
        ("LITELLM_SALT_KEY", "litellm-salt-key"),
        ("password", "database-password"),
        ("PROVIDER_AZURE_OPENAI_EU_API_KEY", "provider-azure-openai-eu-api-key"),
        ("REDIS_PASSWORD", "redis-password"),
    ]


def test_inline_secrets_have_no_second_source():
    """Regression: a value the cloud layer does not hand over is an error, not read from config again.

    `PlatformSecrets` used to fall back to secure `kiva:` config (`config_fallbacks`) for the Hugging
    Face token, the backup keys and the provider keys. The existing-cluster foundation always passed
    all of them (validation requires each one it needs), so the path never ran; it would only have
    hidden a cloud layer that forgot a value.
    """
    original = existing.platform_secret_values
    patch = pytest.MonkeyPatch()
    patch.setattr(
        existing,
        "platform_secret_values",
        lambda *args: {k: v for k, v in original(*args).items() if k != "backup-access-key-id"},
    )
    try:
        with pytest.raises(Exception, match="no value for the secret 'backup-access-key-id'"):
            run_program(stack_file_with("local"))
    finally:
        patch.undo()
