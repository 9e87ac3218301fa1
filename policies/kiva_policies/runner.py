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

from kiva_policies.base import NAMESPACE, declared_location, engine_props
from kiva_policies.exceptions import EXCEPTIONS_DIR as EXCEPTIONS_DIR
from kiva_policies.exceptions import ExceptionSet
from kiva_policies.exceptions import exceptions_path as exceptions_path
from kiva_policies.metadata import EXCEPTIONS_RULE
from kiva_policies.pack import POLICIES
from kiva_policies.regions import (
    AZURE_REGIONS,
    KUBERNETES_REGIONS,
    S3_REGIONS,
    is_eu,
)

#: `policies/config/<stack>.json`: the per-stage policy configuration, also given to `--policy-pack-config`.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
# `EXCEPTIONS_DIR` (`policies/exceptions/<stack>.yaml`) and `exceptions_path` (`--exceptions FILE`, else
# the stack's file when it exists) live in `kiva_policies.exceptions`; they are re-exported here.


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
    status: str  # "violation" | "not-verifiable" | "waived"
    urn: str
    message: str
    waiver: str = ""
    """For a waived finding: the justification of the exception that waived it."""


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
    config_source: str = ""
    """Where the policy config came from, in words (a file, derived from the declaration, or defaults)."""
    exceptions: ExceptionSet | None = None
    """The exceptions file applied to this run (`apply_exceptions`), if any."""

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


# --- a stack without its own config file ------------------------------------------------------------

#: The stages whose configs ship in `policies/config/`, by the `kiva:environment` of their stack file
#: (tests/policies/test_derived_config.py keeps this in step with `Pulumi.<stage>.yaml`). A stack
#: without a file gets the strictest settings of the shipped stages of its own environment.
STAGE_ENVIRONMENTS = {"dev": "development", "prod": "production", "local": "development"}
SHIPPED_STAGES = tuple(STAGE_ENVIRONMENTS)
#: Policies whose settings say *where* data may be; a derived config takes them from the declaration.
RESIDENCY_PREFIX = "kiva-residency-"
_STRICTNESS = ("disabled", "advisory", "remediate", "mandatory")


@dataclass(frozen=True)
class ConfigChoice:
    """The policy config in force and, for reviewers, where it came from."""

    config: dict
    path: Path | None = None
    """The file it was read from, or `None`."""
    derived_from: tuple[str, str] | None = None
    """(region, jurisdiction) the config was derived from, when no file exists for the stack."""
    stages: tuple[str, ...] = SHIPPED_STAGES
    """The shipped stages whose strictest settings a derived config takes."""
    override: str = ""
    """What would replace a derived or default config (`policies/config/<stack>.json`, or `--policy-config`)."""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        if self.derived_from is not None:
            region, jurisdiction = self.derived_from
            text = (
                f"derived (no config file): residency from the declared region {region} and jurisdiction "
                f"{jurisdiction}, every other policy mandatory with the strictest settings of the shipped "
                f"stages ({', '.join(self.stages)}); {self.override} would override it"
            )
        else:
            text = f"none (strictest settings): the pack defaults apply; {self.override} would override it"
        return text + "".join(f"; {note}" for note in self.notes)


def declarations(resources: list[PlannedResource]) -> set[tuple[str, str]]:
    """(region, jurisdiction) pairs the plan's Namespaces declare (annotations `kiva.platform/…`)."""
    found = set()
    for resource in resources:
        if resource.type != NAMESPACE:
            continue
        declared = declared_location(engine_props(resource.props or {}))
        if declared is not None and all(isinstance(v, str) and v for v in declared):
            found.add((str(declared[0]), str(declared[1])))
    return found


def choose_policy_config(
    stack: str | None,
    explicit: Path | None,
    resources: list[PlannedResource],
    declared: tuple[str, str] | None = None,
    environment: str | None = None,
) -> ConfigChoice:
    """`--policy-config`, else `policies/config/<stack>.json`, else a config derived from the declaration.

    `declared` is the stack's own (region, jurisdiction) and `environment` its `kiva:environment` when
    the caller knows the settings (`kiva plan`); otherwise the plan's Namespace annotations are read and
    the stages of every environment count. Without any declaration the pack defaults apply.
    """
    config, path = load_policy_config(stack, explicit)
    if path is not None:
        return ConfigChoice(config, path)
    override = (
        f"{CONFIG_DIR.parent.name}/{CONFIG_DIR.name}/{stack}.json (write it with `kiva policy-config {stack}`)"
        if stack
        else "--policy-config FILE"
    )
    found = {declared} if declared else declarations(resources)
    if len(found) != 1:
        why = (
            "the plan declares no region and jurisdiction"
            if not found
            else f"the plan declares several locations ({', '.join(sorted(map('/'.join, found)))})"
        )
        return ConfigChoice({}, override=override, notes=(f"not derived: {why}",))
    region, jurisdiction = next(iter(found))
    derived, notes = derive_policy_config(region, jurisdiction, environment)
    return ConfigChoice(
        derived,
        derived_from=(region, jurisdiction),
        stages=stages_of(environment),
        override=override,
        notes=tuple(notes),
    )


def stages_of(environment: str | None) -> tuple[str, ...]:
    """The shipped stages of `environment`; every shipped stage when it is unknown or has none."""
    return tuple(s for s, env in STAGE_ENVIRONMENTS.items() if env == environment) or SHIPPED_STAGES


def _shipped(stage_names: tuple[str, ...]) -> dict[str, dict[str, tuple[str, dict]]]:
    stages = {}
    for stage in stage_names:
        path = CONFIG_DIR / f"{stage}.json"
        if path.is_file():
            stages[stage] = resolve_config(json.loads(path.read_text(encoding="utf-8")), source=str(path))
    return stages


