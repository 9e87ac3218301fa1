"""Network policies for the platform namespace: deny everything, then allow each path the platform needs.

Allowed: DNS; clients -> gateway (ingress controller and configured namespaces only); gateway -> model
servers (where any runs); gateway -> database (or pooler); pooler -> database; operator -> database; database instances
among themselves; database -> Kubernetes API and the backup store; CloudNativePG's Jobs (initdb, join)
-> Kubernetes API and the instances; gateway -> external providers only when any is configured; gateway -> its Redis (and Redis pods among
themselves under Sentinel); model
servers -> HTTPS for the Hugging Face download (unless `offline`); with monitoring, Prometheus -> the model
servers (8000), the gateway (4000), the database instances (9187) and the pooler (9127), from Prometheus's
pods in its namespace only; with monitoring, too, the spend-log grant CronJob's pods -> the database
instances (5432; `spend_log_grant.py`, which exists exactly when the database is monitored).
Plain NetworkPolicy cannot name hosts, so "the internet" means every address outside the private ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import DATABASE_CLUSTER_NAME, PLATFORM_NAMESPACE, BackupEgress
from components.platform.common import network_policies, selector
from components.platform.database_names import POOLER_NAME
from components.platform.gateway import COMPONENT as GATEWAY_COMPONENT
from components.platform.gateway import NAME as GATEWAY_NAME
from components.platform.gateway import PORT as GATEWAY_PORT
from components.platform.gateway_config import MODEL_PORT
from components.platform.model_server import DOWNLOAD_LABEL
from components.platform.monitoring.values import PROMETHEUS_POD_LABELS
from components.platform.namespaces import CNPG_NAMESPACE
from components.platform.redis import COMPONENT as REDIS_COMPONENT
from components.platform.redis import NAME as REDIS_NAME
from components.platform.redis import PORT as REDIS_PORT
from components.platform.redis import SENTINEL_PORT
from components.platform.spend_log_grant import POD_LABELS as SPEND_LOG_GRANT_PODS

PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
DATABASE_PODS = {"cnpg.io/cluster": DATABASE_CLUSTER_NAME, "cnpg.io/podRole": "instance"}
#: CloudNativePG 1.30 labels the pods of its Jobs (initdb, join, import, pgbasebackup, full-recovery,
#: snapshot-recovery, major-upgrade) `cnpg.io/cluster` and `cnpg.io/jobRole`, never `cnpg.io/podRole`
#: (`pkg/specs/jobs.go` CreatePrimaryJob), so DATABASE_PODS does not select them.
DATABASE_JOB_PODS = {"cnpg.io/cluster": DATABASE_CLUSTER_NAME}
DATABASE_JOB_ROLE = "cnpg.io/jobRole"
POOLER_PODS = {"cnpg.io/poolerName": POOLER_NAME}
MODEL_PODS = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/part-of": "kiva"}
GATEWAY_PODS = selector(GATEWAY_NAME, GATEWAY_COMPONENT)
REDIS_PODS = selector(REDIS_NAME, REDIS_COMPONENT)
#: CloudNativePG's instance manager serves status on 8000, PostgreSQL on 5432, metrics on 9187.
POSTGRES, INSTANCE_STATUS, METRICS = 5432, 8000, 9187
#: PgBouncer's metrics port in CloudNativePG's pooler pods (`metrics`, 9127), which the database's
#: PodMonitor (selecting `cnpg.io/cluster`) also scrapes.
POOLER_METRICS = 9127

net = k8s.networking.v1
Peer = net.NetworkPolicyPeerArgs


def _namespace(name: str, pods: dict[str, str] | None = None) -> Peer:
    return Peer(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": name}),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods) if pods else None,
    )


def _pods(match: dict[str, str]) -> Peer:
    return Peer(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=match))


def _job_pods() -> k8s.meta.v1.LabelSelectorArgs:
    """The pods of the database's Jobs: its cluster label, and a job role of any value."""
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=DATABASE_JOB_PODS,
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=DATABASE_JOB_ROLE, operator="Exists")
        ],
    )


def _internet() -> Peer:
    return Peer(ip_block=net.IPBlockArgs(cidr="0.0.0.0/0", except_=PRIVATE_RANGES))


def _anywhere() -> Peer:
    return Peer(ip_block=net.IPBlockArgs(cidr="0.0.0.0/0"))


def _ports(*ports: int, protocol: str = "TCP") -> list[net.NetworkPolicyPortArgs]:
    return [net.NetworkPolicyPortArgs(port=port, protocol=protocol) for port in ports]


