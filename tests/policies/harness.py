"""Test harness for the KIVA policies: realistic engine-shaped fixtures and helpers to run the pack.

Fixtures are built like the engine's inputs (camelCase, Kubernetes objects with apiVersion/kind/metadata/
spec), as the Azure and platform layers register them. `compliant_plan()` is a whole compliant prod-like
stack; each test mutates one resource and expects one specific violation.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import yaml
from kiva_policies.runner import Finding, PlannedResource, PolicyReport, run_pack

STACK = "prod"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = "[secret]"
NS = "kiva"


def fixture_digest(image: str) -> str:
    """`image@sha256:…` with a digest computed from the name: a fixture value, not the image's real digest."""
    return f"{image}@sha256:{hashlib.sha256(f'kiva policy fixture {image}'.encode()).hexdigest()}"


GATEWAY_IMAGE = fixture_digest("ghcr.io/berriai/litellm-database:v1.80.0-stable")
VLLM_IMAGE = fixture_digest("vllm/vllm-openai:v0.11.0")
POSTGRES_IMAGE = fixture_digest("ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm")


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::kiva::{type_}::{name}"


def res(
    type_: str,
    name: str,
    props: dict[str, Any],
    protect: bool = False,
    parent: str = "",
    dependencies: tuple[str, ...] = (),
) -> PlannedResource:
    return PlannedResource(
        urn(type_, name), type_, name, props, parent=parent, protect=protect, dependencies=dependencies
    )


RELEASE = "kubernetes:helm.sh/v3:Release"
#: The operator releases whose CRDs the database's custom resources need (day-one CRD check).
OPERATOR_RELEASES = {
    "cert-manager": ("v1.21.1", "cert-manager", {"crds": {"enabled": True}}),
    "cloudnative-pg": ("0.29.0", "cnpg-system", {"crds": {"create": True}, "config": {"clusterWide": True}}),
    "plugin-barman-cloud": ("0.7.0", "cnpg-system", {}),
}
OPERATOR_URNS = tuple(urn(RELEASE, name) for name in OPERATOR_RELEASES)


def operator_release(chart: str) -> PlannedResource:
    version, namespace, values = OPERATOR_RELEASES[chart]
    props = {"name": chart, "chart": chart, "version": version, "namespace": namespace, "values": values}
    # The plugin's Certificates and Issuer need cert-manager's CRDs first.
    needs = OPERATOR_URNS[:2] if chart == "plugin-barman-cloud" else ()
    return res(RELEASE, chart, props, dependencies=needs)


GATEWAY_PODS = {"app.kubernetes.io/name": "kiva-gateway"}
MODEL_PODS = {"app.kubernetes.io/name": "llama-3-1-8b"}
DATABASE_PODS = {"cnpg.io/cluster": "kiva-db", "cnpg.io/podRole": "instance"}
DATABASE_JOBS = {
    "matchLabels": {"cnpg.io/cluster": "kiva-db"},
    "matchExpressions": [{"key": "cnpg.io/jobRole", "operator": "Exists"}],
}
ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
INTERNET = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}]


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _network_policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def allow_policies() -> dict[str, dict[str, Any]]:
    """The allow rules next to default-deny: exactly the flows the day-one network check requires."""
    dns = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]  # fmt: skip
    return {
        "kiva-allow-dns": _network_policy("allow-dns", {
            "podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": dns, "ports": [{"protocol": "UDP", "port": 53}, *_tcp(53)]}],
        }),
        "kiva-gateway-egress": _network_policy("gateway-egress", {
            "podSelector": {"matchLabels": GATEWAY_PODS}, "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": MODEL_PODS}}], "ports": _tcp(8000)},
                {"to": [{"podSelector": {"matchLabels": DATABASE_PODS}}], "ports": _tcp(5432)},
                {"to": INTERNET, "ports": _tcp(443)},
            ],
        }),
        "kiva-model-servers": _network_policy("model-servers", {
            "podSelector": {"matchLabels": MODEL_PODS}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": GATEWAY_PODS}}], "ports": _tcp(8000)}],
            "egress": [{"to": INTERNET, "ports": _tcp(443)}],
        }),
        "kiva-database": _network_policy("database", {
            "podSelector": {"matchLabels": DATABASE_PODS}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": GATEWAY_PODS}}], "ports": _tcp(5432)},
                {"from": [{"podSelector": {"matchLabels": DATABASE_PODS}}], "ports": _tcp(5432, 8000)},
                {"from": [{"podSelector": DATABASE_JOBS}], "ports": _tcp(5432)},
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}}],
                 "ports": _tcp(5432, 8000)},
            ],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": DATABASE_PODS}}], "ports": _tcp(5432, 8000)},
                {"to": ANYWHERE, "ports": _tcp(443)},
            ],
        }),
        "kiva-database-jobs": _network_policy("database-jobs", {
            "podSelector": DATABASE_JOBS, "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": DATABASE_PODS}}], "ports": _tcp(5432)},
                {"to": ANYWHERE, "ports": _tcp(443)},
            ],
        }),
    }  # fmt: skip


