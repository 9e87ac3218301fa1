"""`kiva:teams`: the rules and messages of the settings, and what the offline plan registers for them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from infra.offline.engine import Plan
from infra.settings.teams import BUDGET_DURATION_PATTERN
from tests.test_config_messages import _error, _load

ADMIN_URL = "http://127.0.0.1:4000"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
TEAM_TYPE = "pulumi-python:dynamic/kiva:GatewayTeam"
KEY_TYPE = "pulumi-python:dynamic/kiva:GatewayKey"


def _team(**fields: Any) -> dict[str, Any]:
    return {
        "alias": "sozialamt",
        "models": ["llama-3.2-3b-instruct"],
        "maxBudget": 500,
        "budgetDuration": "30d",
        **fields,
    }


def _dev_error(*teams: dict[str, Any]) -> str:
    return _error("dev", teams=list(teams), gatewayAdminUrl=ADMIN_URL)


def test_a_team_with_keys_loads() -> None:
    settings = _load(
        "dev",
        teams=[_team(keys=[{"name": "bescheid-assistent", "maxBudget": 50}])],
        gatewayAdminUrl=ADMIN_URL,
    )
    assert [(t.alias, t.max_budget, t.budget_duration) for t in settings.teams] == [
        ("sozialamt", 500.0, "30d")
    ]
    assert settings.gateway_admin_endpoint == ADMIN_URL


@pytest.mark.parametrize("duration", ["30d", "1mo", "24h", "2w", "90m", "3600s"])
def test_litellm_durations_are_accepted(duration: str) -> None:
    assert re.match(BUDGET_DURATION_PATTERN, duration)
    assert _load("dev", teams=[_team(budgetDuration=duration)], gatewayAdminUrl=ADMIN_URL).teams


#: Periods at the pattern's edges: what it takes (up to its largest numbers), and what LiteLLM refuses
#: (months other than 1, 0, a bare number) or reads loosely (a word, trailing text) that it does not take.
TAKEN = ("1s", "1mo", "7d", "30d", "99999s", "99999m", "99999h", "99999d", "99999w")
NOT_TAKEN = ("2mo", "12mo", "0d", "30", "d", "100000d", "monthly", "30dx", "1 d", "1M")


def test_every_period_the_settings_take_is_one_litellm_can_reset() -> None:
    """The pattern against LiteLLM 1.108.7's own check of every budget write (`validate_budget_duration`)."""
    from litellm.proxy.common_utils.timezone_utils import budget_duration_error

    assert [d for d in (*TAKEN, *NOT_TAKEN) if re.match(BUDGET_DURATION_PATTERN, d)] == list(TAKEN)
    assert {d: budget_duration_error(d) for d in TAKEN} == dict.fromkeys(TAKEN)
    assert budget_duration_error("2mo") == (
        "Invalid budget_duration '2mo'. Use a format like '1h', '24h', '7d', or '30d'."
    )


@pytest.mark.parametrize(
    ("team", "message"),
    [
        ({"budgetDuration": "30 days"}, "kiva:teams[0].budgetDuration: must look like 30d (got '30 days')"),
        ({"budgetDuration": "30"}, "kiva:teams[0].budgetDuration: must look like 30d (got '30')"),
        ({"budgetDuration": "2mo"}, "kiva:teams[0].budgetDuration: must look like 30d (got '2mo')"),
        (
            {"keys": [{"name": "a", "maxBudget": 5, "budgetDuration": "3mo"}]},
            "kiva:teams[0].keys[0].budgetDuration: must look like 30d (got '3mo')",
        ),
        ({"maxBudget": 0}, "kiva:teams[0].maxBudget: must be greater than 0.0 (got 0)"),
        ({"maxBudget": None}, "kiva:teams[0].maxBudget: required key is missing"),
        ({"budgetDuration": None}, "kiva:teams[0].budgetDuration: required key is missing"),
        (
            {"models": ["gpt-4o"]},
            "kiva:teams[0].models[0]: 'gpt-4o' is not served by this stack; use a servedName of kiva:models "
            "or a name of kiva:providers[].models (served: llama-3.2-3b-instruct)",
        ),
        (
            {"keys": [{"name": "a"}, {"name": "a"}]},
            "kiva:teams[0].keys[1].name: duplicate key name 'a' in team 'sozialamt'",
        ),
        (
            {"keys": [{"name": "a", "models": ["other"]}]},
            "kiva:teams[0].keys[0].models[0]: 'other' is not among the models of team 'sozialamt' "
            "(llama-3.2-3b-instruct); a key may only narrow its team's models",
        ),
        (
            {"keys": [{"name": "a", "budgetDuration": "30d"}]},
            "kiva:teams[0].keys[0].budgetDuration: resets a budget the key does not have; set maxBudget as "
            "well (e.g. maxBudget: 50, budgetDuration: 30d) or remove budgetDuration",
        ),
        (
            {"keys": [{"name": "a", "maxBudget": 900}]},
            "kiva:teams[0].keys[0].maxBudget: 900 is above the maxBudget of team 'sozialamt' (500); the team's "
            "budget stops the key first (e.g. maxBudget: 500)",
        ),
    ],
)
def test_team_rules(team: dict[str, Any], message: str) -> None:
    fields = {k: v for k, v in _team(**team).items() if v is not None}
    assert _dev_error(fields) == f"Pulumi.dev.yaml: {message}"