def _in(peers: list[Peer], ports: list[net.NetworkPolicyPortArgs]) -> net.NetworkPolicyIngressRuleArgs:
    return net.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)


def _out(peers: list[Peer], ports: list[net.NetworkPolicyPortArgs]) -> net.NetworkPolicyEgressRuleArgs:
    return net.NetworkPolicyEgressRuleArgs(to=peers, ports=ports)


def _spec(
    pods: dict[str, str] | None,
    ingress: list[net.NetworkPolicyIngressRuleArgs] | None = None,
    egress: list[net.NetworkPolicyEgressRuleArgs] | None = None,
) -> net.NetworkPolicySpecArgs:
    types = [kind for kind, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
    return net.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods),
        policy_types=types,
        ingress=ingress,
        egress=egress,
    )


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    """Which paths the platform's pods need besides the fixed ones."""

    client_namespaces: tuple[str, ...]
    """Namespaces whose pods may call the gateway (configured ones, then the ingress controller's)."""
    backup: BackupEgress
    """Where the database pods reach the backup store (`BackupTarget.egress`)."""
    pooled: bool = False
    """A pooler sits between the gateway and the database."""
    external_providers: bool = False
    """The gateway calls external model providers over HTTPS."""
    monitoring: bool = False
    """Prometheus scrapes the model servers, the gateway, the database and the pooler; and the spend-log
    grant CronJob (created with the database's monitoring, from the same setting) reaches the database."""
    prometheus_namespace: str = "kiva-monitoring"
    """Where Prometheus runs (the stack's `kiva-monitoring`, or the cluster's own)."""
    prometheus_pods: bool = True
    """Prometheus's pods carry the labels the stack's operator gives them (`PROMETHEUS_POD_LABELS`);
    `False` (the cluster's own Prometheus): any pod of `prometheus_namespace`."""
    model_download: bool = False
    """Some model server downloads its weights from the Hugging Face Hub."""
    operator_namespace: str = CNPG_NAMESPACE
    """Namespace of the CloudNativePG operator, which connects to the instances: the stack's, or the
    cluster's own (`operators.cloudnativePg.namespace`)."""
    model_servers: bool = True
    """The stack runs model servers; without (a gateway-only stack) no rule opens a path to them."""
    redis: bool = False
    """The gateway has a Redis (`kiva:gateway.redis`): only the gateway reaches it."""
    redis_sentinel: bool = False
    """That Redis replicates under Sentinel: its pods reach each other on 6379 and 26379."""


def backup_port(egress: BackupEgress) -> int:
    """The backup store's port, as the cloud layer states it."""
    return egress.port


def backup_peer(egress: BackupEgress) -> Peer:
    """Where the backups go: an in-cluster store's namespace, else the address range the store resolves
    to (a private endpoint's subnet), else any address. The cloud layer says which: an `ipBlock` need not
    match pod IPs, so an in-cluster store is named by its namespace."""
    if egress.namespace is not None:
        return _namespace(egress.namespace)
    return Peer(ip_block=net.IPBlockArgs(cidr=egress.cidr)) if egress.cidr is not None else _anywhere()


def _scrapes(args: NetworkPoliciesArgs, port: int) -> list[net.NetworkPolicyIngressRuleArgs]:
    """The ingress rule letting Prometheus scrape `port`, where the platform is monitored."""
    if not args.monitoring:
        return []
    pods = dict(PROMETHEUS_POD_LABELS) if args.prometheus_pods else None
    return [_in([_namespace(args.prometheus_namespace, pods)], _ports(port))]