def security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def litellm_env() -> list[dict[str, Any]]:
    return [
        {"name": "LITELLM_LOCAL_MODEL_COST_MAP", "value": "True"},
        {"name": "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "value": "True"},
        {"name": "LITELLM_LOCAL_BLOG_POSTS", "value": "True"},
        {"name": "LITELLM_LOCAL_POLICY_TEMPLATES", "value": "True"},
        {"name": "LITELLM_LOCAL_AUTOROUTER_PRESETS", "value": "True"},
        {"name": "LITELLM_TELEMETRY_DISABLED", "value": "True"},
        {"name": "LITELLM_MODE", "value": "PRODUCTION"},
        {"name": "LITELLM_LOG", "value": "INFO"},
        {
            "name": "LITELLM_MASTER_KEY",
            "valueFrom": {"secretKeyRef": {"name": "kiva-gateway", "key": "master"}},
        },
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "kiva-db-app", "key": "uri"}}},
    ]


def vllm_env() -> list[dict[str, Any]]:
    return [
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
        {"name": "VLLM_DO_NOT_TRACK", "value": "1"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "HF_HOME", "value": "/models"},
        {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/huggingface/token"},
    ]


def deployment(
    name: str, image: str, env: list[dict[str, Any]], replicas: int = 2, **pod: Any
) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kiva"}
    container = {
        "name": name,
        "image": image,
        "env": env,
        "ports": [{"containerPort": 4000 if "litellm" in image else 8000, "name": "http"}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "securityContext": security_context(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    **pod,
                },
            },
        },
    }


def gateway() -> dict[str, Any]:
    return deployment("kiva-gateway", GATEWAY_IMAGE, litellm_env(), replicas=3)


