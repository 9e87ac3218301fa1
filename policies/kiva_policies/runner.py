"""Run the KIVA policy pack offline: the same `Policy` objects `pulumi preview --policy-pack` runs.

`kiva plan` and `kiva check` call `load_policy_config` and `run_pack`. The runner builds the very
arguments the Pulumi policy servicer builds (`ResourceValidationArgs` with props wrapped by
`unknown_checking_proxy`, `StackValidationArgs` with `PolicyResource`s), resolves the policy config the
way the CLI resolves `--policy-pack-config` (schema defaults, then `all`, then per-policy entries),
and turns values unknown at preview time into "not-verifiable" findings instead of passes or crashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from kiva_policies.base import engine_props
from kiva_policies.pack import POLICIES

#: `policies/config/<stack>.json`: the per-stage policy configuration, also given to `--policy-pack-config`.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

_LEVELS = {level.value: level for level in EnforcementLevel}


class PolicyConfigError(ValueError):
    """The policy configuration is malformed; `str()` names the file, the key and what is allowed."""


@dataclass(frozen=True)
class PlannedResource:
    """One resource as policies see it (props are camelCase inputs, like the engine's)."""

    urn: str
    type: str
    name: str
    props: dict
    parent: str = ""
    protect: bool = False
    provider: str = ""
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    policy: str
    enforcement: str  # "mandatory" | "advisory"
    status: str  # "violation" | "not-verifiable"
    urn: str
    message: str


@dataclass
class PolicyReport:
    policies: list[str]
    findings: list[Finding]
    levels: dict[str, str] = field(default_factory=dict)
    """Enforcement level in force per policy that ran ("mandatory" | "advisory")."""
    disabled: list[str] = field(default_factory=list)
    """Policies the configuration disabled (they did not run)."""
    settings: dict[str, dict] = field(default_factory=dict)
    """Configuration in force per policy that ran (schema defaults overlaid with the policy config)."""

    @property
    def mandatory_violations(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "violation" and f.enforcement == "mandatory"]

    def findings_of(self, policy: str) -> list[Finding]:
        return [f for f in self.findings if f.policy == policy]


# --- configuration ---------------------------------------------------------------------------------


def load_policy_config(stack: str | None, explicit: Path | None) -> tuple[dict, Path | None]:
    """The policy config in force and the file it came from.

    `explicit` (from `--policy-config`) wins; otherwise `policies/config/<stack>.json` when it exists;
    otherwise `({}, None)`: every policy at its own level (all mandatory) with its schema defaults,
    which are the strictest settings.
    """
    path = explicit
    if path is None and stack:
        candidate = CONFIG_DIR / f"{stack}.json"
        if candidate.is_file():
            path = candidate
    if path is None:
        return {}, None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PolicyConfigError(f"{path}: not JSON: {error}") from None
    resolve_config(document, source=str(path))  # validate now, so errors surface before any policy runs
    return document, Path(path)


def _level(value: Any, where: str) -> EnforcementLevel:
    if isinstance(value, str) and value in _LEVELS:
        return _LEVELS[value]
    raise PolicyConfigError(f"{where}: enforcement level must be one of {', '.join(_LEVELS)}, got {value!r}")


def resolve_config(config: Mapping[str, Any], source: str = "policy config") -> dict[str, tuple[str, dict]]:
    """Per policy: (enforcement level, properties), resolved like the Pulumi CLI.

    Start from each policy's level and its schema defaults, apply `all`, then each policy's own entry
    (a bare level string, or an object with `enforcementLevel` and properties). Unknown policy names and
    properties that do not match the schema are errors.
    """
    if not isinstance(config, Mapping):
        raise PolicyConfigError(f"{source}: must be a JSON object of policy names")
    by_name = {policy.name: policy for policy in POLICIES}
    resolved: dict[str, tuple[str, dict]] = {}
    for policy in POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        level = policy.enforcement_level or EnforcementLevel.ADVISORY
        resolved[policy.name] = (level.value, defaults)
    if "all" in config:
        all_value = config["all"]
        level_value = all_value.get("enforcementLevel") if isinstance(all_value, Mapping) else all_value
        level = _level(level_value, f"{source}: all")
        resolved = {name: (level.value, props) for name, (_, props) in resolved.items()}
    for name, value in config.items():
        if name == "all":
            continue
        if name not in by_name:
            raise PolicyConfigError(
                f"{source}: {name!r} is not a policy of this pack (known: {', '.join(sorted(by_name))})"
            )
        level_value, props = resolved[name]
        props = dict(props)
        if isinstance(value, str):
            level_value = _level(value, f"{source}: {name}").value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key == "enforcementLevel":
                    level_value = _level(item, f"{source}: {name}.enforcementLevel").value
                else:
                    props[key] = item
        else:
            raise PolicyConfigError(f"{source}: {name} must be an enforcement level or an object")
        _validate_properties(by_name[name], props, f"{source}: {name}")
        resolved[name] = (level_value, props)
    return resolved


def _validate_properties(policy: Policy, props: dict, where: str) -> None:
    schema = policy.config_schema
    known = schema.properties if schema else {}
    for key in props:
        if key not in known:
            raise PolicyConfigError(f"{where}: unknown property {key!r} (known: {', '.join(sorted(known))})")
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema is a dev dependency; the CLI validates itself
        return
    document = {
        "type": "object",
        "properties": known,
        "required": (schema.required if schema else None) or [],
    }
    try:
        jsonschema.validate(props, document)
    except jsonschema.ValidationError as error:
        path = ".".join(str(p) for p in error.absolute_path)
        raise PolicyConfigError(f"{where}.{path}: {error.message}") from None


# --- running ---------------------------------------------------------------------------------------


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        resource.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], resource.parent or None
    )


