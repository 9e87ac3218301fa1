"""What the pinned operator charts run and install, and which values change that.

Recorded per chart version from the chart's `values.yaml` and templates (`../shared/charts/<name>-<version>/`, or
the repository's `charts/<name>-<version>/`; `tests/policies/day_one/test_charts.py` checks every recorded default
and CRD against that folder):
- the pods each chart runs (Deployments, DaemonSets, install-time Jobs), the values block that holds
  their `tolerations`, `nodeSelector`, `affinity`, `resources` and `replicaCount`, and how a chart's
  `global` block combines with it;
- the CRDs it installs and the values that gate them;
- the custom resources it renders (or makes its operator create) from values, whose CRDs must exist.

A release's values are merged over the chart defaults as Helm coalesces them: maps merge deeply, any
other value (lists included) replaces, and `null` deletes the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiva_policies.base import is_list, plain

_CONTROL_PLANE_TOLERATIONS = [
    {"key": "node-role.kubernetes.io/master", "operator": "Equal", "value": "", "effect": "NoSchedule"},
    {
        "key": "node-role.kubernetes.io/control-plane",
        "operator": "Equal",
        "value": "",
        "effect": "NoSchedule",
    },
]
_PREFER_CONTROL_PLANE = {
    "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "preference": {
                    "matchExpressions": [
                        {"key": "node-role.kubernetes.io/master", "operator": "In", "values": [""]}
                    ]
                },
            },
            {
                "weight": 1,
                "preference": {
                    "matchExpressions": [
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": [""]}
                    ]
                },
            },
        ]
    }
}


@dataclass(frozen=True)
class ChartPod:
    """One pod template a chart renders."""

    name: str
    kind: str  # Deployment | DaemonSet | Job
    block: tuple[str, ...] = ()
    """Values path of the block holding its tolerations/nodeSelector/affinity/resources/replicaCount."""
    enabled: tuple[str, ...] = ()
    """Values paths that must all be truthy for it to render."""
    disabled_by: tuple[str, ...] = ()
    """Values paths any of which, when truthy, stops it from rendering."""
    replicas: str | None = "replicaCount"
    globals: str = ""
    """How the chart's `global` block combines: "" none, "default" (component value, else global: ESO),
    "merge-node-selector" (global nodeSelector merged over the component's, sprig `merge`: cert-manager)."""
    fixed_node_selector: Mapping[str, str] = field(default_factory=dict)
    subchart: str = ""
    """Alias of the subchart whose values hold `block`."""
    advertises_gpus: bool = False
    """A device plugin: where it runs, nodes advertise `nvidia.com/gpu`."""
    discovers_gpus: bool = False
    """Node Feature Discovery worker: labels the GPU nodes it runs on `feature.node.kubernetes.io/pci-10de.present`."""
    transient: bool = False
    """A Job (or hook) pod: must be placeable, but does not hold capacity."""


@dataclass(frozen=True)
class ChartCrd:
    name: str
    when: tuple[str, ...] = ()
    """Values paths that must all be truthy (empty: always, e.g. a `crds/` folder)."""
    when_any: tuple[str, ...] = ()
    """Values paths of which one must be truthy."""
    subchart: str = ""


@dataclass(frozen=True)
class RenderedResource:
    """A custom resource the release (or its operator) creates, and the values that make it do so."""

    crd: str
    what: str
    when: tuple[str, ...] = ()
    when_in: tuple[str, tuple[str, ...]] | None = None
    """(values path, allowed values) that must also hold."""


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    defaults: Mapping[str, Any]
    """The chart's defaults for every values key this module reads (copied from values.yaml)."""
    pods: tuple[ChartPod, ...] = ()
    crds: tuple[ChartCrd, ...] = ()
    renders: tuple[RenderedResource, ...] = ()
    subcharts: Mapping[str, tuple[Mapping[str, Any], tuple[str, ...]]] = field(default_factory=dict)
    """alias → (subchart defaults, condition paths any of which enables it)."""
    ingress_classes: tuple[str, ...] = ()


def _cnpg_crds() -> tuple[ChartCrd, ...]:
    kinds = (
        "backups clusterimagecatalogs clusters databaseroles databases failoverquorums imagecatalogs "
        "poolers publications scheduledbackups subscriptions"
    )
    return tuple(ChartCrd(f"{plural}.postgresql.cnpg.io", when=("crds.create",)) for plural in kinds.split())


_CNPG = Chart(
    "cloudnative-pg",
    "0.29.0",
    defaults={
        "replicaCount": 1,
        "resources": {},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
        "crds": {"create": True},
        "monitoring": {"podMonitorEnabled": False},
    },
    pods=(ChartPod("cloudnative-pg", "Deployment"),),
    crds=_cnpg_crds(),
    renders=(
        RenderedResource(
            "podmonitors.monitoring.coreos.com",
            "a PodMonitor (monitoring.podMonitorEnabled)",
            ("monitoring.podMonitorEnabled",),
        ),
    ),
)

_BARMAN = Chart(
    "plugin-barman-cloud",
    "0.7.0",
    defaults={
        "replicaCount": 1,
        "resources": {},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
        "crds": {"create": True},
        "certificate": {"createClientCertificate": True, "createServerCertificate": True},
    },
    pods=(ChartPod("plugin-barman-cloud", "Deployment"),),
    crds=(ChartCrd("objectstores.barmancloud.cnpg.io", when=("crds.create",)),),
    renders=(
        RenderedResource("issuers.cert-manager.io", "its self-signed Issuer"),
        RenderedResource(
            "certificates.cert-manager.io", "its client Certificate", ("certificate.createClientCertificate",)
        ),
        RenderedResource(
            "certificates.cert-manager.io", "its server Certificate", ("certificate.createServerCertificate",)
        ),
    ),
)

_LINUX = {"kubernetes.io/os": "linux"}
_CERT_MANAGER = Chart(
    "cert-manager",
    "v1.21.1",
    defaults={
        "global": {"nodeSelector": {}},
        "installCRDs": False,
        "crds": {"enabled": False},
        "replicaCount": 1,
        "resources": {},
        "nodeSelector": _LINUX,
        "affinity": {},
        "tolerations": [],
        "webhook": {
            "replicaCount": 1,
            "resources": {},
            "nodeSelector": _LINUX,
            "affinity": {},
            "tolerations": [],
        },
        "cainjector": {
            "enabled": True,
            "replicaCount": 1,
            "resources": {},
            "nodeSelector": _LINUX,
            "affinity": {},
            "tolerations": [],
        },
        "startupapicheck": {
            "enabled": True,
            "resources": {},
            "nodeSelector": _LINUX,
            "affinity": {},
            "tolerations": [],
        },
        "prometheus": {
            "enabled": True,
            "servicemonitor": {"enabled": False},
            "podmonitor": {"enabled": False},
        },
    },
    pods=(
        ChartPod("cert-manager", "Deployment", globals="merge-node-selector"),
        ChartPod("cert-manager-webhook", "Deployment", ("webhook",), globals="merge-node-selector"),
        ChartPod(
            "cert-manager-cainjector",
            "Deployment",
            ("cainjector",),
            enabled=("cainjector.enabled",),
            globals="merge-node-selector",
        ),
        ChartPod(
            "cert-manager-startupapicheck",
            "Job",
            ("startupapicheck",),
            enabled=("startupapicheck.enabled",),
            replicas=None,
            globals="merge-node-selector",
            transient=True,
        ),
    ),
    crds=tuple(
        ChartCrd(name, when_any=("crds.enabled", "installCRDs"))
        for name in (
            "challenges.acme.cert-manager.io",
            "orders.acme.cert-manager.io",
            "certificaterequests.cert-manager.io",
            "certificates.cert-manager.io",
            "clusterissuers.cert-manager.io",
            "issuers.cert-manager.io",
        )
    ),
    renders=(
        RenderedResource(
            "servicemonitors.monitoring.coreos.com",
            "a ServiceMonitor (prometheus.servicemonitor.enabled)",
            ("prometheus.enabled", "prometheus.servicemonitor.enabled"),
        ),
        RenderedResource(
            "podmonitors.monitoring.coreos.com",
            "a PodMonitor (prometheus.podmonitor.enabled)",
            ("prometheus.enabled", "prometheus.podmonitor.enabled"),
        ),
    ),
)

_ESO_GATED = {
    "clusterexternalsecrets": "crds.createClusterExternalSecret",
    "clustersecretstores": "crds.createClusterSecretStore",
    "clusterpushsecrets": "crds.createClusterPushSecret",
    "pushsecrets": "crds.createPushSecret",
}
_ESO_GENERATORS = (
    "acraccesstokens beyondtrustworkloadcredentialsdynamicsecrets cloudsmithaccesstokens ecrauthorizationtokens "
    "fakes gcraccesstokens generatorstates githubaccesstokens gitlabdeploytokens grafanas mfas passwords "
    "quayaccesstokens sshkeys stssessiontokens uuids vaultdynamicsecrets webhooks"
)


def _eso_crds() -> tuple[ChartCrd, ...]:
    crds = [
        ChartCrd(
            f"{plural}.external-secrets.io",
            when=("installCRDs", *([_ESO_GATED[plural]] if plural in _ESO_GATED else [])),
        )
        for plural in ("externalsecrets", "secretstores", *_ESO_GATED)
    ]
    crds.append(
        ChartCrd(
            "clustergenerators.generators.external-secrets.io",
            when=("installCRDs", "crds.createClusterGenerator"),
        )
    )
    crds.extend(
        ChartCrd(f"{p}.generators.external-secrets.io", when=("installCRDs",))
        for p in _ESO_GENERATORS.split()
    )
    return tuple(crds)


_ESO_BLOCK = {"replicaCount": 1, "resources": {}, "nodeSelector": {}, "tolerations": [], "affinity": {}}
_ESO = Chart(
    "external-secrets",
    "2.9.0",
    defaults={
        "global": {"nodeSelector": {}, "tolerations": [], "affinity": {}},
        "installCRDs": True,
        "crds": {
            "createClusterExternalSecret": True,
            "createClusterSecretStore": True,
            "createClusterGenerator": True,
            "createClusterPushSecret": True,
            "createPushSecret": True,
        },
        "createOperator": True,
        **_ESO_BLOCK,
        "webhook": {"create": True, **_ESO_BLOCK, "certManager": {"enabled": False}},
        "certController": {"create": True, **_ESO_BLOCK},
        "serviceMonitor": {"enabled": False, "renderMode": "skipIfMissing"},
    },
    pods=(
        ChartPod("external-secrets", "Deployment", enabled=("createOperator",), globals="default"),
        ChartPod(
            "external-secrets-webhook",
            "Deployment",
            ("webhook",),
            enabled=("webhook.create",),
            globals="default",
        ),
        ChartPod(
            "external-secrets-cert-controller",
            "Deployment",
            ("certController",),
            enabled=("certController.create",),
            disabled_by=("webhook.certManager.enabled",),
            globals="default",
        ),
    ),
    crds=_eso_crds(),
    renders=(
        RenderedResource(
            "servicemonitors.monitoring.coreos.com",
            "ServiceMonitors (serviceMonitor.enabled with renderMode alwaysRender/failIfMissing)",
            ("serviceMonitor.enabled",),
            ("serviceMonitor.renderMode", ("alwaysRender", "failIfMissing")),
        ),
        RenderedResource(
            "certificates.cert-manager.io",
            "the webhook Certificate (webhook.certManager.enabled)",
            ("webhook.create", "webhook.certManager.enabled"),
        ),
    ),
)

_NFD_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "feature.node.kubernetes.io/pci-10de.present",
                            "operator": "In",
                            "values": ["true"],
                        }
                    ]
                },
                {
                    "matchExpressions": [
                        {
                            "key": "feature.node.kubernetes.io/cpu-model.vendor_id",
                            "operator": "In",
                            "values": ["NVIDIA"],
                        }
                    ]
                },
                {
                    "matchExpressions": [
                        {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
                    ]
                },
            ]
        }
    }
}
_DEVICE_PLUGIN = Chart(
    "nvidia-device-plugin",
    "0.18.0",
    defaults={
        "resources": {},
        "nodeSelector": {},
        "affinity": _NFD_AFFINITY,
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        ],
        "devicePlugin": {"enabled": True},
        "gfd": {"enabled": False},
    },
    pods=(
        ChartPod(
            "nvidia-device-plugin",
            "DaemonSet",
            enabled=("devicePlugin.enabled",),
            replicas=None,
            advertises_gpus=True,
        ),
        ChartPod(
            "nvidia-device-plugin-mps-control-daemon",
            "DaemonSet",
            enabled=("devicePlugin.enabled",),
            replicas=None,
            fixed_node_selector={"nvidia.com/mps.capable": "true"},
        ),
        ChartPod("gpu-feature-discovery", "DaemonSet", enabled=("gfd.enabled",), replicas=None),
    ),
)

