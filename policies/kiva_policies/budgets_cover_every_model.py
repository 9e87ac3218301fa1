"""kiva-budgets-cover-every-model: no request through the gateway escapes the team and key budgets.

LiteLLM 1.108.7 books a request at the price it finds for the model and stops a key or team whose spend
reaches its budget. A model it finds no price for is booked at 0, so no budget ever stops it; a model
whose prices are all 0 has its budget checks skipped outright (`is_model_cost_zero`,
`litellm/proxy/auth/auth_checks.py:535`). Two settings of the gateway's `config.yaml` close that gap:

- `litellm_settings.block_requests_for_models_without_pricing: true`: the proxy refuses a request for a
  model it cannot price with HTTP 403 instead of serving it for free (`common_checks`, auth_checks.py:
  1136-1146);
- every model served in the cluster (`hosted_vllm/…`) carries its prices, `input_cost_per_token` and
  `output_cost_per_token` above 0 in `model_info` or `litellm_params`: no cost map knows these models,
  so without them the gate above would refuse the model (and without the gate, it would be free).

External providers' models are priced by LiteLLM's cost map where it knows them; whether it does is
decided at run time, not in the plan (the gate refuses the others, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from kiva_policies.base import MANDATORY
from kiva_policies.litellm import litellm_config

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
LOCAL_MODEL_PREFIX = "hosted_vllm/"
PRICES = ("input_cost_per_token", "output_cost_per_token")


def _is_price(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _unpriced(entry: Mapping[str, Any]) -> list[str]:
    """The prices a local model's entry lacks (from `model_info`, else `litellm_params`)."""
    info = entry.get("model_info") or {}
    params = entry.get("litellm_params") or {}
    return [price for price in PRICES if not _is_price(info.get(price, params.get(price)))]


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    document = litellm_config(args.props)
    if document is None:
        return
    problems = []
    gate = (document.get("litellm_settings") or {}).get("block_requests_for_models_without_pricing")
    if gate is not True:
        problems.append(
            f"`litellm_settings.block_requests_for_models_without_pricing` is {gate!r} (must be true, so that "
            "a model LiteLLM cannot price is refused instead of served for free)"
        )
    for entry in document.get("model_list") or []:
        model = str((entry.get("litellm_params") or {}).get("model", ""))
        if model.startswith(LOCAL_MODEL_PREFIX) and (missing := _unpriced(entry)):
            problems.append(
                f"model '{entry.get('model_name')}' ({model}) has no {' and no '.join(f'`{m}`' for m in missing)} "
                "above 0 (set `costPerMillionInputTokens`/`costPerMillionOutputTokens` or keep the default prices)"
            )
    if problems:
        report(f"LiteLLM config '{args.name}' lets requests escape the budgets: {'; '.join(problems)}.", None)


budgets_cover_every_model = ResourceValidationPolicy(
    name="kiva-budgets-cover-every-model",
    description=(
        "The gateway refuses models it cannot price, and every model served in the cluster has a price "
        "above 0, so that team and key budgets stop every request."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [budgets_cover_every_model]
