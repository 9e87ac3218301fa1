"""Kubernetes NetworkPolicy semantics, evaluated over the policies of a plan.

The rules follow the NetworkPolicy API (networking.k8s.io/v1) as the Kubernetes documentation
("Network Policies") and `pkg/apis/networking/v1/defaults.go` define them:

- a pod is isolated for ingress (egress) only if some policy in its namespace selects it and lists that
  direction in `policyTypes`; `policyTypes` defaults to `Ingress`, plus `Egress` when `egress` has rules;
- traffic is allowed in a direction if the pod is not isolated for it, or if any rule of any selecting
  policy admits the peer and the port; a flow needs both the source's egress and the target's ingress;
- a rule without `from`/`to` admits every peer, without `ports` every port; a peer with only a
  `podSelector` means pods of the policy's namespace, with a `namespaceSelector` pods of matching
  namespaces; `ipBlock` matches addresses (minus `except`), which the API reserves for cluster-external
  addresses, so it never matches a pod here;
- a port entry matches protocol (default TCP) and number, `port..endPort`, or a name resolved against
  the container ports of the pod the traffic goes to; a named port never matches an external address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiva_policies.base import as_list, get, is_list, is_number, selector_matches


@dataclass(frozen=True)
class Pod:
    """A pod as NetworkPolicies see it: namespace, labels, and its named container ports."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    name: str
    named_ports: tuple[tuple[str, int, str], ...] = ()  # (name, number, protocol)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class External:
    """An address outside the cluster's pod network (API server, internet, a cloud endpoint)."""

    ip: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.ip})"


Endpoint = Pod | External


def pod(namespace: str, name: str, labels: Mapping[str, Any], named_ports: Sequence[Any] = ()) -> Pod:
    return Pod(
        namespace,
        tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        name,
        tuple(named_ports),
    )


@dataclass(frozen=True)
class Flow:
    """A connection the platform needs: source, target, port and protocol, and why it is needed."""

    source: Endpoint
    target: Endpoint
    port: int
    protocol: str
    purpose: str

    def __str__(self) -> str:
        return f"{self.source} → {self.target}:{self.port}/{self.protocol} ({self.purpose})"


@dataclass(frozen=True)
class Rule:
    """One ingress or egress rule of a NetworkPolicy."""

    policy: NetworkPolicy
    direction: str  # "ingress" | "egress"
    index: int
    peers: tuple[Mapping[str, Any], ...] | None  # None: the rule names no peer (all peers)
    ports: tuple[Mapping[str, Any], ...] | None  # None: every port

    def __str__(self) -> str:
        return f"{self.direction}[{self.index}] of NetworkPolicy {self.policy}"


@dataclass
class NetworkPolicy:
    namespace: str
    name: str
    urn: str
    pod_selector: Any
    types: tuple[str, ...]
    rules: list[Rule] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def selects(self, target: Pod) -> bool:
        return target.namespace == self.namespace and selector_matches(self.pod_selector, target.label_map)


def parse_policy(props: Mapping[str, Any], urn: str, fallback_name: str) -> NetworkPolicy:
    namespace = str(get(props, "metadata", "namespace", default=None) or "default")
    name = str(get(props, "metadata", "name", default=None) or fallback_name)
    spec = get(props, "spec", default={}) or {}
    egress = get(spec, "egress")
    declared = [str(t) for t in as_list(get(spec, "policyTypes"))]
    types = tuple(declared) if declared else (("Ingress", "Egress") if as_list(egress) else ("Ingress",))
    policy = NetworkPolicy(namespace, name, urn, get(spec, "podSelector", default={}) or {}, types)
    for direction, key, peer_key in (("ingress", "ingress", "from"), ("egress", "egress", "to")):
        for index, rule in enumerate(as_list(get(spec, key))):
            peers = get(rule, peer_key)
            ports = get(rule, "ports")
            policy.rules.append(
                Rule(
                    policy,
                    direction,
                    index,
                    tuple(peers) if is_list(peers) and len(peers) else None,
                    tuple(ports) if is_list(ports) and len(ports) else None,
                )
            )
    return policy


def selector_matches_specific(selector: Any) -> bool:
    """Does the selector name labels (rather than select every pod)?"""
    return bool(get(selector, "matchLabels") or get(selector, "matchExpressions"))


