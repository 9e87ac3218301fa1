"""The secrets table's values are read only by reference, and every Secret holding them is produced.

`kiva-hardening-no-secret-literals` guesses secrets from names and values. This check needs no guess:
the platform declares, from its secrets table, which Kubernetes Secret keys hold secrets on this stack,
as the annotation `kiva.platform/secret-keys` on the platform namespace (a JSON list of
`{"secret": ..., "key": ...}`). For each declaring namespace it verifies, in that namespace:

- a container env var named like a declared key reads it with `valueFrom.secretKeyRef` from a
  declared Secret/key of that name, never as a literal, a ConfigMap key or any other source
  (keys the container gets through `envFrom.secretRef` are references as well);
- no ConfigMap has a `data`/`binaryData` key named like a declared key (a ConfigMap is stored and shown
  in plain text, and `envFrom.configMapRef` would turn its key into that env var);
- each declared Secret is produced by the plan: a `Secret` of that name, or an External Secrets
  `ExternalSecret` whose target is that Secret. Where the producer's keys are visible (an
  ExternalSecret's template or data; a Secret whose data is not blinded), the declared keys are among them.

Upstream facts (External Secrets `external-secrets.io/v1` CRD, ../shared/schemas/crds/
external-secrets.io_externalsecrets.yaml): `spec.target.name` "Defaults to the .metadata.name of the
ExternalSecret resource"; `spec.target.manifest` makes it create another kind (e.g. a ConfigMap) instead
of a Secret; with `spec.target.template` and `mergePolicy: Replace` (the default) the Secret's keys are
the template's `data` keys, otherwise the `spec.data[].secretKey`s (`dataFrom`/`templateFrom` add keys
that cannot be told from the plan). Kubernetes `EnvVarSource` (core/v1): `secretKeyRef`,
`configMapKeyRef`, `fieldRef`, `resourceFieldRef`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import (
    CONFIG_MAP,
    MANDATORY,
    NAMESPACE,
    as_list,
    containers,
    env_values,
    get,
    pod_spec,
    run_checks,
)

#: Annotation on the platform namespace: the Secret keys that hold the secrets table's values.
SECRET_KEYS_ANNOTATION = "kiva.platform/secret-keys"
SECRET = "kubernetes:core/v1:Secret"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
_EXAMPLE = '[{"secret":"kiva-gateway","key":"LITELLM_MASTER_KEY"}]'


@dataclass(frozen=True)
class Declaration:
    """What one namespace declares: `(secret, key)` pairs in declaration order."""

    namespace: str
    urn: str
    keys: tuple[tuple[str, str], ...]

    def pairs_named(self, key: str) -> list[str]:
        return [f"{s}/{k}" for s, k in self.keys if k == key]


def _parse(text: Any) -> tuple[tuple[str, str], ...] | None:
    """The declared pairs, or None when the annotation is not a JSON list of `{secret, key}` strings."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(f), str) and item[f] for f in ("secret", "key")
        ):
            return None
        pairs.append((item["secret"], item["key"]))
    return tuple(pairs)