def _run(policy: Policy, args: Any, level: str, urn: str, findings: list[Finding]) -> None:
    def report(message: str, violation_urn: str | None = None) -> None:
        findings.append(Finding(policy.name, level, "violation", violation_urn or urn, message))

    try:
        result = policy.validate(args, report)  # type: ignore[attr-defined]
        if result is not None:
            import asyncio

            asyncio.run(result)
    except UnknownValueError as error:
        findings.append(
            Finding(policy.name, level, "not-verifiable", urn, f"not verifiable: {error.message}")
        )
    except _NotApplicableError:
        return
    except Exception as error:
        findings.append(
            Finding(
                policy.name,
                level,
                "not-verifiable",
                urn,
                f"not verifiable: the policy failed on this resource ({type(error).__name__}: {error})",
            )
        )


def run_pack(resources: list[PlannedResource], policy_config: dict) -> PolicyReport:
    """Run every enabled policy of the pack over `resources`; never raises for resource content."""
    resolved = resolve_config(policy_config)
    findings: list[Finding] = []
    ran: list[str] = []
    levels: dict[str, str] = {}
    disabled: list[str] = []
    in_force: dict[str, dict] = {}
    props_of = {resource.urn: engine_props(resource.props or {}) for resource in resources}
    # Proxies only intercept reads: one per resource serves every policy (building them dominates).
    proxied = {urn: unknown_checking_proxy(props) for urn, props in props_of.items()}
    stack_resources: list[PolicyResource] | None = None
    for policy in POLICIES:
        level, config = resolved[policy.name]
        if level == EnforcementLevel.DISABLED.value:
            disabled.append(policy.name)
            continue
        if level == EnforcementLevel.REMEDIATE.value:
            level = EnforcementLevel.MANDATORY.value
        ran.append(policy.name)
        levels[policy.name] = level
        in_force[policy.name] = dict(config)
        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.type,
                    proxied[resource.urn],
                    resource.urn,
                    resource.name,
                    _options(resource),
                    None,
                    dict(config),
                )
                _run(policy, args, level, resource.urn, findings)
        elif isinstance(policy, StackValidationPolicy):
            if stack_resources is None:
                stack_resources = _policy_resources(resources, proxied)
            _run(policy, StackValidationArgs(stack_resources, dict(config)), level, "", findings)
    return PolicyReport(policies=ran, findings=findings, levels=levels, disabled=disabled, settings=in_force)


def _policy_resources(resources: list[PlannedResource], proxied: dict[str, Any]) -> list[PolicyResource]:
    """`PolicyResource`s linked to their parents and dependencies, as `AnalyzeStack` links them."""
    built = {
        r.urn: PolicyResource(r.type, proxied[r.urn], r.urn, r.name, _options(r), None, None, [], {})
        for r in resources
    }
    for r in resources:
        if r.parent in built:
            built[r.urn].parent = built[r.parent]
        built[r.urn].dependencies.extend(built[d] for d in r.dependencies if d in built)
    return list(built.values())
