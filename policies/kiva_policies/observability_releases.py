"""How the observability policies find the monitoring charts' values in a plan.

A `kubernetes:helm.sh/v3:Release` carries the chart's values in its `values` input (a `pulumi preview
--json` step shows them under `newState.inputs.values`). The chart is named by `chart`: a bare name
(`kube-prometheus-stack`), `repo/name`, an OCI reference or a local path ending in `name-version`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kiva_policies.base import BLINDED_SECRET, BlindedValueError, get

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
KUBE_PROMETHEUS_STACK = "kube-prometheus-stack"
GRAFANA = "grafana"
LOKI = "loki"

_VERSION_SUFFIX = re.compile(r"-v?\d+(\.\d+)*([-+][\w.]+)?$")


def chart_name(props: Mapping[str, Any]) -> str:
    """`prometheus-community/kube-prometheus-stack`, `oci://…/kube-prometheus-stack`, `./charts/
    kube-prometheus-stack-88.5.3` → `kube-prometheus-stack`."""
    chart = str(get(props, "chart") or "").rstrip("/")
    base = chart.rsplit("/", 1)[-1].removesuffix(".tgz")
    return _VERSION_SUFFIX.sub("", base)


def release_values(resource_type: str, props: Mapping[str, Any], *charts: str) -> Mapping[str, Any] | None:
    """The values of a Release of one of `charts`; None for anything else. Blinded values are unverifiable."""
    if resource_type != HELM_RELEASE or chart_name(props) not in charts:
        return None
    values = get(props, "values")
    if values == BLINDED_SECRET:
        raise BlindedValueError("values")
    return values if isinstance(values, Mapping) else {}


def release_label(props: Mapping[str, Any], fallback: str) -> str:
    name = get(props, "name") or fallback
    namespace = get(props, "namespace")
    return f"{namespace}/{name}" if namespace else str(name)


def literal(value: Any, path: str) -> Any:
    """The value, or `BlindedValueError` when the plan blinds it."""
    if value == BLINDED_SECRET:
        raise BlindedValueError(path)
    return value


def is_false(value: Any) -> bool:
    """`false` as Helm renders it into an ini/YAML file: the boolean, or the string `false`."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")
