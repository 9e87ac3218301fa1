"""Per policy: the compliant fixture passes, and each class of violation fails with its specific message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from kiva_policies.pack import POLICIES
from kiva_policies.telemetry import TELEMETRY_SWITCHES

from tests.policies.harness import (
    SECRET,
    UNKNOWN,
    compliant_plan,
    container,
    env_of,
    mutate,
    res,
    run,
    service,
    set_env,
    set_litellm,
    unverifiable,
    violations,
)

K = "kubernetes"


def test_compliant_plan_has_no_finding_under_the_strictest_settings() -> None:
    report = run(compliant_plan())
    assert report.findings == []
    assert report.policies == [p.name for p in POLICIES]
    assert set(report.levels.values()) == {"mandatory"}


def test_policy_metadata_follows_the_conventions() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    for policy in POLICIES:
        assert policy.name.startswith("kiva-") and policy.name == policy.name.lower()
        assert policy.description.endswith(".") and policy.description[0].isupper()
        assert policy.enforcement_level is not None
        for key, spec in (policy.config_schema.properties if policy.config_schema else {}).items():
            assert "description" in spec, (policy.name, key)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting a dotted path (creating dicts on the way); value `...` deletes it."""

    def change(props: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = props
        for key in parents:
            target = target.setdefault(key, {})
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value

    return change


def _gateway_container(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda props: change(container(props))


def _litellm(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    return lambda props: set_litellm(props, change)


CASES: list[tuple[str, str, Callable[[dict[str, Any]], Any], str, str]] = [
    # (id, resource, mutation, policy, expected message fragment)
    (
        "location-us",
        "kiva-prod-rg",
        _set("location", "eastus"),
        "kiva-residency-location-in-allow-list",
        "placed in 'eastus' (data centres in US)",
    ),
    (
        "location-unknown-region",
        "kiva-prod-logs",
        _set("location", "atlantis"),
        "kiva-residency-location-in-allow-list",
        "(an unknown region)",
    ),
    (
        "declared-region-outside",
        "kiva",
        _set(
            "metadata.annotations", {"kiva.platform/region": "us-east-1", "kiva.platform/jurisdiction": "DE"}
        ),
        "kiva-residency-declared-region-in-allow-list",
        "declares region 'us-east-1'",
    ),
    (
        "declared-jurisdiction-outside",
        "kiva",
        _set("metadata.annotations", {"kiva.platform/region": "eu01", "kiva.platform/jurisdiction": "US"}),
        "kiva-residency-declared-region-in-allow-list",
        "declares jurisdiction 'US'",
    ),
    (
        "declared-mismatch",
        "kiva",
        _set("metadata.annotations", {"kiva.platform/region": "eu-nl", "kiva.platform/jurisdiction": "DE"}),
        "kiva-residency-declared-region-in-allow-list",
        "(in NL) with jurisdiction 'DE'; the two must agree",
    ),
    (
        "provider-outside-eu",
        "kiva-gateway-config",
        _litellm(lambda d: d["model_list"][1]["model_info"].update(kiva_processing_jurisdiction="US")),
        "kiva-residency-external-providers-in-eu",
        "routes model 'gpt-4o-eu' (azure/gpt-4o) of provider 'azure-openai-eu' to processing in 'US'",
    ),
    (
        "provider-undeclared",
        "kiva-gateway-config",
        _litellm(lambda d: d["model_list"][1].pop("model_info")),
        "kiva-residency-external-providers-in-eu",
        "without a declared processing jurisdiction",
    ),
    (
        "vllm-usage-stats-missing",
        "llama-3-1-8b",
        lambda p: set_env(p, "VLLM_NO_USAGE_STATS", None),
        "kiva-telemetry-switches-off",
        "`VLLM_NO_USAGE_STATS` is not set",
    ),
    (
        "vllm-do-not-track-true",
        "llama-3-1-8b",
        lambda p: set_env(p, "DO_NOT_TRACK", "true"),
        "kiva-telemetry-switches-off",
        "`DO_NOT_TRACK` is 'true'",
    ),
    (
        "hf-telemetry-missing",
        "llama-3-1-8b",
        lambda p: set_env(p, "HF_HUB_DISABLE_TELEMETRY", None),
        "kiva-telemetry-switches-off",
        "`HF_HUB_DISABLE_TELEMETRY` is not set",
    ),
    (
        "vllm-do-not-track-missing",
        "llama-3-1-8b",
        lambda p: set_env(p, "VLLM_DO_NOT_TRACK", None),
        "kiva-telemetry-switches-off",
        "`VLLM_DO_NOT_TRACK` is not set",
    ),
    (
        "litellm-cost-map-missing",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_LOCAL_MODEL_COST_MAP", None),
        "kiva-telemetry-switches-off",
        "`LITELLM_LOCAL_MODEL_COST_MAP` is not set",
    ),
    (
        "litellm-beta-headers-wrong",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "False"),
        "kiva-telemetry-switches-off",
        "`LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS` is 'False'",
    ),
    (
        "litellm-blog-posts-missing",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_LOCAL_BLOG_POSTS", None),
        "kiva-telemetry-switches-off",
        "`LITELLM_LOCAL_BLOG_POSTS` is not set",
    ),
    (
        "litellm-policy-templates-missing",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_LOCAL_POLICY_TEMPLATES", None),
        "kiva-telemetry-switches-off",
        "`LITELLM_LOCAL_POLICY_TEMPLATES` is not set",
    ),
    (
        "litellm-autorouter-presets-missing",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_LOCAL_AUTOROUTER_PRESETS", None),
        "kiva-telemetry-switches-off",
        "`LITELLM_LOCAL_AUTOROUTER_PRESETS` is not set",
    ),
    (
        "litellm-telemetry-veto-wrong",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_TELEMETRY_DISABLED", "False"),
        "kiva-telemetry-switches-off",
        "`LITELLM_TELEMETRY_DISABLED` is 'False'",
    ),
    (
        "switch-from-valuefrom",
        "kiva-gateway",
        lambda p: (
            set_env(p, "LITELLM_LOCAL_BLOG_POSTS", None),
            env_of(p).append(
                {
                    "name": "LITELLM_LOCAL_BLOG_POSTS",
                    "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}},
                }
            ),
        ),
        "kiva-telemetry-switches-off",
        "comes from `valueFrom`",
    ),
    (
        "litellm-langfuse",
        "kiva-gateway-config",
        _litellm(lambda d: d["litellm_settings"].update(success_callback=["langfuse"])),
        "kiva-telemetry-litellm-no-third-party-callbacks",
        "enables the callback 'langfuse' in `litellm_settings.success_callback`",
    ),
    (
        "litellm-slack-alerting",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].update(alerting=["slack"])),
        "kiva-telemetry-litellm-no-third-party-callbacks",
        "'slack' in `general_settings.alerting`",
    ),
    (
        "log-analytics-unset",
        "kiva-prod-logs",
        _set("retentionInDays", ...),
        "kiva-retention-log-analytics-days",
        "does not set `retentionInDays`",
    ),
    (
        "log-analytics-too-long",
        "kiva-prod-logs",
        _set("retentionInDays", 730),
        "kiva-retention-log-analytics-days",
        "keeps logs 730 days, outside the allowed [30, 90]",
    ),
    (
        "log-analytics-too-short",
        "kiva-prod-logs",
        _set("retentionInDays", 7),
        "kiva-retention-log-analytics-days",
        "keeps logs 7 days",
    ),
    (
        "spend-logs-unset",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].pop("maximum_spend_logs_retention_period")),
        "kiva-retention-litellm-spend-logs",
        "spend logs are kept forever",
    ),
    (
        "spend-logs-too-long",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].update(maximum_spend_logs_retention_period="365d")),
        "kiva-retention-litellm-spend-logs",
        "keeps spend logs 365 days ('365d'), more than the allowed 90",
    ),
    (
        "spend-logs-malformed",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].update(maximum_spend_logs_retention_period="one month")),
        "kiva-retention-litellm-spend-logs",
        "not a LiteLLM duration",
    ),
    (
        "prompts-stored",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].update(store_prompts_in_spend_logs=True)),
        "kiva-retention-prompts-not-stored",
        "`general_settings.store_prompts_in_spend_logs` is True",
    ),
    (
        "prompts-unset",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].pop("store_prompts_in_spend_logs")),
        "kiva-retention-prompts-not-stored",
        "`general_settings.store_prompts_in_spend_logs` is not set",
    ),
    (
        "message-logging-on",
        "kiva-gateway-config",
        _litellm(lambda d: d["litellm_settings"].update(turn_off_message_logging=False)),
        "kiva-retention-prompts-not-stored",
        "turn_off_message_logging: false",
    ),
    (
        "backup-retention-unset",
        "kiva-backups",
        _set("spec.retentionPolicy", ...),
        "kiva-retention-database-backups",
        "sets no `spec.retentionPolicy`",
    ),
    (
        "backup-retention-too-long",
        "kiva-backups",
        _set("spec.retentionPolicy", "6m"),
        "kiva-retention-database-backups",
        "keeps backups 180 days ('6m'), outside the allowed [7, 30]",
    ),
    (
        "backup-retention-malformed",
        "kiva-backups",
        _set("spec.retentionPolicy", "30 days"),
        "kiva-retention-database-backups",
        "is not of the form XXd, XXw or XXm",
    ),
    (
        "db-no-backup",
        "kiva-db",
        _set("spec.plugins", []),
        "kiva-retention-database-backups-configured",
        "Database cluster kiva/kiva-db has no backup",
    ),
    (
        "db-store-elsewhere",
        "kiva-db",
        lambda p: p["spec"]["plugins"][0]["parameters"].update(barmanObjectName="elsewhere"),
        "kiva-retention-database-backups-configured",
        "archives to ObjectStore 'elsewhere', which is not part of this stack",
    ),
    (
        "kv-soft-delete-short",
        "kiva-prod-kv",
        _set("properties.softDeleteRetentionInDays", 7),
        "kiva-retention-key-vault-soft-delete",
        "keeps deleted secrets 7 days, fewer than the required 90",
    ),
    (
        "kv-soft-delete-unset",
        "kiva-prod-kv",
        _set("properties.softDeleteRetentionInDays", ...),
        "kiva-retention-key-vault-soft-delete",
        "does not set `properties.softDeleteRetentionInDays`",
    ),
    (
        "kv-purge-protection-off",
        "kiva-prod-kv",
        _set("properties.enablePurgeProtection", False),
        "kiva-retention-key-vault-soft-delete",
        "does not enable purge protection",
    ),
    (
        "blob-soft-delete-off",
        "kivaprodbackups-blob",
        _set("deleteRetentionPolicy.enabled", False),
        "kiva-retention-blob-soft-delete",
        "does not enable blob soft delete",
    ),
    (
        "blob-soft-delete-short",
        "kivaprodbackups-blob",
        _set("deleteRetentionPolicy.days", 1),
        "kiva-retention-blob-soft-delete",
        "keeps deleted blobs 1 days; at least 7 days are required",
    ),
    (
        "aks-local-accounts",
        "kiva-prod-aks",
        _set("disableLocalAccounts", False),
        "kiva-hardening-aks-access-restricted",
        "keeps local accounts",
    ),
    (
        "aks-no-entra-rbac",
        "kiva-prod-aks",
        _set("aadProfile.enableAzureRBAC", ...),
        "kiva-hardening-aks-access-restricted",
        "does not use Entra ID RBAC",
    ),
    (
        "aks-no-network-policy",
        "kiva-prod-aks",
        _set("networkProfile.networkPolicy", "none"),
        "kiva-hardening-aks-access-restricted",
        "has no network policy engine",
    ),
    (
        "aks-api-open",
        "kiva-prod-aks",
        _set("apiServerAccessProfile.authorizedIPRanges", []),
        "kiva-hardening-aks-access-restricted",
        "exposes its API server to the whole internet",
    ),
    (
        "aks-api-any",
        "kiva-prod-aks",
        _set("apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
        "kiva-hardening-aks-access-restricted",
        "authorizes 0.0.0.0/0 on its API server",
    ),
    (
        "kv-access-policies",
        "kiva-prod-kv",
        _set("properties.enableRbacAuthorization", False),
        "kiva-hardening-key-vault-access-restricted",
        "uses access policies",
    ),
    (
        "kv-public",
        "kiva-prod-kv",
        lambda p: p["properties"].update(publicNetworkAccess="Enabled", networkAcls={}),
        "kiva-hardening-key-vault-access-restricted",
        "is reachable from any network",
    ),
    (
        "root-user",
        "kiva-gateway",
        _gateway_container(_set("securityContext.runAsUser", 0)),
        "kiva-hardening-container-security-context",
        "runs as root (`runAsUser: 0`)",
    ),
    (
        "maybe-root",
        "kiva-gateway",
        lambda p: (
            container(p)["securityContext"].pop("runAsNonRoot"),
            container(p)["securityContext"].pop("runAsUser"),
            p["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
        ),
        "kiva-hardening-container-security-context",
        "may run as root",
    ),
    (
        "privilege-escalation",
        "kiva-gateway",
        _gateway_container(_set("securityContext.allowPrivilegeEscalation", ...)),
        "kiva-hardening-container-security-context",
        "allows privilege escalation",
    ),
    (
        "privileged",
        "llama-3-1-8b",
        _gateway_container(_set("securityContext.privileged", True)),
        "kiva-hardening-container-security-context",
        "is privileged",
    ),
    (
        "capabilities-kept",
        "llama-3-1-8b",
        _gateway_container(_set("securityContext.capabilities.drop", ["NET_RAW"])),
        "kiva-hardening-container-security-context",
        "keeps Linux capabilities",
    ),
    (
        "image-latest",
        "kiva-gateway",
        _gateway_container(_set("image", "ghcr.io/berriai/litellm:latest")),
        "kiva-hardening-container-image-pinned",
        "uses the moving tag 'latest'",
    ),
    (
        "image-untagged",
        "llama-3-1-8b",
        _gateway_container(_set("image", "vllm/vllm-openai")),
        "kiva-hardening-container-image-pinned",
        "has no tag",
    ),
    (
        "db-image-latest",
        "kiva-db",
        _set("spec.imageName", "ghcr.io/cloudnative-pg/postgresql:latest"),
        "kiva-hardening-container-image-pinned",
        "Database cluster 'kiva-db' image",
    ),
    (
        "no-cpu-limit",
        "kiva-gateway",
        _gateway_container(_set("resources.limits.cpu", ...)),
        "kiva-hardening-container-resource-limits",
        "has no cpu limit",
    ),
    (
        "no-limits",
        "llama-3-1-8b",
        _gateway_container(_set("resources.limits", {"nvidia.com/gpu": "1"})),
        "kiva-hardening-container-resource-limits",
        "has no cpu and no memory limit",
    ),
    (
        "env-secret-literal",
        "kiva-gateway",
        lambda p: set_env(p, "LITELLM_MASTER_KEY", "sk-1234567890abcdefghij"),
        "kiva-hardening-no-secret-literals",
        "env `LITELLM_MASTER_KEY` contains what looks like an API key",
    ),
    (
        "env-secret-name",
        "kiva-gateway",
        lambda p: set_env(p, "DATABASE_PASSWORD", "hunter2"),
        "kiva-hardening-no-secret-literals",
        "env `DATABASE_PASSWORD` has a secret-looking name",
    ),
    (
        "env-blinded-secret",
        "llama-3-1-8b",
        lambda p: set_env(p, "HF_TOKEN", SECRET),
        "kiva-hardening-no-secret-literals",
        "env `HF_TOKEN` holds a Pulumi secret as a plain value",
    ),
    (
        "configmap-master-key",
        "kiva-gateway-config",
        _litellm(lambda d: d["general_settings"].update(master_key="sk-abcdefghijklmnop1234")),
        "kiva-hardening-no-secret-literals",
        "entry `config.yaml.general_settings.master_key` contains what looks like",
    ),
    (
        "configmap-db-url",
        "kiva-gateway-config",
        _litellm(
            lambda d: d["general_settings"].update(database_url="postgresql://kiva:pw@kiva-db-rw:5432/kiva")
        ),
        "kiva-hardening-no-secret-literals",
        "a URL with a password",
    ),
    (
        "provider-api-key-literal",
        "kiva-gateway-config",
        _litellm(lambda d: d["model_list"][1]["litellm_params"].update(api_key="abc123def456")),
        "kiva-hardening-no-secret-literals",
        "`config.yaml.model_list[1].litellm_params.api_key` has a secret-looking",
    ),
    (
        "gpu-no-toleration",
        "llama-3-1-8b",
        _set("spec.template.spec.tolerations", []),
        "kiva-scheduling-gpu-workloads-on-gpu-pools",
        "does not tolerate the GPU node taint (sku)",
    ),
    (
        "gpu-no-selector",
        "llama-3-1-8b",
        _set("spec.template.spec.nodeSelector", {}),
        "kiva-scheduling-gpu-workloads-on-gpu-pools",
        "selects no GPU pool",
    ),
    (
        "gpu-wrong-pool",
        "llama-3-1-8b",
        _set("spec.template.spec.nodeSelector", {"kubernetes.azure.com/agentpool": "system"}),
        "kiva-scheduling-gpu-workloads-on-gpu-pools",
        "selects node pool 'system', which is not a GPU pool",
    ),
    (
        "pdb-missing",
        "kiva-gateway-pdb",
        _set("spec.selector.matchLabels", {"app.kubernetes.io/name": "other"}),
        "kiva-availability-disruption-budgets",
        "kiva/kiva-gateway runs 3 replicas but no PodDisruptionBudget",
    ),
    (
        "default-deny-has-rules",
        "kiva-default-deny",
        _set("spec.ingress", [{"from": [{"podSelector": {}}]}]),
        "kiva-network-default-deny",
        "Namespace 'kiva' runs workloads",
    ),
    (
        "default-deny-selects",
        "kiva-default-deny",
        _set("spec.podSelector", {"matchLabels": {"a": "b"}}),
        "kiva-network-default-deny",
        "has no default-deny NetworkPolicy",
    ),
]


OVERLAPPING_HARDENING = (
    "kiva-hardening-key-vault-public-access-disabled",
    "kiva-hardening-container-uid-high",
    "kiva-hardening-tokens-as-files",
    "kiva-images-pinned-by-digest",
)


@pytest.mark.parametrize(("resource", "mutation", "policy", "fragment"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_violation_class_fails_with_its_message(
    resource: str, mutation: Callable[[dict[str, Any]], Any], policy: str, fragment: str
) -> None:
    # these policies check a stricter form of what some mutations break (tests/policies/test_hardening_*.py)
    overlapping = {p: "disabled" for p in OVERLAPPING_HARDENING if p != policy}
    report = run(mutate(compliant_plan(), resource, mutation), overlapping)
    found = violations(report, policy)
    assert found, f"{policy} found nothing; findings: {report.findings}"
    assert any(fragment in f.message for f in found), [f.message for f in found]
    assert all(f.enforcement == "mandatory" for f in found)
    # the mutation breaks only the policy it targets
    assert {f.policy for f in violations(report)} == {policy}, [
        (f.policy, f.message) for f in violations(report)
    ]


def _swap_service(plan: list, name: str, props: dict[str, Any]) -> list:
    return [res(r.type, r.name, props) if r.name == name else r for r in plan]


def test_model_server_behind_a_load_balancer_fails() -> None:
    plan = compliant_plan()
    labels = next(r for r in plan if r.name == "llama-3-1-8b" and r.type.endswith("Deployment")).props[
        "spec"
    ]["template"]["metadata"]["labels"]
    plan = [r for r in plan if not (r.name == "llama-3-1-8b" and r.type.endswith("Service"))]
    plan.append(
        res(f"{K}:core/v1:Service", "llama-3-1-8b-lb", service("llama-3-1-8b", labels, 8000, "LoadBalancer"))
    )
    found = violations(run(plan), "kiva-hardening-internal-services-not-exposed")
    assert (
        len(found) == 1
        and "of type LoadBalancer exposes a model server outside the cluster" in found[0].message
    )


def test_database_behind_a_node_port_fails_and_gateway_load_balancer_passes() -> None:
    plan = compliant_plan()
    plan.append(
        res(f"{K}:core/v1:Service", "db-np", service("db", {"cnpg.io/cluster": "kiva-db"}, 5432, "NodePort"))
    )
    gateway_lb = service("gw", {"app.kubernetes.io/name": "kiva-gateway"}, 443, "LoadBalancer")
    plan.append(res(f"{K}:core/v1:Service", "gw-lb", gateway_lb))
    found = violations(run(plan), "kiva-hardening-internal-services-not-exposed")
    assert [f.urn.rsplit("::", 1)[-1] for f in found] == ["db-np"]
    assert "exposes the database" in found[0].message


def test_unprotected_data_stores_fail() -> None:
    plan = [
        res(r.type, r.name, r.props, protect=False) if r.name in ("kiva-prod-kv", "kiva-db") else r
        for r in compliant_plan()
    ]
    found = violations(run(plan), "kiva-hardening-data-stores-protected")
    assert sorted(f.urn.rsplit("::", 1)[-1] for f in found) == ["kiva-db", "kiva-prod-kv"]
    assert "holds data but is not protected against deletion" in found[0].message


def test_storage_account_without_blob_service_fails() -> None:
    plan = [r for r in compliant_plan() if r.name != "kivaprodbackups-blob"]
    found = violations(run(plan), "kiva-retention-blob-soft-delete-configured")
    assert len(found) == 1 and "has no BlobServiceProperties resource" in found[0].message


def test_missing_region_declaration_fails_on_a_stack_without_locations() -> None:
    plan = [r for r in compliant_plan() if not r.type.startswith("azure-native:")]
    plan = mutate(plan, "kiva", _set("metadata.annotations", {}))
    found = violations(run(plan), "kiva-residency-declared-region-in-allow-list")
    assert len(found) == 1 and "The stack declares no region" in found[0].message
    # the reviewer's policy config may declare it instead
    config = {
        "kiva-residency-declared-region-in-allow-list": {
            "declaredRegion": "eu01",
            "declaredJurisdiction": "DE",
        }
    }
    assert not violations(run(plan, config), "kiva-residency-declared-region-in-allow-list")


def _without_locations() -> list:
    return [r for r in compliant_plan() if not r.type.startswith("azure-native:")]


def test_a_region_with_a_slash_is_declared_and_allowed() -> None:
    """Issue 9 #14: IONOS's `de/fra` is no valid label value, so the platform declares it as annotation."""
    declaration = {"kiva.platform/region": "de/fra", "kiva.platform/jurisdiction": "DE"}
    plan = mutate(_without_locations(), "kiva", _set("metadata.annotations", declaration))
    assert not violations(run(plan), "kiva-residency-declared-region-in-allow-list")
    plan = mutate(
        plan, "kiva", _set("metadata.annotations", declaration | {"kiva.platform/jurisdiction": "NL"})
    )
    found = violations(run(plan), "kiva-residency-declared-region-in-allow-list")
    assert len(found) == 1 and "declares region 'de/fra' (in DE) with jurisdiction 'NL'" in found[0].message


def test_plans_from_before_the_annotations_declare_through_labels() -> None:
    labels = {"kiva.platform/region": "us-east-1", "kiva.platform/jurisdiction": "DE"}
    plan = mutate(_without_locations(), "kiva", _set("metadata.annotations", ...))
    plan = mutate(plan, "kiva", _set("metadata.labels", labels))
    found = violations(run(plan), "kiva-residency-declared-region-in-allow-list")
    assert found and all("declares region 'us-east-1'" in f.message for f in found)


def test_the_annotation_wins_over_an_old_label() -> None:
    stale = {"kiva.platform/region": "us-east-1", "kiva.platform/jurisdiction": "US"}
    plan = mutate(_without_locations(), "kiva", lambda props: props["metadata"]["labels"].update(stale))
    assert not violations(run(plan), "kiva-residency-declared-region-in-allow-list")


def test_declaration_must_match_the_reviewers_expectation() -> None:
    config = {"kiva-residency-declared-region-in-allow-list": {"declaredRegion": "germanynorth"}}
    found = violations(run(compliant_plan(), config), "kiva-residency-declared-region-in-allow-list")
    assert len(found) == 1 and "expects declaredRegion 'germanynorth'" in found[0].message


def test_allow_listed_provider_passes_outside_the_eu() -> None:
    plan = mutate(compliant_plan(), "kiva-gateway-config", _litellm(
        lambda d: d["model_list"][1]["model_info"].update(kiva_processing_jurisdiction="US")))  # fmt: skip
    config = {"kiva-residency-external-providers-in-eu": {"allowedProviders": ["azure-openai-eu"]}}
    assert not violations(run(plan, config))


def test_germany_only_allow_list() -> None:
    config = {"kiva-residency-location-in-allow-list": {"allowedLocations": ["germanywestcentral"]}}
    plan = mutate(compliant_plan(), "kiva-prod-logs", _set("location", "westeurope"))
    found = violations(run(plan, config))
    assert [f.policy for f in found] == ["kiva-residency-location-in-allow-list"]
    assert "placed in 'westeurope' (data centres in NL)" in found[0].message


#: Products whose versions `infra/versions.py` pins: each of their switches needs a mutation case above.
PINNED_PRODUCTS = ("LiteLLM", "vLLM", "Hugging Face Hub")


def test_switch_table_counts_only_switches_the_pinned_versions_read() -> None:
    rows = {p.name: p for p in TELEMETRY_SWITCHES}
    pinned = {s.env: s for name in PINNED_PRODUCTS for s in rows[name].switches}
    # Read by nothing in LiteLLM 1.108.7 (nor litellm_enterprise / litellm_proxy_extras): false evidence.
    assert "USE_PRISMA_MIGRATE" not in pinned and "ENFORCE_PRISMA_MIGRATION_CHECK" not in pinned
    for switch in pinned.values():
        assert re.search(r"\b(litellm 1\.108\.7|vllm v0\.28\.0|huggingface_hub) \S+\.py\b", switch.read_by), (
            f"{switch.env}: name the file of the pinned version that reads it"
        )
    mutated = {
        name
        for _, _, _, policy, fragment in CASES
        if policy == "kiva-telemetry-switches-off"
        for name in re.findall(r"`(\w+)`", fragment)
    }
    assert set(pinned) <= mutated, f"switches without a mutation case: {sorted(set(pinned) - mutated)}"


def test_other_products_from_the_switch_table() -> None:
    props = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "loki", "namespace": "monitoring"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "loki", "image": "grafana/loki:3.5.0", "args": ["-config.file=/etc/loki/config.yaml"]},
            {"name": "grafana", "image": "docker.io/grafana/grafana:12.1.0",
             "env": [{"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"}]},
        ]}}},
    }  # fmt: skip
    report = run([res(f"{K}:apps/v1:StatefulSet", "loki", props)])
    messages = " ".join(f.message for f in violations(report, "kiva-telemetry-switches-off"))
    assert "flag `-reporting.enabled=false` is missing" in messages
    assert "`GF_ANALYTICS_CHECK_FOR_UPDATES` is not set" in messages
    assert "GF_ANALYTICS_REPORTING_ENABLED" not in messages


