"""The flows the platform needs on a real cluster, derived from which resources the plan holds.

The knowledge of who talks to whom lives here, not in the plan: the plan only says which parts exist
(a LiteLLM gateway, vLLM servers, a CloudNativePG `Cluster` and `Pooler`, operators as Helm releases, a
Barman Cloud `ObjectStore`, External Secrets with an Azure Key Vault store), and this module turns that
into (source, target, port) flows. Pods are (namespace, labels) as their controllers label them:

- CloudNativePG 1.30 (`pkg/specs/pods.go`, `pkg/specs/jobs.go`, `pkg/specs/pgbouncer/deployments.go`):
  instance pods `cnpg.io/cluster`, `cnpg.io/instanceName`, `cnpg.io/podRole: instance`, primary
  `cnpg.io/instanceRole: primary` (and `role: primary`); Job pods (initdb, join, ...) `cnpg.io/cluster`,
  `cnpg.io/instanceName`, `cnpg.io/jobRole` and no `podRole`; pooler pods `cnpg.io/poolerName`,
  `cnpg.io/podRole: pooler`; all `app.kubernetes.io/{name: postgresql, instance: <cluster>, component,
  managed-by: cloudnative-pg}` plus the Cluster's `inheritedMetadata.labels`. Container ports
  `postgresql` 5432, `metrics` 9187, `status` 8000; PgBouncer `pgbouncer` 5432. The initdb and join
  commands first read the Cluster from the API server (`internal/cmd/manager/instance/*/cmd.go`); join
  copies the primary with pg_basebackup. The docs ("Networking") ask that the operator reaches every
  instance on 8000 and 5432 and that instances reach each other.
- Prometheus (kube-prometheus-stack 88.5.3): the operator runs the chart's Prometheus `<fullname>-prometheus`
  (`kube-prometheus-stack.prometheus.crname`; fullname is the release name when it contains the chart's
  name) as pods labelled `app.kubernetes.io/name: prometheus` and `operator.prometheus.io/name: <that name>`,
  which is how the chart's own NetworkPolicy (`templates/prometheus/networkpolicy.yaml`) selects them. It
  scrapes every pod a PodMonitor of the plan selects, on the named ports of its `podMetricsEndpoints`.
  Where the cluster runs its own Prometheus, the PodMonitors name its namespace
  (`kiva.platform/prometheus-namespace`). Inside the release's namespace Prometheus scrapes itself
  (`web` 9090, config reloader `reloader-web` 8080), Alertmanager (`app.kubernetes.io/name: alertmanager`,
  9093 and 8080; it also sends alerts there), kube-state-metrics (`app.kubernetes.io/{name:
  kube-state-metrics, instance: <release>}`, `http` 8080), the operator (`app: <name>-operator`,
  `release: <release>`, `https` 10250, which the API server also calls as the admission webhook) and
  Grafana (`app.kubernetes.io/{name: grafana, instance: <release>}`, 3000); Grafana queries Prometheus
  and Alertmanager. The chart's ServiceMonitors and templates at 88.5.3 (`prometheus.serviceMonitor.selfMonitor`,
  `alertmanager.serviceMonitor.selfMonitor`, `grafana.serviceMonitor.enabled`: all on by default).
- Charts: cloudnative-pg 0.29.0 and external-secrets 2.9.0 label their pods
  `app.kubernetes.io/name: <nameOverride or chart>`, `app.kubernetes.io/instance: <release>` plus
  `podLabels`.

External addresses are samples: the API server is a private and a public address on 443 and 6443 unless
the plan says which (AKS: 443, public unless `enablePrivateCluster`); "the internet" is a public
address outside the private ranges; an in-cluster S3 endpoint (`<svc>.<ns>.svc…`) is a pod in `<ns>`.
Other clients of a database are found by libpq's own environment: a workload, Job or CronJob whose
container sets `PGHOST` to the Cluster's `-rw` Service or a Pooler connects there on `PGPORT` (5432).
A private Azure Blob account is reached in its private endpoint's subnet, and an ObjectStore that
authenticates by workload identity also needs Entra ID on 443 (`private_blob.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from kiva_policies.base import (
    CNPG_CLUSTER,
    CNPG_OBJECT_STORE,
    CONFIG_MAP,
    NAMESPACE,
    NETWORK_POLICY,
    SERVICE,
    as_list,
    containers,
    env_values,
    get,
    is_number,
    pod_spec,
    pod_template_labels,
)
from kiva_policies.day_one.network_policy_eval import (
    External,
    Flow,
    NamespaceLabels,
    NetworkPolicy,
    Pod,
    parse_policy,
    pod,
)
from kiva_policies.day_one.private_blob import (
    ENTRA_ID,
    destination_host,
    private_blob_address,
    uses_entra_id,
)
from kiva_policies.litellm import litellm_config

CNPG_POOLER = "kubernetes:postgresql.cnpg.io/v1:Pooler"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROMETHEUS_CHART = "kube-prometheus-stack"
PROMETHEUS_NAMESPACE_ANNOTATION = "kiva.platform/prometheus-namespace"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_RELEASE_V4 = "kubernetes:helm.sh/v4:Chart"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
KEY_VAULT = "azure-native:keyvault:Vault"
SECRET_STORES = (
    "kubernetes:external-secrets.io/v1:ClusterSecretStore",
    "kubernetes:external-secrets.io/v1:SecretStore",
    "kubernetes:external-secrets.io/v1beta1:ClusterSecretStore",
    "kubernetes:external-secrets.io/v1beta1:SecretStore",
)
WORKLOADS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
)

#: The annotation on the gateway Ingress naming its controller's namespace (set by the platform layer).
CONTROLLER_NAMESPACE_ANNOTATION = "kiva.platform/controller-namespace"
#: Where well-known ingress classes run their controller, when the Ingress does not say.
INGRESS_CLASS_NAMESPACES = {
    "webapprouting.kubernetes.azure.com": "app-routing-system",  # AKS application routing
    "nginx": "ingress-nginx",
}
INTERNAL_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")

API_PRIVATE = "10.0.0.1"
API_PUBLIC = "198.51.100.20"
INTERNET = "203.0.113.10"
PRIVATE_ENDPOINT = "10.240.16.4"

POSTGRES, STATUS, METRICS, PGBOUNCER_METRICS = 5432, 8000, 9187, 9127
INSTANCE_PORTS = (("postgresql", POSTGRES, "TCP"), ("metrics", METRICS, "TCP"), ("status", STATUS, "TCP"))
POOLER_PORTS = (("pgbouncer", POSTGRES, "TCP"), ("metrics", PGBOUNCER_METRICS, "TCP"))
KUBE_DNS = pod(
    "kube-system", "kube-dns", {"k8s-app": "kube-dns"}, (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))
)


@dataclass(frozen=True)
class Res:
    """A planned resource, whether a `PolicyResource` (policies) or a `PlannedResource` (CLI summary)."""

    type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    dependencies: tuple[str, ...]


def view(resources: Iterable[Any]) -> list[Res]:
    result = []
    for r in resources:
        kind = getattr(r, "resource_type", None) or getattr(r, "type", "")
        deps = tuple(getattr(d, "urn", d) for d in (getattr(r, "dependencies", None) or ()))
        props = r.props if isinstance(r.props, Mapping) else {}
        result.append(Res(str(kind), props, str(r.urn), str(r.name), tuple(str(d) for d in deps)))
    return result


def meta_name(r: Res) -> str:
    return str(get(r.props, "metadata", "name", default=None) or r.name)


def meta_namespace(r: Res) -> str:
    return str(get(r.props, "metadata", "namespace", default=None) or "default")


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(value[k]) for k in value} if isinstance(value, Mapping) else {}


def named_ports(spec: Mapping[str, Any] | None) -> tuple[tuple[str, int, str], ...]:
    ports = []
    for ref in containers(spec):
        for entry in as_list(get(ref.container, "ports")):
            number, name = get(entry, "containerPort"), get(entry, "name")
            if is_number(number) and isinstance(name, str):
                ports.append((name, int(number), str(get(entry, "protocol", default=None) or "TCP")))
    return tuple(ports)


@dataclass
class Matrix:
    """The required flows and what they were derived from."""

    flows: list[Flow] = field(default_factory=list)
    policies: list[NetworkPolicy] = field(default_factory=list)
    namespaces: NamespaceLabels = field(default_factory=lambda: NamespaceLabels({}))
    database_pods: list[Pod] = field(default_factory=list)

    def add(
        self, source: Any, target: Any, ports: Iterable[int], purpose: str, protocol: str = "TCP"
    ) -> None:
        for port in ports:
            flow = Flow(source, target, int(port), protocol, purpose)
            if flow not in self.flows:
                self.flows.append(flow)


def _workload_pods(resources: Sequence[Res], image_part: str) -> list[tuple[Res, Pod]]:
    result = []
    for r in resources:
        if r.type not in WORKLOADS:
            continue
        spec = pod_spec(r.type, r.props)
        if not any(image_part in ref.image for ref in containers(spec)):
            continue
        labels = _str_map(pod_template_labels(r.type, r.props))
        result.append((r, pod(meta_namespace(r), meta_name(r), labels, named_ports(spec))))
    return result


def _service_targets(service: Res, target: Pod) -> list[int]:
    """Ports of `target` the Service forwards to (targetPort resolved against the pod), if it selects it."""
    selector = _str_map(get(service.props, "spec", "selector"))
    if not selector or meta_namespace(service) != target.namespace:
        return []
    labels = target.label_map
    if any(labels.get(k) != v for k, v in selector.items()):
        return []
    ports = []
    for entry in as_list(get(service.props, "spec", "ports")):
        target_port = get(entry, "targetPort", default=None)
        if target_port is None:
            target_port = get(entry, "port")
        if is_number(target_port) or (isinstance(target_port, str) and target_port.isdigit()):
            ports.append(int(target_port))
        elif isinstance(target_port, str):
            ports += [number for name, number, _ in target.named_ports if name == target_port]
    return ports


def _release_pod(r: Res, chart: str) -> Pod:
    values = get(r.props, "values", default={}) or {}
    name = str(get(values, "nameOverride", default=None) or chart)
    release = str(get(r.props, "name", default=None) or r.name)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
    labels.update(_str_map(get(values, "podLabels")))
    return pod(str(get(r.props, "namespace", default=None) or "default"), release, labels)


def _releases(resources: Sequence[Res], chart: str) -> list[Res]:
    return [
        r
        for r in resources
        if r.type in (HELM_RELEASE, HELM_RELEASE_V4) and str(get(r.props, "chart", default="")) == chart
    ]


def prometheus_pods(resources: Sequence[Res]) -> list[Pod]:
    """The Prometheus pods of the plan's kube-prometheus-stack releases, else the namespaces the
    PodMonitors name for the cluster's own Prometheus (any pod there)."""
    found = []
    for r in _releases(resources, PROMETHEUS_CHART):
        values = get(r.props, "values", default={}) or {}
        release = str(get(r.props, "name", default=None) or r.name)
        name = str(get(values, "nameOverride", default=None) or PROMETHEUS_CHART)
        fullname = str(get(values, "fullnameOverride", default=None) or "") or (
            release if name in release else f"{release}-{name}"
        )
        labels = {
            "app.kubernetes.io/name": "prometheus",
            "operator.prometheus.io/name": f"{fullname[:26].rstrip('-')}-prometheus",
        }
        found.append(pod(str(get(r.props, "namespace", default=None) or "default"), "prometheus", labels))
    if found:
        return found
    namespaces = {
        str(get(r.props, "metadata", "annotations", PROMETHEUS_NAMESPACE_ANNOTATION))
        for r in resources
        if r.type == POD_MONITOR
        and get(r.props, "metadata", "annotations", PROMETHEUS_NAMESPACE_ANNOTATION) is not None
    }
    return [pod(namespace, "prometheus (the cluster's)", {}) for namespace in sorted(namespaces)]


