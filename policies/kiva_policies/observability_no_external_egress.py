"""Metrics and alerts stay in the platform: no remote write, no alert receiver outside the allow-list.

Prometheus `remoteWrite` copies every scraped series to another system, and each Alertmanager receiver
posts alert texts (labels: namespaces, pods, model names, sometimes users) to its endpoint. Both are
transfers out of the platform (GDPR Art. 44 ff.; BSI OPS.1.1.5). The check reads
- a kube-prometheus-stack Release's values: `prometheus.prometheusSpec.remoteWrite[].url`, and
  `alertmanager.config` (`global` and every receiver's `*_configs`; Alertmanager's configuration
  file format, prometheus/alertmanager `docs/configuration.md`);
- `monitoring.coreos.com/v1` Prometheus objects (`spec.remoteWrite[].url`) and `v1alpha1`
  AlertmanagerConfig objects (`spec.receivers[]`).
Hosts inside the cluster (`*.svc`, `*.cluster.local`, single-label names) are always allowed; any other
host must be in `allowedHosts` (exact, or `*.domain` for its subdomains), which is empty by default.
Integrations other than webhook and e-mail (Slack, PagerDuty, Opsgenie, Telegram, …) default to their
vendor's public endpoint when no URL is given, so an entry without a URL is a violation too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from kiva_policies.base import MANDATORY, as_list, display_name, get, settings, string_list
from kiva_policies.observability_releases import (
    KUBE_PROMETHEUS_STACK,
    literal,
    release_label,
    release_values,
)

PROMETHEUS = "kubernetes:monitoring.coreos.com/v1:Prometheus"
ALERTMANAGER_CONFIG = "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig"
IN_CLUSTER_SUFFIXES = (".svc", ".cluster.local")

SCHEMA = PolicyConfigSchema(
    properties={
        "allowedHosts": string_list(
            "Hosts outside the cluster that may receive metrics or alerts (exact, or `*.domain`).", []
        ),
    }
)


def host_of(endpoint: str) -> str:
    """`https://hooks.example.de/x` → `hooks.example.de`; `smtp.example.de:587` → `smtp.example.de`."""
    text = endpoint.strip()
    if "://" not in text:
        text = f"//{text}"
    return (urlsplit(text).hostname or "").lower()


def in_cluster(host: str) -> bool:
    return bool(host) and ("." not in host or host.endswith(IN_CLUSTER_SUFFIXES))


def allowed(host: str, allow_list: list[str]) -> bool:
    if in_cluster(host):
        return True
    for entry in (item.lower() for item in allow_list):
        if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def _endpoints(config: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
    """`(path, endpoint)` of every URL or smarthost in one Alertmanager config entry."""
    for key, value in config.items():
        lowered = str(key).lower()
        if lowered.endswith("_file") or not isinstance(value, str | Mapping):
            continue
        if lowered.endswith("url") or lowered == "smarthost":
            yield f"{path}.{key}", str(literal(value, f"{path}.{key}"))


def alertmanager_findings(config: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str | None]]:
    """`(path, endpoint or None)` for `alertmanager.config` (snake_case, the config file format)."""
    global_ = get(config, "global") or {}
    if isinstance(global_, Mapping):
        yield from _endpoints(global_, f"{prefix}.global")
    smarthost = get(global_, "smtp_smarthost")
    for index, receiver in enumerate(as_list(get(config, "receivers"))):
        if not isinstance(receiver, Mapping):
            continue
        for kind, entries in receiver.items():
            if not str(kind).endswith("_configs"):
                continue
            for number, entry in enumerate(as_list(entries)):
                path = f"{prefix}.receivers[{index}].{kind}[{number}]"
                found = list(_endpoints(entry, path)) if isinstance(entry, Mapping) else []
                yield from found
                if not found and not (kind == "email_configs" and smarthost):
                    yield path, None


def alertmanager_config_findings(spec: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """The same for an AlertmanagerConfig object (camelCase; URLs of chat integrations are Secrets)."""
    for index, receiver in enumerate(as_list(get(spec, "receivers"))):
        if not isinstance(receiver, Mapping):
            continue
        for kind, entries in receiver.items():
            if not str(kind).endswith("Configs"):
                continue
            for number, entry in enumerate(as_list(entries)):
                path = f"spec.receivers[{index}].{kind}[{number}]"
                url = get(entry, "url") if kind == "webhookConfigs" else get(entry, "smarthost")
                if isinstance(url, str):
                    yield path, str(literal(url, path))
                else:
                    yield path, None


def findings(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    values = release_values(resource_type, props, KUBE_PROMETHEUS_STACK)
    if values is not None:
        remote = as_list(get(values, "prometheus", "prometheusSpec", "remoteWrite"))
        for index, entry in enumerate(remote):
            path = f"prometheus.prometheusSpec.remoteWrite[{index}].url"
            yield path, str(literal(get(entry, "url"), path) or "")
        config = get(values, "alertmanager", "config")
        if isinstance(config, Mapping):
            yield from alertmanager_findings(config, "alertmanager.config")
    elif resource_type == PROMETHEUS:
        for index, entry in enumerate(as_list(get(props, "spec", "remoteWrite"))):
            path = f"spec.remoteWrite[{index}].url"
            yield path, str(literal(get(entry, "url"), path) or "")
    elif resource_type == ALERTMANAGER_CONFIG:
        yield from alertmanager_config_findings(get(props, "spec") or {})


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allow_list = settings(args, SCHEMA)["allowedHosts"]
    if args.resource_type == "kubernetes:helm.sh/v3:Release":
        what = f"Helm release {release_label(args.props, args.name)}"
    else:
        what = f"{args.resource_type.rsplit(':', 1)[-1]} {display_name(args.props, args.name)}"
    for path, endpoint in findings(args.resource_type, args.props):
        if endpoint is None:
            report(
                f"{what}: `{path}` names no URL, so it sends to the integration's default public endpoint "
                "(or to a URL held in a Secret the plan cannot show). Use a webhook to an in-cluster or "
                "allowed host.",
                None,
            )
            continue
        host = host_of(endpoint)
        if not allowed(host, allow_list):
            kind = "remote write" if "emoteWrite" in path else "alert receiver"
            report(
                f"{what}: {kind} `{path}` sends to '{host or endpoint}', outside the cluster and not in "
                f"allowedHosts ({', '.join(allow_list) or 'none'}). Remove it, or have the reviewer add "
                "the host to `allowedHosts`.",
                None,
            )


no_external_egress = ResourceValidationPolicy(
    name="kiva-observability-no-external-egress",
    description=(
        "Prometheus writes to no remote storage and Alertmanager sends to no receiver outside the cluster, "
        "except hosts the reviewer allowed."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
    config_schema=SCHEMA,
)

POLICIES = [no_external_egress]
