"""Hardened baseline: cluster and vault access, container security, exposure, secrets, deletion protection.

Mandatory in prod, advisory in dev and local (policy config). policies/README.md maps each policy to
BSI IT-Grundschutz (SYS.1.6 Containerisierung, APP.4.4 Kubernetes), the CIS Kubernetes Benchmark (5.2 Pod
Security, 5.4 Secrets) and the CIS Microsoft Azure Foundations Benchmark (Key Vault, AKS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from itertools import pairwise
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from kiva_policies.base import (
    BLINDED_SECRET,
    CNPG_CLUSTER,
    CONFIG_MAP,
    MANDATORY,
    SERVICE,
    ContainerRef,
    as_list,
    containers,
    display_name,
    get,
    gpu_count,
    name_tokens,
    namespace_of,
    parse_yaml,
    pod_spec,
    pod_template_labels,
    run_checks,
    settings,
    string_list,
)

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
KEY_VAULT = "azure-native:keyvault:Vault"
#: The pod label the platform puts on every model server (components/platform/model_server.py).
MODEL_LABEL = "kiva.platform/model"

# --- AKS ------------------------------------------------------------------------------------------

AKS_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedNetworkPolicies": string_list(
            "Network policy engines that enforce Kubernetes NetworkPolicies.", ["azure", "calico", "cilium"]
        ),
        "openCidrs": string_list(
            "Authorized IP ranges that mean 'the whole internet'.", ["0.0.0.0/0", "::/0", "*"]
        ),
    }
)


def _check_aks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != MANAGED_CLUSTER:
        return
    config = settings(args, AKS_SCHEMA)
    props = args.props
    name = f"AKS cluster '{args.name}'"

    def local_accounts() -> None:
        if get(props, "disableLocalAccounts") is not True:
            report(
                f"{name} keeps local accounts (`disableLocalAccounts` is not true): the static admin "
                "kubeconfig bypasses Entra ID. Set `disableLocalAccounts: true`.",
                None,
            )

    def entra_rbac() -> None:
        if get(props, "aadProfile", "enableAzureRBAC") is not True:
            report(
                f"{name} does not use Entra ID RBAC (`aadProfile.enableAzureRBAC` is not true). Enable the "
                "managed Entra ID integration with Azure RBAC for Kubernetes authorization.",
                None,
            )

    def network_policy() -> None:
        engine = get(props, "networkProfile", "networkPolicy")
        if engine not in config["allowedNetworkPolicies"]:
            found = "no network policy engine" if engine in (None, "none") else f"network policy '{engine}'"
            report(
                f"{name} has {found}, so NetworkPolicies are not enforced. Set "
                f"`networkProfile.networkPolicy` to one of {', '.join(config['allowedNetworkPolicies'])}.",
                None,
            )

    def api_server() -> None:
        access = get(props, "apiServerAccessProfile", default={})
        if get(access, "enablePrivateCluster") is True:
            return
        ranges = [str(r) for r in as_list(get(access, "authorizedIPRanges"))]
        open_ranges = [r for r in ranges if r.strip() in config["openCidrs"]]
        if not ranges:
            report(
                f"{name} exposes its API server to the whole internet: it is not private and has no "
                "`apiServerAccessProfile.authorizedIPRanges`. Make it private or list the admin networks in "
                "`kiva:cluster.apiServer.authorizedIpRanges`.",
                None,
            )
        elif open_ranges:
            report(
                f"{name} authorizes {', '.join(open_ranges)} on its API server, which is the whole internet. "
                "List only the admin networks.",
                None,
            )

    run_checks([local_accounts, entra_rbac, network_policy, api_server])


aks_access_restricted = ResourceValidationPolicy(
    name="kiva-hardening-aks-access-restricted",
    description=(
        "Every AKS cluster disables local accounts, authorizes through Entra ID RBAC, enforces network "
        "policies and keeps its API server private or limited to authorized IP ranges."
    ),
    validate=_check_aks,
    enforcement_level=MANDATORY,
    config_schema=AKS_SCHEMA,
)


# --- Key Vault ------------------------------------------------------------------------------------


def _check_key_vault(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KEY_VAULT:
        return
    properties = get(args.props, "properties", default={})
    name = f"Key Vault '{args.name}'"

    def rbac() -> None:
        if get(properties, "enableRbacAuthorization") is not True:
            report(
                f"{name} uses access policies (`properties.enableRbacAuthorization` is not true). "
                "Enable RBAC "
                "authorization so that access is granted by Entra ID roles and audited.",
                None,
            )

    def network() -> None:
        public = get(properties, "publicNetworkAccess")
        default_action = get(properties, "networkAcls", "defaultAction")
        if public == "Disabled" or default_action == "Deny":
            return
        report(
            f"{name} is reachable from any network (`publicNetworkAccess` is '{public or 'Enabled'}' and "
            f"`networkAcls.defaultAction` is '{default_action or 'Allow'}'). Set `publicNetworkAccess: "
            "Disabled` with a private endpoint, or `networkAcls.defaultAction: Deny` with allowed IP ranges.",
            None,
        )

    run_checks([rbac, network])


key_vault_access_restricted = ResourceValidationPolicy(
    name="kiva-hardening-key-vault-access-restricted",
    description=(
        "Every Key Vault authorizes through Azure RBAC and is closed to public networks (public access "
        "disabled, or firewall default action Deny)."
    ),
    validate=_check_key_vault,
    enforcement_level=MANDATORY,
)


# --- containers -----------------------------------------------------------------------------------

EXEMPT_SCHEMA = PolicyConfigSchema(
    properties={
        "exemptContainers": string_list(
            "Containers (`namespace/workload/container`) the reviewer exempts, on record.", []
        ),
    }
)


def _each_container(args: ResourceValidationArgs, schema: PolicyConfigSchema, check: Any) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    exempt = settings(args, schema).get("exemptContainers", [])
    workload = display_name(args.props, args.name)
    refs = [ref for ref in containers(spec) if f"{workload}/{ref.name}" not in exempt]
    run_checks([partial(check, spec, workload, ref) for ref in refs])


def _security_context(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def check(spec: Mapping[str, Any], workload: str, ref: ContainerRef) -> None:
        pod_sc = get(spec, "securityContext", default={})
        sc = get(ref.container, "securityContext", default={})
        where = f"Container '{ref.name}' of {workload}"
        problems = []
        non_root = get(sc, "runAsNonRoot", default=get(pod_sc, "runAsNonRoot"))
        user = get(sc, "runAsUser", default=get(pod_sc, "runAsUser"))
        if user == 0:
            problems.append("runs as root (`runAsUser: 0`)")
        elif non_root is not True and not (isinstance(user, int | float) and user > 0):
            problems.append("may run as root (set `runAsNonRoot: true`)")
        if get(sc, "allowPrivilegeEscalation") is not False:
            problems.append("allows privilege escalation (set `allowPrivilegeEscalation: false`)")
        if get(sc, "privileged") is True:
            problems.append("is privileged (remove `privileged: true`)")
        drop = [str(c).upper() for c in as_list(get(sc, "capabilities", "drop"))]
        if "ALL" not in drop:
            problems.append("keeps Linux capabilities (set `capabilities.drop: [ALL]`)")
        if problems:
            report(f"{where} " + "; ".join(problems) + ".", None)

    _each_container(args, EXEMPT_SCHEMA, check)


container_security_context = ResourceValidationPolicy(
    name="kiva-hardening-container-security-context",
    description=(
        "Every container runs as non-root, cannot escalate privileges, is not privileged and drops all Linux "
        "capabilities."
    ),
    validate=_security_context,
    enforcement_level=MANDATORY,
    config_schema=EXEMPT_SCHEMA,
)

IMAGE_SCHEMA = PolicyConfigSchema(
    properties={
        "forbiddenTags": string_list(
            "Moving tags that do not pin an image version.", ["latest", "main", "master", "nightly", "stable"]
        ),
    }
)


def image_pin_problem(image: str, forbidden: list[str]) -> str | None:
    """Why an image reference is not pinned, or None when it has a digest or a fixed tag."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (which means `latest`)"
    tag = last.rsplit(":", 1)[1]
    if tag in forbidden:
        return f"uses the moving tag '{tag}'"
    return None