def _enabled(values: Any, *path: str) -> bool:
    """A chart switch that defaults to on (`grafana.enabled`, ...): off only where set to false."""
    return get(values, *path, default=True) is not False


@dataclass(frozen=True)
class MonitoringRelease:
    """One kube-prometheus-stack release as its pods' labels need it."""

    values: Any
    release: str
    """The Helm release name (`app.kubernetes.io/instance`, `release`)."""
    namespace: str
    name: str
    """The chart's name as its templates use it (`nameOverride`, else the chart's)."""
    prometheus: Pod


def monitoring_releases(resources: Sequence[Res]) -> Iterable[MonitoringRelease]:
    """Every kube-prometheus-stack release of the plan, with its Prometheus pod."""
    for r in _releases(resources, PROMETHEUS_CHART):
        values = get(r.props, "values", default={}) or {}
        namespace = str(get(r.props, "namespace", default=None) or "default")
        [prometheus] = [p for p in prometheus_pods([r]) if p.namespace == namespace]
        yield MonitoringRelease(
            values,
            str(get(r.props, "name", default=None) or r.name),
            namespace,
            str(get(values, "nameOverride", default=None) or PROMETHEUS_CHART),
            prometheus,
        )


def monitoring_stack_flows(
    matrix: Matrix, resources: Sequence[Res], apis: Sequence[tuple[Any, list[int]]]
) -> None:
    """The flows among the pods of each kube-prometheus-stack release (see the module docstring)."""
    for stack in monitoring_releases(resources):
        values, release, namespace, name = stack.values, stack.release, stack.namespace, stack.name
        prometheus = stack.prometheus
        matrix.add(prometheus, prometheus, [9090, 8080], "Prometheus scrapes itself and its config reloader")
        grafana = pod(
            namespace, "grafana", {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release}
        )
        if _enabled(values, "alertmanager", "enabled"):
            alertmanager = pod(namespace, "alertmanager", {"app.kubernetes.io/name": "alertmanager"})
            matrix.add(prometheus, alertmanager, [9093, 8080], "Prometheus → Alertmanager (alerts, scrapes)")
            if _enabled(values, "grafana", "enabled"):
                matrix.add(grafana, alertmanager, [9093], "Grafana → Alertmanager (datasource)")
        if _enabled(values, "kubeStateMetrics", "enabled"):
            labels = {"app.kubernetes.io/name": "kube-state-metrics", "app.kubernetes.io/instance": release}
            matrix.add(
                prometheus,
                pod(namespace, "kube-state-metrics", labels),
                [8080],
                "Prometheus scrapes kube-state-metrics",
            )
        if _enabled(values, "prometheusOperator", "enabled"):
            operator = pod(namespace, "prometheus-operator", {"app": f"{name}-operator", "release": release})
            matrix.add(prometheus, operator, [10250], "Prometheus scrapes the Prometheus Operator")
            for api, _ in apis:
                matrix.add(api, operator, [10250], "API server → Prometheus Operator admission webhook")
        if _enabled(values, "grafana", "enabled"):
            matrix.add(grafana, prometheus, [9090], "Grafana → Prometheus (datasource)")
            matrix.add(prometheus, grafana, [3000], "Prometheus scrapes Grafana")