_NFD_0_18_2 = {
    "master": {
        "enable": True,
        "replicaCount": 1,
        "resources": {"limits": {"memory": "4Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "nodeSelector": {},
        "tolerations": [_CONTROL_PLANE_TOLERATIONS[1]],
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    _PREFER_CONTROL_PLANE["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][
                        1
                    ]
                ]
            }
        },
    },
    "worker": {
        "enable": True,
        "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "5m", "memory": "64Mi"}},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
    },
    "topologyUpdater": {"enable": False, "createCRDs": False},
    "gc": {
        "enable": True,
        "replicaCount": 1,
        "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "10m", "memory": "128Mi"}},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
    },
}
_GPU_OPERATOR = Chart(
    "gpu-operator",
    "v25.10.0",
    defaults={
        "nfd": {"enabled": True},
        "daemonsets": {
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        },
        "operator": {
            "tolerations": _CONTROL_PLANE_TOLERATIONS,
            "affinity": _PREFER_CONTROL_PLANE,
            "resources": {
                "limits": {"cpu": "500m", "memory": "350Mi"},
                "requests": {"cpu": "200m", "memory": "100Mi"},
            },
        },
        "devicePlugin": {"enabled": True},
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "node-feature-discovery": {
            "gc": {"enable": True, "replicaCount": 1},
            "worker": {
                "tolerations": [
                    *_CONTROL_PLANE_TOLERATIONS,
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                ]
            },
        },
    },
    pods=(
        ChartPod("gpu-operator", "Deployment", ("operator",), replicas=None),
        ChartPod(
            "node-feature-discovery-master",
            "Deployment",
            ("master",),
            enabled=("master.enable",),
            subchart="node-feature-discovery",
        ),
        ChartPod(
            "node-feature-discovery-worker",
            "DaemonSet",
            ("worker",),
            enabled=("worker.enable",),
            replicas=None,
            subchart="node-feature-discovery",
            discovers_gpus=True,
        ),
        ChartPod(
            "node-feature-discovery-gc",
            "Deployment",
            ("gc",),
            enabled=("gc.enable",),
            subchart="node-feature-discovery",
        ),
        # The operand the operator deploys from the ClusterPolicy (controllers/object_controls.go): tolerations
        # from `daemonsets.tolerations`, on nodes the operator labels nvidia.com/gpu.deploy.device-plugin=true,
        # which are the nodes NFD labelled with an NVIDIA PCI device (controllers/state_manager.go).
        ChartPod(
            "nvidia-device-plugin-daemonset (operand)",
            "DaemonSet",
            ("daemonsets",),
            enabled=("devicePlugin.enabled",),
            replicas=None,
            fixed_node_selector={"nvidia.com/gpu.deploy.device-plugin": "true"},
            advertises_gpus=True,
        ),
    ),
    crds=(
        ChartCrd("clusterpolicies.nvidia.com"),
        ChartCrd("nvidiadrivers.nvidia.com"),
        *(
            ChartCrd(f"{p}.nfd.k8s-sigs.io", subchart="node-feature-discovery")
            for p in ("nodefeatures", "nodefeaturegroups", "nodefeaturerules")
        ),
        ChartCrd(
            "noderesourcetopologies.topology.node.k8s.io",
            when=("topologyUpdater.enable", "topologyUpdater.createCRDs"),
            subchart="node-feature-discovery",
        ),
    ),
    renders=(
        RenderedResource(
            "servicemonitors.monitoring.coreos.com",
            "a ServiceMonitor for dcgm-exporter, created by the operator (dcgmExporter.serviceMonitor.enabled)",
            ("dcgmExporter.enabled", "dcgmExporter.serviceMonitor.enabled"),
        ),
    ),
    subcharts={"node-feature-discovery": (_NFD_0_18_2, ("nfd.enabled",))},
)

