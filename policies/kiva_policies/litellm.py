"""Reading the LiteLLM gateway's `config.yaml` out of a planned ConfigMap.

Residency (external providers), telemetry (callbacks), retention (spend logs) and the day-one flow
model all judge the same document; this module is the one place that finds and parses it, so that
none of those policies has to import another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiva_policies.base import BLINDED_SECRET, BlindedValueError, get, parse_yaml

#: Top-level keys of which at least one marks a YAML document as a LiteLLM proxy config.
LITELLM_SECTIONS = frozenset({"model_list", "general_settings", "litellm_settings", "router_settings"})


def litellm_config(props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parsed LiteLLM `config.yaml` of a ConfigMap, or None when the ConfigMap is not LiteLLM's."""
    text = get(props, "data", "config.yaml")
    if text is None:
        return None
    if text == BLINDED_SECRET:
        raise BlindedValueError("data.config.yaml")
    if not isinstance(text, str):
        return None
    document = parse_yaml(text)
    if not isinstance(document, dict):
        return None
    if not LITELLM_SECTIONS & document.keys():
        return None
    return document