def _namespace(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata", "namespace", default=None) or "default")


def _name(resource: Any) -> str:
    return str(get(resource.props, "metadata", "name", default=None) or resource.name)


def _check_env(declared: Declaration, workload: Any, report: ReportViolation) -> None:
    names = {key for _, key in declared.keys}
    what = f"{workload.resource_type.rsplit(':', 1)[-1]} {declared.namespace}/{_name(workload)}"
    for ref in containers(pod_spec(workload.resource_type, workload.props)):
        for name, entry in env_values(ref.container).items():
            if name not in names:
                continue
            allowed = declared.pairs_named(name)
            source = get(entry, "valueFrom", "secretKeyRef")
            if isinstance(source, Mapping) and f"{get(source, 'name')}/{get(source, 'key')}" in allowed:
                continue
            if "value" in entry:
                how = "a literal value"
            elif get(entry, "valueFrom", "configMapKeyRef") is not None:
                how = "a ConfigMap key"
            elif isinstance(source, Mapping):
                how = (
                    f"the Secret key {get(source, 'name')}/{get(source, 'key')}, which is not declared for it"
                )
            else:
                how = "no Secret"
            report(
                f"Container '{ref.name}' of {what}: env `{name}` holds a secret of the secrets table but is set "
                f"from {how}; read it with `valueFrom.secretKeyRef` from {' or '.join(allowed)}.",
                workload.urn,
            )


def _check_config_map(declared: Declaration, config_map: Any, report: ReportViolation) -> None:
    names = {key for _, key in declared.keys}
    for field in ("data", "binaryData"):
        data = get(config_map.props, field, default={})
        for key in sorted(str(k) for k in data) if isinstance(data, Mapping) else []:
            if key in names:
                report(
                    f"ConfigMap {declared.namespace}/{_name(config_map)} has the {field} key `{key}`, which holds a "
                    f"secret of the secrets table ({', '.join(declared.pairs_named(key))}); keep it only in that "
                    "Secret and read it with `secretKeyRef`.",
                    config_map.urn,
                )


def _external_secret_keys(props: Mapping[str, Any]) -> set[str] | None:
    """The keys the target Secret gets, or None when they can't be told (`dataFrom`, `templateFrom`)."""
    spec = get(props, "spec", default={}) or {}
    template = get(spec, "target", "template")
    if get(spec, "dataFrom") or get(template, "templateFrom"):
        return None
    from_data = {str(get(item, "secretKey")) for item in as_list(get(spec, "data"))}
    if not isinstance(template, Mapping):
        return from_data
    from_template = {str(k) for k in (get(template, "data", default={}) or {})}
    if get(template, "mergePolicy", default="Replace") == "Merge":
        return from_template | from_data
    return from_template


def _secret_keys(props: Mapping[str, Any]) -> set[str] | None:
    """A Secret's keys, or None when its data is blinded (inline Secrets always are, by design)."""
    keys: set[str] = set()
    for field in ("data", "stringData"):
        data = get(props, field)
        if data is None:
            continue
        if not isinstance(data, Mapping):
            return None
        keys |= {str(k) for k in data}
    return keys


def _producers(declared: Declaration, resources: Sequence[Any], secret: str) -> list[set[str] | None]:
    """The keys of each resource in the plan that produces the Secret `secret` (None: keys unknown)."""
    found: list[set[str] | None] = []
    for r in resources:
        if _namespace(r.props) != declared.namespace:
            continue
        if r.resource_type == SECRET and _name(r) == secret:
            found.append(_secret_keys(r.props))
        elif r.resource_type == EXTERNAL_SECRET:
            target = get(r.props, "spec", "target", default={}) or {}
            kind = get(target, "manifest", "kind", default="Secret")
            if kind == "Secret" and (get(target, "name", default=None) or _name(r)) == secret:
                found.append(_external_secret_keys(r.props))
    return found


def _check_produced(declared: Declaration, resources: Sequence[Any], report: ReportViolation) -> None:
    secrets = list(dict.fromkeys(secret for secret, _ in declared.keys))
    for secret in secrets:
        keys = [key for s, key in declared.keys if s == secret]
        producers = _producers(declared, resources, secret)
        if not producers:
            report(
                f"The platform declares the Secret {declared.namespace}/{secret} (keys {', '.join(keys)}) in "
                f"`{SECRET_KEYS_ANNOTATION}`, but the plan has neither a Secret of that name nor an ExternalSecret "
                "targeting it; the workloads reading it would not start.",
                declared.urn,
            )
            continue
        if any(p is None for p in producers):
            continue
        have = set().union(*(p for p in producers if p is not None))
        missing = [key for key in keys if key not in have]
        if missing:
            report(
                f"The platform declares the keys {', '.join(missing)} of the Secret {declared.namespace}/{secret}, "
                f"but what produces it in the plan writes only {', '.join(sorted(have)) or 'no keys'}.",
                declared.urn,
            )


def _declarations(resources: Sequence[Any], report: ReportViolation) -> list[Declaration]:
    found = []
    for r in resources:
        if r.resource_type != NAMESPACE:
            continue
        text = get(r.props, "metadata", "annotations", SECRET_KEYS_ANNOTATION)
        if text is None:
            continue
        pairs = _parse(text)
        if pairs is None:
            report(
                f"Namespace {_name(r)}: the annotation `{SECRET_KEYS_ANNOTATION}` must be a JSON list of "
                f"{{secret, key}} objects, e.g. {_EXAMPLE}.",
                r.urn,
            )
            continue
        found.append(Declaration(_name(r), r.urn, pairs))
    return found


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    checks = []
    for declared in _declarations(resources, report):
        for r in resources:
            if _namespace(r.props) != declared.namespace:
                continue
            if pod_spec(r.resource_type, r.props) is not None:
                checks.append(partial(_check_env, declared, r, report))
            elif r.resource_type == CONFIG_MAP:
                checks.append(partial(_check_config_map, declared, r, report))
        checks.append(partial(_check_produced, declared, resources, report))
    run_checks(checks)


secrets_by_reference = StackValidationPolicy(
    name="kiva-secrets-table-by-reference",
    description=(
        "Every Secret key the platform declares for its secrets table (`kiva.platform/secret-keys`) is produced "
        "by the plan and read by reference: env vars of that name use `secretKeyRef` to a declared key, and no "
        "ConfigMap holds a key of that name."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [secrets_by_reference]