# --- unknown and blinded values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "mutation", "policy"),
    [
        ("kiva-prod-rg", _set("location", UNKNOWN), "kiva-residency-location-in-allow-list"),
        (
            "kiva-prod-logs",
            _set("retentionInDays", "3eeb2bf0-c639-47a8-9e75-3b44932eb421"),
            "kiva-retention-log-analytics-days",
        ),
        (
            "kiva-prod-kv",
            _set("properties.enablePurgeProtection", "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"),
            "kiva-retention-key-vault-soft-delete",
        ),
        (
            "kiva-prod-aks",
            _set("apiServerAccessProfile.authorizedIPRanges", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2"),
            "kiva-hardening-aks-access-restricted",
        ),
        (
            "kiva-gateway-config",
            lambda p: p["data"].update({"config.yaml": UNKNOWN}),
            "kiva-retention-litellm-spend-logs",
        ),
        (
            "kiva-gateway-config",
            lambda p: p["data"].update({"config.yaml": SECRET}),
            "kiva-retention-prompts-not-stored",
        ),
        (
            "kiva-gateway",
            lambda p: set_env(p, "LITELLM_LOCAL_MODEL_COST_MAP", UNKNOWN),
            "kiva-telemetry-switches-off",
        ),
        ("kiva-backups", _set("spec.retentionPolicy", UNKNOWN), "kiva-retention-database-backups"),
        (
            "kiva",
            _set("metadata.labels", "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"),
            "kiva-residency-declared-region-in-allow-list",
        ),
        (
            "kiva-gateway",
            _set("spec.replicas", "3eeb2bf0-c639-47a8-9e75-3b44932eb421"),
            "kiva-availability-disruption-budgets",
        ),
    ],
)
def test_unknown_values_are_not_verifiable_never_pass_never_crash(
    resource: str, mutation: Callable[[dict[str, Any]], Any], policy: str
) -> None:
    report = run(mutate(compliant_plan(), resource, mutation))
    found = unverifiable(report, policy)
    assert found, report.findings
    assert "not verifiable" in found[0].message
    assert not any("failed on this resource" in f.message for f in report.findings), report.findings


def test_unknown_value_does_not_hide_other_violations_of_the_same_policy() -> None:
    def change(props: dict[str, Any]) -> None:
        props["disableLocalAccounts"] = False
        props["networkProfile"]["networkPolicy"] = UNKNOWN

    report = run(mutate(compliant_plan(), "kiva-prod-aks", change))
    assert [f.status for f in report.findings] == ["violation", "not-verifiable"]
    assert "keeps local accounts" in report.findings[0].message
    assert "networkProfile.networkPolicy" in report.findings[1].message


def test_unknown_output_in_a_plain_env_value_is_not_a_secret_finding() -> None:
    plan = mutate(compliant_plan(), "kiva-gateway", lambda p: set_env(p, "AZURE_CLIENT_ID", UNKNOWN))
    assert run(plan).findings == []


def test_mock_engine_secret_wrappers_are_blinded_like_a_preview() -> None:
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "hf_abc"}
    plan = mutate(
        compliant_plan(), "llama-3-1-8b", lambda p: env_of(p).append({"name": "HF_TOKEN", "value": wrapped})
    )
    found = violations(run(plan), "kiva-hardening-no-secret-literals")
    assert len(found) == 1 and "holds a Pulumi secret as a plain value" in found[0].message
