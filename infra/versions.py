"""Every container image and Helm chart the platform deploys, pinned in one place.

Upgrading a component is a one-line change here, reviewed on its own; nothing else in the code names a
version or a tag. No `latest`, no `main-…` tags: a plan must describe exactly what a cluster will run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelmChart:
    """A Helm chart at an exact version from its upstream repository."""

    name: str
    version: str
    repository: str


CNPG_CHARTS = "https://cloudnative-pg.github.io/charts"

#: CloudNativePG operator 1.30 (chart 0.29.x supports only the latest operator point release).
CLOUDNATIVE_PG = HelmChart("cloudnative-pg", "0.29.0", CNPG_CHARTS)
#: Barman Cloud plugin v0.13.0 (backups and WAL archiving; replaces the deprecated in-tree barmanObjectStore).
BARMAN_CLOUD_PLUGIN = HelmChart("plugin-barman-cloud", "0.7.0", CNPG_CHARTS)
#: cert-manager: the Barman Cloud plugin needs it for its TLS certificates.
CERT_MANAGER = HelmChart("cert-manager", "v1.21.1", "https://charts.jetstack.io")
#: External Secrets Operator 2.9 (Azure stacks: Key Vault -> Kubernetes Secrets).
EXTERNAL_SECRETS = HelmChart("external-secrets", "2.9.0", "https://charts.external-secrets.io")
#: NVIDIA device plugin, for GPU pools whose driver AKS (or the node image) installs.
NVIDIA_DEVICE_PLUGIN = HelmChart(
    "nvidia-device-plugin", "0.18.0", "https://nvidia.github.io/k8s-device-plugin"
)
#: NVIDIA GPU Operator, for GPU pools created without a driver (`driver: operator`).
GPU_OPERATOR = HelmChart("gpu-operator", "v25.10.0", "https://helm.ngc.nvidia.com/nvidia")
PROMETHEUS_COMMUNITY_CHARTS = "https://prometheus-community.github.io/helm-charts"
#: kube-prometheus-stack 88.5.3: Prometheus Operator v0.93.1 and its CRDs, Prometheus, Alertmanager,
#: Grafana (subchart 12.11.1), kube-state-metrics (8.4.0), prometheus-node-exporter (4.56.1).
KUBE_PROMETHEUS_STACK = HelmChart("kube-prometheus-stack", "88.5.3", PROMETHEUS_COMMUNITY_CHARTS)

#: PostgreSQL operand images (CloudNativePG "standard" images: no in-tree Barman, the plugin backs up).
POSTGRES_IMAGES: dict[int, str] = {
    16: "ghcr.io/cloudnative-pg/postgresql:16.10-standard-trixie",
    17: "ghcr.io/cloudnative-pg/postgresql:17.6-standard-trixie",
}

#: LiteLLM proxy. 1.90.6 bakes the Prisma CLI and engines at /opt/prisma, so migrations run offline and
#: under any uid; 1.92.0 regressed (BerriAI/litellm#33167). Keep the test dependency `litellm[proxy]`
#: at the same version (pyproject.toml).
LITELLM_VERSION = "1.90.6"
LITELLM_IMAGE = f"docker.litellm.ai/berriai/litellm:{LITELLM_VERSION}"

#: vLLM OpenAI-compatible server (CUDA 13 build; `VLLM_ENABLE_CUDA_COMPATIBILITY` covers R570 hosts).
VLLM_VERSION = "v0.28.0"
VLLM_IMAGE = f"vllm/vllm-openai:{VLLM_VERSION}"
#: vLLM's CPU build for laptops and CI clusters (`cpu: true` models).
VLLM_CPU_IMAGE = f"vllm/vllm-openai-cpu:{VLLM_VERSION}-x86_64"

#: Images of kube-prometheus-stack 88.5.3, pinned in its values to the tags the chart (and its subcharts'
#: appVersions) default to, so the plan names what runs (`values.yaml` of each chart at that version).
PROMETHEUS_OPERATOR_TAG = "v0.93.1"  # also the config reloader's and the admission webhook's
PROMETHEUS_TAG = "v3.14.0-distroless"
ALERTMANAGER_TAG = "v0.34.0"
GRAFANA_TAG = "13.2.0"  # grafana chart 12.11.1 appVersion
GRAFANA_SIDECAR_TAG = "2.10.1"  # quay.io/kiwigrid/k8s-sidecar
KUBE_STATE_METRICS_TAG = "v2.20.0"  # kube-state-metrics chart 8.4.0 appVersion
NODE_EXPORTER_TAG = "v1.12.1"  # prometheus-node-exporter chart 4.56.1 appVersion
WEBHOOK_CERTGEN_TAG = (
    "1.8.7"  # ghcr.io/jkroepke/kube-webhook-certgen, the operator webhook's certificate Jobs
)

#: Valkey (BSD-3-Clause, the Linux Foundation's fork of Redis 7.2.4) for the gateway's shared state: Redis
#: itself is RSALv2/SSPLv1 (AGPLv3 from 8.0) since 7.4. 8.1.11 per valkey.io/download/releases/v8-1-11.
VALKEY_VERSION = "8.1.11"
VALKEY_IMAGE = f"valkey/valkey:{VALKEY_VERSION}-alpine"