def scrape_targets(monitor: Res, candidates: Sequence[Pod]) -> list[tuple[Pod, int]]:
    """(pod, port) pairs a PodMonitor makes Prometheus scrape among `candidates`: pods in its namespaces
    (`namespaceSelector.matchNames`, else its own) matching `selector.matchLabels`, on the named ports
    of its `podMetricsEndpoints`."""
    names = [str(n) for n in as_list(get(monitor.props, "spec", "namespaceSelector", "matchNames"))]
    namespaces = names or [meta_namespace(monitor)]
    match = _str_map(get(monitor.props, "spec", "selector", "matchLabels"))
    ports = [get(e, "port") for e in as_list(get(monitor.props, "spec", "podMetricsEndpoints"))]
    targets = []
    for candidate in candidates:
        labels = candidate.label_map
        if candidate.namespace not in namespaces or any(labels.get(k) != v for k, v in match.items()):
            continue
        for name, number, _ in candidate.named_ports:
            if name in ports:
                targets.append((candidate, number))
    return targets


def _major(image: Any) -> str:
    tag = str(image).rsplit(":", 1)[-1] if isinstance(image, str) and ":" in image else ""
    return tag.split(".", 1)[0] if tag[:1].isdigit() else "17"


@dataclass(frozen=True)
class Database:
    cluster: Res
    primary: Pod
    replica: Pod | None
    jobs: tuple[Pod, ...]

    @property
    def instances(self) -> list[Pod]:
        return [self.primary] + ([self.replica] if self.replica else [])


