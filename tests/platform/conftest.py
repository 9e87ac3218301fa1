"""Fixtures for the platform layer: its Kubernetes objects per stack, on both cloud-layer branches.

`azure_plan` replaces the foundation with a hand-built Azure contract (Key Vault secrets, Blob backups
by workload identity, AKS GPU pools, from the Azure layer's own builders) with fixed ids instead of the
mock engine's, so the External Secrets and Blob branches are tested with known values.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.azure.foundation import (
    DAEMONSET_TOLERATIONS,
    aks_gpu_nodes,
    aks_scheduling,
    blob_backup_target,
)
from components.azure.key_vault import key_vault_store
from components.contracts import CloudFoundation
from infra.offline.engine import Plan, run_program
from infra.offline.manifests import kubernetes_objects
from infra.settings.secrets_table import stored_secrets
from tests.conftest import _committed_plan, stack_file_with

VAULT_URL = "https://kiva-dev-kv.vault.azure.net/"
BLOB_PATH = "https://kivadevbackups.blob.core.windows.net/database/"


def azure_foundation(settings: Any, config: pulumi.Config) -> CloudFoundation:
    """The contract the Azure cloud layer hands over: Key Vault secrets, Blob backups, an AKS provider."""
    blob_path = pulumi.Output.from_input(BLOB_PATH)
    writer_client_id = pulumi.Output.from_input("00000000-0000-4000-8000-0000000000db")
    return CloudFoundation(
        kubernetes=k8s.Provider("kiva-aks", cluster_identifier="kiva-aks"),
        secrets=key_vault_store(
            vault_url=VAULT_URL,
            tenant_id="00000000-0000-4000-8000-000000000002",
            reader_client_id="00000000-0000-4000-8000-0000000000e5",
            names=frozenset(row.name for row in stored_secrets(settings)),
        ),
        # The Azure layer's own builders: the contract's backup and GPU parts exactly as it fills them.
        backup=blob_backup_target(blob_path, writer_client_id),
        scheduling=aks_scheduling(settings.cluster),
        gpu_pools={pool.name: aks_gpu_nodes(pool) for pool in settings.gpu_pools},
        gpu_daemonset_tolerations=DAEMONSET_TOLERATIONS,
        needs_external_secrets=True,
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
