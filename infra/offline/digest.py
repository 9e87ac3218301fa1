"""The plan as `pulumi preview --json` would print it (Pulumi's `PreviewDigest`), secrets blinded.

`kiva plan --json` writes this shape and `kiva check` reads it back, so a reviewer can check a real
`pulumi preview --json` file and an offline plan with the same code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from infra.offline.engine import Plan, Registration

SECRET = "[secret]"
"""How `pulumi preview --json` shows a secret value."""


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(_special_sig_key) == _special_secret_sig


def blind(value: Any) -> Any:
    """A copy of `value` with every secret replaced by `[secret]` and integral floats made ints.

    The mock engine hands numbers over as floats (`replicas: 2.0`); the real engine's JSON has `2`.
    """
    if is_secret(value):
        return SECRET
    if isinstance(value, Mapping):
        return {key: blind(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [blind(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _new_state(resource: Registration) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "custom": resource.custom,
        "delete": False,
        "id": "",
        "type": resource.type,
        "inputs": blind(resource.inputs),
        "parent": resource.parent,
        "protect": resource.protect,
        "external": False,
        "dependencies": list(resource.dependencies),
        "provider": resource.provider,
        "retainOnDelete": resource.retain_on_delete,
        "deleteBeforeReplace": resource.delete_before_replace,
    }


def preview_digest(plan: Plan) -> dict[str, Any]:
    """The plan as a `PreviewDigest`: every registration a `create` step."""
    steps = [
        {"op": "create", "urn": r.urn, "provider": r.provider, "newState": _new_state(r)}
        for r in plan.resources
    ]
    config = {
        key: (SECRET if key in plan.secret_keys else value) for key, value in sorted(plan.config.items())
    }
    return {
        "config": config,
        "steps": steps,
        "duration": 0,
        "changeSummary": dict(Counter(step["op"] for step in steps)),
    }