def database_of(r: Res) -> Database:
    namespace, name = meta_namespace(r), meta_name(r)
    inherited = _str_map(get(r.props, "spec", "inheritedMetadata", "labels"))
    common = {
        **inherited,
        "cnpg.io/cluster": name,
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/version": _major(get(r.props, "spec", "imageName")),
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/managed-by": "cloudnative-pg",
    }

    def instance(serial: int, role: str) -> Pod:
        labels = {
            **common,
            "cnpg.io/instanceName": f"{name}-{serial}",
            "cnpg.io/podRole": "instance",
            "cnpg.io/instanceRole": role,
            "role": role,
        }
        return pod(namespace, f"{name}-{serial} ({role})", labels, INSTANCE_PORTS)

    def job(serial: int, role: str) -> Pod:
        labels = {**common, "cnpg.io/instanceName": f"{name}-{serial}", "cnpg.io/jobRole": role}
        return pod(namespace, f"{name}-{serial}-{role} (Job)", labels)

    count = get(r.props, "spec", "instances", default=1)
    replicas = int(count) > 1 if is_number(count) else True
    return Database(
        r,
        instance(1, "primary"),
        instance(2, "replica") if replicas else None,
        (job(1, "initdb"), job(2, "join")),
    )


def _pooler_pod(r: Res) -> Pod:
    name = meta_name(r)
    cluster = str(get(r.props, "spec", "cluster", "name", default=""))
    labels = _str_map(get(r.props, "spec", "template", "metadata", "labels"))
    labels.update(
        {
            "cnpg.io/poolerName": name,
            "cnpg.io/cluster": cluster,
            "cnpg.io/podRole": "pooler",
            "app.kubernetes.io/name": "postgresql",
            "app.kubernetes.io/instance": cluster,
            "app.kubernetes.io/component": "pooler",
            "app.kubernetes.io/managed-by": "cloudnative-pg",
        }
    )
    return pod(meta_namespace(r), f"{name} (pooler)", labels, POOLER_PORTS)


