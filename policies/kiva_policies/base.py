"""Shared helpers of the KIVA policies: reading engine-shaped props, settings with schema defaults.

Policies share code only through this module (and the small helper modules next to it, such as
`litellm.py`), never by importing one another: each policy module can then be read, changed and
tested on its own (`tests/policies/test_imports.py` keeps it so).

Policies see `props` wrapped by `pulumi_policy.unknown_checking_proxy`: dicts and lists become
`Mapping`/`Sequence` proxies (never `dict`/`list`), and reading a value that is still unknown at
preview time raises `UnknownValueError`. The helpers here therefore test for `Mapping`/`Sequence`,
let `UnknownValueError` propagate, and treat the blinded secret `"[secret]"` of `pulumi preview --json`
as a value that cannot be inspected.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

#: How `pulumi preview --json` (and `kiva plan --json`) shows a secret value.
BLINDED_SECRET = "[secret]"

#: The signature key Pulumi uses to mark a secret in a serialized property map.
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

#: Kubernetes kinds whose pod template the policies inspect, and where the pod spec sits.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
CNPG_OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"

#: Label and annotation keys the platform layer sets for the policies (see policies/README.md).
LABEL_REGION = "kiva.platform/region"
LABEL_JURISDICTION = "kiva.platform/jurisdiction"


class BlindedValueError(UnknownValueError):
    """A value the policy needs is a blinded secret (`[secret]`): as unverifiable as an unknown one.

    It subclasses `UnknownValueError`, so the Pulumi policy servicer and the offline runner report it
    exactly like a value unknown at preview time (never as a pass, never as a crash).
    """

    def __init__(self, path: str) -> None:
        Exception.__init__(self)
        self.unknown_type_sentinel = BLINDED_SECRET
        self.props = path.split(".")
        self.message = f"secret value at .{path} is blinded in the plan and can't be verified"


def engine_props(value: Any) -> Any:
    """Props as the policy servicer hands them over: plain JSON, secrets shown as `[secret]`.

    Mock-engine inputs may still carry Pulumi's secret wrapper; it is blinded here exactly as
    `pulumi preview --json` blinds it, so the offline plan and a real preview file look alike.
    """
    if isinstance(value, Mapping):
        if value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
            return BLINDED_SECRET
        return {str(key): engine_props(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [engine_props(item) for item in value]
    return value


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]…`, or `default` when a step is missing or of the wrong shape.

    Reading through an unknown value raises `UnknownValueError` (from the proxy), by design.
    """
    current = obj
    for key in path:
        if isinstance(key, int):
            if not is_list(current) or key >= len(current):
                return default
            current = current[key]
        else:
            if not isinstance(current, Mapping) or key not in current:
                return default
            current = current[key]
    return current


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    return list(value) if is_list(value) else []


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plain(value: Any) -> Any:
    """A deep copy of a (possibly proxied) value as plain dicts and lists; reading unknowns raises."""
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if is_list(value):
        return [plain(item) for item in value]
    return value


@functools.lru_cache(maxsize=32)
def parse_yaml(text: str) -> Any:
    """Parse YAML held in a property, once per distinct text: several policies read the same ConfigMap.

    The result is shared between callers, who only read it. Invalid YAML gives None.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def settings(
    args: ResourceValidationArgs | StackValidationArgs, schema: PolicyConfigSchema
) -> dict[str, Any]:
    """The policy's configuration: the schema's defaults overlaid with what the config supplied.

    The Pulumi CLI already fills in defaults; applying them here as well keeps a policy correct when it
    is called with a partial config (tests, `kiva check`).
    """
    values = {key: spec["default"] for key, spec in schema.properties.items() if "default" in spec}
    values.update(args.get_config() or {})
    return values


def namespace_of(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata", "namespace", default=None) or "default")


def display_name(props: Mapping[str, Any], fallback: str) -> str:
    name = get(props, "metadata", "name", default=None)
    return f"{namespace_of(props)}/{name}" if name else fallback


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    spec = get(props, *path)
    return spec if isinstance(spec, Mapping) else None


def pod_template_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return {}
    if resource_type == "kubernetes:core/v1:Pod":
        labels = get(props, "metadata", "labels")
    else:
        labels = get(props, *path[:-1], "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


@dataclass(frozen=True)
class ContainerRef:
    """One container of a pod spec, with where it sits (for messages)."""

    kind: str  # "containers" | "initContainers"
    index: int
    container: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(get(self.container, "name", default=f"{self.kind}[{self.index}]"))

    @property
    def image(self) -> str:
        image = get(self.container, "image", default="")
        return image if isinstance(image, str) else ""


def containers(spec: Mapping[str, Any] | None) -> Iterator[ContainerRef]:
    if spec is None:
        return
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(as_list(get(spec, kind))):
            if isinstance(container, Mapping):
                yield ContainerRef(kind, index, container)


def env_values(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Env entries by name; a later entry of the same name wins, as in Kubernetes."""
    result: dict[str, Mapping[str, Any]] = {}
    for entry in as_list(get(container, "env")):
        if isinstance(entry, Mapping) and isinstance(get(entry, "name"), str):
            result[entry["name"]] = entry
    return result


