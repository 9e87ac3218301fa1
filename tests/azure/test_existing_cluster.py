"""The existing-cluster path: a kubeconfig or context provider, inline secrets, S3 backups, no cloud."""

from __future__ import annotations

import asyncio

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config

from components.contracts import BACKUP_SECRET, BackupEgress, InlineSecrets, SecretName
from components.foundation import build_foundation
from infra.offline.mocks import KivaMocks
from infra.settings import load_settings
from tests.azure.helpers import is_secret, one
from tests.conftest import stack_config

PROVIDER = "pulumi:providers:kubernetes"


def test_context_provider_without_kubeconfig(plan_of):
    plan = plan_of("local")
    provider = one(plan, PROVIDER)
    assert provider.inputs["context"] == "kind-kiva"
    assert "kubeconfig" not in provider.inputs
    assert provider.inputs["clusterIdentifier"] == "local-kind-kiva"
    assert one(plan, "kiva:existing:ExistingClusterAccess").urn == provider.parent


def test_kubeconfig_from_secure_config_stays_secret(plan_with):
    plan = plan_with("local", secrets=("kiva:kubeconfig",))
    provider = one(plan, PROVIDER)
    assert is_secret(provider.inputs["kubeconfig"])
    assert provider.inputs["kubeconfig"]["value"] == "offline-placeholder-kubeconfig"


def _local_settings():
    raw = {key.removeprefix("kiva:"): value for key, value in stack_config("local").items()}
    return load_settings(raw, {"backupAccessKeyId", "backupSecretAccessKey"}, "Pulumi.local.yaml")


@pytest.fixture
def mock_runtime():
    """A fresh event loop, root stack and mock engine, as `infra.offline.engine.run_program` sets them up."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    settings.ROOT.set(None)
    set_all_config(
        {
            "kiva:backupAccessKeyId": "offline-placeholder-a",
            "kiva:backupSecretAccessKey": "offline-placeholder-b",
        },
        ["kiva:backupAccessKeyId", "kiva:backupSecretAccessKey"],
    )
    pulumi.runtime.set_mocks(KivaMocks(), project="kiva", stack="local", preview=False)
    yield
    loop.close()
    asyncio.set_event_loop(None)
    settings.ROOT.set(None)


def test_inline_secrets_and_s3_backups(mock_runtime):
    checked: list[bool] = []

    @pulumi.runtime.test
    def program():
        foundation = build_foundation(_local_settings(), pulumi.Config("kiva"))
        backup = foundation.backup
        assert backup.configuration["destinationPath"] == "s3://kiva-backups/local/"
        assert backup.configuration["endpointURL"] == "http://minio.minio.svc.cluster.local:9000"
        assert backup.configuration["s3Credentials"]["region"] == {"name": BACKUP_SECRET, "key": "REGION"}
        assert backup.object_store_annotations == {"kiva.platform/region": "eu-de"}
        assert backup.credentials is not None and backup.credentials.literals == {"REGION": "eu-de"}
        # MinIO runs in the cluster: the database's egress names its namespace, not an address.
        assert backup.egress == BackupEgress(port=9000, namespace="minio")
        assert not foundation.needs_external_secrets
        secrets = foundation.secrets
        assert isinstance(secrets, InlineSecrets)
        assert set(secrets.values) == {
            SecretName.MASTER_KEY,
            SecretName.SALT_KEY,
            SecretName.DATABASE_PASSWORD,
            SecretName.BACKUP_ACCESS_KEY_ID,
            SecretName.BACKUP_SECRET_ACCESS_KEY,
        }

        def check(flags: list[bool]) -> None:
            assert all(flags), flags
            checked.append(True)

        flags = [pulumi.Output.from_input(value.is_secret()) for value in secrets.values.values()]
        return pulumi.Output.all(*flags).apply(check)

    program()
    assert checked == [True], "the secrecy check never ran"