# NVIDIA's dcgm-exporter chart (charts/dcgm-exporter-4.6.0, `templates/daemonset.yaml`): one DaemonSet, always
# rendered, whose pod takes `affinity`, `nodeSelector`, `tolerations` and `resources` from the top level of the
# values (empty by default: it runs on every untainted node unless the release narrows it), and a
# ServiceMonitor when `serviceMonitor.enabled` (`templates/service-monitor.yaml`).
_DCGM_EXPORTER = Chart(
    "dcgm-exporter",
    "4.6.0",
    defaults={
        "resources": {},
        "nodeSelector": {},
        "tolerations": [],
        "affinity": {},
        "serviceMonitor": {"enabled": True},
    },
    pods=(ChartPod("dcgm-exporter", "DaemonSet", replicas=None),),
    renders=(
        RenderedResource(
            "servicemonitors.monitoring.coreos.com",
            "a ServiceMonitor for the exporter (serviceMonitor.enabled)",
            ("serviceMonitor.enabled",),
        ),
    ),
)

_POD_BLOCK: dict[str, Any] = {"tolerations": [], "nodeSelector": {}, "affinity": {}, "resources": {}}
_WEBHOOKS = "prometheusOperator.admissionWebhooks"
_MONITORING_KINDS = (
    "alertmanagerconfigs alertmanagers podmonitors probes prometheusagents prometheuses prometheusrules "
    "scrapeconfigs servicemonitors thanosrulers"
)
_KUBE_PROMETHEUS_STACK = Chart(
    "kube-prometheus-stack",
    "88.5.3",
    defaults={
        "crds": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        "nodeExporter": {"enabled": True},
        "grafana": {"enabled": True},
        "windowsMonitoring": {"enabled": False},
        "prometheusOperator": {
            "enabled": True,
            **_POD_BLOCK,
            "admissionWebhooks": {
                "enabled": True,
                "patch": {"enabled": True, **_POD_BLOCK},
                "certManager": {"enabled": False},
            },
        },
        "prometheus": {"enabled": True, "prometheusSpec": {"replicas": 1, **_POD_BLOCK}},
        "alertmanager": {"enabled": True, "alertmanagerSpec": {"replicas": 1, **_POD_BLOCK}},
    },
    pods=(
        ChartPod(
            "prometheus-operator",
            "Deployment",
            ("prometheusOperator",),
            ("prometheusOperator.enabled",),
            replicas=None,
        ),
        # Hook Jobs (kube-webhook-certgen) that write and patch the webhook certificate; none with certManager.
        *(
            ChartPod(
                f"admission-{job}",
                "Job",
                ("prometheusOperator", "admissionWebhooks", "patch"),
                ("prometheusOperator.enabled", f"{_WEBHOOKS}.enabled", f"{_WEBHOOKS}.patch.enabled"),
                (f"{_WEBHOOKS}.certManager.enabled",),
                replicas=None,
                transient=True,
            )
            for job in ("create", "patch")
        ),
        # The StatefulSets the operator makes of the chart's Prometheus and Alertmanager resources.
        ChartPod(
            "prometheus (operand)",
            "StatefulSet",
            ("prometheus", "prometheusSpec"),
            ("prometheus.enabled",),
            replicas="replicas",
        ),
        ChartPod(
            "alertmanager (operand)",
            "StatefulSet",
            ("alertmanager", "alertmanagerSpec"),
            ("alertmanager.enabled",),
            replicas="replicas",
        ),
        ChartPod("kube-state-metrics", "Deployment", replicas="replicas", subchart="kube-state-metrics"),
        ChartPod("prometheus-node-exporter", "DaemonSet", replicas=None, subchart="prometheus-node-exporter"),
        ChartPod("grafana", "Deployment", replicas="replicas", subchart="grafana"),
    ),
    crds=tuple(
        ChartCrd(f"{plural}.monitoring.coreos.com", subchart="crds") for plural in _MONITORING_KINDS.split()
    ),
    renders=(
        RenderedResource(
            "certificates.cert-manager.io",
            "the webhook Certificates (prometheusOperator.admissionWebhooks.certManager.enabled)",
            ("prometheusOperator.enabled", f"{_WEBHOOKS}.enabled", f"{_WEBHOOKS}.certManager.enabled"),
        ),
        RenderedResource(
            "issuers.cert-manager.io",
            "the webhook Issuers (prometheusOperator.admissionWebhooks.certManager.enabled)",
            ("prometheusOperator.enabled", f"{_WEBHOOKS}.enabled", f"{_WEBHOOKS}.certManager.enabled"),
        ),
    ),
    subcharts={
        "crds": ({"upgradeJob": {"enabled": False}}, ("crds.enabled",)),
        "kube-state-metrics": ({"replicas": 1, **_POD_BLOCK}, ("kubeStateMetrics.enabled",)),
        "prometheus-node-exporter": (
            {
                **_POD_BLOCK,
                "tolerations": [{"effect": "NoSchedule", "operator": "Exists"}],
                "nodeSelector": {"kubernetes.io/os": "linux"},
            },
            ("nodeExporter.enabled",),
        ),
        "grafana": ({"replicas": 1, **_POD_BLOCK}, ("grafana.enabled",)),
    },
)