def _check_images(args: ResourceValidationArgs, report: ReportViolation) -> None:
    forbidden = settings(args, IMAGE_SCHEMA)["forbiddenTags"]
    if args.resource_type == CNPG_CLUSTER:
        image = get(args.props, "spec", "imageName")
        problem = image_pin_problem(image, forbidden) if isinstance(image, str) else None
        if problem:
            report(f"Database cluster '{args.name}' image '{image}' {problem}; pin a version.", None)
        return

    def check(spec: Mapping[str, Any], workload: str, ref: ContainerRef) -> None:
        image = get(ref.container, "image")
        if not isinstance(image, str) or not image:
            report(f"Container '{ref.name}' of {workload} names no image.", None)
            return
        problem = image_pin_problem(image, forbidden)
        if problem:
            report(
                f"Container '{ref.name}' of {workload}: image '{image}' {problem}. Pin an explicit version "
                "tag (or a digest) in the central version table.",
                None,
            )

    _each_container(args, IMAGE_SCHEMA, check)


image_pinned = ResourceValidationPolicy(
    name="kiva-hardening-container-image-pinned",
    description=(
        "Every container image is pinned to an explicit version tag or digest, never `latest`, another "
        "moving tag or no tag at all."
    ),
    validate=_check_images,
    enforcement_level=MANDATORY,
    config_schema=IMAGE_SCHEMA,
)