def _in_block(ip: str, block: Mapping[str, Any]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
        network = ipaddress.ip_network(str(get(block, "cidr")), strict=False)
    except ValueError:
        return False
    if address.version != network.version or address not in network:
        return False
    for excluded in as_list(get(block, "except")):
        try:
            if address in ipaddress.ip_network(str(excluded), strict=False):
                return False
        except ValueError:
            continue
    return True


def peer_matches(
    peer: Mapping[str, Any], policy_namespace: str, other: Endpoint, namespace_labels: NamespaceLabels
) -> bool:
    block = get(peer, "ipBlock")
    if block is not None:
        return isinstance(other, External) and _in_block(other.ip, block)
    if not isinstance(other, Pod):
        return False
    ns_selector = get(peer, "namespaceSelector")
    pod_selector = get(peer, "podSelector")
    if ns_selector is None and pod_selector is None:
        return False
    if ns_selector is None:
        if other.namespace != policy_namespace:
            return False
    elif not selector_matches(ns_selector, namespace_labels(other.namespace)):
        return False
    return pod_selector is None or selector_matches(pod_selector, other.label_map)


def port_matches(entry: Mapping[str, Any], flow: Flow) -> bool:
    protocol = str(get(entry, "protocol", default=None) or "TCP")
    if protocol != flow.protocol:
        return False
    port = get(entry, "port")
    if port is None:
        return True  # every port of that protocol
    if is_number(port) or (isinstance(port, str) and port.isdigit()):
        start = int(port)
        end = get(entry, "endPort")
        end = int(end) if is_number(end) else start
        return start <= flow.port <= end
    if isinstance(flow.target, Pod):
        return any(
            name == port and number == flow.port and proto == flow.protocol
            for name, number, proto in flow.target.named_ports
        )
    return False


class NamespaceLabels:
    """Labels of namespaces: those the plan declares, plus `kubernetes.io/metadata.name` on every one."""

    def __init__(self, declared: Mapping[str, Mapping[str, str]]) -> None:
        self.declared = declared

    def __call__(self, namespace: str) -> dict[str, str]:
        labels = dict(self.declared.get(namespace, {}))
        labels["kubernetes.io/metadata.name"] = namespace  # set by the API server since 1.22
        return labels


def rule_admits(rule: Rule, flow: Flow, namespace_labels: NamespaceLabels) -> bool:
    other = flow.source if rule.direction == "ingress" else flow.target
    if rule.peers is not None and not any(
        peer_matches(peer, rule.policy.namespace, other, namespace_labels) for peer in rule.peers
    ):
        return False
    return rule.ports is None or any(port_matches(entry, flow) for entry in rule.ports)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    blocked_by: tuple[str, ...] = ()  # the isolating policies of the blocked side
    side: str = ""  # "egress of <pod>" | "ingress of <pod>"


def _side(
    endpoint: Endpoint, direction: str, flow: Flow, policies: Sequence[NetworkPolicy], labels: NamespaceLabels
) -> tuple[bool, tuple[str, ...]]:
    if not isinstance(endpoint, Pod):
        return True, ()
    kind = "Ingress" if direction == "ingress" else "Egress"
    isolating = [p for p in policies if kind in p.types and p.selects(endpoint)]
    if not isolating:
        return True, ()
    for policy in isolating:
        for rule in policy.rules:
            if rule.direction == direction and rule_admits(rule, flow, labels):
                return True, ()
    # The policy to extend comes first: one with rules for this direction that selects specific pods.
    isolating.sort(
        key=lambda p: (
            not any(rule.direction == direction for rule in p.rules),
            not selector_matches_specific(p.pod_selector),
        )
    )
    return False, tuple(str(p) for p in isolating)


def evaluate(flow: Flow, policies: Sequence[NetworkPolicy], labels: NamespaceLabels) -> Verdict:
    allowed, blockers = _side(flow.source, "egress", flow, policies, labels)
    if not allowed:
        return Verdict(False, blockers, f"egress of {flow.source}")
    allowed, blockers = _side(flow.target, "ingress", flow, policies, labels)
    if not allowed:
        return Verdict(False, blockers, f"ingress of {flow.target}")
    return Verdict(True)


def rule_carries(rule: Rule, flow: Flow, labels: NamespaceLabels) -> bool:
    """Does this rule admit this flow on the side it governs (the policy selects that endpoint)?"""
    endpoint = flow.target if rule.direction == "ingress" else flow.source
    return (
        isinstance(endpoint, Pod)
        and rule.policy.selects(endpoint)
        and ("Ingress" if rule.direction == "ingress" else "Egress") in rule.policy.types
        and rule_admits(rule, flow, labels)
    )


def describe_rule(rule: Rule) -> str:
    """A short text of what a rule admits, for messages."""
    peers = "any peer" if rule.peers is None else "; ".join(_describe_peer(p) for p in rule.peers)
    ports = (
        "any port"
        if rule.ports is None
        else ", ".join(
            f"{get(p, 'protocol', default=None) or 'TCP'} {get(p, 'port', default='*')}"
            + (f"-{get(p, 'endPort')}" if get(p, "endPort") is not None else "")
            for p in rule.ports
        )
    )
    return f"{'from' if rule.direction == 'ingress' else 'to'} {peers} on {ports}"


def _describe_peer(peer: Mapping[str, Any]) -> str:
    block = get(peer, "ipBlock")
    if block is not None:
        excepted = as_list(get(block, "except"))
        return f"ipBlock {get(block, 'cidr')}" + (
            f" except {', '.join(map(str, excepted))}" if excepted else ""
        )
    parts = []
    if get(peer, "namespaceSelector") is not None:
        parts.append(f"namespaces {_describe_selector(get(peer, 'namespaceSelector'))}")
    if get(peer, "podSelector") is not None:
        parts.append(f"pods {_describe_selector(get(peer, 'podSelector'))}")
    return " and ".join(parts) or "no peer"


def _describe_selector(selector: Any) -> str:
    match_labels = get(selector, "matchLabels", default={}) or {}
    items = [f"{k}={match_labels[k]}" for k in match_labels]
    items += [
        f"{get(e, 'key')} {get(e, 'operator')} {list(as_list(get(e, 'values')))}"
        for e in as_list(get(selector, "matchExpressions"))
    ]
    return "{" + ", ".join(items) + "}" if items else "{} (all)"
