"""kiva-budgets-cover-local-models: every model served in the cluster has prices above 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.policies.harness import compliant_plan, mutate, run, set_litellm, violations

POLICY = "kiva-budgets-cover-local-models"
PREFIX = "LiteLLM config 'kiva-gateway-config': "


def _messages(change: Callable[[dict[str, Any]], Any]) -> list[str]:
    plan = mutate(compliant_plan(), "kiva-gateway-config", lambda props: set_litellm(props, change))
    return [finding.message for finding in violations(run(plan), POLICY)]


def _local_info(document: dict[str, Any]) -> dict[str, Any]:
    return document["model_list"][0]["model_info"]


def test_compliant_plan_passes() -> None:
    assert [finding.message for finding in violations(run(compliant_plan()), POLICY)] == []


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (lambda d: _local_info(d).pop("input_cost_per_token"), "`input_cost_per_token`"),
        (lambda d: _local_info(d).update(output_cost_per_token=0), "`output_cost_per_token`"),
        (
            lambda d: d["model_list"][0].pop("model_info"),
            "`input_cost_per_token` and no `output_cost_per_token`",
        ),
    ],
)
def test_a_local_model_without_prices_above_zero_is_refused(
    change: Callable[[dict[str, Any]], Any], missing: str
) -> None:
    assert _messages(change) == [
        f"{PREFIX}model 'llama-3.1-8b-instruct' (hosted_vllm/meta-llama/Llama-3.1-8B-Instruct) has no {missing} "
        "above 0, so no budget stops it (set `costPerMillionInputTokens`/`costPerMillionOutputTokens` or keep "
        "the default prices)."
    ]


def test_prices_in_litellm_params_count_and_provider_models_are_left_to_the_cost_map() -> None:
    def change(document: dict[str, Any]) -> None:
        local = document["model_list"][0]
        local["litellm_params"].update(local.pop("model_info"))
        document["model_list"][1].pop("model_info", None)  # azure/gpt-4o: priced by LiteLLM's cost map

    assert _messages(change) == []