CHARTS: dict[tuple[str, str], Chart] = {
    (chart.name, chart.version): chart
    for chart in (
        _CNPG,
        _BARMAN,
        _CERT_MANAGER,
        _ESO,
        _DEVICE_PLUGIN,
        _DCGM_EXPORTER,
        _GPU_OPERATOR,
        _KUBE_PROMETHEUS_STACK,
    )
}


def chart_of(name: Any, version: Any) -> Chart | None:
    """The recorded chart for a release's `chart` (name, or `repo/name`) and `version`."""
    short = str(name or "").rsplit("/", 1)[-1]
    return CHARTS.get((short, str(version or "")))


def coalesce(defaults: Any, override: Any) -> Any:
    """Helm's merge of user values over chart defaults: maps deeply, anything else replaces, null deletes."""
    if isinstance(defaults, Mapping) and isinstance(override, Mapping):
        merged = dict(defaults)
        for key in override:
            value = override[key]
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = coalesce(defaults.get(key), value)
        return merged
    return plain(override) if override is not None else plain(defaults)


def lookup(values: Mapping[str, Any], path: str) -> Any:
    current: Any = values
    for key in path.split("."):
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


def _truthy(value: Any) -> bool:
    return bool(value) and value not in ("false", "False")


@dataclass
class Rendered:
    """A release's pods, CRDs and rendered custom resources, for its merged values."""

    pods: list[tuple[ChartPod, dict[str, Any]]]
    """Each pod with its effective pod-spec fields and replicas: tolerations, nodeSelector, affinity, resources."""
    crds: list[str]
    needs: list[RenderedResource]


