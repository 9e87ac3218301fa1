"""What runs on the cluster: model servers, the gateway, the database and its backups, external providers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, field_validator, model_validator

from infra.settings.backup_schedule import longest_interval_seconds
from infra.settings.base import DnsLabel, KivaModel, Quantity
from infra.settings.redis import GatewayRedis, Router

SecretKeyName = Annotated[str, Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]{2,62}$")]
"""The name of a secure config value in the `kiva:` namespace (set with `pulumi config set --secret`)."""


class ResourceAmounts(KivaModel):
    cpu: Quantity
    """CPU, e.g. `500m` or `2`."""
    memory: Quantity
    """Memory, e.g. `4Gi`."""


class Resources(KivaModel):
    """Container requests and limits."""

    requests: ResourceAmounts
    """What the scheduler reserves."""
    limits: ResourceAmounts
    """The most the container may use."""


class ModelCache(KivaModel):
    """Where model weights are cached: a PVC per replica (a StatefulSet's claim template) survives restarts."""

    type: Literal["pvc", "emptyDir"] = "pvc"
    """`pvc` (kept across restarts) or `emptyDir` (downloaded on every start)."""
    size: Quantity = "100Gi"
    """Size of the cache volume."""
    storage_class: str | None = None
    """Storage class of the PVC (default: the cluster's)."""


class Model(KivaModel):
    """A model served by vLLM and published through the gateway under `servedName`."""

    name: DnsLabel
    """Short name; becomes part of Kubernetes resource names."""
    hugging_face_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")]
    """Model id on Hugging Face, e.g. `meta-llama/Llama-3.1-8B-Instruct`."""
    served_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.:-]{0,127}$")]
    """The name clients use in the OpenAI API (`model`)."""
    parameters_billion: float = Field(gt=0, le=1000)
    """Parameter count, for the GPU-memory sizing check."""
    pool: str | None = None
    """The GPU pool to run on; omit together with `cpu: true` for CPU-only inference."""
    cpu: bool = False
    """Serve on CPU with vLLM's CPU image (no GPU pool)."""
    gpus: int = Field(1, ge=1, le=8)
    """GPUs per replica (`--tensor-parallel-size`); all on one node."""
    replicas: int = Field(1, ge=1, le=20)
    """Model server replicas."""
    max_model_len: int = Field(8192, ge=256, le=1_048_576)
    """Context length (`--max-model-len`)."""
    gpu_memory_utilization: float = Field(0.9, ge=0.1, le=0.95)
    """Share of GPU memory vLLM may use (`--gpu-memory-utilization`); at least 0.5 unless the pool shares its GPUs."""
    max_num_seqs: int | None = Field(None, ge=1, le=4096)
    """Most sequences vLLM batches at once (`--max-num-seqs`; vLLM's default for `vllm serve` is 256, 1024 on GPUs of ≥ 70 GiB other than A100)."""
    dtype: Literal["auto", "half", "float16", "bfloat16"] = "auto"
    """Weights' data type (`--dtype`); T4 needs `half`, which `auto` becomes there."""
    gated: bool = False
    """Gated on Hugging Face: the token `kiva:huggingFaceToken` is mounted."""
    cache: ModelCache = ModelCache()
    """Where the model weights are cached."""
    resources: Resources | None = None
    """CPU and memory of the model server (defaults sized from the model)."""
    extra_args: list[str] = Field(default_factory=list)
    """Further `vllm serve` arguments, appended as given."""
    offline: bool = False
    """Weights are pre-staged in the cache: no Hugging Face download (`HF_HUB_OFFLINE=1`) and no egress."""
    kv_cache_kib_per_token: float | None = Field(None, gt=0, le=16384)
    """KV cache per token in KiB (2 × layers × KV heads × head size × 2 bytes / 1024); default estimated from `parametersBillion`."""
    cost_per_million_input_tokens: float | None = Field(None, gt=0, le=1000)
    """Price the gateway books per million prompt tokens, so that budgets stop this model too. LiteLLM has no currency (its spend and budgets are plain numbers, shown as `$` in its UI): use the unit of your budgets. Above 0: LiteLLM skips every budget check for a model priced at 0. Default: derived from a GPU-hour price (docs/performance.md, "Cost data")."""
    cost_per_million_output_tokens: float | None = Field(None, gt=0, le=1000)
    """Price the gateway books per million generated tokens, in the unit of your budgets. Default: derived from a GPU-hour price (docs/performance.md, "Cost data")."""

    @model_validator(mode="after")
    def _placement(self) -> Model:
        if self.cpu and self.pool is not None:
            raise ValueError("a CPU model (cpu: true) must not name a GPU pool")
        if not self.cpu and self.pool is None:
            raise ValueError("name the GPU pool the model runs on (pool), or set cpu: true")
        if self.cpu and "gpus" in self.model_fields_set:
            raise ValueError("a CPU model (cpu: true) takes no gpus")
        if self.offline and self.cache.type != "pvc":
            raise ValueError(
                "an offline model (offline: true) needs its weights on a persistent cache (cache.type: pvc)"
            )
        return self


