"""Day-one network checks: required flows allowed, nothing else open, database not open to all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kiva_policies.day_one import network
from kiva_policies.day_one.network_policy_eval import (
    External,
    Flow,
    NamespaceLabels,
    evaluate,
    parse_policy,
    pod,
)
from kiva_policies.runner import PlannedResource

from infra.cli import main
from tests.policies.day_one.network_fixtures import (
    add,
    by_name,
    committed,
    edit,
    fixed,
    messages,
    network_policy,
    run,
    without,
    without_job_rules,
)

REQUIRED = "kiva-network-required-flows-allowed"
NOTHING_ELSE = "kiva-network-nothing-else-open"
DATABASE_OPEN = "kiva-network-database-not-open-to-all"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
@pytest.mark.parametrize("policy", [REQUIRED, NOTHING_ELSE, DATABASE_OPEN])
def test_fixed_stacks_pass(stack: str, policy: str) -> None:
    assert run(fixed(stack), policy).findings == []


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
@pytest.mark.parametrize("policy", [REQUIRED, NOTHING_ELSE, DATABASE_OPEN])
def test_committed_stacks_pass(stack: str, policy: str) -> None:
    """With the issue-9 component fixes in place the committed plans need no test-side fix."""
    assert run(committed(stack), policy).findings == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_database_policy_without_a_rule_for_jobs_blocks_initdb_and_join(stack: str) -> None:
    """Issue 9 (2): the database pods are selected by podRole=instance; Job pods have no rule."""
    resources = without_job_rules(fixed(stack))
    found = messages(run(resources, REQUIRED))
    initdb_api = [m for m in found if "initdb (Job) → API server" in m]
    join_primary = [m for m in found if "join (Job) → kiva/kiva-db-1 (primary):5432" in m]
    assert initdb_api and join_primary, found
    assert "is isolated by NetworkPolicy" in initdb_api[0] and "kiva/kiva-default-deny" in initdb_api[0]


def test_jobs_need_the_primary_to_admit_them_too() -> None:
    resources = edit(
        fixed("prod"),
        "kiva-network-policies-database",
        lambda p: p["spec"].update(ingress=[r for r in p["spec"]["ingress"] if "jobRole" not in str(r)]),
    )
    found = messages(run(resources, REQUIRED))
    assert any(
        m.startswith("kiva-network-policies-database: ")
        and "join (Job) → kiva/kiva-db-1 (primary):5432" in m
        and "ingress of kiva/kiva-db-1 (primary)" in m
        for m in found
    ), found


def test_gateway_without_egress_to_the_pooler_is_blocked() -> None:
    resources = edit(
        fixed("prod"),
        "kiva-network-policies-gateway-egress",
        lambda p: p["spec"].update(egress=[r for r in p["spec"]["egress"] if "poolerName" not in str(r)]),
    )
    found = messages(run(resources, REQUIRED))
    assert any("(gateway → database)" in m and "kiva-db-pooler-rw (pooler):5432" in m for m in found), found


def test_model_download_blocked_when_the_policy_is_missing() -> None:
    found = messages(run(without(fixed("dev"), "kiva-network-policies-model-download"), REQUIRED))
    assert any("(model download)" in m and "Hugging Face Hub" in m for m in found), found


def test_offline_model_needs_no_download_path() -> None:
    resources = without(fixed("dev"), "kiva-network-policies-model-download")
    model = next(r for r in resources if r.type.startswith("kubernetes:apps/v1:") and "model" in r.name)

    def offline(props: dict) -> None:
        props["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "HF_HUB_OFFLINE", "value": "1"}
        )

    assert run(edit(resources, model.name, offline), REQUIRED).findings == []


def test_operator_namespace_rule_removed_blocks_the_operator() -> None:
    resources = edit(
        fixed("prod"),
        "kiva-network-policies-database",
        lambda p: p["spec"].update(ingress=[r for r in p["spec"]["ingress"] if "cnpg-system" not in str(r)]),
    )
    found = messages(run(resources, REQUIRED))
    assert any("cnpg-system/cloudnative-pg → kiva/kiva-db-1 (primary):8000" in m for m in found), found


def test_ingress_controller_namespace_must_be_admitted() -> None:
    resources = edit(
        fixed("prod"),
        "kiva-gateway-ingress",
        lambda p: (
            p["metadata"]
            .setdefault("annotations", {})
            .update({"kiva.platform/controller-namespace": "ingress-elsewhere"})
        ),
    )
    found = messages(run(resources, REQUIRED))
    assert any(
        "ingress-elsewhere/ingress controller of kiva-gateway → kiva/kiva-gateway:4000" in m for m in found
    )


def test_an_unused_rule_is_reported_as_unjustified() -> None:
    ssh = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 22}]}
    resources = edit(
        fixed("prod"), "kiva-network-policies-gateway-egress", lambda p: p["spec"]["egress"].append(ssh)
    )
    found = messages(run(resources, NOTHING_ELSE))
    assert found == [
        "kiva-network-policies-gateway-egress: NetworkPolicy kiva/kiva-gateway-egress: rule egress[4] "
        "(to ipBlock 0.0.0.0/0 on TCP 22) carries no flow the platform needs; it only opens a path. "
        "Remove it, or narrow it to the flow it is meant for."
    ]


def test_operator_rule_on_the_pooler_is_unjustified() -> None:
    """The operator never connects to PgBouncer pods (CloudNativePG 1.30 pooler controller)."""
    resources = edit(
        fixed("prod"),
        "kiva-network-policies-pooler",
        lambda p: p["spec"]["ingress"].append(
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}}
                ],
                "ports": [{"protocol": "TCP", "port": 5432}],
            }
        ),
    )
    found = messages(run(resources, NOTHING_ELSE))
    assert len(found) == 1 and "kiva/kiva-pooler: rule ingress[2]" in found[0]  # [1]: Prometheus (9127)


@pytest.mark.parametrize(
    "peer, reason",
    [
        ({"namespaceSelector": {}}, "all namespaces"),
        ({"ipBlock": {"cidr": "0.0.0.0/0"}}, "all addresses"),
        (None, "every source"),
    ],
)
def test_database_open_to_all_is_reported(peer: dict | None, reason: str) -> None:
    rule: dict = {"ports": [{"protocol": "TCP", "port": 9187}]}
    if peer is not None:
        rule["from"] = [peer]
    resources = edit(
        fixed("prod"), "kiva-network-policies-database", lambda p: p["spec"]["ingress"].append(rule)
    )
    found = messages(run(resources, DATABASE_OPEN))
    assert len(found) == 1 and found[0].startswith(
        "kiva-network-policies-database: NetworkPolicy kiva/kiva-database"
    )
    assert reason in found[0] and "kiva/kiva-db-1 (primary)" in found[0]


def test_summary_counts_flows_and_names_each_blocked_one() -> None:
    lines = network.summary(fixed("dev"))
    required = int(lines[0].split()[1])
    assert lines == [f"flows: {required} required, {required} allowed"] and required > 10
    lines = network.summary(without_job_rules(fixed("dev")))
    assert lines[0] == f"flows: {required} required, {required - 4} allowed"
    assert lines[1].startswith("blocked: kiva/kiva-db-1-initdb (Job) → API server (public)")
    assert "kiva/kiva-default-deny" in lines[1]


def test_check_cli_exits_one_and_names_the_blocking_policy(tmp_path: Path) -> None:
    from infra.offline.digest import preview_digest
    from tests.conftest import _committed_plan

    digest = preview_digest(_committed_plan("dev"))
    for step in digest["steps"]:
        if step["urn"].endswith("::kiva-network-policies-database"):
            step["newState"]["inputs"]["spec"]["egress"] = []  # instances lose the API server
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(digest))
    result = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "kiva/kiva-db-1 (primary) → API server (public)" in result.output
    assert "kiva-network-required-flows-allowed" in result.output


# --- NetworkPolicy semantics --------------------------------------------------------------------------


def _policy(spec: dict) -> object:
    return parse_policy(network_policy("p", spec), "urn:p", "p")


SERVER = pod("kiva", "server", {"app": "server"}, (("http", 8080, "TCP"),))
CLIENT = pod("kiva", "client", {"app": "client"})
OTHER_NS_CLIENT = pod("monitoring", "prom", {"app": "client"})
LABELS = NamespaceLabels({"monitoring": {"team": "ops"}})


def _allowed(flow: Flow, *specs: dict) -> bool:
    return evaluate(flow, [_policy(s) for s in specs], LABELS).allowed  # type: ignore[arg-type]


def test_named_port_resolves_against_the_target_container() -> None:
    spec = {
        "podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
    }
    assert _allowed(Flow(CLIENT, SERVER, 8080, "TCP", "t"), spec)
    assert not _allowed(Flow(CLIENT, SERVER, 8081, "TCP", "t"), spec)
    assert not _allowed(Flow(CLIENT, SERVER, 8080, "UDP", "t"), spec)


def test_pod_selector_alone_means_the_policy_namespace_and_both_selectors_are_anded() -> None:
    same_ns_only = {
        "podSelector": {},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
    }
    assert _allowed(Flow(CLIENT, SERVER, 8080, "TCP", "t"), same_ns_only)
    assert not _allowed(Flow(OTHER_NS_CLIENT, SERVER, 8080, "TCP", "t"), same_ns_only)
    anded = {
        "podSelector": {},
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"team": "ops"}},
                        "podSelector": {"matchLabels": {"app": "x"}},
                    }
                ]
            }
        ],
    }
    assert not _allowed(Flow(OTHER_NS_CLIENT, SERVER, 8080, "TCP", "t"), anded)


def test_ip_block_except_and_end_port() -> None:
    spec = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}],
            }
        ],
    }
    assert _allowed(Flow(CLIENT, External("203.0.113.1", "x"), 8050, "TCP", "t"), spec)
    assert not _allowed(Flow(CLIENT, External("10.1.2.3", "x"), 8050, "TCP", "t"), spec)
    assert not _allowed(Flow(CLIENT, External("203.0.113.1", "x"), 8101, "TCP", "t"), spec)
    assert not _allowed(Flow(CLIENT, SERVER, 8050, "TCP", "t"), spec)  # ipBlock never matches a pod


def test_policy_types_default_ingress_plus_egress_only_when_egress_rules_exist() -> None:
    ingress_only = {"podSelector": {}}
    assert _policy(ingress_only).types == ("Ingress",)  # type: ignore[attr-defined]
    assert _allowed(Flow(CLIENT, External("203.0.113.1", "x"), 443, "TCP", "t"), ingress_only)
    with_egress = {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    assert _policy(with_egress).types == ("Ingress", "Egress")  # type: ignore[attr-defined]
    assert not _allowed(Flow(CLIENT, External("203.0.113.1", "x"), 443, "TCP", "t"), with_egress)


def test_an_unselected_pod_is_not_isolated() -> None:
    deny_server = {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress", "Egress"]}
    assert _allowed(Flow(CLIENT, External("203.0.113.1", "x"), 443, "TCP", "t"), deny_server)
    assert not _allowed(Flow(CLIENT, SERVER, 8080, "TCP", "t"), deny_server)


def test_required_flows_ignore_unrelated_plans() -> None:
    lone = [
        PlannedResource(
            "urn:pulumi:x::kiva::kubernetes:core/v1:ConfigMap::c", "kubernetes:core/v1:ConfigMap", "c", {}
        )
    ]
    assert network.summary(lone) == ["flows: 0 required, 0 allowed"]
    assert by_name(add(lone, "kubernetes:core/v1:ConfigMap", "d", {}), "d").props == {}
