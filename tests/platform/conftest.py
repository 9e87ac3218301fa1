"""Fixtures for the platform layer: its Kubernetes objects per stack, on both cloud-layer branches.

Until the Azure cloud layer lands, every committed stack gets `InlineSecrets` and `S3Backups` from
the foundation. `azure_plan` replaces the foundation with the Azure contract objects (Key Vault
secrets, Blob backups by workload identity) so the External Secrets and Blob branches are tested too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.contracts import AzureBlobBackups, CloudFoundation, KeyVaultSecrets, SecretName
from infra.offline.engine import Plan, run_program
from infra.offline.manifests import kubernetes_objects
from tests.conftest import _committed_plan, stack_file_with

VAULT_URL = "https://kiva-dev-kv.vault.azure.net/"
BLOB_PATH = "https://kivadevbackups.blob.core.windows.net/database/"


def azure_foundation(settings: Any, config: pulumi.Config) -> CloudFoundation:
    """The contract the Azure cloud layer hands over: Key Vault secrets, Blob backups, an AKS provider."""
    names = {SecretName.MASTER_KEY, SecretName.SALT_KEY, SecretName.DATABASE_PASSWORD}
    names |= {SecretName.provider_api_key(p.name) for p in settings.providers}
    if any(m.gated for m in settings.models):
        names.add(SecretName.HUGGING_FACE_TOKEN)
    return CloudFoundation(
        kubernetes=k8s.Provider("kiva-aks", cluster_identifier="kiva-aks"),
        secrets=KeyVaultSecrets(
            vault_url=pulumi.Output.from_input(VAULT_URL),
            tenant_id=pulumi.Output.from_input("00000000-0000-4000-8000-000000000002"),
            reader_client_id=pulumi.Output.from_input("00000000-0000-4000-8000-0000000000e5"),
            names=frozenset(names),
        ),
        backups=AzureBlobBackups(
            destination_path=pulumi.Output.from_input(BLOB_PATH),
            client_id=pulumi.Output.from_input("00000000-0000-4000-8000-0000000000db"),
        ),
    )


@cache
def _azure_plan(stack: str) -> Plan:
    patch = pytest.MonkeyPatch()
    patch.setattr("infra.stack.build_foundation", azure_foundation)
    try:
        return run_program(stack_file_with(stack))
    finally:
        patch.undo()


@pytest.fixture
def azure_plan() -> Callable[[str], Plan]:
    """Plan of a committed stack with the Azure contract objects as foundation (cached, read-only)."""
    return _azure_plan


def objects_of(plan: Plan) -> list[dict[str, Any]]:
    return kubernetes_objects(plan)


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"].get("name") == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


@pytest.fixture
def objects() -> Callable[[str], list[dict[str, Any]]]:
    """Kubernetes objects of a committed stack (inline secrets branch)."""
    return lambda stack: objects_of(_committed_plan(stack))


@pytest.fixture
def azure_objects() -> Callable[[str], list[dict[str, Any]]]:
    """Kubernetes objects of a committed stack on the Azure (Key Vault, Blob) branch."""
    return lambda stack: objects_of(_azure_plan(stack))