#: Ingress class of AKS's managed NGINX (the application routing add-on), and its controller's namespace.
AKS_APP_ROUTING_CLASS = "webapprouting.kubernetes.azure.com"
AKS_APP_ROUTING_NAMESPACE = "app-routing-system"


class Ingress(KivaModel):
    """Publishes the gateway through an ingress controller with TLS from cert-manager.

    On Azure, class `webapprouting.kubernetes.azure.com` turns on AKS's application routing add-on
    (managed NGINX). Any other class needs a controller the cluster already runs: list it under
    `kiva:prerequisites.ingressClasses`. The ClusterIssuer is either created by the stack
    (`internalCa: true`: a self-signed root and a CA issuer of that name) or listed under
    `kiva:prerequisites.clusterIssuers`.
    """

    class_name: str = AKS_APP_ROUTING_CLASS
    """Ingress class of the controller."""
    host: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    """Public host name of the gateway."""
    cluster_issuer: DnsLabel
    """cert-manager ClusterIssuer for the TLS certificate."""
    internal_ca: bool = False
    """Create `clusterIssuer` as a private CA (self-signed root in cert-manager); clients must trust it."""
    controller_namespace: DnsLabel | None = None
    """Namespace of the ingress controller (allowed to reach the gateway); default `app-routing-system` for the AKS class."""

    @model_validator(mode="after")
    def _controller_namespace(self) -> Ingress:
        if self.controller_namespace is None and self.class_name != AKS_APP_ROUTING_CLASS:
            raise ValueError(f"name the controllerNamespace of ingress class {self.class_name!r}")
        return self

    @property
    def controller_ns(self) -> str:
        return self.controller_namespace or AKS_APP_ROUTING_NAMESPACE


#: LiteLLM's levels that log no request body (`LITELLM_LOG`; litellm/_logging.py reads it with
#: `getattr(logging, level.upper())`, so any case works).
GatewayLogLevel = Literal["INFO", "WARNING", "ERROR"]
#: Levels at which LiteLLM 1.108.7 logs request and response bodies (kiva-observability-no-prompt-logging).
PROMPT_LOGGING_LEVELS = ("DEBUG", "NOTSET", "TRACE")


class Gateway(KivaModel):
    """The LiteLLM gateway: the platform's OpenAI-compatible endpoint."""

    min_replicas: int = Field(1, ge=1, le=50)
    """Fewest gateway replicas (HPA); at least 2 in production."""
    max_replicas: int = Field(3, ge=1, le=100)
    """Most gateway replicas (HPA)."""
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="1", memory="2Gi"), limits=ResourceAmounts(cpu="2", memory="4Gi")
    )
    """CPU and memory per replica; workers follow the CPU request."""
    database_connection_pool_limit: int = Field(10, ge=1, le=100)
    """Connections per worker (`general_settings.database_connection_pool_limit`)."""
    ingress: Ingress | None = None
    """Publish the gateway through an ingress with TLS (optional)."""
    allowed_namespaces: list[DnsLabel] = Field(default_factory=list)
    """Namespaces whose pods may call the gateway directly (besides the ingress controller)."""
    redis: GatewayRedis = GatewayRedis()
    """Redis (Valkey) shared by the replicas: rate limits, budgets, router state, optional response cache."""
    router: Router = Router()
    """LiteLLM's routing strategy, retries, timeout and fallbacks between models."""
    log_level: GatewayLogLevel = "WARNING"
    """Level of LiteLLM's and uvicorn's logs (`LITELLM_LOG`): `WARNING` (default) keeps errors and warnings; `INFO` adds three LiteLLM lines per request, up to about 10 % more gateway CPU (docs/performance.md); `ERROR` keeps errors only. `DEBUG` is refused: it logs request bodies, prompts included. The record of every request is the spend logs in PostgreSQL."""
    access_log: bool = False
    """One JSON line per HTTP request from uvicorn (client address, method, path, status; no body), at any `logLevel`."""
    refuse_unpriced_models: bool = False
    """Refuse requests for a model LiteLLM has no price for (HTTP 403), which it would otherwise book at 0 past every budget (`block_requests_for_models_without_pricing`). Costs about 0.5 ms of gateway CPU per request (docs/performance.md); the stack already prices every local model and refuses an OpenAI-compatible endpoint's model without prices."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _no_debug_logging(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.upper() in PROMPT_LOGGING_LEVELS:
            raise ValueError(
                f"{value!r} logs request bodies, prompts included (LiteLLM logs them at DEBUG); "
                "use INFO, e.g. logLevel: INFO"
            )
        return value.upper()

    @model_validator(mode="after")
    def _min_le_max(self) -> Gateway:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})"
            )
        return self


class Storage(KivaModel):
    size: Quantity = "20Gi"
    """Volume size (it cannot shrink later)."""
    storage_class: str | None = None
    """Defaults to the cluster's storage class."""


