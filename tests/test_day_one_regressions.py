"""Issue 9 defects re-introduced in the code: `kiva plan` must exit 1 and name the resource and reason.

Each case patches the one line of a component that fixed a day-one defect back to what it was, runs
the real program through the CLI, and expects the day-one policy that guards that class of defect to
fail the plan. (Defects a stack file could re-introduce, such as two models on one GPU or a US backup
bucket, are refused earlier, by the configuration model, with exit 2: see tests/test_settings.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

import components.azure.foundation as azure_foundation
import components.azure.general_node_pool as general_node_pool
import components.azure.key_vault as key_vault
import components.platform.network_policies as network_policies
import components.platform.platform as platform
from components.contracts import GPU_TAINT_TOLERATIONS
from infra.cli import main
from tests.conftest import PROJECT_DIR


def _tainted_general_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 1: no untainted pool for non-GPU pods (the general pool tainted like the system pool)."""
    original = general_node_pool.cs.AgentPool

    def agent_pool(name: str, **kwargs: Any) -> Any:
        kwargs["node_taints"] = ["CriticalAddonsOnly=true:NoSchedule"]
        return original(name, **kwargs)

    monkeypatch.setattr(general_node_pool.cs, "AgentPool", agent_pool)


def _no_policy_for_database_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 2: CloudNativePG's Job pods fall under default-deny with no rule of their own."""
    original = network_policies.policies

    def policies(*args: Any) -> dict[str, Any]:
        specs = original(*args)
        del specs["database-jobs"]
        return specs

    monkeypatch.setattr(network_policies, "policies", policies)


def _device_plugin_without_spot_toleration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 4: the device plugin's tolerations lack AKS's spot taint, so it never runs on spot pools."""
    monkeypatch.setattr(azure_foundation, "DAEMONSET_TOLERATIONS", GPU_TAINT_TOLERATIONS)


def _vault_firewall_without_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 5: default-deny vault firewall that admits the operator's IPs but not the node subnet."""
    original = key_vault.keyvault.NetworkRuleSetArgs

    def rule_set(**kwargs: Any) -> Any:
        kwargs["virtual_network_rules"] = []
        return original(**kwargs)

    monkeypatch.setattr(key_vault.keyvault, "NetworkRuleSetArgs", rule_set)


def _ingress_issuer_nothing_creates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 6: the Ingress names ClusterIssuer `kiva-internal-ca`, which nothing creates."""
    monkeypatch.setattr(platform, "CertificateIssuer", lambda *args, **kwargs: None)


CASES: list[tuple[str, Callable[[pytest.MonkeyPatch], None], str, list[str]]] = [
    ("prod", _tainted_general_pool, "kiva-day-one-pods-placed", ["kiva-gateway", "no node pool admits"]),
    ("dev", _no_policy_for_database_jobs, "kiva-network-required-flows-allowed", ["initdb", "blocked"]),
    ("dev", _device_plugin_without_spot_toleration, "kiva-day-one-gpu-nodes-covered", ["t4", "spot"]),
    ("dev", _vault_firewall_without_the_cluster, "kiva-reachability-cloud-firewalls", ["node subnet"]),
    ("prod", _ingress_issuer_nothing_creates, "kiva-day-one-controllers-present", ["kiva-internal-ca"]),
]


@pytest.mark.parametrize(
    ("stack", "reintroduce", "policy", "words"), CASES, ids=[case[1].__name__.strip("_") for case in CASES]
)
def test_reintroduced_defect_fails_the_plan(
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
    reintroduce: Callable[[pytest.MonkeyPatch], None],
    policy: str,
    words: list[str],
) -> None:
    reintroduce(monkeypatch)
    result = CliRunner().invoke(main, ["plan", stack, "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 1, result.output
    findings = [line for line in result.output.splitlines() if f"[mandatory] {policy}:" in line]
    assert findings, result.output
    assert any(all(word in line for word in words) for line in findings), findings