def _check_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    def check(spec: Mapping[str, Any], workload: str, ref: ContainerRef) -> None:
        limits = get(ref.container, "resources", "limits", default={})
        missing = [
            k for k in ("cpu", "memory") if not isinstance(limits, Mapping) or get(limits, k) in (None, "")
        ]
        if missing:
            report(
                f"Container '{ref.name}' of {workload} has no {' and no '.join(missing)} limit; set "
                f"`resources.limits.{missing[0]}` so that one workload cannot starve the node.",
                None,
            )

    _each_container(args, EXEMPT_SCHEMA, check)


resource_limits = ResourceValidationPolicy(
    name="kiva-hardening-container-resource-limits",
    description="Every container sets CPU and memory limits, so that no workload can exhaust its node.",
    validate=_check_limits,
    enforcement_level=MANDATORY,
    config_schema=EXEMPT_SCHEMA,
)


# --- services in front of the database and the model servers --------------------------------------

EXPOSURE_SCHEMA = PolicyConfigSchema(
    properties={
        "internalPorts": {
            "type": "array",
            "items": {"type": "integer"},
            "default": [5432],
            "description": "Ports that identify an internal data service (PostgreSQL).",
        },
        "internalImageMarkers": string_list(
            "Image substrings of model servers (one way of several to recognise them).", ["vllm"]
        ),
        "modelServerResources": string_list(
            "Extended resources whose request makes a pod a model server, whatever its image.",
            ["nvidia.com/gpu"],
        ),
        "modelServerLabels": string_list(
            "Pod label keys that mark a model server, whatever its image (the platform sets the first).",
            [MODEL_LABEL],
        ),
    }
)