class Pooler(KivaModel):
    """A CloudNativePG PgBouncer pooler in front of the primary."""

    enabled: bool = False
    """Put a PgBouncer pooler in front of the primary."""
    instances: int = Field(2, ge=1, le=10)
    """Pooler replicas."""


class Database(KivaModel):
    """The gateway's PostgreSQL, run by CloudNativePG."""

    instances: int = Field(1, ge=1, le=9)
    """PostgreSQL instances (1 primary + replicas); at least 3 in production."""
    postgres_major: Literal[16, 17] = 17
    """PostgreSQL major version (image pinned in `infra/versions.py`)."""
    storage: Storage = Storage()
    """Data volume."""
    wal_storage: Storage | None = None
    """Separate WAL volume (production)."""
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="500m", memory="1Gi"), limits=ResourceAmounts(cpu="2", memory="2Gi")
    )
    """CPU and memory per instance."""
    pooler: Pooler = Pooler()
    """Connection pooler."""


_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def _pem_bundle(value: str) -> str:
    if _PEM_CERTIFICATE not in value or "-----END CERTIFICATE-----" not in value:
        raise ValueError(
            "must be PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), or "
            "a Secret reference such as {secret: s3-ca, key: ca.crt}"
        )
    return value


class CaBundleSecret(KivaModel):
    """A Secret in the platform namespace (`kiva`) that already holds the CA bundle.

    The Barman Cloud plugin's `endpointCA` is a Secret key selector (CRD `objectstores.barmancloud.cnpg.io`
    of plugin-barman-cloud 0.7.0), so a ConfigMap cannot be named.
    """

    secret: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
    """Name of the Secret, e.g. `s3-ca`."""
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")] = "ca.crt"
    """Key of the PEM bundle in the Secret."""


CaBundle = Annotated[str, AfterValidator(_pem_bundle)] | CaBundleSecret
"""A PEM bundle given inline, or a Secret that holds it."""


class S3ObjectStore(KivaModel):
    """S3-compatible object storage for backups on `existing` clusters (IONOS, STACKIT, OTC OBS, MinIO).

    Credentials are the secure config values `kiva:backupAccessKeyId` and `kiva:backupSecretAccessKey`.
    """

    endpoint: HttpUrl
    """S3 endpoint URL, e.g. `https://s3.eu01.example.eu`."""
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    """Bucket for the backups (create it with `kiva backend bootstrap --for-backups STACK`)."""
    region: str
    """Region of the bucket; must be in the EU allow-list."""
    path: str = "kiva"
    """Prefix inside the bucket."""
    ca_bundle: CaBundle | None = None
    """CA the endpoint's TLS certificate is signed by, when it is an internal CA: a PEM bundle, or a
    Secret of namespace `kiva` holding it (`{secret: s3-ca, key: ca.crt}`); becomes the Barman Cloud
    plugin's `ObjectStore.spec.configuration.endpointCA`."""


class Backups(KivaModel):
    """Database backups through the Barman Cloud plugin; retention is `kiva:retention.backupDays`."""

    schedule: Annotated[str, Field(pattern=r"^(\S+\s+){5}\S+$")] = "0 0 2 * * *"
    """Six-field cron (with seconds), as CloudNativePG's ScheduledBackup expects."""
    object_store: S3ObjectStore | None = None
    """Required on `existing` clusters; Azure stacks back up to their own storage account."""

    @field_validator("schedule")
    @classmethod
    def _cloudnative_pg_parses_it(cls, schedule: str) -> str:
        longest_interval_seconds(schedule)  # a ScheduleError says why CloudNativePG would reject it
        return schedule