def policies(args: NetworkPoliciesArgs) -> dict[str, net.NetworkPolicySpecArgs]:
    """NetworkPolicy specs by name."""
    clients = [_namespace(ns) for ns in args.client_namespaces]
    pooled = args.pooled
    database_clients = [_pods(POOLER_PODS)] if pooled else [_pods(GATEWAY_PODS)]
    gateway_egress = [_out([_pods(MODEL_PODS)], _ports(MODEL_PORT))] if args.model_servers else []
    gateway_egress.append(_out([_pods(POOLER_PODS if pooled else DATABASE_PODS)], _ports(POSTGRES)))
    if args.external_providers:
        gateway_egress.append(_out([_internet()], _ports(443)))
    redis_ports = _ports(REDIS_PORT, SENTINEL_PORT) if args.redis_sentinel else _ports(REDIS_PORT)
    if args.redis:
        gateway_egress.append(_out([_pods(REDIS_PODS)], redis_ports))
    database_ingress = [
        _in(database_clients, _ports(POSTGRES)),
        _in([_pods(DATABASE_PODS)], _ports(POSTGRES, INSTANCE_STATUS)),
        _in([_namespace(args.operator_namespace)], _ports(POSTGRES, INSTANCE_STATUS)),
        # The join Job of a new replica runs pg_basebackup against the primary (through the -rw Service).
        _in([Peer(pod_selector=_job_pods())], _ports(POSTGRES)),
    ]
    database_ingress += _scrapes(args, METRICS)
    if args.monitoring:
        # The spend-log grant connects to the primary through the `-rw` Service, never the pooler.
        database_ingress.append(_in([_pods(SPEND_LOG_GRANT_PODS)], _ports(POSTGRES)))
    specs = {
        "default-deny": net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
        ),
        "allow-dns": net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(),
            policy_types=["Egress"],
            egress=[
                _out(
                    [_namespace("kube-system", {"k8s-app": "kube-dns"})],
                    _ports(53, protocol="UDP") + _ports(53),
                )
            ],
        ),
        "gateway-ingress": _spec(
            GATEWAY_PODS,
            ingress=([_in(clients, _ports(GATEWAY_PORT))] if clients else []) + _scrapes(args, GATEWAY_PORT),
        ),
        "gateway-egress": _spec(GATEWAY_PODS, egress=gateway_egress),
        # Only where models run: on a gateway-only stack the rule would open a path no flow needs.
        **(
            {
                "model-servers": _spec(
                    MODEL_PODS,
                    ingress=[_in([_pods(GATEWAY_PODS)], _ports(MODEL_PORT)), *_scrapes(args, MODEL_PORT)],
                )
            }
            if args.model_servers
            else {}
        ),
        "database": _spec(
            DATABASE_PODS,
            ingress=database_ingress,
            egress=[
                _out([_pods(DATABASE_PODS)], _ports(POSTGRES, INSTANCE_STATUS)),
                # The instance manager talks to the Kubernetes API; the plugin to the backup store.
                _out([_anywhere()], _ports(443, 6443)),
                _out([backup_peer(args.backup)], _ports(backup_port(args.backup))),
            ],
        ),
    }
    # initdb and join first read the Cluster object from the API server (management.WaitForGetCluster);
    # join then copies the primary with pg_basebackup over the replication protocol on 5432.
    specs["database-jobs"] = net.NetworkPolicySpecArgs(
        pod_selector=_job_pods(),
        policy_types=["Egress"],
        egress=[_out([_pods(DATABASE_PODS)], _ports(POSTGRES)), _out([_anywhere()], _ports(443, 6443))],
    )
    if args.monitoring:
        specs["spend-log-grant"] = _spec(
            SPEND_LOG_GRANT_PODS, egress=[_out([_pods(DATABASE_PODS)], _ports(POSTGRES))]
        )
    if args.model_download:
        # Weights come from the Hugging Face Hub over HTTPS, unless the model is `offline`.
        specs["model-download"] = _spec(
            MODEL_PODS | {DOWNLOAD_LABEL: "huggingface"}, egress=[_out([_internet()], _ports(443))]
        )
    if args.redis:
        # Only the gateway, and with Sentinel the Redis pods among themselves (replication, Sentinel).
        peers = [_in([_pods(REDIS_PODS)], redis_ports)] if args.redis_sentinel else []
        specs["redis"] = _spec(
            REDIS_PODS,
            ingress=[_in([_pods(GATEWAY_PODS)], redis_ports), *peers],
            egress=[_out([_pods(REDIS_PODS)], redis_ports)] if args.redis_sentinel else [],
        )
    if pooled:
        specs["pooler"] = _spec(
            POOLER_PODS,
            # Only the gateway: the operator manages PgBouncer through the API server and never
            # connects to it (cloudnative-pg 1.30 uses the PgBouncer port only inside the pooler pod).
            ingress=[_in([_pods(GATEWAY_PODS)], _ports(POSTGRES)), *_scrapes(args, POOLER_METRICS)],
            egress=[_out([_pods(DATABASE_PODS)], _ports(POSTGRES)), _out([_anywhere()], _ports(443, 6443))],
        )
    return specs


class NetworkPolicies(pulumi.ComponentResource):
    """Default deny plus the allowed paths, in the platform namespace."""

    by_name: dict[str, k8s.networking.v1.NetworkPolicy]

    def __init__(
        self,
        name: str,
        args: NetworkPoliciesArgs,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("kiva:platform:NetworkPolicies", name, None, opts)
        self.by_name = network_policies(self, name, "kiva", PLATFORM_NAMESPACE, policies(args), depends_on)
        self.register_outputs({})