def test_duplicate_alias() -> None:
    assert _dev_error(_team(), _team()) == (
        "Pulumi.dev.yaml: kiva:teams[1].alias: duplicate team alias 'sozialamt'; e.g. sozialamt-2"
    )


def test_teams_need_a_url_pulumi_can_reach() -> None:
    assert _error("dev", teams=[_team()]) == (
        "Pulumi.dev.yaml: kiva:teams: teams are created through the gateway's management API from where "
        "`pulumi up` runs, which needs a URL outside the cluster; set gateway.ingress (e.g. host: "
        "llm.example.de) or kiva:gatewayAdminUrl (e.g. https://llm.example.de, or http://127.0.0.1:4000 "
        "through `kubectl port-forward`)"
    )


# --- the offline plan ---------------------------------------------------------------------------------


def test_prod_plans_its_team_key_and_key_secret(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    [team] = plan.of_type(TEAM_TYPE)
    assert team.name == "kiva-teams-sozialamt"
    assert {
        k: team.inputs[k] for k in ("team_id", "team_alias", "max_budget", "budget_duration", "admin_url")
    } == {
        "team_id": "kiva-sozialamt",
        "team_alias": "sozialamt",
        "max_budget": 500,
        "budget_duration": "30d",
        "admin_url": "https://llm.example.de",
    }
    assert team.inputs["master_key"][SECRET_SIGNATURE] == "1b47061264138c4ac30d75fd1eb44270"
    [key] = plan.of_type(KEY_TYPE)
    assert (key.inputs["key_alias"], key.inputs["team_id"]) == (
        "sozialamt/bescheid-assistent",
        "kiva-sozialamt",
    )
    assert team.urn in key.dependencies
    # On Azure the key goes into the stack's Key Vault (through ARM, as the deployer), never a Kubernetes
    # Secret. The mock engine does not mark `properties.value` secret by itself: the program wraps it (and
    # the wrapped value makes the whole `properties` object secret).
    secret = plan.named("kiva-teams-sozialamt-bescheid-assistent-secret")
    assert secret.type == "azure-native:keyvault:Secret"
    assert secret.inputs["secretName"] == "kiva-key-sozialamt-bescheid-assistent"
    assert secret.inputs["properties"][SECRET_SIGNATURE] == "1b47061264138c4ac30d75fd1eb44270"
    vault = plan.of_type("azure-native:keyvault:Vault")[0]
    officer = plan.named("kiva-deployer-officer")
    assert {key.urn, officer.urn} <= set(secret.dependencies)
    assert vault.urn in secret.dependencies  # the vault's name is an input
    assert secret.provider.startswith(plan.of_type("pulumi:providers:azure-native")[0].urn)
    assert not [
        r
        for r in plan.of_type("kubernetes:core/v1:Secret")
        if r.inputs["metadata"]["name"].startswith("kiva-key-")
    ]


def test_without_a_secret_manager_a_key_becomes_a_kubernetes_secret(plan_with: Callable[..., Plan]) -> None:
    plan = plan_with(
        "local",
        {
            "kiva:gatewayAdminUrl": ADMIN_URL,
            "kiva:teams": [_team(models=["qwen2.5-0.5b-instruct"], keys=[{"name": "bescheid-assistent"}])],
        },
    )
    [key] = plan.of_type(KEY_TYPE)
    secret = plan.named(f"kiva-teams-{key.inputs['key_alias'].replace('/', '-')}-secret")
    assert secret.type == "kubernetes:core/v1:Secret"
    assert (secret.inputs["metadata"]["name"], secret.inputs["metadata"]["namespace"]) == (
        "kiva-key-" + key.inputs["key_alias"].replace("/", "-"),
        "kiva",
    )
    assert secret.inputs["stringData"][SECRET_SIGNATURE] == "1b47061264138c4ac30d75fd1eb44270"
    assert "api-key" in secret.inputs["stringData"]["value"]
    assert key.urn in secret.dependencies
    assert plan.of_type("azure-native:keyvault:Secret") == []


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_stacks_without_teams_register_no_team(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    assert plan.of_type(TEAM_TYPE) == [] and plan.of_type(KEY_TYPE) == []
    assert plan.of_type("kiva:platform:GatewayTeams") == []