class ProviderModel(KivaModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w.:-]{0,127}$", examples=["gpt-4o-eu"])]
    """The name clients use (`model` in the OpenAI API)."""
    model: Annotated[str, Field(pattern=r"^[a-z_]+/[\w.:@/-]+$", examples=["azure/gpt-4o"])]
    """The LiteLLM model string, e.g. `azure/gpt-4o` or `mistral/mistral-large-latest`."""
    cost_per_million_input_tokens: float | None = Field(None, gt=0, le=1000)
    """Price the gateway books per million prompt tokens, in the unit of your budgets. Unset: LiteLLM's cost map prices the model, and a model it has no price for is booked at 0 (docs/performance.md, "Cost data"); required for a `kind: openai` provider with `apiBase` (an OpenAI-compatible endpoint)."""
    cost_per_million_output_tokens: float | None = Field(None, gt=0, le=1000)
    """Price the gateway books per million generated tokens, in the unit of your budgets; set together with `costPerMillionInputTokens`."""

    @model_validator(mode="after")
    def _both_prices_or_none(self) -> ProviderModel:
        """One price alone would let the other kind of token through for free."""
        if (self.cost_per_million_input_tokens is None) != (self.cost_per_million_output_tokens is None):
            raise ValueError(
                "set both costPerMillionInputTokens and costPerMillionOutputTokens, or neither "
                "(LiteLLM's cost map then prices the model)"
            )
        return self


#: Azure OpenAI data-plane inference API version passed when `apiVersion` is not set: the latest GA
#: release named in Microsoft's REST API reference (learn.microsoft.com/azure/ai-services/openai/reference).
#: Pinned here so the gateway does not fall back to LiteLLM's moving `AZURE_DEFAULT_API_VERSION`
#: (`2025-02-01-preview` in litellm 1.108.7, litellm/__init__.py:359).
AZURE_OPENAI_API_VERSION = "2024-10-21"

#: The kind-specific keys of a provider: LiteLLM 1.108.7 reads them as the `litellm_params` `api_base` +
#: `api_version` (litellm/llms/azure/common_utils.py:491-525), `vertex_project` + `vertex_location`, and
#: `aws_region_name` (litellm/types/router.py:359-395 `CredentialLiteLLMParams`).
PROVIDER_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "azure": ("apiBase", "apiVersion"),
    "vertex_ai": ("vertexProject", "vertexLocation"),
    "bedrock": ("awsRegionName",),
}


ApiVersion = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$|^(v1|latest|preview)$", examples=["2024-10-21"]),
]
GcpProject = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", examples=["kiva-prod-4711"])]
VertexLocation = Annotated[str, Field(pattern=r"^europe-[a-z]+[0-9]+$", examples=["europe-west3"])]
AwsEuRegion = Annotated[str, Field(pattern=r"^eu-[a-z]+-[0-9]$", examples=["eu-central-1"])]