def model_server() -> dict[str, Any]:
    props = deployment(
        "llama-3-1-8b",
        VLLM_IMAGE,
        vllm_env(),
        replicas=2,
        tolerations=[{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        nodeSelector={"kubernetes.azure.com/agentpool": "a100"},
    )
    container = props["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["nvidia.com/gpu"] = "1"
    container["args"] = [
        "--model", "meta-llama/Llama-3.1-8B-Instruct", "--port", "8000", "--no-enable-log-requests"
    ]  # fmt: skip
    return props


LITELLM_CONFIG: dict[str, Any] = {
    "model_list": [
        {
            "model_name": "llama-3.1-8b-instruct",
            "litellm_params": {
                "model": "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct",
                "api_base": "http://llama-3-1-8b.kiva.svc.cluster.local:8000/v1",
            },
            "model_info": {"input_cost_per_token": 1.4e-7, "output_cost_per_token": 5.6e-7},
        },
        {
            "model_name": "gpt-4o-eu",
            "litellm_params": {
                "model": "azure/gpt-4o",
                "api_base": "https://kiva-eu.openai.azure.com",
                "api_key": "os.environ/PROVIDER_AZURE_OPENAI_EU_API_KEY",
            },
            "model_info": {"kiva_provider": "azure-openai-eu", "kiva_processing_jurisdiction": "SE"},
        },
    ],
    "general_settings": {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "database_url": "os.environ/DATABASE_URL",
        "maximum_spend_logs_retention_period": "30d",
        "store_prompts_in_spend_logs": False,
        "disable_error_logs": True,
    },
    "litellm_settings": {"callbacks": ["prometheus"], "turn_off_message_logging": True, "drop_params": True},
}


def litellm_configmap(config: dict[str, Any] | None = None) -> dict[str, Any]:
    document = copy.deepcopy(LITELLM_CONFIG) if config is None else config
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kiva-gateway-config", "namespace": NS},
        "data": {"config.yaml": yaml.safe_dump(document, sort_keys=False)},
    }


def private_blob_endpoint(account: str) -> list[PlannedResource]:
    """The private endpoint, DNS zone, VNet link and zone group that make a private account reachable."""
    group = "/subscriptions/0/resourceGroups/kiva-prod-rg/providers"
    zone = "privatelink.blob.core.windows.net"
    return [
        res(
            "azure-native:network:PrivateEndpoint",
            f"{account}-endpoint",
            {
                "location": "germanywestcentral",
                "privateEndpointName": f"{account}-pe",
                "subnet": {
                    "id": f"{group}/Microsoft.Network/virtualNetworks/kiva-vnet/subnets/private-endpoints"
                },
                "privateLinkServiceConnections": [
                    {
                        "name": "blob",
                        "groupIds": ["blob"],
                        "privateLinkServiceId": f"{group}/Microsoft.Storage/storageAccounts/{account}",
                    }
                ],
            },
        ),
        res(
            "azure-native:privatedns:PrivateZone",
            f"{account}-dns",
            {"privateZoneName": zone, "location": "global"},
        ),
        res(
            "azure-native:privatedns:VirtualNetworkLink",
            f"{account}-dns-link",
            {
                "privateZoneName": zone,
                "location": "global",
                "virtualNetwork": {"id": f"{group}/Microsoft.Network/virtualNetworks/kiva-vnet"},
                "registrationEnabled": False,
            },
        ),
        res(
            "azure-native:network:PrivateDnsZoneGroup",
            f"{account}-dns-group",
            {
                "privateEndpointName": f"{account}-pe",
                "privateDnsZoneConfigs": [
                    {"name": "blob", "privateDnsZoneId": f"{group}/Microsoft.Network/privateDnsZones/{zone}"}
                ],
            },
        ),
    ]


def compliant_plan() -> list[PlannedResource]:
    """A compliant prod-like stack: Azure layer plus platform layer."""
    k = "kubernetes"
    gateway_labels = gateway()["spec"]["template"]["metadata"]["labels"]
    model_labels = model_server()["spec"]["template"]["metadata"]["labels"]
    return [
        res("azure-native:resources:ResourceGroup", "kiva-prod-rg", {"location": "germanywestcentral"}),
        res(
            "azure-native:containerservice:ManagedCluster",
            "kiva-prod-aks",
            {
                "location": "germanywestcentral",
                "resourceGroupName": UNKNOWN,
                "kubernetesVersion": "1.34",
                "disableLocalAccounts": True,
                "aadProfile": {"managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": ["1111"]},
                "networkProfile": {
                    "networkPlugin": "azure",
                    "networkDataplane": "cilium",
                    "networkPolicy": "cilium",
                },
                "apiServerAccessProfile": {
                    "enablePrivateCluster": False,
                    "authorizedIPRanges": ["198.51.100.0/24"],
                },
            },
        ),
        res(
            "azure-native:containerservice:AgentPool",
            "kiva-prod-a100",
            {
                "agentPoolName": "a100",
                "vmSize": "Standard_NC24ads_A100_v4",
                "nodeTaints": ["sku=gpu:NoSchedule"],
                "nodeLabels": {"accelerator": "nvidia"},
            },
        ),
        res(
            "azure-native:keyvault:Vault",
            "kiva-prod-kv",
            {
                "location": "germanywestcentral",
                "properties": {
                    "tenantId": UNKNOWN,
                    "sku": {"family": "A", "name": "standard"},
                    "enableRbacAuthorization": True,
                    "enableSoftDelete": True,
                    "enablePurgeProtection": True,
                    "softDeleteRetentionInDays": 90,
                    "publicNetworkAccess": "Disabled",
                    "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
                },
            },
            protect=True,
        ),
        res(
            "azure-native:operationalinsights:Workspace",
            "kiva-prod-logs",
            {"location": "germanywestcentral", "retentionInDays": 90, "sku": {"name": "PerGB2018"}},
        ),
        res(
            "azure-native:storage:StorageAccount",
            "kivaprodbackups",
            {
                "location": "germanywestcentral",
                "kind": "StorageV2",
                "allowBlobPublicAccess": False,
                "minimumTlsVersion": "TLS1_2",
                "publicNetworkAccess": "Disabled",
                "networkRuleSet": {"defaultAction": "Deny", "bypass": "None"},
            },
            protect=True,
        ),
        *private_blob_endpoint("kivaprodbackups"),
        res(
            "azure-native:storage:BlobServiceProperties",
            "kivaprodbackups-blob",
            {
                "accountName": UNKNOWN,
                "blobServicesName": "default",
                "deleteRetentionPolicy": {"enabled": True, "days": 30},
                "containerDeleteRetentionPolicy": {"enabled": True, "days": 30},
            },
        ),
        res(
            f"{k}:core/v1:Namespace",
            "kiva",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": NS,
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                    "annotations": {
                        "kiva.platform/region": "germanywestcentral",
                        "kiva.platform/jurisdiction": "DE",
                    },
                },
            },
        ),
        res(
            f"{k}:networking.k8s.io/v1:NetworkPolicy",
            "kiva-default-deny",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": NS},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            },
        ),
        *(
            res(f"{k}:networking.k8s.io/v1:NetworkPolicy", name, props)
            for name, props in allow_policies().items()
        ),
        *(operator_release(chart) for chart in OPERATOR_RELEASES),
        res(f"{k}:core/v1:ConfigMap", "kiva-gateway-config", litellm_configmap()),
        res(f"{k}:apps/v1:Deployment", "kiva-gateway", gateway()),
        res(f"{k}:apps/v1:Deployment", "llama-3-1-8b", model_server()),
        res(f"{k}:policy/v1:PodDisruptionBudget", "kiva-gateway-pdb", pdb("kiva-gateway", gateway_labels)),
        res(f"{k}:policy/v1:PodDisruptionBudget", "llama-3-1-8b-pdb", pdb("llama-3-1-8b", model_labels)),
        res(f"{k}:core/v1:Service", "kiva-gateway-svc", service("kiva-gateway", gateway_labels, 4000)),
        res(f"{k}:core/v1:Service", "llama-3-1-8b-svc", service("llama-3-1-8b", model_labels, 8000)),
        res(
            f"{k}:postgresql.cnpg.io/v1:Cluster",
            "kiva-db",
            {
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Cluster",
                "metadata": {"name": "kiva-db", "namespace": NS},
                "spec": {
                    "instances": 3,
                    "imageName": POSTGRES_IMAGE,
                    "storage": {"size": "50Gi"},
                    "plugins": [
                        {
                            "name": "barman-cloud.cloudnative-pg.io",
                            "parameters": {"barmanObjectName": "kiva-backups"},
                        }
                    ],
                },
            },
            protect=True,
            dependencies=OPERATOR_URNS,
        ),
        res(
            f"{k}:barmancloud.cnpg.io/v1:ObjectStore",
            "kiva-backups",
            {
                "apiVersion": "barmancloud.cnpg.io/v1",
                "kind": "ObjectStore",
                "metadata": {"name": "kiva-backups", "namespace": NS},
                "spec": {
                    "retentionPolicy": "30d",
                    "configuration": {
                        "destinationPath": "https://kivaprodbackups.blob.core.windows.net/backups/",
                        "azureCredentials": {"inheritFromAzureAD": True},
                    },
                },
            },
            dependencies=OPERATOR_URNS,
        ),
    ]