def api_servers(resources: Sequence[Res]) -> list[tuple[External, list[int]]]:
    clusters = [r for r in resources if r.type == MANAGED_CLUSTER]
    if clusters:
        private = any(
            get(c.props, "apiServerAccessProfile", "enablePrivateCluster") is True for c in clusters
        )
        address = API_PRIVATE if private else API_PUBLIC
        return [(External(address, f"API server ({'private' if private else 'public'})"), [443])]
    return [
        (External(API_PRIVATE, "API server (private sample)"), [443, 6443]),
        (External(API_PUBLIC, "API server (public sample)"), [443, 6443]),
    ]


def _url_endpoint(url: str, purpose: str, namespace: str = "default") -> tuple[Any, int] | None:
    """The endpoint an HTTP(S) URL reaches: an in-cluster service's namespace, an address, or the internet."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    if not host:
        return None
    try:
        port = parsed.port or (80 if parsed.scheme == "http" else 443)
    except ValueError:
        return None
    if host.endswith(INTERNAL_SUFFIXES) or "." not in host:
        parts = host.split(".")
        return pod(parts[1] if len(parts) > 1 else namespace, f"{parts[0]} ({purpose})", {}), port
    if host.replace(".", "").isdigit():
        return External(host, purpose), port
    return External(INTERNET, f"{purpose} {host}"), port


def backup_endpoints(store: Res) -> list[tuple[Any, int]]:
    """Where the Barman Cloud plugin sends this ObjectStore's backups: the endpoint URL, else the path."""
    config = get(store.props, "spec", "configuration", default={}) or {}
    namespace = meta_namespace(store)
    endpoint = get(config, "endpointURL")
    destination = str(get(config, "destinationPath", default="") or "")
    if isinstance(endpoint, str) and endpoint:
        found = _url_endpoint(endpoint, "backup object store", namespace)
        return [found] if found else []
    if destination.startswith(("https://", "http://")):
        found = _url_endpoint(destination, "backup object store", namespace)
        return [found] if found else []
    if destination:  # s3://, gs://: the provider's public endpoint over HTTPS
        return [(External(INTERNET, f"backup object store {urlparse(destination).netloc}"), 443)]
    return []