class ExternalProvider(KivaModel):
    """An external LLM provider reached through the gateway. Its API key is a secure config value.

    For `vertex_ai` the secret is the service account's JSON key (LiteLLM's `vertex_credentials`); for
    `bedrock` it is a Bedrock API key (LiteLLM sends `api_key` as the bearer token).
    """

    name: DnsLabel
    """Short name of the provider entry."""
    kind: Literal["openai", "azure", "anthropic", "vertex_ai", "bedrock", "mistral"]
    """LiteLLM provider."""
    api_key_secret: SecretKeyName
    """Name of the secure config value with the API key (`kiva:<name>`)."""
    api_base: HttpUrl | None = None
    """API base URL (required for `azure`), e.g. an EU deployment's endpoint."""
    api_version: ApiVersion | None = None
    """`azure` only: Azure OpenAI API version (default `2024-10-21`, the latest dated GA; or `v1`)."""
    vertex_project: GcpProject | None = None
    """`vertex_ai` only (required): the Google Cloud project id."""
    vertex_location: VertexLocation | None = None
    """`vertex_ai` only (required): the Vertex AI region, in Europe (`europe-…`)."""
    aws_region_name: AwsEuRegion | None = None
    """`bedrock` only (required): the AWS region, in the EU (`eu-…`)."""
    processing_jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2}$|^EU$", examples=["SE"])]
    """Where the provider processes requests (`EU` or an ISO country code): checked by the policy pack."""
    models: list[ProviderModel] = Field(min_length=1)
    """Models offered through this provider."""

    @model_validator(mode="after")
    def _kind_keys(self) -> ExternalProvider:
        """Each kind gets the keys LiteLLM needs for it, and no key of another kind."""
        given = {
            "apiVersion": self.api_version,
            "vertexProject": self.vertex_project,
            "vertexLocation": self.vertex_location,
            "awsRegionName": self.aws_region_name,
        }
        needed = PROVIDER_KIND_KEYS.get(self.kind, ())
        given_base = {**given, "apiBase": self.api_base}
        # apiVersion has a default (AZURE_OPENAI_API_VERSION), so an azure provider needs only apiBase.
        missing = [key for key in needed if key != "apiVersion" and given_base[key] is None]
        if missing:
            raise ValueError(f"kind {self.kind} needs {' and '.join(missing)} ({_KIND_EXAMPLES[self.kind]})")
        foreign = [key for key, value in given.items() if value is not None and key not in needed]
        if foreign:
            owners = {key: kind for kind, keys in PROVIDER_KIND_KEYS.items() for key in keys}
            raise ValueError(
                f"{', '.join(foreign)} only applies to kind {owners[foreign[0]]}, not {self.kind}; remove it"
            )
        return self

    @model_validator(mode="after")
    def _openai_compatible_models_priced(self) -> ExternalProvider:
        """No cost map can know what an OpenAI-compatible endpoint (`kind: openai` with `apiBase`) serves."""
        if self.kind != "openai" or self.api_base is None:
            return self
        unpriced = [m.name for m in self.models if m.cost_per_million_input_tokens is None]
        if unpriced:
            raise ValueError(
                f"LiteLLM knows no price for the models of an OpenAI-compatible endpoint and would book "
                f"{', '.join(unpriced)} at 0, past every budget: set costPerMillionInputTokens and "
                "costPerMillionOutputTokens for each"
            )
        return self

    @property
    def credential_param(self) -> str:
        """The `litellm_params` key the secret goes to: Vertex AI takes a service-account key as
        `vertex_credentials`, every other kind an `api_key` (Bedrock sends it as its bearer token,
        litellm/llms/bedrock/base_aws_llm.py)."""
        return "vertex_credentials" if self.kind == "vertex_ai" else "api_key"

    @property
    def kind_params(self) -> dict[str, str]:
        """The kind-specific `litellm_params` (`api_base` aside), named as LiteLLM 1.108.7 reads them."""
        by_kind: dict[str, dict[str, str | None]] = {
            "azure": {"api_version": self.api_version or AZURE_OPENAI_API_VERSION},
            "vertex_ai": {"vertex_project": self.vertex_project, "vertex_location": self.vertex_location},
            "bedrock": {"aws_region_name": self.aws_region_name},
        }
        values = by_kind.get(self.kind, {})
        return {key: value for key, value in values.items() if value is not None}

    def model_params(self, model: str) -> dict[str, str]:
        """Per-model `litellm_params`. An Azure deployment name need not be a model name, so LiteLLM
        prices the request by `base_model` (`_get_base_model_from_metadata`, litellm/utils.py, reads
        `litellm_params.base_model` first; in `litellm_params` because the proxy's `ConfigYAML` allows
        only six old OpenAI names in `model_info.base_model`). KIVA assumes the deployment is named
        after its model, as in `azure/gpt-4o`."""
        return {"base_model": model} if self.kind == "azure" else {}


_KIND_EXAMPLES = {
    "azure": "e.g. apiBase: https://kiva-eu.openai.azure.com",
    "vertex_ai": "e.g. vertexProject: kiva-prod-4711, vertexLocation: europe-west3",
    "bedrock": "e.g. awsRegionName: eu-central-1",
}


class Prerequisites(KivaModel):
    """What the cluster must already have because this stack does not install it.

    The day-one checks of `kiva plan` and the policy pack accept a custom resource, an Ingress class or
    a ClusterIssuer only when the stack installs what serves it or it is declared here; `kiva twin`
    installs stand-ins for what is declared. Leave empty on a new AKS cluster.
    """

    crds: list[
        Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")]
    ] = Field(default_factory=list)
    """CRDs by name (`<plural>.<group>`), e.g. `podmonitors.monitoring.coreos.com`."""
    ingress_classes: list[str] = Field(default_factory=list)
    """Ingress classes whose controller already runs, e.g. `nginx`."""
    cluster_issuers: list[DnsLabel] = Field(default_factory=list)
    """cert-manager ClusterIssuers that already exist."""
    load_balancers: bool = False
    """The cluster provisions `LoadBalancer` Services (a cloud controller or MetalLB); implied on Azure."""
    runtime_classes: list[DnsLabel] = Field(default_factory=list)
    """RuntimeClasses that exist on the cluster, e.g. `nvidia` (k3s and RKE2 register one per container
    runtime they find); a GPU pool's `runtimeClassName` must be one of them, since the API server
    rejects a pod naming a RuntimeClass that does not exist."""