def pdb(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(labels)}},
    }


def service(name: str, labels: dict[str, str], port: int, type_: str = "ClusterIP") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"type": type_, "selector": dict(labels), "ports": [{"port": port, "targetPort": port}]},
    }


# --- helpers -----------------------------------------------------------------------------------------


def mutate(
    plan: list[PlannedResource], name: str, change: Callable[[dict[str, Any]], Any]
) -> list[PlannedResource]:
    """The plan with resource `name`'s props changed in place by `change` (on a deep copy)."""
    result = []
    for resource in plan:
        if resource.name == name:
            props = copy.deepcopy(resource.props)
            change(props)
            resource = PlannedResource(
                resource.urn,
                resource.type,
                resource.name,
                props,
                resource.parent,
                resource.protect,
                dependencies=resource.dependencies,
            )
        result.append(resource)
    return result


def run(plan: list[PlannedResource], config: dict[str, Any] | None = None) -> PolicyReport:
    return run_pack(plan, config or {})


def violations(report: PolicyReport, policy: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.status == "violation" and (policy is None or f.policy == policy)]


def unverifiable(report: PolicyReport, policy: str | None = None) -> list[Finding]:
    return [
        f for f in report.findings if f.status == "not-verifiable" and (policy is None or f.policy == policy)
    ]


def container(props: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]["containers"][index]


def env_of(props: dict[str, Any]) -> list[dict[str, Any]]:
    return container(props)["env"]


def set_env(props: dict[str, Any], name: str, value: str | None) -> None:
    env = [e for e in env_of(props) if e["name"] != name]
    if value is not None:
        env.append({"name": name, "value": value})
    container(props)["env"] = env


def litellm_document(props: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(props["data"]["config.yaml"])


def set_litellm(props: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    document = litellm_document(props)
    change(document)
    props["data"]["config.yaml"] = yaml.safe_dump(document, sort_keys=False)