LIBPQ_CLIENTS = (*WORKLOADS, "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")


def libpq_clients(
    resources: Sequence[Res], namespace: str, targets: Mapping[str, Pod]
) -> list[tuple[Pod, Pod, int]]:
    """(client, target, port) for each workload, Job or CronJob of `namespace` whose container sets
    libpq's `PGHOST` to one of `targets` (a Service name, bare or `<name>.<namespace>[.svc…]`); the port
    is `PGPORT`, else libpq's default 5432."""
    found = []
    for r in resources:
        if r.type not in LIBPQ_CLIENTS or meta_namespace(r) != namespace:
            continue
        spec = pod_spec(r.type, r.props)
        for ref in containers(spec):
            env = env_values(ref.container)
            host = str(get(env.get("PGHOST", {}), "value", default="") or "")
            name, _, rest = host.partition(".")
            if name not in targets or (rest and rest.split(".", 1)[0] != namespace):
                continue
            port = str(get(env.get("PGPORT", {}), "value", default="") or "")
            labels = _str_map(pod_template_labels(r.type, r.props))
            client = pod(namespace, meta_name(r), labels, named_ports(spec))
            found.append((client, targets[name], int(port) if port.isdigit() else POSTGRES))
    return found


def required_flows(resources: Sequence[Res]) -> Matrix:
    """The matrix of flows this plan needs, and the NetworkPolicies and namespaces to judge them by."""
    matrix = Matrix()
    declared = {
        meta_name(r): _str_map(get(r.props, "metadata", "labels")) for r in resources if r.type == NAMESPACE
    }
    matrix.namespaces = NamespaceLabels(declared)
    matrix.policies = [parse_policy(r.props, r.urn, r.name) for r in resources if r.type == NETWORK_POLICY]
    services = [r for r in resources if r.type == SERVICE]
    apis = api_servers(resources)
    gateways = _workload_pods(resources, "litellm")
    models = _workload_pods(resources, "vllm")
    databases = [database_of(r) for r in resources if r.type == CNPG_CLUSTER]
    poolers = [(r, _pooler_pod(r)) for r in resources if r.type == CNPG_POOLER]
    sources: list[Pod] = []
    prometheus = prometheus_pods(resources)
    scrapers = {p.namespace for p in prometheus}

    # clients -> gateway
    for _, gateway in gateways:
        ports = [p for s in services for p in _service_targets(s, gateway)] or [
            n for _, n, _ in gateway.named_ports
        ]
        client_namespaces = []
        for ingress in (r for r in resources if r.type == INGRESS):
            backends = _ingress_services(ingress)
            if (
                not any(meta_name(s) in backends and _service_targets(s, gateway) for s in services)
                or meta_namespace(ingress) != gateway.namespace
            ):
                continue
            annotation = get(ingress.props, "metadata", "annotations", CONTROLLER_NAMESPACE_ANNOTATION)
            class_name = get(ingress.props, "spec", "ingressClassName")
            namespace = annotation or INGRESS_CLASS_NAMESPACES.get(str(class_name))
            if namespace:
                client_namespaces.append((str(namespace), f"ingress controller of {meta_name(ingress)}"))
        for policy in matrix.policies:
            if policy.selects(gateway):
                for rule in policy.rules:
                    if rule.direction == "ingress":
                        for peer in rule.peers or ():
                            name = get(
                                peer, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"
                            )
                            if isinstance(name, str):
                                client_namespaces.append((name, "clients"))
        for namespace, what in client_namespaces:
            if namespace in scrapers:
                continue  # Prometheus's rule: its flows are the scrapes below
            matrix.add(pod(namespace, what, {}), gateway, ports, "clients → gateway")
        sources.append(gateway)

    # gateway -> model servers, external providers
    for model_res, model in models:
        for _, gateway in gateways:
            for service in services:
                ports = _service_targets(service, model)
                matrix.add(gateway, model, ports, f"gateway → model server {meta_name(service)}")
        env = {}
        for ref in containers(pod_spec(model_res.type, model_res.props)):
            env.update(env_values(ref.container))
        offline = str(get(env.get("HF_HUB_OFFLINE", {}), "value", default="")) in ("1", "true", "True")
        if not offline:
            matrix.add(model, External(INTERNET, "Hugging Face Hub"), [443], "model download")
        sources.append(model)
    for r in resources:
        if r.type != CONFIG_MAP:
            continue
        document = litellm_config(r.props)
        if document is None:
            continue
        for entry in as_list(document.get("model_list")):
            params = get(entry, "litellm_params", default={}) or {}
            api_base = params.get("api_base") if isinstance(params, Mapping) else None
            model_name = str(get(params, "model", default="") or "")
            if isinstance(api_base, str) and api_base:
                found = _url_endpoint(api_base, f"provider of {get(entry, 'model_name')}", meta_namespace(r))
                if found is None or isinstance(found[0], Pod):
                    continue  # in-cluster model servers are covered by their Services
                target, port = found
            elif model_name.startswith("hosted_vllm/"):
                continue
            else:
                target, port = External(INTERNET, f"provider of {get(entry, 'model_name')}"), 443
            for _, gateway in gateways:
                if gateway.namespace == meta_namespace(r):
                    matrix.add(gateway, target, [port], "gateway → external provider")

    # gateway -> its Redis (Valkey); Redis pods among themselves where Sentinel replicates them
    for _, redis in _workload_pods(resources, "valkey/valkey"):
        ports = [number for _, number, _ in redis.named_ports]
        for _, gateway in gateways:
            if gateway.namespace == redis.namespace:
                matrix.add(gateway, redis, ports, "gateway → Redis")
        if any(name == "sentinel" for name, _, _ in redis.named_ports):
            matrix.add(redis, redis, ports, "Redis replication and Sentinel")
            sources.append(redis)  # announces and resolves pod host names

    # database
    operators = [_release_pod(r, "cloudnative-pg") for r in _releases(resources, "cloudnative-pg")]
    for db in databases:
        namespace, name = meta_namespace(db.cluster), meta_name(db.cluster)
        matrix.database_pods += db.instances
        own_poolers = [
            (r, p)
            for r, p in poolers
            if meta_namespace(r) == namespace and get(r.props, "spec", "cluster", "name") == name
        ]
        rw_poolers = [p for r, p in own_poolers if get(r.props, "spec", "type", default="rw") == "rw"]
        for _, gateway in gateways:
            if gateway.namespace != namespace:
                continue
            for target in rw_poolers or [db.primary]:
                matrix.add(gateway, target, [POSTGRES], "gateway → database")
        for operator in operators:
            for instance in db.instances:
                matrix.add(operator, instance, [STATUS, POSTGRES], "CloudNativePG operator → instance")
        for source in db.instances:
            for target in db.instances:
                matrix.add(source, target, [POSTGRES, STATUS], "instance ↔ instance (replication, status)")
            for api, ports in apis:
                matrix.add(source, api, ports, "instance manager → API server")
        for job in db.jobs:
            for api, ports in apis:
                matrix.add(job, api, ports, "CloudNativePG Job → API server")
            matrix.add(job, db.primary, [POSTGRES], "CloudNativePG Job → primary")
        libpq_targets = {f"{name}-rw": db.primary} | {meta_name(r): p for r, p in own_poolers}
        for client, target, port in libpq_clients(resources, namespace, libpq_targets):
            matrix.add(client, target, [port], "libpq client (PGHOST) → database")
            sources.append(client)
        for pooler_res, pooler in own_poolers:
            kind = get(pooler_res.props, "spec", "type", default="rw")
            targets = [db.primary] if kind == "rw" or db.replica is None else [db.replica]
            for target in targets:
                matrix.add(pooler, target, [POSTGRES], "pooler → instance")
            for api, ports in apis:
                matrix.add(pooler, api, ports, "pooler → API server")
            matrix.database_pods.append(pooler)
        stores = _stores_of(resources, db.cluster)
        for store in stores:
            configuration = get(store.props, "spec", "configuration", default={}) or {}
            host = destination_host(configuration)
            private = private_blob_address(host, resources, PRIVATE_ENDPOINT)
            endpoints = [(External(private, f"backup {host} (private)"), 443)] if private else []
            for target, port in endpoints or backup_endpoints(store):
                for source in db.instances:
                    matrix.add(source, target, [port], f"backup to ObjectStore {meta_name(store)}")
            if uses_entra_id(configuration):
                for source in db.instances:
                    matrix.add(source, External(INTERNET, f"Entra ID {ENTRA_ID}"), [443], "Entra ID token")
        sources += db.instances + list(db.jobs) + [p for _, p in own_poolers]
    sources += operators

    # Prometheus -> what the PodMonitors select
    # (and out of the release's namespace: monitoring_flows.py, which imports this module)
    from kiva_policies.day_one.monitoring_flows import monitoring_egress_flows, numbered_targets

    candidates = [p for _, p in gateways + models] + matrix.database_pods
    for monitor in (r for r in resources if r.type == POD_MONITOR):
        for target, port in scrape_targets(monitor, candidates) + numbered_targets(monitor, candidates):
            for source in prometheus:
                matrix.add(source, target, [port], f"Prometheus scrapes PodMonitor {meta_name(monitor)}")
    monitoring_stack_flows(matrix, resources, apis)
    monitoring_egress_flows(matrix, resources, apis)

    # External Secrets -> Key Vault
    if any(r.type in SECRET_STORES and get(r.props, "spec", "provider", "azurekv") for r in resources):
        for release in _releases(resources, "external-secrets"):
            eso = _release_pod(release, "external-secrets")
            for vault in (r for r in resources if r.type == KEY_VAULT):
                private = get(vault.props, "properties", "publicNetworkAccess") == "Disabled"
                address = PRIVATE_ENDPOINT if private else INTERNET
                matrix.add(
                    eso, External(address, f"Key Vault {vault.name}"), [443], "External Secrets → Key Vault"
                )
            sources.append(eso)

    # everything -> DNS
    for source in sources:
        for protocol in ("UDP", "TCP"):
            matrix.add(source, KUBE_DNS, [53], "DNS", protocol)
    return matrix


def _ingress_services(ingress: Res) -> set[str]:
    names = set()
    default = get(ingress.props, "spec", "defaultBackend", "service", "name")
    if isinstance(default, str):
        names.add(default)
    for rule in as_list(get(ingress.props, "spec", "rules")):
        for path in as_list(get(rule, "http", "paths")):
            name = get(path, "backend", "service", "name")
            if isinstance(name, str):
                names.add(name)
    return names


def _stores_of(resources: Sequence[Res], cluster: Res) -> list[Res]:
    """The ObjectStores the Cluster's Barman Cloud plugin writes to (all in its namespace if unnamed)."""
    namespace = meta_namespace(cluster)
    named = {
        str(get(plugin, "parameters", "barmanObjectName"))
        for plugin in as_list(get(cluster.props, "spec", "plugins"))
        if get(plugin, "parameters", "barmanObjectName") is not None
    }
    return [
        r
        for r in resources
        if r.type == CNPG_OBJECT_STORE
        and meta_namespace(r) == namespace
        and (not named or meta_name(r) in named)
    ]