def _strictest_value(key: str, values: list[Any]) -> Any:
    """The strictest of the stages' values of one property (`None`: no rule; the schema default applies)."""
    if all(v == values[0] for v in values):
        return values[0]
    if all(isinstance(v, bool) for v in values):
        return any(values) if key.startswith("require") else None
    if all(isinstance(v, int | float) for v in values):
        return max(values) if key.startswith("min") else min(values) if key.startswith("max") else None
    if all(isinstance(v, list) for v in values):
        if key.startswith(("allowed", "exempt")):  # fewer exceptions is stricter
            return [item for item in values[0] if all(item in v for v in values[1:])]
        return list(dict.fromkeys(item for v in values for item in v))  # more detection is stricter
    return None


def _strictest_properties(name: str, by_stage: dict[str, dict], notes: list[str]) -> dict:
    keys = sorted({key for props in by_stage.values() for key in props})
    merged = {}
    for key in keys:
        value = _strictest_value(key, [props.get(key) for props in by_stage.values()])
        if value is not None:
            merged[key] = value
    for key in [k for k in keys if k.startswith("min")]:
        upper = "max" + key[3:]
        if upper in merged and merged[key] > merged[upper]:
            # No range is inside every stage's range: keep the stage with the longest minimum whole.
            stage = max(by_stage, key=lambda s: by_stage[s].get(key, 0))
            merged[key], merged[upper] = by_stage[stage][key], by_stage[stage][upper]
            notes.append(
                f"{name}: the shipped stages' {key}/{upper} ranges do not overlap; {stage}'s "
                f"{merged[key]}..{merged[upper]} is used"
            )
    return merged


def _residency(region: str, country: str) -> dict[str, dict]:
    """Residency settings that allow only `country` (and the declared region itself)."""

    def in_country(table: Mapping[str, Any]) -> list[str]:
        return sorted(name for name, r in table.items() if r.country == country)

    regions = sorted({*in_country(AZURE_REGIONS), *in_country(KUBERNETES_REGIONS), *in_country(S3_REGIONS)})
    known = {**S3_REGIONS, **KUBERNETES_REGIONS, **AZURE_REGIONS}.get(region)
    if region not in regions and (known is None or not known.country):  # on-prem, or a region KIVA lacks
        regions = sorted({*regions, region})
    return {
        "kiva-residency-location-in-allow-list": {"allowedLocations": in_country(AZURE_REGIONS)},
        "kiva-residency-declared-region-in-allow-list": {
            "allowedRegions": regions,
            "allowedJurisdictions": [country],
            "declaredRegion": region,
            "declaredJurisdiction": country,
        },
        "kiva-residency-backup-destinations": {
            "allowedAzureRegions": in_country(AZURE_REGIONS),
            "allowedS3Regions": in_country(S3_REGIONS),
        },
    }


def derive_policy_config(
    region: str, jurisdiction: str, environment: str | None = None
) -> tuple[dict, list[str]]:
    """A policy config for a stack with no file of its own; never looser than a shipped stage.

    Every non-residency policy is mandatory with the strictest value any shipped stage of the same
    `environment` sets (highest minimum, lowest maximum, fewest exceptions): a development fork is held
    to dev and local, a production fork to prod, an unknown environment to all three. Residency allows only the declared jurisdiction's
    country: its Azure, Kubernetes and (unambiguous) S3 regions, plus the declared region itself when
    KIVA knows no country for it (`on-prem`). A jurisdiction outside the EU/EEA, or `EU` (not one
    country), derives nothing for residency: the pack's EU/EEA defaults apply and judge it. External
    LLM providers keep the shipped EU/EEA jurisdiction list (no stage narrows it).
    """
    notes: list[str] = []
    stages = _shipped(stages_of(environment))
    config: dict[str, Any] = {}
    for policy in POLICIES:
        by_stage = {stage: resolved[policy.name][1] for stage, resolved in stages.items()}
        props = _strictest_properties(policy.name, by_stage, notes)
        if policy.name.startswith(RESIDENCY_PREFIX):
            props = {k: v for k, v in props.items() if k in ("allowedProviders",)}
        config[policy.name] = {"enforcementLevel": _STRICTNESS[-1], **props}
    if len(jurisdiction) == 2 and jurisdiction.isupper() and is_eu(jurisdiction):
        for name, props in _residency(region, jurisdiction).items():
            config[name].update(props)
    else:
        notes.append(
            f"jurisdiction {jurisdiction!r} is not one EU/EEA country: residency keeps the pack's EU/EEA "
            "defaults"
        )
    resolve_config(config, source="derived policy config")  # the schema still holds
    return config, notes


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


def apply_exceptions(report: PolicyReport, exceptions: ExceptionSet) -> PolicyReport:
    """Waive the violations an active exception matches; report expired and malformed ones as violations.

    A waived finding keeps its policy, level, resource and message, gets status "waived" and the
    exception's justification, and no longer counts as a mandatory violation. Each problem of the
    exceptions file is a mandatory violation of `kiva-exceptions-valid`.
    """
    findings: list[Finding] = []
    for finding in report.findings:
        entry = exceptions.match(finding.policy, finding.urn) if finding.status == "violation" else None
        if entry is not None and entry.exception is not None:
            entry.waived += 1
            finding = Finding(
                finding.policy,
                finding.enforcement,
                "waived",
                finding.urn,
                finding.message,
                entry.exception.justification(),
            )
        findings.append(finding)
    rule = EXCEPTIONS_RULE.id
    findings += [Finding(rule, "mandatory", "violation", "", problem) for problem in exceptions.problems]
    report.findings = findings
    if rule not in report.policies:
        report.policies.append(rule)
    report.levels[rule] = "mandatory"
    report.exceptions = exceptions
    return report


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
