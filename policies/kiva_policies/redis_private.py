"""The gateway's Redis is private and password-protected.

Redis holds LiteLLM's rate-limit and spend counters and, with the response cache on, prompts and
responses (personal data). An open Redis is a classic breach: anyone who reaches port 6379 reads every
key, and `CONFIG SET`/`REPLICAOF` hand the server to them. So, for every workload running a Redis or
Valkey image (`redis`, `valkey/valkey`, `…/redis`, `…/valkey`):

- no Service of type `LoadBalancer` or `NodePort`, and none with `externalIPs`, selects its pods;
- at least one NetworkPolicy restricts ingress to its pods, and every ingress rule of a policy selecting
  them admits only pods of its own namespace that are the LiteLLM gateway (a workload with a `litellm`
  image) or the Redis pods themselves (replication, Sentinel) — no namespace selector, no IP block, no
  empty `from`;
- each of its containers reads its password from a Secret (an env var whose name contains `PASS` or is
  `REDISCLI_AUTH`, through `valueFrom.secretKeyRef`), and no command line carries `--requirepass` with
  a literal value (a command line is visible in the pod spec and in `ps`).

Kubernetes facts: a NetworkPolicy ingress rule without `from` admits every source; a peer with only
`podSelector` means pods of the policy's namespace (networking.k8s.io/v1 NetworkPolicyPeer). Redis
documents `requirepass` as the password clients must `AUTH` with (redis.conf, SECURITY).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from kiva_policies.base import (
    MANDATORY,
    NETWORK_POLICY,
    SERVICE,
    as_list,
    containers,
    env_values,
    get,
    namespace_of,
    pod_spec,
    pod_template_labels,
    selector_matches,
)

WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Pod")
PUBLIC_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def is_redis_image(image: str) -> bool:
    """`redis:7.4`, `valkey/valkey:8.1-alpine`, `docker.io/bitnami/redis:…`, `…/valkey:…`."""
    last = image.split("@")[0].split("/")[-1]  # digest off, then the last path part (a port is not in it)
    return last.split(":")[0] in ("redis", "valkey")


@dataclass(frozen=True)
class Workload:
    name: str
    namespace: str
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]


def _workloads(resources: Sequence[Any], redis: bool) -> list[Workload]:
    found = []
    for r in resources:
        if r.resource_type not in WORKLOADS:
            continue
        spec = pod_spec(r.resource_type, r.props)
        images = [ref.image for ref in containers(spec)]
        matched = any(is_redis_image(i) for i in images) if redis else any("litellm" in i for i in images)
        if spec is not None and matched:
            name = str(get(r.props, "metadata", "name", default=None) or r.name)
            found.append(
                Workload(name, namespace_of(r.props), pod_template_labels(r.resource_type, r.props), spec)
            )
    return found


def _public_services(resources: Sequence[Any], store: Workload) -> list[str]:
    problems = []
    for r in resources:
        if r.resource_type != SERVICE or namespace_of(r.props) != store.namespace:
            continue
        selector = get(r.props, "spec", "selector")
        if not isinstance(selector, Mapping) or not selector:
            continue
        if any(str(store.labels.get(k)) != str(v) for k, v in selector.items()):
            continue
        kind = get(r.props, "spec", "type", default="ClusterIP")
        name = get(r.props, "metadata", "name", default=r.name)
        if kind in PUBLIC_SERVICE_TYPES:
            problems.append(f"Service {store.namespace}/{name} is of type {kind}; use ClusterIP")
        elif as_list(get(r.props, "spec", "externalIPs")):
            problems.append(f"Service {store.namespace}/{name} has externalIPs; remove them")
    return problems


def _peer_problem(peer: Any, store: Workload, gateways: list[Workload]) -> str | None:
    """Why `peer` admits more than the gateway and the Redis pods, or None."""
    if not isinstance(peer, Mapping):
        return "a peer that is not an object"
    if "ipBlock" in peer:
        return f"ipBlock {get(peer, 'ipBlock', 'cidr')}"
    if "namespaceSelector" in peer:
        return "a namespaceSelector (pods of other namespaces)"
    selector = get(peer, "podSelector")
    allowed = [store] + [g for g in gateways if g.namespace == store.namespace]
    if not isinstance(selector, Mapping):
        return "a peer without podSelector"
    # The selector must not select everything, and must pick out the gateway or Redis pods.
    if not (get(selector, "matchLabels") or get(selector, "matchExpressions")):
        return "an empty podSelector (every pod of the namespace)"
    if not any(selector_matches(selector, w.labels) for w in allowed):
        return f"pods {dict(get(selector, 'matchLabels') or {})} that are neither the gateway nor Redis"
    return None


def _network_problems(resources: Sequence[Any], store: Workload, gateways: list[Workload]) -> list[str]:
    problems, restricted = [], False
    for r in resources:
        if r.resource_type != NETWORK_POLICY or namespace_of(r.props) != store.namespace:
            continue
        spec = get(r.props, "spec") or {}
        if not selector_matches(get(spec, "podSelector"), store.labels):
            continue
        types = as_list(get(spec, "policyTypes")) or ["Ingress"]
        if "Ingress" not in types:
            continue
        restricted = True
        name = get(r.props, "metadata", "name", default=r.name)
        for index, rule in enumerate(as_list(get(spec, "ingress"))):
            peers = as_list(get(rule, "from"))
            if not peers:
                problems.append(
                    f"NetworkPolicy {name} ingress[{index}] has no `from`: it admits every source"
                )
                continue
            for peer in peers:
                why = _peer_problem(peer, store, gateways)
                if why is not None:
                    problems.append(f"NetworkPolicy {name} ingress[{index}] admits {why}")
    if not restricted:
        problems.append("no NetworkPolicy restricts ingress to its pods; admit only the gateway")
    return problems


def _password_problems(store: Workload) -> list[str]:
    problems = []
    for ref in containers(store.spec):
        if not is_redis_image(ref.image):
            continue
        line = [str(a) for a in as_list(get(ref.container, "command")) + as_list(get(ref.container, "args"))]
        for position, arg in enumerate(line):
            literal = arg.startswith("--requirepass=") or (
                arg == "--requirepass" and position + 1 < len(line) and not line[position + 1].startswith("$")
            )
            if literal:
                problems.append(f"container {ref.name} passes --requirepass on its command line")
        env = env_values(ref.container)
        from_secret = [
            n
            for n, entry in env.items()
            if ("PASS" in n.upper() or n == "REDISCLI_AUTH") and get(entry, "valueFrom", "secretKeyRef")
        ]
        literals = [n for n, entry in env.items() if "PASS" in n.upper() and "value" in entry]
        if literals:
            problems.append(f"container {ref.name} sets {', '.join(literals)} as a literal")
        if not from_secret:
            problems.append(
                f"container {ref.name} reads no password from a Secret (e.g. env REDIS_PASSWORD with "
                "valueFrom.secretKeyRef)"
            )
    return problems


def _check(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = list(args.resources)
    gateways = _workloads(resources, redis=False)
    for store in _workloads(resources, redis=True):
        problems = (
            _public_services(resources, store)
            + _network_problems(resources, store, gateways)
            + _password_problems(store)
        )
        if problems:
            report(
                f"Redis {store.namespace}/{store.name} is not private and password-protected: "
                + "; ".join(problems)
                + ".",
                None,
            )


redis_private = StackValidationPolicy(
    name="kiva-redis-private",
    description=(
        "Every Redis/Valkey workload is private (no LoadBalancer/NodePort Service, a NetworkPolicy admits "
        "only the gateway and Redis itself) and password-protected (the password from a Secret)."
    ),
    validate=_check,
    enforcement_level=MANDATORY,
)

POLICIES = [redis_private]