def gpu_count(spec: Mapping[str, Any], names: Sequence[str]) -> int:
    """Devices of the extended resources `names` (e.g. `nvidia.com/gpu`) the containers ask for.

    Requests and limits are both counted (Kubernetes requires them equal for extended resources); a
    value that is not a number counts as one, so a malformed request still marks a GPU workload.
    """
    total = 0
    for ref in containers(spec):
        for section in ("limits", "requests"):
            for name in names:
                value = get(ref.container, "resources", section, name)
                try:
                    total += int(float(value)) if value is not None else 0
                except (TypeError, ValueError):
                    total += 1
    return total


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes LabelSelector against labels: matchLabels and matchExpressions ANDed.

    The empty selector selects everything; an absent (or malformed) one selects nothing. Values are
    compared as strings, as the API server stores labels.
    """
    if not isinstance(selector, Mapping):
        return False
    match_labels = get(selector, "matchLabels", default={}) or {}
    if any(str(labels.get(str(key))) != str(match_labels[key]) for key in match_labels):
        return False
    for expression in as_list(get(selector, "matchExpressions")):
        key, operator = str(get(expression, "key")), get(expression, "operator")
        values = [str(v) for v in as_list(get(expression, "values"))]
        present = key in labels
        value = str(labels[key]) if present else None
        if operator == "In" and value not in values:
            return False
        if operator == "NotIn" and present and value in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def normalize_location(value: str) -> str:
    """`Germany West Central` → `germanywestcentral` (ARM accepts both spellings)."""
    return value.replace(" ", "").lower()


def declared_location(namespace_props: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """(region, jurisdiction) a Namespace declares, or None when it declares neither.

    The platform writes both as annotations: a region such as IONOS's `de/fra` is no valid label
    value. Plans from before that change carry them as labels, so those are the fallback, per key.
    """
    sources = [get(namespace_props, "metadata", field) for field in ("annotations", "labels")]
    declaring = [
        values
        for values in sources
        if isinstance(values, Mapping) and (LABEL_REGION in values or LABEL_JURISDICTION in values)
    ]
    if not declaring:
        return None
    region, jurisdiction = (
        next((v[key] for v in declaring if v.get(key)), None) for key in (LABEL_REGION, LABEL_JURISDICTION)
    )
    return region, jurisdiction


def run_checks(
    checks: Sequence[Callable[[], None]],
) -> None:
    """Run independent checks; an unknown value stops only its own check, then is re-raised at the end.

    This way a violation found by one check is still reported when another check cannot be verified;
    the servicer (and the runner) then also records the "not verifiable" diagnostic.
    """
    pending: UnknownValueError | None = None
    for check in checks:
        try:
            check()
        except UnknownValueError as error:
            pending = pending or error
    if pending is not None:
        raise pending


def each_resource(
    args: StackValidationArgs,
    report: ReportViolation,
    check: Callable[[Any, ReportViolation], None],
) -> None:
    """Run `check(resource, report)` for every resource; unknown values are re-raised after all ran."""
    run_checks([partial(check, resource, report) for resource in args.resources])


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_tokens(name: str) -> list[str]:
    """`LITELLM_MASTER_KEY`, `masterKey`, `master-key` → `["MASTER", "KEY", …]` (upper case)."""
    return [token for token in re.split(r"[_\-.\s]+", _CAMEL.sub("_", name).upper()) if token]


def string_list(description: str, default: list[str]) -> dict[str, Any]:
    """A config-schema property holding a list of strings (the shape most policy settings take)."""
    return {
        "type": "array",
        "items": {"type": "string"},
        "default": list(default),
        "description": description,
    }
