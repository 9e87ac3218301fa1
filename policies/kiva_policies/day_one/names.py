"""Day-one check: names, label keys/values and annotation keys the API server accepts.

Schema validation sees strings; the API server applies k8s.io/apimachinery `pkg/util/validation`:
- object names: DNS-1123 subdomain (≤253, `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.…)*`) for most kinds;
  DNS-1123 label (≤63, no dots) for Namespace (`ValidateNamespaceName`); DNS-1035 label (≤63, starts
  with a letter) for Service (`ValidateServiceName`; RelaxedServiceNameValidation is alpha in 1.34);
- label and annotation keys: qualified names (`IsQualifiedName`): an optional DNS-1123 subdomain prefix
  and `/`, then a name of ≤63 characters `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`;
- label values (`IsValidLabelValue`): ≤63 characters, `(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?`,
  so a region such as `de/fra` cannot be a label value;
- container names are DNS-1123 labels; container and Service port names are IANA service names
  (`IsValidPortName`: ≤15, lower-case letters, digits and `-`, at least one letter, no `--`, not at the
  start or end).
Helm release names must also be DNS-1123 subdomains of at most 53 characters (Helm `ValidateReleaseName`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from pulumi_policy import Policy, ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import MANDATORY, as_list, containers, get, is_list, pod_spec, run_checks

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[-a-z0-9]+$")

NAMESPACE_KIND = "kubernetes:core/v1:Namespace"
SERVICE_KIND = "kubernetes:core/v1:Service"
HELM = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
#: Types whose props are not a Kubernetes object (providers, Helm releases, YAML/kustomize groups).
NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize", "pulumi:providers:")


def subdomain_error(value: str) -> str | None:
    if len(value) > 253:
        return "longer than 253 characters"
    return None if _SUBDOMAIN.match(value) else "not a DNS-1123 subdomain (lower case a-z, 0-9, '-', '.')"


def label_error(value: str) -> str | None:
    if len(value) > 63:
        return "longer than 63 characters"
    return None if _LABEL.match(value) else "not a DNS-1123 label (lower case a-z, 0-9, '-')"


def dns1035_error(value: str) -> str | None:
    if len(value) > 63:
        return "longer than 63 characters"
    return None if _DNS1035.match(value) else "not a DNS-1035 label (starts with a letter; a-z, 0-9, '-')"


def qualified_name_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return "has more than one '/'"
    if key.count("/") == 1 and not prefix:
        return "has an empty prefix"
    if prefix and subdomain_error(prefix):
        return f"prefix '{prefix}' is {subdomain_error(prefix)}"
    if len(name) > 63:
        return "name part longer than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return "name part must be alphanumeric, '-', '_' or '.', starting and ending alphanumeric"
    return None


def label_value_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return "not a string"
    if len(value) > 63:
        return "longer than 63 characters"
    if not _LABEL_VALUE.match(value):
        return "must be alphanumeric, '-', '_' or '.', starting and ending alphanumeric (no '/')"
    return None


def port_name_error(value: str) -> str | None:
    if len(value) > 15:
        return "longer than 15 characters"
    if not _PORT_NAME.match(value) or not re.search(r"[a-z]", value):
        return "must be lower case a-z, 0-9 and '-' with at least one letter"
    if "--" in value or value.startswith("-") or value.endswith("-"):
        return "must not start or end with '-' or contain '--'"
    return None


#: Keys under which no label or annotation map lives; not walking them also keeps values that are unknown
#: at preview time (an env value from an output) from making the whole check unverifiable.
_NO_LABELS_BELOW = frozenset(
    {"data", "stringData", "binaryData", "containers", "initContainers", "ephemeralContainers", "volumes"}
)


def _maps(value: Any, path: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Every label map (`labels`, `matchLabels`, `nodeSelector`, a Service's `selector`) and annotation map."""
    if isinstance(value, Mapping):
        for key in value:
            item = value[key]
            where = f"{path}.{key}" if path else str(key)
            if key in ("labels", "matchLabels", "nodeSelector") and isinstance(item, Mapping):
                yield "label", where, item
            elif key == "annotations" and isinstance(item, Mapping):
                yield "annotation", where, item
            elif (
                key == "selector"
                and path.endswith("spec")
                and isinstance(item, Mapping)
                and ("matchLabels" not in item and "matchExpressions" not in item)
            ):
                yield "label", where, item
            elif key == "matchExpressions" and is_list(item):
                for index, expression in enumerate(item):
                    values = as_list(get(expression, "values"))
                    labels = {str(get(expression, "key", default="")): v for v in values} or {
                        str(get(expression, "key", default="")): ""
                    }
                    yield "label", f"{where}[{index}]", labels
            elif key not in _NO_LABELS_BELOW:
                yield from _maps(item, where)
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _maps(item, f"{path}[{index}]")


def _check_object(resource: Any, report: ReportViolation) -> None:
    kind, props = resource.resource_type, resource.props
    if kind.startswith(HELM):
        name = get(props, "name")
        if isinstance(name, str):
            error = subdomain_error(name) or ("longer than 53 characters" if len(name) > 53 else None)
            if error:
                report(f"Helm release {resource.name}: release name '{name}' is {error}.", resource.urn)
        return
    if not kind.startswith("kubernetes:") or kind.startswith(NOT_OBJECTS) or not isinstance(props, Mapping):
        return
    what = f"{kind.rsplit(':', 1)[-1]} {resource.name}"
    name = get(props, "metadata", "name")
    if isinstance(name, str):
        check = (
            label_error
            if kind == NAMESPACE_KIND
            else dns1035_error
            if kind == SERVICE_KIND
            else subdomain_error
        )
        error = check(name)
        if error:
            report(f"{what}: metadata.name '{name}' is {error}; the API server rejects it.", resource.urn)
    namespace = get(props, "metadata", "namespace")
    if isinstance(namespace, str) and label_error(namespace):
        report(f"{what}: metadata.namespace '{namespace}' is {label_error(namespace)}.", resource.urn)
    for sort, where, mapping in _maps(props, ""):
        for key in mapping:
            error = qualified_name_error(str(key))
            if error:
                report(f"{what}: {sort} key '{key}' at .{where} {error}.", resource.urn)
            if sort == "label":
                value_error = label_value_error(mapping[key])
                if value_error:
                    report(
                        f"{what}: label value '{mapping[key]}' of '{key}' at .{where} {value_error} "
                        "(Kubernetes label values are at most 63 characters).",
                        resource.urn,
                    )
    spec = pod_spec(kind, props)
    for ref in containers(spec):
        error = label_error(ref.name)
        if error:
            report(f"{what}: container name '{ref.name}' is {error}.", resource.urn)
        for entry in as_list(get(ref.container, "ports")):
            port_name = get(entry, "name")
            if isinstance(port_name, str) and port_name_error(port_name):
                report(
                    f"{what}: port name '{port_name}' of container '{ref.name}' {port_name_error(port_name)}.",
                    resource.urn,
                )
    if kind == SERVICE_KIND:
        for entry in as_list(get(props, "spec", "ports")):
            port_name = get(entry, "name")
            if isinstance(port_name, str) and port_name_error(port_name):
                report(f"{what}: port name '{port_name}' {port_name_error(port_name)}.", resource.urn)


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    run_checks([partial(_check_object, r, report) for r in args.resources])


names_and_labels_valid = StackValidationPolicy(
    name="kiva-names-kubernetes-syntax",
    description=(
        "Every Kubernetes object name, namespace, label key and value, annotation key, container and port "
        "name in the plan has the syntax the API server accepts, so that no apply is rejected on day one."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES: list[Policy] = [names_and_labels_valid]
