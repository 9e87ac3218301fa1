"""kiva-teams-have-budgets: every GatewayTeam in the plan has a budget above 0 and a LiteLLM period."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policies.harness import compliant_plan, mutate, res, run, violations

POLICY = "kiva-teams-have-budgets"
TEAM_TYPE = "pulumi-python:dynamic/kiva:GatewayTeam"


def _plan_with_team() -> list[Any]:
    team = res(
        TEAM_TYPE,
        "kiva-teams-sozialamt",
        {
            "admin_url": "https://llm.example.de",
            "master_key": "[secret]",
            "team_id": "kiva-sozialamt",
            "team_alias": "sozialamt",
            "models": ["qwen2.5-7b-instruct"],
            "max_budget": 500,
            "budget_duration": "30d",
            "rpm_limit": 600,
        },
    )
    return [*compliant_plan(), team]


def _messages(change: Any) -> list[str]:
    return [
        f.message for f in violations(run(mutate(_plan_with_team(), "kiva-teams-sozialamt", change)), POLICY)
    ]


def test_compliant_plan_with_a_team_passes() -> None:
    assert [f.message for f in violations(run(_plan_with_team()), POLICY)] == []


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("max_budget", None, "`max_budget` is None (must be a number above 0, e.g. 500)"),
        ("max_budget", 0, "`max_budget` is 0 (must be a number above 0, e.g. 500)"),
        ("max_budget", "500", "`max_budget` is '500' (must be a number above 0, e.g. 500)"),
        ("budget_duration", None, "`budget_duration` is None (must be a period such as '30d' or '1mo')"),
        (
            "budget_duration",
            "2mo",
            "`budget_duration` is '2mo' (must be a period such as '30d' or '1mo')",
        ),
        (
            "budget_duration",
            "monthly",
            "`budget_duration` is 'monthly' (must be a period such as '30d' or '1mo')",
        ),
    ],
)
def test_team_without_a_working_budget(field: str, value: Any, problem: str) -> None:
    def change(props: dict[str, Any]) -> None:
        if value is None:
            del props[field]
        else:
            props[field] = value

    assert _messages(change) == [f"Gateway team 'sozialamt' has no working budget: {problem}."]


def test_both_problems_in_one_message() -> None:
    def change(props: dict[str, Any]) -> None:
        del props["max_budget"], props["budget_duration"]

    assert _messages(change) == [
        "Gateway team 'sozialamt' has no working budget: `max_budget` is None (must be a number above 0, "
        "e.g. 500); `budget_duration` is None (must be a period such as '30d' or '1mo')."
    ]