def is_model_server(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Is this workload a model server: by a platform label, a GPU request, or an image marker?

    The label and the GPU request recognise any model server (vLLM, TGI, Ollama, …) the platform
    deploys or a GPU pool runs; the image markers catch the rest (a CPU model server without label).
    """
    spec = pod_spec(resource_type, props)
    if spec is None:
        return False
    if any(any(m in ref.image for m in config["internalImageMarkers"]) for ref in containers(spec)):
        return True
    labels = pod_template_labels(resource_type, props)
    if any(key in labels for key in config["modelServerLabels"]):
        return True
    return gpu_count(spec, config["modelServerResources"]) > 0


def _check_exposure(args: StackValidationArgs, report: ReportViolation) -> None:
    config = settings(args, EXPOSURE_SCHEMA)
    internal_pods: list[tuple[str, Mapping[str, Any]]] = []  # (namespace, pod labels) of model servers
    for resource in args.resources:
        if is_model_server(resource.resource_type, resource.props, config):
            labels = pod_template_labels(resource.resource_type, resource.props)
            internal_pods.append((namespace_of(resource.props), labels))

    def check(resource: Any) -> None:
        if resource.resource_type != SERVICE:
            return
        kind = get(resource.props, "spec", "type")
        if kind not in ("LoadBalancer", "NodePort"):
            return
        selector = get(resource.props, "spec", "selector", default={})
        selector = dict(selector) if isinstance(selector, Mapping) else {}
        ports = as_list(get(resource.props, "spec", "ports"))
        numbers = {get(p, "port") for p in ports} | {get(p, "targetPort") for p in ports}
        namespace = namespace_of(resource.props)
        target = None
        if any(key.startswith("cnpg.io/") for key in selector) or numbers & set(config["internalPorts"]):
            target = "the database"
        elif selector and any(
            ns == namespace and all(labels.get(k) == v for k, v in selector.items())
            for ns, labels in internal_pods
        ):
            target = "a model server"
        if target:
            report(
                f"Service '{display_name(resource.props, resource.name)}' of type {kind} exposes {target} "
                "outside "
                "the cluster. Use a ClusterIP Service; clients reach the models only through the gateway.",
                resource.urn,
            )

    run_checks([partial(check, resource) for resource in args.resources])


internal_services_not_exposed = StackValidationPolicy(
    name="kiva-hardening-internal-services-not-exposed",
    description=(
        "No LoadBalancer or NodePort Service selects the database or the model servers; they are reachable "
        "only inside the cluster, through the gateway."
    ),
    validate=_check_exposure,
    enforcement_level=MANDATORY,
    config_schema=EXPOSURE_SCHEMA,
)


# --- secret-looking literals ----------------------------------------------------------------------

SECRET_VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "an API key (sk-…)": re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    "a Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "an AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "a Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    "a URL with a password": re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:[^@\s/]+@"),
}
_SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PASSPHRASE"}
_SECRET_PAIRS = {("API", "KEY"), ("MASTER", "KEY"), ("SALT", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY")}
_REFERENCE_SUFFIXES = {"FILE", "PATH", "DIR", "NAME", "REF", "ENV", "KEYS"}
_REFERENCE_VALUE = re.compile(r"^(os\.environ/|\$\(|\$\{|/)")
_NOT_SECRET_VALUES = {"", "true", "false", "none", "null", "0", "1"}

SECRETS_SCHEMA = PolicyConfigSchema(
    properties={
        "allowedKeys": string_list(
            "Keys or env names that look secret but are not (reviewed exceptions).", []
        ),
    }
)


def secret_like_name(name: str) -> bool:
    tokens = name_tokens(name)
    if not tokens or tokens[-1] in _REFERENCE_SUFFIXES:
        return False
    return bool(_SECRET_WORDS & set(tokens)) or any(pair in _SECRET_PAIRS for pair in pairwise(tokens))


def secret_finding(key: str, value: Any) -> str | None:
    """Why `key: value` looks like a secret written as a literal, or None."""
    if value == BLINDED_SECRET:
        return "holds a Pulumi secret as a plain value"
    if not isinstance(value, str):
        return None
    for what, pattern in SECRET_VALUE_PATTERNS.items():
        if pattern.search(value):
            return f"contains what looks like {what}"
    if (
        secret_like_name(key)
        and value.strip().lower() not in _NOT_SECRET_VALUES
        and not _REFERENCE_VALUE.match(value)
    ):
        return "has a secret-looking name and a literal value"
    return None


def _walk(document: Any, path: str) -> list[tuple[str, str, Any]]:
    """`(path, key, scalar)` for every scalar of a parsed YAML document."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(
                _walk(value, f"{path}.{key}")
                if isinstance(value, dict | list)
                else [(f"{path}.{key}", str(key), value)]
            )
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(_walk(value, f"{path}[{index}]"))
    return found