def render(chart: Chart, release_values: Mapping[str, Any] | None) -> Rendered:
    values = coalesce(chart.defaults, release_values or {})
    scopes: dict[str, Mapping[str, Any]] = {"": values}
    for alias, (sub_defaults, conditions) in chart.subcharts.items():
        if any(_truthy(lookup(values, c)) for c in conditions):
            scopes[alias] = coalesce(sub_defaults, values.get(alias) or {})
    pods = []
    for pod in chart.pods:
        scope = scopes.get(pod.subchart)
        if scope is None:
            continue
        if not all(_truthy(lookup(scope, p)) for p in pod.enabled):
            continue
        if any(_truthy(lookup(scope, p)) for p in pod.disabled_by):
            continue
        block = lookup(scope, ".".join(pod.block)) if pod.block else scope
        block = block if isinstance(block, Mapping) else {}
        spec = _pod_fields(pod, block, scope)
        pods.append((pod, spec))
    crds = [
        crd.name
        for crd in chart.crds
        if crd.subchart in scopes
        and all(_truthy(lookup(scopes[crd.subchart], p)) for p in crd.when)
        and (not crd.when_any or any(_truthy(lookup(scopes[crd.subchart], p)) for p in crd.when_any))
    ]
    needs = []
    for resource in chart.renders:
        if not all(_truthy(lookup(values, p)) for p in resource.when):
            continue
        if resource.when_in and lookup(values, resource.when_in[0]) not in resource.when_in[1]:
            continue
        needs.append(resource)
    return Rendered(pods, crds, needs)


def _pod_fields(pod: ChartPod, block: Mapping[str, Any], scope: Mapping[str, Any]) -> dict[str, Any]:
    found = scope.get("global")
    global_block: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    fields: dict[str, Any] = {}
    for key in ("tolerations", "nodeSelector", "affinity", "resources"):
        value = block.get(key)
        if pod.globals == "default" and not value:
            value = global_block.get(key)
        fields[key] = plain(value) if value else ({} if key != "tolerations" else [])
    if pod.globals == "merge-node-selector":
        # sprig `merge $global $component`: the first (global) dictionary wins on shared keys.
        fields["nodeSelector"] = {
            **dict(fields["nodeSelector"] or {}),
            **dict(global_block.get("nodeSelector") or {}),
        }
    fields["nodeSelector"] = {**dict(fields["nodeSelector"] or {}), **dict(pod.fixed_node_selector)}
    if not is_list(fields["tolerations"]):
        fields["tolerations"] = []
    replicas = block.get(pod.replicas) if pod.replicas else None
    fields["replicas"] = int(replicas) if isinstance(replicas, int) and not isinstance(replicas, bool) else 1
    return fields
