"""kiva-budgets-cover-local-models: every model served in the cluster has a price, so budgets stop it.

LiteLLM 1.108.7 books a request at the price it finds for the model and stops a key or team whose spend
reaches its budget. No cost map knows a model served by the cluster's vLLM (`hosted_vllm/…`): without
prices of its own it is booked at 0 and no budget ever stops it, and a model whose prices are all 0 has
its budget checks skipped outright (`is_model_cost_zero`, `litellm/proxy/auth/auth_checks.py:535`). So
each such entry of the gateway's `config.yaml` must carry `input_cost_per_token` and
`output_cost_per_token` above 0, in `model_info` or `litellm_params` (where LiteLLM reads them,
`Router._create_deployment`). The stack writes them (components/platform/model_costs.py); this check
keeps a fork or a hand-edited config from dropping them. External providers' models are priced by
LiteLLM's cost map or the stack file; the settings refuse an OpenAI-compatible endpoint's model without
prices, and `kiva:gateway.refuseUnpricedModels` refuses any unpriced model at run time.
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
    for entry in document.get("model_list") or []:
        model = str((entry.get("litellm_params") or {}).get("model", ""))
        if model.startswith(LOCAL_MODEL_PREFIX) and (missing := _unpriced(entry)):
            report(
                f"LiteLLM config '{args.name}': model '{entry.get('model_name')}' ({model}) has no "
                f"{' and no '.join(f'`{m}`' for m in missing)} above 0, so no budget stops it (set "
                "`costPerMillionInputTokens`/`costPerMillionOutputTokens` or keep the default prices).",
                None,
            )


budgets_cover_local_models = ResourceValidationPolicy(
    name="kiva-budgets-cover-local-models",
    description=(
        "Every model served in the cluster has a price above 0 in the gateway's config, so that team and "
        "key budgets stop its requests."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [budgets_cover_local_models]