def _check_secret_literals(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = settings(args, SECRETS_SCHEMA)["allowedKeys"]
    if args.resource_type == CONFIG_MAP:
        data = get(args.props, "data", default={})
        for key in data if isinstance(data, Mapping) else []:
            value = data[key]
            entries: list[tuple[str, str, Any]] = [(key, key, value)]
            if isinstance(value, str) and key.endswith((".yaml", ".yml")):
                entries.extend(_walk(parse_yaml(value), key))
            for path, name, scalar in entries:
                problem = None if name in allowed else secret_finding(name, scalar)
                if problem:
                    report(
                        f"ConfigMap '{display_name(args.props, args.name)}' entry `{path}` {problem}. "
                        "Move it into a "
                        "Kubernetes Secret (from Key Vault or a Pulumi secret) and reference it.",
                        None,
                    )
        return

    def check(spec: Mapping[str, Any], workload: str, ref: ContainerRef) -> None:
        for entry in as_list(get(ref.container, "env")):
            name = str(get(entry, "name", default=""))
            if name in allowed:
                continue
            try:
                value = get(entry, "value")
            except UnknownValueError:
                if secret_like_name(name):
                    raise  # a secret-looking name with a value we cannot see: not verifiable
                continue  # an output of another resource, not a literal typed into the program
            problem = secret_finding(name, value)
            if problem:
                report(
                    f"Container '{ref.name}' of {workload}: env `{name}` {problem}. Use "
                    "`valueFrom.secretKeyRef` instead of a literal value.",
                    None,
                )

    _each_container(args, PolicyConfigSchema(properties={}), check)


no_secret_literals = ResourceValidationPolicy(
    name="kiva-hardening-no-secret-literals",
    description=(
        "No ConfigMap entry and no container environment value holds a secret-looking literal; secrets are "
        "referenced from Kubernetes Secrets."
    ),
    validate=_check_secret_literals,
    enforcement_level=MANDATORY,
    config_schema=SECRETS_SCHEMA,
)


# --- deletion protection ----------------------------------------------------------------------------

PROTECT_SCHEMA = PolicyConfigSchema(
    properties={
        "dataStoreTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": [
                "azure-native:keyvault:Vault",
                "azure-native:storage:StorageAccount",
                "azure-native:storage:BlobContainer",
                "kubernetes:postgresql.cnpg.io/v1:Cluster",
                "kubernetes:core/v1:PersistentVolumeClaim",
            ],
            "description": "Resource types that hold data and must be protected against deletion.",
        },
    }
)


def _check_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in settings(args, PROTECT_SCHEMA)["dataStoreTypes"]:
        return
    if not args.opts.protect:
        report(
            f"{args.resource_type} '{args.name}' holds data but is not protected against deletion. "
            "Register it "
            "with `pulumi.ResourceOptions(protect=True)` (and keep backups).",
            None,
        )


data_stores_protected = ResourceValidationPolicy(
    name="kiva-hardening-data-stores-protected",
    description=(
        "Every resource that stores data (Key Vault, storage account, database cluster, volume claim) is "
        "protected against accidental deletion."
    ),
    validate=_check_protected,
    enforcement_level=MANDATORY,
    config_schema=PROTECT_SCHEMA,
)

POLICIES = [
    aks_access_restricted,
    key_vault_access_restricted,
    container_security_context,
    image_pinned,
    resource_limits,
    internal_services_not_exposed,
    no_secret_literals,
    data_stores_protected,
]
