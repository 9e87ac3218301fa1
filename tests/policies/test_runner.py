"""The offline runner: policy-config selection and resolution, enforcement levels, the reviewer report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kiva_policies import runner
from kiva_policies.pack import POLICIES
from kiva_policies.report import render_report, write_report
from kiva_policies.runner import PlannedResource, PolicyConfigError, load_policy_config, resolve_config

from tests.policies.harness import (
    GATEWAY_IMAGE,
    UNKNOWN,
    VLLM_IMAGE,
    compliant_plan,
    container,
    mutate,
    run,
    set_env,
    set_litellm,
    violations,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "policies" / "config"


# --- config selection -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_the_stacks_file_is_picked_when_it_exists(stack: str) -> None:
    config, path = load_policy_config(stack, None)
    assert path == CONFIG_DIR / f"{stack}.json"
    assert config == json.loads(path.read_text())


def test_explicit_file_wins_over_the_stacks_file(tmp_path: Path) -> None:
    explicit = tmp_path / "mine.json"
    explicit.write_text('{"all": "advisory"}')
    assert load_policy_config("prod", explicit) == ({"all": "advisory"}, explicit)


def test_no_file_means_the_strictest_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_policy_config("agency-x", None) == ({}, None)
    assert load_policy_config(None, None) == ({}, None)
    resolved = resolve_config({})
    assert {level for level, _ in resolved.values()} == {"mandatory"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('["all"]', "must be a JSON object"),
        ('{"kiva-no-such-policy": "advisory"}', "'kiva-no-such-policy' is not a policy of this pack"),
        ('{"all": "sometimes"}', "enforcement level must be one of"),
        ('{"kiva-retention-log-analytics-days": {"maxDays": "ninety"}}', "maxDays: 'ninety' is not of type"),
        ('{"kiva-retention-log-analytics-days": {"maximumDays": 90}}', "unknown property 'maximumDays'"),
    ],
)
def test_malformed_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PolicyConfigError, match=message) as error:
        load_policy_config("prod", path)
    assert str(path) in str(error.value)
    assert isinstance(error.value, ValueError)  # `kiva` maps ValueError to exit code 2


def test_shipped_configs_are_valid_and_make_hardening_advisory_outside_prod() -> None:
    hardening = [p.name for p in POLICIES if p.name.startswith("kiva-hardening-")]
    for stack, expected in (("prod", "mandatory"), ("dev", "advisory"), ("local", "advisory")):
        resolved = resolve_config(json.loads((CONFIG_DIR / f"{stack}.json").read_text()))
        assert {resolved[name][0] for name in hardening} == {expected}, stack
        residency_and_retention = [
            n for n in resolved if n.startswith(("kiva-residency-", "kiva-retention-"))
        ]
        assert {resolved[n][0] for n in residency_and_retention} == {"mandatory"}, stack


def test_resolution_follows_the_cli_defaults_then_all_then_policy() -> None:
    resolved = resolve_config(
        {
            "all": "advisory",
            "kiva-retention-log-analytics-days": {"enforcementLevel": "mandatory", "maxDays": 365},
            "kiva-network-default-deny": "disabled",
        }
    )
    assert resolved["kiva-retention-log-analytics-days"] == ("mandatory", {"minDays": 30, "maxDays": 365})
    assert resolved["kiva-residency-location-in-allow-list"][0] == "advisory"
    assert resolved["kiva-network-default-deny"][0] == "disabled"


def test_advisory_and_disabled_levels_are_honoured() -> None:
    plan = mutate(compliant_plan(), "kiva-gateway", lambda p: set_env(p, "DO_NOT_TRACK", None))
    plan = mutate(plan, "kiva-prod-aks", lambda p: p.update(disableLocalAccounts=False))
    report = run(
        plan, {"kiva-hardening-aks-access-restricted": "advisory", "kiva-network-default-deny": "disabled"}
    )
    aks = violations(report, "kiva-hardening-aks-access-restricted")
    assert aks and {f.enforcement for f in aks} == {"advisory"}
    assert not report.mandatory_violations
    assert (
        "kiva-network-default-deny" in report.disabled and "kiva-network-default-deny" not in report.policies
    )
    assert report.levels["kiva-hardening-aks-access-restricted"] == "advisory"


def test_gateway_without_do_not_track_is_fine_because_it_is_not_a_litellm_switch() -> None:
    plan = mutate(compliant_plan(), "kiva-gateway", lambda p: set_env(p, "DO_NOT_TRACK", None))
    assert not run(plan).findings


def test_stack_policies_see_parents_and_dependencies() -> None:
    plan = compliant_plan()
    child = PlannedResource(
        "urn:c", "kubernetes:core/v1:ConfigMap", "c", {}, parent=plan[0].urn, dependencies=(plan[1].urn,)
    )
    resources = runner._policy_resources([*plan, child], {r.urn: r.props for r in [*plan, child]})
    built = next(r for r in resources if r.urn == "urn:c")
    assert built.parent is not None and built.parent.urn == plan[0].urn
    assert [d.urn for d in built.dependencies] == [plan[1].urn]


def test_a_policy_that_breaks_on_odd_input_is_not_verifiable_not_a_crash() -> None:
    odd_container = {"name": "x", "image": "vllm/vllm-openai:v1", "env": "not-a-list", "resources": 7}
    odd_props = {"spec": {"template": {"spec": {"containers": [odd_container]}}}}
    odd = PlannedResource("urn:odd", "kubernetes:apps/v1:Deployment", "odd", odd_props)
    report = run([odd])
    assert all(f.status in ("violation", "not-verifiable") for f in report.findings)


# --- the report -----------------------------------------------------------------------------------


def test_report_content(tmp_path: Path) -> None:
    plan = mutate(
        compliant_plan(), "kiva-gateway", lambda p: set_env(p, "LITELLM_LOCAL_MODEL_COST_MAP", "false")
    )
    plan = mutate(plan, "kiva-prod-logs", lambda p: p.update(retentionInDays=UNKNOWN))
    report = run(plan, {"kiva-hardening-aks-access-restricted": "advisory"})
    path = tmp_path / "report.md"
    write_report(report, plan, path)
    text = path.read_text()
    assert text.startswith("# KIVA policy report: stack `prod`")
    assert "**Verdict: FAIL**: 1 mandatory violation(s), 0 advisory violation(s), 1 not verifiable" in text
    # a pass/fail line per policy
    for policy in POLICIES:
        assert f"| `{policy.name}` |" in text
    assert "| `kiva-telemetry-switches-off` | mandatory | **FAIL** | 1 violation(s) |" in text
    assert (
        "| `kiva-retention-log-analytics-days` | mandatory | **NOT VERIFIABLE** | 1 not verifiable |" in text
    )
    assert "| `kiva-hardening-aks-access-restricted` | advisory | **PASS** | — |" in text
    # inventory by region
    assert "| germanywestcentral | 6 |" in text  # group, cluster, vault, logs, account, its endpoint
    assert "| germanywestcentral (cluster, declared) |" in text
    assert (
        "Declared region of the cluster: **germanywestcentral** (from annotation `kiva.platform/region`"
        in text
    )
    # telemetry switches per workload
    assert (
        f"| kiva/kiva-gateway | kiva-gateway | `{GATEWAY_IMAGE}` | LiteLLM | "
        "`LITELLM_LOCAL_MODEL_COST_MAP` | `True` | false | ON (not the exact off value) |"
    ) in text
    assert (
        f"| kiva/llama-3-1-8b | llama-3-1-8b | `{VLLM_IMAGE}` | vLLM | "
        "`VLLM_NO_USAGE_STATS` | `1` | 1 | off |" in text
    )
    # retention values in force
    assert "| Log Analytics retention (days) | `kiva-prod-logs` | (unknown at preview) |" in text
    assert "| LiteLLM spend logs | `kiva-gateway-config` | 30d |" in text
    assert "| Database backups (ObjectStore) | `kiva-backups` | 30d |" in text
    assert "| Key Vault soft delete (days) | `kiva-prod-kv` | 90 |" in text
    assert "| Blob soft delete | `kivaprodbackups-blob` | 30 days |" in text
    assert "- `kiva-retention-log-analytics-days`: maxDays=90, minDays=30" in text


def test_report_of_a_passing_plan_is_stable() -> None:
    plan = compliant_plan()
    moment = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    text = render_report(run(plan), plan, now=moment)
    assert "**Verdict: PASS**: 0 mandatory violation(s)" in text
    assert "No findings." in text
    assert text == render_report(run(plan), plan, now=moment)


def test_report_tolerates_a_blinded_litellm_config() -> None:
    plan = mutate(
        compliant_plan(), "kiva-gateway-config", lambda p: p["data"].update({"config.yaml": "[secret]"})
    )
    text = render_report(run(plan), plan)
    assert "| (unreadable retention setting) | `kiva-gateway-config` | not verifiable |" in text


def test_litellm_config_changes_show_in_the_report() -> None:
    plan = mutate(
        compliant_plan(),
        "kiva-gateway-config",
        lambda p: set_litellm(
            p, lambda d: d["general_settings"].update(maximum_spend_logs_retention_period="7d")
        ),
    )
    assert "| LiteLLM spend logs | `kiva-gateway-config` | 7d |" in render_report(run(plan), plan)


def test_report_marks_unknown_env_as_not_verifiable_not_as_telemetry_on() -> None:
    plan = mutate(compliant_plan(), "kiva-gateway", lambda p: container(p).update(env=UNKNOWN))
    plan = mutate(plan, "llama-3-1-8b", lambda p: set_env(p, "DO_NOT_TRACK", UNKNOWN))
    report = run(plan)
    assert not report.mandatory_violations
    text = render_report(report, plan)
    assert f"| kiva/kiva-gateway | kiva-gateway | `{GATEWAY_IMAGE}` | — | (all) |" in text
    assert "| vLLM | `DO_NOT_TRACK` | `1` | (unknown at preview) | not verifiable |" in text
    assert "ON (not the exact off value)" not in text
